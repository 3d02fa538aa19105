//! Consul: the server cluster's raft health, and every health check through a blocking
//! query, from one agent's HTTP API.
//!
//! Servers, every `interval_millis`: `/v1/status/leader`, `/v1/operator/raft/configuration`
//! (members with voter flags, the leader) and `/v1/operator/autopilot/state` (per server:
//! alive, healthy, last contact, last term and index; the failure tolerance). They
//! become the same `ClusterMembers`/`MemberStatus` events as etcd's, so the quorum
//! view says healthy, at risk, lost or split for Consul as it does for etcd. An agent
//! that answers `No cluster leader` (500) or an empty leader means the servers have lost
//! quorum: every server is reported without a leader.
//!
//! Checks: `/v1/health/state/any?index=N&wait=` is held open by Consul until something
//! changes (a blocking query), so a failing check arrives at once without polling. The
//! index comes from `X-Consul-Index`; when it goes backwards (a server restored a
//! snapshot) the query starts over from 0, and an index that does not move is not
//! trusted for more than one wait. Service checks become instances of their service
//! (`node/service-id`), healthy, degraded (warning) or unhealthy (critical), the worst
//! check winning; a node's critical `serfHealth` makes all its instances unhealthy.
//!
//! The ACL token comes from the environment variable named by `token_env`
//! (`CONSUL_HTTP_TOKEN` by default) and is sent as `X-Consul-Token`; it is never logged.
//! A token in `auth` (`token_file`, read again when it rotates) goes as a bearer token
//! instead. A 403 (`ACL not found`, `Permission denied`) is a clear per-source error.
//!
//! What the config leaves out is taken from the consul CLI's own variables, so an
//! engineer's shell works as `consul` would ([`ConsulConfig::with_consul_vars`]):
//! `CONSUL_HTTP_ADDR` (`https://…`, or a bare address that speaks TLS when
//! `CONSUL_HTTP_SSL=true`), `CONSUL_CACERT`, `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY`,
//! `CONSUL_TLS_SERVER_NAME`, `CONSUL_HTTP_SSL_VERIFY=false` (insecure, explicitly),
//! `CONSUL_HTTP_TOKEN` and `CONSUL_HTTP_TOKEN_FILE`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::poll::{Pace, Poll, Polled, Report, drive};
use super::{Backoff, Emitter};
use crate::event::{EventBody, MemberSpec, MemberStatus};
use crate::model::{ClusterId, ClusterKind, Health, InstanceId, MemberId, ServiceId, SourceStatus};

/// Configuration of one Consul datacenter, read through one agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsulConfig {
    /// Source name; also the cluster's name in the quorum view.
    pub name: String,
    /// The agent's address (default: `CONSUL_HTTP_ADDR`, else `http://127.0.0.1:8500`).
    #[serde(default)]
    pub address: Option<String>,
    /// The environment variable holding the ACL token (default `CONSUL_HTTP_TOKEN`).
    #[serde(default)]
    pub token_env: Option<String>,
    /// Time between raft polls, in milliseconds.
    #[serde(default = "default_interval")]
    pub interval_millis: u64,
    /// Bound on each ordinary request, in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_millis: u64,
    /// How long Consul may hold a blocking query, in seconds.
    #[serde(default = "default_wait")]
    pub wait_secs: u64,
    /// TLS to the target: its CA, a client certificate, the name its certificate holds
    /// (`https://` URLs only; verification is on unless `insecure_skip_verify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::sources::TlsSettings>,
    /// Credentials, basic or bearer, by environment variable name or file path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<crate::sources::AuthSettings>,
    /// The forward proxy: `true` (default) the environment's, `false` none, or a URL.
    #[serde(
        default,
        skip_serializing_if = "crate::sources::ProxySetting::is_default"
    )]
    pub proxy: crate::sources::ProxySetting,
    /// The most one answer may hold, in bytes; the kind's default when left out
    /// (`AnswerLimit::of`). A larger answer puts the source down in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_answer_bytes: Option<u64>,
}

