//! The drill: a deterministic, seeded, simulated fleet inside the core.
//!
//! With nothing configured the console opens on the drill, so a new user sees a live
//! console at once and can practise safely. It is a source like any other and emits the
//! same events; every event it sends is marked as coming from a drill source, and every
//! screen and output says DRILL.
//!
//! The fleet: a few dozen services in tiers (gateways, front ends, mid tier, back end,
//! a database), a few hundred instances (the size knob scales it to 10,000 and more),
//! a 3-member etcd and a 5-member Consul cluster, gateway routes with breakers, and a
//! 3-member `PostgreSQL` cluster. [`DrillFleet::step`] is pure: the same seed and the
//! same step times give the same events, so a drill run is reproducible.
//!
//! Scripted faults (also on demand through [`DrillFault`] intents):
//! - `connection_leak`: checkout leaks database connections (domain.md §8): its pool
//!   saturates, readiness fails instance by instance, the edge breaker trips; after
//!   100 s the runbook is played (pool reset) and it recovers.
//! - `quorum_loss`: drill-etcd loses a follower (at risk), 30 s later the leader (quorum
//!   lost), and 30 s after that both return and a new leader is elected.
//! - `flapping`: one search instance flips health every 5 s for a minute.
//!
//! Unless scripting is turned off the faults repeat on a 5-minute cycle: flapping at
//! 0:20, the connection leak at 0:40, quorum loss at 3:35, a Consul follower lost at 4:10.
//!
//! The drill also takes operators' actions ([`DrillAction`]), so every workflow can be
//! practised on it through the same engine: drain, maintenance and ready of an instance
//! (as an HAProxy server), power off and on (fencing) of an instance or a database
//! member, promotion of a database member, and a route's fallback. [`DrillView`] is
//! what the workflows read, fresh, to plan and verify.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::Emitter;
use crate::event::{DrillFault, EventBody, MemberSpec, MemberStatus, PgSessions};
use crate::model::{
    BreakerConfig, BreakerId, ClusterId, ClusterKind, DbRole, Health, InstanceId, MemberId,
    MetricUnit, RouteId, ServiceId, ServiceRole, SourceStatus,
};
use crate::rng::SplitMix64;
use crate::time::Timestamp;

/// Drill settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrillConfig {
    /// Source name.
    pub name: String,
    /// Seed of the simulation.
    pub seed: u64,
    /// Instances in the fleet (at least 50).
    pub instances: usize,
    /// Simulated seconds per wall second.
    pub speed: f64,
    /// Simulated time between steps, in milliseconds.
    pub tick_millis: u64,
    /// Run the 5-minute fault cycle; when false faults start only on request.
    pub scripted: bool,
}

impl Default for DrillConfig {
    fn default() -> Self {
        Self {
            name: "drill".into(),
            seed: 7,
            instances: 300,
            speed: 1.0,
            tick_millis: 1000,
            scripted: true,
        }
    }
}

impl DrillConfig {
    /// A drill that reports its fleet and then steps once a minute, unscripted: a source
    /// that falls silent, to see staleness with (tests, and trying a console's stale
    /// cues by hand).
    pub fn silent() -> Self {
        Self {
            tick_millis: 60_000,
            scripted: false,
            ..Self::default()
        }
    }
}

/// Length of the scripted cycle.
const CYCLE_MILLIS: i64 = 300_000;
/// The scripted cycle: (offset, fault).
const SCRIPT: [(i64, DrillFault); 3] = [
    (20_000, DrillFault::Flapping),
    (40_000, DrillFault::ConnectionLeak),
    (215_000, DrillFault::QuorumLoss),
];
/// The Consul follower outage in the cycle: (from, to) offsets.
const CONSUL_OUTAGE: (i64, i64) = (250_000, 275_000);

const GATEWAYS: [&str; 2] = ["edge-gateway", "internal-gateway"];
const FRONT: [&str; 3] = ["web", "mobile-bff", "admin"];
const MID: [&str; 14] = [
    "checkout",
    "cart",
    "catalog",
    "search",
    "users",
    "auth",
    "payments",
    "orders",
    "inventory",
    "pricing",
    "recommendations",
    "reviews",
    "shipping",
    "notifications",
];
const BACK: [&str; 8] = [
    "ledger",
    "fraud",
    "tax",
    "email",
    "media",
    "sessions",
    "feature-flags",
    "audit",
];
const DATABASE: &str = "orders-db";
const EDGE_ROUTES: [&str; 7] = [
    "web",
    "mobile-bff",
    "checkout",
    "search",
    "catalog",
    "users",
    "payments",
];
const INTERNAL_ROUTES: [&str; 5] = ["admin", "orders", "inventory", "ledger", "notifications"];
const LEAK_SERVICE: &str = "checkout";
const FLAP_SERVICE: &str = "search";
const POOL_SIZE: u32 = 50;
const DB_MAX_CONNECTIONS: u32 = 200;

#[derive(Clone, Debug)]
struct SimService {
    id: ServiceId,
    role: ServiceRole,
    tier: u8,
    /// Index range into `instances`.
    first: usize,
    count: usize,
}

#[derive(Clone, Debug)]
struct SimInstance {
    id: InstanceId,
    service: usize,
    health: Health,
    /// A background blip keeps it unhealthy until then.
    blip_until: Option<Timestamp>,
    /// An operator's drain or maintenance.
    operator: Option<ServerState>,
    /// Powered off (fenced).
    off: bool,
    /// Scaled out of its service (not running, not counted).
    scaled_out: bool,
    /// Its removal was reported (it is gone from the console until it runs again).
    gone: bool,
}

