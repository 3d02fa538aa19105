//! The console's workflow desk: plans and runs workflows on a runtime of its own, so the
//! window that asks never waits on a target. The window reads [`Desk::jobs`], the
//! offers and the journal, each a cheap copy of what the background tasks last wrote,
//! and is woken when they change.
//!
//! - [`Desk::offers`]: what can be done here, read fresh from the targets (HAProxy
//!   servers over the runtime API, Patroni members from `/cluster`, nodes with fence
//!   devices), for the command palette and the context menus.
//! - A job goes Planning -> Planned (the plan, guards green or red) -> Running (the
//!   journal rows so far) -> Finished (the report) or Failed (the refusal or error).
//! - The safety valve ([`Desk::pull_valve`]) stops every running job before its next
//!   step and refuses new runs until it is reset.
//! - A console on a relay plans and runs on the relay ([`Desk::relayed`], `relayed.rs`):
//!   the same jobs and phases, the journal rows streamed back as the relay writes them;
//!   the relay's own desk ([`Desk::serving`]) runs them under each caller's name.

mod relayed;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::target::Reach;
use super::{Context, Control, Journal, Kind, Plan, Report, RunRow, StepRow};
use crate::config::Environment;
use crate::engine::RelayDoor;
use crate::time::{Clock, SystemClock, Timestamp};

pub use super::target::Offer;

/// The offers as last read.
#[derive(Clone, Debug, Default)]
pub struct Offers {
    /// When they were read (`None`: never yet).
    pub at: Option<Timestamp>,
    /// A read is under way.
    pub loading: bool,
    /// The offers (shared: the window reads them every frame).
    pub offers: Arc<Vec<Offer>>,
    /// Targets that could not be read, in words.
    pub errors: Vec<String>,
}

/// Where a job is.
#[derive(Clone, Debug)]
pub enum Phase {
    /// The plan is being made.
    Planning,
    /// The plan, waiting for the typed confirmation.
    Planned(Box<Plan>),
    /// Running; the journal rows so far are in the job's control.
    Running(Box<Plan>),
    /// Ended with a report.
    Finished(Box<Plan>, Report),
    /// Refused or failed, with why (and the plan, when there was one).
    Failed(Option<Box<Plan>>, String),
}

/// One workflow the operator started from this console.
#[derive(Clone, Debug)]
pub struct Job {
    /// Desk-local id.
    pub id: u64,
    /// The workflow.
    pub kind: Kind,
    /// Its target.
    pub target: String,
    /// Where it is.
    pub phase: Phase,
    /// Cancel and progress.
    pub control: Control,
}

type Waker = Box<dyn Fn() + Send + Sync>;

/// The journal's latest runs with their steps, newest first (shared: the window reads
/// it every frame).
pub type History = Arc<Vec<(RunRow, Vec<StepRow>)>>;

/// Where the desk plans, runs and journals.
enum Via {
    /// Here, journaled in this file.
    Journal(PathBuf),
    /// On the relay the console follows.
    Relay(RelayDoor),
}

struct Inner {
    environment: Environment,
    drill: Option<crate::sources::drill::DrillHandle>,
    via: Via,
    /// A job's id on the relay, by its id here.
    relayed: Mutex<HashMap<u64, u64>>,
    /// The relay said its environment needs a second approver.
    approver_needed: AtomicBool,
    read_only_mode: bool,
    operator: String,
    timeout: Duration,
    valve: Arc<AtomicBool>,
    next_id: AtomicU64,
    jobs: Mutex<Vec<Job>>,
    offers: Mutex<Offers>,
    history: Mutex<History>,
    /// A take-over's new job to focus, or its refusal.
    announce: Mutex<(Option<u64>, Option<String>)>,
    waker: Mutex<Option<Waker>>,
    /// The console's live view, for experiments.
    observed: Mutex<Option<super::experiment::Observed>>,
}

impl Inner {
    fn new(
        environment: Environment,
        drill: Option<crate::sources::drill::DrillHandle>,
        via: Via,
        read_only_mode: bool,
        operator: String,
    ) -> Self {
        Self {
            environment,
            drill,
            via,
            relayed: Mutex::new(HashMap::new()),
            approver_needed: AtomicBool::new(false),
            read_only_mode,
            operator,
            timeout: Duration::from_secs(2),
            valve: Arc::new(AtomicBool::new(false)),
            next_id: AtomicU64::new(1),
            jobs: Mutex::new(Vec::new()),
            offers: Mutex::new(Offers::default()),
            history: Mutex::new(Arc::new(Vec::new())),
            announce: Mutex::new((None, None)),
            waker: Mutex::new(None),
            observed: Mutex::new(None),
        }
    }

