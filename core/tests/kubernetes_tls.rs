//! The Kubernetes source over TLS, against a FAKE API server (no kube-apiserver runs
//! on our machines, see test-rig.md): a loopback TLS server with a certificate from a
//! private CA made here with openssl, answering the pod list with the response recorded
//! from a real v1.36 cluster (`tests/fixtures/kubernetes`) and every other list empty.
//! It demands a bearer token, which only the kubeconfig's exec plugin gives (the way
//! `kubelogin`, `aws eks get-token` and `gke-gcloud-auth-plugin` hand out tokens).
//! The kube crate's client, kubeconfig reader, exec support and TLS are real.
//!
//! A kubeconfig's OIDC `auth-provider` with an expired id-token is refreshed from a
//! FAKE identity provider over TLS (discovery, then the token endpoint), and the API
//! server is asked with the new token: kube's refresher trusts the system's roots only,
//! so the test names its CA in `SSL_CERT_FILE`, as an estate's private CA would be
//! installed.
//!
//! Shown: verified TLS with the server certificate's days; the exec token; a wrong CA
//! refused in words; `insecure-skip-tls-verify` up and marked INSECURE; with the rig's
//! `proxy` (tinyproxy, whose access log is the proof), the kubeconfig's `proxy-url`
//! carries the client and the certificate read, and `proxy = false` goes direct.

mod common;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::model::{SourceStatus, TlsMode};
use switchboard_core::sources::ProxySetting;
use switchboard_core::sources::kubernetes::KubernetesConfig;
use switchboard_core::{SourceConfig, State};

const PODS: &str = include_str!("fixtures/kubernetes/podlist-kube-system-v1.36.json");
const TOKEN: &str = "exec-plugin-token-7f3a";

/// The tests of this binary, one at a time: one sets `SSL_CERT_FILE`.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `openssl` with `args` in `dir`, which must succeed.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`name.pem`) and, signed by it, a server certificate for 127.0.0.1 valid for
/// `days` (`server.pem`, `server-key.pem`).
fn pki(dir: &Path, ca: &str, days: u32) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    let key = format!("{ca}-key.pem");
    let cert = format!("{ca}.pem");
    args.extend([
        "-keyout",
        &key,
        "-out",
        &cert,
        "-days",
        "30",
        "-subj",
        "/CN=test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &args);
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "server-key.pem",
        "-out",
        "server.csr",
        "-subj",
        "/CN=api.test",
    ]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    let days = days.to_string();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &cert,
            "-CAkey",
            &key,
            "-CAcreateserial",
            "-days",
            &days,
            "-out",
            "server.pem",
            "-extfile",
            "ext",
        ],
    );
}

fn send(s: &mut impl std::io::Write, status: u16, body: &str) {
    let resp = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(resp.as_bytes()).ok();
    s.flush().ok();
}

/// One request, lower-cased: its head, and its body as long as `Content-Length` says
/// (64 KiB at most).
fn read_request(s: &mut impl std::io::Read) -> String {
    let mut req = Vec::new();
    let mut buf = [0u8; 8192];
    while req.len() < 65_536 {
        let n = s.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&req).to_lowercase();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let want = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= want {
                break;
            }
        }
    }
    String::from_utf8_lossy(&req).to_lowercase()
}

/// A TLS server on loopback with `dir`'s `server.pem`, answering each connection's
/// first request (lower-cased) with `answer`; returns its address.
fn tls_server(
    dir: &Path,
    answer: impl Fn(&str, &mut rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>)
    + Send
    + Sync
    + 'static,
) -> String {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("cert")
        .collect::<Result<Vec<_>, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(dir.join("server-key.pem")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let config = Arc::new(config);
    let answer = Arc::new(answer);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let (config, answer) = (Arc::clone(&config), Arc::clone(&answer));
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut s = rustls::StreamOwned::new(conn, tcp);
                let req = read_request(&mut s);
                answer(&req, &mut s);
            });
        }
    });
    addr
}

/// The fake API server over TLS: the recorded pod list for a request carrying the
/// bearer `token`, 401 without it; watches held open; other lists empty.
fn serve_for(dir: &Path, token: String) -> String {
    tls_server(dir, move |req, s| {
        let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
        if !req.contains(&format!("authorization: bearer {}", token.to_lowercase())) {
            send(
                s,
                401,
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#,
            );
            return;
        }
        if path.contains("watch=true") {
            s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
            )
            .ok();
            s.flush().ok();
            std::thread::sleep(Duration::from_secs(20));
        } else if path.starts_with("/api/v1/namespaces/kube-system/pods") {
            send(s, 200, PODS);
        } else {
            send(
                s,
                200,
                r#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"554"},"items":[]}"#,
            );
        }
    })
}

/// [`serve_for`] the exec plugin's token.
fn serve(dir: &Path) -> String {
    serve_for(dir, TOKEN.to_owned())
}