#[derive(Clone, Debug)]
struct SimRoute {
    breaker: BreakerId,
    service: usize,
    /// Requests per second.
    rps: f64,
    /// Served by its fallback (an operator's `fallback`).
    fallback: bool,
}

#[derive(Clone, Debug)]
struct SimCluster {
    id: ClusterId,
    kind: ClusterKind,
    members: Vec<MemberId>,
    up: Vec<bool>,
    leader: Option<usize>,
    term: u64,
    index: u64,
}

/// The simulated fleet. Pure: no clock, no I/O; randomness only from its seed.
#[derive(Clone, Debug)]
pub struct DrillFleet {
    rng: SplitMix64,
    services: Vec<SimService>,
    instances: Vec<SimInstance>,
    edges: Vec<(usize, usize)>,
    routes: Vec<SimRoute>,
    clusters: Vec<SimCluster>,
    db_members: Vec<(MemberId, DbRole)>,
    /// Database members powered off (fenced).
    db_off: Vec<bool>,
    faults: Vec<(DrillFault, Timestamp)>,
    scripted: bool,
    origin: Option<Timestamp>,
    last_step: Option<Timestamp>,
    steps: u64,
}

impl DrillFleet {
    /// Builds the fleet for `seed` with about `instances` instances (at least 50).
    pub fn new(seed: u64, instances: usize, scripted: bool) -> Self {
        let mut rng = SplitMix64::new(seed);
        let total = instances.max(50);
        let mut names: Vec<(String, ServiceRole, u8)> = Vec::new();
        names.extend(
            GATEWAYS
                .iter()
                .map(|n| ((*n).to_owned(), ServiceRole::Gateway, 0)),
        );
        names.extend(
            FRONT
                .iter()
                .map(|n| ((*n).to_owned(), ServiceRole::Service, 1)),
        );
        names.extend(
            MID.iter()
                .map(|n| ((*n).to_owned(), ServiceRole::Service, 2)),
        );
        names.extend(
            BACK.iter()
                .map(|n| ((*n).to_owned(), ServiceRole::Service, 3)),
        );
        names.push((DATABASE.to_owned(), ServiceRole::Database, 4));
        // Larger fleets get more services, about 40 instances each beyond the base set.
        let extra = total.saturating_sub(1000) / 40;
        for i in 0..extra.min(400) {
            let tier = if i % 2 == 0 { 2 } else { 3 };
            names.push((format!("svc-{:03}", i + 1), ServiceRole::Service, tier));
        }

        // Weights: gateways and the database are fixed; the rest share the remainder.
        let fixed = GATEWAYS.len() * 2 + 3;
        let weights: Vec<u64> = names
            .iter()
            .map(|(_, role, _)| {
                if *role == ServiceRole::Service {
                    1 + rng.below(4)
                } else {
                    0
                }
            })
            .collect();
        let weight_sum: u64 = weights.iter().sum::<u64>().max(1);
        let pool = total.saturating_sub(fixed);
        let mut services = Vec::with_capacity(names.len());
        let mut sim_instances = Vec::with_capacity(total);
        let mut assigned = 0usize;
        let last_service = names
            .iter()
            .rposition(|(_, r, _)| *r == ServiceRole::Service)
            .unwrap_or(0);
        for (i, (name, role, tier)) in names.iter().enumerate() {
            let count = match role {
                ServiceRole::Gateway => 2,
                ServiceRole::Database => 3,
                ServiceRole::Service if i == last_service => pool.saturating_sub(assigned).max(3),
                ServiceRole::Service => {
                    let c = ((pool as u64 * weights[i]) / weight_sum) as usize;
                    let c = c.max(3);
                    assigned += c;
                    c
                }
            };
            let first = sim_instances.len();
            for k in 0..count {
                let inst_name = if *role == ServiceRole::Database {
                    format!("pg-{}", k + 1)
                } else {
                    format!("{name}-{:02}", k + 1)
                };
                sim_instances.push(SimInstance {
                    id: InstanceId::new(inst_name),
                    service: i,
                    health: Health::Healthy,
                    blip_until: None,
                    operator: None,
                    off: false,
                    scaled_out: false,
                    gone: false,
                });
            }
            services.push(SimService {
                id: ServiceId::new(name),
                role: *role,
                tier: *tier,
                first,
                count,
            });
        }

        let by_tier = |t: u8| -> Vec<usize> {
            services
                .iter()
                .enumerate()
                .filter(|(_, s)| s.tier == t)
                .map(|(i, _)| i)
                .collect()
        };
        let (t0, t1, t2, t3, t4) = (by_tier(0), by_tier(1), by_tier(2), by_tier(3), by_tier(4));
        let mut edges = Vec::new();
        for &f in &t1 {
            for _ in 0..3 + rng.below(3) {
                edges.push((f, t2[rng.below(t2.len() as u64) as usize]));
            }
        }
        for &m in &t2 {
            for _ in 0..=rng.below(3) {
                edges.push((m, t3[rng.below(t3.len() as u64) as usize]));
            }
        }
        let find = |n: &str| services.iter().position(|s| s.id.as_str() == n);
        for caller in ["checkout", "orders", "payments", "ledger"] {
            if let (Some(c), Some(&db)) = (find(caller), t4.first()) {
                edges.push((c, db));
            }
        }
        edges.sort_unstable();
        edges.dedup();

        let mut routes = Vec::new();
        for (gw, targets) in [(t0[0], &EDGE_ROUTES[..]), (t0[1], &INTERNAL_ROUTES[..])] {
            for target in targets {
                if let Some(s) = find(target) {
                    let gw_name = services[gw].id.as_str();
                    routes.push(SimRoute {
                        breaker: BreakerId::new(format!("{gw_name}/{target}")),
                        service: s,
                        rps: 20.0 + rng.below(180) as f64,
                        fallback: false,
                    });
                    edges.push((gw, s));
                }
            }
        }

        let cluster = |id: &str, kind, names: Vec<String>| SimCluster {
            id: ClusterId::new(id),
            kind,
            up: vec![true; names.len()],
            members: names.into_iter().map(MemberId::new).collect(),
            leader: Some(0),
            term: 2,
            index: 1000,
        };
        let clusters = vec![
            cluster(
                "drill-etcd",
                ClusterKind::Etcd,
                vec!["etcd-a".into(), "etcd-b".into(), "etcd-c".into()],
            ),
            cluster(
                "drill-consul",
                ClusterKind::Consul,
                (1..=5).map(|i| format!("consul-{i}")).collect(),
            ),
        ];
        let db_members = vec![
            (MemberId::new("pg-1"), DbRole::Primary),
            (MemberId::new("pg-2"), DbRole::Replica),
            (MemberId::new("pg-3"), DbRole::Replica),
        ];

        Self {
            rng,
            services,
            instances: sim_instances,
            edges,
            routes,
            clusters,
            db_off: vec![false; db_members.len()],
            db_members,
            faults: Vec::new(),
            scripted,
            origin: None,
            last_step: None,
            steps: 0,
        }
    }

