//! Where a workflow runs ([`Context`]: its environment, journal, clock and bounds) and
//! what a watcher shares with a run ([`Control`]: cancel, the safety valve, progress,
//! the question to a human).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Journal, StepRow};
use crate::config::Environment;
use crate::time::Clock;

/// Where a workflow runs: its environment, journal and clock.
pub struct Context<'a> {
    /// The environment holding the target.
    pub environment: &'a Environment,
    /// The journal.
    pub journal: &'a Journal,
    /// The clock.
    pub clock: &'a dyn Clock,
    /// Wall mode and replay: nothing may start (enforced here, not in the window).
    pub read_only_mode: bool,
    /// Bound on each call to the target.
    pub timeout: Duration,
    /// Cancel, the safety valve and progress, shared with whoever watches the run.
    pub control: Control,
    /// The running drill, when the environment is the drill.
    pub drill: Option<crate::sources::drill::DrillHandle>,
    /// The console's live view, for experiments (none: they cannot be planned).
    pub observed: Option<super::experiment::Observed>,
}

/// What a watcher shares with a run: its cancel button, the safety valve shared by every
/// run of a console, and the journal rows written so far (progress).
#[derive(Clone, Debug, Default)]
pub struct Control {
    cancel: Arc<AtomicBool>,
    valve: Arc<AtomicBool>,
    lease_lost: Arc<AtomicBool>,
    rows: Arc<Mutex<Vec<StepRow>>>,
    human: Arc<Mutex<String>>,
    ack: Arc<AtomicBool>,
}

impl Control {
    /// A control tied to `valve`, the safety valve every run of one console shares.
    pub fn with_valve(valve: Arc<AtomicBool>) -> Self {
        Self {
            valve,
            ..Self::default()
        }
    }

    /// Asks the run to stop before its next step (a step under way finishes).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// The run's lock can no longer be renewed: another console may take it, so the
    /// run stops before its next step, as for a cancel.
    pub fn lose_lease(&self) {
        self.lease_lost.store(true, Ordering::SeqCst);
    }

    /// Why the run must stop, if it must.
    pub fn stopped(&self) -> Option<&'static str> {
        if self.valve.load(Ordering::SeqCst) {
            Some("stopped by the safety valve")
        } else if self.lease_lost.load(Ordering::SeqCst) {
            Some(
                "stopped: the lock's lease in etcd could not be renewed, so another console may act on this target",
            )
        } else if self.cancel.load(Ordering::SeqCst) {
            Some("cancelled by the operator")
        } else {
            None
        }
    }

    /// What the run waits for a human to do (empty: nothing).
    pub fn waiting(&self) -> String {
        self.human.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// The operator says the manual step is done.
    pub fn acknowledge(&self) {
        self.ack.store(true, Ordering::SeqCst);
    }

    /// The run asks a human to do `text` (empty: asks nothing any more).
    pub(crate) fn ask_human(&self, text: &str) {
        self.ack.store(false, Ordering::SeqCst);
        if let Ok(mut h) = self.human.lock() {
            text.clone_into(&mut h);
        }
    }

    /// Whether the human said done (once), clearing the question.
    pub(crate) fn take_ack(&self) -> bool {
        let done = self.ack.swap(false, Ordering::SeqCst);
        if done && let Ok(mut h) = self.human.lock() {
            h.clear();
        }
        done
    }

    /// Adds a row the run just journaled (progress for the watcher).
    pub(crate) fn push_row(&self, row: StepRow) {
        if let Ok(mut rows) = self.rows.lock() {
            rows.push(row);
        }
    }

    /// The journal rows the run wrote so far.
    pub fn rows(&self) -> Vec<StepRow> {
        self.rows.lock().map(|r| r.clone()).unwrap_or_default()
    }
}
