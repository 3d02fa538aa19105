//! Events: every observation a source makes, every change of a source's own status,
//! and every operator intent, each with its timestamp.
//!
//! Events are plain data (serde, tagged) so the recorder can write them and replay can
//! read them back. The state is nothing but the fold of these events
//! (see [`crate::State::apply`]).

use serde::{Deserialize, Serialize};

use crate::model::{
    BreakerConfig, BreakerId, BreakerState, Choice, ClusterId, ClusterKind, Composition, DbRole,
    DnsRecordView, Health, InstanceId, IntegrityFinding, MemberId, MetricUnit, RouteId, ServiceId,
    ServiceRole, SourceId, SourceKind, SourceStatus, Transport,
};
use crate::time::Timestamp;

/// One timestamped fact, as delivered to the reducer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it was observed (or, for intents, issued).
    pub at: Timestamp,
    /// Which source produced it (`operator` and `engine` for the console's own).
    pub source: SourceId,
    /// What happened.
    pub body: EventBody,
}

impl Event {
    /// Builds an event.
    pub fn new(at: Timestamp, source: SourceId, body: EventBody) -> Self {
        Self { at, source, body }
    }
}

/// What an event says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum EventBody {
    /// A source came up, went down, or went stale.
    SourceStatus {
        /// The kind of system behind the source.
        source_kind: SourceKind,
        /// Its new status.
        status: SourceStatus,
        /// Why (the error of a down source), for the operator.
        detail: Option<String>,
        /// True when this source is the simulated drill fleet.
        drill: bool,
    },
    /// A service exists, with its role.
    Service {
        /// The service.
        service: ServiceId,
        /// Gateway, service or database.
        role: ServiceRole,
    },
    /// `from` calls `to`.
    Edge {
        /// Caller.
        from: ServiceId,
        /// Callee.
        to: ServiceId,
    },
    /// A gateway routes `route` to `service`, optionally through a breaker.
    Route {
        /// The route.
        route: RouteId,
        /// The gateway service that owns it.
        gateway: ServiceId,
        /// Where it sends traffic.
        service: ServiceId,
        /// The breaker guarding it, if any.
        breaker: Option<BreakerId>,
    },
    /// A service is made of other services (a gateway's weighted, failover or mirroring
    /// service, an aggregate cluster): its traffic goes to `parts`, nested to any depth.
    Composed {
        /// The service.
        service: ServiceId,
        /// How it spreads its traffic.
        composition: Composition,
        /// Its parts in the gateway's order: a failover's main then its fallback, a
        /// mirroring's main then its mirrors, an aggregate's clusters by priority.
        parts: Vec<ServiceId>,
    },
    /// Where a service that chooses sends its traffic now (see [`Choice`]).
    Chose {
        /// The service.
        service: ServiceId,
        /// What takes its traffic.
        choice: Choice,
    },
    /// An instance was seen with this health.
    InstanceHealth {
        /// The instance.
        instance: InstanceId,
        /// Its service.
        service: ServiceId,
        /// Health as observed.
        health: Health,
        /// The failing check or reason, if any.
        detail: Option<String>,
    },
    /// An instance is gone (scaled down, deregistered).
    InstanceRemoved {
        /// The instance.
        instance: InstanceId,
    },
    /// A bulkhead (connection or worker pool) of a service was sampled.
    Pool {
        /// The service owning the pool.
        service: ServiceId,
        /// Pool size.
        size: u32,
        /// Slots in use.
        in_use: u32,
        /// Requests waiting for a slot.
        queued: u32,
    },
    /// A sample of a service's metric series (latency quantiles, request rates): drawn
    /// as a plot, not judged.
    Metric {
        /// The service it describes.
        service: ServiceId,
        /// The series' name (`p99 latency`).
        series: String,
        /// The value.
        value: f64,
        /// What it measures.
        #[serde(default)]
        unit: MetricUnit,
    },
    /// A breaker the console computes from call outcomes is configured.
    BreakerConfigured {
        /// The breaker.
        breaker: BreakerId,
        /// The service it protects.
        service: ServiceId,
        /// Its thresholds.
        config: BreakerConfig,
        /// Set when the breaker is a gateway's own whose state the gateway does not
        /// report: how the console infers it (the breaker is labelled "inferred").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inferred: Option<String>,
    },
    /// Call outcomes seen through a breaker since the previous sample.
    BreakerCalls {
        /// The breaker.
        breaker: BreakerId,
        /// Successful calls.
        ok: u32,
        /// Failed calls (errors, timeouts, 5xx).
        failed: u32,
    },
    /// A source that runs the breaker itself reports its state.
    BreakerReported {
        /// The breaker.
        breaker: BreakerId,
        /// The service it protects.
        service: ServiceId,
        /// Its state as the source sees it.
        state: BreakerState,
        /// Failure ratio over the source's own window (0..=1).
        failure_rate: f64,
        /// What the state means for this source (e.g. Envoy: "at capacity, rejecting").
        #[serde(default)]
        detail: Option<String>,
    },
    /// The configured membership of a consensus cluster.
    ClusterMembers {
        /// The cluster.
        cluster: ClusterId,
        /// etcd or Consul.
        cluster_kind: ClusterKind,
        /// Every member with its voter flag; replaces the previous list.
        members: Vec<MemberSpec>,
    },
    /// One member of a consensus cluster was polled.
    MemberStatus {
        /// The cluster.
        cluster: ClusterId,
        /// etcd or Consul.
        cluster_kind: ClusterKind,
        /// What the member said, or that it could not be reached.
        status: MemberStatus,
    },
    /// One member of a database cluster was polled.
    DbMember {
        /// The database cluster.
        cluster: ClusterId,
        /// The member.
        member: MemberId,
        /// Its role as the server itself reports it.
        role: DbRole,
        /// Whether it answered.
        reachable: bool,
        /// Replication lag behind the primary, in bytes.
        lag_bytes: Option<u64>,
        /// Connections in use.
        connections: u32,
        /// `max_connections`.
        max_connections: u32,
    },
    /// A database member as its Patroni agent reports it (`GET /patroni` of that
    /// member, lag from `/cluster`).
    PatroniMember {
        /// The database cluster (Patroni's scope).
        cluster: ClusterId,
        /// The member.
        member: MemberId,
        /// Whether its REST API answered.
        reachable: bool,
        /// Its role as its own agent says (`primary`/`master` -> primary).
        role: DbRole,
        /// Patroni's state word (`running`, `streaming`, `stopped`, `starting`...).
        state: Option<String>,
        /// Its PostgreSQL timeline.
        timeline: Option<u32>,
        /// Replication lag in bytes (`None`: not given or "unknown").
        lag_bytes: Option<u64>,
        /// A restart is pending to apply changed settings.
        #[serde(default)]
        pending_restart: bool,
        /// Why it is unreachable, or what is odd about its answer.
        #[serde(default)]
        detail: Option<String>,
    },
    /// A PostgreSQL server as it reports itself: `pg_is_in_recovery()` (the truth about
    /// who takes writes) and its sessions from `pg_stat_activity`.
    PgServer {
        /// The database cluster it belongs to.
        cluster: ClusterId,
        /// The member (Patroni's name, else `host:port`).
        member: MemberId,
        /// Whether a connection and the query succeeded.
        reachable: bool,
        /// `pg_is_in_recovery()`; `false` means it accepts writes.
        in_recovery: Option<bool>,
        /// Its sessions, when reachable.
        sessions: Option<PgSessions>,
        /// Why it is unreachable.
        #[serde(default)]
        detail: Option<String>,
    },
    /// A database cluster as its coordinator (Patroni's `/cluster` and `/history`)
    /// describes it: the leader per the DCS, which may be stale when the DCS lost quorum.
    DbClusterStatus {
        /// The database cluster.
        cluster: ClusterId,
        /// The leader the DCS names.
        leader: Option<MemberId>,
        /// Synchronous standbys.
        #[serde(default)]
        sync_standbys: Vec<MemberId>,
        /// Maintenance mode: no automatic failover.
        #[serde(default)]
        paused: bool,
        /// A planned switchover, in words.
        #[serde(default)]
        scheduled_switchover: Option<String>,
        /// Timeline history, oldest first.
        #[serde(default)]
        history: Vec<TimelineSwitch>,
    },
    /// A service's replicas as its orchestrator counts them (a Kubernetes Deployment).
    Replicas {
        /// The service.
        service: ServiceId,
        /// Wanted.
        desired: u32,
        /// Ready.
        ready: u32,
        /// Available (ready for the minimum time).
        available: u32,
    },
    /// A cluster node's condition (Kubernetes).
    NodeStatus {
        /// Node name.
        node: String,
        /// Its `Ready` condition is true.
        ready: bool,
        /// Cordoned: no new pods are scheduled on it.
        cordoned: bool,
    },
    /// A warning a system raised (a Kubernetes `Warning` event), for the log.
    Notice {
        /// What it is about (`namespace/name`).
        subject: String,
        /// `Reason: message`.
        message: String,
    },
    /// A simulated fault started in the drill; marks the true start for MTTD.
    FaultInjected {
        /// Fault name (`connection_leak`).
        fault: String,
        /// What it does, for the log.
        description: String,
    },
    /// An operator asked for something.
    Intent {
        /// Who (the OS user).
        operator: String,
        /// What.
        intent: Intent,
    },
    /// How the source's connection is secured, and when its certificates expire: said
    /// when the source starts and whenever it learns more (a server certificate read).
    SourceTransport {
        /// Its TLS and certificates.
        transport: Transport,
    },
    /// A public name as a DNS source read it: where it points on each authoritative
    /// server (or the Route53 API), its TTL and the servers' SOA serials.
    DnsRecord {
        /// The record; replaces what the source said of that name before.
        record: DnsRecordView,
    },
    /// An integrity check's finding on one subject (data that differs between members,
    /// a page that fails its checksum, a replica that stopped replaying): a failing one
    /// is a Sev-1 incident.
    Integrity {
        /// The finding; replaces what the source said of that check and subject before.
        finding: IntegrityFinding,
    },
    /// The source is alive and everything it said still holds. The engine records one
    /// a second for a source that only repeated itself, instead of the repetitions:
    /// an unchanged fact is not an event, but the source's liveness is.
    Heartbeat,
}

