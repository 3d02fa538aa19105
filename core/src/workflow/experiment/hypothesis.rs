//! An experiment's steady-state hypothesis: checks the console already evaluates, each
//! read from the folded [`State`] (a quorum healthy, a breaker closed, a service's
//! instances healthy, a latency series under a bound, exactly one primary). A check
//! whose source is not up does not hold: an experiment is never judged on stale data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::runbook::{Num, bind, number};
use crate::model::{BreakerState, MetricUnit, QuorumState, SourceStatus};
use crate::state::State;

/// One check, as written in an experiment file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// A consensus cluster's quorum is healthy.
    Quorum {
        /// The cluster (an etcd or Consul source's name).
        cluster: String,
    },
    /// A breaker is closed.
    BreakerClosed {
        /// `source/route`.
        breaker: String,
    },
    /// A service's instances are healthy: `at_least` of them, or every one.
    Healthy {
        /// The service.
        service: String,
        /// How many must be healthy (default: all, and at least one).
        #[serde(default)]
        at_least: Option<Num>,
    },
    /// A latency series of a service is under a bound.
    LatencyBelow {
        /// The service.
        service: String,
        /// The series (`p99 latency`).
        series: String,
        /// The bound, in milliseconds.
        millis: Num,
    },
    /// A database cluster has exactly one primary, and nothing else takes writes.
    OnePrimary {
        /// The database cluster.
        database: String,
    },
}

/// A check with its variables bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bound {
    /// Quorum of a cluster.
    Quorum(String),
    /// A breaker closed.
    BreakerClosed(String),
    /// A service's healthy instances: at least this many (none: all).
    Healthy(String, Option<u32>),
    /// A series under this many milliseconds.
    LatencyBelow(String, String, u64),
    /// Exactly one primary.
    OnePrimary(String),
}

/// A check's verdict now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// What was checked, in words.
    pub check: String,
    /// It holds.
    pub holds: bool,
    /// What was seen.
    pub seen: String,
}

impl Check {
    /// Binds its `{var}`s.
    pub(crate) fn bind(&self, vars: &BTreeMap<String, String>) -> Result<Bound, String> {
        let b = |s: &str| bind(s, vars);
        Ok(match self {
            Self::Quorum { cluster } => Bound::Quorum(b(cluster)?),
            Self::BreakerClosed { breaker } => Bound::BreakerClosed(b(breaker)?),
            Self::Healthy { service, at_least } => Bound::Healthy(
                b(service)?,
                at_least
                    .as_ref()
                    .map(|n| {
                        number(n, vars)
                            .and_then(|v| u32::try_from(v).map_err(|_| format!("{v} instances?")))
                    })
                    .transpose()?,
            ),
            Self::LatencyBelow {
                service,
                series,
                millis,
            } => Bound::LatencyBelow(b(service)?, b(series)?, number(millis, vars)?),
            Self::OnePrimary { database } => Bound::OnePrimary(b(database)?),
        })
    }
}

/// Why a source's data cannot be judged now, if it cannot.
fn unjudged(state: &State, source: &str) -> Option<String> {
    let info = state.sources.get(source)?;
    (info.status != SourceStatus::Up)
        .then(|| format!("its source {source} is {}", info.status.as_str()))
}

impl Bound {
    /// The check in words.
    pub fn describe(&self) -> String {
        match self {
            Self::Quorum(c) => format!("{c}: quorum healthy"),
            Self::BreakerClosed(b) => format!("breaker {b} closed"),
            Self::Healthy(s, None) => format!("{s}: every instance healthy"),
            Self::Healthy(s, Some(n)) => format!("{s}: at least {n} instance(s) healthy"),
            Self::LatencyBelow(s, series, ms) => format!("{s} {series} under {ms} ms"),
            Self::OnePrimary(d) => format!("{d}: exactly one primary"),
        }
    }

    /// Its verdict on `state`.
    pub fn verdict(&self, state: &State) -> Verdict {
        let (holds, seen) = self.judge(state);
        Verdict {
            check: self.describe(),
            holds,
            seen,
        }
    }

