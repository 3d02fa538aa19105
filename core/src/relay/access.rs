//! Who a console is and what it may do: the person is the common name of the client
//! certificate it presented (verified against `client_ca_file` by the TLS handshake),
//! or the name of the bearer token it sent; operators are listed by name, everyone
//! else the relay admits is a viewer. Tokens are read from their variable or file
//! (a file again whenever it changes, so a rotated token takes effect) and compared in
//! constant time; no token ever appears in a message.

use crate::config::ServeConfig;
use crate::protocol::Role;
use crate::sources::AuthSettings;
use crate::sources::http::auth::Credentials;

/// A person the relay admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// As notes and the journal name them.
    pub name: String,
    /// What they may do.
    pub role: Role,
}

/// The relay's admission rules.
pub(super) struct Access {
    operators: Vec<String>,
    tokens: Vec<(String, Credentials)>,
}

impl Access {
    /// The rules of `serve`; a token that cannot be read is refused now, in words.
    pub(super) fn new(serve: &ServeConfig) -> Result<Self, String> {
        let mut tokens = Vec::new();
        for t in &serve.token {
            let auth = AuthSettings {
                token_env: t.token_env.clone(),
                token_file: t.token_file.clone(),
                ..AuthSettings::default()
            };
            let creds = Credentials::from_settings(&auth)
                .map_err(|e| format!("serve token {:?}: {e}", t.name))?;
            // A token file is read at the first request: read it now, so a missing file
            // stops the relay at start rather than refusing every wall later.
            creds
                .bearer()
                .map_err(|e| format!("serve token {:?}: {e}", t.name))?;
            tokens.push((t.name.clone(), creds));
        }
        Ok(Self {
            operators: serve.operators.clone(),
            tokens,
        })
    }

    /// The person behind `req`: its client certificate's common name, else its token's
    /// name.
    pub(super) fn person<T>(&self, req: &tonic::Request<T>) -> Result<Person, tonic::Status> {
        let name = if let Some(name) = certificate_name(req)? {
            name
        } else if let Some(token) = bearer(req) {
            self.token_name(token)?
        } else {
            return Err(tonic::Status::unauthenticated(
                "present a client certificate or a token (relay_tls / relay_auth)",
            ));
        };
        let role = if self.operators.contains(&name) {
            Role::Operator
        } else {
            Role::Viewer
        };
        Ok(Person { name, role })
    }

    fn token_name(&self, sent: &str) -> Result<String, tonic::Status> {
        let mut found = None;
        for (name, creds) in &self.tokens {
            let Ok(Some(token)) = creds.bearer() else {
                continue;
            };
            // Every token is compared, whichever matches, so timing tells nothing.
            if constant_eq(token.expose().as_bytes(), sent.as_bytes()) {
                found = Some(name.clone());
            }
        }
        found.ok_or_else(|| tonic::Status::unauthenticated("the token is not one this relay knows"))
    }
}

/// The bearer token of `req`, if it sent one.
fn bearer<T>(req: &tonic::Request<T>) -> Option<&str> {
    req.metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The common name of the client certificate `req` came with (already verified by the
/// handshake against the relay's client CA).
fn certificate_name<T>(req: &tonic::Request<T>) -> Result<Option<String>, tonic::Status> {
    use x509_cert::der::Decode as _;
    let Some(certs) = req.peer_certs() else {
        return Ok(None);
    };
    let Some(leaf) = certs.first() else {
        return Ok(None);
    };
    let cert = x509_cert::Certificate::from_der(leaf.as_ref())
        .map_err(|_| tonic::Status::unauthenticated("the client certificate cannot be read"))?;
    // RFC 4514's form (`CN=alice,O=ops`): the common name is one of its parts.
    let subject = cert.tbs_certificate.subject.to_string();
    let cn = subject
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .map(|name| name.replace('\\', ""));
    match cn {
        Some(name) if !name.trim().is_empty() => Ok(Some(name)),
        _ => Err(tonic::Status::unauthenticated(
            "the client certificate names nobody (no common name)",
        )),
    }
}

/// Equal bytes, in time that depends only on the lengths.
fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_eq_compares_whole_values() {
        assert!(constant_eq(b"abc", b"abc"));
        assert!(!constant_eq(b"abc", b"abd"));
        assert!(!constant_eq(b"abc", b"abcd"));
    }
}
