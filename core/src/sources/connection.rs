//! How a source reaches its system: the one place its connection settings live.
//!
//! The time bound, and [`TlsSettings`]: what to trust and what client certificate to
//! present, with verification on unless a person turns it off. The etcd source and every
//! workflow that talks to the same etcd (the lock, member removal) read them from its
//! configuration; the HTTP, gRPC and PostgreSQL clients are to take the same type.
//! [`error_words`] turns a connection's error chain (rustls' and tonic's words) into an
//! operator's.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The most a certificate or key file may hold: a chain is a few kilobytes.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// How to reach a system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Bound on connecting and on each request.
    pub timeout: Duration,
}

impl Connection {
    /// A connection whose requests give up after `timeout`.
    pub const fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// An HTTP client with these settings: rustls on the ring provider (installed once,
    /// here, so no caller can forget), bounded connect and request times, no proxy from
    /// the environment (a console must reach its targets directly).
    pub fn http_client(&self) -> Result<reqwest::Client, String> {
        // Installing twice is harmless: the first provider stays.
        rustls::crypto::ring::default_provider()
            .install_default()
            .ok();
        reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .timeout(self.timeout)
            .no_proxy()
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e:#}"))
    }
}

/// TLS to a server: what to trust, the client certificate to present, and the name to
/// check. Files are read when a connection is made; a key file is a secret by path and
/// is never copied anywhere.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The CA certificates (PEM) the server's certificate must chain to; the system's
    /// roots when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// The client certificate (PEM) to present, for servers that require one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// Its private key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// The name the server's certificate must hold, when it is not the URL's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Skip verifying the server's certificate. Only ever set by a person, explicitly;
    /// the console then marks the source INSECURE.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
}

impl TlsSettings {
    /// The CA file's bytes, if one is set.
    pub fn ca_pem(&self) -> Result<Option<Vec<u8>>, String> {
        self.ca_file
            .as_deref()
            .map(|p| read_pem(p, "CA file (tls.ca_file)"))
            .transpose()
    }

    /// The client certificate and key, if set (both or neither).
    pub fn identity_pem(&self) -> Result<Option<ClientIdentity>, String> {
        match (&self.cert_file, &self.key_file) {
            (Some(c), Some(k)) => Ok(Some(ClientIdentity {
                cert_pem: read_pem(c, "client certificate (tls.cert_file)")?,
                key_pem: read_pem(k, "client key (tls.key_file)")?,
            })),
            (None, None) => Ok(None),
            _ => Err("a client certificate needs both tls.cert_file and tls.key_file".into()),
        }
    }
}

/// tonic's TLS settings (gRPC: etcd, gRPC health) from `tls`: its CA, or the system's
/// roots; its client certificate; its server name.
pub fn tonic_tls(tls: &TlsSettings) -> Result<tonic::transport::ClientTlsConfig, String> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    if tls.insecure_skip_verify {
        return Err(
            "insecure_skip_verify is not supported for gRPC connections; give the server's CA in tls.ca_file"
                .into(),
        );
    }
    let mut t = ClientTlsConfig::new();
    match tls.ca_pem()? {
        Some(ca) => t = t.ca_certificate(Certificate::from_pem(ca)),
        None => t = t.with_native_roots(),
    }
    if let Some(id) = tls.identity_pem()? {
        t = t.identity(Identity::from_pem(id.cert_pem, id.key_pem));
    }
    if let Some(name) = &tls.server_name {
        t = t.domain_name(name.clone());
    }
    Ok(t)
}

/// The TLS a gRPC connection to endpoints that are `https` (or not) takes from `tls`:
/// none for plain endpoints, the system's roots for `https` without settings. Settings
/// on plain endpoints are refused rather than silently unused.
pub fn tonic_tls_for(
    https: bool,
    tls: Option<&TlsSettings>,
) -> Result<Option<tonic::transport::ClientTlsConfig>, String> {
    match (tls, https) {
        (Some(_), false) => {
            Err("tls is set but the endpoints are http://; write them https://".into())
        }
        (Some(t), true) => tonic_tls(t).map(Some),
        (None, true) => tonic_tls(&TlsSettings::default()).map(Some),
        (None, false) => Ok(None),
    }
}

/// A client certificate and its key, as read for one connection.
pub struct ClientIdentity {
    /// The certificate chain (PEM).
    pub cert_pem: Vec<u8>,
    /// The private key (PEM): a secret, never shown.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity").finish_non_exhaustive()
    }
}

/// A PEM file, bounded in size, or why not in words (the path last).
fn read_pem(path: &str, what: &str) -> Result<Vec<u8>, String> {
    let bytes = read_small(path, MAX_PEM_BYTES, what)?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(format!("the {what} is not PEM ({path})"));
    }
    Ok(bytes)
}

/// A small file (a certificate, a key, a secret) read whole, at most `max_bytes`, or
/// why not in words (the path last): a path pointing at the wrong file cannot fill
/// memory.
pub(crate) fn read_small(path: &str, max_bytes: u64, what: &str) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max_bytes + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read the {what}: {e} ({path})"))?;
    if bytes.len() as u64 > max_bytes {
        return Err(format!(
            "the {what} is larger than {max_bytes} bytes: is it the right file? ({path})"
        ));
    }
    Ok(bytes)
}