    /// Instances in the fleet.
    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    /// Services in the fleet.
    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    /// Everything the fleet consists of, to send once at start.
    pub fn inventory(&self) -> Vec<EventBody> {
        let mut out = Vec::new();
        for s in &self.services {
            out.push(EventBody::Service {
                service: s.id.clone(),
                role: s.role,
            });
        }
        for &(a, b) in &self.edges {
            out.push(EventBody::Edge {
                from: self.services[a].id.clone(),
                to: self.services[b].id.clone(),
            });
        }
        for r in &self.routes {
            let target = self.services[r.service].id.clone();
            let gateway = ServiceId::new(r.breaker.as_str().split('/').next().unwrap_or_default());
            out.push(EventBody::Route {
                route: RouteId::new(r.breaker.as_str()),
                gateway,
                service: target.clone(),
                breaker: Some(r.breaker.clone()),
            });
            out.push(EventBody::BreakerConfigured {
                breaker: r.breaker.clone(),
                service: target,
                config: BreakerConfig::default(),
                inferred: None,
            });
        }
        for c in &self.clusters {
            out.push(EventBody::ClusterMembers {
                cluster: c.id.clone(),
                cluster_kind: c.kind,
                members: c
                    .members
                    .iter()
                    .map(|m| MemberSpec {
                        member: m.clone(),
                        voter: true,
                    })
                    .collect(),
            });
        }
        for inst in &self.instances {
            out.push(EventBody::InstanceHealth {
                instance: inst.id.clone(),
                service: self.services[inst.service].id.clone(),
                health: inst.health,
                detail: None,
            });
        }
        out
    }

    /// Starts `fault` at `at`; returns the marker event.
    pub fn inject(&mut self, fault: DrillFault, at: Timestamp) -> EventBody {
        self.faults.retain(|(f, _)| *f != fault);
        self.faults.push((fault, at));
        EventBody::FaultInjected {
            fault: fault.as_str().to_owned(),
            description: fault.description().to_owned(),
        }
    }

    fn elapsed(&self, fault: DrillFault, at: Timestamp) -> Option<i64> {
        self.faults
            .iter()
            .find(|(f, _)| *f == fault)
            .map(|(_, t)| at.millis_since(*t))
            .filter(|e| *e >= 0)
    }

    /// Advances the simulation to `at` and returns what the fleet shows.
    pub fn step(&mut self, at: Timestamp) -> Vec<EventBody> {
        let mut out = Vec::new();
        let origin = *self.origin.get_or_insert(at);
        let prev = self.last_step.unwrap_or(at);
        let dt_secs = (at.millis_since(prev).max(0) as f64 / 1000.0).min(10.0);
        self.last_step = Some(at);
        self.steps += 1;

        if self.scripted {
            let (c_prev, c_now) = (
                prev.millis_since(origin).rem_euclid(CYCLE_MILLIS),
                at.millis_since(origin).rem_euclid(CYCLE_MILLIS),
            );
            for (offset, fault) in SCRIPT {
                let crossed = if c_prev <= c_now {
                    c_prev < offset && offset <= c_now
                } else {
                    offset > c_prev || offset <= c_now
                };
                if crossed && self.steps > 1 {
                    out.push(self.inject(fault, at));
                }
            }
        }
        self.faults.retain(|(f, t)| {
            let e = at.millis_since(*t);
            match f {
                DrillFault::ConnectionLeak => e <= 160_000,
                DrillFault::QuorumLoss => e <= 70_000,
                DrillFault::Flapping => e <= 65_000,
            }
        });

        self.step_instances(at, &mut out);
        self.step_pools(at, &mut out);
        self.step_routes(at, dt_secs, &mut out);
        self.step_clusters(at, origin, &mut out);
        if self.steps.is_multiple_of(2) {
            self.step_db(at, &mut out);
        }
        out
    }

    fn leak_pool(&self, at: Timestamp) -> (u32, u32) {
        match self.elapsed(DrillFault::ConnectionLeak, at) {
            Some(e) if e < 100_000 => {
                let in_use = (12 + (e / 500) as u32).min(POOL_SIZE);
                let queued = if in_use >= POOL_SIZE {
                    ((e - 19_000).max(0) / 200) as u32
                } else {
                    0
                };
                (in_use, queued)
            }
            _ => (12, 0),
        }
    }

