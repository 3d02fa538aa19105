//! Change-only emission for polling sources.
//!
//! A gateway polled every few hundred milliseconds repeats itself almost every time.
//! [`Changes`] sends an event only when it differs from what was last sent for the same
//! kind and subjects beyond its volatile numbers' tolerance (`volatile.rs`; everything
//! again when asked, as a periodic refresh), reports the source up once per recovery
//! and down once per failure (with why), and sends a heartbeat when a second passes
//! with nothing new, so a quiet source is never taken for a stale one.

use std::time::Duration;

use super::Emitter;
use super::volatile::Settle;
use crate::event::EventBody;
use crate::model::SourceStatus;

/// What a polling source has sent so far.
pub struct Changes {
    last: Settle,
    /// Nothing sent since the last failure (or ever).
    fresh: bool,
    up: bool,
    last_sent: tokio::time::Instant,
}

impl Changes {
    /// Nothing sent yet.
    pub fn new() -> Self {
        Self {
            last: Settle::default(),
            fresh: true,
            up: false,
            last_sent: tokio::time::Instant::now(),
        }
    }

    /// A poll failed: report the source down (once per failure) and forget what was
    /// sent, so everything is sent again on recovery. Returns `false` once the engine stopped.
    pub async fn failed(&mut self, emitter: &Emitter, why: String) -> bool {
        if (self.up || self.fresh) && !emitter.status(SourceStatus::Down, Some(why)).await {
            return false;
        }
        self.up = false;
        self.fresh = true;
        self.last.clear();
        true
    }

    /// A poll succeeded with `events`: report up (once per recovery, with `detail`), then
    /// send what changed, everything when `full`, or a heartbeat after a quiet second.
    /// Returns `false` once the engine stopped.
    pub async fn polled(
        &mut self,
        emitter: &Emitter,
        detail: impl FnOnce() -> String,
        events: Vec<EventBody>,
        full: bool,
    ) -> bool {
        if !self.up {
            if !emitter.status(SourceStatus::Up, Some(detail())).await {
                return false;
            }
            self.up = true;
        }
        let mut sent = false;
        for ev in events {
            let changed = self.last.pass(&ev, false);
            if full || changed {
                if !changed {
                    self.last.remember(&ev);
                }
                self.fresh = false;
                if !emitter.emit(ev).await {
                    return false;
                }
                sent = true;
            }
        }
        if sent {
            self.last_sent = tokio::time::Instant::now();
        } else if self.last_sent.elapsed() >= Duration::from_secs(1) {
            if !emitter.status(SourceStatus::Up, None).await {
                return false;
            }
            self.last_sent = tokio::time::Instant::now();
        }
        true
    }
}
