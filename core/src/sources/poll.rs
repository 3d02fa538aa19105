//! The polling driver: the one loop every polling source runs.
//!
//! A polling source hands [`drive`] a [`Poll`]: a `fetch` that asks its system once (the
//! raw answer, or why not in words) and a pure `translate` from an answer to events. The
//! driver owns everything around them, so no source writes the loop again:
//!
//! - the ticker (`interval`; a slow poll delays the next one rather than bunching up);
//! - the bound on one whole poll, when the source wants one;
//! - capped, jittered backoff after a failed poll ([`Backoff`], a layer of its own:
//!   reset by a good poll, slept after a bad one);
//! - `SourceUp` / `SourceDown`, the change-only emission and the heartbeat, in one of
//!   three [`Report`] styles (topology snapshots, readings, queries);
//! - volatile readings held back while they move within their tolerance ([`Settle`]).
//!
//! The driver's memory between polls is a small state machine ([`Said`]: what it last
//! told the engine about the source), as kube-rs' watcher keeps its `State`; the
//! change-only memory of snapshot events is [`Changes`].

use std::future::Future;
use std::time::Duration;

use super::changes::Changes;
use super::volatile::Settle;
use super::{Backoff, Emitter};
use crate::event::EventBody;
use crate::model::SourceStatus;

/// A polling source: how to ask its system and how to read the answer.
pub(crate) trait Poll: Send {
    /// The raw answer of one poll.
    type Answer: Send;

    /// Asks the system once. An error says what failed in words an operator can act
    /// on, the URL or socket last.
    fn fetch(&mut self) -> impl Future<Output = Result<Self::Answer, String>> + Send;

    /// What an answer says. Pure: no I/O, no clock.
    fn translate(&self, answer: Self::Answer) -> Polled;

    /// Events a failed poll itself means (a database server unreachable); none for most.
    fn failure(&self, _why: &str) -> Vec<EventBody> {
        Vec::new()
    }
}

/// What one answer says.
#[derive(Debug, Default)]
pub(crate) struct Polled {
    /// The system's state (services, instances, members): in the `Changes` style, sent
    /// only when it differs from what was sent last.
    pub(crate) state: Vec<EventBody>,
    /// Readings (calls, metrics): sent at every poll, after the state.
    pub(crate) samples: Vec<EventBody>,
    /// Readings of volatile numbers (sessions, latencies, lag): sent after the samples
    /// when they moved past their tolerance, or at least every half minute
    /// (`volatile.rs`).
    pub(crate) gauges: Vec<EventBody>,
    /// The source's one line for the operator.
    pub(crate) detail: String,
    /// The system answered only in part (a query failed): the source is down for this
    /// reason, though what did answer still goes out.
    pub(crate) down: Option<String>,
}

/// How a source's status and events are reported.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Report {
    /// Snapshots of a system's state (gateways, clusters): state events only when they
    /// change, everything again every `full_every`; up once per recovery (with the
    /// detail), down at every failed poll, a heartbeat after a quiet second. With
    /// `detail_follows`, a detail that changes while up is reported again.
    Changes {
        /// Everything is sent again this often, so a missed event cannot stick.
        full_every: Option<Duration>,
        /// Report a changed detail while up.
        detail_follows: bool,
    },
    /// Readings of one server: every event at every poll, up with the detail at every
    /// poll, down once per outage.
    Readings,
    /// Queries: every event at every poll; the status only when it or its detail
    /// changes, and a heartbeat at a poll that sent nothing while up.
    Queries,
}

/// How often and how carefully to poll.
pub(crate) struct Pace {
    /// Time between two polls.
    pub(crate) interval: Duration,
    /// Bound on one whole poll and what it names in the error (`None`: the source
    /// bounds each of its calls itself).
    pub(crate) bound: Option<(Duration, String)>,
    /// Delays after a failed poll.
    pub(crate) backoff: Backoff,
    /// How status and events are reported.
    pub(crate) report: Report,
}

/// What the driver last told the engine about the source.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Said {
    /// Nothing yet.
    Nothing,
    /// Up, with this detail.
    Up(String),
    /// Down, for this reason.
    Down(String),
}

