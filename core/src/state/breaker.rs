//! The circuit-breaker state machine (domain.md §3).
//!
//! Closed -> Open when, over the rolling window, the failure ratio reaches the
//! threshold with at least `min_calls` calls, or `consecutive_failures` calls in a row
//! fail. Open -> `HalfOpen` once the cooldown has passed (the flip is dated at the exact
//! end of the cooldown, not at the next sample). `HalfOpen` -> Closed after `trial_calls`
//! successful calls; `HalfOpen` -> Open when the trial fails (the cooldown restarts).
//!
//! Call outcomes arrive as counts per sample, not one by one, so two rules are read at
//! the level of a sample: a trial fails when the sample's failure ratio reaches the
//! threshold (a single background error among hundreds of calls does not keep a
//! recovered dependency cut off), and "consecutive" failures are approximate: a sample
//! with no successes extends the run, any success ends it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::model::{BreakerConfig, BreakerState, ServiceId, SourceId};
use crate::time::Timestamp;

/// Flips kept per breaker.
const FLIP_HISTORY: usize = 32;
/// Window bucket width.
const BUCKET_MILLIS: i64 = 1000;
/// Most buckets a window may have (60 s).
const MAX_BUCKETS: usize = 60;

/// One state change of a breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flip {
    /// When it flipped.
    pub at: Timestamp,
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Bucket {
    /// Start of the bucket, in units of `BUCKET_MILLIS` since the epoch.
    slot: i64,
    ok: u64,
    failed: u64,
}

/// A breaker and its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Breaker {
    /// The service it protects, if known.
    pub service: Option<ServiceId>,
    /// The source that reports it.
    pub source: SourceId,
    /// Thresholds (for breakers the console computes).
    pub config: BreakerConfig,
    /// True when the console runs the state machine from call outcomes; false when a
    /// gateway reports the state itself.
    pub computed: bool,
    /// Current state.
    pub state: BreakerState,
    /// Failure ratio over the window (0..=1).
    pub failure_rate: f64,
    /// Calls in the window.
    pub volume: u64,
    /// While closed: the rate is within the configured margin of the threshold, or its
    /// trend reaches the threshold within the horizon.
    pub near_trip: bool,
    /// The rate's trend, per second (an EWMA of the slope between samples).
    pub trend_per_sec: f64,
    /// The near-trip warning comes from the trend, not the margin.
    pub rising: bool,
    /// When it last changed state.
    pub last_flip: Option<Timestamp>,
    /// The last flips, oldest first.
    pub flips: VecDeque<Flip>,
    /// Recent (time, failure rate) samples, oldest first, for the plot; shared so a
    /// snapshot clone does not copy it.
    pub history: std::sync::Arc<VecDeque<(Timestamp, f32)>>,
    /// When the last sample arrived.
    pub sampled_at: Option<Timestamp>,
    /// What the state means for the reporting source, when it says.
    pub detail: Option<String>,
    /// For a gateway's own breaker whose state the gateway does not report: how the
    /// console infers it from the gateway's traffic.
    pub inferred: Option<String>,
    window: Vec<Bucket>,
    consecutive_failed: u64,
    trial_ok: u64,
    opened_at: Option<Timestamp>,
}

impl Breaker {
    /// A closed breaker with the given thresholds.
    pub fn new(
        source: SourceId,
        service: Option<ServiceId>,
        config: BreakerConfig,
        computed: bool,
    ) -> Self {
        Self {
            service,
            source,
            config,
            computed,
            state: BreakerState::Closed,
            failure_rate: 0.0,
            volume: 0,
            near_trip: false,
            trend_per_sec: 0.0,
            rising: false,
            last_flip: None,
            flips: VecDeque::new(),
            history: std::sync::Arc::default(),
            sampled_at: None,
            detail: None,
            inferred: None,
            window: Vec::new(),
            consecutive_failed: 0,
            trial_ok: 0,
            opened_at: None,
        }
    }

    fn flip(&mut self, at: Timestamp, to: BreakerState) -> Option<Flip> {
        if self.state == to {
            return None;
        }
        let flip = Flip {
            at,
            from: self.state,
            to,
        };
        self.state = to;
        self.last_flip = Some(at);
        if self.flips.len() == FLIP_HISTORY {
            self.flips.pop_front();
        }
        self.flips.push_back(flip);
        if to == BreakerState::Open {
            self.opened_at = Some(at);
            self.trial_ok = 0;
        }
        if to == BreakerState::Closed {
            self.window.clear();
            self.consecutive_failed = 0;
        }
        Some(flip)
    }

    fn buckets(&self) -> usize {
        ((self.config.window_millis / BUCKET_MILLIS).max(1) as usize).min(MAX_BUCKETS)
    }

