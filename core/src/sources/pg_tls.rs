//! PostgreSQL over TLS as libpq does it, on rustls (ring), the project's one TLS stack.
//!
//! [`connect`] dials a server described by [`Params`] with libpq's `sslmode` rules:
//! `disable` plaintext only; `allow` plaintext, then TLS if the server refuses;
//! `prefer` TLS, then plaintext if the server offers no TLS or the TLS attempt fails;
//! `require` TLS, the certificate checked against `sslrootcert` only when there is one
//! (libpq: "behaves as verify-ca"); `verify-ca` the chain; `verify-full` the chain and
//! the host's name. Roots are `sslrootcert` (a PEM file, or `system` for the system's
//! roots), else `~/.postgresql/root.crt` if it exists; the client certificate is
//! `sslcert`/`sslkey`, else `~/.postgresql/postgresql.{crt,key}` if they exist, the key
//! refused, as libpq does, when others can read it. Unix sockets never use TLS.
//!
//! What the connection ended in is told back ([`PgTlsMode`]): a `prefer` that fell back
//! to plaintext must be visible on the source's tile, not silent. Failures are in an
//! operator's words ("the server requires TLS (hostssl only)", "certificate not
//! trusted", "the server's certificate is for ..., not ...").
//!
//! SCRAM logins over TLS bind the session to the server's certificate
//! (`SCRAM-SHA-256-PLUS`, `tls-server-end-point`), as libpq does by default, so a server
//! that only relays the login cannot reuse it; `channel_binding=require` insists on it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode as DriverMode;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use super::libpq::{Params, SslMode};

/// The most a certificate or key file may hold.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// What a connection ended in, for the source's tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PgTlsMode {
    /// TLS, the server's certificate chained to a trusted root (and, under
    /// `verify-full`, holding the host's name).
    Verified,
    /// TLS without checking the server's certificate (`prefer`/`require` with no
    /// root certificate): encrypted, but anyone in the path could pose as the server.
    Unverified,
    /// No TLS: `disable`, a Unix socket, or `allow`/`prefer` that ended without it.
    Plaintext,
}

/// One connection's TLS outcome: the mode and the server's certificate (DER), for its
/// expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOutcome {
    /// What the connection ended in.
    pub mode: PgTlsMode,
    /// The server's leaf certificate, DER, when TLS was used.
    pub server_certificate: Option<Vec<u8>>,
}

/// An open connection: its client (the connection runs on its own task) and how it ended.
pub struct Connected {
    /// The client; dropping it closes the connection.
    pub client: tokio_postgres::Client,
    /// TLS or not, verified or not.
    pub tls: TlsOutcome,
}

/// Connects to the server `params` describe, libpq's `sslmode` rules applied (see the
/// module doc), the connect bounded by `timeout` per attempt. The error is in an
/// operator's words and ends with `host:port`; it never holds the password.
pub async fn connect(params: &Params, timeout: Duration) -> Result<Connected, String> {
    let what = params.describe();
    let mut note = None;
    let mut config = params.tokio_config(&mut note)?;
    config.connect_timeout(timeout);
    if params.get("application_name").is_none() {
        config.application_name("switchboard");
    }
    let mode = if params.local_only() {
        SslMode::Disable
    } else {
        params.sslmode()
    };
    let tls = match mode {
        SslMode::Disable => None,
        _ => Some(PgTls::new(params, mode)?),
    };
    let said = |e: Failure| format!("{} ({what})", e.words(note.as_deref()));
    match (mode, &tls) {
        (SslMode::Disable, _) | (_, None) => plain(&config, timeout).await.map_err(said),
        (SslMode::Allow, Some(t)) => match plain(&config, timeout).await {
            Err(first) if first.server_refused() => {
                attempt(&config, t, DriverMode::Require, timeout)
                    .await
                    .map_err(|second| {
                        format!(
                            "{}; then over TLS: {}",
                            said(first),
                            second.words(note.as_deref())
                        )
                    })
            }
            other => other.map_err(said),
        },
        (SslMode::Prefer, Some(t)) => {
            match attempt(&config, t, DriverMode::Prefer, timeout).await {
                Err(first) if first.tls_tried => plain(&config, timeout).await.map_err(|second| {
                    format!(
                        "{}; then without TLS: {}",
                        said(first),
                        second.words(note.as_deref())
                    )
                }),
                other => other.map_err(said),
            }
        }
        (_, Some(t)) => attempt(&config, t, DriverMode::Require, timeout)
            .await
            .map_err(said),
    }
}