impl EventBody {
    /// Every variant's serde tag: the kinds this build reads from a session file.
    pub const KIND_NAMES: [&'static str; 28] = [
        "source_status",
        "service",
        "edge",
        "route",
        "composed",
        "chose",
        "instance_health",
        "instance_removed",
        "pool",
        "metric",
        "breaker_configured",
        "breaker_calls",
        "breaker_reported",
        "cluster_members",
        "member_status",
        "db_member",
        "patroni_member",
        "pg_server",
        "db_cluster_status",
        "replicas",
        "node_status",
        "notice",
        "fault_injected",
        "intent",
        "source_transport",
        "dns_record",
        "integrity",
        "heartbeat",
    ];

    /// The serde tag of this variant (`member_status`), used as the session file's kind column.
    pub const fn kind_name(&self) -> &'static str {
        match self {
            Self::SourceStatus { .. } => "source_status",
            Self::Service { .. } => "service",
            Self::Edge { .. } => "edge",
            Self::Route { .. } => "route",
            Self::Composed { .. } => "composed",
            Self::Chose { .. } => "chose",
            Self::InstanceHealth { .. } => "instance_health",
            Self::InstanceRemoved { .. } => "instance_removed",
            Self::Pool { .. } => "pool",
            Self::Metric { .. } => "metric",
            Self::BreakerConfigured { .. } => "breaker_configured",
            Self::BreakerCalls { .. } => "breaker_calls",
            Self::BreakerReported { .. } => "breaker_reported",
            Self::ClusterMembers { .. } => "cluster_members",
            Self::MemberStatus { .. } => "member_status",
            Self::DbMember { .. } => "db_member",
            Self::PatroniMember { .. } => "patroni_member",
            Self::PgServer { .. } => "pg_server",
            Self::DbClusterStatus { .. } => "db_cluster_status",
            Self::Replicas { .. } => "replicas",
            Self::NodeStatus { .. } => "node_status",
            Self::Notice { .. } => "notice",
            Self::FaultInjected { .. } => "fault_injected",
            Self::Intent { .. } => "intent",
            Self::SourceTransport { .. } => "source_transport",
            Self::DnsRecord { .. } => "dns_record",
            Self::Integrity { .. } => "integrity",
            Self::Heartbeat => "heartbeat",
        }
    }

    /// A reading of a series (a metric sample, breaker calls, a pool's fill) or a
    /// heartbeat: applied like any event, but no change of a fact, so `watch` prints
    /// it only with `--all`.
    pub const fn is_reading(&self) -> bool {
        matches!(
            self,
            Self::Metric { .. } | Self::BreakerCalls { .. } | Self::Pool { .. } | Self::Heartbeat
        )
    }

    /// Names of the things this event concerns (services, instances, clusters...).
    pub fn subjects(&self) -> Vec<&str> {
        match self {
            Self::SourceStatus { .. }
            | Self::SourceTransport { .. }
            | Self::FaultInjected { .. }
            | Self::Heartbeat => Vec::new(),
            Self::Service { service, .. }
            | Self::Replicas { service, .. }
            | Self::Pool { service, .. }
            | Self::Metric { service, .. }
            | Self::Composed { service, .. }
            | Self::Chose { service, .. } => vec![service.as_str()],
            Self::Edge { from, to } => vec![from.as_str(), to.as_str()],
            Self::Route {
                route,
                gateway,
                service,
                ..
            } => {
                vec![route.as_str(), gateway.as_str(), service.as_str()]
            }
            Self::InstanceHealth {
                instance, service, ..
            } => {
                vec![instance.as_str(), service.as_str()]
            }
            Self::InstanceRemoved { instance } => vec![instance.as_str()],
            Self::Integrity { finding } => vec![finding.subject.as_str()],
            Self::DnsRecord { record } => std::iter::once(record.name.as_str())
                .chain(record.service.as_ref().map(ServiceId::as_str))
                .collect(),
            Self::BreakerConfigured {
                breaker, service, ..
            }
            | Self::BreakerReported {
                breaker, service, ..
            } => {
                vec![breaker.as_str(), service.as_str()]
            }
            Self::BreakerCalls { breaker, .. } => vec![breaker.as_str()],
            Self::ClusterMembers { cluster, .. } | Self::DbClusterStatus { cluster, .. } => {
                vec![cluster.as_str()]
            }
            Self::MemberStatus {
                cluster, status, ..
            } => {
                vec![cluster.as_str(), status.member.as_str()]
            }
            Self::DbMember {
                cluster, member, ..
            }
            | Self::PatroniMember {
                cluster, member, ..
            }
            | Self::PgServer {
                cluster, member, ..
            } => vec![cluster.as_str(), member.as_str()],
            Self::Intent { intent, .. } => intent.subjects(),
            Self::NodeStatus { node, .. } => vec![node.as_str()],
            Self::Notice { subject, .. } => vec![subject.as_str()],
        }
    }
}

