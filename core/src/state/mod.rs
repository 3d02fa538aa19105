//! The console's state: a pure, deterministic fold of [`Event`]s.
//!
//! [`State::apply`] reads no clock, draws no random number and does no I/O: time comes
//! only from `event.at`. Live mode, replay and tests all call this one function, so
//! replaying a recorded stream rebuilds exactly the state the console showed.
//!
//! Derived views are updated from the same events: quorum per consensus cluster
//! ([`quorum`]), the breaker state machine ([`breaker`]), incidents with MTTD/MTTR
//! ([`incident`]) and instance flapping (here).
//!
//! Snapshots of the state are cloned for the UI after every batch of events, so the
//! heavy parts are built to clone cheaply: ids are shared strings and the log is a
//! shared ring of shared entries.

mod breaker;
mod composition;
mod digest;
mod dns;
mod incident;
mod integrity;
mod quiet;
mod quorum;
mod series;
mod snapshot;
mod transport;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use self::breaker::{Breaker, Flip};
pub use self::composition::{Chosen, Composite, Reach};
pub use self::dns::DnsEntry;
pub use self::incident::{INCIDENTS_KEPT, Incident, IncidentTracker, Subject};
pub use self::integrity::IntegrityEntry;
pub use self::quorum::{MemberView, QuorumView, evaluate as evaluate_quorum, quorum_size};
pub use self::series::MetricSeries;

use crate::event::{Event, EventBody, Intent, MemberSpec, MemberStatus};
use crate::model::{
    BreakerConfig, BreakerId, BreakerState, ClusterId, ClusterKind, DbRole, Health, InstanceId,
    MemberId, QuorumState, RouteId, ServiceId, ServiceRole, SourceId, SourceKind, SourceStatus,
};
use crate::time::Timestamp;

/// Log entries kept for the event-log panel.
const LOG_CAPACITY: usize = 2000;
/// Health transitions within this window make an instance flapping...
const FLAP_WINDOW_MILLIS: i64 = 60_000;
/// ...when there are at least this many.
const FLAP_TRANSITIONS: usize = 4;

/// A source as the console sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// What it observes.
    pub kind: SourceKind,
    /// Up, down or stale.
    pub status: SourceStatus,
    /// Time of its latest event (the freshness of what it shows).
    pub last_event_at: Timestamp,
    /// When its status last changed.
    pub status_since: Timestamp,
    /// Why it is down or stale.
    pub detail: Option<String>,
    /// Events received from it.
    pub events: u64,
    /// Whether it is the drill.
    pub drill: bool,
}

/// Instance counts by health.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCounts {
    /// Healthy instances.
    pub healthy: u32,
    /// Degraded instances.
    pub degraded: u32,
    /// Unhealthy instances.
    pub unhealthy: u32,
    /// Instances of unknown health.
    pub unknown: u32,
}

impl HealthCounts {
    /// All instances.
    pub const fn total(&self) -> u32 {
        self.healthy + self.degraded + self.unhealthy + self.unknown
    }

    fn slot(&mut self, h: Health) -> &mut u32 {
        match h {
            Health::Healthy => &mut self.healthy,
            Health::Degraded => &mut self.degraded,
            Health::Unhealthy => &mut self.unhealthy,
            Health::Unknown => &mut self.unknown,
        }
    }
}

/// A sampled bulkhead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// Pool size.
    pub size: u32,
    /// Slots in use.
    pub in_use: u32,
    /// Requests waiting.
    pub queued: u32,
}

impl Instance {
    /// Every service it is a member of, the first one first.
    pub fn services(&self) -> impl Iterator<Item = &ServiceId> {
        std::iter::once(&self.service).chain(self.also.iter())
    }

    /// How many sources report it.
    pub fn sources_reporting(&self) -> usize {
        self.views.len()
    }
}

/// A service's health from its instances (and whether its pool is saturated):
/// unhealthy when fewer than half are healthy, degraded when any is not or the pool is
/// at least 90 % used, unknown when there are none or all are unknown.
fn health_of(c: HealthCounts, saturated: bool) -> Health {
    let total = c.total();
    if total == 0 {
        if saturated {
            Health::Degraded
        } else {
            Health::Unknown
        }
    } else if c.unknown == total {
        Health::Unknown
    } else if c.healthy * 2 < total {
        Health::Unhealthy
    } else if c.healthy < total || saturated {
        Health::Degraded
    } else {
        Health::Healthy
    }
}

/// Severity rank for combining views: unhealthy is worst; unknown counts least.
const fn rank(h: Health) -> u8 {
    match h {
        Health::Unknown => 0,
        Health::Healthy => 1,
        Health::Degraded => 2,
        Health::Unhealthy => 3,
    }
}

impl Pool {
    /// In-use share of the pool, 0..=1.
    pub fn saturation(&self) -> f64 {
        if self.size == 0 {
            0.0
        } else {
            f64::from(self.in_use) / f64::from(self.size)
        }
    }
}