impl ConsulConfig {
    /// A source named `name` with nothing set: everything from the consul CLI's
    /// variables when it connects (the no-config-file case).
    pub fn from_vars(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            address: None,
            token_env: None,
            interval_millis: default_interval(),
            timeout_millis: default_timeout(),
            wait_secs: default_wait(),
            tls: None,
            auth: None,
            proxy: crate::sources::ProxySetting::default(),
            max_answer_bytes: None,
        }
    }

    /// This config with what it leaves out taken from the consul CLI's variables as
    /// `var` reads them (see the module's docs); what it sets wins. Paths and variable
    /// names only: no secret is copied into the config.
    #[must_use]
    pub fn with_consul_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let ssl = set("CONSUL_HTTP_SSL").is_some_and(|v| v == "true" || v == "1");
        if self.address.is_none() {
            self.address = set("CONSUL_HTTP_ADDR").map(|a| {
                if a.contains("://") {
                    a
                } else if ssl {
                    format!("https://{a}")
                } else {
                    format!("http://{a}")
                }
            });
        }
        let https = self
            .address
            .as_deref()
            .is_some_and(|a| a.starts_with("https://"));
        if self.tls.is_none() && https {
            let tls = crate::sources::TlsSettings {
                ca_file: set("CONSUL_CACERT"),
                cert_file: set("CONSUL_CLIENT_CERT"),
                key_file: set("CONSUL_CLIENT_KEY"),
                server_name: set("CONSUL_TLS_SERVER_NAME"),
                insecure_skip_verify: set("CONSUL_HTTP_SSL_VERIFY")
                    .is_some_and(|v| v == "false" || v == "0"),
            };
            self.tls = (tls != crate::sources::TlsSettings::default()).then_some(tls);
        }
        let token_var = self.token_env.as_deref().unwrap_or("CONSUL_HTTP_TOKEN");
        if self.auth.is_none() && set(token_var).is_none() {
            self.auth = set("CONSUL_HTTP_TOKEN_FILE").map(|path| crate::sources::AuthSettings {
                token_file: Some(path),
                ..crate::sources::AuthSettings::default()
            });
        }
        self
    }
}

impl crate::sources::Settings for ConsulConfig {
    fn reach(&self) -> Option<crate::sources::ReachSettings<'_>> {
        Some(crate::sources::ReachSettings {
            urls: self.address.iter().map(String::as_str).collect(),
            tls: self.tls.as_ref(),
            auth: self.auth.as_ref(),
            proxy: &self.proxy,
            timeout: std::time::Duration::from_millis(self.timeout_millis.max(10)),
            max_answer: crate::sources::AnswerLimit::of(
                crate::model::SourceKind::Consul,
                self.max_answer_bytes,
            ),
        })
    }

    /// As every HTTP source's, with the consul CLI's variables applied first, so a
    /// Consul reached through `CONSUL_HTTP_ADDR` and `CONSUL_CACERT` is watched too.
    fn probe(&self) -> Option<crate::sources::transport::Probe> {
        let cfg = self.clone().with_consul_vars(|n| std::env::var(n).ok());
        crate::sources::probe_of(&cfg)
    }
}

const fn default_interval() -> u64 {
    1000
}

const fn default_timeout() -> u64 {
    2000
}

const fn default_wait() -> u64 {
    30
}

/// A server as the raft configuration lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftServer {
    /// Raft ID.
    pub id: String,
    /// Node name.
    pub node: String,
    /// Raft address.
    pub address: String,
    /// Leader now.
    pub leader: bool,
    /// Votes.
    pub voter: bool,
}

/// Autopilot's view of one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutopilotServer {
    /// Raft ID.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Serf status (`alive`, `failed`, `left`).
    pub node_status: String,
    /// Autopilot's verdict.
    pub healthy: bool,
    /// Time since the leader last heard from it, as Consul words it (`1.321ms`).
    pub last_contact: String,
    /// Last raft term.
    pub last_term: u64,
    /// Last raft index.
    pub last_index: u64,
    /// `voter`, `non-voter`, `leader`, `read-replica`...
    pub status: String,
}