    fn wake(&self) {
        if let Ok(w) = self.waker.lock()
            && let Some(w) = w.as_ref()
        {
            w();
        }
    }

    fn set_phase(&self, id: u64, phase: Phase) {
        if let Ok(mut jobs) = self.jobs.lock()
            && let Some(j) = jobs.iter_mut().find(|j| j.id == id)
        {
            j.phase = phase;
        }
        self.wake();
    }

    fn job(&self, id: u64) -> Option<Job> {
        self.jobs
            .lock()
            .ok()
            .and_then(|j| j.iter().find(|j| j.id == id).cloned())
    }

    /// The journal's file, for a desk that runs its workflows itself.
    fn journal_path(&self) -> Result<&Path, String> {
        match &self.via {
            Via::Journal(p) => Ok(p),
            Via::Relay(_) => Err("this console's workflows run on its relay".into()),
        }
    }

    fn context<'a>(&'a self, journal: &'a Journal, control: Control) -> Context<'a> {
        Context {
            environment: &self.environment,
            journal,
            clock: &SystemClock,
            read_only_mode: self.read_only_mode,
            timeout: self.timeout,
            control,
            drill: self.drill.clone(),
            observed: self.observed.lock().ok().and_then(|o| o.clone()),
        }
    }
}

/// Plans and runs workflows in the background for one console and environment.
pub struct Desk {
    /// The desk's own runtime (none on a relay, whose runtime it shares).
    _rt: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    inner: Arc<Inner>,
}

/// A runtime of the desk's own.
fn own_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("switchboard-workflows")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the workflow runtime: {e}"))
}

impl Desk {
    /// A desk acting in `environment`, journaling to `journal_path` as `operator`;
    /// `read_only_mode` (wall, replay) refuses every run in core.
    pub fn new(
        environment: Environment,
        journal_path: PathBuf,
        read_only_mode: bool,
        operator: String,
        drill: Option<crate::sources::drill::DrillHandle>,
    ) -> Result<Self, String> {
        // Fail now, not at the first run, when the journal cannot be opened.
        Journal::open(&journal_path)?;
        let rt = own_runtime()?;
        let handle = rt.handle().clone();
        Ok(Self::build(
            Some(rt),
            handle,
            Inner::new(
                environment,
                drill,
                Via::Journal(journal_path),
                read_only_mode,
                operator,
            ),
        ))
    }

    /// A relay's desk: it plans and runs for the consoles on `handle` (the relay's
    /// runtime), journaling to `journal_path` under the name of whoever confirms.
    pub fn serving(
        environment: Environment,
        journal_path: PathBuf,
        handle: tokio::runtime::Handle,
    ) -> Result<Self, String> {
        Journal::open(&journal_path)?;
        Ok(Self::build(
            None,
            handle,
            Inner::new(
                environment,
                None,
                Via::Journal(journal_path),
                false,
                crate::operator_name(),
            ),
        ))
    }

    /// A console's desk on a relay: plans, runs, offers and the journal are the
    /// relay's, reached through `door`; the relay names the person.
    pub fn relayed(environment: Environment, door: RelayDoor) -> Result<Self, String> {
        let rt = own_runtime()?;
        let handle = rt.handle().clone();
        Ok(Self::build(
            Some(rt),
            handle,
            Inner::new(environment, None, Via::Relay(door), false, String::new()),
        ))
    }

    fn build(
        rt: Option<tokio::runtime::Runtime>,
        handle: tokio::runtime::Handle,
        inner: Inner,
    ) -> Self {
        let desk = Self {
            _rt: rt,
            handle,
            inner: Arc::new(inner),
        };
        desk.refresh_history();
        desk
    }