/// A service and its derived health.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Gateway, service or database.
    pub role: ServiceRole,
    /// Its instances by health.
    pub counts: HealthCounts,
    /// Its connection pool, if sampled.
    pub pool: Option<Pool>,
    /// Derived: unhealthy when fewer than half its instances are healthy, degraded when
    /// any is not healthy or the pool is at least 90 % used.
    pub health: Health,
    /// Last time it was seen healthy.
    pub healthy_at: Option<Timestamp>,
    /// Replicas (desired, ready, available) as its orchestrator counts them.
    pub replicas: Option<(u32, u32, u32)>,
}

/// One instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Its service: the first one it was seen in.
    pub service: ServiceId,
    /// Other services (pools) it is a member of, as other sources see it: one backend
    /// behind HAProxy, Envoy and Traefik is one instance in three pools.
    pub also: Vec<ServiceId>,
    /// The source that first reported it.
    pub source: SourceId,
    /// Current health: the worst any source reports (unknown only when all say unknown).
    pub health: Health,
    /// When the health last changed.
    pub since: Timestamp,
    /// When it was last reported.
    pub seen_at: Timestamp,
    /// Health transitions within the last minute reached the flapping threshold.
    pub flapping: bool,
    /// The failing check, if any.
    pub detail: Option<Arc<str>>,
    /// Each source's latest view: (source, health, detail).
    views: Vec<(SourceId, Health, Option<Arc<str>>)>,
    /// Times of recent transitions (a small ring).
    transitions: [Timestamp; FLAP_TRANSITIONS],
    next_transition: u8,
}

/// A gateway route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The gateway that owns it.
    pub gateway: ServiceId,
    /// Its target service.
    pub service: ServiceId,
    /// Its breaker, if any.
    pub breaker: Option<BreakerId>,
}

/// A consensus cluster and its derived quorum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsensusCluster {
    /// etcd or Consul.
    pub kind: ClusterKind,
    /// Who reports it.
    pub source: SourceId,
    /// Members by name.
    pub members: BTreeMap<MemberId, MemberView>,
    /// Derived quorum view.
    pub quorum: QuorumView,
    /// Leader changes seen.
    pub leader_changes: u32,
    /// When the leader last changed.
    pub leader_since: Option<Timestamp>,
    /// Last time the quorum was healthy.
    pub healthy_at: Option<Timestamp>,
    /// The source declared the membership (`ClusterMembers`). Until then, and until each
    /// member was polled once, the partial view opens no incident.
    pub membership_known: bool,
    /// The quorum has been judged with a complete view at least once.
    judged: bool,
}

/// One member of a database cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DbMemberView {
    /// Role reported by the server itself.
    pub role: DbRole,
    /// Whether it answered.
    pub reachable: bool,
    /// Replication lag, bytes.
    pub lag_bytes: Option<u64>,
    /// Connections in use.
    pub connections: u32,
    /// `max_connections`.
    pub max_connections: u32,
    /// Last poll.
    pub seen_at: Timestamp,
    /// Its coordinator's state word (Patroni: `running`, `streaming`, `stopped`...).
    pub state: Option<String>,
    /// Its timeline.
    pub timeline: Option<u32>,
    /// A restart is pending.
    pub pending_restart: bool,
    /// Why it is unreachable, or what is odd.
    pub detail: Option<String>,
    /// Whether its PostgreSQL takes writes, as the server itself says
    /// (`pg_is_in_recovery()`); decides over every other source when known.
    pub writable: Option<bool>,
    /// Its sessions, from the server.
    pub sessions: Option<crate::event::PgSessions>,
    /// Why the server itself could not be asked.
    pub server_detail: Option<String>,
}

/// A database cluster (primary and replicas).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DbCluster {
    /// Members by name.
    pub members: BTreeMap<MemberId, DbMemberView>,
    /// The single reachable primary, if there is exactly one.
    pub primary: Option<MemberId>,
    /// Reachable members that accept writes (more than one is a split brain).
    pub writable: u32,
    /// Last time it had exactly one primary.
    pub healthy_at: Option<Timestamp>,
    /// The leader its coordinator's DCS names (Patroni); may be stale when the DCS
    /// has lost quorum, so the servers' own roles decide `primary` and `writable`.
    pub dcs_leader: Option<MemberId>,
    /// Synchronous standbys.
    pub sync_standbys: Vec<MemberId>,
    /// Maintenance mode (no automatic failover).
    pub paused: bool,
    /// A planned switchover.
    pub scheduled_switchover: Option<String>,
    /// Timeline history, oldest first.
    pub history: Vec<crate::event::TimelineSwitch>,
    /// When the current primary became primary (for failover durations).
    pub primary_since: Option<Timestamp>,
}

/// How loud a log entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something recovered.
    Good,
    /// Routine.
    Info,
    /// Worth a look.
    Warn,
    /// Act now.
    Critical,
}

/// A notable change, for the event log (routine samples are not logged).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// When.
    pub at: Timestamp,
    /// Which source's event caused it.
    pub source: SourceId,
    /// How loud.
    pub severity: Severity,
    /// What it concerns (a service, instance, cluster...).
    pub subject: String,
    /// What happened, one line.
    pub message: String,
}

