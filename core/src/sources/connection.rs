//! How a source reaches its system: the one place its connection settings live.
//!
//! The time bound, and [`TlsSettings`]: what to trust and what client certificate to
//! present, with verification on unless a person turns it off. The etcd source and every
//! workflow that talks to the same etcd (the lock, member removal) read them from its
//! configuration; the HTTP, gRPC and PostgreSQL clients are to take the same type.
//! [`error_words`] turns a connection's error chain (rustls' and tonic's words) into an
//! operator's.
//!
//! An HTTP source says how it reaches its target with three fields, each of a type
//! declared here: `tls` ([`TlsSettings`]), `auth` ([`AuthSettings`]: basic or bearer,
//! secrets only by environment variable name or file path) and `proxy` (`false` to go
//! direct; else the proxy variables as curl reads them). Its config hands them, with its
//! URLs, to generic code as a [`ReachSettings`] (`Settings::reach`); [`check_reach`] refuses
//! what cannot work (a password in a URL, half a client certificate) in words. The
//! client built from them is `sources::http`'s.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::bounds::{AnswerLimit, read_small};

/// The most a certificate or key file may hold: a chain is a few kilobytes.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// How to reach a system: the time bound and, for HTTP, the TLS, credentials and
/// proxy use of one source (see [`ReachSettings`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Bound on connecting and on each request.
    pub timeout: Duration,
    /// TLS settings; the system's roots and the URL's host when `None`.
    pub tls: Option<TlsSettings>,
    /// Credentials sent with every request.
    pub auth: Option<AuthSettings>,
    /// Which proxy the requests go through.
    pub proxy: ProxySetting,
    /// The most an answer may hold.
    pub max_answer: AnswerLimit,
}

impl Connection {
    /// A connection whose requests give up after `timeout`, with no TLS settings, no
    /// credentials and the environment's proxy variables.
    pub const fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            tls: None,
            auth: None,
            proxy: ProxySetting::Env(true),
            max_answer: AnswerLimit::GENERIC,
        }
    }

    /// A connection bounded by `timeout` with the TLS, credentials and proxy use of `reach`.
    pub fn to(reach: &ReachSettings<'_>, timeout: Duration) -> Self {
        Self {
            timeout,
            tls: reach.tls.cloned(),
            auth: reach.auth.cloned(),
            proxy: reach.proxy.clone(),
            max_answer: reach.max_answer,
        }
    }
}

/// Credentials for an HTTP API: basic (`username` with `password_env` or
/// `password_file`) or bearer (`token_env` or `token_file`). Secrets are named, never
/// written here: an environment variable's name or a file's path. A token file is read
/// again whenever it changes (Consul and Kubernetes projected tokens rotate).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The user for basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The environment variable holding the basic-auth password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// The file holding the basic-auth password (one line; trailing newline ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    /// The environment variable holding a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// The file holding a bearer token, read again when its time or size changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
}

impl AuthSettings {
    /// One way of authenticating, whole: basic with one password source, or a token
    /// from one source; anything else in words.
    pub fn check(&self) -> Result<(), String> {
        let password =
            usize::from(self.password_env.is_some()) + usize::from(self.password_file.is_some());
        let token = usize::from(self.token_env.is_some()) + usize::from(self.token_file.is_some());
        match (self.username.is_some(), password, token) {
            (true, 1, 0) | (false, 0, 1) => Ok(()),
            (true, 0, 0) => Err("auth.username needs auth.password_env or auth.password_file".into()),
            (false, 1, 0) => Err("auth.password_env or auth.password_file needs auth.username".into()),
            (_, 0, 0) => Err("auth is empty: give username with password_env or password_file, or token_env or token_file".into()),
            (_, p, t) if p > 0 && t > 0 => Err("auth has both a password and a token: give one".into()),
            (_, 2, _) => Err("auth has both password_env and password_file: give one".into()),
            _ => Err("auth has both token_env and token_file: give one".into()),
        }
    }
}

/// How a source reaches its target, for code that does not know its kind: building its
/// client, reporting its transport and certificates. Borrowed from the source's config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReachSettings<'a> {
    /// The URLs the source asks (none when it talks over a socket instead).
    pub urls: Vec<&'a str>,
    /// Its TLS settings, if any.
    pub tls: Option<&'a TlsSettings>,
    /// Its credentials, if any.
    pub auth: Option<&'a AuthSettings>,
    /// Which proxy its requests go through.
    pub proxy: &'a ProxySetting,
    /// Its bound on connecting and on each request.
    pub timeout: Duration,
    /// The most one answer may hold (its kind's default or its `max_answer_bytes`).
    pub max_answer: AnswerLimit,
}

