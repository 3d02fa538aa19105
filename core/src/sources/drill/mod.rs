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
//! member, promotion of a database member, a route's fallback, and the public name
//! moved to the standby region and back (`www.drill.example`, served by two simulated
//! name servers, its primary value the region the fleet is in). [`DrillView`] is what
//! the workflows read, fresh, to plan and verify.
//!
//! The module is split along its jobs: `sim` steps the fleet, `actions` applies the
//! operators' actions and gives the workflows their view, `handle` is how the workflows
//! reach the running drill, and `task` runs it on the engine's clock.

mod actions;
mod handle;
mod sim;
mod task;
#[cfg(test)]
mod tests;

use crate::event::DrillFault;
use crate::model::{
    BreakerId, ClusterId, ClusterKind, DbRole, Health, InstanceId, MemberId, ServiceId, ServiceRole,
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

impl crate::sources::Settings for DrillConfig {}

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
/// The drill's public name, its zone, and where it points in each region: the fleet
/// is the primary region (its entry is `edge-gateway`); the standby region is outside
/// the simulation.
const PUBLIC_NAME: &str = "www.drill.example";
const PUBLIC_ZONE: &str = "drill.example";
const PUBLIC_PRIMARY: &str = "eu-west.drill.example";
const PUBLIC_STANDBY: &str = "eu-central.drill.example";
const NAME_SERVERS: [&str; 2] = ["ns1.drill.example:53", "ns2.drill.example:53"];
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
    /// The public name points to the standby region.
    public_standby: bool,
    /// The public zone's SOA serial (bumped by each move).
    public_serial: u32,
    /// The serial last reported.
    public_sent: u32,
    faults: Vec<(DrillFault, Timestamp)>,
    scripted: bool,
    origin: Option<Timestamp>,
    last_step: Option<Timestamp>,
    steps: u64,
}

pub use self::actions::{
    DRILL_DATABASE, DRILL_PUBLIC_TARGET, DrillAction, DrillInstance, DrillView, ServerState,
};
pub use self::handle::{DrillCommand, DrillHandle};
pub(crate) use self::task::start;
pub use self::task::{run, simulate};
