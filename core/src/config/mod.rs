//! TOML configuration: environments and their sources.
//!
//! ```toml
//! [[environment]]
//! name = "lab"
//! [[environment.source]]
//! kind = "etcd"
//! name = "control-plane"
//! endpoints = ["http://127.0.0.1:12379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"]
//! ```
//!
//! The file lives in the platform config directory (`config.toml`), and `--config`
//! overrides it. Without a file, the `ETCDCTL_ENDPOINTS` convention gives one etcd
//! source; without that, the console opens the drill.
//!
//! Secrets are only ever referenced by the name of an environment variable
//! (`password_env = "ETCD_PASSWORD"`), never stored, so a config can be written into a
//! session file or shown on screen as it is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sources::consul::ConsulConfig;
use crate::sources::drill::DrillConfig;
use crate::sources::etcd::EtcdConfig;
use crate::sources::postgres::PostgresConfig;

mod objectives;
mod relay;
mod workflow;

pub use self::objectives::Objectives;
pub use self::relay::{Election, RelayClient, RelayUrls, ServeConfig, TokenConfig};
pub use self::workflow::{Ec2Fence, ExperimentConfig, FenceDevice, RunbookConfig};

/// Errors loading a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config: {source} ({path})")]
    Io {
        /// The underlying error.
        source: std::io::Error,
        /// The file.
        path: PathBuf,
    },
    /// The TOML is malformed or does not fit the schema.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The TOML parses but makes no sense (duplicate names, no endpoints...).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Environments (lab, staging, production...).
    #[serde(default)]
    pub environment: Vec<Environment>,
}

/// One environment and what the console watches in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Name shown on screen.
    pub name: String,
    /// No action may change anything in it.
    #[serde(default)]
    pub read_only: bool,
    /// Every workflow here needs a second person's approval, recorded by name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub second_approver: bool,
    /// A source is stale when it sends nothing for this long, in milliseconds.
    #[serde(default = "default_stale")]
    pub stale_after_millis: u64,
    /// Its sources.
    #[serde(default)]
    pub source: Vec<SourceConfig>,
    /// Fence devices of its nodes (run by the fence workflows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fence: Vec<FenceDevice>,
    /// Runbooks enabled here, with their variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runbook: Vec<RunbookConfig>,
    /// Experiments (game days) enabled here, with their variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiment: Vec<ExperimentConfig>,
    /// RTO, RPO and the cost estimate's figures its incidents are measured against.
    #[serde(default, skip_serializing_if = "Objectives::is_empty")]
    pub objectives: Objectives,
    /// How the window marks it: production gets a frame all around the window.
    #[serde(default, skip_serializing_if = "Look::is_default")]
    pub look: Look,
    /// The relay this environment's consoles follow (`https://host:7443`) instead of
    /// polling production themselves; a list for relays that elect a leader (the
    /// consoles follow whichever leads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<RelayUrls>,
    /// How a console reaches the relay: its CA, the person's client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_tls: Option<crate::sources::TlsSettings>,
    /// A bearer token for the relay (`token_env` or `token_file`), for a console
    /// without a client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_auth: Option<crate::sources::AuthSettings>,
    /// While the relay is lost, poll the sources directly (off by default: twenty
    /// consoles falling back at once are the storm the relay exists to prevent).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fallback_direct: bool,
    /// What `switchboard serve` does for this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<ServeConfig>,
}

impl Environment {
    /// An environment named `name` watching `source`, with every other setting at its
    /// default (as a config file that gives only those would have it).
    pub fn new(name: impl Into<String>, source: Vec<SourceConfig>) -> Self {
        Self {
            name: name.into(),
            read_only: false,
            second_approver: false,
            stale_after_millis: default_stale(),
            source,
            fence: Vec::new(),
            runbook: Vec::new(),
            experiment: Vec::new(),
            objectives: Objectives::default(),
            look: Look::default(),
            relay: None,
            relay_tls: None,
            relay_auth: None,
            fallback_direct: false,
            serve: None,
        }
    }

    /// How its consoles reach its relay, when it has one.
    pub fn relay_client(&self) -> Option<RelayClient> {
        let mut urls = self
            .relay
            .as_ref()?
            .0
            .iter()
            .map(|u| u.trim_end_matches('/').to_owned());
        let url = urls.next()?;
        Some(RelayClient {
            url,
            standby: urls.collect(),
            tls: self.relay_tls.clone(),
            auth: self.relay_auth.clone(),
            fallback_direct: self.fallback_direct,
        })
    }
}

