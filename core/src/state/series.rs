//! Metric series: the recent samples of a service's latency quantiles, rates and the
//! like, kept for plots. They are drawn, not judged: breakers and health decide what is
//! wrong; a series shows how it got there.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{MetricUnit, ServiceId, SourceId};
use crate::time::Timestamp;

/// Samples kept per series and per breaker (ten minutes at one a second).
pub const HISTORY: usize = 600;

/// Appends `(at, value)` to a shared ring of at most [`HISTORY`] samples, copying it
/// only when a snapshot still holds the old one.
pub fn remember(ring: &mut Arc<VecDeque<(Timestamp, f32)>>, at: Timestamp, value: f64) {
    let h = Arc::make_mut(ring);
    if h.len() == HISTORY {
        h.pop_front();
    }
    h.push_back((at, value as f32));
}

/// One series of one service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricSeries {
    /// The service it describes.
    pub service: ServiceId,
    /// Its name (`p99 latency`).
    pub name: String,
    /// What it measures.
    pub unit: MetricUnit,
    /// The source that samples it.
    pub source: SourceId,
    /// The latest value.
    pub value: f64,
    /// When it was sampled.
    pub at: Timestamp,
    /// Recent (time, value) samples, oldest first; shared so a snapshot clone does
    /// not copy it.
    pub history: Arc<VecDeque<(Timestamp, f32)>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_is_bounded_and_copied_only_when_shared() {
        let mut ring = Arc::default();
        for t in 0..(HISTORY as i64 + 10) {
            remember(&mut ring, Timestamp(t), t as f64);
        }
        assert_eq!(ring.len(), HISTORY);
        assert_eq!(ring.front().map(|s| s.0), Some(Timestamp(10)));
        let held = Arc::clone(&ring);
        remember(&mut ring, Timestamp(10_000), 1.0);
        assert_eq!(
            held.back().map(|s| s.0),
            Some(Timestamp(HISTORY as i64 + 9))
        );
        assert_eq!(ring.back().map(|s| s.0), Some(Timestamp(10_000)));
    }
}
