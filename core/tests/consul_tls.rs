//! The Consul source over TLS from the consul CLI's variables alone, against a FAKE
//! Consul (no Consul server can run on our machines, see test-rig.md): a loopback TLS
//! server with a certificate from a private CA made here with openssl, answering with
//! Consul's own documented responses (`tests/fixtures/consul`). It wants the ACL token
//! as a bearer token, the one in the file `CONSUL_HTTP_TOKEN_FILE` names, and the token
//! rotates mid-test. The source's client, its TLS and its reading of the variables are
//! real; the variables are passed as a snapshot, so the test is hermetic.

mod common;

use std::io::Read as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_core::model::{QuorumState, SourceStatus};
use switchboard_core::sources::ProxySetting;
use switchboard_core::sources::consul::ConsulConfig;
use switchboard_core::{SourceConfig, State};

const RAFT: &str = include_str!("fixtures/consul/operator-raft-configuration.json");
const CHECKS: &str = include_str!("fixtures/consul/health-state-passing.json");

/// A CA (`ca.pem`) and a server certificate for 127.0.0.1 it signed; a second CA
/// (`other.pem`) that signed nothing here.
fn pki(dir: &Path) {
    let script = r"
set -e
ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $1-key.pem -out $1.pem -days 30 -subj /CN=$1 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign; }
ca ca; ca other
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server-key.pem -out server.csr -subj /CN=consul.test
printf 'subjectAltName=IP:127.0.0.1,DNS:consul.test\nextendedKeyUsage=serverAuth\n' > ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -out server.pem -extfile ext
";
    let out = Command::new("bash")
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn send(s: &mut impl std::io::Write, status: u16, index: u64, body: &str) {
    let resp = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nX-Consul-Index: {index}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(resp.as_bytes()).ok();
    s.flush().ok();
}

/// The fake Consul over TLS, accepting only `Authorization: Bearer <token>` with the
/// token now in `token`; every token it was shown, in `seen`.
fn serve(dir: &Path, token: Arc<Mutex<String>>, seen: Arc<Mutex<Vec<String>>>) -> String {
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
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let (config, token, seen) = (Arc::clone(&config), token.clone(), seen.clone());
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut s = rustls::StreamOwned::new(conn, tcp);
                let mut buf = [0u8; 8192];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let bearer = req.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .starts_with("authorization: bearer ")
                        .then(|| l["authorization: bearer ".len()..].trim().to_owned())
                });
                if let Some(b) = &bearer {
                    seen.lock().expect("seen").push(b.clone());
                }
                if bearer.as_deref() != Some(token.lock().expect("token").as_str()) {
                    send(&mut s, 403, 0, "ACL not found");
                } else if path.starts_with("/v1/health/state/any") {
                    // A blocking query whose index never moves: held a moment.
                    if path.contains("index=10") {
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    send(&mut s, 200, 10, CHECKS);
                } else if path.starts_with("/v1/operator/raft/configuration") {
                    send(&mut s, 200, 22, RAFT);
                } else if path.starts_with("/v1/status/leader") {
                    send(&mut s, 200, 0, r#""127.0.0.1:8300""#);
                } else {
                    send(&mut s, 404, 0, "not found");
                }
            });
        }
    });
    addr
}

/// A Consul source with nothing but a name and fast polls, completed from `vars`.
fn from_vars(vars: &[(&str, String)]) -> ConsulConfig {
    ConsulConfig {
        name: "dc1".into(),
        address: None,
        token_env: Some("SWITCHBOARD_TEST_CONSUL_TOKEN_UNSET".into()),
        interval_millis: 100,
        timeout_millis: 1000,
        wait_secs: 1,
        tls: None,
        auth: None,
        proxy: ProxySetting::Env(false),
        max_answer_bytes: None,
    }
    .with_consul_vars(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
}

fn healthy(s: &State) -> bool {
    s.clusters
        .get("dc1")
        .is_some_and(|c| c.quorum.state == QuorumState::Healthy)
}

#[test]
fn consul_variables_alone_reach_a_tls_consul_and_follow_a_rotated_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki(dir.path());
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "token-one\n").expect("token");
    let token = Arc::new(Mutex::new("token-one".to_owned()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = serve(dir.path(), token.clone(), seen.clone());
    let path = |f: &str| dir.path().join(f).display().to_string();
    let vars = [
        ("CONSUL_HTTP_ADDR", addr.clone()),
        ("CONSUL_HTTP_SSL", "true".to_owned()),
        ("CONSUL_CACERT", path("ca.pem")),
        ("CONSUL_TLS_SERVER_NAME", "consul.test".to_owned()),
        ("CONSUL_HTTP_TOKEN_FILE", path("token")),
    ];
    let cfg = from_vars(&vars);
    assert_eq!(
        cfg.address.as_deref(),
        Some(format!("https://{addr}").as_str())
    );
    switchboard_core::SourceConfig::Consul(cfg.clone())
        .validate()
        .expect("valid");
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("token-one"), "{shown}");

    let e = common::engine_with(SourceConfig::Consul(cfg));
    let s = e.wait_for(Duration::from_secs(10), healthy);
    assert!(
        healthy(&s),
        "{:?}",
        s.sources.get("dc1").map(|i| (i.status, i.detail.clone()))
    );
    let verified = e.wait_for(Duration::from_secs(10), |s| {
        s.transports
            .get("dc1")
            .is_some_and(|t| t.server_cert_not_after.is_some())
    });
    assert_eq!(
        verified.transports.get("dc1").map(|t| t.tls),
        Some(switchboard_core::model::TlsMode::Verified)
    );

    // The token rotates: the file first, then the server.
    std::fs::write(&token_file, "token-two-rotated\n").expect("rotate");
    *token.lock().expect("token") = "token-two-rotated".to_owned();
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while !seen
        .lock()
        .expect("seen")
        .iter()
        .any(|t| t == "token-two-rotated")
        && std::time::Instant::now() < end
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let s = e.snapshot();
    assert!(
        healthy(&s),
        "after the rotation: {:?}",
        s.sources["dc1"].detail
    );
    assert_eq!(s.sources["dc1"].status, SourceStatus::Up);
    let state = format!("{:?} {:?}", s.sources, s.clusters);
    assert!(!state.contains("token-"), "a token shows: {state}");

    // The wrong CA: refused in words.
    let wrong = from_vars(&[
        ("CONSUL_HTTP_ADDR", format!("https://{addr}")),
        ("CONSUL_CACERT", path("other.pem")),
        ("CONSUL_HTTP_TOKEN_FILE", path("token")),
    ]);
    let e = common::engine_with(SourceConfig::Consul(wrong));
    let s = e.wait_for(Duration::from_secs(10), |s| {
        s.sources
            .get("dc1")
            .is_some_and(|i| i.status == SourceStatus::Down)
    });
    let said = s.sources["dc1"].detail.clone().unwrap_or_default();
    assert!(said.starts_with("certificate not trusted"), "{said}");
}