    fn step_instances(&mut self, at: Timestamp, out: &mut Vec<EventBody>) {
        let leak = self.elapsed(DrillFault::ConnectionLeak, at);
        let flap = self.elapsed(DrillFault::Flapping, at);
        let (leak_in_use, _) = self.leak_pool(at);
        // Background blips: rare, short liveness failures, more in bigger fleets.
        let blip_chance = self.instances.len() as f64 * 0.000_15;
        if self.rng.chance(blip_chance) {
            let i = self.rng.below(self.instances.len() as u64) as usize;
            let secs = 3 + self.rng.below(8) as i64;
            if self.services[self.instances[i].service].role == ServiceRole::Service {
                self.instances[i].blip_until = Some(at.plus_millis(secs * 1000));
            }
        }
        for i in 0..self.instances.len() {
            if self.instances[i].scaled_out {
                if !self.instances[i].gone {
                    self.instances[i].gone = true;
                    out.push(EventBody::InstanceRemoved {
                        instance: self.instances[i].id.clone(),
                    });
                }
                continue;
            }
            if self.instances[i].gone {
                // Running again: report it afresh.
                self.instances[i].gone = false;
                self.instances[i].health = Health::Unknown;
            }
            let svc = &self.services[self.instances[i].service];
            let k = (i - svc.first) as i64;
            let mut want = (Health::Healthy, None);
            if self.instances[i].blip_until.is_some_and(|u| at < u) {
                want = (
                    Health::Unhealthy,
                    Some("liveness: timeout after 5 s".to_owned()),
                );
            } else {
                self.instances[i].blip_until = None;
            }
            if svc.id.as_str() == LEAK_SERVICE
                && let Some(e) = leak
            {
                let failing = if e < 100_000 {
                    e >= 20_000 + 2_000 * k
                } else {
                    e < 100_000 + 1_000 * (k + 1)
                };
                if failing {
                    want = (
                        Health::Unhealthy,
                        Some(format!(
                            "readiness 503: database pool saturated ({leak_in_use}/{POOL_SIZE}), db latency 5000 ms"
                        )),
                    );
                }
            }
            if svc.id.as_str() == FLAP_SERVICE
                && k == 1
                && let Some(e) = flap
                && e < 60_000
                && (e / 5000) % 2 == 0
            {
                want = (
                    Health::Unhealthy,
                    Some("readiness: connection reset".to_owned()),
                );
            }
            match (self.instances[i].off, self.instances[i].operator) {
                (true, _) => {
                    want = (
                        Health::Unhealthy,
                        Some("powered off: fenced by an operator (DRILL)".to_owned()),
                    );
                }
                (false, Some(ServerState::Maint)) => {
                    want = (
                        Health::Degraded,
                        Some("MAINT: in maintenance by an operator (DRILL)".to_owned()),
                    );
                }
                (false, Some(ServerState::Drain)) => {
                    want = (
                        Health::Degraded,
                        Some("DRAIN: drained by an operator, no new sessions (DRILL)".to_owned()),
                    );
                }
                _ => {}
            }
            if self.instances[i].health != want.0 {
                self.instances[i].health = want.0;
                out.push(EventBody::InstanceHealth {
                    instance: self.instances[i].id.clone(),
                    service: svc.id.clone(),
                    health: want.0,
                    detail: want.1,
                });
            }
        }
    }

    fn step_pools(&mut self, at: Timestamp, out: &mut Vec<EventBody>) {
        let (in_use, queued) = self.leak_pool(at);
        out.push(EventBody::Pool {
            service: ServiceId::new(LEAK_SERVICE),
            size: POOL_SIZE,
            in_use,
            queued,
        });
        if self.steps % 5 == 1 {
            for name in ["orders", "payments", "ledger"] {
                let used = 5 + self.rng.below(10) as u32;
                out.push(EventBody::Pool {
                    service: ServiceId::new(name),
                    size: POOL_SIZE,
                    in_use: used,
                    queued: 0,
                });
            }
        }
    }

    fn step_routes(&mut self, at: Timestamp, dt_secs: f64, out: &mut Vec<EventBody>) {
        let leak = self.elapsed(DrillFault::ConnectionLeak, at);
        for r in 0..self.routes.len() {
            let route = &self.routes[r];
            let svc = &self.services[route.service];
            let running: Vec<&SimInstance> = self.instances[svc.first..svc.first + svc.count]
                .iter()
                .filter(|i| !i.scaled_out)
                .collect();
            let down = if running.is_empty() {
                1.0
            } else {
                running
                    .iter()
                    .filter(|i| i.health != Health::Healthy)
                    .count() as f64
                    / running.len() as f64
            };
            let mut ratio = 0.005 + 0.9 * down;
            if svc.id.as_str() == LEAK_SERVICE
                && leak.is_some_and(|e| (19_000..100_000).contains(&e))
            {
                ratio = ratio.max(0.8);
            }
            if route.fallback {
                // The fallback (a static page) answers everyone, fast.
                ratio = 0.002;
            }
            let calls = (route.rps * dt_secs * (0.9 + 0.2 * self.rng.next_f64())).round();
            let failed = (calls * ratio.min(1.0) + self.rng.next_f64() - 0.5)
                .round()
                .clamp(0.0, calls);
            out.push(EventBody::BreakerCalls {
                breaker: route.breaker.clone(),
                ok: (calls - failed) as u32,
                failed: failed as u32,
            });
            // Latency: a per-service base with a little wobble; failing instances
            // (timeouts) stretch the tail; a saturated pool makes calls queue for it.
            let base = 0.018 + 0.006 * (r % 7) as f64;
            let wobble = 1.0 + 0.15 * ((self.steps as f64) * 0.37 + r as f64).sin();
            let mut p50 = base * wobble * (1.0 + 2.0 * down);
            let mut p99 = base * 4.0 * wobble * (1.0 + 20.0 * down);
            if svc.id.as_str() == LEAK_SERVICE {
                let (in_use, queued) = self.leak_pool(at);
                let busy = f64::from(in_use) / f64::from(POOL_SIZE);
                p50 += 0.2 * busy.powi(8) + 0.01 * f64::from(queued);
                p99 += 1.5 * busy.powi(6) + 0.05 * f64::from(queued);
            }
            for (series, value) in [("p50 latency", p50), ("p99 latency", p99.min(30.0))] {
                out.push(EventBody::Metric {
                    service: svc.id.clone(),
                    series: series.to_owned(),
                    value,
                    unit: MetricUnit::Seconds,
                });
            }
        }
    }