    /// Calls `waker` whenever a job, the offers or the journal view change.
    pub fn set_waker(&self, waker: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut w) = self.inner.waker.lock() {
            *w = Some(Box::new(waker));
        }
    }

    /// Gives experiments the console's live view (without it they cannot be planned).
    pub fn set_observed(&self, observed: super::experiment::Observed) {
        if let Ok(mut o) = self.inner.observed.lock() {
            *o = Some(observed);
        }
    }

    /// The environment acted in.
    pub fn environment(&self) -> &Environment {
        &self.inner.environment
    }

    /// Plans and runs happen on the relay this console follows.
    pub fn on_relay(&self) -> bool {
        matches!(self.inner.via, Via::Relay(_))
    }

    /// Every run here needs a second approver (the environment says so, or the relay
    /// that runs this console's workflows does).
    pub fn needs_approver(&self) -> bool {
        self.inner.environment.second_approver || self.inner.approver_needed.load(Ordering::SeqCst)
    }

    /// Nothing can start from this console (wall, replay, read-only environment).
    pub fn read_only(&self) -> bool {
        self.inner.read_only_mode || self.inner.environment.read_only
    }

    /// Every job of this console, oldest first.
    pub fn jobs(&self) -> Vec<Job> {
        self.inner
            .jobs
            .lock()
            .map(|j| j.clone())
            .unwrap_or_default()
    }

    /// A job's latest copy.
    pub fn job(&self, id: u64) -> Option<Job> {
        self.inner.job(id)
    }

    /// Whether any job is running.
    pub fn running(&self) -> usize {
        self.jobs()
            .iter()
            .filter(|j| matches!(j.phase, Phase::Running(_)))
            .count()
    }

    /// Plans `kind` on `target` in the background; returns the job's id.
    pub fn plan(&self, kind: Kind, target: &str) -> u64 {
        plan_on(&self.inner, &self.handle, kind, target)
    }

    /// Takes over the interrupted run `run` (resume it, or roll it back) in the
    /// background: the run is closed as interrupted and the new plan becomes a job,
    /// announced through [`Desk::take_focus`]; a refusal through [`Desk::take_error`].
    pub fn take_over(&self, run: i64, rollback: bool) {
        let inner = Arc::clone(&self.inner);
        if let Via::Relay(door) = &inner.via {
            self.handle.spawn(relayed::take_over(
                Arc::clone(&inner),
                door.clone(),
                run,
                rollback,
            ));
            return;
        }
        let handle = self.handle.clone();
        self.handle.spawn_blocking(move || {
            let taken = inner.journal_path().and_then(Journal::open).and_then(|j| {
                super::take_over(
                    &inner.environment,
                    &j,
                    run,
                    rollback,
                    &inner.operator,
                    SystemClock.now(),
                )
                .map_err(|e| e.to_string())
            });
            match taken {
                Ok((kind, target)) => {
                    let id = plan_on(&inner, &handle, kind, &target);
                    if let Ok(mut f) = inner.announce.lock() {
                        f.0 = Some(id);
                    }
                }
                Err(e) => {
                    if let Ok(mut f) = inner.announce.lock() {
                        f.1 = Some(e);
                    }
                }
            }
            history(&inner);
        });
    }

    /// Takes over the interrupted run `run` as `operator` and plans what follows, now:
    /// returns the new job, or why not. Blocks on the journal (call it off a runtime's
    /// workers); a relay's desk takes over for the console that asked.
    pub fn take_over_now(&self, run: i64, rollback: bool, operator: &str) -> Result<u64, String> {
        let inner = &self.inner;
        let j = Journal::open(inner.journal_path()?)?;
        let (kind, target) = super::take_over(
            &inner.environment,
            &j,
            run,
            rollback,
            operator,
            SystemClock.now(),
        )
        .map_err(|e| e.to_string())?;
        Ok(plan_on(inner, &self.handle, kind, &target))
    }

    /// The job a take-over planned, once.
    pub fn take_focus(&self) -> Option<u64> {
        self.inner.announce.lock().ok().and_then(|mut f| f.0.take())
    }

    /// Why a take-over was refused, once.
    pub fn take_error(&self) -> Option<String> {
        self.inner.announce.lock().ok().and_then(|mut f| f.1.take())
    }

    /// Plans job `id` again (the plan expired, or the world moved).
    pub fn replan(&self, id: u64) -> Option<u64> {
        let job = self.inner.job(id)?;
        self.dismiss(id);
        Some(self.plan(job.kind, &job.target))
    }

    /// Goes past a refusing guard of job `id`'s plan, for `reason` (journaled when run).
    pub fn override_guard(&self, id: u64, guard: &str, reason: &str) -> Result<(), String> {
        let mut jobs = self.inner.jobs.lock().map_err(|e| e.to_string())?;
        let job = jobs.iter_mut().find(|j| j.id == id).ok_or("no such job")?;
        match &mut job.phase {
            Phase::Planned(plan) => plan
                .override_guard(guard, reason)
                .map_err(|e| e.to_string()),
            _ => Err("only a plan waiting for confirmation can be overridden".into()),
        }
    }

    /// Records `name` as the second approver of job `id`'s plan.
    pub fn approve(&self, id: u64, name: &str) -> Result<(), String> {
        let mut jobs = self.inner.jobs.lock().map_err(|e| e.to_string())?;
        let job = jobs.iter_mut().find(|j| j.id == id).ok_or("no such job")?;
        match &mut job.phase {
            Phase::Planned(plan) => {
                plan.approver = Some(name.trim().to_owned()).filter(|n| !n.is_empty());
                Ok(())
            }
            _ => Err("only a plan waiting for confirmation can be approved".into()),
        }
    }

    /// Runs job `id`'s plan after the typed confirmation `typed`. Refused at once (and
    /// the plan kept) when the safety valve is pulled or the typing does not match.
    pub fn confirm(&self, id: u64, typed: &str) -> Result<(), String> {
        self.confirm_by(id, typed, &self.inner.operator)
    }

    /// As [`Desk::confirm`], journaled under `operator`'s name (a relay's desk runs
    /// for whoever its consoles' certificates name).
    pub fn confirm_by(&self, id: u64, typed: &str, operator: &str) -> Result<(), String> {
        if self.valve_pulled() {
            return Err("the safety valve is pulled: reset it before starting anything".into());
        }
        let job = self.inner.job(id).ok_or("no such job")?;
        let Phase::Planned(plan) = job.phase else {
            return Err("this job has no plan waiting for confirmation".into());
        };
        if typed != plan.confirm_as {
            return Err(format!(
                "type {:?} exactly to confirm (typed {typed:?})",
                plan.confirm_as
            ));
        }
        self.inner.set_phase(id, Phase::Running(plan.clone()));
        let inner = Arc::clone(&self.inner);
        let typed = typed.to_owned();
        let control = job.control;
        if let Via::Relay(door) = &inner.via {
            let run = relayed::run(Arc::clone(&inner), door.clone(), id, plan, typed, control);
            self.handle.spawn(run);
            return Ok(());
        }
        let operator = operator.to_owned();
        self.handle.spawn(async move {
            let phase = match inner.journal_path().and_then(Journal::open) {
                Err(e) => Phase::Failed(Some(plan), e),
                Ok(journal) => {
                    let ctx = inner.context(&journal, control);
                    match super::run(&ctx, &plan, &typed, &operator).await {
                        Ok(r) => Phase::Finished(plan, r),
                        Err(e) => Phase::Failed(Some(plan), e.to_string()),
                    }
                }
            };
            inner.set_phase(id, phase);
            history(&inner);
        });
        Ok(())
    }

    /// Asks job `id` to stop before its next step.
    pub fn cancel(&self, id: u64) {
        if let Some(j) = self.inner.job(id) {
            j.control.cancel();
        }
    }

    /// Forgets a job that is not running.
    pub fn dismiss(&self, id: u64) {
        if let Ok(mut jobs) = self.inner.jobs.lock() {
            jobs.retain(|j| j.id != id || matches!(j.phase, Phase::Running(_)));
        }
        self.inner.wake();
    }

    /// The safety valve: every running job stops before its next step, and nothing
    /// new starts until [`Desk::reset_valve`].
    pub fn pull_valve(&self) {
        self.inner.valve.store(true, Ordering::SeqCst);
        if let Via::Relay(door) = &self.inner.via {
            self.handle.spawn(relayed::steer(
                Arc::clone(&self.inner),
                door.clone(),
                0,
                "valve",
            ));
        }
        self.inner.wake();
    }

    /// Whether the safety valve is pulled.
    pub fn valve_pulled(&self) -> bool {
        self.inner.valve.load(Ordering::SeqCst)
    }

    /// Re-arms the desk after the safety valve (running jobs have stopped by then).
    pub fn reset_valve(&self) {
        self.inner.valve.store(false, Ordering::SeqCst);
        if let Via::Relay(door) = &self.inner.via {
            self.handle.spawn(relayed::steer(
                Arc::clone(&self.inner),
                door.clone(),
                0,
                "reset",
            ));
        }
        self.inner.wake();
    }

    /// The offers as last read.
    pub fn offers(&self) -> Offers {
        self.inner
            .offers
            .lock()
            .map(|o| o.clone())
            .unwrap_or_default()
    }

    /// Reads the offers again in the background.
    pub fn refresh_offers(&self) {
        if let Ok(mut o) = self.inner.offers.lock() {
            if o.loading {
                return;
            }
            o.loading = true;
        }
        let inner = Arc::clone(&self.inner);
        self.handle.spawn(async move {
            let (offers, errors) = match &inner.via {
                Via::Relay(door) => relayed::offers(door).await,
                Via::Journal(_) => {
                    super::target::offers(&Reach {
                        environment: &inner.environment,
                        timeout: inner.timeout,
                        drill: inner.drill.as_ref(),
                    })
                    .await
                }
            };
            if let Ok(mut o) = inner.offers.lock() {
                *o = Offers {
                    at: Some(SystemClock.now()),
                    loading: false,
                    offers: Arc::new(offers),
                    errors,
                };
            }
            inner.wake();
        });
    }

    /// The journal's latest runs with their steps, newest first, as last read.
    pub fn history(&self) -> History {
        self.inner
            .history
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }

    /// Reads the journal view again in the background.
    pub fn refresh_history(&self) {
        let inner = Arc::clone(&self.inner);
        if let Via::Relay(door) = &inner.via {
            self.handle
                .spawn(relayed::journal(Arc::clone(&inner), door.clone()));
            return;
        }
        self.handle.spawn_blocking(move || history(&inner));
    }
}

