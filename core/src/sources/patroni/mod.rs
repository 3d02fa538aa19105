//! Patroni: each member's REST API, asked separately.
//!
//! Every `interval_millis` the source asks each configured member for `GET /patroni`:
//! that member's *own* view (role, state, timeline, pending restart, pause). It also
//! reads `GET /cluster` from the first member that answers (the leader per the DCS,
//! replica lag, sync standbys, a scheduled switchover) and, when the timeline moves,
//! `GET /history`.
//!
//! The servers' own answers decide who is primary. `/cluster` is only the DCS's word:
//! when the DCS has lost quorum it still answers 200 naming a leader that has already
//! been demoted, so it is shown as "the DCS names X leader" and never overrides what
//! the members say. A member whose API does not answer is unreachable with the reason.
//!
//! Both shapes of `/cluster` are read: Patroni 3.x (replica `state` `running`, `lag` in
//! bytes, no `scope`) and 4.x (`streaming`, `lag` may be `"unknown"`, `scope`), and both
//! role words of `/patroni` (`master` before 4.0, `primary` after). An answer without a
//! role or state (an unknown version's JSON) is an error naming what is missing.
//!
//! With `dsn_env`, the source also asks every member's PostgreSQL itself (host and port
//! as `/cluster` lists them, remembered after a member drops out of the list):
//! `pg_is_in_recovery()` is the last word on who takes writes. That is how a split
//! brain shows: kill only the leader's Patroni and a replica is promoted while the old
//! postmaster still accepts writes; its REST API is dead and Patroni 4.x drops it from
//! `/cluster`, but its server still says it is not in recovery.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod ctl;
mod servers;

pub use self::ctl::client;
use self::servers::Servers;
use super::poll::{Pace, Poll, Polled, Report, drive};
use super::{Backoff, Emitter};
use crate::event::{EventBody, TimelineSwitch};
use crate::model::{ClusterId, DbRole, MemberId, SourceStatus};

/// Configuration of one Patroni cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatroniConfig {
    /// Source name.
    pub name: String,
    /// The members' REST API base URLs (`http://10.0.0.5:8008`).
    pub endpoints: Vec<String>,
    /// The cluster's name in the console (default: Patroni's scope, else the source name).
    #[serde(default)]
    pub cluster: Option<String>,
    /// Time between polls, in milliseconds.
    #[serde(default = "default_interval")]
    pub interval_millis: u64,
    /// Bound on each request, in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_millis: u64,
    /// The environment variable holding a PostgreSQL connection string (user, password,
    /// database) used on every member's host and port; unset: the servers are not asked.
    #[serde(default)]
    pub dsn_env: Option<String>,
    /// The `etcd` source that is this cluster's DCS: workflows on the cluster ask it
    /// for quorum first (a failover decided from the minority side splits the brain).
    #[serde(default)]
    pub dcs: Option<String>,
    /// A Patroni YAML (a member's, or a stand-alone one for patronictl) to take the REST
    /// client's settings from where `tls` and `auth` are left out: the `ctl` section's
    /// `cacert`, `certfile`, `keyfile`, `insecure`, and the REST `authentication`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patroni_yml: Option<String>,
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

impl crate::sources::Settings for PatroniConfig {
    /// As every HTTP source's, with the TLS its Patroni YAML gives when `tls` is left out.
    fn probe(&self) -> Option<crate::sources::transport::Probe> {
        let mut cfg = self.clone();
        cfg.tls = ctl::effective_tls(self);
        crate::sources::probe_of(&cfg)
    }

    fn reach(&self) -> Option<crate::sources::ReachSettings<'_>> {
        Some(crate::sources::ReachSettings {
            urls: self.endpoints.iter().map(String::as_str).collect(),
            tls: self.tls.as_ref(),
            auth: self.auth.as_ref(),
            proxy: &self.proxy,
            timeout: std::time::Duration::from_millis(self.timeout_millis.max(10)),
            max_answer: crate::sources::AnswerLimit::of(
                crate::model::SourceKind::Patroni,
                self.max_answer_bytes,
            ),
        })
    }
}

const fn default_interval() -> u64 {
    1000
}

const fn default_timeout() -> u64 {
    1000
}

