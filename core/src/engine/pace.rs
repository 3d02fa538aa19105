//! How often the reducer publishes a snapshot.
//!
//! A snapshot is a whole copy of the state. On a small estate a copy takes well under a
//! millisecond and one is published after every batch, as a window wants. On an estate
//! of 100,000 instances a copy takes tens of milliseconds, and a first listing arrives
//! as hundreds of batches: a copy per batch spent most of the reducer's time copying.
//! So a copy is made at most once per [`COPY_SHARE`] times what the last one took:
//! copying then costs at most about a tenth of the reducer's time, whatever the size,
//! and what was applied meanwhile is published when that time is up.

use std::time::{Duration, Instant};

/// The reducer's time per copy's time, at least.
pub(super) const COPY_SHARE: u32 = 10;

/// When the last copy was made, what it cost, and whether batches wait for the next.
pub(super) struct Pacer {
    cost: Duration,
    at: Instant,
    /// Batches were applied since the last copy.
    pub(super) behind: bool,
}

impl Pacer {
    pub(super) fn new() -> Self {
        Self {
            cost: Duration::ZERO,
            at: Instant::now(),
            behind: false,
        }
    }

    /// When the next copy may be made.
    pub(super) fn next(&self) -> Instant {
        self.at + self.cost * COPY_SHARE
    }

    /// Whether a copy may be made now.
    pub(super) fn due(&self) -> bool {
        Instant::now() >= self.next()
    }

    /// A copy was made, started at `started`.
    pub(super) fn copied(&mut self, started: Instant) {
        let now = Instant::now();
        self.cost = now - started;
        self.at = now;
        self.behind = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy that took 30 ms holds the next one back 300 ms; a free one holds nothing.
    #[test]
    fn the_next_copy_waits_ten_times_the_last() {
        let mut p = Pacer::new();
        assert!(p.due(), "the first copy is due at once");
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(30));
        p.copied(started);
        assert!(!p.due());
        let wait = p.next() - p.at;
        assert!(wait >= Duration::from_millis(300), "{wait:?}");
        p.copied(Instant::now());
        assert!(p.next() - p.at < Duration::from_millis(5));
    }
}
