//! DNS: where the public names of a zone point, asked of each authoritative server of
//! the zone directly (the primary first), with the zone's SOA serial on each, or, for a
//! Route53 hosted zone, read through the AWS API (`ListResourceRecordSets`) and from any
//! servers listed too. Each record is state (`dns_record`): its target, TTL, every
//! place's answer and serial, and the topology service the target is. Places that
//! disagree (a secondary that missed the last change) are a warning on the record,
//! since what a resolver answers then depends on which server it asked; the source is
//! down only when no place answers at all.
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
//! A Route53 zone instead of servers and a key (credentials as the AWS CLI finds them,
//! never in the configuration):
//!
//! ```toml
//! [[environment.source]]
//! kind = "dns"
//! name = "public-dns"
//! zone = "example.com"
//! route53 = { profile = "oncall" }   # the zone found by its name; or zone_id = "Z0…"
//! [[environment.source.record]]
//! name = "www"
//! primary = "eu-west.example.com"
//! standby = "eu-central.example.com"
//! primary_service = "edge-eu-west"      # the topology service each value is
//! standby_service = "edge-eu-central"
//! ```
//!
//! Route53 allows five API requests a second per account; each record is one request
//! a poll, so a zone with many watched records wants a longer `interval_millis`.
//!
//! The TSIG secret is referenced by a file or an environment variable's name, never
//! written in the configuration; only the `dns-failover` / `dns-restore` workflows read
//! it.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::poll::{Pace, Poll, Polled, Report, drive};
use super::{Backoff, Emitter};
use crate::dns::{self, Answer};
use crate::event::EventBody;
use crate::model::{DnsRead, DnsRecordView, ServiceId};
use crate::sources::aws::AwsRef;
use crate::sources::aws::call::Api;
use crate::sources::aws::route53::{self, RecordSet};

/// A DNS zone's watched records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// Source name.
    pub name: String,
    /// The zone (`example.com`).
    pub zone: String,
    /// The zone's authoritative servers, `host:port` (port 53 when left out); the
    /// first is the primary, where updates go. Optional for a Route53 zone.
    #[serde(default)]
    pub servers: Vec<String>,
    /// A Route53 hosted zone: records read and changed through the AWS API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route53: Option<Route53Zone>,
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
    /// What must answer 2xx before a failover sends traffic to the standby: a URL, or
    /// the name of an `http_probe` source (its URL, TLS and credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_check: Option<String>,
    /// The topology service the primary value is (the entry the name leads to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_service: Option<String>,
    /// The topology service the standby value is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_service: Option<String>,
}

/// A Route53 hosted zone, and how to reach AWS (each field optional: the zone is
/// found by the source's `zone` name, the rest as the AWS CLI finds it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route53Zone {
    /// The hosted zone's id (`Z0123456789ABCDEFGHIJ`): needed only when a public and a
    /// private zone share the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// The profile in `~/.aws/credentials` and `config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The region (Route53 is global; used for the profile's defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The API's base URL, for an emulator or a private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl Route53Zone {
    /// How to reach AWS.
    pub fn aws(&self) -> AwsRef {
        AwsRef {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
        }
    }

    /// The configured id without the API's `/hostedzone/` prefix.
    pub fn id(&self) -> Option<&str> {
        self.zone_id
            .as_deref()
            .map(|z| z.trim().trim_start_matches("/hostedzone/"))
    }
}

/// A Route53 zone reached: the API with credentials found, and the zone's id.
pub struct Route53 {
    /// The API.
    pub api: Api,
    /// The hosted zone's id.
    pub zone_id: String,
}

impl Route53 {
    /// The place's name in reports (`Route53 Z0123…`).
    pub fn label(&self) -> String {
        format!("Route53 {}", self.zone_id)
    }
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
        match &self.route53 {
            None if self.servers.is_empty() => {
                return Err(format!(
                    "dns source {:?} has no servers (or `route53` zone)",
                    self.name
                ));
            }
            Some(z) if z.id().is_some_and(str::is_empty) => {
                return Err(format!(
                    "dns source {:?}: route53 zone_id is empty",
                    self.name
                ));
            }
            Some(_) if self.tsig.is_some() => {
                return Err(format!(
                    "dns source {:?} has both `route53` and `tsig`: a Route53 zone is changed through the AWS API, not signed updates",
                    self.name
                ));
            }
            _ => {}
        }
        self.server_addrs().map(|_| ())?;
        for r in &self.records {
            crate::dns::record_type(&r.rtype)
                .map_err(|e| format!("dns source {:?}, record {}: {e}", self.name, r.name))?;
        }
        Ok(())
    }
}