    fn step_clusters(&mut self, at: Timestamp, origin: Timestamp, out: &mut Vec<EventBody>) {
        let quorum_e = self.elapsed(DrillFault::QuorumLoss, at);
        let cycle = at.millis_since(origin).rem_euclid(CYCLE_MILLIS);
        for c in 0..self.clusters.len() {
            let n = self.clusters[c].members.len();
            let mut up = vec![true; n];
            if c == 0 {
                if let Some(e) = quorum_e {
                    // Lose a follower, then the leader, then both come back.
                    let leader = self.clusters[c].leader.unwrap_or(0);
                    let follower = (leader + 1) % n;
                    if e < 60_000 {
                        up[follower] = false;
                        if e >= 30_000 {
                            up[leader] = false;
                        }
                    }
                }
            } else if self.scripted && (CONSUL_OUTAGE.0..CONSUL_OUTAGE.1).contains(&cycle) {
                up[3] = false;
            }
            let cl = &mut self.clusters[c];
            let live = up.iter().filter(|u| **u).count();
            let has_quorum = live > n / 2;
            let leader_ok = cl.leader.is_some_and(|l| up[l]);
            if !has_quorum {
                cl.leader = None;
            } else if !leader_ok {
                cl.leader = up.iter().position(|u| *u);
                cl.term += 1;
            }
            if has_quorum {
                cl.index += 3 + self.rng.below(20);
            }
            cl.up = up;
            for (m, name) in cl.members.iter().enumerate() {
                let reachable = cl.up[m];
                out.push(EventBody::MemberStatus {
                    cluster: cl.id.clone(),
                    cluster_kind: cl.kind,
                    status: MemberStatus {
                        member: name.clone(),
                        endpoint: Some(format!("drill://{name}")),
                        reachable,
                        voter: true,
                        leader: if reachable {
                            cl.leader.map(|l| cl.members[l].clone())
                        } else {
                            None
                        },
                        term: if reachable { cl.term } else { 0 },
                        index: if reachable { cl.index } else { 0 },
                        db_size_bytes: reachable.then_some(24_576_000 + cl.index * 64),
                        alarms: Vec::new(),
                        error: if reachable {
                            (!has_quorum).then(|| "etcdserver: no leader".to_owned())
                        } else {
                            Some("connection refused".to_owned())
                        },
                    },
                });
            }
        }
    }

    fn step_db(&mut self, at: Timestamp, out: &mut Vec<EventBody>) {
        // As a Patroni source with dsn_env would see it: each member's agent, then its
        // server (the leak shows as idle-in-transaction sessions on the primary).
        let (in_use, _) = self.leak_pool(at);
        let leaked = in_use.saturating_sub(12) * 3;
        let leak_age = self
            .elapsed(DrillFault::ConnectionLeak, at)
            .map(|e| e as f64 / 1000.0);
        let cluster = ClusterId::new(DATABASE);
        for (m, (member, role)) in self.db_members.iter().enumerate() {
            if self.db_off[m] {
                out.push(EventBody::PatroniMember {
                    cluster: cluster.clone(),
                    member: member.clone(),
                    reachable: false,
                    role: DbRole::Unknown,
                    state: None,
                    timeline: None,
                    lag_bytes: None,
                    pending_restart: false,
                    detail: Some("powered off: fenced by an operator (DRILL)".to_owned()),
                });
                out.push(EventBody::PgServer {
                    cluster: cluster.clone(),
                    member: member.clone(),
                    reachable: false,
                    in_recovery: None,
                    sessions: None,
                    detail: Some("connection refused (powered off, DRILL)".to_owned()),
                });
                continue;
            }
            let primary = *role == DbRole::Primary;
            out.push(EventBody::PatroniMember {
                cluster: cluster.clone(),
                member: member.clone(),
                reachable: true,
                role: *role,
                state: Some(if primary { "running" } else { "streaming" }.to_owned()),
                timeline: Some(3),
                lag_bytes: (!primary).then(|| self.rng.below(4096)),
                pending_restart: false,
                detail: None,
            });
            let connections = if primary {
                (40 + leaked).min(DB_MAX_CONNECTIONS)
            } else {
                8
            };
            out.push(EventBody::PgServer {
                cluster: cluster.clone(),
                member: member.clone(),
                reachable: true,
                in_recovery: Some(!primary),
                sessions: Some(PgSessions {
                    connections,
                    max_connections: DB_MAX_CONNECTIONS,
                    active: connections.min(6),
                    idle: connections.saturating_sub(6 + if primary { leaked } else { 0 }),
                    idle_in_transaction: if primary { leaked } else { 0 },
                    waiting: 0,
                    oldest_xact_secs: if primary && leaked > 0 {
                        leak_age
                    } else {
                        None
                    },
                }),
                detail: None,
            });
        }
    }
}

/// An HAProxy-like server state an operator sets on a drill instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// No new sessions.
    Drain,
    /// Out of rotation.
    Maint,
    /// In rotation.
    Ready,
}