/// Autopilot's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Autopilot {
    /// Healthy overall.
    pub healthy: bool,
    /// Servers that may fail without losing quorum.
    pub failure_tolerance: u64,
    /// The leader's raft ID.
    pub leader: Option<String>,
    /// Servers by raft ID.
    pub servers: BTreeMap<String, AutopilotServer>,
}

/// One health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Node.
    pub node: String,
    /// Check ID.
    pub check_id: String,
    /// `passing`, `warning`, `critical`.
    pub status: String,
    /// Output of the check.
    pub output: String,
    /// Service ID (empty for a node check).
    pub service_id: String,
    /// Service name (empty for a node check).
    pub service_name: String,
}

/// Errors reading Consul.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsulError {
    /// Not JSON.
    #[error("not JSON from Consul: {0}")]
    NotJson(String),
    /// JSON of another shape.
    #[error("unexpected JSON from Consul: {0}")]
    Shape(&'static str),
}

fn json(text: &str) -> Result<Value, ConsulError> {
    serde_json::from_str(text)
        .map_err(|_| ConsulError::NotJson(crate::sources::excerpt::excerpt(text)))
}

fn text_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

/// Reads `/v1/status/leader`: the leader's raft address, `None` when empty.
pub fn parse_leader(text: &str) -> Result<Option<String>, ConsulError> {
    let v = json(text)?;
    let s = v
        .as_str()
        .ok_or(ConsulError::Shape("the leader is not a string"))?;
    Ok((!s.is_empty()).then(|| s.to_owned()))
}

/// Reads `/v1/operator/raft/configuration`.
pub fn parse_raft(text: &str) -> Result<Vec<RaftServer>, ConsulError> {
    let v = json(text)?;
    let servers = v
        .get("Servers")
        .and_then(Value::as_array)
        .ok_or(ConsulError::Shape("no Servers in the raft configuration"))?;
    Ok(servers
        .iter()
        .map(|s| RaftServer {
            id: text_of(s, "ID"),
            node: text_of(s, "Node"),
            address: text_of(s, "Address"),
            leader: s.get("Leader").and_then(Value::as_bool).unwrap_or(false),
            voter: s.get("Voter").and_then(Value::as_bool).unwrap_or(false),
        })
        .collect())
}

/// Reads `/v1/operator/autopilot/state`.
pub fn parse_autopilot(text: &str) -> Result<Autopilot, ConsulError> {
    let v = json(text)?;
    let servers = v
        .get("Servers")
        .and_then(Value::as_object)
        .ok_or(ConsulError::Shape("no Servers in the autopilot state"))?;
    Ok(Autopilot {
        healthy: v.get("Healthy").and_then(Value::as_bool).unwrap_or(false),
        failure_tolerance: v
            .get("FailureTolerance")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        leader: v.get("Leader").and_then(Value::as_str).map(str::to_owned),
        servers: servers
            .iter()
            .map(|(id, s)| {
                (
                    id.clone(),
                    AutopilotServer {
                        id: id.clone(),
                        name: text_of(s, "Name"),
                        node_status: text_of(s, "NodeStatus"),
                        healthy: s.get("Healthy").and_then(Value::as_bool).unwrap_or(false),
                        last_contact: text_of(s, "LastContact"),
                        last_term: s.get("LastTerm").and_then(Value::as_u64).unwrap_or(0),
                        last_index: s.get("LastIndex").and_then(Value::as_u64).unwrap_or(0),
                        status: text_of(s, "Status"),
                    },
                )
            })
            .collect(),
    })
}