/// A PostgreSQL server's sessions (`pg_stat_activity`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PgSessions {
    /// Client sessions, the console's own included.
    pub connections: u32,
    /// `max_connections`.
    pub max_connections: u32,
    /// Running a query.
    pub active: u32,
    /// Idle.
    pub idle: u32,
    /// Idle inside an open transaction (a leak's signature).
    pub idle_in_transaction: u32,
    /// Waiting on a lock.
    pub waiting: u32,
    /// Age of the oldest open transaction, seconds.
    pub oldest_xact_secs: Option<f64>,
}

/// One timeline switch of a database cluster (Patroni's `/history`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineSwitch {
    /// The timeline that ended.
    pub timeline: u32,
    /// The WAL position where it ended.
    pub lsn: u64,
    /// Why (`no recovery target specified`).
    pub reason: String,
    /// When, as Patroni wrote it.
    pub at: String,
    /// The new leader, when Patroni records it (4.x).
    #[serde(default)]
    pub new_leader: Option<String>,
}

/// A member in a cluster's configured membership.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSpec {
    /// Member name.
    pub member: MemberId,
    /// Whether it votes (learners and non-voters do not count toward quorum).
    pub voter: bool,
}

/// What one poll of one consensus member found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStatus {
    /// Member name.
    pub member: MemberId,
    /// The endpoint polled, if any.
    pub endpoint: Option<String>,
    /// Whether it answered.
    pub reachable: bool,
    /// Whether it votes.
    pub voter: bool,
    /// The member this one believes is leader (`None`: no leader, or unreachable).
    pub leader: Option<MemberId>,
    /// Raft term as this member sees it.
    pub term: u64,
    /// Raft index.
    pub index: u64,
    /// Database size, in bytes.
    pub db_size_bytes: Option<u64>,
    /// Active alarms on this member (`NOSPACE`, `CORRUPT`); a member with one is not healthy.
    pub alarms: Vec<String>,
    /// Errors the member reported, or why it could not be reached.
    pub error: Option<String>,
}

