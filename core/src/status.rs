//! The machine-readable status report (`switchboard status --json`) and the JSON line
//! of one event (`switchboard watch --json`).
//!
//! Both are built from core types only, so replay can print the same schema later.

use serde::Serialize;

use crate::event::Event;
use crate::state::State;
use crate::time::Timestamp;

/// One snapshot of the console's view.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// True when the drill (simulated fleet) is a source.
    pub drill: bool,
    /// When the report was made (RFC 3339).
    pub at: String,
    /// Consensus clusters.
    pub clusters: Vec<ClusterReport>,
    /// Breakers.
    pub breakers: Vec<BreakerReport>,
    /// Database clusters.
    pub databases: Vec<DatabaseReport>,
    /// Kubernetes nodes.
    pub nodes: Vec<NodeReport>,
    /// Instance counts.
    pub instances: InstanceReport,
    /// Gateway routes, with the services behind composed ones and their choices.
    pub routes: Vec<RouteReport>,
    /// Public names the DNS sources watch: where each points, on every place asked.
    pub dns: Vec<DnsReport>,
    /// Integrity checks: each check on each subject, holding or not.
    pub integrity: Vec<IntegrityReport>,
    /// Every backend: the instances of services a gateway routes to (through composed
    /// services down to their leaves).
    pub backends: Vec<BackendReport>,
    /// Metric series (latency quantiles and the like): their latest values.
    pub metrics: Vec<MetricReport>,
    /// Sources and their freshness.
    pub sources: Vec<SourceReport>,
    /// Incidents, newest last.
    pub incidents: Vec<IncidentReport>,
}

/// An integrity check on one subject.
#[derive(Clone, Debug, Serialize)]
pub struct IntegrityReport {
    /// `pg checksums`, `pg replay`, `etcd hashkv`.
    pub check: String,
    /// What it is about.
    pub subject: String,
    /// The source that checks it.
    pub source: String,
    /// It holds.
    pub ok: bool,
    /// What was seen.
    pub detail: String,
    /// Since when it holds or fails (RFC 3339).
    pub since: String,
}

/// A public name.
#[derive(Clone, Debug, Serialize)]
pub struct DnsReport {
    /// Fully written (`www.example.com`).
    pub name: String,
    /// Its zone.
    pub zone: String,
    /// The DNS source that reads it.
    pub source: String,
    /// `CNAME`, `A` or `AAAA`.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Where it points, as every place asked agrees (absent when they disagree).
    pub target: Option<Vec<String>>,
    /// Its TTL in seconds, as the first place that has it says.
    pub ttl_secs: Option<u32>,
    /// `primary`, `standby` (failed over), `elsewhere` or `unknown` (places disagree).
    pub side: &'static str,
    /// The topology service its target is, when configured.
    pub service: Option<String>,
    /// When its target last changed (RFC 3339).
    pub since: String,
    /// Each place asked: its answer, TTL, SOA serial, or why it could not be asked.
    pub servers: Vec<crate::model::DnsRead>,
    /// What is wrong, in words.
    pub concerns: Vec<String>,
}

/// A consensus cluster.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterReport {
    /// Cluster name.
    pub name: String,
    /// etcd or consul.
    pub kind: &'static str,
    /// healthy, `at_risk`, lost or split.
    pub state: &'static str,
    /// Why.
    pub reason: String,
    /// The agreed leader.
    pub leader: Option<String>,
    /// Members.
    pub members: Vec<MemberReport>,
    /// Quorum numbers.
    pub quorum: QuorumReport,
}

/// A member.
#[derive(Clone, Debug, Serialize)]
pub struct MemberReport {
    /// Member name.
    pub name: String,
    /// Answered its last poll.
    pub reachable: bool,
    /// Is the agreed leader.
    pub leader: bool,
}

/// Quorum numbers.
#[derive(Clone, Debug, Serialize)]
pub struct QuorumReport {
    /// Votes needed.
    pub size: u32,
    /// Voting members.
    pub voters: u32,
    /// Voters reachable.
    pub reachable: u32,
    /// More voters that may be lost.
    pub tolerance: u32,
}

/// A Kubernetes node.
#[derive(Clone, Debug, Serialize)]
pub struct NodeReport {
    /// Node name.
    pub name: String,
    /// Its `Ready` condition.
    pub ready: bool,
    /// Cordoned (unschedulable).
    pub cordoned: bool,
}