/// Reads `/v1/health/state/any`.
pub fn parse_checks(text: &str) -> Result<Vec<Check>, ConsulError> {
    let v = json(text)?;
    let list = v
        .as_array()
        .ok_or(ConsulError::Shape("the checks are not a list"))?;
    Ok(list
        .iter()
        .map(|c| Check {
            node: text_of(c, "Node"),
            check_id: text_of(c, "CheckID"),
            status: text_of(c, "Status"),
            output: text_of(c, "Output"),
            service_id: text_of(c, "ServiceID"),
            service_name: text_of(c, "ServiceName"),
        })
        .collect())
}

/// The raft events: the membership, then each server's status. `leader` is what
/// `/v1/status/leader` said (`None`: no leader, quorum lost).
pub fn raft_events(
    cluster: &ClusterId,
    raft: &[RaftServer],
    autopilot: Option<&Autopilot>,
    leader: Option<&str>,
) -> Vec<EventBody> {
    let mut out = vec![EventBody::ClusterMembers {
        cluster: cluster.clone(),
        cluster_kind: ClusterKind::Consul,
        members: raft
            .iter()
            .map(|s| MemberSpec {
                member: MemberId::new(&s.node),
                voter: s.voter,
            })
            .collect(),
    }];
    let leader_node = leader.and_then(|addr| raft.iter().find(|s| s.address == addr));
    for s in raft {
        let ap = autopilot.and_then(|a| a.servers.get(&s.id));
        let alive = ap.is_none_or(|a| a.node_status == "alive");
        let error = match ap {
            _ if leader_node.is_none() => Some("no cluster leader (quorum lost)".to_owned()),
            Some(a) if !alive => Some(format!("serf status {}", a.node_status)),
            Some(a) if !a.healthy => Some(format!(
                "autopilot: unhealthy, last contact {}",
                a.last_contact
            )),
            _ => None,
        };
        out.push(EventBody::MemberStatus {
            cluster: cluster.clone(),
            cluster_kind: ClusterKind::Consul,
            status: MemberStatus {
                member: MemberId::new(&s.node),
                endpoint: Some(s.address.clone()),
                reachable: alive,
                voter: s.voter,
                leader: leader_node.map(|l| MemberId::new(&l.node)),
                term: ap.map_or(0, |a| a.last_term),
                index: ap.map_or(0, |a| a.last_index),
                db_size_bytes: None,
                alarms: Vec::new(),
                error,
            },
        });
    }
    out
}

/// Instances from the checks: `node/service-id` in its service, the worst check wins;
/// a node's critical node-level check (`serfHealth`) makes its instances unhealthy.
pub fn check_events(checks: &[Check]) -> Vec<EventBody> {
    fn rank(status: &str) -> (u8, Health) {
        match status {
            "passing" => (0, Health::Healthy),
            "warning" => (1, Health::Degraded),
            "critical" => (2, Health::Unhealthy),
            _ => (1, Health::Unknown),
        }
    }
    let node_down: BTreeMap<&str, &Check> = checks
        .iter()
        .filter(|c| c.service_id.is_empty() && c.status == "critical")
        .map(|c| (c.node.as_str(), c))
        .collect();
    let mut worst: BTreeMap<(String, String), (u8, Health, String)> = BTreeMap::new();
    for c in checks.iter().filter(|c| !c.service_id.is_empty()) {
        let key = (
            format!("{}/{}", c.node, c.service_id),
            c.service_name.clone(),
        );
        let (r, h) = rank(&c.status);
        // A passing check's output is what its probe printed this time (a body, a
        // timing, a figure): it moves without saying anything new. A failing check's
        // output is why, and Consul itself syncs it at most every few minutes.
        let detail = if c.output.trim().is_empty() || c.status == "passing" {
            format!("{} {}", c.check_id, c.status)
        } else {
            format!("{} {}: {}", c.check_id, c.status, c.output.trim())
        };
        let e = worst.entry(key).or_insert((r, h, detail.clone()));
        if r > e.0 {
            *e = (r, h, detail);
        }
    }
    worst
        .into_iter()
        .map(|((instance, service), (_, mut health, mut detail))| {
            let node = instance.split('/').next().unwrap_or_default();
            if let Some(c) = node_down.get(node) {
                health = Health::Unhealthy;
                detail = format!("node {node}: {} critical", c.check_id);
            }
            EventBody::InstanceHealth {
                instance: InstanceId::new(instance),
                service: ServiceId::new(service),
                health,
                detail: Some(detail),
            }
        })
        .collect()
}

