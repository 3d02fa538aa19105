//! Small enums and configuration records shared by events and state.

use serde::{Deserialize, Serialize};

/// Generates [`SourceKind`] from the sources table (`sources/table.rs`).
macro_rules! source_kind {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $name:literal, $module:ident :: $config:ident,
        poll: { $($field:ident : $unit:ident)? },
        feeds: { $($pane:ident : $feed:ident),* },
        example: $example:literal
        $(, start: $start:path)?;
    )*) => {
        /// The kind of system a source observes: one per line of the sources table, and
        /// the engine itself.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum SourceKind {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $name)]
                $variant,
            )*
            /// The engine itself (staleness markers, operator intents).
            #[serde(rename = "engine")]
            Engine,
        }

        impl SourceKind {
            /// Every kind a config can name, in table order (the engine aside).
            pub const SOURCES: &[Self] = &[$(Self::$variant),*];

            /// Lower-case name as used in config and JSON.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Engine => "engine",
                }
            }

            /// The kind named `name` (as [`Self::as_str`] writes it), if there is one.
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Self::$variant),)*
                    "engine" => Some(Self::Engine),
                    _ => None,
                }
            }

            /// What it observes, in words (its line's doc comment).
            pub fn describe(self) -> &'static str {
                match self {
                    $(Self::$variant => concat!($($doc),*),)*
                    Self::Engine => " The engine itself (staleness markers, operator intents).",
                }
                .trim()
            }

            /// Which panes it feeds besides the ones its own data names.
            pub const fn feeds(self) -> Feeds {
                match self {
                    $(Self::$variant => Feeds { $($pane: Feed::$feed,)* ..Feeds::NONE },)*
                    Self::Engine => Feeds::NONE,
                }
            }
        }
    };
}

crate::source_table!(source_kind);

/// Whether a kind of source feeds a pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// Only through the data it names (a breaker's source, an instance's source).
    Never,
    /// Always: a gateway's routes' breakers, a database source's databases.
    Always,
    /// Only while the state shows something of the pane (the drill, which simulates
    /// databases in some fleets).
    WhenShown,
}

/// The panes a kind of source feeds as a kind, declared in the sources table, so the
/// freshness cue of a pane knows its sources without a list of kinds in the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feeds {
    /// The breakers pane (a gateway reports its routes' breakers).
    pub breakers: Feed,
    /// The databases pane.
    pub databases: Feed,
}

impl Feeds {
    /// Feeds nothing as a kind.
    pub const NONE: Self = Self {
        breakers: Feed::Never,
        databases: Feed::Never,
    };
}

impl Feed {
    /// Whether the source counts, given whether the pane shows anything.
    pub const fn counts(self, shown: bool) -> bool {
        match self {
            Self::Never => false,
            Self::Always => true,
            Self::WhenShown => shown,
        }
    }
}

/// Whether a source is delivering data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    /// Reporting normally.
    Up,
    /// Its target cannot be reached; what it showed before is no longer current.
    Down,
    /// No report within its staleness limit (the task hangs, or the network is gone).
    Stale,
}

impl SourceStatus {
    /// Lower-case name as used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Stale => "stale",
        }
    }
}

/// Health of an instance or service.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Serving.
    Healthy,
    /// Serving with reduced capacity (some checks failing, pool near saturation).
    Degraded,
    /// Not serving.
    Unhealthy,
    /// Never reported, or its source is down or stale.
    #[default]
    Unknown,
}

impl Health {
    /// Lower-case name as used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
            Self::Unknown => "unknown",
        }
    }
}

/// What a service is in the topology; decides its column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceRole {
    /// An ingress gateway or load balancer.
    Gateway,
    /// An application service.
    #[default]
    Service,
    /// A database or other stateful store.
    Database,
}

/// The kind of a consensus cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterKind {
    /// etcd (Raft).
    Etcd,
    /// Consul servers (Raft).
    Consul,
}

