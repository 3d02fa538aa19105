//! Applying the workflow panels' commands to the desk, after the frame: the one place
//! the window plans, confirms, cancels or overrides anything. The desk does the work on
//! its own runtime; what it refuses at once is shown in the wizard.
//!
//! A take-over answers later (the desk closes the old run and plans the new one in the
//! background): it runs as a job of the window's queue that waits, off the UI thread,
//! for the desk to announce the new job or the refusal, and answers with it.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use switchboard_core::workflow::Kind;
use switchboard_core::workflow::desk::Desk;

use super::Console;
use super::answers::Answer;
use crate::panels::DeskCommand;

/// How long a take-over job waits for the desk's announcement before it tells the
/// operator to look in the journal instead.
const TAKE_OVER_WAIT: Duration = Duration::from_mins(1);

/// Rung by the desk's waker each time a job, the offers or the journal change: a
/// take-over job sleeps on it instead of asking the desk again and again.
#[derive(Default)]
pub(super) struct DeskBell {
    /// How many times it rang.
    rings: Mutex<u64>,
    rung: Condvar,
}

impl DeskBell {
    /// Rings: wakes every waiter.
    pub(super) fn ring(&self) {
        if let Ok(mut n) = self.rings.lock() {
            *n = n.wrapping_add(1);
        }
        self.rung.notify_all();
    }

    /// How many times it rang so far.
    fn rings(&self) -> u64 {
        self.rings.lock().map_or(0, |n| *n)
    }

    /// Waits until it has rung more than `seen` times, or `timeout` has passed.
    fn wait_past(&self, seen: u64, timeout: Duration) {
        if let Ok(n) = self.rings.lock() {
            self.rung
                .wait_timeout_while(n, timeout, |n| *n == seen)
                .ok();
        }
    }
}

/// The job a take-over of run `run` planned, or why it was refused: what the desk
/// announces, waited for on `bell` (at most `within`).
fn announced(desk: &Desk, bell: &DeskBell, run: i64, within: Duration) -> Result<u64, String> {
    let deadline = Instant::now() + within;
    loop {
        // Read before looking: a ring between the look and the wait is not missed.
        let seen = bell.rings();
        if let Some(id) = desk.take_focus() {
            return Ok(id);
        }
        if let Some(e) = desk.take_error() {
            return Err(e);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "the take-over of run #{run} has not answered after {} s: the Workflows \
                 pane shows the journal",
                within.as_secs()
            ));
        }
        bell.wait_past(seen, left);
    }
}

impl Console {
    /// Plans `kind` on `target` and shows it in the wizard.
    pub(super) fn start_plan(&mut self, kind: Kind, target: &str) {
        match &self.desk {
            Some(desk) => {
                let id = desk.plan(kind, target);
                self.workflows.focus(id);
            }
            None => self.say("this console cannot run workflows"),
        }
    }

    /// Opens the palette and reads the offers fresh.
    pub(super) fn open_palette(&mut self) {
        self.workflows.palette = true;
        self.workflows.filter.clear();
        if let Some(desk) = &self.desk {
            desk.refresh_offers();
        }
    }

    /// Takes over the interrupted run `run` as a job: its answer is the new job (shown
    /// in the wizard) or the refusal (in the top bar).
    fn take_over(&self, desk: &Arc<Desk>, run: i64, rollback: bool) {
        let desk = Arc::clone(desk);
        let bell = Arc::clone(&self.desk_bell);
        self.jobs.spawn(
            "switchboard-take-over",
            move || {
                desk.take_over(run, rollback);
                Answer::TakenOver(announced(&desk, &bell, run, TAKE_OVER_WAIT))
            },
            move |why| Answer::TakenOver(Err(format!("cannot take over run #{run}: {why}"))),
        );
    }

    /// Carries out a workflow panel's command.
    pub(super) fn apply_desk(&mut self, cmd: DeskCommand) {
        let Some(desk) = &self.desk else {
            self.say("this console cannot run workflows");
            return;
        };
        let view = &mut self.workflows;
        match cmd {
            DeskCommand::Confirm { job, typed } => view.error = desk.confirm(job, &typed).err(),
            DeskCommand::Override { job, guard, reason } => {
                view.error = desk.override_guard(job, &guard, &reason).err();
            }
            DeskCommand::Approve { job, name } => {
                // A job no longer planned has nothing to approve: the wizard shows that.
                desk.approve(job, &name).ok();
            }
            DeskCommand::Cancel(job) => desk.cancel(job),
            DeskCommand::Dismiss(job) => desk.dismiss(job),
            DeskCommand::Replan(job) => {
                if let Some(n) = desk.replan(job) {
                    view.focus(n);
                }
            }
            DeskCommand::Acknowledge(job) => {
                if let Some(j) = desk.job(job) {
                    j.control.acknowledge();
                }
            }
            DeskCommand::TakeOver { run, rollback } => self.take_over(desk, run, rollback),
            DeskCommand::PullValve => desk.pull_valve(),
            DeskCommand::ResetValve => desk.reset_valve(),
            DeskCommand::RefreshOffers => desk.refresh_offers(),
            DeskCommand::RefreshHistory => desk.refresh_history(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::Environment;

    #[test]
    fn a_ring_wakes_the_waiter_and_a_silent_bell_lets_it_go() {
        let bell = Arc::new(DeskBell::default());
        let seen = bell.rings();
        let ringer = Arc::clone(&bell);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            ringer.ring();
        });
        let start = Instant::now();
        bell.wait_past(seen, Duration::from_secs(10));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "woken by the ring"
        );
        assert_eq!(bell.rings(), seen + 1);
        t.join().expect("ringer");
        let start = Instant::now();
        bell.wait_past(bell.rings(), Duration::from_millis(50));
        assert!(
            start.elapsed() >= Duration::from_millis(50),
            "nobody rang: timed out"
        );
    }

    #[test]
    fn a_refused_take_over_is_announced_as_its_error() {
        let dir = tempfile::tempdir().expect("dir");
        let desk = Desk::new(
            Environment::new("t", Vec::new()),
            dir.path().join("journal.sqlite"),
            false,
            "ana".into(),
            None,
        )
        .expect("desk");
        let bell = Arc::new(DeskBell::default());
        let ringer = Arc::clone(&bell);
        desk.set_waker(move || ringer.ring());
        desk.take_over(99, false);
        let answer = announced(&desk, &bell, 99, Duration::from_secs(10));
        let why = answer.expect_err("no such run");
        assert!(why.contains("no run #99"), "{why}");
        assert_eq!(desk.take_error(), None, "announced once");
    }

    #[test]
    fn a_take_over_that_never_answers_says_where_to_look() {
        let dir = tempfile::tempdir().expect("dir");
        let desk = Desk::new(
            Environment::new("t", Vec::new()),
            dir.path().join("journal.sqlite"),
            false,
            "ana".into(),
            None,
        )
        .expect("desk");
        // Nothing was taken over: nothing is announced.
        let answer = announced(&desk, &DeskBell::default(), 7, Duration::from_millis(50));
        let why = answer.expect_err("no answer");
        assert!(why.contains("run #7 has not answered"), "{why}");
    }
}
