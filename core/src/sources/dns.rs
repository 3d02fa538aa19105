//! DNS: where the public names of a zone point, asked of each authoritative server of
//! the zone directly (the primary first), with the zone's SOA serial on each. Servers
//! that disagree (a secondary that missed the last change) put the source down with
//! their names, since what a resolver answers then depends on which server it asked.
//!
//! ```toml
//! [[environment.source]]
//! kind = "dns"
//! name = "public-dns"
//! zone = "example.com"
//! servers = ["10.0.0.53:53", "10.0.1.53:53"]   # authoritative; the first is the primary
//! tsig = { key_name = "switchboard-key", secret_file = "/etc/switchboard/tsig.secret" }
//! [[environment.source.record]]
//! name = "www"
//! type = "CNAME"
//! primary = "eu-west.example.com"
//! standby = "eu-central.example.com"
//! standby_check = "https://eu-central.example.com/ready"
//! ```
//!
//! The TSIG secret is referenced by a file or an environment variable's name, never
//! written in the configuration; only the `dns-failover` / `dns-restore` workflows read
//! it.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::poll::{Pace, Poll, Polled, Report, drive};
use super::{Backoff, Emitter};
use crate::dns;

/// A DNS zone's watched records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// Source name.
    pub name: String,
    /// The zone (`example.com`).
    pub zone: String,
    /// The zone's authoritative servers, `host:port` (port 53 when left out); the
    /// first is the primary, where updates go.
    pub servers: Vec<String>,
    /// The records watched, and where a failover sends each.
    #[serde(default, rename = "record")]
    pub records: Vec<DnsRecord>,
    /// The key dynamic updates are signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig: Option<TsigRef>,
    /// Poll interval, in milliseconds.
    #[serde(default = "default_interval")]
    pub interval_millis: u64,
    /// Bound on each question, in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_millis: u64,
}

/// One watched record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRecord {
    /// Its name in the zone (`www`), or fully written (`www.example.com`).
    pub name: String,
    /// `CNAME` (the default), `A` or `AAAA`.
    #[serde(default = "default_type", rename = "type")]
    pub rtype: String,
    /// Its normal value (`dns-restore` goes back to it): a name, or addresses
    /// separated by commas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// Its standby value (`dns-failover` goes to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<String>,
    /// The TTL a failover or restore writes, in seconds (short, so clients follow).
    #[serde(default = "default_ttl")]
    pub ttl_secs: u32,
    /// A URL that must answer 2xx before a failover sends traffic to the standby.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_check: Option<String>,
}

/// A TSIG key by reference: its secret is read from a file or an environment variable
/// when an update is signed, never stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsigRef {
    /// The key's name as the server knows it.
    pub key_name: String,
    /// `hmac-sha256` (the default), `hmac-sha384` or `hmac-sha512`.
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// A file holding the base64 secret (as `tsig-keygen` prints it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<String>,
    /// Or the name of an environment variable holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
}

/// Under the default staleness limit (5 s) with room to spare: a source polled as
/// slowly as it may go quiet looks stale between two polls.
const fn default_interval() -> u64 {
    2000
}

const fn default_timeout() -> u64 {
    1000
}

const fn default_ttl() -> u32 {
    15
}

fn default_type() -> String {
    "CNAME".to_owned()
}

fn default_algorithm() -> String {
    "hmac-sha256".to_owned()
}

impl crate::sources::Settings for DnsConfig {
    fn validate(&self) -> Result<(), String> {
        if self.servers.is_empty() {
            return Err(format!("dns source {:?} has no servers", self.name));
        }
        self.server_addrs().map(|_| ())?;
        for r in &self.records {
            crate::dns::record_type(&r.rtype)
                .map_err(|e| format!("dns source {:?}, record {}: {e}", self.name, r.name))?;
        }
        Ok(())
    }
}

/// The most a secret file may hold: a key is tens of bytes.
const MAX_SECRET_BYTES: u64 = 4096;

impl DnsConfig {
    /// `name` fully written in the zone (`www` -> `www.example.com`).
    pub fn fqdn(&self, name: &str) -> String {
        let zone = self.zone.trim_end_matches('.');
        let name = name.trim_end_matches('.');
        if name == zone || name.ends_with(&format!(".{zone}")) {
            name.to_owned()
        } else {
            format!("{name}.{zone}")
        }
    }

    /// The watched record named `name` (short or fully written).
    pub fn record(&self, name: &str) -> Option<&DnsRecord> {
        let want = self.fqdn(name);
        self.records.iter().find(|r| self.fqdn(&r.name) == want)
    }

    /// The servers as socket addresses (port 53 when not given).
    pub fn server_addrs(&self) -> Result<Vec<SocketAddr>, String> {
        self.servers
            .iter()
            .map(|s| {
                s.parse::<SocketAddr>()
                    .or_else(|_| format!("{s}:53").parse())
                    .map_err(|_| format!("dns source {}: server {s:?} is not ip:port", self.name))
            })
            .collect()
    }

    /// The TSIG key, its secret read now from where the configuration points.
    pub fn tsig_key(&self) -> Result<dns::TsigKey, String> {
        let t = self.tsig.as_ref().ok_or_else(|| {
            format!(
                "dns source {} has no `tsig` key: dynamic updates must be signed",
                self.name
            )
        })?;
        let secret = match (&t.secret_file, &t.secret_env) {
            (Some(path), _) => String::from_utf8(crate::sources::read_small(
                path,
                MAX_SECRET_BYTES,
                "TSIG secret file (tsig.secret_file)",
            )?)
            .map_err(|_| format!("the TSIG secret file is not text ({path})"))?,
            (None, Some(var)) => std::env::var(var).map_err(|_| {
                format!("the environment variable {var} (tsig secret_env) is not set")
            })?,
            (None, None) => {
                return Err(format!(
                    "dns source {}: the tsig key needs `secret_file` or `secret_env`",
                    self.name
                ));
            }
        };
        dns::TsigKey::from_base64(&t.key_name, &t.algorithm, &secret)
    }
}