/// A kubeconfig for the fake at `addr` trusting `ca` (or skipping verification), whose
/// user gets its token from an exec plugin (a shell script printing an `ExecCredential`).
fn kubeconfig(dir: &Path, addr: &str, ca: Option<&str>) -> String {
    kubeconfig_via(dir, addr, ca, None)
}

/// [`kubeconfig`], its cluster reached through `proxy_url` when given.
fn kubeconfig_via(dir: &Path, addr: &str, ca: Option<&str>, proxy_url: Option<&str>) -> String {
    let plugin = dir.join("token-plugin.sh");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{TOKEN}\"}}}}'\n"
        ),
    )
    .expect("plugin");
    let trust = match ca {
        Some(ca) => format!("certificate-authority: {}", dir.join(ca).display()),
        None => "insecure-skip-tls-verify: true".to_owned(),
    };
    let trust = match proxy_url {
        Some(p) => format!("{trust}\n    proxy-url: {p}"),
        None => trust,
    };
    let path = dir.join(format!(
        "kubeconfig-{}-{}",
        ca.unwrap_or("insecure"),
        proxy_url.is_some()
    ));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
             clusters:\n- name: fake\n  cluster:\n    server: https://{addr}\n    {trust}\n\
             users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      \
             command: sh\n      args: [\"{}\"]\n      interactiveMode: Never\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: u\n",
            plugin.display()
        ),
    )
    .expect("kubeconfig");
    path.display().to_string()
}

fn engine(kubeconfig: String) -> switchboard_core::EngineHandle {
    engine_via(kubeconfig, ProxySetting::default())
}

fn engine_via(kubeconfig: String, proxy: ProxySetting) -> switchboard_core::EngineHandle {
    common::engine_with(SourceConfig::Kubernetes(KubernetesConfig {
        name: "k8s".into(),
        context: None,
        namespaces: vec!["kube-system".into()],
        kubeconfig: Some(kubeconfig),
        proxy,
        max_answer_bytes: None,
    }))
}

fn pods(s: &State) -> usize {
    s.instances
        .keys()
        .filter(|k| k.as_str().starts_with("kube-system/"))
        .count()
}

#[test]
fn over_verified_tls_with_an_exec_token_the_pods_and_the_certificate_days_show() {
    let _one = one();
    let dir = tempfile::tempdir().expect("dir");
    pki(dir.path(), "ca", 9);
    pki_other(dir.path());
    let addr = serve(dir.path());

    let engine = engine(kubeconfig(dir.path(), &addr, Some("ca.pem")));
    let s = engine.wait_for(Duration::from_secs(20), |s| {
        pods(s) > 0
            && s.transport("k8s")
                .is_some_and(|t| t.server_cert_not_after.is_some())
    });
    assert!(
        pods(&s) > 0,
        "the pods were listed with the exec token: {:?}",
        s.sources
    );
    let t = s.transport("k8s").expect("transport");
    assert_eq!(t.tls, TlsMode::Verified);
    assert_eq!(t.server_cert_days(s.now), Some(8), "{t:?}");
    let concerns = t.concerns(s.now);
    assert!(
        concerns
            .iter()
            .any(|c| c.words.contains("expires in 8 days") && c.words.contains("CN=api.test")),
        "{concerns:?}"
    );
    drop(engine);

    // The same server, trusted through another CA: refused in words.
    let engine = self::engine(kubeconfig(dir.path(), &addr, Some("other.pem")));
    let s = engine.wait_for(Duration::from_secs(20), |s| {
        s.sources
            .get("k8s")
            .is_some_and(|src| src.status == SourceStatus::Down)
    });
    let why = s
        .sources
        .get("k8s")
        .and_then(|src| src.detail.clone())
        .unwrap_or_default();
    assert!(why.contains("certificate not trusted"), "{why}");
    assert_eq!(pods(&s), 0);
    eprintln!(
        "kubernetes, wrong CA: {}",
        why.split(" (").next().unwrap_or(&why)
    );
    drop(engine);

    // insecure-skip-tls-verify: up, and INSECURE.
    let engine = self::engine(kubeconfig(dir.path(), &addr, None));
    let s = engine.wait_for(Duration::from_secs(20), |s| {
        pods(s) > 0 && s.transport("k8s").is_some()
    });
    assert!(pods(&s) > 0, "{:?}", s.sources);
    assert_eq!(s.transport("k8s").map(|t| t.tls), Some(TlsMode::Insecure));
}

/// A second, unrelated CA (`other.pem`): the wrong CA to trust.
fn pki_other(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "other-key.pem",
            "-out",
            "other.pem",
            "-days",
            "30",
            "-subj",
            "/CN=other CA",
        ],
    );
}

/// CONNECTs to 127.0.0.1:`port` in the rig's open tinyproxy's access log so far.
fn connects(port: &str) -> usize {
    let rig = std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into());
    let log = Path::new(&rig).join("httptls").join("proxy-access.log");
    let needle = format!("CONNECT 127.0.0.1:{port} ");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

/// [`connects`] once the count has stood still for 300 ms (at most 5 s): a client
/// just dropped may still have a tunnel the proxy logs a moment later.
fn settled_connects(port: &str) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut last = connects(port);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = connects(port);
        if now == last || std::time::Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