/// Adds a job planning `kind` on `target` on `handle`'s runtime; returns its id.
fn plan_on(inner: &Arc<Inner>, handle: &tokio::runtime::Handle, kind: Kind, target: &str) -> u64 {
    let id = inner.next_id.fetch_add(1, Ordering::SeqCst);
    let control = Control::with_valve(Arc::clone(&inner.valve));
    if let Ok(mut jobs) = inner.jobs.lock() {
        jobs.push(Job {
            id,
            kind,
            target: target.to_owned(),
            phase: Phase::Planning,
            control: control.clone(),
        });
    }
    let task_inner = Arc::clone(inner);
    let target = target.to_owned();
    if let Via::Relay(door) = &inner.via {
        handle.spawn(relayed::plan(task_inner, door.clone(), id, kind, target));
        inner.wake();
        return id;
    }
    handle.spawn(async move {
        let inner = task_inner;
        let phase = match inner.journal_path().and_then(Journal::open) {
            Err(e) => Phase::Failed(None, e),
            Ok(journal) => {
                let ctx = inner.context(&journal, control);
                match super::plan(&ctx, kind, &target).await {
                    Ok(p) => Phase::Planned(Box::new(p)),
                    Err(e) => Phase::Failed(None, e.to_string()),
                }
            }
        };
        inner.set_phase(id, phase);
    });
    inner.wake();
    id
}