/// A database cluster.
#[derive(Clone, Debug, Serialize)]
pub struct DatabaseReport {
    /// Cluster name.
    pub name: String,
    /// `one_primary`, `no_primary` or `split` (several writable primaries).
    pub state: &'static str,
    /// The primary the servers report, when exactly one.
    pub primary: Option<String>,
    /// The leader the DCS names (may be stale).
    pub dcs_leader: Option<String>,
    /// Maintenance mode.
    pub paused: bool,
    /// Members.
    pub members: Vec<DbMemberReport>,
}

/// A database member.
#[derive(Clone, Debug, Serialize)]
pub struct DbMemberReport {
    /// Member name.
    pub name: String,
    /// primary, replica or unknown.
    pub role: crate::model::DbRole,
    /// Answered its last poll.
    pub reachable: bool,
    /// State word (Patroni's).
    pub state: Option<String>,
    /// Timeline.
    pub timeline: Option<u32>,
    /// Replication lag in bytes.
    pub lag_bytes: Option<u64>,
}

/// A breaker.
#[derive(Clone, Debug, Serialize)]
pub struct BreakerReport {
    /// Breaker id.
    pub id: String,
    /// closed, open or `half_open`.
    pub state: &'static str,
    /// Failure ratio over the window, 0..=1.
    pub failure_rate: f64,
    /// How the state is known: `computed` (by the console, from call outcomes),
    /// `inferred` (a gateway's own breaker, followed from its traffic) or `reported`
    /// (by the gateway).
    pub basis: &'static str,
}

/// The latest value of a metric series.
#[derive(Clone, Debug, Serialize)]
pub struct MetricReport {
    /// The service it describes.
    pub service: String,
    /// The series' name.
    pub name: String,
    /// `seconds`, `ratio` or `count`.
    pub unit: crate::model::MetricUnit,
    /// The value.
    pub value: f64,
    /// Seconds since it was sampled.
    pub age_secs: f64,
}

/// A gateway route.
#[derive(Clone, Debug, Serialize)]
pub struct RouteReport {
    /// The route (`gateway/router`).
    pub name: String,
    /// The gateway owning it.
    pub gateway: String,
    /// The service it names.
    pub service: String,
    /// The breaker guarding it.
    pub breaker: Option<String>,
    /// The services whose servers take its traffic: its own service when that is
    /// plain, the leaves of a composed one (weighted, failover, mirroring, aggregate).
    pub leaves: Vec<String>,
    /// Where each service on its way that chooses sends its traffic now (a failover's
    /// main or fallback...), in the order the route reaches them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<ChoiceReport>,
}

/// Where a service that chooses sends its traffic.
#[derive(Clone, Debug, Serialize)]
pub struct ChoiceReport {
    /// The service that chooses.
    pub service: String,
    /// What takes its traffic; absent when nothing can.
    pub chosen: Option<String>,
    /// Its first choice takes it (a failover's main).
    pub primary: bool,
    /// Why, as the source read it.
    pub detail: String,
    /// Since when (RFC 3339).
    pub since: String,
}

/// A backend behind a gateway.
#[derive(Clone, Debug, Serialize)]
pub struct BackendReport {
    /// Instance name (an address for gateway backends).
    pub name: String,
    /// The service (backend, cluster) it belongs to.
    pub service: String,
    /// The gateways routing to that service.
    pub gateways: Vec<String>,
    /// healthy, degraded, unhealthy or unknown.
    pub health: &'static str,
    /// The last check or state, as the source words it.
    pub detail: Option<String>,
}

/// Instance counts.
#[derive(Clone, Debug, Serialize)]
pub struct InstanceReport {
    /// All instances.
    pub total: u32,
    /// Healthy.
    pub healthy: u32,
    /// Unhealthy.
    pub unhealthy: u32,
}

/// A source.
#[derive(Clone, Debug, Serialize)]
pub struct SourceReport {
    /// Source name.
    pub name: String,
    /// drill, etcd...
    pub kind: &'static str,
    /// up, down or stale.
    pub status: &'static str,
    /// Seconds since its latest event.
    pub age_secs: f64,
    /// Why it is down or stale.
    pub detail: Option<String>,
    /// `verified`, `insecure` or `plaintext`; absent until the source says (the drill
    /// never does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<&'static str>,
    /// Whole days until the server's certificate expires, negative once it has;
    /// absent until the certificate has been read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_expires_in_days: Option<i64>,
    /// When the server's certificate expires (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_expires_at: Option<String>,
    /// Whole days until the client certificate this console presents expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert_expires_in_days: Option<i64>,
    /// What is wrong with the connection's security (INSECURE, a certificate expired
    /// or expiring within 14 days), worst first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls_concerns: Vec<String>,
}

