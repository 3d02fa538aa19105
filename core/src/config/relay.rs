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

/// `relay = "https://r1:7443"` or `relay = ["https://r1:7443", "https://r2:7443"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayUrls(pub Vec<String>);

impl Serialize for RelayUrls {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for RelayUrls {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a relay's address, or a list of them")]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(Self(match OneOrMany::deserialize(d)? {
            OneOrMany::One(u) => vec![u],
            OneOrMany::Many(us) => us,
        }))
    }
}

/// How a console reaches its environment's relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayClient {
    /// `https://host:port` (or `http://` for a plaintext relay a person set up so).
    pub url: String,
    /// The other relays of the configuration (they elect a leader; the console follows
    /// whichever leads).
    pub standby: Vec<String>,
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
        for url in std::iter::once(&self.url).chain(&self.standby) {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!(
                    "relay {url:?} is not an address the console can dial: give https://host:port"
                ));
            }
            if url.starts_with("http://") && self.tls.is_some() {
                return Err(format!(
                    "relay_tls is set but relay {url:?} is plain http://; give https://"
                ));
            }
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
    /// Relays of this configuration elect a leader on the environment's etcd; only the
    /// leader serves, the others keep their view warm and take over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elect: Option<Election>,
    /// The team's record: the name of a `postgres` source of the environment whose
    /// connection settings (its `dsn_env`, libpq's TLS and password files) reach the
    /// database that keeps the notes. Relays of one configuration name the same, so a
    /// new leader serves what the old one kept; each relay's SQLite is its cache. Without
    /// it, the relay's own SQLite is the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
}

/// A relay's part in the election of its configuration's relays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Election {
    /// The address consoles reach this relay at (`https://relay-a:7443`), told to them
    /// by the standby relays.
    pub advertise: String,
    /// The leader's lease: a leader that dies is replaced within this many seconds.
    #[serde(default = "default_ttl")]
    pub ttl_secs: i64,
}

const fn default_ttl() -> i64 {
    5
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
        if let Some(e) = &self.elect
            && !(2..=60).contains(&e.ttl_secs)
        {
            return Err(format!(
                "serve.elect.ttl_secs is {}: give 2 to 60 seconds",
                e.ttl_secs
            ));
        }
        if self.max_consoles == 0 {
            return Err("serve.max_consoles is 0: no console could connect".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, std::path::Path::new("t.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn one_relay_or_several_and_bad_ones_in_words() {
        let one =
            parse("[[environment]]\nname = \"p\"\nrelay = \"https://r1:7443/\"\n").expect("one");
        let c = one.environment[0].relay_client().expect("a relay");
        assert_eq!((c.url.as_str(), c.standby.len()), ("https://r1:7443", 0));
        let two = parse(
            "[[environment]]\nname = \"p\"\nrelay = [\"https://r1:7443\", \"https://r2:7443\"]\n",
        )
        .expect("two");
        let c = two.environment[0].relay_client().expect("relays");
        assert_eq!(c.standby, vec!["https://r2:7443".to_owned()]);
        let err =
            parse("[[environment]]\nname = \"p\"\nrelay = \"r1:7443\"\n").expect_err("no scheme");
        assert!(err.contains("give https://host:port"), "{err}");
        let err = parse("[[environment]]\nname = \"p\"\nrelay = 7443\n").expect_err("a number");
        assert!(
            err.contains("a relay's address, or a list of them"),
            "{err}"
        );
        let err = parse(
            "[[environment]]\nname = \"p\"\n[environment.serve]\nlisten = \"127.0.0.1:7443\"\nplaintext = true\n",
        )
        .expect_err("nobody admitted");
        assert!(err.contains("admits nobody"), "{err}");
    }

    #[test]
    fn the_team_record_is_a_postgres_source_of_the_environment() {
        let serve = "[environment.serve]\nlisten = \"127.0.0.1:7443\"\nplaintext = true\noperators = [\"a\"]\nrecord = \"team\"\n[[environment.serve.token]]\nname = \"a\"\ntoken_env = \"T\"\n";
        let ok = parse(&format!(
            "[[environment]]\nname = \"p\"\n[[environment.source]]\nkind = \"postgres\"\nname = \"team\"\ndsn_env = \"TEAM_DSN\"\n{serve}"
        ))
        .expect("a postgres source");
        let s = ok.environment[0].serve.as_ref().expect("serve");
        assert_eq!(s.record.as_deref(), Some("team"));
        let err = parse(&format!(
            "[[environment]]\nname = \"p\"\n[[environment.source]]\nkind = \"etcd\"\nname = \"team\"\nendpoints = [\"127.0.0.1:2379\"]\n{serve}"
        ))
        .expect_err("not postgres");
        assert!(err.contains("names no postgres source"), "{err}");
    }
}