/// An operator's action on the simulated fleet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DrillAction {
    /// An instance to `drain`, `maint` or `ready`.
    Server {
        /// The instance.
        instance: String,
        /// The state.
        state: ServerState,
    },
    /// An instance or database member powered off (fenced) or on.
    Power {
        /// The instance or member.
        node: String,
        /// On.
        on: bool,
    },
    /// The database: `member` becomes the primary.
    Promote {
        /// The member.
        member: String,
    },
    /// A gateway route served by its fallback, or not.
    Fallback {
        /// The route (its breaker's name).
        route: String,
        /// Served by the fallback.
        on: bool,
    },
    /// The database's hanging sessions terminated (ends a connection leak).
    TerminateSessions,
    /// A service scaled to `replicas` running instances (the rest powered off).
    Scale {
        /// The service.
        service: String,
        /// Instances to run.
        replicas: usize,
    },
}

/// One instance as the drill's workflows see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrillInstance {
    /// Its name.
    pub id: String,
    /// Its service.
    pub service: String,
    /// Its health now.
    pub health: Health,
    /// `UP`, `DRAIN`, `MAINT` or `OFF`.
    pub state: &'static str,
}

/// What the drill's workflows read to plan and verify.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrillView {
    /// Every instance of a service (gateways aside).
    pub instances: Vec<DrillInstance>,
    /// The database's members: (name, role, powered on).
    pub db: Vec<(String, DbRole, bool)>,
    /// Gateway routes: (name, served by its fallback).
    pub routes: Vec<(String, bool)>,
    /// The database primary's sessions by state: (state, count).
    pub sessions: Vec<(&'static str, u32)>,
}

/// The drill's database cluster.
pub const DRILL_DATABASE: &str = DATABASE;

impl DrillFleet {
    /// What the workflows read.
    pub fn view(&self) -> DrillView {
        DrillView {
            instances: self
                .instances
                .iter()
                .filter(|i| self.services[i.service].role == ServiceRole::Service)
                .map(|i| DrillInstance {
                    id: i.id.to_string(),
                    service: self.services[i.service].id.to_string(),
                    health: i.health,
                    state: match (i.off, i.operator) {
                        _ if i.scaled_out => "OUT",
                        (true, _) => "OFF",
                        (false, Some(ServerState::Drain)) => "DRAIN",
                        (false, Some(ServerState::Maint)) => "MAINT",
                        _ => "UP",
                    },
                })
                .collect(),
            db: self
                .db_members
                .iter()
                .zip(&self.db_off)
                .map(|((m, r), off)| (m.to_string(), *r, !*off))
                .collect(),
            routes: self
                .routes
                .iter()
                .map(|r| (r.breaker.to_string(), r.fallback))
                .collect(),
            sessions: {
                let at = self.last_step.unwrap_or_default();
                let (in_use, _) = self.leak_pool(at);
                let leaked = in_use.saturating_sub(12) * 3;
                let connections = (40 + leaked).min(DB_MAX_CONNECTIONS);
                vec![
                    ("active", connections.min(6)),
                    ("idle", connections.saturating_sub(6 + leaked)),
                    ("idle in transaction", leaked),
                ]
            },
        }
    }

    /// Applies an operator's action; its effect shows from the next step. Returns what
    /// was done, in words, or why it could not be.
    pub fn act(&mut self, action: &DrillAction) -> Result<String, String> {
        match action {
            DrillAction::Server { instance, state } => {
                let i = self.instance_index(instance)?;
                self.instances[i].operator = match state {
                    ServerState::Ready => None,
                    s => Some(*s),
                };
                Ok(format!("{instance} set to {state:?} (DRILL)"))
            }
            DrillAction::Power { node, on } => {
                if let Some(m) = self.db_members.iter().position(|(m, _)| m.as_str() == node) {
                    self.db_off[m] = !on;
                    if *on {
                        // Back from a fence: it rejoins as a replica if another member
                        // was promoted meanwhile.
                        let others_primary =
                            self.db_members.iter().enumerate().any(|(k, (_, r))| {
                                k != m && *r == DbRole::Primary && !self.db_off[k]
                            });
                        if others_primary {
                            self.db_members[m].1 = DbRole::Replica;
                        }
                    }
                } else {
                    let i = self.instance_index(node)?;
                    self.instances[i].off = !on;
                }
                Ok(format!(
                    "{node} powered {} (DRILL)",
                    if *on { "on" } else { "off" }
                ))
            }
            DrillAction::Promote { member } => {
                let m = self
                    .db_members
                    .iter()
                    .position(|(n, _)| n.as_str() == member)
                    .ok_or_else(|| format!("no database member {member} in the drill"))?;
                if self.db_off[m] {
                    return Err(format!("{member} is powered off"));
                }
                for (k, entry) in self.db_members.iter_mut().enumerate() {
                    entry.1 = if k == m {
                        DbRole::Primary
                    } else {
                        DbRole::Replica
                    };
                }
                Ok(format!("{member} promoted (DRILL)"))
            }
            DrillAction::TerminateSessions => {
                let at = self.last_step.unwrap_or_default();
                let leaked = self.leak_pool(at).0.saturating_sub(12) * 3;
                self.faults
                    .retain(|(f, _)| *f != DrillFault::ConnectionLeak);
                Ok(format!("{leaked} hanging session(s) terminated (DRILL)"))
            }
            DrillAction::Scale { service, replicas } => {
                let s = self
                    .services
                    .iter()
                    .position(|s| s.id.as_str() == service && s.role == ServiceRole::Service)
                    .ok_or_else(|| format!("no service {service} in the drill"))?;
                let (first, count) = (self.services[s].first, self.services[s].count);
                for k in 0..count {
                    self.instances[first + k].scaled_out = k >= *replicas;
                }
                Ok(format!(
                    "{service} scaled to {} of {count} instance(s) (DRILL)",
                    (*replicas).min(count)
                ))
            }
            DrillAction::Fallback { route, on } => {
                let r = self
                    .routes
                    .iter_mut()
                    .find(|r| r.breaker.as_str() == route)
                    .ok_or_else(|| format!("no route {route} in the drill"))?;
                r.fallback = *on;
                Ok(format!(
                    "{route} {} (DRILL)",
                    if *on {
                        "served by its fallback"
                    } else {
                        "back on its service"
                    }
                ))
            }
        }
    }