/// Which forward proxy a source's requests go through: `proxy = true` (the default) the
/// environment's (`https_proxy`, `http_proxy`, `NO_PROXY` as curl reads them),
/// `proxy = false` none, `proxy = "http://host:port"` that one for this source only
/// (without credentials: a config names secrets, it does not hold them).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ProxySetting {
    /// `true`: the environment's proxy variables; `false`: direct.
    Env(bool),
    /// This proxy, whatever the environment says.
    Url(String),
}

/// Read by hand, so that a wrong value is refused in words ("true, false or a proxy
/// URL") rather than serde's "did not match any variant".
impl<'de> Deserialize<'de> for ProxySetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ProxySetting;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true (the environment's proxy), false (direct) or a proxy URL")
            }
            fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<ProxySetting, E> {
                Ok(ProxySetting::Env(on))
            }
            fn visit_str<E: serde::de::Error>(self, url: &str) -> Result<ProxySetting, E> {
                Ok(ProxySetting::Url(url.to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Default for ProxySetting {
    fn default() -> Self {
        Self::Env(true)
    }
}

impl ProxySetting {
    /// Whether this is the default (the environment's proxy variables), which a
    /// recorded config leaves out.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl std::fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env(on) => f.debug_tuple("Env").field(on).finish(),
            Self::Url(url) => f.debug_tuple("Url").field(&redact_url(url)).finish(),
        }
    }
}

/// Refuses, in words, what `reach` cannot do: a password in a URL (it would land in
/// every message and session file), settings for TLS on plain `http://` URLs, half a
/// client certificate, auth that is not one whole way of authenticating.
pub fn check_reach(reach: &ReachSettings<'_>) -> Result<(), String> {
    if let ProxySetting::Url(url) = reach.proxy
        && userinfo(url).is_some()
    {
        return Err(format!(
            "the proxy URL holds credentials; give them in the environment's https_proxy instead ({})",
            redact_url(url)
        ));
    }
    for url in &reach.urls {
        if userinfo(url).is_some() {
            return Err(format!(
                "a URL holds credentials: put the user in auth.username and the password in auth.password_env or auth.password_file ({})",
                redact_url(url)
            ));
        }
    }
    if let Some(tls) = reach.tls {
        if let Some(url) = reach.urls.iter().find(|u| !u.starts_with("https://")) {
            return Err(format!(
                "tls is set but the URL is not https://; write it https:// ({})",
                redact_url(url)
            ));
        }
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            return Err("a client certificate needs both tls.cert_file and tls.key_file".into());
        }
    }
    reach.auth.map_or(Ok(()), AuthSettings::check)
}

/// The `user:password` part of `url`, if it has one.
fn userinfo(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority.rsplit_once('@').map(|(info, _)| info)
}

/// `url` fit to show: any `user:password@` becomes `***@`, so a proxy or target URL
/// with credentials never lands in a message, a log or a session file.
pub fn redact_url(url: &str) -> String {
    match userinfo(url) {
        Some(info) => url.replacen(&format!("{info}@"), "***@", 1),
        None => url.to_owned(),
    }
}