/// One failed attempt, with what is needed to word it.
struct Failure {
    /// The driver's error, or how long the attempt was given when it timed out.
    error: Result<tokio_postgres::Error, Duration>,
    /// The handshake was started (the server said yes to TLS).
    tls_tried: bool,
    /// rustls' own error, when the handshake failed.
    tls_error: Option<rustls::Error>,
    /// Where the roots came from, for "not trusted" (e.g. `sslrootcert /etc/ca.pem`).
    roots: Option<String>,
    /// The host as dialled, for "not for this name".
    mode: Option<SslMode>,
}

impl Failure {
    /// The server itself refused (`pg_hba`, authentication), as opposed to the network.
    fn server_refused(&self) -> bool {
        self.error.as_ref().is_ok_and(|e| e.as_db_error().is_some())
    }

    fn words(&self, note: Option<&str>) -> String {
        let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
        if let Some(e) = &self.tls_error {
            return tls_words(e, self.roots.as_deref());
        }
        let error = match &self.error {
            Ok(e) => e,
            Err(bound) => {
                let stage = if self.tls_tried {
                    "the TLS handshake or the login"
                } else {
                    "the connection or the login"
                };
                return format!(
                    "no answer within {} ms ({stage} did not finish)",
                    bound.as_millis()
                );
            }
        };
        if let Some(db) = error.as_db_error() {
            if db.message().contains("no encryption") {
                return format!(
                    "the server requires TLS (hostssl only): set sslmode to require, verify-ca or verify-full (PostgreSQL says: {})",
                    db.message()
                );
            }
            if db.code() == &tokio_postgres::error::SqlState::INVALID_PASSWORD {
                return format!("{}{note}", super::pg::words(error));
            }
            return super::pg::words(error);
        }
        let text = super::pg::words(error);
        if text.contains("password missing") {
            return format!(
                "the server asks for a password and none is set (password, PGPASSWORD or a line in the password file){note}"
            );
        }
        if text.contains("server does not support TLS") {
            let mode = self.mode.map_or("require", SslMode::as_str);
            return format!(
                "the server does not offer TLS (its ssl setting is off), and sslmode={mode} requires it"
            );
        }
        text
    }
}

/// The operator's words for a failed handshake.
fn tls_words(e: &rustls::Error, roots: Option<&str>) -> String {
    let roots = roots.unwrap_or("the trusted roots");
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => format!(
                "certificate not trusted: the server's certificate is not signed by a CA in {roots} ({e})"
            ),
            CertificateError::NotValidForNameContext { expected, presented } => format!(
                "the server's certificate is for {}, not {} (connect by a name it holds)",
                presented.iter().map(|p| bare_name(p)).collect::<Vec<_>>().join(", "),
                expected.to_str()
            ),
            CertificateError::NotValidForName => {
                "the server's certificate is not for the host connected to (connect by a name it holds)".into()
            }
            other if format!("{other:?}").contains("Expired") => {
                format!("the server's certificate has expired ({e})")
            }
            _ => format!("the server's certificate was refused: {e}"),
        },
        rustls::Error::AlertReceived(a) => {
            let a = format!("{a:?}");
            if a.contains("CertificateRequired") || a.contains("HandshakeFailure") {
                format!("the server requires a client certificate (sslcert and sslkey) ({e})")
            } else if a.contains("UnknownCA") {
                format!("the server does not trust this client certificate (sslcert) ({e})")
            } else if a.contains("CertificateExpired") {
                format!("the server says this client certificate has expired (sslcert) ({e})")
            } else {
                format!("the server ended the TLS handshake: {e}")
            }
        }
        _ => format!("the TLS handshake failed: {e}"),
    }
}

