//! A source's transport, watched beside it: whether its connection is verified TLS,
//! INSECURE or plaintext, and when the certificates on it expire.
//!
//! The mode follows from the source's settings (an `https://` endpoint with
//! `insecure_skip_verify` is INSECURE). The dates are read, not configured: the client
//! certificate's from its file, the server's from one TLS handshake of our own to each
//! of the source's endpoints, made when the source starts and again every hour; the
//! one that expires first is reported. That handshake only reads the certificate the server presents, whether or not
//! it would verify, so an expired or untrusted certificate still shows its date (the
//! source's own connection is what says it is not trusted); it sends no data and
//! closes at once. It presents the source's client certificate, so a server that
//! requires one does not log a refused client every hour.
//!
//! Everything here is bounded: the connect and the handshake by the source's timeout,
//! the files by `super::connection`'s reader.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::AsyncWriteExt as _;

use super::Emitter;
use super::connection::{ProxySetting, TlsSettings, redact_url, with_client_identity};
use super::http::ProxyEnv;
use super::verifier::{Check, Verifier};
use crate::event::EventBody;
use crate::model::{TlsMode, Transport};
use crate::time::Timestamp;

/// How often a server's certificate is read again once read.
const REREAD_EVERY: Duration = Duration::from_hours(1);
/// How soon to try again when no endpoint answered the handshake.
const RETRY_EVERY: Duration = Duration::from_secs(30);

/// What the transport watcher needs of a source: its endpoints and TLS settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The endpoints, as configured (`https://host:port`, `http://…`, `host:port`).
    pub endpoints: Vec<String>,
    /// The source's TLS settings, if any.
    pub tls: Option<TlsSettings>,
    /// Whether the endpoints speak TLS (`https://`).
    pub https: bool,
    /// What must be said before TLS starts on the connection.
    pub preamble: Preamble,
    /// Bound on connecting and on the handshake.
    pub timeout: Duration,
    /// The proxy the source's own requests go through, which the handshake takes too
    /// (`CONNECT`), so a certificate behind a proxy-only network is still read.
    pub proxy: ProxySetting,
}

/// What a protocol says before its TLS handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preamble {
    /// TLS from the first byte (HTTPS, gRPC).
    None,
    /// PostgreSQL's `SSLRequest`, answered `S` by a server that will speak TLS.
    Postgres,
}

impl Probe {
    /// The mode its settings give: plaintext, INSECURE or verified.
    pub fn mode(&self) -> TlsMode {
        match (&self.tls, self.https) {
            (_, false) => TlsMode::Plaintext,
            (Some(t), true) if t.insecure_skip_verify => TlsMode::Insecure,
            (_, true) => TlsMode::Verified,
        }
    }
}

/// Facts read from one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFacts {
    /// Its subject (`CN=etcd.rig.test`).
    pub subject: String,
    /// Its issuer.
    pub issuer: String,
    /// When it stops being valid.
    pub not_after: Timestamp,
}

/// The facts of a DER certificate, or why not.
pub fn cert_facts(der: &[u8]) -> Result<CertFacts, String> {
    use x509_cert::der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("the certificate does not parse: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let not_after = tbs.validity.not_after.to_unix_duration();
    Ok(CertFacts {
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        not_after: Timestamp(i64::try_from(not_after.as_millis()).unwrap_or(i64::MAX)),
    })
}

/// The facts of the first certificate in a PEM file (the leaf of a chain), or why not.
pub fn pem_file_facts(path: &str, what: &str) -> Result<CertFacts, String> {
    let bytes = super::bounds::read_small(path, 1 << 20, what)?;
    pem_facts(&bytes, what).map_err(|e| format!("{e} ({path})"))
}

/// The facts of the first certificate in PEM text (the leaf of a chain), or why not.
pub fn pem_facts(pem: &[u8], what: &str) -> Result<CertFacts, String> {
    let first = CertificateDer::pem_slice_iter(pem)
        .next()
        .ok_or_else(|| format!("the {what} holds no certificate"))?
        .map_err(|e| format!("the {what} is not a PEM certificate: {e}"))?;
    cert_facts(&first)
}

/// Reads the certificate the server at `endpoint` presents, within `timeout`.
pub async fn server_cert(
    endpoint: &str,
    tls: Option<&TlsSettings>,
    preamble: Preamble,
    timeout: Duration,
    via: Option<&str>,
) -> Result<CertFacts, String> {
    let (host, port) = host_port(endpoint)?;
    let name = tls
        .and_then(|t| t.server_name.clone())
        .unwrap_or_else(|| host.clone());
    let name = ServerName::try_from(name.clone())
        .map_err(|_| format!("{name:?} is not a host name or address"))?;
    let seen = Arc::new(Mutex::new(None));
    let config = client_config(tls, Arc::clone(&seen))?;
    let read = async {
        let mut tcp = match via {
            Some(proxy) => tunnel(proxy, &host, port).await?,
            None => tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| format!("cannot connect: {e} ({endpoint})"))?,
        };
        if preamble == Preamble::Postgres {
            postgres_ssl_request(&mut tcp, endpoint).await?;
        }
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        // The certificate is taken when the verifier sees it, so a handshake that
        // fails after that (a server refusing our client certificate) still read it.
        match connector.connect(name, tcp).await {
            Ok(mut s) => {
                let _ = s.shutdown().await;
                Ok(())
            }
            Err(e) => Err(format!("the TLS handshake failed: {e} ({endpoint})")),
        }
    };
    let outcome = tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no TLS handshake within {} ms ({endpoint})",
                timeout.as_millis()
            ))
        });
    let taken = seen.lock().ok().and_then(|mut s| s.take());
    match taken {
        Some(der) => cert_facts(&der),
        None => Err(outcome
            .err()
            .unwrap_or_else(|| format!("the server presented no certificate ({endpoint})"))),
    }
}