/// `cfg`'s Route53 zone reached (`None`: not a Route53 zone): credentials found now,
/// the zone's id as configured, else `known` (found before), else looked up by name.
pub async fn route53_zone(
    cfg: &DnsConfig,
    known: Option<&str>,
    timeout: Duration,
) -> Option<Result<Route53, String>> {
    let zone = cfg.route53.as_ref()?;
    Some(
        async {
            let api = Api::route53(&zone.aws(), timeout)?;
            let zone_id = match zone.id().or(known) {
                Some(id) => id.to_owned(),
                None => route53::zone_id_by_name(&api, &cfg.zone).await?,
            };
            Ok(Route53 { api, zone_id })
        }
        .await,
    )
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

/// What every place answering for a record says now: Route53's API (a Route53 zone)
/// and each listed server.
pub struct RecordRead {
    /// The record type asked.
    pub rtype: String,
    /// Route53's record set exactly as it holds it (`None`: no such record), or why it
    /// could not be read; absent for a zone without `route53`.
    pub api: Option<(String, Result<Option<RecordSet>, String>)>,
    /// Each server's answer, in the configuration's order.
    pub servers: Vec<dns::ServerAnswer>,
}

/// Route53's record set as an answer (values canonical and sorted).
fn api_answer(set: &RecordSet) -> Answer {
    let rtype = dns::record_type(&set.rtype).ok();
    let mut values: Vec<String> = set
        .values
        .iter()
        .map(|v| {
            rtype
                .and_then(|t| dns::canonical(t, v).ok())
                .unwrap_or_else(|| v.clone())
        })
        .collect();
    values.sort();
    Answer {
        rtype: set.rtype.clone(),
        values,
        ttl_secs: set.ttl,
    }
}

impl RecordRead {
    /// Each place's answer with its name: `None` for no such record.
    fn places(&self) -> Vec<(String, Result<Option<Answer>, String>)> {
        let mut out = Vec::new();
        if let Some((label, r)) = &self.api {
            out.push((label.clone(), r.clone().map(|s| s.map(|s| api_answer(&s)))));
        }
        for (s, r) in &self.servers {
            out.push((s.to_string(), r.clone()));
        }
        out
    }

    /// The value every place answers, or why there is none (a place unreachable, a
    /// place without the record, places that disagree).
    pub fn agreed(&self) -> Result<Answer, String> {
        let mut seen: Option<(String, Answer)> = None;
        for (place, read) in self.places() {
            match read {
                Err(e) => return Err(e),
                Ok(None) => return Err(format!("{place} has no such record")),
                Ok(Some(a)) => match &seen {
                    Some((first, s)) if s.values != a.values || s.rtype != a.rtype => {
                        return Err(format!(
                            "the servers disagree: {} on {first}, {} on {place}",
                            dns::describe(s),
                            dns::describe(&a)
                        ));
                    }
                    Some(_) => {}
                    None => seen = Some((place, a)),
                },
            }
        }
        seen.map(|(_, a)| a)
            .ok_or_else(|| "the source lists no server".to_owned())
    }

    /// Whether every place answers `values`, and who does not, in words.
    pub fn lagging(&self, values: &[String]) -> Vec<String> {
        self.places()
            .into_iter()
            .filter(|(_, r)| !matches!(r, Ok(Some(a)) if a.values == values))
            .map(|(place, r)| match r {
                Ok(Some(a)) => format!("{place} still answers {}", dns::describe(&a)),
                Ok(None) => format!("{place} has no record"),
                Err(e) => e,
            })
            .collect()
    }

    /// The number of places asked.
    pub fn count(&self) -> usize {
        self.servers.len() + usize::from(self.api.is_some())
    }

    /// As the state keeps it: each place with its serial from `serials`.
    fn view(
        &self,
        cfg: &DnsConfig,
        rec: &DnsRecord,
        serials: &[(SocketAddr, Result<u32, String>)],
    ) -> DnsRecordView {
        let reads = self
            .places()
            .into_iter()
            .map(|(server, r)| {
                let serial = serials
                    .iter()
                    .find(|(s, _)| s.to_string() == server)
                    .and_then(|(_, r)| r.as_ref().ok().copied());
                match r {
                    Ok(a) => DnsRead {
                        server,
                        ttl_secs: a.as_ref().map(|a| a.ttl_secs),
                        values: a.map(|a| a.values).unwrap_or_default(),
                        serial,
                        error: None,
                    },
                    Err(e) => DnsRead {
                        server,
                        values: Vec::new(),
                        ttl_secs: None,
                        serial,
                        error: Some(e),
                    },
                }
            })
            .collect();
        let configured = |v: Option<&str>| {
            v.and_then(|v| {
                dns::record_type(&rec.rtype)
                    .ok()
                    .and_then(|t| dns::values(t, v).ok())
            })
            .unwrap_or_default()
        };
        let mut view = DnsRecordView {
            name: cfg.fqdn(&rec.name),
            zone: cfg.zone.trim_end_matches('.').to_owned(),
            rtype: rec.rtype.to_ascii_uppercase(),
            reads,
            primary: configured(rec.primary.as_deref()),
            standby: configured(rec.standby.as_deref()),
            service: None,
        };
        view.service = match view.side() {
            crate::model::DnsSide::Primary => rec.primary_service.as_deref(),
            crate::model::DnsSide::Standby => rec.standby_service.as_deref(),
            _ => None,
        }
        .map(ServiceId::new);
        view
    }
}

/// Reads `rec` from every place that answers for it: Route53's API through `api` (a
/// Route53 zone), and each listed server.
pub async fn read_record(
    cfg: &DnsConfig,
    rec: &DnsRecord,
    api: Option<&Result<Route53, String>>,
    timeout: Duration,
) -> Result<RecordRead, String> {
    let fqdn = cfg.fqdn(&rec.name);
    let name = dns::name(&fqdn)?;
    let rtype = dns::record_type(&rec.rtype)?;
    let label = || {
        cfg.route53.as_ref().map_or_else(String::new, |z| {
            format!("Route53 {}", z.id().unwrap_or(cfg.zone.as_str()))
        })
    };
    let api = match (&cfg.route53, api) {
        (Some(_), Some(Ok(r53))) => Some((
            r53.label(),
            route53::read(
                &r53.api,
                &r53.zone_id,
                &fqdn,
                &rec.rtype.to_ascii_uppercase(),
            )
            .await,
        )),
        (Some(_), Some(Err(e))) => Some((label(), Err(e.clone()))),
        (Some(_), None) => Some((label(), Err("no Route53 API".to_owned()))),
        (None, _) => None,
    };
    let mut servers = Vec::new();
    for s in cfg.server_addrs()? {
        servers.push((s, dns::ask(s, &name, rtype, timeout).await));
    }
    Ok(RecordRead {
        rtype: rec.rtype.to_ascii_uppercase(),
        api,
        servers,
    })
}

/// One poll's answers: per record; and each server's SOA serial.
struct Read {
    records: Vec<RecordRead>,
    serials: Vec<(SocketAddr, Result<u32, String>)>,
}

struct Zone {
    cfg: DnsConfig,
    servers: Vec<SocketAddr>,
    timeout: Duration,
    /// The Route53 zone's id once found by name.
    route53_id: Option<String>,
}

impl Poll for Zone {
    type Answer = Read;

    async fn fetch(&mut self) -> Result<Read, String> {
        let zone = dns::name(&self.cfg.zone)?;
        let mut serials = Vec::new();
        for s in &self.servers {
            serials.push((*s, dns::serial(*s, &zone, self.timeout).await));
        }
        // Credentials are found again at every poll: a profile's keys may be rotated
        // under a running console.
        let api = route53_zone(&self.cfg, self.route53_id.as_deref(), self.timeout).await;
        if let Some(Ok(r)) = &api {
            self.route53_id = Some(r.zone_id.clone());
        }
        let mut records = Vec::new();
        for r in &self.cfg.records {
            records.push(read_record(&self.cfg, r, api.as_ref(), self.timeout).await?);
        }
        let nothing_answered = serials.iter().all(|(_, r)| r.is_err())
            && records
                .iter()
                .all(|r| r.api.as_ref().is_none_or(|(_, a)| a.is_err()));
        if nothing_answered {
            let mut why: Vec<String> = serials.into_iter().filter_map(|(_, r)| r.err()).collect();
            if let Some(e) = api.and_then(Result::err) {
                why.push(e);
            }
            why.extend(
                records
                    .iter()
                    .filter_map(|r| r.api.as_ref().and_then(|(_, a)| a.clone().err())),
            );
            why.dedup();
            return Err(why.join("; "));
        }
        Ok(Read { records, serials })
    }

    fn translate(&self, read: Read) -> Polled {
        let serials: Vec<String> = read
            .serials
            .iter()
            .map(|(s, r)| match r {
                Ok(n) => format!("{s} serial {n}"),
                Err(_) => format!("{s} unreachable"),
            })
            .collect();
        let mut lines = Vec::new();
        let mut state = Vec::new();
        for (rec, r) in self.cfg.records.iter().zip(&read.records) {
            let view = r.view(&self.cfg, rec, &read.serials);
            let ttl = view
                .agreed()
                .and_then(|(_, t)| t)
                .map(|t| format!(" (TTL {t} s)"))
                .unwrap_or_default();
            lines.push(format!("{} -> {}{ttl}", view.name, view.target()));
            state.push(EventBody::DnsRecord { record: view });
        }
        if !serials.is_empty() {
            lines.push(serials.join(", "));
        }
        Polled {
            state,
            detail: lines.join("; "),
            ..Polled::default()
        }
    }
}

/// Watches the zone's records on every authoritative server until the engine stops.
pub async fn run(cfg: DnsConfig, emitter: Emitter) {
    let servers = match cfg.server_addrs() {
        Ok(s) if !s.is_empty() || cfg.route53.is_some() => s,
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
            route53_id: None,
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