/// [`error_words`] for a connection made with `tls`: a server that closes the
/// connection right after the handshake, when no client certificate was presented, is
/// most likely one that requires one (TLS 1.3 lets the client finish its handshake
/// before the server checks, so no alert names it).
pub fn error_words_for(
    err: &(dyn std::error::Error + 'static),
    tls: Option<&TlsSettings>,
) -> String {
    tls_words_for(err, tls).unwrap_or_else(|| chain(err))
}

/// The operator's words for `err` when it is a TLS failure of a connection made with
/// `tls` (see [`error_words_for`]), with the chain after them; `None` for other errors,
/// which the caller words itself.
pub fn tls_words_for(
    err: &(dyn std::error::Error + 'static),
    tls: Option<&TlsSettings>,
) -> Option<String> {
    let all = chain(err);
    if let Some(words) = known(&all) {
        return Some(format!("{words} ({all})"));
    }
    let closed = [
        "connection closed",
        "broken pipe",
        "BrokenPipe",
        "Connection reset",
        "ConnectionReset",
    ]
    .iter()
    .any(|n| all.contains(n));
    match tls {
        Some(t) if closed && t.cert_file.is_none() => Some(format!(
            "the server closed the connection after the TLS handshake: it likely requires a client certificate, and none is set (tls.cert_file and tls.key_file) ({all})"
        )),
        _ => None,
    }
}

/// An error and its causes, in an operator's words where the cause is a known TLS
/// failure ("certificate not trusted", "the server requires a client certificate"...),
/// else the chain as the libraries word it.
pub fn error_words(err: &(dyn std::error::Error + 'static)) -> String {
    let all = chain(err);
    match known(&all) {
        Some(words) => format!("{words} ({all})"),
        None => all,
    }
}

/// An error and its causes, each said once.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = vec![err.to_string()];
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        cause = c.source();
    }
    chain.join(": ")
}

/// The operator's words for a known TLS failure in `all`, an error chain.
fn known(all: &str) -> Option<String> {
    let has = |needle: &str| all.contains(needle);
    Some(if has("UnknownIssuer") || has("unknown issuer") {
        "certificate not trusted: the server's certificate is not signed by a CA this console trusts (tls.ca_file)".to_owned()
    } else if has("NotValidForName") || has("not valid for name") {
        wrong_name(all)
    } else if has("Expired") && has("certificate") || has("certificate expired") {
        expired(all)
    } else if has("CertificateRequired") || has("certificate required") {
        "the server requires a client certificate (tls.cert_file and tls.key_file)".to_owned()
    } else if has("UnknownCA") || has("unknown ca") {
        "the server does not trust this console's client certificate".to_owned()
    } else if has("BadCertificate") || has("bad certificate") {
        "the server refused this console's client certificate".to_owned()
    } else if has("InvalidContentType") || has("CorruptMessage") {
        "the server does not speak TLS here (an http:// endpoint?)".to_owned()
    } else {
        return None;
    })
}

/// "the server's certificate expired on 2026-12-05", from rustls' `certificate is not
/// valid after 1796449717 (UNIX)` when it says so much.
fn expired(all: &str) -> String {
    let at = all
        .split_once("not valid after ")
        .and_then(|(_, rest)| rest.split(' ').next()?.parse::<i64>().ok())
        .map(|secs| crate::time::Timestamp(secs.saturating_mul(1000)).to_rfc3339());
    match at {
        Some(at) => format!(
            "the server's certificate expired on {}",
            at.get(..10).unwrap_or(&at)
        ),
        None => "the server's certificate has expired".to_owned(),
    }
}

/// "the server's certificate is for 10.0.0.5 or db1.internal, not db2.internal", from
/// rustls' `certificate not valid for name "db2.internal"; certificate is only valid
/// for IpAddress(10.0.0.5) or DnsName("db1.internal")` when it says so much.
fn wrong_name(all: &str) -> String {
    let asked = all
        .split_once("not valid for name \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(name, _)| name);
    let valid: Vec<&str> = all
        .split_once("only valid for ")
        .map(|(_, rest)| {
            let list = rest.split(": ").next().unwrap_or(rest);
            list.split(" or ")
                .flat_map(|p| p.split(", "))
                .filter_map(|p| {
                    let inner = p
                        .trim()
                        .strip_prefix("IpAddress(")
                        .or_else(|| p.trim().strip_prefix("DnsName("))?;
                    Some(inner.split(')').next()?.trim_matches('"'))
                })
                .collect()
        })
        .unwrap_or_default();
    match (asked, valid.is_empty()) {
        (Some(asked), false) => format!(
            "the server's certificate is for {}, not {asked} (connect by a name it holds, or set tls.server_name)",
            valid.join(", ")
        ),
        _ => "the server's certificate is not for this name (connect by a name it holds, or set tls.server_name)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_name_says_which_names_the_certificate_holds() {
        let rustls = r#"transport error: invalid peer certificate: certificate not valid for name "db1.internal"; certificate is only valid for IpAddress(127.0.0.1), DnsName("localhost") or DnsName("etcd.rig.test"): more (https://127.0.0.1:44801)"#;
        assert_eq!(
            known(rustls).as_deref(),
            Some(
                "the server's certificate is for 127.0.0.1, localhost, etcd.rig.test, not db1.internal (connect by a name it holds, or set tls.server_name)"
            )
        );
        let bare = "invalid peer certificate: NotValidForName";
        assert!(
            known(bare).is_some_and(|w| w.contains("not for this name")),
            "{bare}"
        );
        assert_eq!(known("connection refused"), None);
        let expired = "invalid peer certificate: certificate expired: verification time 1796536000 (UNIX), but certificate is not valid after 1796449717 (86283 seconds ago)";
        assert_eq!(
            known(expired).as_deref(),
            Some("the server's certificate expired on 2026-12-05")
        );
    }
}