/// Everything the console knows, folded from events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Time of the latest event applied.
    pub now: Timestamp,
    /// Events applied so far.
    pub events_applied: u64,
    /// True when any source is the drill: every screen and output must say so.
    pub drill: bool,
    /// Sources by name.
    pub sources: BTreeMap<SourceId, SourceInfo>,
    /// Services by name.
    pub services: BTreeMap<ServiceId, Service>,
    /// Instances by name.
    pub instances: HashMap<InstanceId, Instance>,
    /// Calls between services (caller, callee).
    pub edges: BTreeSet<(ServiceId, ServiceId)>,
    /// Gateway routes.
    pub routes: BTreeMap<RouteId, Route>,
    /// Breakers.
    pub breakers: BTreeMap<BreakerId, Breaker>,
    /// Metric series by service, then by name.
    pub metrics: BTreeMap<ServiceId, BTreeMap<String, MetricSeries>>,
    /// Consensus clusters.
    pub clusters: BTreeMap<ClusterId, ConsensusCluster>,
    /// Database clusters.
    pub databases: BTreeMap<ClusterId, DbCluster>,
    /// Cluster nodes (Kubernetes): ready, cordoned.
    pub nodes: BTreeMap<String, (bool, bool)>,
    /// Incidents and the set of unhealthy subjects.
    pub incidents: IncidentTracker,
    /// Bumped whenever services, edges or routes change, so views can cache a layout.
    pub topology_version: u64,
    /// Notable changes, newest last, at most 2000.
    pub log: Arc<VecDeque<Arc<LogEntry>>>,
    /// Each source's connection security, once it said it. Written to snapshots after
    /// the rest (see `snapshot.rs`), so snapshots made before it existed still read.
    #[serde(skip)]
    pub transports: BTreeMap<SourceId, crate::model::Transport>,
    /// The sources that have sent a heartbeat: each of their events vouches that what
    /// they said before held until then (see `quiet.rs`). In snapshots' trailer.
    #[serde(skip)]
    pub vouched: BTreeSet<SourceId>,
    /// The instances flapping now, so a heartbeat ends the ones whose window passed
    /// without a look at every instance. Derived from `instances`.
    #[serde(skip)]
    flapping: BTreeSet<InstanceId>,
    /// Services made of other services (weighted, failover, mirroring, aggregate), by
    /// name. In the snapshot's trailer, like the transports.
    #[serde(skip)]
    pub composites: BTreeMap<ServiceId, Composite>,
    /// Where each service that chooses sends its traffic now. In the snapshot's trailer.
    #[serde(skip)]
    pub choices: BTreeMap<ServiceId, Chosen>,
    /// Public names by their full name, as the DNS sources read them. In the
    /// snapshot's trailer.
    #[serde(skip)]
    pub dns: BTreeMap<String, DnsEntry>,
    /// Integrity findings by check and subject (`pg checksums: orders-db/node2`). In
    /// the snapshot's trailer.
    #[serde(skip)]
    pub integrity: BTreeMap<String, IntegrityEntry>,
}

impl State {
    /// The series `name` of `service`, if sampled.
    pub fn metric(&self, service: &str, name: &str) -> Option<&MetricSeries> {
        self.metrics.get(service)?.get(name)
    }

    /// Every metric series.
    pub fn all_metrics(&self) -> impl Iterator<Item = &MetricSeries> {
        self.metrics.values().flat_map(BTreeMap::values)
    }

    /// Folds one event into the state. Pure and deterministic.
    pub fn apply(&mut self, ev: &Event) {
        self.now = self.now.max(ev.at);
        self.events_applied += 1;
        let stale_marker = matches!(
            ev.body,
            EventBody::SourceStatus {
                status: SourceStatus::Stale,
                ..
            }
        );
        let mut fresh_again = false;
        if let Some(src) = self.sources.get_mut(&ev.source) {
            src.events += 1;
            // A stale source that reports again is up again.
            if src.status == SourceStatus::Stale
                && !matches!(ev.body, EventBody::SourceStatus { .. })
            {
                src.status = SourceStatus::Up;
                src.status_since = ev.at;
                src.detail = None;
                fresh_again = true;
            }
        }
        if fresh_again {
            self.log(
                ev,
                Severity::Good,
                ev.source.as_str(),
                "source reporting again".to_owned(),
            );
        }
        self.apply_body(ev);
        // Last: while the body is folded, the source's time is still when it last
        // spoke, which vouches for what it said before (see `quiet.rs`). A staleness
        // marker says the source is silent; it is not fresh data.
        if !stale_marker && let Some(src) = self.sources.get_mut(&ev.source) {
            src.last_event_at = src.last_event_at.max(ev.at);
        }
    }