    fn instance_index(&self, name: &str) -> Result<usize, String> {
        self.instances
            .iter()
            .position(|i| i.id.as_str() == name)
            .filter(|i| self.services[self.instances[*i].service].role == ServiceRole::Service)
            .ok_or_else(|| format!("no instance {name} in the drill"))
    }
}

/// What the drill task is asked.
#[derive(Debug)]
pub enum DrillCommand {
    /// Start a fault.
    Inject(DrillFault),
    /// An operator's action, answered with its words.
    Act(DrillAction, oneshot::Sender<Result<String, String>>),
    /// A fresh view.
    View(oneshot::Sender<DrillView>),
}

/// A handle on the running drill, for its workflows.
#[derive(Clone, Debug)]
pub struct DrillHandle(pub(crate) mpsc::Sender<DrillCommand>);

impl DrillHandle {
    /// Applies `action`; the fleet steps at once so its effect shows.
    pub async fn act(&self, action: DrillAction) -> Result<String, String> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(DrillCommand::Act(action, tx))
            .await
            .map_err(|_| "the drill is not running".to_owned())?;
        rx.await.map_err(|_| "the drill stopped".to_owned())?
    }

    /// What the fleet looks like now.
    pub async fn view(&self) -> Result<DrillView, String> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(DrillCommand::View(tx))
            .await
            .map_err(|_| "the drill is not running".to_owned())?;
        rx.await.map_err(|_| "the drill stopped".to_owned())
    }
}

/// A whole drill run, headless: the inventory at time 0, then one step per simulated
/// second for `secs` seconds, as events from a source named `drill`. Deterministic for a
/// given seed and size; used by tests, benchmarks and recordings made without a clock.
pub fn simulate(seed: u64, instances: usize, secs: i64) -> Vec<crate::event::Event> {
    use crate::event::Event;
    let mut fleet = DrillFleet::new(seed, instances, true);
    let src = crate::model::SourceId::new("drill");
    let mut events: Vec<Event> = fleet
        .inventory()
        .into_iter()
        .map(|b| Event::new(Timestamp(0), src.clone(), b))
        .collect();
    for s in 1..=secs {
        let at = Timestamp(s * 1000);
        events.extend(
            fleet
                .step(at)
                .into_iter()
                .map(|b| Event::new(at, src.clone(), b)),
        );
    }
    events
}