/// A name as webpki presents it (`DnsName("db1")`, `IpAddress(10.0.0.5)`), bare.
fn bare_name(presented: &str) -> &str {
    presented
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .map_or(presented, |inner| inner.trim_matches('"'))
}

/// A plaintext attempt, bounded by `bound` (connect, startup and login).
async fn plain(config: &tokio_postgres::Config, bound: Duration) -> Result<Connected, Failure> {
    let mut c = config.clone();
    c.ssl_mode(DriverMode::Disable);
    let result = tokio::time::timeout(bound, c.connect(tokio_postgres::NoTls))
        .await
        .map_err(|_| bound);
    match result {
        Ok(Ok((client, connection))) => {
            tokio::spawn(async move {
                // Ends when the client is dropped or the server goes away.
                connection.await.ok();
            });
            Ok(Connected {
                client,
                tls: TlsOutcome {
                    mode: PgTlsMode::Plaintext,
                    server_certificate: None,
                },
            })
        }
        Ok(Err(error)) => Err(Failure {
            error: Ok(error),
            tls_tried: false,
            tls_error: None,
            roots: None,
            mode: None,
        }),
        Err(bound) => Err(Failure {
            error: Err(bound),
            tls_tried: false,
            tls_error: None,
            roots: None,
            mode: None,
        }),
    }
}

/// An attempt with TLS (`Prefer`: plaintext if the server says it has none), bounded
/// by `bound` (connect, handshake, startup and login).
async fn attempt(
    config: &tokio_postgres::Config,
    tls: &PgTls,
    driver: DriverMode,
    bound: Duration,
) -> Result<Connected, Failure> {
    let mut c = config.clone();
    c.ssl_mode(driver);
    let state = Arc::new(Mutex::new(Handshake::default()));
    let make = MakeRustls {
        config: Arc::clone(&tls.config),
        state: Arc::clone(&state),
    };
    let result = match tokio::time::timeout(bound, c.connect(make)).await {
        Ok(Ok(connected)) => Ok(connected),
        Ok(Err(e)) => Err(Ok(e)),
        Err(_) => Err(Err(bound)),
    };
    let hs = state.lock().unwrap_or_else(PoisonError::into_inner).clone();
    match result {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                connection.await.ok();
            });
            let mode = match (&hs.leaf, tls.verified) {
                (None, _) => PgTlsMode::Plaintext,
                (Some(_), true) => PgTlsMode::Verified,
                (Some(_), false) => PgTlsMode::Unverified,
            };
            Ok(Connected {
                client,
                tls: TlsOutcome {
                    mode,
                    server_certificate: hs.leaf,
                },
            })
        }
        Err(error) => Err(Failure {
            error,
            tls_tried: hs.tried,
            tls_error: hs.failure,
            roots: Some(tls.roots.clone()),
            mode: Some(tls.mode),
        }),
    }
}

/// The TLS settings of one server, read from its files.
struct PgTls {
    config: Arc<ClientConfig>,
    /// The server's certificate is checked (chain, and name under verify-full).
    verified: bool,
    /// Where the roots came from, for messages.
    roots: String,
    mode: SslMode,
}

impl PgTls {
    fn new(params: &Params, mode: SslMode) -> Result<Self, String> {
        rustls::crypto::ring::default_provider()
            .install_default()
            .ok();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let home_file = |f: &str| params.home().map(|h| format!("{h}/.postgresql/{f}"));
        let root_path = params
            .get("sslrootcert")
            .map(str::to_owned)
            .or_else(|| home_file("root.crt"));
        let (roots, from) = match root_path.as_deref() {
            Some("system") => (
                Some(system_roots()?),
                "the system's trusted roots".to_owned(),
            ),
            Some(p) if std::path::Path::new(p).exists() => {
                (Some(file_roots(p)?), format!("sslrootcert {p}"))
            }
            other => {
                if mode.verifies() {
                    return Err(format!(
                        "root certificate file \"{}\" does not exist: give the CA in sslrootcert, use the system's roots with sslrootcert=system, or set an sslmode that does not verify",
                        other.unwrap_or("~/.postgresql/root.crt")
                    ));
                }
                (None, "no sslrootcert".to_owned())
            }
        };
        let verified = roots.is_some();
        let checker: Arc<dyn ServerCertVerifier> = match roots {
            Some(roots) => {
                let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|e| format!("cannot use the root certificates ({from}): {e}"))?;
                if mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
            None => Arc::new(Unchecked(Arc::clone(&provider))),
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(checker);
        let mut config = match identity(params, &home_file)? {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
                format!("the client certificate (sslcert) and key (sslkey) do not go together: {e}")
            })?,
            None => builder.with_no_client_auth(),
        };
        // libpq sends SNI unless sslsni=0; rustls never sends it for an IP address.
        config.enable_sni = params.get("sslsni") != Some("0");
        Ok(Self {
            config: Arc::new(config),
            verified,
            roots: from,
            mode,
        })
    }
}

