//! Workflows whose target stops answering right after the change was sent: the run
//! must end `rolled_back` or `needs_human` (never `done` without seeing its effect),
//! journal why, and never hang past its own timeouts (each run is timed).
//!
//! - an HAProxy drain over the runtime API (TCP), through `switchboard-faultproxy`
//!   armed to go silent once HAProxy has answered the `set server` command: silent
//!   through verification and the rollback (`needs_human`, "ROLLBACK FAILED"), then
//!   silent through verification only (the rollback goes through: `rolled_back`);
//! - a Traefik route fallback, its API behind a proxy that goes silent when the run
//!   journals its change (the file rewritten): verification fails, the original file
//!   is written back (`rolled_back`);
//! - a Patroni switchover whose REST API goes silent around the POST: the workflow
//!   posts to and verifies at the addresses Patroni advertises, not a proxy, so the
//!   ports are cut with nftables for this process's packets only (Patroni's own
//!   traffic between members is untouched): the other members' as the run begins,
//!   the leader's once its answer is journaled. Verification through the members' own
//!   roles cannot see the effect (`needs_human` after its 60 s).
//!
//! The switch is tied to the run's own progress, deterministically: the proxy's
//! trigger sees the command's bytes go by, or a watcher sees the run's journal rows
//! (`Control::rows`). The three scenarios use different servers and run at once.
//! Each runs when `SWITCHBOARD_RIG` names its component.

#[path = "../common/mod.rs"]
mod common;
mod drain;
mod route;
mod switchover;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use switchboard_core::workflow::{Control, StepRow};

/// Calls `then` once the run's journal has a row of `phase` (watching `control`), at
/// most `within` from now; returns whether it did. Stops early when `stop` is set.
pub(crate) fn on_row(
    control: Control,
    phase: &'static str,
    within: Duration,
    then: impl FnOnce() + Send + 'static,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<bool>) {
    let stop = Arc::new(AtomicBool::new(false));
    let halt = Arc::clone(&stop);
    let thread = std::thread::spawn(move || {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline && !halt.load(Ordering::Relaxed) {
            if control.rows().iter().any(|r| r.phase == phase) {
                then();
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    });
    (stop, thread)
}

/// The rows' phases and outcomes, `phase:outcome`.
pub(crate) fn phases(rows: &[StepRow]) -> Vec<String> {
    rows.iter()
        .map(|r| format!("{}:{}", r.phase, r.outcome))
        .collect()
}