/// Errors reading Patroni's answers.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatroniError {
    /// Not JSON.
    #[error("not JSON from Patroni: {0}")]
    NotJson(String),
    /// JSON this source cannot read.
    #[error("unexpected JSON from Patroni{version}: {what}")]
    Shape {
        /// What is missing or odd.
        what: String,
        /// `" 9.9.9"` when the answer says its version.
        version: String,
    },
}

/// What `GET /patroni` says about the member that answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView {
    /// Its role.
    pub role: DbRole,
    /// The role word as given (`master`, `primary`, `replica`, `standby_leader`...).
    pub role_word: String,
    /// `running`, `streaming`, `stopped`, `starting`, `crashed`...
    pub state: String,
    /// PostgreSQL timeline.
    pub timeline: Option<u32>,
    /// A restart is pending.
    pub pending_restart: bool,
    /// Maintenance mode.
    pub paused: bool,
    /// Patroni's scope.
    pub scope: Option<String>,
    /// The member's name (4.x says it).
    pub name: Option<String>,
    /// Patroni's version.
    pub version: Option<String>,
}

/// A member as `/cluster` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterMember {
    /// Name.
    pub name: String,
    /// `leader`, `replica`, `sync_standby`, `standby_leader`...
    pub role: String,
    /// State word.
    pub state: String,
    /// Its REST API (`http://h:8008/patroni`).
    pub api_url: Option<String>,
    /// Timeline.
    pub timeline: Option<u32>,
    /// Lag in bytes; `None` when not given or "unknown".
    pub lag_bytes: Option<u64>,
    /// Its PostgreSQL host.
    pub host: Option<String>,
    /// Its PostgreSQL port.
    pub port: Option<u16>,
}

/// What `GET /cluster` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Scope (4.x).
    pub scope: Option<String>,
    /// Members.
    pub members: Vec<ClusterMember>,
    /// Maintenance mode.
    pub paused: bool,
    /// A planned switchover, in words.
    pub scheduled_switchover: Option<String>,
}

impl ClusterView {
    /// The leader the DCS names.
    pub fn leader(&self) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.role == "leader" || m.role == "standby_leader")
            .map(|m| m.name.as_str())
    }
}

fn parse_json(text: &str) -> Result<Value, PatroniError> {
    serde_json::from_str(text)
        .map_err(|_| PatroniError::NotJson(crate::sources::excerpt::excerpt(text)))
}

