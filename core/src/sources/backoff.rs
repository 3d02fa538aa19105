//! Reconnect delays: capped exponential backoff with full jitter (domain.md §4).
//!
//! The n-th delay is uniform in `[0, min(cap, base * 2^n)]`, so many consoles that lost
//! the same endpoint do not reconnect in lockstep.

use std::time::Duration;

use crate::rng::SplitMix64;

/// Produces reconnect delays.
#[derive(Clone, Debug)]
pub struct Backoff {
    base_millis: u64,
    cap_millis: u64,
    attempt: u32,
    rng: SplitMix64,
}

impl Backoff {
    /// Delays start at up to `base` and never exceed `cap`; `seed` fixes the jitter.
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Self {
        Self {
            base_millis: base.as_millis().max(1) as u64,
            cap_millis: cap.as_millis().max(1) as u64,
            attempt: 0,
            rng: SplitMix64::new(seed),
        }
    }

    /// The ceiling of the next delay, before jitter.
    pub fn ceiling(&self) -> Duration {
        let exp = self
            .base_millis
            .saturating_mul(1u64 << self.attempt.min(32));
        Duration::from_millis(exp.min(self.cap_millis))
    }

    /// The next delay; each call doubles the ceiling up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling().as_millis() as u64;
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_millis(self.rng.below(ceiling + 1))
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_then_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 1);
        let mut ceilings = Vec::new();
        for _ in 0..7 {
            ceilings.push(b.ceiling().as_millis());
            let d = b.next_delay();
            assert!(d <= Duration::from_secs(2));
        }
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1600, 2000, 2000]);
        b.reset();
        assert_eq!(b.ceiling().as_millis(), 100);
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1), 42);
        let delays: Vec<u128> = (0..50).map(|_| b.next_delay().as_millis()).collect();
        let min = delays.iter().min().copied().unwrap_or(0);
        let max = delays.iter().max().copied().unwrap_or(0);
        assert!(max - min > 500, "full jitter spans the range: {min}..{max}");
    }
}
