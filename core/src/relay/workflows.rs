//! The relay's workflows: consoles plan and run on the relay's desk, so a run has one
//! home whatever the console that asked (its lock in etcd held by the relay, its
//! journal the relay's), and the journal names the person the certificate or token
//! names, not the account the relay runs under.
//!
//! - A plan is kept for its maker: only they can run it (another person plans their
//!   own, which shows them the guards afresh). Plans not run are forgotten after
//!   [`KEPT`].
//! - A run's journal rows go to the console that asked as the relay writes them, with
//!   an update at least every [`HEARTBEAT`], so that console tells a long manual step
//!   from a lost relay. The run goes on if that console goes.
//! - Any operator may cancel a run, acknowledge its manual step, or pull the safety
//!   valve (every run on the relay stops before its next step): the person who sees
//!   the problem first is not always the one who started the run. Who did is logged.
//! - Offers and the journal are for everyone, walls included: they change nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use super::Person;
use crate::config::Environment;
use crate::protocol::{Role, pb};
use crate::workflow::desk::{Desk, Phase};
use crate::workflow::{Journal, Kind, RunRow, StepRow};

/// A plan not run is forgotten after this long (it has expired long before).
const KEPT: Duration = Duration::from_mins(15);
/// A run's console hears from the relay at least this often.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Bound on waiting for a plan (each read of the target is bounded too).
const PLANNING: Duration = Duration::from_secs(50);
/// Most runs the journal view sends.
const JOURNAL_RUNS: u32 = 100;
/// Bound on each read of the offers' targets.
const READ: Duration = Duration::from_secs(2);

pub(super) type Updates = ReceiverStream<Result<pb::RunUpdate, tonic::Status>>;

/// The relay's desk, the plans' makers, and a bell rung whenever a job changes.
pub(super) struct Workflows {
    desk: Desk,
    environment: Environment,
    journal: PathBuf,
    bell: watch::Receiver<u64>,
    /// Each kept plan's maker and when it was made.
    makers: Mutex<HashMap<u64, (String, Instant)>>,
}

impl Workflows {
    /// The relay's desk on `environment`, journaling to `journal`, on the runtime the
    /// relay runs on.
    pub(super) fn open(environment: &Environment, journal: PathBuf) -> Result<Self, String> {
        let desk = Desk::serving(
            environment.clone(),
            journal.clone(),
            tokio::runtime::Handle::current(),
        )?;
        let (ring, bell) = watch::channel(0_u64);
        desk.set_waker(move || ring.send_modify(|n| *n = n.wrapping_add(1)));
        Ok(Self {
            desk,
            environment: environment.clone(),
            journal,
            bell,
            makers: Mutex::new(HashMap::new()),
        })
    }

    /// Offers, read fresh from the targets.
    pub(super) async fn offers(&self) -> Result<pb::OffersReply, tonic::Status> {
        let (offers, errors) = crate::workflow::desk::read_offers(&self.environment, READ).await;
        Ok(pb::OffersReply {
            offers: json(&offers)?,
            errors,
        })
    }

    /// Plans (or takes over) for `person`, waiting for the plan.
    pub(super) async fn plan(
        self: &Arc<Self>,
        person: &Person,
        req: pb::PlanRequest,
    ) -> Result<pb::PlanReply, tonic::Status> {
        operator(person, "plan workflows")?;
        self.forget_old();
        let job = if req.take_over == 0 {
            let kind = match Kind::parse(&req.kind) {
                Ok(k) => k,
                Err(e) => return Ok(refused(e.to_string())),
            };
            self.desk.plan(kind, &req.target)
        } else {
            let (me, run, by) = (Arc::clone(self), req.take_over, person.name.clone());
            // The journal is a file: read off the runtime's workers.
            let taken =
                tokio::task::spawn_blocking(move || me.desk.take_over_now(run, req.rollback, &by))
                    .await
                    .map_err(|_| tonic::Status::internal("the take-over failed"))?;
            match taken {
                Ok(job) => job,
                Err(e) => return Ok(refused(e)),
            }
        };
        if let Ok(mut m) = self.makers.lock() {
            m.insert(job, (person.name.clone(), Instant::now()));
        }
        let mut bell = self.bell.clone();
        let deadline = tokio::time::Instant::now() + PLANNING;
        loop {
            match self.desk.job(job).map(|j| j.phase) {
                Some(Phase::Planned(plan)) => {
                    return Ok(pb::PlanReply {
                        job,
                        plan: json(&plan)?,
                        error: String::new(),
                        second_approver: self.environment.second_approver,
                    });
                }
                Some(Phase::Failed(_, why)) => {
                    self.desk.dismiss(job);
                    return Ok(refused(why));
                }
                None => return Ok(refused("the plan was dropped".into())),
                Some(_) => {}
            }
            if tokio::time::timeout_at(deadline, bell.changed())
                .await
                .is_err()
            {
                self.desk.cancel(job);
                return Ok(refused(format!(
                    "the relay could not make the plan within {} s",
                    PLANNING.as_secs()
                )));
            }
        }
    }

    /// Runs `person`'s plan: the first update says a refusal; then the journal rows as
    /// they come, and the end.
    pub(super) fn run(
        self: &Arc<Self>,
        person: &Person,
        req: &pb::RunRequest,
    ) -> Result<Updates, tonic::Status> {
        operator(person, "run workflows")?;
        let (tx, rx) = mpsc::channel(64);
        let stream = ReceiverStream::new(rx);
        if let Err(why) = self.confirm(person, req) {
            tx.try_send(Ok(pb::RunUpdate {
                error: why,
                ..pb::RunUpdate::default()
            }))
            .ok();
            return Ok(stream);
        }
        tracing::info!("{} runs plan {} on the relay", person.name, req.job);
        let me = Arc::clone(self);
        let job = req.job;
        tokio::spawn(async move { me.follow(job, tx).await });
        Ok(stream)
    }