/// The system's trusted roots.
fn system_roots() -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err("sslrootcert=system: the system has no trusted root certificates".into());
    }
    Ok(store)
}

/// The roots in a PEM file.
fn file_roots(path: &str) -> Result<RootCertStore, String> {
    let pem =
        super::connection::read_small(path, MAX_PEM_BYTES, "root certificate file (sslrootcert)")?;
    let mut store = RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the root certificate file (sslrootcert) is not PEM: {e} ({path})"))?;
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!(
            "the root certificate file (sslrootcert) holds no certificate ({path})"
        ));
    }
    Ok(store)
}

/// The client certificate and key: `sslcert`/`sslkey`, else libpq's default files when
/// they exist. An `sslcert` given but missing is an error (libpq would go on without a
/// certificate, and the server's refusal would then hide the cause).
fn identity(
    params: &Params,
    home_file: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, String> {
    let cert_path = match params.get("sslcert") {
        Some(p) if !std::path::Path::new(p).exists() => {
            return Err(format!(
                "the client certificate file (sslcert) does not exist ({p})"
            ));
        }
        Some(p) => p.to_owned(),
        None => match home_file("postgresql.crt") {
            Some(p) if std::path::Path::new(&p).exists() => p,
            _ => return Ok(None),
        },
    };
    let key_path = params
        .get("sslkey")
        .map(str::to_owned)
        .or_else(|| home_file("postgresql.key"))
        .ok_or("a client certificate (sslcert) is set but no key (sslkey)")?;
    check_key_mode(&key_path)?;
    let pem =
        super::connection::read_small(&cert_path, MAX_PEM_BYTES, "client certificate (sslcert)")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the client certificate (sslcert) is not PEM: {e} ({cert_path})"))?;
    if chain.is_empty() {
        return Err(format!(
            "the client certificate file holds no certificate ({cert_path})"
        ));
    }
    let pem = super::connection::read_small(&key_path, MAX_PEM_BYTES, "private key (sslkey)")?;
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|_| format!("the private key (sslkey) is not a PEM private key ({key_path})"))?;
    Ok(Some((chain, key)))
}

/// libpq's rule for a private key file: a plain file, no access for others (0600) if the
/// current user owns it, at most group-read (0640) if root owns it.
fn check_key_mode(path: &str) -> Result<(), String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the private key (sslkey): {e} ({path})"))?;
    if !meta.is_file() {
        return Err(format!(
            "the private key (sslkey) is not a plain file ({path})"
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        // /proc/self belongs to the process's effective user.
        let me = std::fs::metadata("/proc/self").map_or(meta.uid(), |m| m.uid());
        let mode = meta.mode();
        let open = if meta.uid() == me {
            mode & 0o077
        } else {
            mode & 0o137
        };
        if open != 0 {
            return Err(format!(
                "the private key (sslkey) has group or world access: it must be u=rw (0600) or less if owned by the current user, or u=rw,g=r (0640) or less if owned by root ({path})"
            ));
        }
    }
    Ok(())
}

/// The chain is checked, the name is not: libpq's `verify-ca` (and `require` or
/// `prefer` with a root certificate).
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the name last, after the chain: a name mismatch means the chain
        // was good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// No check of the certificate (libpq's `require`/`prefer` without a root
/// certificate); the handshake's signatures are still checked, so the session is
/// encrypted to whoever holds the presented certificate's key.
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What one handshake did, shared with the attempt that started it.
#[derive(Clone, Default)]
struct Handshake {
    tried: bool,
    leaf: Option<Vec<u8>>,
    failure: Option<rustls::Error>,
}

/// tokio-postgres' TLS hook over tokio-rustls.
struct MakeRustls {
    config: Arc<ClientConfig>,
    state: Arc<Mutex<Handshake>>,
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name = ServerName::try_from(domain.to_owned()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{domain:?} is neither a host name nor an IP address"),
            )
        })?;
        Ok(RustlsConnect {
            connector: tokio_rustls::TlsConnector::from(Arc::clone(&self.config)),
            name,
            state: Arc::clone(&self.state),
        })
    }
}