/// Reads the latest 30 runs and their steps into the desk.
fn history(inner: &Inner) {
    let read = || -> Result<Vec<(RunRow, Vec<StepRow>)>, String> {
        let j = Journal::open(inner.journal_path()?)?;
        j.recent(30)?
            .into_iter()
            .map(|r| {
                let steps = j.steps(r.id)?;
                Ok((r, steps))
            })
            .collect()
    };
    if let Ok(rows) = read()
        && let Ok(mut h) = inner.history.lock()
    {
        *h = Arc::new(rows);
    }
    inner.wake();
}

/// What can be done in `env`, read fresh from its targets: every target kind's offers,
/// and the targets that could not be read, in words.
pub async fn read_offers(env: &Environment, timeout: Duration) -> (Vec<Offer>, Vec<String>) {
    super::target::offers(&Reach {
        environment: env,
        timeout,
        drill: None,
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_valve_refuses_new_runs_and_a_bad_confirmation_keeps_the_plan() {
        let dir = tempfile::tempdir().expect("dir");
        let env = Environment::new("t", Vec::new());
        let desk =
            Desk::new(env, dir.path().join("j.sqlite"), false, "ana".into(), None).expect("desk");
        let id = desk.plan(Kind::Fence, "nowhere");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while matches!(desk.job(id).expect("job").phase, Phase::Planning) {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(10));
        }
        match desk.job(id).expect("job").phase {
            Phase::Failed(None, why) => assert!(why.contains("no fence device"), "{why}"),
            p => panic!("{p:?}"),
        }
        desk.pull_valve();
        assert!(
            desk.confirm(id, "nowhere")
                .expect_err("valve")
                .contains("safety valve")
        );
        desk.reset_valve();
        assert!(
            desk.confirm(id, "nowhere")
                .expect_err("no plan")
                .contains("no plan waiting")
        );
        desk.dismiss(id);
        assert!(desk.jobs().is_empty());
    }
}