impl ClusterKind {
    /// Lower-case name as used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Etcd => "etcd",
            Self::Consul => "consul",
        }
    }
}

/// The health of a consensus cluster, derived from its members (domain.md §5).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum QuorumState {
    /// Quorum holds with at least one loss to spare, one leader, no alarms.
    #[default]
    Healthy,
    /// Quorum holds but one more loss breaks it (or a member raised an alarm).
    AtRisk,
    /// Fewer voters reachable than quorum, or no leader.
    Lost,
    /// Two members claim leadership, or members disagree on the leader in one term.
    Split,
}

impl QuorumState {
    /// Lower-case name as used in JSON (`at_risk`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::AtRisk => "at_risk",
            Self::Lost => "lost",
            Self::Split => "split",
        }
    }
}

/// Circuit-breaker state (domain.md §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Traffic flows; failures are counted over the window.
    #[default]
    Closed,
    /// Calls fail fast; nothing reaches the dependency until the cooldown ends.
    Open,
    /// After the cooldown, a few trial calls decide between closed and open.
    HalfOpen,
}

impl BreakerState {
    /// Lower-case name as used in JSON (`half_open`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// Thresholds of a breaker computed by the console (domain.md §3 gives the defaults).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Length of the rolling window, in milliseconds (at most 60 000; 1 s buckets).
    pub window_millis: i64,
    /// Failure ratio in the window at which the breaker opens (0..=1).
    pub failure_rate_threshold: f64,
    /// Calls needed in the window before the ratio counts, so a trickle cannot trip it.
    pub min_calls: u32,
    /// Consecutive failed calls that open it regardless of the ratio (0 turns this off).
    pub consecutive_failures: u32,
    /// Time open before trial calls are let through, in milliseconds.
    pub cooldown_millis: i64,
    /// Successful trial calls needed to close again.
    pub trial_calls: u32,
    /// Warn "near trip" when the rate is within this margin of the threshold.
    pub near_trip_margin: f64,
    /// Also warn when the rate's trend would reach the threshold within this many seconds.
    pub trend_horizon_secs: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window_millis: 10_000,
            failure_rate_threshold: 0.5,
            min_calls: 20,
            consecutive_failures: 5,
            cooldown_millis: 30_000,
            trial_calls: 3,
            near_trip_margin: 0.1,
            trend_horizon_secs: 30.0,
        }
    }
}

/// Role of a database cluster member.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbRole {
    /// Accepts writes.
    Primary,
    /// Streams from the primary.
    Replica,
    /// Not known (unreachable, starting).
    #[default]
    Unknown,
}

/// What a metric series measures, which decides how its values read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricUnit {
    /// A plain number.
    #[default]
    Count,
    /// A duration in seconds (latency quantiles as Prometheus gives them).
    Seconds,
    /// A share, 0..=1.
    Ratio,
}

impl MetricUnit {
    /// `value` in words: `12 ms`, `1.40 s`, `3.2 %`, `42`.
    pub fn format(self, value: f64) -> String {
        if !value.is_finite() {
            return "–".to_owned();
        }
        match self {
            Self::Seconds if value.abs() < 0.01 => format!("{:.1} ms", value * 1000.0),
            Self::Seconds if value.abs() < 1.0 => format!("{:.0} ms", value * 1000.0),
            Self::Seconds => format!("{value:.2} s"),
            Self::Ratio => format!("{:.1} %", value * 100.0),
            Self::Count if value.fract() == 0.0 && value.abs() < 1e15 => format!("{value:.0}"),
            Self::Count => format!("{value:.3}"),
        }
    }

    /// The factor and axis label for plotting: seconds plot in ms, ratios in %.
    pub const fn plot_scale(self) -> (f64, &'static str) {
        match self {
            Self::Seconds => (1000.0, "ms"),
            Self::Ratio => (100.0, "%"),
            Self::Count => (1.0, ""),
        }
    }
}