/// An HTTP answer: status, `X-Consul-Index`, body.
async fn get(
    client: &super::HttpClient,
    url: &str,
    token: Option<&str>,
    timeout: Duration,
) -> Result<(u16, Option<u64>, String), String> {
    let mut req = client.get(url)?.timeout(timeout);
    if let Some(t) = token {
        req = req.header("X-Consul-Token", t);
    }
    let resp = req.send().await.map_err(|e| client.describe(&e, timeout))?;
    let status = resp.status().as_u16();
    let index = resp
        .headers()
        .get("X-Consul-Index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = client.body(resp, timeout).await?;
    Ok((status, index, body))
}

/// An error answer in operator words.
fn refusal(status: u16, body: &str, url: &str) -> String {
    let said = body.trim().chars().take(120).collect::<String>();
    match status {
        403 => format!("the ACL token was refused (403: {said}); check token_env ({url})"),
        401 => format!("not authorized (401: {said}) ({url})"),
        _ => format!("HTTP {status}: {said} ({url})"),
    }
}

/// Runs the Consul source until the engine stops.
pub async fn run(cfg: ConsulConfig, emitter: Emitter) {
    let cfg = cfg.with_consul_vars(|n| std::env::var(n).ok());
    let timeout = Duration::from_millis(cfg.timeout_millis.max(10));
    let wait = Duration::from_secs(cfg.wait_secs.clamp(1, 600));
    let client = match super::http::client_of(&cfg, wait + timeout) {
        Ok(c) => c,
        Err(e) => {
            emitter.status(SourceStatus::Down, Some(e)).await;
            return;
        }
    };
    let base = cfg
        .address
        .clone()
        .or_else(|| std::env::var("CONSUL_HTTP_ADDR").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8500".to_owned());
    let base = if base.contains("://") {
        base
    } else {
        format!("http://{base}")
    };
    let base = base.trim_end_matches('/').to_owned();
    let token_var = cfg
        .token_env
        .clone()
        .unwrap_or_else(|| "CONSUL_HTTP_TOKEN".to_owned());
    // A token in `auth` goes as a bearer token; never two tokens at once.
    let token = std::env::var(&token_var)
        .ok()
        .filter(|t| !t.is_empty() && cfg.auth.is_none());
    let cluster = ClusterId::new(&cfg.name);

    let checks = tokio::spawn(watch_checks(
        client.clone(),
        base.clone(),
        token.clone(),
        wait,
        timeout,
        emitter.clone(),
    ));
    let pace = Pace {
        interval: Duration::from_millis(cfg.interval_millis.max(10)),
        // Each call is bounded by `timeout`; the checks' blocking query runs on its own.
        bound: None,
        backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(10), 0xc0),
        report: Report::Changes {
            full_every: None,
            detail_follows: false,
        },
    };
    let agent = Agent {
        client,
        base,
        token,
        timeout,
        cluster,
    };
    drive(agent, pace, &emitter).await;
    checks.abort();
}

/// One Consul agent's view of the servers, polled.
struct Agent {
    client: super::HttpClient,
    base: String,
    token: Option<String>,
    timeout: Duration,
    cluster: ClusterId,
}

/// The servers, the leader if any, and autopilot's state if it answered.
type Servers = (Vec<RaftServer>, Option<String>, Option<Autopilot>);

impl Poll for Agent {
    type Answer = Servers;

    async fn fetch(&mut self) -> Result<Servers, String> {
        let (client, base, token, timeout) = (
            &self.client,
            &self.base,
            self.token.as_deref(),
            self.timeout,
        );
        let url = format!("{base}/v1/operator/raft/configuration");
        let (status, _, body) = get(client, &url, token, timeout).await?;
        let no_leader = status == 500 && body.contains("No cluster leader");
        if status != 200 && !no_leader {
            return Err(refusal(status, &body, &url));
        }
        let raft = if no_leader {
            None
        } else {
            Some(parse_raft(&body).map_err(|e| format!("{e} ({url})"))?)
        };
        let url = format!("{base}/v1/status/leader");
        let (status, _, body) = get(client, &url, token, timeout).await?;
        let leader = if status == 200 {
            parse_leader(&body).map_err(|e| format!("{e} ({url})"))?
        } else {
            None
        };
        let url = format!("{base}/v1/operator/autopilot/state");
        let autopilot = match get(client, &url, token, timeout).await {
            Ok((200, _, body)) => parse_autopilot(&body).ok(),
            _ => None,
        };
        // Without a leader the raft configuration cannot be read: fall back to the
        // last peers list the agent has.
        let raft = if let Some(r) = raft {
            r
        } else {
            let url = format!("{base}/v1/status/peers");
            let (_, _, body) = get(client, &url, token, timeout).await?;
            let peers: Vec<String> = serde_json::from_str(&body).unwrap_or_default();
            peers
                .into_iter()
                .map(|p| RaftServer {
                    id: p.clone(),
                    node: p.clone(),
                    address: p,
                    leader: false,
                    voter: true,
                })
                .collect()
        };
        Ok((raft, leader, autopilot))
    }

    fn translate(&self, (raft, leader, autopilot): Servers) -> Polled {
        let detail = match (&leader, &autopilot) {
            (None, _) => "no cluster leader".to_owned(),
            (Some(l), Some(a)) => format!(
                "leader {l}; {} servers; autopilot {}, tolerates {} failures",
                raft.len(),
                if a.healthy { "healthy" } else { "unhealthy" },
                a.failure_tolerance
            ),
            (Some(l), None) => format!("leader {l}; {} servers", raft.len()),
        };
        Polled {
            state: raft_events(&self.cluster, &raft, autopilot.as_ref(), leader.as_deref()),
            detail,
            ..Polled::default()
        }
    }
}

/// The blocking query on every check, until the engine stops.
async fn watch_checks(
    client: super::HttpClient,
    base: String,
    token: Option<String>,
    wait: Duration,
    timeout: Duration,
    emitter: Emitter,
) {
    let mut index: u64 = 0;
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(10), 0xc1);
    let mut last: BTreeMap<String, EventBody> = BTreeMap::new();
    loop {
        let url = format!(
            "{base}/v1/health/state/any?index={index}&wait={}s",
            wait.as_secs()
        );
        let answer = get(&client, &url, token.as_deref(), wait + wait / 16 + timeout).await;
        let (status, new_index, body) = match answer {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!("consul checks: {e}");
                index = 0;
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        if status != 200 {
            tracing::debug!("consul checks: {}", refusal(status, &body, &url));
            index = 0;
            tokio::time::sleep(backoff.next_delay()).await;
            continue;
        }
        let Ok(checks) = parse_checks(&body) else {
            index = 0;
            tokio::time::sleep(backoff.next_delay()).await;
            continue;
        };
        backoff.reset();
        for ev in check_events(&checks) {
            let key = ev.subjects().join("|");
            if last.get(&key) != Some(&ev) {
                last.insert(key, ev.clone());
                if !emitter.emit(ev).await {
                    return;
                }
            }
        }
        // Consul: an index that went backwards means start over; 0 is never valid.
        index = match new_index {
            Some(n) if n > index => n,
            Some(n) if n < index => 0,
            Some(n) => n.max(1),
            None => 0,
        };
        if new_index.is_none() {
            // No blocking support (a proxy in between): do not spin.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/consul/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn upstream_status_and_raft_samples() {
        assert_eq!(
            parse_leader(&fixture("status-leader.json")),
            Ok(Some("10.1.10.12:8300".to_owned()))
        );
        assert_eq!(parse_leader(r#""""#), Ok(None), "empty: no leader");
        let raft = parse_raft(&fixture("operator-raft-configuration.json")).expect("raft");
        assert_eq!(raft.len(), 3);
        assert!(raft[0].leader && raft[0].voter);
        assert_eq!(raft[1].node, "bob");
    }

    #[test]
    fn upstream_autopilot_sample() {
        let mut text = fixture("operator-autopilot-state.json");
        // The docs show each server as {}; put the documented server object in one.
        let server = fixture("operator-autopilot-state-server.json");
        text = text.replacen(
            "\"5e26a3af-f4fc-4104-a8bb-4da9f19cb278\": {}",
            &format!("\"5e26a3af-f4fc-4104-a8bb-4da9f19cb278\": {server}"),
            1,
        );
        let a = parse_autopilot(&text).expect("autopilot");
        assert!(a.healthy);
        assert_eq!(a.failure_tolerance, 1);
        assert_eq!(a.servers.len(), 5);
        let s = &a.servers["5e26a3af-f4fc-4104-a8bb-4da9f19cb278"];
        assert_eq!(
            (s.name.as_str(), s.last_index, s.last_contact.as_str()),
            ("node1", 42, "1.321ms")
        );
    }

    #[test]
    fn checks_become_instances_worst_check_winning() {
        let checks = parse_checks(&fixture("health-state-passing.json")).expect("checks");
        let events = check_events(&checks);
        assert_eq!(
            events.len(),
            1,
            "one service instance (serfHealth is a node check)"
        );
        assert!(
            matches!(&events[0], EventBody::InstanceHealth { instance, service, health: Health::Healthy, .. }
            if instance.as_str() == "foobar/redis" && service.as_str() == "redis")
        );
        let mut worse = checks.clone();
        worse.push(Check {
            node: "foobar".into(),
            check_id: "service:redis:2".into(),
            status: "warning".into(),
            output: "memory 91 %".into(),
            service_id: "redis".into(),
            service_name: "redis".into(),
        });
        assert!(
            matches!(&check_events(&worse)[0], EventBody::InstanceHealth { health: Health::Degraded, detail: Some(d), .. } if d.contains("memory 91 %"))
        );
        worse[0].status = "critical".into();
        assert!(
            matches!(&check_events(&worse)[0], EventBody::InstanceHealth { health: Health::Unhealthy, detail: Some(d), .. } if d.contains("serfHealth")),
            "a dead node takes its instances with it"
        );
    }

    #[test]
    fn raft_events_feed_the_same_quorum_view_as_etcd() {
        let raft = parse_raft(&fixture("operator-raft-configuration.json")).expect("raft");
        let apply = |events: Vec<EventBody>| {
            let mut s = crate::state::State::default();
            for e in events {
                s.apply(&crate::event::Event::new(
                    crate::time::Timestamp(1000),
                    crate::model::SourceId::new("consul"),
                    e,
                ));
            }
            s
        };
        let s = apply(raft_events(
            &ClusterId::new("dc1"),
            &raft,
            None,
            Some("127.0.0.1:8300"),
        ));
        let c = &s.clusters["dc1"];
        assert_eq!(
            c.quorum.state,
            crate::model::QuorumState::Healthy,
            "{}",
            c.quorum.reason
        );
        assert_eq!(
            c.quorum.leader.as_ref().map(MemberId::as_str),
            Some("alice")
        );
        let s = apply(raft_events(&ClusterId::new("dc1"), &raft, None, None));
        assert_eq!(
            s.clusters["dc1"].quorum.state,
            crate::model::QuorumState::Lost,
            "no leader: lost"
        );
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let r = refusal(
            403,
            "ACL not found",
            "http://c:8500/v1/operator/raft/configuration",
        );
        assert!(
            r.contains("ACL token was refused") && r.contains("ACL not found"),
            "{r}"
        );
        assert!(matches!(parse_raft("<html>"), Err(ConsulError::NotJson(_))));
        assert!(parse_checks(r#"{"a":1}"#).is_err());
    }
}