/// An HTTP status that stops a request before any content, in an operator's words
/// (401, 403, 407), with the URL last; `None` for other statuses.
pub fn refusal_words(status: u16, url: &str) -> Option<String> {
    let url = redact_url(url);
    Some(match status {
        401 => format!(
            "authentication refused (401): check auth.username and the password, or the token (auth.token_env / auth.token_file) ({url})"
        ),
        403 => format!(
            "access forbidden (403): the credentials are known but not allowed here, or a client certificate is required ({url})"
        ),
        407 => format!(
            "the proxy refused the request (407): it wants credentials; give them in the proxy URL (http://user:password@host:port) or set proxy = false ({url})"
        ),
        _ => return None,
    })
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

/// `builder` finished with `tls`'s client certificate and key, or with none. The key's
/// own parse error is not repeated (it could quote the key): only that it is unreadable.
pub(crate) fn with_client_identity(
    builder: rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>,
    tls: Option<&TlsSettings>,
) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let identity = match tls {
        Some(t) => t.identity_pem()?,
        None => None,
    };
    let Some(id) = identity else {
        return Ok(builder.with_no_client_auth());
    };
    let certs = CertificateDer::pem_slice_iter(&id.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the client certificate (tls.cert_file) is not PEM: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&id.key_pem).map_err(|_| {
        "the client key (tls.key_file) holds no PEM private key it can read".to_owned()
    })?;
    builder
        .with_client_auth_cert(certs, key)
        .map_err(|e| format!("the client certificate and key do not go together: {e}"))
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

/// [`error_words`] for a connection made with `tls`: a server that closes the
/// connection right after the handshake, when no client certificate was presented, is
/// most likely one that requires one (TLS 1.3 lets the client finish its handshake
/// before the server checks, so no alert names it). A gRPC connection that broke
/// under a call is said as such ([`transport_words_for`]).
pub fn error_words_for(
    err: &(dyn std::error::Error + 'static),
    tls: Option<&TlsSettings>,
) -> String {
    tls_words_for(err, tls)
        .or_else(|| transport_words_for(err))
        .unwrap_or_else(|| chain(err))
}

/// The operator's words for a connection that broke under a call (a reset, a broken
/// pipe, an HTTP/2 protocol error, a close before the answer), or `None` for other
/// errors. tonic and hyper say these as a status's debug text (`code: 'Unknown error',
/// message: "transport error", source: tonic::transport::Error(Transport, hyper::…`),
/// which tells an operator nothing.
pub fn transport_words_for(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let all = chain(err);
    let has = |needle: &str| all.contains(needle);
    let words = if has("BrokenPipe") || has("broken pipe") {
        "the connection broke under the call (broken pipe): the server, or something in between, closed it"
    } else if has("ConnectionReset") || has("Connection reset") {
        "the connection was reset: the server, or something in between, dropped it"
    } else if has("h2 protocol error") || has("http2 error") {
        "the HTTP/2 connection broke (a protocol error): the server closed it mid-answer, or does not speak gRPC here"
    } else if has("connection closed") || has("operation was canceled") {
        "the connection was closed before the answer"
    } else {
        return None;
    };
    Some(words.to_owned())
}

/// The operator's words for `err` when it is a TLS failure of a connection made with
/// `tls` (see [`error_words_for`]), with the chain after them; `None` for other errors,
/// which the caller words itself.
pub fn tls_words_for(
    err: &(dyn std::error::Error + 'static),
    tls: Option<&TlsSettings>,
) -> Option<String> {
    let all = chain(err);
    if let Some(words) = dns_words(&all) {
        return Some(words);
    }
    if let Some(words) = known(&all) {
        return Some(format!("{words} ({all})"));
    }
    let closed = [
        "connection closed",
        // hyper, when the server closed before the first request went out.
        "connection was not ready",
        "broken pipe",
        "BrokenPipe",
        "Connection reset",
        "ConnectionReset",
    ]
    .iter()
    .any(|n| all.contains(n))
        // tonic sometimes loses the cause and says only this.
        || all.contains("transport error");
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
    if let Some(words) = dns_words(&all) {
        return words;
    }
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

/// The operator's words for a name that does not resolve, with the resolver's last word
/// ("Name or service not known"), or `None` for other errors. getaddrinfo's words say
/// neither which name nor that nothing was reached; the caller puts the address last.
/// The chain is left out: it says the same four times.
fn dns_words(all: &str) -> Option<String> {
    const LOOKUP: &str = "failed to lookup address information: ";
    let cause = match all.rsplit_once(LOOKUP) {
        Some((_, cause)) => cause,
        None if all.contains("dns error") => all.rsplit(": ").next().unwrap_or(all),
        None => return None,
    };
    let cause = cause.trim_end_matches(')');
    Some(format!(
        "the name does not resolve: check its spelling and this machine's DNS ({cause})"
    ))
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
    } else if has("proxy authorization required") {
        "the proxy refused the CONNECT (407): it wants credentials; give them in the proxy URL (https_proxy=http://user:password@host:port) or set proxy = false".to_owned()
    } else if has("tunnel error") {
        "the proxy refused the CONNECT: it does not allow this target (or its port), or it could not reach it; set proxy = false or list the host in NO_PROXY to go direct".to_owned()
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
        let dns = "error sending request: client error (Connect): dns error: failed to lookup address information: Name or service not known";
        assert_eq!(
            dns_words(dns).as_deref(),
            Some(
                "the name does not resolve: check its spelling and this machine's DNS (Name or service not known)"
            )
        );
        assert_eq!(dns_words("connection refused"), None);
        let status =
            tonic::Status::unknown("h2 protocol error: error reading a body from connection");
        assert_eq!(
            transport_words_for(&status).as_deref(),
            Some(
                "the HTTP/2 connection broke (a protocol error): the server closed it mid-answer, or does not speak gRPC here"
            )
        );
        assert_eq!(
            transport_words_for(&tonic::Status::not_found("no such service")),
            None
        );
        let expired = "invalid peer certificate: certificate expired: verification time 1796536000 (UNIX), but certificate is not valid after 1796449717 (86283 seconds ago)";
        assert_eq!(
            known(expired).as_deref(),
            Some("the server's certificate expired on 2026-12-05")
        );
    }

    fn reach<'a>(
        urls: Vec<&'a str>,
        tls: Option<&'a TlsSettings>,
        auth: Option<&'a AuthSettings>,
    ) -> ReachSettings<'a> {
        ReachSettings {
            urls,
            tls,
            auth,
            proxy: &ProxySetting::Env(true),
            timeout: Duration::from_secs(1),
            max_answer: AnswerLimit::GENERIC,
        }
    }

    #[test]
    fn a_password_in_a_url_is_refused_and_never_shown() {
        let err = check_reach(&reach(
            vec!["https://admin:hunter2@lb:8404/stats;csv"],
            None,
            None,
        ))
        .expect_err("userinfo");
        assert!(
            err.starts_with("a URL holds credentials: put the user in auth.username"),
            "{err}"
        );
        assert!(
            !err.contains("hunter2") && err.ends_with("(https://***@lb:8404/stats;csv)"),
            "{err}"
        );
        assert_eq!(redact_url("http://u:p@proxy:3128"), "http://***@proxy:3128");
        assert_eq!(redact_url("http://proxy:3128/a@b"), "http://proxy:3128/a@b");
    }

    #[test]
    fn tls_on_plain_urls_and_half_a_client_certificate_are_refused() {
        let tls = TlsSettings {
            ca_file: Some("/ca.pem".into()),
            ..TlsSettings::default()
        };
        let err = check_reach(&reach(vec!["http://lb:8404/"], Some(&tls), None)).expect_err("http");
        assert!(
            err.starts_with("tls is set but the URL is not https://"),
            "{err}"
        );
        let half = TlsSettings {
            cert_file: Some("/c.pem".into()),
            ..TlsSettings::default()
        };
        let err = check_reach(&reach(vec!["https://lb/"], Some(&half), None)).expect_err("half");
        assert!(err.contains("both tls.cert_file and tls.key_file"), "{err}");
    }

    #[test]
    fn auth_is_one_whole_way() {
        let ok = |a: AuthSettings| a.check();
        let basic = AuthSettings {
            username: Some("u".into()),
            password_env: Some("PW".into()),
            ..AuthSettings::default()
        };
        assert_eq!(ok(basic.clone()), Ok(()));
        let token = AuthSettings {
            token_file: Some("/t".into()),
            ..AuthSettings::default()
        };
        assert_eq!(ok(token.clone()), Ok(()));
        let both = AuthSettings {
            token_env: Some("T".into()),
            ..basic
        };
        assert!(
            ok(both)
                .expect_err("both")
                .contains("both a password and a token")
        );
        let no_password = AuthSettings {
            username: Some("u".into()),
            ..AuthSettings::default()
        };
        assert!(
            ok(no_password)
                .expect_err("no pw")
                .starts_with("auth.username needs")
        );
        assert!(
            ok(AuthSettings::default())
                .expect_err("empty")
                .starts_with("auth is empty")
        );
    }

    #[test]
    fn proxy_is_true_false_or_a_url() {
        #[derive(Deserialize)]
        struct C {
            proxy: ProxySetting,
        }
        let p = |t: &str| toml::from_str::<C>(t).map(|c| c.proxy);
        assert_eq!(p("proxy = false").ok(), Some(ProxySetting::Env(false)));
        assert_eq!(
            p("proxy = \"http://p:3128\"").ok(),
            Some(ProxySetting::Url("http://p:3128".into()))
        );
        let err = p("proxy = 3")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("true (the environment's proxy), false (direct) or a proxy URL"),
            "{err}"
        );
        let shown = format!("{:?}", ProxySetting::Url("http://u:pw@p:3128".into()));
        assert!(!shown.contains("pw"), "{shown}");
    }

    #[test]
    fn refusals_in_words() {
        let w = |s| refusal_words(s, "https://u:pw@lb/x").unwrap_or_default();
        assert!(
            w(401).starts_with("authentication refused (401)"),
            "{}",
            w(401)
        );
        assert!(w(403).starts_with("access forbidden (403)"), "{}", w(403));
        assert!(
            w(407).starts_with("the proxy refused the request (407)"),
            "{}",
            w(407)
        );
        assert!(w(401).ends_with("(https://***@lb/x)"), "{}", w(401));
        assert_eq!(refusal_words(500, "https://lb/"), None);
    }
}