    fn judge(&self, state: &State) -> (bool, String) {
        match self {
            Self::Quorum(name) => {
                let Some(c) = state.clusters.get(name.as_str()) else {
                    return (false, format!("no cluster {name} seen"));
                };
                if let Some(why) = unjudged(state, c.source.as_str()) {
                    return (false, why);
                }
                let q = &c.quorum;
                (
                    q.state == QuorumState::Healthy,
                    format!(
                        "{}: {} of {} voters reachable",
                        q.state.as_str(),
                        q.reachable,
                        q.voters
                    ),
                )
            }
            Self::BreakerClosed(id) => {
                let Some(b) = state.breakers.get(id.as_str()) else {
                    return (false, format!("no breaker {id} seen"));
                };
                if let Some(why) = unjudged(state, b.source.as_str()) {
                    return (false, why);
                }
                (
                    b.state == BreakerState::Closed,
                    format!(
                        "{}, {:.0} % failures",
                        b.state.as_str(),
                        b.failure_rate * 100.0
                    ),
                )
            }
            Self::Healthy(name, at_least) => {
                let Some(s) = state.services.get(name.as_str()) else {
                    return (false, format!("no service {name} seen"));
                };
                let unread: Vec<String> = state
                    .instances
                    .values()
                    .filter(|i| i.service.as_str() == name)
                    .filter_map(|i| unjudged(state, i.source.as_str()))
                    .collect();
                if let Some(why) = unread.first() {
                    return (false, why.clone());
                }
                let c = s.counts;
                let total = c.healthy + c.degraded + c.unhealthy + c.unknown;
                let holds = match at_least {
                    Some(n) => c.healthy >= *n,
                    None => c.healthy > 0 && c.healthy == total,
                };
                (holds, format!("{} of {total} healthy", c.healthy))
            }
            Self::LatencyBelow(service, series, ms) => {
                let Some(m) = state.metric(service, series) else {
                    return (false, format!("no series {series} of {service} seen"));
                };
                if let Some(why) = unjudged(state, m.source.as_str()) {
                    return (false, why);
                }
                let millis = match m.unit {
                    MetricUnit::Seconds => m.value * 1000.0,
                    _ => m.value,
                };
                #[allow(clippy::cast_precision_loss)]
                let bound = *ms as f64;
                (millis < bound, format!("{millis:.0} ms"))
            }
            Self::OnePrimary(name) => {
                let Some(d) = state.databases.get(name.as_str()) else {
                    return (false, format!("no database {name} seen"));
                };
                match (&d.primary, d.writable) {
                    (Some(p), 1) => (true, format!("{p} is the primary")),
                    (_, 0) => (false, "no member takes writes".to_owned()),
                    (_, n) => (false, format!("{n} members take writes")),
                }
            }
        }
    }
}

/// The verdicts of `checks` on `state`, and whether all hold.
pub fn judge_all(checks: &[Bound], state: &State) -> (bool, Vec<Verdict>) {
    let verdicts: Vec<Verdict> = checks.iter().map(|c| c.verdict(state)).collect();
    (verdicts.iter().all(|v| v.holds), verdicts)
}

/// The first check that does not hold, in words (`service x: 1 of 2 healthy`).
pub fn first_broken(verdicts: &[Verdict]) -> Option<String> {
    verdicts
        .iter()
        .find(|v| !v.holds)
        .map(|v| format!("{}: {}", v.check, v.seen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventBody};
    use crate::model::{Health, InstanceId, ServiceId, SourceId, SourceKind};
    use crate::time::Timestamp;

    fn instance(state: &mut State, at: i64, name: &str, health: Health) {
        state.apply(&Event::new(
            Timestamp(at),
            SourceId::from("gw"),
            EventBody::InstanceHealth {
                instance: InstanceId::new(name),
                service: ServiceId::new("web"),
                health,
                detail: None,
            },
        ));
    }

    #[test]
    fn a_service_holds_when_every_instance_is_healthy_and_not_on_stale_data() {
        let mut s = State::default();
        let all = Bound::Healthy("web".into(), None);
        assert_eq!(all.verdict(&s).seen, "no service web seen");
        s.apply(&Event::new(
            Timestamp(1),
            SourceId::from("gw"),
            EventBody::SourceStatus {
                source_kind: SourceKind::Haproxy,
                status: SourceStatus::Up,
                detail: None,
                drill: false,
            },
        ));
        instance(&mut s, 2, "web1", Health::Healthy);
        instance(&mut s, 3, "web2", Health::Healthy);
        assert!(all.verdict(&s).holds, "{:?}", all.verdict(&s));
        instance(&mut s, 4, "web1", Health::Unhealthy);
        let v = all.verdict(&s);
        assert!(!v.holds);
        assert_eq!(v.seen, "1 of 2 healthy");
        assert!(Bound::Healthy("web".into(), Some(1)).verdict(&s).holds);
        let (ok, verdicts) = judge_all(std::slice::from_ref(&all), &s);
        assert!(!ok);
        assert_eq!(
            first_broken(&verdicts).as_deref(),
            Some("web: every instance healthy: 1 of 2 healthy")
        );
        s.apply(&Event::new(
            Timestamp(5),
            SourceId::from("gw"),
            EventBody::SourceStatus {
                source_kind: SourceKind::Haproxy,
                status: SourceStatus::Down,
                detail: None,
                drill: false,
            },
        ));
        let v = Bound::Healthy("web".into(), Some(1)).verdict(&s);
        assert!(!v.holds, "stale data is not judged");
        assert_eq!(v.seen, "its source gw is down");
    }
}