/// Something an operator asked for. Recorded like any observation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "intent", rename_all = "snake_case")]
pub enum Intent {
    /// Start a scripted fault in the drill fleet now.
    DrillInject {
        /// Which fault.
        fault: DrillFault,
    },
    /// Acknowledge an open incident (the operator is on it).
    AckIncident {
        /// Incident number.
        incident: u64,
    },
}

impl Intent {
    fn subjects(&self) -> Vec<&str> {
        match self {
            Self::DrillInject { fault } => vec![fault.as_str()],
            Self::AckIncident { .. } => Vec::new(),
        }
    }
}

/// The drill's scripted faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrillFault {
    /// The Sev-0 connection-pool leak of domain.md §8.
    ConnectionLeak,
    /// One consensus member lost, then a second (quorum lost), then recovery.
    QuorumLoss,
    /// One instance flaps between healthy and unhealthy.
    Flapping,
}

impl DrillFault {
    /// Every fault, in menu order.
    pub const ALL: [Self; 3] = [Self::ConnectionLeak, Self::QuorumLoss, Self::Flapping];

    /// Snake-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionLeak => "connection_leak",
            Self::QuorumLoss => "quorum_loss",
            Self::Flapping => "flapping",
        }
    }

    /// One line for menus and the log.
    pub const fn description(self) -> &'static str {
        match self {
            Self::ConnectionLeak => {
                "checkout leaks database connections: pool saturates, breakers trip, readiness fails"
            }
            Self::QuorumLoss => {
                "drill-etcd loses one member, then a second (quorum lost), then recovers"
            }
            Self::Flapping => "one search instance flaps between healthy and unhealthy",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_shape_is_tagged() {
        let ev = Event::new(
            Timestamp(5),
            SourceId::new("drill"),
            EventBody::BreakerCalls {
                breaker: BreakerId::new("edge/checkout"),
                ok: 3,
                failed: 1,
            },
        );
        let json = serde_json::to_value(&ev).expect("serialize");
        assert_eq!(json["body"]["kind"], "breaker_calls");
        assert_eq!(json["body"]["data"]["failed"], 1);
        assert_eq!(json["at"], 5);
        let back: Event = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, ev);
    }

    #[test]
    fn kind_name_matches_serde_tag() {
        let bodies = [
            EventBody::InstanceRemoved {
                instance: InstanceId::new("a"),
            },
            EventBody::FaultInjected {
                fault: "x".into(),
                description: "y".into(),
            },
            EventBody::Intent {
                operator: "op".into(),
                intent: Intent::DrillInject {
                    fault: DrillFault::Flapping,
                },
            },
        ];
        for body in bodies {
            let json = serde_json::to_value(&body).expect("serialize");
            assert_eq!(json["kind"], body.kind_name());
        }
    }

    #[test]
    fn every_kind_a_drill_emits_is_a_known_kind() {
        let mut seen = std::collections::BTreeSet::new();
        for ev in crate::sources::drill::simulate(7, 60, 600) {
            seen.insert(ev.body.kind_name());
        }
        for k in &seen {
            assert!(
                EventBody::KIND_NAMES.contains(k),
                "{k} is not in KIND_NAMES"
            );
        }
        assert!(seen.len() > 5, "the drill emits many kinds: {seen:?}");
    }
}