/// Watches the transport of the source `emitter` speaks for: says its mode and client
/// certificate at once, then the server's certificate once read, again every hour.
/// Ends when the engine stops.
pub async fn watch(probe: Probe, emitter: Emitter) {
    let mut transport = Transport::new(probe.mode());
    if let Some(cert) = probe.tls.as_ref().and_then(|t| t.cert_file.as_deref()) {
        // A client certificate that cannot be read fails the source's own connection
        // with its words; here it only leaves the date unknown.
        if let Ok(f) = pem_file_facts(cert, "client certificate (tls.cert_file)") {
            transport.client_cert_not_after = Some(f.not_after);
        }
    }
    let read = probe.https || probe.preamble != Preamble::None;
    let endpoints = if read {
        probe.endpoints.clone()
    } else {
        Vec::new()
    };
    report(transport, &endpoints, &probe, &emitter).await;
}

/// Says `transport`, then reads the server certificate of each of `endpoints` (none:
/// nothing to read) hourly and says it again whenever it changes. Ends when the
/// engine stops.
pub async fn report(
    mut transport: Transport,
    endpoints: &[String],
    probe: &Probe,
    emitter: &Emitter,
) {
    if !emitter
        .emit(EventBody::SourceTransport {
            transport: transport.clone(),
        })
        .await
    {
        return;
    }
    if endpoints.is_empty() {
        return;
    }
    loop {
        // Every endpoint, keeping the certificate that expires first: one member of a
        // cluster with a forgotten renewal is the one to show.
        let mut read: Option<(CertFacts, &str)> = None;
        let proxies = ProxyEnv::from_process();
        for endpoint in endpoints {
            let via = proxies.proxy_for(&probe.proxy, endpoint);
            let cert = server_cert(
                endpoint,
                probe.tls.as_ref(),
                probe.preamble,
                probe.timeout,
                via.as_deref(),
            );
            if let Ok(f) = cert.await
                && read.as_ref().is_none_or(|(r, _)| f.not_after < r.not_after)
            {
                read = Some((f, endpoint));
            }
        }
        let wait = match read {
            Some((f, endpoint)) => {
                let mut next = transport.clone();
                next.server_cert_not_after = Some(f.not_after);
                next.server_cert_subject = Some(format!("{} at {endpoint}", f.subject));
                if next != transport {
                    transport = next;
                    if !emitter
                        .emit(EventBody::SourceTransport {
                            transport: transport.clone(),
                        })
                        .await
                    {
                        return;
                    }
                }
                REREAD_EVERY
            }
            None => RETRY_EVERY,
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = emitter.closed() => return,
        }
    }
}

/// `host` and `port` of `https://host:port/path`, `host:port` or `[v6]:port`.
fn host_port(endpoint: &str) -> Result<(String, u16), String> {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let default = if endpoint.starts_with("https://") {
        443
    } else {
        80
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{endpoint:?} has an unclosed [ ]"))?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = port.map_or(Ok(default), |p| {
        p.parse::<u16>()
            .map_err(|_| format!("{endpoint:?} has no valid port"))
    })?;
    if host.is_empty() {
        return Err(format!("{endpoint:?} has no host"));
    }
    Ok((host.to_owned(), port))
}