#[test]
fn the_kubeconfig_proxy_url_carries_the_client_and_proxy_false_goes_direct() {
    let _one = one();
    if !common::rig_has("proxy") {
        eprintln!("skipped: the rig's forward proxy is not running (tests/check.sh starts it)");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    pki(dir.path(), "ca", 30);
    let addr = serve(dir.path());
    let port = addr.rsplit(':').next().unwrap_or_default().to_owned();
    let kc = kubeconfig_via(
        dir.path(),
        &addr,
        Some("ca.pem"),
        Some("http://127.0.0.1:44628"),
    );

    let before = connects(&port);
    let engine = engine(kc.clone());
    let s = engine.wait_for(Duration::from_secs(20), |s| {
        pods(s) > 0
            && s.transport("k8s")
                .is_some_and(|t| t.server_cert_not_after.is_some())
    });
    assert!(pods(&s) > 0, "listed through the proxy: {:?}", s.sources);
    assert!(
        s.transport("k8s")
            .is_some_and(|t| t.server_cert_not_after.is_some()),
        "the certificate read through the proxy too"
    );
    drop(engine);
    let through = settled_connects(&port) - before;
    assert!(
        through >= 2,
        "the client's and the handshake's CONNECTs: {through}"
    );

    let before = settled_connects(&port);
    let engine = engine_via(kc, ProxySetting::Env(false));
    let s = engine.wait_for(Duration::from_secs(20), |s| pods(s) > 0);
    assert!(pods(&s) > 0, "{:?}", s.sources);
    drop(engine);
    assert_eq!(settled_connects(&port), before, "proxy = false goes direct");
    eprintln!("kubernetes through the kubeconfig's proxy-url: {through} CONNECTs");
}

/// A JWT (unsigned: only its `exp` is read by the client) expiring at `exp` (Unix s).
fn jwt(exp: u64) -> String {
    let b64 = |v: &str| data_encoding::BASE64URL_NOPAD.encode(v.as_bytes());
    format!(
        "{}.{}.c2ln",
        b64(r#"{"alg":"RS256","typ":"JWT"}"#),
        b64(&format!(r#"{{"sub":"oncall","exp":{exp}}}"#))
    )
}

#[test]
fn an_expired_oidc_id_token_is_refreshed_from_the_identity_provider() {
    let _one = one();
    let dir = tempfile::tempdir().expect("dir");
    pki(dir.path(), "ca", 30);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let (stale, fresh) = (jwt(now - 3600), jwt(now + 3600));
    let api = serve_for(dir.path(), fresh.clone());
    let refreshed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let idp_addr: Arc<std::sync::OnceLock<String>> = Arc::new(std::sync::OnceLock::new());
    let idp = {
        let (refreshed, me) = (Arc::clone(&refreshed), Arc::clone(&idp_addr));
        tls_server(dir.path(), move |req, s| {
            let me = me.get().cloned().unwrap_or_default();
            if req.starts_with("get /.well-known/openid-configuration") {
                send(
                    s,
                    200,
                    &format!(
                        r#"{{"issuer":"https://{me}","token_endpoint":"https://{me}/token"}}"#
                    ),
                );
            } else if req.starts_with("post /token")
                && req.contains("grant_type=refresh_token")
                && req.contains("refresh_token=refresh-1")
            {
                refreshed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                send(
                    s,
                    200,
                    &format!(
                        r#"{{"id_token":"{fresh}","refresh_token":"refresh-2","token_type":"Bearer"}}"#
                    ),
                );
            } else {
                send(s, 400, r#"{"error":"invalid_request"}"#);
            }
        })
    };
    idp_addr.set(idp.clone()).expect("once");
    let kc = dir.path().join("kubeconfig-oidc");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
             clusters:\n- name: fake\n  cluster:\n    server: https://{api}\n    certificate-authority: {ca}\n\
             users:\n- name: u\n  user:\n    auth-provider:\n      name: oidc\n      config:\n        \
             client-id: switchboard\n        client-secret: not-a-secret\n        id-token: {stale}\n        \
             refresh-token: refresh-1\n        idp-issuer-url: https://{idp}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: u\n",
            ca = dir.path().join("ca.pem").display()
        ),
    )
    .expect("kubeconfig");
    // SAFETY: the tests of this binary hold ONE_AT_A_TIME; nothing else reads the
    // environment while it changes.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("SSL_CERT_FILE", dir.path().join("ca.pem"));
    }
    let engine = engine(kc.display().to_string());
    let s = engine.wait_for(Duration::from_secs(20), |s| pods(s) > 0);
    drop(engine);
    #[allow(unsafe_code)]
    unsafe {
        std::env::remove_var("SSL_CERT_FILE");
    }
    assert!(
        pods(&s) > 0,
        "listed with the refreshed token: {:?}",
        s.sources
    );
    assert!(
        refreshed.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the identity provider was asked"
    );
}
