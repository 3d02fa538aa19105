//! # switchboard-core
//!
//! The headless core of the Switchboard incident console. It connects to the systems
//! an outage touches, turns what it sees into timestamped [`Event`]s, folds them into
//! one [`State`] with a pure reducer, and records every applied event to a session file.
//!
//! ```text
//!  sources (tokio tasks) --Event--> engine --apply--> State --snapshot--> app
//!                                     |
//!                                     +--append--> session file (SQLite)
//! ```
//!
//! - [`model`]: ids and the small enums of the domain.
//! - [`event`]: every observation and operator intent ([`Event`], [`Intent`]).
//! - [`State`]: the pure fold, with quorum, breaker, incident, database and series views
//!   derived from the same events.
//! - [`sources`]: one module per observed system (etcd, Consul, HAProxy, Traefik, Envoy,
//!   HTTP and gRPC health, Prometheus, Patroni, PostgreSQL, Kubernetes, the drill); each
//!   runs as its own task and bulkhead.
//! - [`start`]: starts the engine, which wires sources to the reducer and the recorder;
//!   the app holds its [`EngineHandle`]. [`player`] replays a session file through the
//!   same kind of handle.
//! - [`session`]: the recording format (events, keyframes, segments), its reader and
//!   its retention.
//! - [`workflow`]: guarded workflows on a registry of target kinds, their journal, the
//!   cross-console lock and the desk the window uses.
//! - [`dns`]: questions to a zone's authoritative servers and signed dynamic updates.
//! - [`store`]: incidents and notes in SQLite, and the postmortem export.
//! - [`relay`]: `switchboard serve`, one engine serving many consoles over gRPC
//!   ([`protocol`]); a console follows one through its engine's link.
//! - [`Config`]: the TOML configuration (a leaf: it knows no workflow or engine).
//! - [`StatusReport`]: `status --json` and `watch --json`.
//!
//! The map of the whole workspace, the data flow and where to add a source, a workflow
//! target or a panel is in `ARCHITECTURE.md` at the top of the repository.
//!
//! This crate never depends on a GUI crate; CI checks that with `cargo tree`.

mod config;
pub mod dns;
mod engine;
pub mod event;
mod identity;
pub mod model;
pub mod protocol;
pub mod relay;
mod rng;
pub mod session;
pub mod sources;
mod state;
mod status;
pub mod store;
mod time;
pub mod workflow;

pub use self::config::{
    Config, ConfigError, Election, Environment, Look, RelayClient, ServeConfig, SourceConfig,
    TokenConfig,
};
pub use self::engine::{
    Attached, EngineError, EngineHandle, EngineOptions, Flusher, LinkStatus, RelayDoor, RelayNews,
    Tap, player, start,
};
pub use self::identity::{host_name, operator_name};
pub use self::status::{StatusReport, event_json_line};

pub use self::event::{
    DrillFault, Event, EventBody, Intent, MemberSpec, MemberStatus, PgSessions, TimelineSwitch,
};
pub use self::rng::SplitMix64;
pub use self::state::{
    Breaker, Chosen, Composite, ConsensusCluster, DbCluster, DbMemberView, DnsEntry, Flip,
    HealthCounts, INCIDENTS_KEPT, Incident, IncidentTracker, Instance, LogEntry, MemberView,
    MetricSeries, Pool, QuorumView, Reach, Route, Service, Severity, SourceInfo, State, Subject,
    evaluate_quorum, quorum_size,
};
pub use self::time::{Clock, SystemClock, Timestamp};
