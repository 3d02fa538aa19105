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
//! - [`event`]: every observation and operator intent.
//! - [`State`]: the fold, with quorum, breaker and incident views derived from it.
//! - `sources`: one module per observed system (the drill fleet, etcd); each runs as its
//!   own task and bulkhead.
//! - [`start`]: starts the engine, which wires sources to the reducer and the recorder;
//!   the app holds its [`EngineHandle`].
//! - `session`: the recording format and its reader.
//! - [`Config`]: the TOML configuration.
//!
//! This crate never depends on a GUI crate; CI checks that with `cargo tree`.

mod config;
mod engine;
pub mod event;
mod identity;
pub mod model;
mod rng;
pub mod session;
pub mod sources;
mod state;
mod status;
pub mod store;
mod time;
pub mod workflow;

pub use self::config::{Config, ConfigError, Environment, Look, SourceConfig};
pub use self::engine::{EngineError, EngineHandle, EngineOptions, player, start};
pub use self::identity::{host_name, operator_name};
pub use self::status::{StatusReport, event_json_line};

pub use self::event::{
    DrillFault, Event, EventBody, Intent, MemberSpec, MemberStatus, PgSessions, TimelineSwitch,
};
pub use self::rng::SplitMix64;
pub use self::state::{
    Breaker, ConsensusCluster, DbCluster, DbMemberView, Flip, HealthCounts, INCIDENTS_KEPT,
    Incident, IncidentTracker, Instance, LogEntry, MemberView, MetricSeries, Pool, QuorumView,
    Route, Service, Severity, SourceInfo, State, Subject, evaluate_quorum, quorum_size,
};
pub use self::time::{Clock, SystemClock, Timestamp};