/// An incident.
#[derive(Clone, Debug, Serialize)]
pub struct IncidentReport {
    /// Number.
    pub id: u64,
    /// Title.
    pub title: String,
    /// Still open.
    pub open: bool,
    /// Detection time (RFC 3339).
    pub detected_at: String,
    /// Time to detect, seconds.
    pub mttd_secs: f64,
    /// Time to recover, seconds (when recovered).
    pub mttr_secs: Option<f64>,
}

impl StatusReport {
    /// The report of `state` as of `now` (which ages the sources).
    pub fn new(state: &State, now: Timestamp) -> Self {
        let clusters = state
            .clusters
            .iter()
            .map(|(name, c)| ClusterReport {
                name: name.to_string(),
                kind: c.kind.as_str(),
                state: c.quorum.state.as_str(),
                reason: c.quorum.reason.clone(),
                leader: c.quorum.leader.as_ref().map(ToString::to_string),
                members: c
                    .members
                    .iter()
                    .map(|(m, v)| MemberReport {
                        name: m.to_string(),
                        reachable: v.status.reachable,
                        leader: c.quorum.leader.as_ref() == Some(m),
                    })
                    .collect(),
                quorum: QuorumReport {
                    size: c.quorum.quorum,
                    voters: c.quorum.voters,
                    reachable: c.quorum.reachable,
                    tolerance: c.quorum.tolerance,
                },
            })
            .collect();
        let breakers = state
            .breakers
            .iter()
            .map(|(id, b)| BreakerReport {
                id: id.to_string(),
                state: b.state.as_str(),
                failure_rate: b.failure_rate,
                basis: match (b.computed, b.inferred.is_some()) {
                    (_, true) => "inferred",
                    (true, false) => "computed",
                    (false, false) => "reported",
                },
            })
            .collect();
        let databases = state
            .databases
            .iter()
            .map(|(name, db)| DatabaseReport {
                name: name.to_string(),
                state: match db.writable {
                    1 => "one_primary",
                    0 => "no_primary",
                    _ => "split",
                },
                primary: db.primary.as_ref().map(ToString::to_string),
                dcs_leader: db.dcs_leader.as_ref().map(ToString::to_string),
                paused: db.paused,
                members: db
                    .members
                    .iter()
                    .map(|(m, v)| DbMemberReport {
                        name: m.to_string(),
                        role: v.role,
                        reachable: v.reachable,
                        state: v.state.clone(),
                        timeline: v.timeline,
                        lag_bytes: v.lag_bytes,
                    })
                    .collect(),
            })
            .collect();
        let nodes = state
            .nodes
            .iter()
            .map(|(name, (ready, cordoned))| NodeReport {
                name: name.clone(),
                ready: *ready,
                cordoned: *cordoned,
            })
            .collect();
        let counts = state.instance_counts();
        let routes = state
            .routes
            .iter()
            .map(|(name, r)| RouteReport {
                name: name.to_string(),
                gateway: r.gateway.to_string(),
                service: r.service.to_string(),
                breaker: r.breaker.as_ref().map(ToString::to_string),
                leaves: state
                    .reach(&r.service)
                    .leaves
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                choices: state
                    .choices_from(&r.service)
                    .into_iter()
                    .map(|(service, c)| ChoiceReport {
                        service: service.to_string(),
                        chosen: c.choice.chosen.clone(),
                        primary: c.choice.primary,
                        detail: c.choice.detail.clone(),
                        since: c.since.to_rfc3339(),
                    })
                    .collect(),
            })
            .collect();
        let dns = state
            .dns
            .values()
            .map(|e| {
                let r = &e.record;
                let agreed = r.agreed();
                DnsReport {
                    name: r.name.clone(),
                    zone: r.zone.clone(),
                    source: e.source.to_string(),
                    rtype: r.rtype.clone(),
                    target: agreed.map(|(v, _)| v.to_vec()),
                    ttl_secs: agreed
                        .and_then(|(_, t)| t)
                        .or_else(|| r.reads.iter().find_map(|x| x.ttl_secs)),
                    side: r.side().as_str(),
                    service: r.service.as_ref().map(ToString::to_string),
                    since: e.since.to_rfc3339(),
                    servers: r.reads.clone(),
                    concerns: r.concerns(),
                }
            })
            .collect();
        let integrity = state
            .integrity
            .values()
            .map(|e| IntegrityReport {
                check: e.finding.check.clone(),
                subject: e.finding.subject.clone(),
                source: e.source.to_string(),
                ok: e.finding.ok,
                detail: e.finding.detail.clone(),
                since: e.since.to_rfc3339(),
            })
            .collect();
        let routed_services = state.routed_services();
        let gateways: std::collections::BTreeMap<&str, Vec<String>> = routed_services
            .iter()
            .map(|(s, g)| (s.as_str(), g.iter().map(ToString::to_string).collect()))
            .collect();
        let mut backends: Vec<BackendReport> = state
            .instances
            .iter()
            .flat_map(|(name, i)| {
                // One entry per pool the instance is in.
                i.services().filter_map(|svc| {
                    gateways.get(svc.as_str()).map(|g| BackendReport {
                        name: name.to_string(),
                        service: svc.to_string(),
                        gateways: g.clone(),
                        health: i.health.as_str(),
                        detail: i.detail.as_deref().map(str::to_owned),
                    })
                })
            })
            .collect();
        backends.sort_by(|a, b| (&a.service, &a.name).cmp(&(&b.service, &b.name)));
        let sources = state
            .sources
            .iter()
            .map(|(name, s)| {
                let t = state.transport(name.as_str());
                SourceReport {
                    name: name.to_string(),
                    kind: s.kind.as_str(),
                    status: s.status.as_str(),
                    age_secs: (now.millis_since(s.last_event_at).max(0) as f64 / 1000.0),
                    detail: s.detail.clone(),
                    tls: t.map(|t| t.tls.as_str()),
                    cert_expires_in_days: t.and_then(|t| t.server_cert_days(now)),
                    cert_expires_at: t
                        .and_then(|t| t.server_cert_not_after)
                        .map(Timestamp::to_rfc3339),
                    client_cert_expires_in_days: t.and_then(|t| t.client_cert_days(now)),
                    tls_concerns: t
                        .map(|t| t.concerns(now).into_iter().map(|c| c.words).collect())
                        .unwrap_or_default(),
                }
            })
            .collect();
        let incidents = state
            .incidents
            .incidents
            .iter()
            .map(|i| IncidentReport {
                id: i.id,
                title: i.title.clone(),
                open: i.open(),
                detected_at: i.detected_at.to_rfc3339(),
                mttd_secs: i.mttd_millis() as f64 / 1000.0,
                mttr_secs: i.mttr_millis().map(|m| m as f64 / 1000.0),
            })
            .collect();
        let metrics = state
            .all_metrics()
            .map(|m| MetricReport {
                service: m.service.to_string(),
                name: m.name.clone(),
                unit: m.unit,
                value: m.value,
                age_secs: now.millis_since(m.at).max(0) as f64 / 1000.0,
            })
            .collect();
        Self {
            drill: state.drill,
            at: now.to_rfc3339(),
            clusters,
            breakers,
            databases,
            nodes,
            instances: InstanceReport {
                total: counts.total(),
                healthy: counts.healthy,
                unhealthy: counts.unhealthy,
            },
            routes,
            dns,
            integrity,
            backends,
            metrics,
            sources,
            incidents,
        }
    }
}