    /// What an event's body changes.
    fn apply_body(&mut self, ev: &Event) {
        match &ev.body {
            EventBody::SourceStatus {
                source_kind,
                status,
                detail,
                drill,
            } => {
                self.source_status(ev, *source_kind, *status, detail.as_deref(), *drill);
            }
            EventBody::Service { service, role } => {
                let new = !self.services.contains_key(service);
                let s = self.services.entry(service.clone()).or_default();
                if new || s.role != *role {
                    s.role = *role;
                    self.topology_version += 1;
                }
            }
            EventBody::Edge { from, to } => {
                self.ensure_service(from);
                self.ensure_service(to);
                if self.edges.insert((from.clone(), to.clone())) {
                    self.topology_version += 1;
                }
            }
            EventBody::Route {
                route,
                gateway,
                service,
                breaker,
            } => {
                self.ensure_service(gateway);
                self.ensure_service(service);
                let r = Route {
                    gateway: gateway.clone(),
                    service: service.clone(),
                    breaker: breaker.clone(),
                };
                if self.routes.get(route) != Some(&r) {
                    self.routes.insert(route.clone(), r);
                    self.topology_version += 1;
                }
            }
            EventBody::Composed {
                service,
                composition,
                parts,
            } => self.composed(service, *composition, parts),
            EventBody::Chose { service, choice } => self.chose(ev, service, choice),
            EventBody::InstanceHealth {
                instance,
                service,
                health,
                detail,
            } => {
                self.instance_health(ev, instance, service, *health, detail.as_deref());
            }
            EventBody::InstanceRemoved { instance } => {
                if let Some(old) = self.instances.remove(instance) {
                    self.flapping.remove(instance);
                    let members: Vec<ServiceId> = old.services().cloned().collect();
                    for m in &members {
                        if let Some(s) = self.services.get_mut(m) {
                            *s.counts.slot(old.health) -= 1;
                        }
                    }
                    self.topology_version += 1;
                    for m in &members {
                        self.recompute_service(m, ev);
                    }
                }
            }
            EventBody::Pool {
                service,
                size,
                in_use,
                queued,
            } => {
                self.ensure_service(service);
                if let Some(s) = self.services.get_mut(service) {
                    s.pool = Some(Pool {
                        size: *size,
                        in_use: *in_use,
                        queued: *queued,
                    });
                }
                self.recompute_service(service, ev);
            }
            EventBody::Metric {
                service,
                series,
                value,
                unit,
            } => {
                self.ensure_service(service);
                // Found without allocating: a sample is one of the most frequent events.
                let by_name = self.metrics.entry(service.clone()).or_default();
                if !by_name.contains_key(series.as_str()) {
                    by_name.insert(
                        series.clone(),
                        MetricSeries {
                            service: service.clone(),
                            name: series.clone(),
                            unit: *unit,
                            source: ev.source.clone(),
                            value: *value,
                            at: ev.at,
                            history: Arc::default(),
                        },
                    );
                }
                let Some(m) = by_name.get_mut(series.as_str()) else {
                    return;
                };
                m.unit = *unit;
                m.value = *value;
                m.at = ev.at;
                if value.is_finite() {
                    series::remember(&mut m.history, ev.at, *value);
                }
            }
            EventBody::BreakerConfigured {
                breaker,
                service,
                config,
                inferred,
            } => {
                self.ensure_service(service);
                let b = self.breakers.entry(breaker.clone()).or_insert_with(|| {
                    Breaker::new(ev.source.clone(), Some(service.clone()), *config, true)
                });
                b.config = *config;
                b.service = Some(service.clone());
                b.inferred.clone_from(inferred);
            }
            EventBody::BreakerCalls {
                breaker,
                ok,
                failed,
            } => {
                let b = self.breakers.entry(breaker.clone()).or_insert_with(|| {
                    Breaker::new(ev.source.clone(), None, BreakerConfig::default(), true)
                });
                let flips = b.on_calls(ev.at, *ok, *failed);
                for flip in flips {
                    self.breaker_flipped(ev, breaker, flip);
                }
            }
            EventBody::BreakerReported {
                breaker,
                service,
                state,
                failure_rate,
                detail,
            } => {
                let b = self.breakers.entry(breaker.clone()).or_insert_with(|| {
                    Breaker::new(
                        ev.source.clone(),
                        Some(service.clone()),
                        BreakerConfig::default(),
                        false,
                    )
                });
                b.detail.clone_from(detail);
                if let Some(flip) = b.on_reported(ev.at, *state, *failure_rate) {
                    self.breaker_flipped(ev, breaker, flip);
                }
            }
            EventBody::ClusterMembers {
                cluster,
                cluster_kind,
                members,
            } => {
                self.cluster_members(ev, cluster, *cluster_kind, members);
            }
            EventBody::MemberStatus {
                cluster,
                cluster_kind,
                status,
            } => {
                self.member_status(ev, cluster, *cluster_kind, status);
            }
            EventBody::DbMember {
                cluster, member, ..
            }
            | EventBody::PatroniMember {
                cluster, member, ..
            }
            | EventBody::PgServer {
                cluster, member, ..
            } => {
                self.db_member(ev, cluster, member, |view| {
                    quiet::update_db_view(view, &ev.body);
                });
            }
            EventBody::Replicas {
                service,
                desired,
                ready,
                available,
            } => {
                self.ensure_service(service);
                if let Some(s) = self.services.get_mut(service) {
                    let before = s.replicas.replace((*desired, *ready, *available));
                    let short = |r: Option<(u32, u32, u32)>| r.is_some_and(|(d, r, _)| r < d);
                    let now = Some((*desired, *ready, *available));
                    if short(before) != short(now) || (before.is_none() && short(now)) {
                        let (sev, what) = if short(now) {
                            (
                                Severity::Warn,
                                format!("{ready} of {desired} replicas ready"),
                            )
                        } else {
                            (Severity::Good, format!("all {desired} replicas ready"))
                        };
                        self.log(ev, sev, service.as_str(), what);
                    }
                }
            }
            EventBody::NodeStatus {
                node,
                ready,
                cordoned,
            } => {
                let before = self.nodes.insert(node.clone(), (*ready, *cordoned));
                if before != Some((*ready, *cordoned)) && (before.is_some() || !*ready || *cordoned)
                {
                    let (sev, what) = match (ready, cordoned) {
                        (false, _) => (Severity::Critical, "node not ready".to_owned()),
                        (true, true) => (Severity::Warn, "node cordoned".to_owned()),
                        (true, false) => (Severity::Good, "node ready and schedulable".to_owned()),
                    };
                    self.log(ev, sev, node, what);
                }
            }
            EventBody::Notice { subject, message } => {
                self.log(ev, Severity::Warn, subject, message.clone());
            }
            EventBody::DbClusterStatus {
                cluster,
                leader,
                sync_standbys,
                paused,
                scheduled_switchover,
                history,
            } => {
                let db = self.databases.entry(cluster.clone()).or_default();
                let leader_changed = db.dcs_leader != *leader;
                let pause_changed = db.paused != *paused;
                db.dcs_leader.clone_from(leader);
                db.sync_standbys.clone_from(sync_standbys);
                db.paused = *paused;
                db.scheduled_switchover.clone_from(scheduled_switchover);
                db.history.clone_from(history);
                if leader_changed {
                    let what = leader.as_ref().map_or_else(
                        || "the DCS names no leader".to_owned(),
                        |l| format!("the DCS names {l} leader"),
                    );
                    self.log(ev, Severity::Info, cluster.as_str(), what);
                }
                if pause_changed {
                    let what = if *paused {
                        "maintenance mode: paused, no automatic failover"
                    } else {
                        "maintenance mode off: automatic failover resumed"
                    };
                    self.log(ev, Severity::Warn, cluster.as_str(), what.to_owned());
                }
            }
            EventBody::FaultInjected { fault, description } => {
                self.incidents.fault_injected(ev.at, fault);
                self.log(
                    ev,
                    Severity::Warn,
                    fault,
                    format!("drill fault injected: {description}"),
                );
            }
            EventBody::SourceTransport { transport } => self.source_transport(ev, transport),
            EventBody::DnsRecord { record } => self.dns_record(ev, record),
            EventBody::Integrity { finding } => self.integrity(ev, finding),
            EventBody::Heartbeat => self.heartbeat(ev),
            EventBody::Intent { operator, intent } => match intent {
                Intent::AckIncident { incident } => {
                    self.incidents.ack(*incident, operator);
                    self.log(
                        ev,
                        Severity::Info,
                        &format!("incident #{incident}"),
                        format!("acknowledged by {operator}"),
                    );
                }
                Intent::DrillInject { fault } => {
                    self.log(
                        ev,
                        Severity::Info,
                        fault.as_str(),
                        format!("{operator} asked the drill for {}", fault.as_str()),
                    );
                }
            },
        }
    }