/// How the window marks an environment, so nobody mistakes production for a lab.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Look {
    /// A production environment: a frame around the whole window and the word
    /// PRODUCTION beside its name.
    #[serde(default)]
    pub production: bool,
    /// Its colour (`#rrggbb`), for the frame and the name; the palette's red-orange
    /// for production when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

impl Look {
    /// Nothing set.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The colour as RGB, when it parses.
    pub fn rgb(&self) -> Option<(u8, u8, u8)> {
        let hex = self.color.as_deref()?.strip_prefix('#')?;
        if hex.len() != 6 {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        Some((byte(0)?, byte(2)?, byte(4)?))
    }
}

/// The most a config file may hold: a large one, with a hundred sources and their
/// runbooks' variables, is tens of kilobytes; more is the wrong file.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

const fn default_stale() -> u64 {
    5000
}

/// Generates [`SourceConfig`] from the sources table (`sources/table.rs`).
macro_rules! source_config {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $name:literal, $module:ident :: $config:ident,
        poll: { $($field:ident : $unit:ident)? },
        feeds: { $($pane:ident : $feed:ident),* },
        example: $example:literal
        $(, start: $start:path)?;
    )*) => {
        /// One source: `kind = "…"` picks the line of the sources table, the other keys
        /// are that kind's config.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum SourceConfig {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $name)]
                $variant(crate::sources::$module::$config),
            )*
        }

        impl SourceConfig {
            /// Polls no more often than every `min` (a wall display: many walls polling a
            /// production control plane four times a second each is load nobody asked
            /// for). Sources that stream (Kubernetes watches, the drill) are unchanged.
            /// Keep `min` well under the environment's `stale_after_millis` (the wall
            /// uses a third of it at most), or a healthy source turns stale between two
            /// polls.
            pub fn poll_at_most_every(&mut self, min: Duration) {
                let millis = u64::try_from(min.as_millis()).unwrap_or(u64::MAX);
                let secs = min.as_secs_f64();
                match self {
                    $(
                        // A streaming kind has no interval and leaves `c` unused.
                        #[allow(unused_variables)]
                        Self::$variant(c) => {
                            $(c.$field = c.$field.max(poll_floor!($unit, millis, secs));)?
                        }
                    )*
                }
            }

            /// The kind of system it observes.
            pub const fn kind(&self) -> crate::model::SourceKind {
                match self {
                    $(Self::$variant(_) => crate::model::SourceKind::$variant,)*
                }
            }

            /// Checks what the schema cannot, as the kind's [`crate::sources::Settings`]
            /// says, and, for a source that reaches its target over HTTP, its `tls`,
            /// `auth` and `proxy` ([`crate::sources::check_reach`]).
            pub fn validate(&self) -> Result<(), String> {
                match self {
                    $(Self::$variant(c) => {
                        crate::sources::Settings::validate(c)?;
                        crate::sources::Settings::reach(c)
                            .map_or(Ok(()), |r| crate::sources::check_reach(&r))
                            .map_err(|e| format!("{} source {:?}: {e}", $name, c.name))
                    })*
                }
            }

            /// The source's name.
            pub fn name(&self) -> &str {
                match self {
                    $(Self::$variant(c) => &c.name,)*
                }
            }

            /// A minimal config of `kind` named `name`, reaching for `addr` (`host:port`)
            /// where it reaches anything: the table's example, parsed.
            #[cfg(test)]
            pub(crate) fn example(
                kind: crate::model::SourceKind,
                name: &str,
                addr: &str,
            ) -> Result<Self, String> {
                let fields = match kind {
                    $(crate::model::SourceKind::$variant => $example,)*
                    crate::model::SourceKind::Engine => {
                        return Err("the engine is not a configured source".to_owned());
                    }
                };
                let text = format!(
                    "kind = {:?}\nname = {name:?}\n{}\n",
                    kind.as_str(),
                    fields.replace("{addr}", addr)
                );
                toml::from_str(&text).map_err(|e| format!("{e} in\n{text}"))
            }
        }
    };
}

/// The value a polling interval is raised to, in the field's unit.
macro_rules! poll_floor {
    (millis, $millis:ident, $secs:ident) => {
        $millis
    };
    (secs, $millis:ident, $secs:ident) => {
        $secs
    };
}

crate::source_table!(source_config);