fn as_u32(v: Option<&Value>) -> Option<u32> {
    v.and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// Reads `GET /patroni`.
pub fn parse_member(text: &str) -> Result<MemberView, PatroniError> {
    let v = parse_json(text)?;
    let patroni = v.get("patroni");
    let version = patroni
        .and_then(|p| p.get("version"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let shape = |what: &str| PatroniError::Shape {
        what: what.to_owned(),
        version: version
            .as_ref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default(),
    };
    let role_word = v
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| shape("no role"))?
        .to_owned();
    let state = v
        .get("state")
        .and_then(Value::as_str)
        .ok_or_else(|| shape("no state"))?
        .to_owned();
    let role = match role_word.as_str() {
        "master" | "primary" => DbRole::Primary,
        // A standby leader follows a remote primary: it does not take writes.
        "replica" | "standby_leader" | "demoted" | "sync_standby" => DbRole::Replica,
        "uninitialized" => DbRole::Unknown,
        other => return Err(shape(&format!("unknown role {other:?}"))),
    };
    Ok(MemberView {
        role,
        role_word,
        state,
        timeline: as_u32(v.get("timeline")),
        pending_restart: v
            .get("pending_restart")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        paused: v.get("pause").and_then(Value::as_bool).unwrap_or(false),
        scope: patroni
            .and_then(|p| p.get("scope"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        name: patroni
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        version,
    })
}

/// Reads `GET /cluster`.
pub fn parse_cluster(text: &str) -> Result<ClusterView, PatroniError> {
    let v = parse_json(text)?;
    let members =
        v.get("members")
            .and_then(Value::as_array)
            .ok_or_else(|| PatroniError::Shape {
                what: "no members in /cluster".into(),
                version: String::new(),
            })?;
    let members = members
        .iter()
        .filter_map(|m| {
            Some(ClusterMember {
                name: m.get("name")?.as_str()?.to_owned(),
                role: m
                    .get("role")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                state: m
                    .get("state")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                api_url: m.get("api_url").and_then(Value::as_str).map(str::to_owned),
                timeline: as_u32(m.get("timeline")),
                // 3.x: bytes; 4.x: bytes or "unknown".
                lag_bytes: m.get("lag").and_then(Value::as_u64),
                host: m.get("host").and_then(Value::as_str).map(str::to_owned),
                port: m
                    .get("port")
                    .and_then(Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok()),
            })
        })
        .collect();
    let scheduled_switchover = v.get("scheduled_switchover").map(|s| {
        let at = s.get("at").and_then(Value::as_str).unwrap_or("?");
        let from = s
            .get("from")
            .and_then(Value::as_str)
            .unwrap_or("the leader");
        match s.get("to").and_then(Value::as_str) {
            Some(to) => format!("{from} -> {to} at {at}"),
            None => format!("from {from} at {at}"),
        }
    });
    Ok(ClusterView {
        scope: v.get("scope").and_then(Value::as_str).map(str::to_owned),
        members,
        paused: v.get("pause").and_then(Value::as_bool).unwrap_or(false),
        scheduled_switchover,
    })
}

/// Reads `GET /history`: `[timeline, lsn, reason, timestamp(, new leader)]` rows.
pub fn parse_history(text: &str) -> Result<Vec<TimelineSwitch>, PatroniError> {
    let v = parse_json(text)?;
    let rows = v.as_array().ok_or_else(|| PatroniError::Shape {
        what: "/history is not a list".into(),
        version: String::new(),
    })?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(TimelineSwitch {
                timeline: as_u32(r.get(0))?,
                lsn: r.get(1)?.as_u64()?,
                reason: r.get(2).and_then(Value::as_str).unwrap_or("").to_owned(),
                at: r.get(3).and_then(Value::as_str).unwrap_or("").to_owned(),
                new_leader: r.get(4).and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect())
}

/// `http://h:8008/patroni` and `http://h:8008` name the same member.
fn same_api(api_url: &str, endpoint: &str) -> bool {
    let base = |u: &str| {
        u.trim_end_matches('/')
            .trim_end_matches("/patroni")
            .trim_end_matches('/')
            .to_owned()
    };
    base(api_url) == base(endpoint)
}

/// A member's name as it or the DCS says it: what it says, else how `/cluster` lists
/// its API.
fn said_name(
    endpoint: &str,
    own: Option<&MemberView>,
    cluster: Option<&ClusterView>,
) -> Option<String> {
    own.and_then(|m| m.name.clone()).or_else(|| {
        cluster.and_then(|c| {
            c.members
                .iter()
                .find(|m| m.api_url.as_deref().is_some_and(|u| same_api(u, endpoint)))
                .map(|m| m.name.clone())
        })
    })
}

/// A member's name: as it or the DCS says it, else the name it was last known by
/// (`known`), else its address.
///
/// A restarted Patroni that does not say its name (before 3.1) is not in `/cluster`
/// until it registers again, nor is a dead one once its key expired: named by address
/// then, the same server would become a second member of its own, and one still
/// primary at that moment would stay a phantom writable primary.
fn member_name(
    endpoint: &str,
    own: Option<&MemberView>,
    cluster: Option<&ClusterView>,
    known: Option<&String>,
) -> String {
    if let Some(n) = said_name(endpoint, own, cluster).or_else(|| known.cloned()) {
        return n;
    }
    endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .trim_end_matches('/')
        .to_owned()
}

/// `GET url`: the body whatever the status (Patroni answers `/patroni` with 503 and the
/// JSON body when PostgreSQL is down).
pub(crate) async fn get_text(
    client: &super::HttpClient,
    url: &str,
    timeout: Duration,
) -> Result<String, String> {
    super::http::get_text(client, url, &[], timeout).await
}

/// The events of one poll: each member's own view, then the DCS's. `known` holds the
/// name each endpoint was last known by (empty: none), for a member that says no name.
pub fn to_events(
    cluster: &ClusterId,
    endpoints: &[String],
    known: &[Option<String>],
    own: &[Result<MemberView, String>],
    dcs: Option<&ClusterView>,
    history: &[TimelineSwitch],
) -> Vec<EventBody> {
    let mut out = Vec::new();
    for (i, (ep, view)) in endpoints.iter().zip(own).enumerate() {
        let known = known.get(i).and_then(Option::as_ref);
        let name = member_name(ep, view.as_ref().ok(), dcs, known);
        let listed = dcs.and_then(|c| c.members.iter().find(|m| m.name == name));
        out.push(match view {
            Ok(v) => EventBody::PatroniMember {
                cluster: cluster.clone(),
                member: MemberId::new(&name),
                reachable: true,
                role: v.role,
                state: Some(v.state.clone()),
                timeline: v.timeline,
                lag_bytes: listed.and_then(|m| m.lag_bytes),
                pending_restart: v.pending_restart,
                detail: Some(format!(
                    "{} {}{}",
                    v.role_word,
                    v.state,
                    v.version
                        .as_ref()
                        .map(|x| format!(" (Patroni {x})"))
                        .unwrap_or_default()
                )),
            },
            Err(e) => EventBody::PatroniMember {
                cluster: cluster.clone(),
                member: MemberId::new(&name),
                reachable: false,
                role: DbRole::Unknown,
                state: listed.map(|m| m.state.clone()),
                timeline: None,
                lag_bytes: None,
                pending_restart: false,
                detail: Some(e.clone()),
            },
        });
    }
    if let Some(c) = dcs {
        out.push(EventBody::DbClusterStatus {
            cluster: cluster.clone(),
            leader: c.leader().map(MemberId::new),
            sync_standbys: c
                .members
                .iter()
                .filter(|m| m.role == "sync_standby")
                .map(|m| MemberId::new(&m.name))
                .collect(),
            paused: c.paused || own.iter().flatten().any(|m| m.paused),
            scheduled_switchover: c.scheduled_switchover.clone(),
            history: history.to_vec(),
        });
    }
    out
}

/// Runs the Patroni source until the engine stops.
pub async fn run(cfg: PatroniConfig, emitter: Emitter) {
    let timeout = Duration::from_millis(cfg.timeout_millis.max(10));
    let client = match client(&cfg, timeout) {
        Ok(c) => c,
        Err(e) => {
            emitter.status(SourceStatus::Down, Some(e)).await;
            return;
        }
    };
    if cfg.endpoints.is_empty() {
        emitter
            .status(
                SourceStatus::Down,
                Some("no endpoints configured (the members' REST API URLs)".to_owned()),
            )
            .await;
        return;
    }
    let endpoints: Vec<String> = cfg
        .endpoints
        .iter()
        .map(|e| e.trim_end_matches('/').to_owned())
        .collect();
    let pace = Pace {
        interval: Duration::from_millis(cfg.interval_millis.max(10)),
        // Each member is asked within `timeout` on its own: one hanging member never
        // fails the others.
        bound: None,
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(5), 0x5a),
        report: Report::Changes {
            full_every: None,
            detail_follows: false,
        },
    };
    let members = Members {
        client,
        timeout,
        servers: Servers::new(cfg.dsn_env.as_deref()),
        cfg,
        known: vec![None; endpoints.len()],
        endpoints,
        history: Vec::new(),
        history_for: None,
    };
    drive(members, pace, &emitter).await;
}

/// A Patroni cluster's members, polled.
struct Members {
    cfg: PatroniConfig,
    client: super::HttpClient,
    timeout: Duration,
    endpoints: Vec<String>,
    /// The timeline history, and the timeline it was read for.
    history: Vec<TimelineSwitch>,
    history_for: Option<u32>,
    servers: Servers,
    /// The name each endpoint was last known by.
    known: Vec<Option<String>>,
}

/// One poll's answers: each member's own view, the DCS's (from which member), why the
/// DCS could not be read, and the servers' own events.
struct Answers {
    cluster: ClusterId,
    own: Vec<Result<MemberView, String>>,
    dcs: Option<(String, ClusterView)>,
    dcs_error: Option<String>,
    servers: Vec<EventBody>,
}

impl Poll for Members {
    type Answer = Answers;

    async fn fetch(&mut self) -> Result<Answers, String> {
        let (client, timeout, endpoints) = (&self.client, self.timeout, &self.endpoints);
        // Every member at once: one hanging member never delays the others.
        let mut polls = tokio::task::JoinSet::new();
        for (i, ep) in endpoints.iter().enumerate() {
            let (client, ep) = (client.clone(), ep.clone());
            polls.spawn(async move {
                let answer = async {
                    let text = get_text(&client, &format!("{ep}/patroni"), timeout).await?;
                    parse_member(&text).map_err(|e| format!("{e} ({ep}/patroni)"))
                };
                (i, answer.await)
            });
        }
        let mut own: Vec<Result<MemberView, String>> =
            vec![Err("no answer".to_owned()); endpoints.len()];
        while let Some(done) = polls.join_next().await {
            if let Ok((i, answer)) = done {
                own[i] = answer;
            }
        }
        let mut dcs = None;
        let mut dcs_error = None;
        // One timeout for the DCS view in all: asked member after member, a partition
        // that began after `/patroni` answered would hold the poll (and the members'
        // answers, shown as current once it ends) for a timeout per member.
        let asked = tokio::time::timeout(timeout, async {
            for (ep, view) in endpoints.iter().zip(&own) {
                if view.is_err() {
                    continue;
                }
                match get_text(client, &format!("{ep}/cluster"), timeout).await {
                    Ok(text) => match parse_cluster(&text) {
                        Ok(c) => {
                            dcs = Some((ep.clone(), c));
                            break;
                        }
                        Err(e) => dcs_error = Some(format!("{e} ({ep}/cluster)")),
                    },
                    Err(e) => dcs_error = Some(e),
                }
            }
        })
        .await;
        if asked.is_err() && dcs.is_none() {
            dcs_error = Some(format!(
                "no member answered /cluster within {} ms",
                timeout.as_millis()
            ));
        }
        if own.iter().all(Result::is_err) {
            let why = own
                .iter()
                .filter_map(|r| r.as_ref().err())
                .cloned()
                .collect::<Vec<_>>()
                .join("; ");
            return Err(format!("no member answers: {why}"));
        }
        let timeline = own.iter().flatten().filter_map(|m| m.timeline).max();
        if let Some((ep, _)) = &dcs
            && timeline != self.history_for
            && let Ok(h) = get_text(client, &format!("{ep}/history"), timeout)
                .await
                .and_then(|t| parse_history(&t).map_err(|e| e.to_string()))
        {
            self.history = h;
            self.history_for = timeline;
        }
        let scope = dcs
            .as_ref()
            .and_then(|(_, c)| c.scope.clone())
            .or_else(|| own.iter().flatten().find_map(|m| m.scope.clone()));
        let cluster = ClusterId::new(
            self.cfg
                .cluster
                .clone()
                .or(scope)
                .unwrap_or_else(|| self.cfg.name.clone()),
        );
        for (i, ep) in self.endpoints.iter().enumerate() {
            let dcs = dcs.as_ref().map(|(_, c)| c);
            if let Some(n) = said_name(ep, own[i].as_ref().ok(), dcs) {
                self.known[i] = Some(n);
            }
        }
        // The servers are asked after the members (they are sent after them, too).
        if let Some((_, c)) = &dcs {
            self.servers.learn(c);
        }
        let servers = self.servers.poll(&cluster, timeout).await;
        Ok(Answers {
            cluster,
            own,
            dcs,
            dcs_error,
            servers,
        })
    }

    fn translate(&self, a: Answers) -> Polled {
        let answering = a.own.iter().filter(|r| r.is_ok()).count();
        let mut detail = format!("{answering} of {} members answer", self.endpoints.len());
        if let Some(e) = &a.dcs_error {
            write!(detail, "; /cluster: {e}").ok();
        }
        if let Some(Err(e)) = &self.servers.base {
            write!(detail, "; servers not asked: {e}").ok();
        }
        Polled {
            state: to_events(
                &a.cluster,
                &self.endpoints,
                &self.known,
                &a.own,
                a.dcs.as_ref().map(|(_, c)| c),
                &self.history,
            ),
            // The servers' sessions and roles: held while their counts barely move.
            gauges: a.servers,
            detail,
            ..Polled::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Members by name, as `/cluster` lists them.
    fn members_by_name(c: &ClusterView) -> BTreeMap<&str, &ClusterMember> {
        c.members.iter().map(|m| (m.name.as_str(), m)).collect()
    }

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/patroni/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A restarted Patroni that does not say its name and is not in `/cluster` yet keeps
    /// the name it was known by: no second member named by its address. One never named
    /// is named by its address.
    #[test]
    fn a_member_that_cannot_be_named_keeps_its_last_name() {
        let own = vec![
            parse_member(r#"{"role":"master","state":"running","timeline":4}"#)
                .map_err(|e| e.to_string()),
        ];
        let endpoints = vec!["http://127.0.0.1:8003".to_owned()];
        let named = |known: &[Option<String>]| -> Vec<String> {
            to_events(&ClusterId::new("pgha"), &endpoints, known, &own, None, &[])
                .into_iter()
                .filter_map(|e| match e {
                    EventBody::PatroniMember { member, .. } => Some(member.to_string()),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(named(&[Some("node3".to_owned())]), ["node3"]);
        assert_eq!(named(&[]), ["127.0.0.1:8003"]);
    }

    #[test]
    fn member_views_of_every_version() {
        let p4 = parse_member(&fixture("patroni-primary-healthy.json")).expect("4.0");
        assert_eq!(p4.role, DbRole::Primary);
        assert_eq!(p4.role_word, "primary");
        assert_eq!(p4.name.as_deref(), Some("patroni1"));
        assert_eq!(p4.scope.as_deref(), Some("demo"));
        let p3 = parse_member(&fixture("patroni-v3.1-master.json")).expect("3.1");
        assert_eq!(p3.role, DbRole::Primary, "master is the pre-4.0 word");
        assert_eq!(p3.name, None, "3.x does not say its name");
        let p16 = parse_member(&fixture("patroni-v1.6-master.json")).expect("1.6");
        assert_eq!(p16.timeline, Some(3));
        let paused = parse_member(&fixture("patroni-paused.json")).expect("paused");
        assert!(paused.paused);
        assert_eq!(paused.role, DbRole::Replica);
    }

    #[test]
    fn cluster_views_of_3x_and_4x() {
        let c4 = parse_cluster(&fixture("cluster-v4.0.json")).expect("4.0");
        assert_eq!(c4.scope.as_deref(), Some("demo"));
        assert_eq!(c4.leader(), Some("patroni1"));
        let replica = members_by_name(&c4)["patroni2"];
        assert_eq!(
            (replica.state.as_str(), replica.lag_bytes),
            ("streaming", Some(0))
        );
        assert_eq!(
            c4.scheduled_switchover.as_deref(),
            Some("patroni1 -> patroni3 at 2023-09-24T10:36:00+02:00")
        );
        let c3 = parse_cluster(&fixture("cluster-v1.6.json")).expect("1.6");
        assert_eq!(c3.scope, None);
        assert_eq!(members_by_name(&c3)["postgresql1"].state, "running");
        let unknown = r#"{"members":[{"name":"a","role":"leader","state":"running"},
            {"name":"b","role":"replica","state":"streaming","lag":"unknown"}]}"#;
        let c = parse_cluster(unknown).expect("lag unknown");
        assert_eq!(
            members_by_name(&c)["b"].lag_bytes,
            None,
            "unknown is not zero"
        );
    }

    #[test]
    fn history_rows() {
        let h = parse_history(&fixture("history.json")).expect("history");
        assert_eq!(h.len(), 4);
        assert_eq!(h[3].timeline, 4);
        assert_eq!(h[3].lsn, 50_331_856);
        let with_leader =
            r#"[[1,25623960,"no recovery target specified","2024-01-01T00:00:00+00:00","node2"]]"#;
        assert_eq!(
            parse_history(with_leader).expect("4.x")[0]
                .new_leader
                .as_deref(),
            Some("node2")
        );
    }

    #[test]
    fn unknown_versions_and_garbage_are_clear_errors() {
        let future = r#"{"status":"ok","patroni":{"version":"9.0.0","scope":"x"}}"#;
        assert_eq!(
            parse_member(future).expect_err("no role").to_string(),
            "unexpected JSON from Patroni 9.0.0: no role"
        );
        let odd = r#"{"role":"archmage","state":"running"}"#;
        assert!(
            parse_member(odd)
                .expect_err("role")
                .to_string()
                .contains("archmage")
        );
        assert!(matches!(
            parse_member("<html>"),
            Err(PatroniError::NotJson(_))
        ));
        assert!(parse_cluster(r#"{"scope":"x"}"#).is_err());
        assert!(parse_history(r#"{"x":1}"#).is_err());
    }

    #[test]
    fn the_servers_decide_the_primary_not_the_dcs() {
        // The DCS lost quorum: /cluster still names node1 leader, but node1's own
        // Patroni has demoted it.
        let dcs = parse_cluster(
            r#"{"members":[{"name":"node1","role":"leader","state":"running","api_url":"http://127.0.0.1:8001/patroni"},
            {"name":"node2","role":"replica","state":"running","api_url":"http://127.0.0.1:8002/patroni","lag":0}]}"#,
        )
        .expect("cluster");
        let own = vec![
            parse_member(r#"{"role":"replica","state":"running","timeline":2}"#)
                .map_err(|e| e.to_string()),
            Err("cannot connect: Connection refused (http://127.0.0.1:8002/patroni)".to_owned()),
        ];
        let endpoints = vec![
            "http://127.0.0.1:8001".to_owned(),
            "http://127.0.0.1:8002".to_owned(),
        ];
        let events = to_events(
            &ClusterId::new("pgha"),
            &endpoints,
            &[],
            &own,
            Some(&dcs),
            &[],
        );
        let mut s = crate::state::State::default();
        for e in events {
            s.apply(&crate::event::Event::new(
                crate::time::Timestamp(1000),
                crate::model::SourceId::new("patroni"),
                e,
            ));
        }
        let db = &s.databases["pgha"];
        assert_eq!(db.dcs_leader.as_ref().map(MemberId::as_str), Some("node1"));
        assert_eq!(db.primary, None, "node1 says it is a replica: no primary");
        assert_eq!(
            db.members["node1"].role,
            DbRole::Replica,
            "names from /cluster's api_url"
        );
        assert!(!db.members["node2"].reachable);
        assert!(
            db.members["node2"]
                .detail
                .as_deref()
                .is_some_and(|d| d.contains("Connection refused"))
        );
    }

    #[test]
    fn two_servers_taking_writes_are_a_split_whatever_patroni_says() {
        use crate::event::Event;
        use crate::model::SourceId;
        use crate::time::Timestamp;
        let at = |t: i64, body: EventBody| Event::new(Timestamp(t), SourceId::new("patroni"), body);
        let cluster = ClusterId::new("pgha");
        let pg = |member: &str, in_recovery: bool| EventBody::PgServer {
            cluster: cluster.clone(),
            member: MemberId::new(member),
            reachable: true,
            in_recovery: Some(in_recovery),
            sessions: None,
            detail: None,
        };
        let patroni = |member: &str, reachable: bool, role: DbRole| EventBody::PatroniMember {
            cluster: cluster.clone(),
            member: MemberId::new(member),
            reachable,
            role,
            state: Some("running".into()),
            timeline: Some(1),
            lag_bytes: None,
            pending_restart: false,
            detail: None,
        };
        let mut s = crate::state::State::default();
        for e in [
            at(1, patroni("node1", true, DbRole::Primary)),
            at(1, patroni("node2", true, DbRole::Replica)),
            at(1, pg("node1", false)),
            at(1, pg("node2", true)),
        ] {
            s.apply(&e);
        }
        assert_eq!(
            s.databases["pgha"].primary.as_ref().map(MemberId::as_str),
            Some("node1")
        );
        // node1's Patroni dies; node2 is promoted; node1's postmaster still takes writes.
        for e in [
            at(2, patroni("node1", false, DbRole::Unknown)),
            at(2, patroni("node2", true, DbRole::Primary)),
            at(2, pg("node2", false)),
            at(2, pg("node1", false)),
        ] {
            s.apply(&e);
        }
        let db = &s.databases["pgha"];
        assert_eq!(db.writable, 2, "two writable primaries");
        assert_eq!(db.primary, None);
        assert!(
            s.open_incident().is_some_and(|i| i.title.contains("pgha")),
            "a split opens an incident"
        );
        assert!(s.log.iter().any(|l| l.message.contains("split brain")));
    }
}