/// Runs the drill: sends the inventory, then steps the fleet every tick on the
/// engine's clock (scaled by `speed`), and starts faults sent over `control`.
pub async fn run(cfg: DrillConfig, emitter: Emitter, mut control: mpsc::Receiver<DrillCommand>) {
    let mut fleet = DrillFleet::new(cfg.seed, cfg.instances, cfg.scripted);
    let wall_start = emitter.now();
    let speed = if cfg.speed.is_finite() && cfg.speed > 0.0 {
        cfg.speed
    } else {
        1.0
    };
    let sim_now = |wall: Timestamp| {
        wall_start.plus_millis((wall.millis_since(wall_start) as f64 * speed) as i64)
    };
    let detail = format!(
        "simulated fleet: {} services, {} instances, seed {}",
        fleet.service_count(),
        fleet.instance_count(),
        cfg.seed
    );
    // The inventory first, then "up": whoever waits for every source to have reported
    // (`status --wait`) then sees the whole fleet, not an empty one.
    let t0 = sim_now(emitter.now());
    for body in fleet.inventory() {
        if !emitter.emit_at(t0, body).await {
            return;
        }
    }
    if !emitter.status(SourceStatus::Up, Some(detail)).await {
        return;
    }
    let tick = Duration::from_millis(((cfg.tick_millis.max(10) as f64) / speed).max(1.0) as u64);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let bodies = tokio::select! {
            _ = interval.tick() => fleet.step(sim_now(emitter.now())),
            cmd = control.recv() => match cmd {
                Some(DrillCommand::Inject(f)) => vec![fleet.inject(f, sim_now(emitter.now()))],
                Some(DrillCommand::Act(action, reply)) => {
                    let done = fleet.act(&action);
                    let ok = done.is_ok();
                    let _ = reply.send(done);
                    if ok {
                        fleet.step(sim_now(emitter.now()))
                    } else {
                        Vec::new()
                    }
                }
                Some(DrillCommand::View(reply)) => {
                    let _ = reply.send(fleet.view());
                    Vec::new()
                }
                // The engine is gone: nothing more to do.
                None => return,
            },
        };
        let at = sim_now(emitter.now());
        for body in bodies {
            if !emitter.emit_at(at, body).await {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::model::{BreakerState, QuorumState, SourceId};
    use crate::state::State;

    fn run_fleet(seed: u64, instances: usize, secs: i64) -> Vec<Event> {
        simulate(seed, instances, secs)
    }

    #[test]
    fn same_seed_same_events() {
        let a = run_fleet(11, 300, 120);
        let b = run_fleet(11, 300, 120);
        assert_eq!(a, b);
        let c = run_fleet(12, 300, 120);
        assert_ne!(a, c);
    }

    #[test]
    fn default_size_is_a_few_dozen_services_and_hundreds_of_instances() {
        let fleet = DrillFleet::new(7, 300, true);
        assert!(
            (24..=40).contains(&fleet.service_count()),
            "{}",
            fleet.service_count()
        );
        assert!(
            (290..=320).contains(&fleet.instance_count()),
            "{}",
            fleet.instance_count()
        );
        let big = DrillFleet::new(7, 10_000, true);
        assert!(
            (9_900..=10_100).contains(&big.instance_count()),
            "{}",
            big.instance_count()
        );
    }

    /// Operators' actions show on the next step: a drain and a fence on an instance, a
    /// fenced primary leaves the database without one until a replica is promoted, the
    /// old primary comes back as a replica, and a route's fallback stops its failures.
    #[test]
    fn operator_actions_show_on_the_fleet() {
        let mut fleet = DrillFleet::new(7, 300, false);
        let src = SourceId::new("drill");
        let mut state = State::default();
        for b in fleet.inventory() {
            state.apply(&Event::new(Timestamp(0), src.clone(), b));
        }
        let step = |fleet: &mut DrillFleet, state: &mut State, s: i64| {
            for b in fleet.step(Timestamp(s * 1000)) {
                state.apply(&Event::new(Timestamp(s * 1000), src.clone(), b));
            }
        };
        step(&mut fleet, &mut state, 1);
        let view = fleet.view();
        let first = view.instances.first().expect("an instance").id.clone();
        fleet
            .act(&DrillAction::Server {
                instance: first.clone(),
                state: ServerState::Drain,
            })
            .expect("drain");
        assert!(
            fleet
                .act(&DrillAction::Power {
                    node: "nope".into(),
                    on: false
                })
                .is_err()
        );
        step(&mut fleet, &mut state, 2);
        let i = &state.instances[first.as_str()];
        assert_eq!(i.health, Health::Degraded);
        assert!(
            i.detail.as_deref().is_some_and(|d| d.starts_with("DRAIN")),
            "{:?}",
            i.detail
        );
        assert_eq!(fleet.view().instances[0].state, "DRAIN");

        fleet
            .act(&DrillAction::Power {
                node: "pg-1".into(),
                on: false,
            })
            .expect("fence the primary");
        step(&mut fleet, &mut state, 3);
        step(&mut fleet, &mut state, 4);
        assert_eq!(state.databases[DATABASE].writable, 0, "no primary");
        fleet
            .act(&DrillAction::Promote {
                member: "pg-2".into(),
            })
            .expect("promote");
        fleet
            .act(&DrillAction::Power {
                node: "pg-1".into(),
                on: true,
            })
            .expect("unfence");
        step(&mut fleet, &mut state, 5);
        step(&mut fleet, &mut state, 6);
        let db = &state.databases[DATABASE];
        assert_eq!(db.writable, 1);
        assert_eq!(
            db.primary.as_ref().map(ToString::to_string).as_deref(),
            Some("pg-2")
        );
        assert!(
            fleet
                .view()
                .db
                .contains(&("pg-1".to_owned(), DbRole::Replica, true))
        );

        let route = fleet.view().routes[0].0.clone();
        fleet
            .act(&DrillAction::Fallback {
                route: route.clone(),
                on: true,
            })
            .expect("fallback");
        assert_eq!(fleet.view().routes[0], (route, true));
    }

    /// The scripted cycle plays every fault with its signature, and everything recovers.
    #[test]
    fn scripted_cycle_shows_each_fault_and_recovers() {
        let mut fleet = DrillFleet::new(7, 300, true);
        let src = SourceId::new("drill");
        let mut state = State::default();
        for b in fleet.inventory() {
            state.apply(&Event::new(Timestamp(0), src.clone(), b));
        }
        let mut seen_open = false;
        let mut seen_checkout_down = false;
        let mut seen_flapping = false;
        let mut quorum_states = Vec::new();
        for s in 0..=300 {
            let at = Timestamp(s * 1000);
            for b in fleet.step(at) {
                state.apply(&Event::new(at, src.clone(), b));
            }
            seen_open |= state.breakers["edge-gateway/checkout"].state == BreakerState::Open;
            seen_checkout_down |= state.services["checkout"].health == Health::Unhealthy;
            seen_flapping |= state.instances.values().any(|i| i.flapping);
            let q = state.clusters["drill-etcd"].quorum.state;
            if quorum_states.last() != Some(&q) {
                quorum_states.push(q);
            }
        }
        assert!(seen_open, "connection leak trips the edge breaker");
        assert!(seen_checkout_down, "connection leak fails readiness");
        assert!(seen_flapping, "flapping instance is flagged");
        assert_eq!(
            quorum_states,
            vec![
                QuorumState::Healthy,
                QuorumState::AtRisk,
                QuorumState::Lost,
                QuorumState::Healthy
            ]
        );
        let b = &state.breakers["edge-gateway/checkout"];
        assert_eq!(
            b.state,
            BreakerState::Closed,
            "recovered: {:?} {:?}",
            b.flips,
            state.services["checkout"]
        );
        assert_eq!(state.services["checkout"].health, Health::Healthy);
        let incidents = &state.incidents.incidents;
        assert!(incidents.len() >= 2, "{incidents:?}");
        let leak = &incidents[0];
        assert_eq!(leak.fault.as_deref(), Some("connection_leak"));
        assert!(leak.mttd_millis() > 0 && leak.mttr_millis().is_some());
        assert!(
            state.open_incident().is_none(),
            "all recovered by the end of the cycle"
        );
    }
}
