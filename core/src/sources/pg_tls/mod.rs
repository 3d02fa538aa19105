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

mod config;
mod stream;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::CertificateError;
use tokio_postgres::config::SslMode as DriverMode;

use self::config::PgTls;
use self::stream::{Handshake, MakeRustls};
use super::libpq::{Params, SslMode};

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
    /// The refused certificate's `notAfter`, for "valid until ...".
    not_after: Option<crate::time::Timestamp>,
    /// The sslmode of a TLS attempt, for "... and sslmode=require requires it".
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
            return tls_words(e, self.roots.as_deref(), self.not_after);
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
fn tls_words(
    e: &rustls::Error,
    roots: Option<&str>,
    not_after: Option<crate::time::Timestamp>,
) -> String {
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
            other if format!("{other:?}").contains("Expired") => match not_after {
                Some(t) => format!(
                    "the server's certificate has expired: it was valid until {t} ({e})"
                ),
                None => format!("the server's certificate has expired ({e})"),
            },
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
            not_after: None,
            mode: None,
        }),
        Err(bound) => Err(Failure {
            error: Err(bound),
            tls_tried: false,
            tls_error: None,
            roots: None,
            not_after: None,
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
            not_after: tls
                .seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_deref()
                .and_then(|der| super::transport::cert_facts(der).ok())
                .map(|facts| facts.not_after),
            mode: Some(tls.mode),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            expected: rustls::pki_types::ServerName::try_from("db.wrong").expect("name"),
            presented: vec![
                "IpAddress(127.0.0.1)".into(),
                "DnsName(\"localhost\")".into(),
            ],
        });
        let w = tls_words(&e, None, None);
        assert!(
            w.starts_with("the server's certificate is for 127.0.0.1, localhost, not db.wrong"),
            "{w}"
        );
    }
}