    /// Applies events in order.
    pub fn apply_all<'a>(&mut self, events: impl IntoIterator<Item = &'a Event>) {
        for ev in events {
            self.apply(ev);
        }
    }

    /// The open incident, if any.
    pub fn open_incident(&self) -> Option<&Incident> {
        self.incidents.open()
    }

    /// Instance counts over the whole fleet.
    pub fn instance_counts(&self) -> HealthCounts {
        let mut c = HealthCounts::default();
        for s in self.services.values() {
            c.healthy += s.counts.healthy;
            c.degraded += s.counts.degraded;
            c.unhealthy += s.counts.unhealthy;
            c.unknown += s.counts.unknown;
        }
        c
    }

    fn log(&mut self, ev: &Event, severity: Severity, subject: &str, message: String) {
        let log = Arc::make_mut(&mut self.log);
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(Arc::new(LogEntry {
            at: ev.at,
            source: ev.source.clone(),
            severity,
            subject: subject.to_owned(),
            message,
        }));
    }

    fn source_status(
        &mut self,
        ev: &Event,
        kind: SourceKind,
        status: SourceStatus,
        detail: Option<&str>,
        drill: bool,
    ) {
        self.drill |= drill;
        let entry = self
            .sources
            .entry(ev.source.clone())
            .or_insert_with(|| SourceInfo {
                kind,
                status,
                last_event_at: ev.at,
                status_since: ev.at,
                detail: None,
                events: 1,
                drill,
            });
        let changed = entry.status != status || entry.events == 1;
        if entry.status != status {
            entry.status_since = ev.at;
        }
        entry.status = status;
        entry.detail = detail.map(str::to_owned);
        if changed {
            let (sev, what) = match status {
                SourceStatus::Up => (Severity::Good, "up".to_owned()),
                SourceStatus::Down => (
                    Severity::Critical,
                    format!("down: {}", detail.unwrap_or("no detail")),
                ),
                SourceStatus::Stale => (
                    Severity::Warn,
                    format!("stale: {}", detail.unwrap_or("no recent report")),
                ),
            };
            self.log(ev, sev, ev.source.as_str(), format!("source {what}"));
        }
    }

    fn ensure_service(&mut self, service: &ServiceId) {
        if !self.services.contains_key(service) {
            self.services.insert(service.clone(), Service::default());
            self.topology_version += 1;
        }
    }

    fn instance_health(
        &mut self,
        ev: &Event,
        instance: &InstanceId,
        service: &ServiceId,
        health: Health,
        detail: Option<&str>,
    ) {
        self.ensure_service(service);
        let Some(inst) = self.instances.get_mut(instance) else {
            self.instances.insert(
                instance.clone(),
                Instance {
                    service: service.clone(),
                    also: Vec::new(),
                    source: ev.source.clone(),
                    health,
                    since: ev.at,
                    seen_at: ev.at,
                    flapping: false,
                    detail: detail.map(Arc::from),
                    views: vec![(ev.source.clone(), health, detail.map(Arc::from))],
                    transitions: [Timestamp(0); FLAP_TRANSITIONS],
                    next_transition: 0,
                },
            );
            self.topology_version += 1;
            if let Some(s) = self.services.get_mut(service) {
                *s.counts.slot(health) += 1;
            }
            self.recompute_service(service, ev);
            return;
        };
        inst.seen_at = ev.at;
        let old = inst.health;
        // A service this instance was not in yet: it joins that pool too.
        let joined = inst.service != *service && !inst.also.contains(service);
        if joined {
            inst.also.push(service.clone());
        }
        match inst.views.iter_mut().find(|v| v.0 == ev.source) {
            Some(v) => {
                v.1 = health;
                if v.2.as_deref() != detail {
                    v.2 = detail.map(Arc::from);
                }
            }
            None => inst
                .views
                .push((ev.source.clone(), health, detail.map(Arc::from))),
        }
        // The worst view decides, and its detail is shown (naming its source when
        // several report the instance).
        let several = inst.views.len() > 1;
        let worst = inst
            .views
            .iter()
            .max_by_key(|v| rank(v.1))
            .map(|v| (v.0.clone(), v.1, v.2.clone()));
        let (new, shown) = match worst {
            Some((src, h, d)) => {
                let d = if several {
                    d.map(|d| Arc::from(format!("via {src}: {d}")))
                } else {
                    d
                };
                (h, d)
            }
            None => (health, detail.map(Arc::from)),
        };
        if inst.detail != shown {
            inst.detail = shown;
        }
        if new != old {
            inst.health = new;
            inst.since = ev.at;
            inst.transitions[usize::from(inst.next_transition)] = ev.at;
            inst.next_transition = (inst.next_transition + 1) % FLAP_TRANSITIONS as u8;
        }
        let was_flapping = inst.flapping;
        let oldest = inst.transitions[usize::from(inst.next_transition)];
        inst.flapping = oldest.0 != 0 && ev.at.millis_since(oldest) <= FLAP_WINDOW_MILLIS;
        let now_flapping = inst.flapping && !was_flapping;
        if inst.flapping != was_flapping {
            if inst.flapping {
                self.flapping.insert(instance.clone());
            } else {
                self.flapping.remove(instance);
            }
        }
        let members: Vec<ServiceId> = inst.services().cloned().collect();
        let shown_detail = inst.detail.clone();
        if joined {
            if let Some(s) = self.services.get_mut(service) {
                *s.counts.slot(old) += 1;
            }
            self.topology_version += 1;
        }
        if now_flapping {
            self.log(
                ev,
                Severity::Warn,
                instance.as_str(),
                "flapping: 4 health changes within a minute".to_owned(),
            );
        }
        if new != old {
            for m in &members {
                if let Some(s) = self.services.get_mut(m) {
                    *s.counts.slot(old) -= 1;
                    *s.counts.slot(new) += 1;
                }
            }
            let (sev, why) = match new {
                Health::Healthy => (Severity::Good, String::new()),
                Health::Degraded | Health::Unknown => (Severity::Info, String::new()),
                Health::Unhealthy => (
                    Severity::Warn,
                    shown_detail.map(|d| format!(": {d}")).unwrap_or_default(),
                ),
            };
            self.log(
                ev,
                sev,
                instance.as_str(),
                format!("{} -> {}{why}", old.as_str(), new.as_str()),
            );
        }
        for m in &members {
            self.recompute_service(m, ev);
        }
    }

    fn recompute_service(&mut self, service: &ServiceId, ev: &Event) {
        let Some(s) = self.services.get_mut(service) else {
            return;
        };
        let c = s.counts;
        let total = c.total();
        let saturated = s.pool.is_some_and(|p| p.saturation() >= 0.9);
        let health = health_of(c, saturated);
        let old = s.health;
        s.health = health;
        if health == Health::Healthy || health == Health::Degraded {
            s.healthy_at = Some(ev.at);
        }
        let healthy_at = s.healthy_at;
        if old == health {
            return;
        }
        let subject = Subject::Service(service.clone());
        if health == Health::Unhealthy {
            let h = c.healthy;
            self.log(
                ev,
                Severity::Critical,
                service.as_str(),
                format!("service unhealthy: {h} of {total} instances healthy"),
            );
            self.open_incident_for(subject, ev, healthy_at);
        } else if old == Health::Unhealthy {
            self.log(
                ev,
                Severity::Good,
                service.as_str(),
                format!("service {}", health.as_str()),
            );
            self.recover(&subject, ev);
        }
    }

    fn open_incident_for(
        &mut self,
        subject: Subject,
        ev: &Event,
        healthy_until: Option<Timestamp>,
    ) {
        let name = subject.to_string();
        let healthy_until = healthy_until.max(self.vouched_until(ev));
        if let Some(id) = self.incidents.unhealthy(subject, ev.at, healthy_until) {
            self.log(
                ev,
                Severity::Critical,
                &format!("incident #{id}"),
                format!("opened: {name}"),
            );
        }
    }

    fn recover(&mut self, subject: &Subject, ev: &Event) {
        if let Some(id) = self.incidents.healthy(subject, ev.at) {
            let secs = self
                .incidents
                .incidents
                .iter()
                .find(|i| i.id == id)
                .map(|i| {
                    (
                        i.mttd_millis() as f64 / 1000.0,
                        i.mttr_millis().unwrap_or(0) as f64 / 1000.0,
                    )
                });
            if let Some((mttd, mttr)) = secs {
                self.log(
                    ev,
                    Severity::Good,
                    &format!("incident #{id}"),
                    format!("recovered: MTTD {mttd:.1} s, MTTR {mttr:.1} s"),
                );
            }
        }
    }

    fn breaker_flipped(&mut self, ev: &Event, breaker: &BreakerId, flip: Flip) {
        let rate = self.breakers.get(breaker).map_or(0.0, |b| b.failure_rate);
        let sev = match flip.to {
            BreakerState::Open => Severity::Critical,
            BreakerState::HalfOpen => Severity::Info,
            BreakerState::Closed => Severity::Good,
        };
        self.log(
            ev,
            sev,
            breaker.as_str(),
            format!(
                "breaker {} -> {} ({:.0} % failures)",
                flip.from.as_str(),
                flip.to.as_str(),
                rate * 100.0
            ),
        );
        let subject = Subject::Breaker(breaker.clone());
        match flip.to {
            BreakerState::Open => {
                if flip.from == BreakerState::Closed {
                    let last_ok = self
                        .breakers
                        .get(breaker)
                        .and_then(|b| b.flips.iter().rev().nth(1).map(|f| f.at));
                    self.open_incident_for(subject, ev, last_ok);
                }
            }
            BreakerState::Closed => self.recover(&subject, ev),
            BreakerState::HalfOpen => {}
        }
    }

    fn cluster_entry(
        &mut self,
        ev: &Event,
        cluster: &ClusterId,
        kind: ClusterKind,
    ) -> &mut ConsensusCluster {
        self.clusters
            .entry(cluster.clone())
            .or_insert_with(|| ConsensusCluster {
                kind,
                source: ev.source.clone(),
                members: BTreeMap::new(),
                quorum: QuorumView::default(),
                leader_changes: 0,
                leader_since: None,
                healthy_at: None,
                membership_known: false,
                judged: false,
            })
    }

    fn cluster_members(
        &mut self,
        ev: &Event,
        cluster: &ClusterId,
        kind: ClusterKind,
        members: &[MemberSpec],
    ) {
        let c = self.cluster_entry(ev, cluster, kind);
        // What a partial view said does not count: evaluate afresh.
        c.membership_known = true;
        if c.members.values().any(|m| !m.polled)
            || members.iter().any(|m| !c.members.contains_key(&m.member))
        {
            c.judged = false;
        }
        c.members
            .retain(|name, _| members.iter().any(|m| &m.member == name));
        for spec in members {
            let view = c
                .members
                .entry(spec.member.clone())
                .or_insert_with(|| MemberView {
                    status: MemberStatus {
                        member: spec.member.clone(),
                        voter: spec.voter,
                        ..MemberStatus::default()
                    },
                    voter: spec.voter,
                    seen_at: ev.at,
                    reachable_at: None,
                    polled: false,
                });
            view.voter = spec.voter;
        }
        self.requorum(ev, cluster);
    }

    fn member_status(
        &mut self,
        ev: &Event,
        cluster: &ClusterId,
        kind: ClusterKind,
        status: &MemberStatus,
    ) {
        let c = self.cluster_entry(ev, cluster, kind);
        let prev = c.members.get(&status.member).map(|m| {
            (
                m.status.reachable || !m.polled,
                m.status.alarms.clone(),
                m.voter,
            )
        });
        let voter = prev.as_ref().map_or(status.voter, |p| p.2);
        let reachable_at = if status.reachable {
            Some(ev.at)
        } else {
            c.members.get(&status.member).and_then(|m| m.reachable_at)
        };
        c.members.insert(
            status.member.clone(),
            MemberView {
                status: status.clone(),
                voter,
                seen_at: ev.at,
                reachable_at,
                polled: true,
            },
        );
        let subject = format!("{cluster}/{}", status.member);
        match prev {
            Some((was, _, _)) if was && !status.reachable => {
                let why = status.error.as_deref().unwrap_or("no answer");
                self.log(
                    ev,
                    Severity::Warn,
                    &subject,
                    format!("member unreachable: {why}"),
                );
            }
            Some((was, _, _)) if !was && status.reachable => {
                self.log(ev, Severity::Good, &subject, "member reachable".to_owned());
            }
            _ => {}
        }
        if let Some((_, old_alarms, _)) = prev
            && old_alarms != status.alarms
            && !status.alarms.is_empty()
        {
            self.log(
                ev,
                Severity::Critical,
                &subject,
                format!("alarm {}", status.alarms.join(",")),
            );
        }
        self.requorum(ev, cluster);
    }

    fn requorum(&mut self, ev: &Event, cluster: &ClusterId) {
        let Some(c) = self.clusters.get_mut(cluster) else {
            return;
        };
        let old = std::mem::take(&mut c.quorum);
        let new = evaluate_quorum(&c.members);
        let leader_changed = new.leader.is_some() && new.leader != old.leader;
        if leader_changed {
            c.leader_changes += 1;
            c.leader_since = Some(ev.at);
        }
        if new.state == QuorumState::Healthy {
            c.healthy_at = Some(ev.at);
        }
        let healthy_at = c.healthy_at;
        let (old_state, new_state, reason, leader) =
            (old.state, new.state, new.reason.clone(), new.leader.clone());
        // Judge the cluster once its membership is declared and every member was polled.
        let known = c.membership_known && c.members.values().all(|m| m.polled);
        c.quorum = new;
        if !known {
            return;
        }
        let first = !c.judged;
        c.judged = true;
        if leader_changed && !first {
            let from = old
                .leader
                .as_ref()
                .map_or("none", MemberId::as_str)
                .to_owned();
            let to = leader.as_ref().map_or("none", MemberId::as_str).to_owned();
            self.log(
                ev,
                Severity::Info,
                cluster.as_str(),
                format!("leader {from} -> {to}"),
            );
        }
        if old_state == new_state && !first {
            return;
        }
        let subject = Subject::Quorum(cluster.clone());
        match new_state {
            QuorumState::Healthy => {
                if !first {
                    self.log(
                        ev,
                        Severity::Good,
                        cluster.as_str(),
                        format!("quorum healthy: {reason}"),
                    );
                }
                self.recover(&subject, ev);
            }
            QuorumState::AtRisk | QuorumState::Lost | QuorumState::Split => {
                let sev = if new_state == QuorumState::AtRisk {
                    Severity::Warn
                } else {
                    Severity::Critical
                };
                self.log(
                    ev,
                    sev,
                    cluster.as_str(),
                    format!("quorum {}: {reason}", new_state.as_str()),
                );
                self.open_incident_for(subject, ev, healthy_at);
            }
        }
    }

    fn db_member(
        &mut self,
        ev: &Event,
        cluster: &ClusterId,
        member: &MemberId,
        update: impl FnOnce(&mut DbMemberView),
    ) {
        let db = self.databases.entry(cluster.clone()).or_default();
        let old_role = db.members.get(member).map(|m| (m.role, m.reachable));
        let view = db.members.entry(member.clone()).or_default();
        update(view);
        view.seen_at = ev.at;
        let (role_now, reachable_now) = (view.role, view.reachable);
        let primaries: Vec<&MemberId> = db
            .members
            .iter()
            .filter(|(_, m)| {
                m.writable
                    .unwrap_or(m.reachable && m.role == DbRole::Primary)
            })
            .map(|(n, _)| n)
            .collect();
        let was_ok = db.writable == 1;
        let old_primary = db.primary.clone();
        db.writable = primaries.len() as u32;
        db.primary = (primaries.len() == 1).then(|| primaries[0].clone());
        let ok = db.writable == 1;
        // The first primary ever seen is news only in the log's quiet voice; a change
        // after that (a failover, a switchover) is worth a look.
        let first_seen = db.healthy_at.is_none();
        let new_primary = (db.primary != old_primary)
            .then(|| db.primary.clone())
            .flatten();
        if new_primary.is_some() {
            db.primary_since = Some(ev.at);
        }
        let timeline = db.members.get(member).and_then(|m| m.timeline);
        if ok {
            db.healthy_at = Some(ev.at);
        }
        let (writable, healthy_at) = (db.writable, db.healthy_at);
        if let Some((role, reachable)) = old_role
            && (role != role_now || reachable != reachable_now)
        {
            let what = if reachable_now {
                format!("role {role_now:?}").to_lowercase()
            } else {
                "unreachable".to_owned()
            };
            self.log(ev, Severity::Info, &format!("{cluster}/{member}"), what);
        }
        if let Some(p) = new_primary {
            let on = timeline
                .map(|t| format!(" on timeline {t}"))
                .unwrap_or_default();
            let was = old_primary
                .map(|o| format!(" (was {o})"))
                .unwrap_or_default();
            self.log(
                ev,
                if first_seen {
                    Severity::Info
                } else {
                    Severity::Warn
                },
                cluster.as_str(),
                format!("primary is {p}{on}{was}"),
            );
        }
        let subject = Subject::Database(cluster.clone());
        if was_ok && !ok {
            let why = if writable > 1 {
                format!("{writable} writable primaries (split brain)")
            } else {
                "no reachable primary".to_owned()
            };
            self.log(ev, Severity::Critical, cluster.as_str(), why);
            self.open_incident_for(subject, ev, healthy_at);
        } else if !was_ok && ok {
            self.recover(&subject, ev);
        }
    }
}

#[cfg(test)]
mod tests;