/// Polls `source` at `pace` until the engine stops.
pub(crate) async fn drive<P: Poll>(mut source: P, mut pace: Pace, emitter: &Emitter) {
    let mut ticker = tokio::time::interval(pace.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut driver = Driver {
        emitter,
        report: pace.report,
        said: Said::Nothing,
        changes: Changes::new(),
        last_full: tokio::time::Instant::now(),
        settle: Settle::default(),
    };
    loop {
        ticker.tick().await;
        let answer = match &pace.bound {
            Some((bound, what)) => super::bounded(*bound, what, source.fetch()).await,
            None => source.fetch().await,
        };
        let (alive, failed) = match answer {
            Ok(answer) => driver.answered(source.translate(answer)).await,
            Err(why) => {
                let events = source.failure(&why);
                (driver.failed(events, why).await, true)
            }
        };
        if !alive {
            return;
        }
        if failed {
            tokio::time::sleep(pace.backoff.next_delay()).await;
        } else {
            pace.backoff.reset();
        }
    }
}

/// The reporting half of the driver.
struct Driver<'a> {
    emitter: &'a Emitter,
    report: Report,
    said: Said,
    changes: Changes,
    last_full: tokio::time::Instant,
    settle: Settle,
}

impl Driver<'_> {
    /// Reports an answer. Returns (the engine still runs, the source is down).
    async fn answered(&mut self, polled: Polled) -> (bool, bool) {
        let Polled {
            state,
            mut samples,
            gauges,
            detail,
            down,
        } = polled;
        samples.extend(gauges.into_iter().filter(|g| self.settle.pass(g, true)));
        if let (Some(why), Report::Changes { .. } | Report::Readings) = (&down, self.report) {
            // Down first, as in `failed`.
            let alive = self.failed(Vec::new(), why.clone()).await;
            return (alive && self.send(samples).await, true);
        }
        let alive = match self.report {
            Report::Changes {
                full_every,
                detail_follows,
            } => {
                let full = full_every.is_some_and(|every| self.last_full.elapsed() >= every);
                if full {
                    self.last_full = tokio::time::Instant::now();
                }
                let mut recovered = false;
                let alive = self
                    .changes
                    .polled(
                        self.emitter,
                        || {
                            recovered = true;
                            detail.clone()
                        },
                        state,
                        full,
                    )
                    .await;
                if recovered {
                    self.said = Said::Up(detail.clone());
                }
                alive && self.send(samples).await && {
                    let now = Said::Up(detail.clone());
                    if detail_follows && self.said != now {
                        self.said = now;
                        self.emitter.status(SourceStatus::Up, Some(detail)).await
                    } else {
                        true
                    }
                }
            }
            Report::Readings => {
                self.said = Said::Up(detail.clone());
                self.send(state).await
                    && self.send(samples).await
                    && self.emitter.status(SourceStatus::Up, Some(detail)).await
            }
            Report::Queries => {
                let sent = state.len() + samples.len();
                let now = down.map_or(Said::Up(detail), Said::Down);
                self.send(state).await && self.send(samples).await && self.tell(now, sent).await
            }
        };
        let down = matches!(self.said, Said::Down(_));
        (alive, down)
    }

    /// Reports a failed poll and the events it means. Returns `false` once the engine
    /// stopped.
    async fn failed(&mut self, events: Vec<EventBody>, why: String) -> bool {
        // Everything goes out again once the source is back.
        self.settle.clear();
        // The status before the events it explains: the engine takes any event from a
        // source it marked stale as "reporting again" (up), so events first would show
        // the source up for a moment while it is failing.
        let told = match self.report {
            Report::Changes { .. } => {
                self.said = Said::Down(why.clone());
                self.changes.failed(self.emitter, why).await
            }
            Report::Readings => {
                if matches!(self.said, Said::Down(_)) {
                    true
                } else {
                    self.said = Said::Down(why.clone());
                    self.emitter.status(SourceStatus::Down, Some(why)).await
                }
            }
            Report::Queries => self.tell(Said::Down(why), 0).await,
        };
        told && self.send(events).await
    }

    /// The `Queries` style: the status when it changed, else a heartbeat after a poll
    /// that sent nothing while up.
    async fn tell(&mut self, now: Said, sent: usize) -> bool {
        if self.said != now {
            let told = match &now {
                Said::Up(d) => Some((SourceStatus::Up, d.clone())),
                Said::Down(d) => Some((SourceStatus::Down, d.clone())),
                Said::Nothing => None,
            };
            self.said = now;
            return match told {
                Some((status, detail)) => self.emitter.status(status, Some(detail)).await,
                None => true,
            };
        }
        if sent == 0 && matches!(self.said, Said::Up(_)) {
            return self.emitter.status(SourceStatus::Up, None).await;
        }
        true
    }

    /// Sends `events` as they are. Returns `false` once the engine stopped.
    async fn send(&self, events: Vec<EventBody>) -> bool {
        for ev in events {
            if !self.emitter.emit(ev).await {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;

    use super::*;
    use crate::model::{ServiceId, ServiceRole, SourceId, SourceKind};
    use crate::time::SystemClock;

    /// A scripted answer: (a state event's name, the detail, down for why).
    type Line = (&'static str, &'static str, Option<&'static str>);

    /// A source that gives scripted answers, then hangs.
    struct Script(VecDeque<Result<Line, &'static str>>);

    fn service(name: &str) -> EventBody {
        EventBody::Service {
            service: ServiceId::new(name),
            role: ServiceRole::Service,
        }
    }

    impl Poll for Script {
        type Answer = Line;

        async fn fetch(&mut self) -> Result<Self::Answer, String> {
            match self.0.pop_front() {
                Some(answer) => answer.map_err(str::to_owned),
                None => std::future::pending().await,
            }
        }

        fn translate(&self, (state, detail, down): Self::Answer) -> Polled {
            Polled {
                state: vec![service(state)],
                samples: vec![service("sample")],
                gauges: Vec::new(),
                detail: detail.to_owned(),
                down: down.map(str::to_owned),
            }
        }

        fn failure(&self, why: &str) -> Vec<EventBody> {
            vec![service(&format!("failed: {why}"))]
        }
    }

    /// What the driver sends for `script` in `report`'s style, in words.
    fn words(report: Report, script: Script) -> Vec<String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel(64);
            let emitter = Emitter::new(
                SourceId::new("s"),
                SourceKind::Haproxy,
                tx,
                Arc::new(SystemClock),
            );
            let pace = Pace {
                interval: Duration::from_millis(5),
                bound: None,
                backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(1), 1),
                report,
            };
            let task = tokio::spawn(async move { drive(script, pace, &emitter).await });
            let mut out = Vec::new();
            while let Ok(Some(ev)) =
                tokio::time::timeout(Duration::from_millis(300), rx.recv()).await
            {
                out.push(match ev.body {
                    EventBody::SourceStatus { status, detail, .. } => {
                        format!("{} {}", status.as_str(), detail.unwrap_or_default())
                    }
                    EventBody::Service { service, .. } => service.to_string(),
                    other => format!("{other:?}"),
                });
            }
            task.abort();
            out
        })
    }

    #[test]
    fn changes_send_what_changed_up_once_and_down_at_each_failure() {
        let script = Script(VecDeque::from([
            Err("refused"),
            Err("refused"),
            Ok(("a", "one", None)),
            Ok(("a", "one", None)),
            Ok(("a", "two", None)),
            Err("gone"),
            Ok(("b", "two", None)),
        ]));
        let report = Report::Changes {
            full_every: None,
            detail_follows: true,
        };
        assert_eq!(
            words(report, script),
            [
                "down refused",
                "failed: refused",
                "down refused",
                "failed: refused",
                "up one",
                "a",
                "sample",
                "sample",
                "sample",
                "up two",
                "down gone",
                "failed: gone",
                "up two",
                "b",
                "sample",
            ]
        );
    }

    #[test]
    fn readings_send_everything_up_each_poll_and_down_once() {
        let script = Script(VecDeque::from([
            Ok(("a", "one", None)),
            Err("refused"),
            Err("refused"),
            Ok(("a", "two", None)),
        ]));
        assert_eq!(
            words(Report::Readings, script),
            [
                "a",
                "sample",
                "up one",
                "down refused",
                "failed: refused",
                "failed: refused",
                "a",
                "sample",
                "up two",
            ]
        );
    }

    #[test]
    fn queries_tell_a_status_when_it_changes() {
        let script = Script(VecDeque::from([
            Ok(("a", "one", None)),
            Ok(("a", "one", None)),
            Ok(("a", "one", Some("bad query"))),
            Ok(("a", "one", Some("bad query"))),
            Ok(("a", "one", None)),
        ]));
        assert_eq!(
            words(Report::Queries, script),
            [
                "a",
                "sample",
                "up one",
                "a",
                "sample",
                "a",
                "sample",
                "down bad query",
                "a",
                "sample",
                "a",
                "sample",
                "up one",
            ]
        );
    }
}