impl Config {
    /// The default config file: `<platform config dir>/config.toml`.
    pub fn default_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("org", "switchboard", "switchboard")
            .map(|d| d.config_dir().join("config.toml"))
    }

    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = crate::sources::read_text_bounded(path, MAX_CONFIG_BYTES).map_err(|source| {
            ConfigError::Io {
                source,
                path: path.to_owned(),
            }
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates `text`; `path` is used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_col(text, offset);
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: clipped(e.message().trim()),
            }
        })?;
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message: clipped(&message),
        })?;
        Ok(cfg)
    }

    /// Checks what the schema cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.environment.is_empty() {
            return Err("no [[environment]] defined".to_owned());
        }
        let mut names = std::collections::BTreeSet::new();
        for env in &self.environment {
            if env.name.trim().is_empty() {
                return Err("an environment has an empty name".to_owned());
            }
            if !names.insert(env.name.as_str()) {
                return Err(format!("environment {:?} is defined twice", env.name));
            }
            let mut sources = std::collections::BTreeSet::new();
            for s in &env.source {
                if !sources.insert(s.name()) {
                    return Err(format!(
                        "source {:?} is defined twice in environment {:?}",
                        s.name(),
                        env.name
                    ));
                }
                s.validate()?;
            }
            for f in &env.fence {
                f.validate()?;
            }
            if let Some(r) = env.relay_client() {
                r.validate()
                    .map_err(|e| format!("environment {:?}: {e}", env.name))?;
            }
            if let Some(serve) = &env.serve {
                serve
                    .validate()
                    .map_err(|e| format!("environment {:?}: {e}", env.name))?;
                if let Some(record) = &serve.record
                    && !env
                        .source
                        .iter()
                        .any(|s| matches!(s, SourceConfig::Postgres(p) if &p.name == record))
                {
                    return Err(format!(
                        "environment {:?}: serve.record {record:?} names no postgres source of the environment (the team's record is reached through one)",
                        env.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// The sources an engineer's shell already names, from the process's environment
    /// (see [`Config::from_cli_vars`]).
    pub fn from_cli_env() -> Option<Self> {
        Self::from_cli_vars(|name| std::env::var(name).ok())
    }

    /// With no config file, the sources the systems' own CLIs would reach from the
    /// variables `var` reads, in one environment `local`: an etcd source as etcdctl
    /// (`ETCDCTL_ENDPOINTS`...), a Consul source as consul (`CONSUL_HTTP_ADDR`, and its
    /// TLS and token variables when it connects), a PostgreSQL source as psql
    /// (`PGSERVICE` or `PGHOST`, and the rest of libpq's variables and files when it
    /// connects). `None` when none is set.
    pub fn from_cli_vars(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut sources = Vec::new();
        if let Some(etcd) = Self::etcd_from_vars(&set) {
            sources.push(SourceConfig::Etcd(etcd));
        }
        if set("CONSUL_HTTP_ADDR").is_some() {
            sources.push(SourceConfig::Consul(ConsulConfig::from_vars("consul")));
        }
        if set("PGSERVICE").is_some() || set("PGHOST").is_some() {
            sources.push(SourceConfig::Postgres(PostgresConfig::from_libpq_env(
                "postgres",
            )));
        }
        (!sources.is_empty()).then(|| Self {
            environment: vec![Environment::new("local", sources)],
        })
    }

    /// One etcd source from etcdctl's variables as `set` reads them: `ETCDCTL_ENDPOINTS`,
    /// `ETCDCTL_CACERT`, `ETCDCTL_CERT`, `ETCDCTL_KEY` (files, as etcdctl takes them),
    /// `ETCDCTL_USER` (`user:password`, read by name when connecting, never copied) and
    /// `ETCDCTL_INSECURE_SKIP_TLS_VERIFY`. As etcdctl does, bare `host:port` endpoints
    /// speak TLS when a TLS variable is set.
    fn etcd_from_vars(set: &impl Fn(&str) -> Option<String>) -> Option<EtcdConfig> {
        let tls = crate::sources::TlsSettings {
            ca_file: set("ETCDCTL_CACERT"),
            cert_file: set("ETCDCTL_CERT"),
            key_file: set("ETCDCTL_KEY"),
            server_name: None,
            insecure_skip_verify: set("ETCDCTL_INSECURE_SKIP_TLS_VERIFY")
                .is_some_and(|v| v.trim() == "true"),
        };
        let with_tls = tls != crate::sources::TlsSettings::default();
        let endpoints: Vec<String> = set("ETCDCTL_ENDPOINTS")?
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| {
                if with_tls && !e.contains("://") {
                    format!("https://{e}")
                } else {
                    e.to_owned()
                }
            })
            .collect();
        if endpoints.is_empty() {
            return None;
        }
        let https = endpoints.iter().any(|e| e.starts_with("https://"));
        let mut etcd = EtcdConfig::new("etcd", endpoints);
        etcd.tls = (with_tls || https).then_some(tls);
        etcd.user_env = set("ETCDCTL_USER").map(|_| "ETCDCTL_USER".to_owned());
        Some(etcd)
    }

    /// The drill alone.
    pub fn drill(drill: DrillConfig) -> Self {
        Self {
            environment: vec![Environment {
                experiment: Vec::new(),
                // Figures to practise with (domain.md §10's example), marked in the
                // export as an estimate like any other.
                objectives: Objectives {
                    rto_secs: Some(15 * 60),
                    rpo_secs: Some(60),
                    tx_per_sec: Some(250.0),
                    tx_value: Some(75.0),
                    currency: None,
                },
                // The shipped runbooks, bound to the drill's fleet: the Sev-0 one to
                // practise on its connection-leak fault, the region failover on its
                // database and public name.
                runbook: vec![
                    RunbookConfig {
                        name: "sev0-connection-leak".into(),
                        file: None,
                        vars: [
                            ("route", "edge-gateway/checkout"),
                            ("database", "orders-db"),
                            ("deployment", "checkout"),
                            ("readiness", "drill://checkout"),
                        ]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                    },
                    RunbookConfig {
                        name: "region-failover".into(),
                        file: None,
                        vars: [
                            ("dcs", "drill-etcd"),
                            ("old_primary", "pg-1"),
                            ("database", "orders-db"),
                            ("candidate", "pg-2"),
                            ("public_name", "drill/www"),
                            ("readiness", "drill://checkout"),
                        ]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                    },
                ],
                ..Environment::new("drill", vec![SourceConfig::Drill(drill)])
            }],
        }
    }

    /// The configuration as TOML (it holds no secrets, only variable names).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

/// At most 300 characters of a message that quotes the file (an unknown key, a name),
/// with an ellipsis when some were left out: a 40 kB key is named, not printed.
fn clipped(message: &str) -> String {
    const MAX_CHARS: usize = 300;
    let mut out: String = message.chars().take(MAX_CHARS).collect();
    if out.len() < message.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: an unknown key was quoted whole in the error, 40 kB of it.
    #[test]
    fn a_huge_unknown_key_is_named_not_printed() {
        let text = format!(
            "[[environment]]\nname = \"a\"\n{} = 1\n",
            "k".repeat(40_000)
        );
        let err = Config::parse(&text, Path::new("c.toml"))
            .expect_err("refused")
            .to_string();
        assert!(
            err.starts_with("c.toml:3:1: unknown field `kkk"),
            "{err:.100}"
        );
        assert!(err.contains('…'), "{err:.100}");
        assert!(err.chars().count() < 400, "{} chars", err.chars().count());
    }

    const GOOD: &str = r#"
[[environment]]
name = "lab"
[[environment.source]]
kind = "etcd"
name = "control-plane"
endpoints = ["http://127.0.0.1:12379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"]
password_env = "ETCD_PASSWORD"
username_env = "ETCD_USER"
"#;

    #[test]
    fn parses_the_documented_shape() {
        let cfg = Config::parse(GOOD, Path::new("c.toml")).expect("parse");
        let SourceConfig::Etcd(etcd) = &cfg.environment[0].source[0] else {
            panic!("etcd")
        };
        assert_eq!(etcd.endpoints.len(), 3);
        assert_eq!(etcd.poll_interval_millis, 250);
        assert_eq!(cfg.environment[0].stale_after_millis, 5000);
        let round = Config::parse(&cfg.to_toml(), Path::new("r.toml")).expect("round trip");
        assert_eq!(round, cfg);
    }

    #[test]
    fn a_wall_polls_at_most_once_a_second_and_slower_polls_stay() {
        let text = format!(
            "{GOOD}[[environment.source]]\nkind = \"prometheus\"\nname = \"p\"\nurl = \"http://127.0.0.1:9090\"\n"
        );
        let mut cfg = Config::parse(&text, Path::new("c.toml")).expect("parse");
        for s in &mut cfg.environment[0].source {
            s.poll_at_most_every(Duration::from_secs(1));
        }
        let [SourceConfig::Etcd(etcd), SourceConfig::Prometheus(prom)] =
            cfg.environment[0].source.as_slice()
        else {
            panic!("etcd and prometheus")
        };
        assert_eq!(etcd.poll_interval_millis, 1000, "4 Hz becomes 1 Hz");
        assert!(
            (prom.interval_secs - 5.0).abs() < 1e-9,
            "a slower poll stays as it is"
        );
    }

    /// Bad configs name the file, the line and the problem.
    #[test]
    fn errors_name_file_line_and_problem() {
        let cases = [
            (
                "[[environment]]\nname = \"lab\"\n[[environment.source]]\nkind = \"etcd\"\nname = \"x\"\nendpoint = [\"a\"]\n",
                "c.toml:",
                "endpoint",
            ),
            ("[[environment]]\nname = lab\n", "c.toml:2:", "string"),
            (
                "[[environment]]\nname = \"a\"\n[[environment.source]]\nkind = \"zookeeper\"\nname = \"z\"\n",
                "c.toml:",
                "zookeeper",
            ),
            (
                "[[environment]]\nname = \"a\"\n[[environment]]\nname = \"a\"\n",
                "c.toml",
                "defined twice",
            ),
            (
                "[[environment]]\nname = \"a\"\n[[environment.source]]\nkind = \"etcd\"\nname = \"e\"\nendpoints = []\n",
                "c.toml",
                "no endpoints",
            ),
            ("", "c.toml", "no [[environment]]"),
        ];
        for (text, loc, problem) in cases {
            let err = Config::parse(text, Path::new("c.toml"))
                .expect_err(text)
                .to_string();
            assert!(err.starts_with(loc), "{err:?} should start with {loc:?}");
            assert!(err.contains(problem), "{err:?} should mention {problem:?}");
        }
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let err = Config::load(Path::new("/nonexistent/switchboard.toml"))
            .expect_err("missing")
            .to_string();
        assert!(err.contains("/nonexistent/switchboard.toml"), "{err}");
    }

    /// etcdctl's variables alone make a TLS source with the same files and the user by
    /// reference; its password never lands in the configuration.
    #[test]
    fn etcdctl_variables_alone_give_a_tls_source() {
        let vars = |name: &str| {
            match name {
                "ETCDCTL_ENDPOINTS" => Some("10.0.0.1:2379, https://10.0.0.2:2379"),
                "ETCDCTL_CACERT" => Some("/etc/etcd/ca.pem"),
                "ETCDCTL_CERT" => Some("/etc/etcd/client.pem"),
                "ETCDCTL_KEY" => Some("/etc/etcd/client-key.pem"),
                "ETCDCTL_USER" => Some("root:s3cret"),
                _ => None,
            }
            .map(str::to_owned)
        };
        let cfg = Config::from_cli_vars(vars).expect("a config");
        let SourceConfig::Etcd(etcd) = &cfg.environment[0].source[0] else {
            panic!("etcd")
        };
        assert_eq!(
            etcd.endpoints,
            ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
        );
        let tls = etcd.tls.as_ref().expect("tls");
        assert_eq!(tls.ca_file.as_deref(), Some("/etc/etcd/ca.pem"));
        assert_eq!(tls.key_file.as_deref(), Some("/etc/etcd/client-key.pem"));
        assert_eq!(etcd.user_env.as_deref(), Some("ETCDCTL_USER"));
        assert!(!cfg.to_toml().contains("s3cret"), "{}", cfg.to_toml());
        let plain = Config::from_cli_vars(|n| {
            (n == "ETCDCTL_ENDPOINTS").then(|| "127.0.0.1:2379".to_owned())
        })
        .expect("plain");
        let SourceConfig::Etcd(etcd) = &plain.environment[0].source[0] else {
            panic!("etcd")
        };
        assert_eq!(etcd.endpoints, ["127.0.0.1:2379"]);
        assert!(etcd.tls.is_none());
        assert!(Config::from_cli_vars(|_| None).is_none());
    }

    #[test]
    fn consul_and_libpq_variables_alone_give_their_sources() {
        let cfg = Config::from_cli_vars(|n| match n {
            "CONSUL_HTTP_ADDR" => Some("https://consul.internal:8501".to_owned()),
            "PGSERVICE" => Some("orders".to_owned()),
            _ => None,
        })
        .expect("a config");
        let kinds: Vec<&str> = cfg.environment[0]
            .source
            .iter()
            .map(|s| s.kind().as_str())
            .collect();
        assert_eq!(kinds, ["consul", "postgres"]);
        let SourceConfig::Postgres(pg) = &cfg.environment[0].source[1] else {
            panic!("postgres")
        };
        assert_eq!(pg.dsn_env, None, "libpq's environment alone");
        cfg.validate().expect("valid");
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