/// One event as a JSON line: `at` (RFC 3339), `source`, `kind`, `subjects`, `data`.
pub fn event_json_line(ev: &Event, drill: bool) -> String {
    let body = serde_json::to_value(&ev.body).unwrap_or(serde_json::Value::Null);
    let line = serde_json::json!({
        "at": ev.at.to_rfc3339(),
        "source": ev.source.as_str(),
        "drill": drill,
        "kind": ev.body.kind_name(),
        "subjects": ev.body.subjects(),
        "data": body.get("data").cloned().unwrap_or(serde_json::Value::Null),
    });
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventBody;
    use crate::model::{Health, InstanceId, ServiceId, SourceId};

    #[test]
    fn event_line_has_the_documented_fields() {
        let ev = Event::new(
            Timestamp(1_795_000_000_000),
            SourceId::new("drill"),
            EventBody::InstanceHealth {
                instance: InstanceId::new("checkout-01"),
                service: ServiceId::new("checkout"),
                health: Health::Unhealthy,
                detail: Some("readiness 503".into()),
            },
        );
        let v: serde_json::Value = serde_json::from_str(&event_json_line(&ev, true)).expect("json");
        assert_eq!(v["at"], "2026-11-18T11:06:40.000Z");
        assert_eq!(v["source"], "drill");
        assert_eq!(v["kind"], "instance_health");
        assert_eq!(
            v["subjects"],
            serde_json::json!(["checkout-01", "checkout"])
        );
        assert_eq!(v["data"]["health"], "unhealthy");
        assert_eq!(v["drill"], true);
    }
}