    fn record(&mut self, at: Timestamp, ok: u32, failed: u32) {
        let slot = at.0.div_euclid(BUCKET_MILLIS);
        let oldest = slot - self.buckets() as i64 + 1;
        self.window.retain(|b| b.slot >= oldest);
        if let Some(b) = self.window.iter_mut().find(|b| b.slot == slot) {
            b.ok += u64::from(ok);
            b.failed += u64::from(failed);
        } else {
            self.window.push(Bucket {
                slot,
                ok: u64::from(ok),
                failed: u64::from(failed),
            });
        }
        let (ok_sum, failed_sum) = self
            .window
            .iter()
            .fold((0u64, 0u64), |(o, f), b| (o + b.ok, f + b.failed));
        self.volume = ok_sum + failed_sum;
        self.failure_rate = if self.volume == 0 {
            0.0
        } else {
            failed_sum as f64 / self.volume as f64
        };
    }

    /// Applies call outcomes observed at `at`; returns the flips this caused, in order.
    pub fn on_calls(&mut self, at: Timestamp, ok: u32, failed: u32) -> Vec<Flip> {
        let mut flips = Vec::new();
        self.sampled_at = Some(at);
        if self.state == BreakerState::Open {
            let reopen = self
                .opened_at
                .unwrap_or(at)
                .plus_millis(self.config.cooldown_millis);
            if at >= reopen {
                flips.extend(self.flip(reopen, BreakerState::HalfOpen));
            }
        }
        match self.state {
            BreakerState::Closed => {
                self.record(at, ok, failed);
                if ok > 0 {
                    self.consecutive_failed = 0;
                } else {
                    self.consecutive_failed += u64::from(failed);
                }
                let threshold = self.config.failure_rate_threshold;
                let by_rate = self.volume >= u64::from(self.config.min_calls.max(1))
                    && self.failure_rate >= threshold;
                let by_run = self.config.consecutive_failures > 0
                    && self.consecutive_failed >= u64::from(self.config.consecutive_failures);
                if by_rate || by_run {
                    flips.extend(self.flip(at, BreakerState::Open));
                }
            }
            BreakerState::HalfOpen => {
                self.record(at, ok, failed);
                let calls = u64::from(ok) + u64::from(failed);
                let trial_rate = if calls == 0 {
                    0.0
                } else {
                    f64::from(failed) / calls as f64
                };
                if failed > 0 && trial_rate >= self.config.failure_rate_threshold {
                    flips.extend(self.flip(at, BreakerState::Open));
                } else {
                    self.trial_ok += u64::from(ok);
                    if self.trial_ok >= u64::from(self.config.trial_calls) {
                        flips.extend(self.flip(at, BreakerState::Closed));
                    }
                }
            }
            // Calls are short-circuited while open; nothing is counted.
            BreakerState::Open => {}
        }
        self.update_trend(at);
        self.remember(at);
        flips
    }

    /// Updates the trend from the previous sample and decides the near-trip warning.
    fn update_trend(&mut self, at: Timestamp) {
        // Smoothing of the slope: recent samples count most, one noisy sample little.
        const ALPHA: f64 = 0.3;
        if let Some(&(prev_at, prev_rate)) = self.history.back() {
            let dt = at.secs_since(prev_at);
            if dt > 0.0 {
                let slope = (self.failure_rate - f64::from(prev_rate)) / dt;
                self.trend_per_sec = ALPHA * slope + (1.0 - ALPHA) * self.trend_per_sec;
            }
        }
        let threshold = self.config.failure_rate_threshold;
        let closed = self.state == BreakerState::Closed && self.volume > 0;
        let by_margin = self.failure_rate >= threshold - self.config.near_trip_margin;
        let projected =
            self.failure_rate + self.trend_per_sec.max(0.0) * self.config.trend_horizon_secs;
        self.rising = closed && !by_margin && self.trend_per_sec > 0.0 && projected >= threshold;
        self.near_trip = closed && (by_margin || self.rising);
    }

    fn remember(&mut self, at: Timestamp) {
        super::series::remember(&mut self.history, at, self.failure_rate);
    }

