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
        /// the engine itself. Written by name in JSON and by a stable code in the state
        /// snapshots ([`SourceKind::code`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum SourceKind {
            $(
                $(#[doc = $doc])*
                $variant,
            )*
            /// The engine itself (staleness markers, operator intents).
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

/// The engine's code in snapshots: where it stood when the snapshot format first shipped,
/// after the twelve kinds of that time. Those keep their codes (their table positions);
/// kinds added to the table since take the codes after it.
const ENGINE_CODE: u8 = 12;

impl SourceKind {
    /// Its code in binary snapshots: stable across releases, whatever is added to the
    /// sources table (new lines go at its end).
    pub fn code(self) -> u8 {
        match Self::SOURCES.iter().position(|k| *k == self) {
            None => ENGINE_CODE,
            Some(i) => {
                let i = u8::try_from(i).unwrap_or(u8::MAX);
                if i < ENGINE_CODE {
                    i
                } else {
                    i.saturating_add(1)
                }
            }
        }
    }

    /// The kind of `code`, if there is one.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            ENGINE_CODE => Some(Self::Engine),
            c if c < ENGINE_CODE => Self::SOURCES.get(usize::from(c)).copied(),
            c => Self::SOURCES.get(usize::from(c - 1)).copied(),
        }
    }
}

impl Serialize for SourceKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(self.as_str())
        } else {
            s.serialize_u8(self.code())
        }
    }
}

impl<'de> Deserialize<'de> for SourceKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        if d.is_human_readable() {
            let name = String::deserialize(d)?;
            Self::parse(&name)
                .ok_or_else(|| D::Error::custom(format!("unknown kind of source {name:?}")))
        } else {
            let code = u8::deserialize(d)?;
            Self::from_code(code)
                .ok_or_else(|| D::Error::custom(format!("unknown kind of source (code {code})")))
        }
    }
}

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

/// How a service made of other services spreads its traffic over them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Composition {
    /// Split over its parts by weight (Traefik's weighted service).
    Weighted,
    /// All to its first part while that part is up, else to the next (Traefik's
    /// failover: main, then fallback).
    Failover,
    /// All to its first part, with copies of some requests sent to the others, whose
    /// answers are dropped (Traefik's mirroring).
    Mirroring,
    /// To its parts in order of priority, the first with healthy hosts first (Envoy's
    /// aggregate cluster).
    Aggregate,
}

impl Composition {
    /// Lower-case name as used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Weighted => "weighted",
            Self::Failover => "failover",
            Self::Mirroring => "mirroring",
            Self::Aggregate => "aggregate",
        }
    }
}

/// Where a service that chooses sends its traffic now: a failover's main or fallback,
/// an aggregate cluster's first healthy cluster, an HAProxy backend's active or backup
/// servers, an Envoy cluster's priority level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// What takes the traffic (a part's name, `backup servers`, `priority 1`); none
    /// when nothing can, and the gateway answers with an error.
    pub chosen: Option<String>,
    /// The first choice takes it (a failover's main, the active servers, priority 0).
    pub primary: bool,
    /// Why, in words: what the source read to decide.
    pub detail: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Snapshots written before a kind was added still read: the first twelve kinds
    /// and the engine keep the codes they were written with, and new kinds take new
    /// ones; JSON names them.
    #[test]
    fn snapshot_codes_are_stable_and_json_says_names() {
        let shipped = [
            "drill",
            "etcd",
            "haproxy",
            "http_probe",
            "grpc_health",
            "envoy",
            "traefik",
            "prometheus",
            "patroni",
            "consul",
            "kubernetes",
            "postgres",
        ];
        for (code, name) in shipped.iter().enumerate() {
            let kind = SourceKind::parse(name).expect("a shipped kind");
            assert_eq!(usize::from(kind.code()), code, "{name} keeps its code");
        }
        assert_eq!(
            postcard::to_stdvec(&SourceKind::Engine).expect("bytes"),
            [12]
        );
        let mut codes = std::collections::BTreeSet::new();
        for kind in SourceKind::SOURCES
            .iter()
            .copied()
            .chain([SourceKind::Engine])
        {
            assert!(codes.insert(kind.code()), "{kind:?}'s code is its own");
            let bytes = postcard::to_stdvec(&kind).expect("bytes");
            assert_eq!(
                postcard::from_bytes::<SourceKind>(&bytes).expect("back"),
                kind
            );
            let json = serde_json::to_string(&kind).expect("json");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(
                serde_json::from_str::<SourceKind>(&json).expect("back"),
                kind
            );
        }
        assert!(serde_json::from_str::<SourceKind>("\"zookeeper\"").is_err());
    }
}