/// One poll's answers: per record, per server; and each server's SOA serial.
struct Read {
    records: Vec<(String, Vec<dns::ServerAnswer>)>,
    serials: Vec<(SocketAddr, Result<u32, String>)>,
}

struct Zone {
    cfg: DnsConfig,
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl Poll for Zone {
    type Answer = Read;

    async fn fetch(&mut self) -> Result<Read, String> {
        let zone = dns::name(&self.cfg.zone)?;
        let mut serials = Vec::new();
        for s in &self.servers {
            serials.push((*s, dns::serial(*s, &zone, self.timeout).await));
        }
        if serials.iter().all(|(_, r)| r.is_err()) {
            let why: Vec<String> = serials.into_iter().filter_map(|(_, r)| r.err()).collect();
            return Err(why.join("; "));
        }
        let mut records = Vec::new();
        for r in &self.cfg.records {
            let fqdn = self.cfg.fqdn(&r.name);
            let name = dns::name(&fqdn)?;
            let rtype = dns::record_type(&r.rtype)?;
            let mut per = Vec::new();
            for s in &self.servers {
                per.push((*s, dns::ask(*s, &name, rtype, self.timeout).await));
            }
            records.push((fqdn, per));
        }
        Ok(Read { records, serials })
    }

    fn translate(&self, read: Read) -> Polled {
        let mut problems = Vec::new();
        let serials: Vec<String> = read
            .serials
            .iter()
            .map(|(s, r)| match r {
                Ok(n) => format!("{s} serial {n}"),
                Err(e) => {
                    problems.push(e.clone());
                    format!("{s} unreachable")
                }
            })
            .collect();
        let distinct: std::collections::BTreeSet<u32> = read
            .serials
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok().copied())
            .collect();
        if distinct.len() > 1 {
            problems.push(format!(
                "the servers' SOA serials differ ({})",
                serials.join(", ")
            ));
        }
        let mut lines = Vec::new();
        for (fqdn, per) in &read.records {
            let answers: std::collections::BTreeSet<String> = per
                .iter()
                .map(|(_, r)| match r {
                    Ok(Some(a)) => format!("{} (TTL {} s)", dns::describe(a), a.ttl_secs),
                    Ok(None) => "no record".to_owned(),
                    Err(_) => "unreachable".to_owned(),
                })
                .collect();
            if answers.len() > 1 {
                problems.push(format!(
                    "{fqdn}: the servers disagree: {}",
                    per.iter()
                        .map(|(s, r)| format!(
                            "{s} {}",
                            match r {
                                Ok(Some(a)) => dns::describe(a),
                                Ok(None) => "no record".to_owned(),
                                Err(e) => e.clone(),
                            }
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            lines.push(format!(
                "{fqdn} -> {}",
                answers.into_iter().collect::<Vec<_>>().join(" | ")
            ));
        }
        lines.push(serials.join(", "));
        Polled {
            detail: lines.join("; "),
            down: (!problems.is_empty()).then(|| problems.join("; ")),
            ..Polled::default()
        }
    }
}

/// Watches the zone's records on every authoritative server until the engine stops.
pub async fn run(cfg: DnsConfig, emitter: Emitter) {
    let servers = match cfg.server_addrs() {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => {
            emitter
                .status(
                    crate::model::SourceStatus::Down,
                    Some(format!("dns source {} lists no server", cfg.name)),
                )
                .await;
            return;
        }
        Err(e) => {
            emitter
                .status(crate::model::SourceStatus::Down, Some(e))
                .await;
            return;
        }
    };
    let pace = Pace {
        interval: Duration::from_millis(cfg.interval_millis.max(100)),
        bound: None,
        backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(10), 0xd5),
        report: Report::Changes {
            full_every: None,
            detail_follows: true,
        },
    };
    let timeout = Duration::from_millis(cfg.timeout_millis.max(10));
    drive(
        Zone {
            cfg,
            servers,
            timeout,
        },
        pace,
        &emitter,
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> DnsConfig {
        toml::from_str(
            r#"
name = "public"
zone = "example.test."
servers = ["127.0.0.1:5301", "127.0.0.2"]
[[record]]
name = "www"
primary = "eu-west.example.test"
standby = "eu-central.example.test"
"#,
        )
        .expect("config")
    }

    #[test]
    fn names_servers_and_secrets_are_read_as_an_operator_writes_them() {
        let c = cfg();
        assert_eq!(c.fqdn("www"), "www.example.test");
        assert_eq!(c.fqdn("www.example.test."), "www.example.test");
        assert!(c.record("www.example.test").is_some());
        assert_eq!(c.records[0].rtype, "CNAME");
        assert_eq!(c.records[0].ttl_secs, 15);
        assert_eq!(
            c.server_addrs().expect("addrs"),
            [
                "127.0.0.1:5301".parse().expect("a"),
                "127.0.0.2:53".parse().expect("b")
            ]
        );
        assert!(c.tsig_key().expect_err("no key").contains("must be signed"));
    }
}