/// A TCP connection to `host:port` through the HTTP proxy `proxy` (`CONNECT`), with
/// the proxy URL's `user:password` as basic auth; the proxy's answer is read up to its
/// blank line, at most 8 KiB.
async fn tunnel(proxy: &str, host: &str, port: u16) -> Result<tokio::net::TcpStream, String> {
    use tokio::io::AsyncReadExt as _;
    let shown = redact_url(proxy);
    let (proxy_host, proxy_port) = host_port(proxy)?;
    let authority = proxy
        .split_once("://")
        .map_or(proxy, |(_, r)| r)
        .split('/')
        .next()
        .unwrap_or_default();
    let auth = authority.rsplit_once('@').map(|(userinfo, _)| {
        format!(
            "Proxy-Authorization: Basic {}\r\n",
            data_encoding::BASE64.encode(userinfo.as_bytes())
        )
    });
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut tcp = tokio::net::TcpStream::connect((proxy_host.as_str(), proxy_port))
        .await
        .map_err(|e| format!("cannot connect to the proxy: {e} ({shown})"))?;
    let request = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{}\r\n",
        auth.unwrap_or_default()
    );
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("the proxy closed the connection: {e} ({shown})"))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= 8192 {
            return Err(format!("the proxy's answer has no end ({shown})"));
        }
        let n = tcp
            .read(&mut byte)
            .await
            .map_err(|e| format!("the proxy closed the connection: {e} ({shown})"))?;
        if n == 0 {
            return Err(format!("the proxy closed the connection ({shown})"));
        }
        head.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    match status.as_str() {
        "200" => Ok(tcp),
        "407" => Err(format!(
            "the proxy refused the CONNECT (407): it needs credentials ({shown})"
        )),
        other => Err(format!("the proxy refused the CONNECT ({other}) ({shown})")),
    }
}

/// PostgreSQL's `SSLRequest`: the server answers `S` and then speaks TLS, or `N`.
async fn postgres_ssl_request(
    tcp: &mut tokio::net::TcpStream,
    endpoint: &str,
) -> Result<(), String> {
    use tokio::io::AsyncReadExt as _;
    const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    tcp.write_all(&SSL_REQUEST)
        .await
        .map_err(|e| format!("cannot ask for TLS: {e} ({endpoint})"))?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer)
        .await
        .map_err(|e| format!("no answer to the TLS request: {e} ({endpoint})"))?;
    match answer[0] {
        b'S' => Ok(()),
        b'N' => Err(format!("the server does not offer TLS ({endpoint})")),
        other => Err(format!(
            "the server answered the TLS request with {other:#04x} ({endpoint})"
        )),
    }
}

/// A rustls client that reads the server's certificate into `seen` and presents the
/// source's client certificate, if it has one.
fn client_config(
    tls: Option<&TlsSettings>,
    seen: Arc<Mutex<Option<Vec<u8>>>>,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Any certificate is accepted and kept: this handshake only reads it and sends
    // nothing; trusting the server is the source's own connection's job.
    let verifier = Arc::new(Verifier::new(Check::Nothing, &provider).keeping(seen));
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    with_client_identity(builder, tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_give_host_and_port() {
        let hp = |e: &str| host_port(e).expect(e);
        assert_eq!(hp("https://127.0.0.1:42379"), ("127.0.0.1".into(), 42379));
        assert_eq!(
            hp("https://db.internal/health"),
            ("db.internal".into(), 443)
        );
        assert_eq!(hp("http://u:p@h:8008/x"), ("h".into(), 8008));
        assert_eq!(hp("[::1]:5432"), ("::1".into(), 5432));
        assert_eq!(hp("10.0.0.5:2379"), ("10.0.0.5".into(), 2379));
        assert!(host_port("https://:443").is_err());
        assert!(host_port("https://h:port").is_err());
    }

    #[test]
    fn the_mode_follows_the_settings() {
        let mut p = Probe {
            endpoints: vec!["https://h:1".into()],
            tls: None,
            https: true,
            preamble: Preamble::None,
            timeout: Duration::from_secs(1),
            proxy: ProxySetting::Env(false),
        };
        assert_eq!(p.mode(), TlsMode::Verified);
        p.tls = Some(TlsSettings {
            insecure_skip_verify: true,
            ..TlsSettings::default()
        });
        assert_eq!(p.mode(), TlsMode::Insecure);
        p.https = false;
        assert_eq!(p.mode(), TlsMode::Plaintext);
    }

    #[test]
    fn a_file_that_is_not_a_certificate_says_so() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.pem");
        std::fs::write(&path, "not a certificate").expect("write");
        let err = pem_file_facts(path.to_str().expect("utf-8"), "client certificate")
            .expect_err("no certificate");
        assert!(err.contains("holds no certificate"), "{err}");
    }
}
