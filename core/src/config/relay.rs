//! The relay in the configuration: how an environment's consoles reach their relay
//! ([`RelayClient`], the `relay*` fields of `[[environment]]`) and what
//! `switchboard serve` does for it ([`ServeConfig`], `[environment.serve]`).
//!
//! ```toml
//! [[environment]]
//! name = "prod"
//! relay = "https://relay.example.net:7443"
//! relay_tls = { ca_file = "/etc/switchboard/ca.pem", cert_file = "~/.switchboard/me.pem", key_file = "~/.switchboard/me-key.pem" }
//! fallback_direct = false
//!
//! [environment.serve]
//! listen = "0.0.0.0:7443"
//! cert_file = "/etc/switchboard/relay.pem"
//! key_file = "/etc/switchboard/relay-key.pem"
//! client_ca_file = "/etc/switchboard/ca.pem"
//! operators = ["alice", "bob"]
//! [[environment.serve.token]]
//! name = "wall-ops-room"
//! token_file = "/etc/switchboard/wall.token"
//! ```
//!
//! Secrets (keys, tokens) are named by path or environment variable, never written here.

use serde::{Deserialize, Serialize};

use crate::sources::{AuthSettings, TlsSettings};

/// How a console reaches its environment's relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayClient {
    /// `https://host:port` (or `http://` for a plaintext relay a person set up so).
    pub url: String,
    /// What to trust and the person's client certificate.
    pub tls: Option<TlsSettings>,
    /// A bearer token (`token_env` / `token_file`) for a console without a certificate.
    pub auth: Option<AuthSettings>,
    /// Poll the sources directly while the relay is lost.
    pub fallback_direct: bool,
}

impl RelayClient {
    /// Checks what the schema cannot: a URL the console can dial, bearer auth only.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return Err(format!(
                "relay {:?} is not an address the console can dial: give https://host:port",
                self.url
            ));
        }
        if self.url.starts_with("http://") && self.tls.is_some() {
            return Err(format!(
                "relay_tls is set but relay {:?} is plain http://; give https://",
                self.url
            ));
        }
        if let Some(a) = &self.auth
            && (a.username.is_some() || (a.token_env.is_none() && a.token_file.is_none()))
        {
            return Err(
                "relay_auth takes a token only (token_env or token_file); people are named by their certificate or their token"
                    .into(),
            );
        }
        Ok(())
    }
}

/// What `switchboard serve` does for an environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Where to listen (`host:port`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The relay's certificate (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// Its private key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// The CA people's client certificates chain to: every console must present one,
    /// and the certificate's common name is the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<String>,
    /// The people (certificate common names or token names) who may act; everyone
    /// else the relay admits is a viewer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operators: Vec<String>,
    /// Bearer tokens, for consoles (walls) without a client certificate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token: Vec<TokenConfig>,
    /// Serve without TLS. Only ever set by a person, explicitly; every console of the
    /// relay then says INSECURE.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plaintext: bool,
    /// The most consoles served at once; one more is refused in words.
    #[serde(default = "default_max_consoles")]
    pub max_consoles: usize,
}

fn default_listen() -> String {
    "0.0.0.0:7443".into()
}

const fn default_max_consoles() -> usize {
    256
}

/// One bearer token the relay admits, by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it (named in notes and the journal).
    pub name: String,
    /// The environment variable holding the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// The file holding the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
}

impl ServeConfig {
    /// Checks what the schema cannot: TLS whole, someone able to connect.
    pub fn validate(&self) -> Result<(), String> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "serve.listen {:?} is not host:port (an IP address and a port)",
                self.listen
            ));
        }
        match (&self.cert_file, &self.key_file, self.plaintext) {
            (Some(_), Some(_), false) | (None, None, true) => {}
            (_, _, true) => {
                return Err("serve.plaintext is set with a certificate: choose one".into());
            }
            _ => {
                return Err(
                    "serve needs its certificate and key (serve.cert_file and serve.key_file); plaintext only with serve.plaintext = true"
                        .into(),
                );
            }
        }
        if self.client_ca_file.is_some() && self.plaintext {
            return Err("serve.client_ca_file needs TLS (a certificate and key)".into());
        }
        if self.client_ca_file.is_none() && self.token.is_empty() {
            return Err(
                "serve admits nobody: give serve.client_ca_file (client certificates) or [[environment.serve.token]]"
                    .into(),
            );
        }
        for t in &self.token {
            if t.token_env.is_some() == t.token_file.is_some() {
                return Err(format!(
                    "serve token {:?} needs exactly one of token_env or token_file",
                    t.name
                ));
            }
        }
        if self.max_consoles == 0 {
            return Err("serve.max_consoles is 0: no console could connect".into());
        }
        Ok(())
    }
}