    /// Applies a state reported by the source itself.
    pub fn on_reported(
        &mut self,
        at: Timestamp,
        state: BreakerState,
        failure_rate: f64,
    ) -> Option<Flip> {
        self.sampled_at = Some(at);
        self.failure_rate = failure_rate;
        self.near_trip = state == BreakerState::Closed
            && failure_rate >= self.config.failure_rate_threshold - self.config.near_trip_margin;
        self.remember(at);
        self.flip(at, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BreakerState::{Closed, HalfOpen, Open};

    fn breaker() -> Breaker {
        Breaker::new(SourceId::new("t"), None, BreakerConfig::default(), true)
    }

    /// Every transition of the machine, one row each: samples (at, ok, failed) -> states after each.
    #[test]
    fn transitions_table() {
        type Row = (
            &'static str,
            &'static [(i64, u32, u32)],
            &'static [BreakerState],
        );
        let rows: &[Row] = &[
            (
                "stays closed below threshold",
                &[(0, 90, 10), (1000, 90, 10)],
                &[Closed, Closed],
            ),
            ("too few calls never trip", &[(0, 2, 8)], &[Closed]),
            ("closed -> open on rate", &[(0, 10, 10)], &[Open]),
            (
                "closed -> open on a failure run",
                &[(0, 0, 3), (1000, 0, 2)],
                &[Closed, Open],
            ),
            (
                "a success ends the run",
                &[(0, 0, 3), (1000, 1, 0), (2000, 0, 3)],
                &[Closed, Closed, Closed],
            ),
            (
                "open ignores calls during cooldown",
                &[(0, 0, 30), (10_000, 50, 0)],
                &[Open, Open],
            ),
            (
                "open -> half_open after cooldown",
                &[(0, 0, 30), (30_000, 1, 0)],
                &[Open, HalfOpen],
            ),
            (
                "half_open -> closed after trials",
                &[(0, 0, 30), (30_000, 1, 0), (31_000, 2, 0)],
                &[Open, HalfOpen, Closed],
            ),
            (
                "half_open -> open on a failed trial",
                &[(0, 0, 30), (30_000, 1, 1)],
                &[Open, Open],
            ),
            (
                "a stray error does not fail the trial",
                &[(0, 0, 30), (30_000, 199, 1)],
                &[Open, Closed],
            ),
            (
                "cooldown restarts after a failed trial",
                &[(0, 0, 30), (30_000, 0, 1), (50_000, 5, 0), (60_000, 5, 0)],
                &[Open, Open, Open, Closed],
            ),
            (
                "open stays open until the cooldown ends",
                &[(0, 5, 15), (20_000, 20, 0)],
                &[Open, Open],
            ),
            (
                "failures older than the window age out",
                &[(0, 9, 9), (11_000, 2, 9)],
                &[Closed, Closed],
            ),
        ];
        for (name, samples, expected) in rows {
            let mut b = breaker();
            let got: Vec<BreakerState> = samples
                .iter()
                .map(|&(t, ok, failed)| {
                    b.on_calls(Timestamp(t), ok, failed);
                    b.state
                })
                .collect();
            assert_eq!(&got, expected, "{name}");
        }
    }

    #[test]
    fn flips_are_dated_and_kept() {
        let mut b = breaker();
        let f = b.on_calls(Timestamp(1000), 0, 25);
        assert_eq!(
            f,
            vec![Flip {
                at: Timestamp(1000),
                from: Closed,
                to: Open
            }]
        );
        // The sample arrives late; the half-open flip is dated at the cooldown's end.
        let f = b.on_calls(Timestamp(45_000), 3, 0);
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0],
            Flip {
                at: Timestamp(31_000),
                from: Open,
                to: HalfOpen
            }
        );
        assert_eq!(
            f[1],
            Flip {
                at: Timestamp(45_000),
                from: HalfOpen,
                to: Closed
            }
        );
        assert_eq!(b.last_flip, Some(Timestamp(45_000)));
        assert_eq!(b.flips.len(), 3);
    }

    #[test]
    fn rate_history_is_bounded() {
        let mut b = breaker();
        for t in 0..(crate::state::series::HISTORY as i64 + 50) {
            b.on_calls(Timestamp(t * 1000), 10, 0);
        }
        assert_eq!(b.history.len(), crate::state::series::HISTORY);
        assert_eq!(
            b.history.back().map(|h| h.0),
            Some(Timestamp(
                (crate::state::series::HISTORY as i64 + 49) * 1000
            ))
        );
    }

    #[test]
    fn a_rising_rate_warns_before_the_margin() {
        let mut b = breaker();
        // 10 % for a while: steady, no warning.
        for t in 0..5 {
            b.on_calls(Timestamp(t * 1000), 90, 10);
        }
        assert!(!b.near_trip && !b.rising, "steady");
        // Climbing 3 points a second: the trend warns while the windowed rate is still
        // well under the 40 % margin.
        let mut warned_at = None;
        for (i, failed) in [13u32, 16, 19, 22, 25, 28, 31, 34, 37].iter().enumerate() {
            let t = 5 + i as i64;
            b.on_calls(Timestamp(t * 1000), 100 - failed, *failed);
            if b.rising && warned_at.is_none() {
                warned_at = Some(b.failure_rate);
            }
        }
        let rate = warned_at.expect("the trend warned");
        assert!(rate < 0.4, "warned at {rate:.2}, before the 40 % margin");
        assert!(b.near_trip);
        // Falling again: the warning clears.
        for t in 14..40 {
            b.on_calls(Timestamp(t * 1000), 98, 2);
        }
        assert!(!b.near_trip && !b.rising, "trend {}", b.trend_per_sec);
    }

    #[test]
    fn near_trip_within_margin() {
        let mut b = breaker();
        b.on_calls(Timestamp(0), 55, 45);
        assert_eq!(b.state, Closed);
        assert!(b.near_trip, "45% is within 10 points of 50%");
        let mut c = breaker();
        c.on_calls(Timestamp(0), 70, 30);
        assert!(!c.near_trip);
    }

    #[test]
    fn reported_state_flips() {
        let mut b = breaker();
        assert!(b.on_reported(Timestamp(5), Open, 0.9).is_some());
        assert!(b.on_reported(Timestamp(6), Open, 0.9).is_none());
        assert_eq!(b.state, Open);
    }
}