    /// The maker's overrides, approver and typed confirmation, checked by the desk as a
    /// console's own would be, then the run started under the maker's name.
    fn confirm(&self, person: &Person, req: &pb::RunRequest) -> Result<(), String> {
        let maker = self
            .makers
            .lock()
            .ok()
            .and_then(|m| m.get(&req.job).map(|(who, _)| who.clone()))
            .ok_or("the relay does not keep this plan any more; plan again")?;
        if maker != person.name {
            return Err(format!(
                "this plan was made by {maker}; plan it yourself to see its guards"
            ));
        }
        for o in &req.overrides {
            self.desk.override_guard(req.job, &o.guard, &o.reason)?;
        }
        self.desk.approve(req.job, &req.approver)?;
        self.desk.confirm_by(req.job, &req.typed, &person.name)
    }

    /// Sends job `id`'s progress to its console until it ends.
    async fn follow(&self, id: u64, tx: mpsc::Sender<Result<pb::RunUpdate, tonic::Status>>) {
        let mut bell = self.bell.clone();
        let mut sent = 0;
        let mut asked = String::new();
        loop {
            let Some(job) = self.desk.job(id) else { return };
            let rows = job.control.rows();
            let mut update = pb::RunUpdate::default();
            if rows.len() > sent {
                update.rows = serde_json::to_string(&rows[sent..]).unwrap_or_default();
                sent = rows.len();
            }
            let waiting = job.control.waiting();
            if waiting != asked {
                update.waiting.clone_from(&waiting);
                asked = waiting;
            }
            let ended = match job.phase {
                Phase::Finished(_, report) => {
                    update.report = serde_json::to_string(&report).unwrap_or_default();
                    true
                }
                Phase::Failed(_, why) => {
                    update.error = why;
                    true
                }
                _ => false,
            };
            if tx.send(Ok(update)).await.is_err() {
                // The console went; the run goes on, journaled here.
                return;
            }
            if ended {
                self.forget(id);
                return;
            }
            tokio::time::timeout(HEARTBEAT, bell.changed()).await.ok();
        }
    }

    /// Cancel, acknowledge, or the safety valve, by any operator.
    pub(super) fn steer(
        &self,
        person: &Person,
        req: &pb::SteerRequest,
    ) -> Result<(), tonic::Status> {
        operator(person, "steer workflows")?;
        match req.action.as_str() {
            "cancel" => {
                tracing::warn!("{} cancels run of plan {}", person.name, req.job);
                self.desk.cancel(req.job);
            }
            "acknowledge" => match self.desk.job(req.job) {
                Some(j) => {
                    tracing::info!(
                        "{} says the manual step of plan {} is done",
                        person.name,
                        req.job
                    );
                    j.control.acknowledge();
                }
                None => return Err(tonic::Status::not_found("no such run on the relay")),
            },
            "valve" => {
                tracing::warn!("{} pulled the safety valve: every run stops", person.name);
                self.desk.pull_valve();
            }
            "reset" => {
                tracing::warn!("{} reset the safety valve", person.name);
                self.desk.reset_valve();
            }
            other => {
                return Err(tonic::Status::invalid_argument(format!(
                    "{other:?} is not something a run can be told (cancel, acknowledge, valve, reset)"
                )));
            }
        }
        Ok(())
    }

    /// The journal's latest runs with their steps, newest first.
    pub(super) async fn journal(&self, limit: u32) -> Result<pb::JournalReply, tonic::Status> {
        let path = self.journal.clone();
        let limit = limit.clamp(1, JOURNAL_RUNS);
        let runs =
            tokio::task::spawn_blocking(move || -> Result<Vec<(RunRow, Vec<StepRow>)>, String> {
                let j = Journal::open(&path)?;
                j.recent(limit)?
                    .into_iter()
                    .map(|r| {
                        let steps = j.steps(r.id)?;
                        Ok((r, steps))
                    })
                    .collect()
            })
            .await
            .map_err(|_| tonic::Status::internal("reading the journal failed"))?
            .map_err(tonic::Status::unavailable)?;
        Ok(pb::JournalReply { runs: json(&runs)? })
    }

    /// Forgets plans kept past [`KEPT`] that are not running.
    fn forget_old(&self) {
        let old: Vec<u64> = self
            .makers
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(_, (_, at))| at.elapsed() > KEPT)
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default();
        for id in old {
            if !matches!(self.desk.job(id).map(|j| j.phase), Some(Phase::Running(_))) {
                self.forget(id);
            }
        }
    }

    fn forget(&self, id: u64) {
        self.desk.dismiss(id);
        if let Ok(mut m) = self.makers.lock() {
            m.remove(&id);
        }
    }
}

/// Refuses a viewer.
fn operator(person: &Person, what: &str) -> Result<(), tonic::Status> {
    if person.role == Role::Operator {
        return Ok(());
    }
    Err(tonic::Status::permission_denied(format!(
        "{} is a viewer here and cannot {what}; operators are listed in serve.operators",
        person.name
    )))
}

/// A plan refused, in words.
fn refused(error: String) -> pb::PlanReply {
    pb::PlanReply {
        error,
        ..pb::PlanReply::default()
    }
}

fn json(value: &impl serde::Serialize) -> Result<String, tonic::Status> {
    serde_json::to_string(value).map_err(|e| tonic::Status::internal(e.to_string()))
}
