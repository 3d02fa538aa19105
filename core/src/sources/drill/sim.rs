//! The simulation: the fleet built from its seed, its inventory and each step.

use super::{
    BACK, CONSUL_OUTAGE, CYCLE_MILLIS, DATABASE, DB_MAX_CONNECTIONS, DrillFleet, EDGE_ROUTES,
    FLAP_SERVICE, FRONT, GATEWAYS, INTERNAL_ROUTES, LEAK_SERVICE, MID, POOL_SIZE, SCRIPT,
    ServerState, SimCluster, SimInstance, SimRoute, SimService,
};
use crate::event::{DrillFault, EventBody, MemberSpec, MemberStatus, PgSessions};
use crate::model::{
    BreakerConfig, BreakerId, ClusterId, ClusterKind, DbRole, Health, InstanceId, MemberId,
    MetricUnit, RouteId, ServiceId, ServiceRole,
};
use crate::rng::SplitMix64;
use crate::time::Timestamp;

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
            public_standby: false,
            public_serial: 2_026_120_601,
            public_sent: 2_026_120_601,
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
        out.push(self.public_record());
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
        // As a DNS source reports: when the name moved, and now and then besides.
        if self.public_sent != self.public_serial || self.steps.is_multiple_of(30) {
            self.public_sent = self.public_serial;
            out.push(self.public_record());
        }
        out
    }

    pub(super) fn leak_pool(&self, at: Timestamp) -> (u32, u32) {
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