/// One handshake to come.
struct RustlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
    state: Arc<Mutex<Handshake>>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let record = |f: &mut dyn FnMut(&mut Handshake)| {
                f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
            };
            record(&mut |h| h.tried = true);
            match self.connector.connect(self.name, stream).await {
                Ok(s) => {
                    let leaf = s
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| c.as_ref().to_vec());
                    record(&mut |h| h.leaf.clone_from(&leaf));
                    let binding = leaf.as_deref().and_then(end_point);
                    Ok(RustlsStream(Box::new(s), binding))
                }
                Err(e) => {
                    let tls = e
                        .get_ref()
                        .and_then(|i| i.downcast_ref::<rustls::Error>())
                        .cloned();
                    record(&mut |h| h.failure.clone_from(&tls));
                    Err(e)
                }
            }
        })
    }
}

/// `tls-server-end-point` of a certificate: its hash by its signature's hash.
fn end_point(der: &[u8]) -> Option<Vec<u8>> {
    use super::cert_fields::EndPointHash;
    let alg = match super::cert_fields::end_point_hash(der)? {
        EndPointHash::Sha256 => &ring::digest::SHA256,
        EndPointHash::Sha384 => &ring::digest::SHA384,
        EndPointHash::Sha512 => &ring::digest::SHA512,
    };
    Some(ring::digest::digest(alg, der).as_ref().to_vec())
}

/// A TLS session to the server, and its channel binding data when there is one.
pub struct RustlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>, Option<Vec<u8>>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.1
            .clone()
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_is_refused_in_words() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("sb-pgtls-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let key = dir.join("client.key");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").expect("write");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let path = key.to_str().expect("utf8");
        let err = check_key_mode(path).expect_err("world-readable");
        assert!(err.contains("group or world access"), "{err}");
        assert!(err.ends_with(&format!("({path})")), "{err}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        check_key_mode(path).expect("0600 is fine");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn verify_modes_need_a_root_certificate() {
        let env: super::super::libpq::Env = [("HOME", "/nonexistent"), ("USER", "u")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let p = Params::resolve("host=h sslmode=verify-ca", &env).expect("params");
        let err = PgTls::new(&p, SslMode::VerifyCa).err().unwrap_or_default();
        assert!(err.contains("root certificate file"), "{err}");
        let p = Params::resolve("host=h sslmode=require", &env).expect("params");
        let t = PgTls::new(&p, SslMode::Require).expect("require without roots");
        assert!(!t.verified);
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_given_up_on_in_time() {
        // Accepts the connection, reads nothing, says nothing.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let held = tokio::spawn(async move {
            let mut kept = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                kept.push(s);
            }
        });
        let env: super::super::libpq::Env = [("USER", "u")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let p = Params::resolve(&format!("host=127.0.0.1 port={port} sslmode=require"), &env)
            .expect("params");
        let started = std::time::Instant::now();
        let err = connect(&p, Duration::from_millis(300))
            .await
            .err()
            .unwrap_or_default();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(err.starts_with("no answer within 300 ms"), "{err}");
        held.abort();
    }

    #[test]
    fn name_mismatch_words_name_both() {
        let e = rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("db.wrong").expect("name"),
            presented: vec![
                "IpAddress(127.0.0.1)".into(),
                "DnsName(\"localhost\")".into(),
            ],
        });
        let w = tls_words(&e, None);
        assert!(
            w.starts_with("the server's certificate is for 127.0.0.1, localhost, not db.wrong"),
            "{w}"
        );
    }
}
