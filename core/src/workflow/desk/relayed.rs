//! A console's desk on a relay: each job is planned and run by the relay's desk, which
//! journals it under the person its certificate or token names, with the relay's
//! guards and etcd lock. The job here mirrors it: the plan as the relay made it, the
//! journal rows as the relay streams them, the report or the refusal in the relay's
//! words. Cancel, a manual step's acknowledgement and the safety valve go back as
//! `Steer` calls.
//!
//! A run belongs to the relay once confirmed: a console that loses the relay mid-run
//! says so, and the run goes on there (the journal shows how it ended).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Inner, Job, Phase};
use crate::engine::RelayDoor;
use crate::protocol::pb;
use crate::workflow::{Control, Kind, Offer, Plan, Report, RunRow, StepRow};

/// Bound on the calls that answer at once (offers, steering, the journal).
const CALL: Duration = Duration::from_secs(15);
/// Bound on a plan: the relay reads the target fresh, each read bounded there.
const PLAN: Duration = Duration::from_mins(1);
/// A run's stream silent this long is taken as lost (the relay sends an update at
/// least every few seconds).
const RUN_SILENCE: Duration = Duration::from_secs(30);
/// How often the stream's watcher looks at the job's cancel and acknowledgement.
const STEER_EVERY: Duration = Duration::from_millis(100);

/// Plans `kind` on `target` on the relay as the local job `id`.
pub(super) async fn plan(inner: Arc<Inner>, door: RelayDoor, id: u64, kind: Kind, target: String) {
    let request = pb::PlanRequest {
        kind: kind.as_str().to_owned(),
        target,
        take_over: 0,
        rollback: false,
    };
    let phase = match ask_plan(&door, request).await {
        Ok((job, plan, approver)) => {
            inner.approver_needed.store(approver, Ordering::SeqCst);
            if let Ok(mut r) = inner.relayed.lock() {
                r.insert(id, job);
            }
            Phase::Planned(Box::new(plan))
        }
        Err(e) => Phase::Failed(None, e),
    };
    inner.set_phase(id, phase);
}

/// Takes over the interrupted run `run` on the relay; its plan becomes a job here,
/// announced as a local take-over's is.
pub(super) async fn take_over(inner: Arc<Inner>, door: RelayDoor, run: i64, rollback: bool) {
    let request = pb::PlanRequest {
        kind: String::new(),
        target: String::new(),
        take_over: run,
        rollback,
    };
    match ask_plan(&door, request).await {
        Ok((job, plan, approver)) => {
            inner.approver_needed.store(approver, Ordering::SeqCst);
            let id = inner.next_id.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut jobs) = inner.jobs.lock() {
                jobs.push(Job {
                    id,
                    kind: plan.kind,
                    target: plan.target.clone(),
                    phase: Phase::Planned(Box::new(plan)),
                    control: Control::with_valve(Arc::clone(&inner.valve)),
                });
            }
            if let Ok(mut r) = inner.relayed.lock() {
                r.insert(id, job);
            }
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
    inner.wake();
    journal(inner, door).await;
}

/// Asks the relay for a plan: its id there and the plan, or why not.
async fn ask_plan(door: &RelayDoor, request: pb::PlanRequest) -> Result<(u64, Plan, bool), String> {
    let mut client = door.client()?;
    let reply = tokio::time::timeout(PLAN, client.plan(request))
        .await
        .map_err(|_| "the relay did not plan in time".to_owned())?
        .map_err(|s| door.words(&s))?
        .into_inner();
    if !reply.error.is_empty() {
        return Err(reply.error);
    }
    let plan: Plan = serde_json::from_str(&reply.plan)
        .map_err(|e| format!("the relay's plan was not readable: {e}"))?;
    Ok((reply.job, plan, reply.second_approver))
}

/// Runs the local job `id` (its plan `plan`) on the relay and follows it to its end.
pub(super) async fn run(
    inner: Arc<Inner>,
    door: RelayDoor,
    id: u64,
    plan: Box<Plan>,
    typed: String,
    control: Control,
) {
    let phase = match follow(&inner, &door, id, &plan, typed, &control).await {
        Ok(report) => Phase::Finished(plan, report),
        Err(e) => Phase::Failed(Some(plan), e),
    };
    inner.set_phase(id, phase);
    journal(inner, door).await;
}

async fn follow(
    inner: &Inner,
    door: &RelayDoor,
    id: u64,
    plan: &Plan,
    typed: String,
    control: &Control,
) -> Result<Report, String> {
    let job = remote_id(inner, id)?;
    let mut client = door.client()?;
    let request = pb::RunRequest {
        job,
        typed,
        approver: plan.approver.clone().unwrap_or_default(),
        overrides: plan
            .overrides
            .iter()
            .map(|o| pb::Override {
                guard: o.guard.clone(),
                reason: o.reason.clone(),
            })
            .collect(),
    };
    let mut stream = tokio::time::timeout(CALL, client.run(request))
        .await
        .map_err(|_| "the relay did not take the run in time".to_owned())?
        .map_err(|s| door.words(&s))?
        .into_inner();
    let lost = "lost touch with the run on the relay; it goes on there, and the journal shows how it ended";
    let mut cancelled = false;
    let mut silent_since = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(STEER_EVERY);
    loop {
        tokio::select! {
            update = stream.message() => {
                let update = update
                    .map_err(|s| format!("{lost} ({})", door.words(&s)))?
                    .ok_or_else(|| lost.to_owned())?;
                silent_since = tokio::time::Instant::now();
                if !update.rows.is_empty() {
                    let rows: Vec<StepRow> = serde_json::from_str(&update.rows)
                        .map_err(|e| format!("the relay's journal rows were not readable: {e}"))?;
                    for row in rows {
                        control.push_row(row);
                    }
                }
                if update.waiting != control.waiting() {
                    control.ask_human(&update.waiting);
                }
                if !update.error.is_empty() {
                    return Err(update.error);
                }
                if !update.report.is_empty() {
                    return serde_json::from_str(&update.report)
                        .map_err(|e| format!("the relay's report was not readable: {e}"));
                }
                inner.wake();
            }
            _ = tick.tick() => {
                if silent_since.elapsed() > RUN_SILENCE {
                    return Err(format!("{lost} (silent for {} s)", RUN_SILENCE.as_secs()));
                }
                if !cancelled && control.stopped().is_some() {
                    cancelled = true;
                    send_steer(door, job, "cancel").await;
                }
                if control.take_ack() {
                    send_steer(door, job, "acknowledge").await;
                }
            }
        }
    }
}

/// The relay's id of the local job `id`.
fn remote_id(inner: &Inner, id: u64) -> Result<u64, String> {
    inner
        .relayed
        .lock()
        .ok()
        .and_then(|r| r.get(&id).copied())
        .ok_or_else(|| "the relay does not know this plan; plan again".to_owned())
}

/// Sends `action` for the local job `id` (0: the desk, for the valve); a failure is
/// logged (the run's stream says what the relay did).
pub(super) async fn steer(inner: Arc<Inner>, door: RelayDoor, id: u64, action: &'static str) {
    let job = if id == 0 {
        0
    } else {
        match remote_id(&inner, id) {
            Ok(j) => j,
            Err(e) => return tracing::warn!("{action}: {e}"),
        }
    };
    send_steer(&door, job, action).await;
}

async fn send_steer(door: &RelayDoor, job: u64, action: &str) {
    let answer = match door.client() {
        Ok(mut client) => {
            let request = pb::SteerRequest {
                job,
                action: action.to_owned(),
            };
            match tokio::time::timeout(CALL, client.steer(request)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(s)) => Err(door.words(&s)),
                Err(_) => Err("the relay did not answer in time".to_owned()),
            }
        }
        Err(e) => Err(e),
    };
    if let Err(e) = answer {
        tracing::warn!("the relay did not take {action}: {e}");
    }
}

/// What the relay can do, read fresh there.
pub(super) async fn offers(door: &RelayDoor) -> (Vec<Offer>, Vec<String>) {
    let read = async {
        let mut client = door.client()?;
        let reply = tokio::time::timeout(PLAN, client.offers(pb::OffersRequest {}))
            .await
            .map_err(|_| "the relay did not list what can be done in time".to_owned())?
            .map_err(|s| door.words(&s))?
            .into_inner();
        let offers: Vec<Offer> = serde_json::from_str(&reply.offers)
            .map_err(|e| format!("the relay's offers were not readable: {e}"))?;
        Ok::<_, String>((offers, reply.errors))
    };
    read.await
        .unwrap_or_else(|e: String| (Vec::new(), vec![format!("relay: {e}")]))
}

/// Reads the relay's journal view into the desk.
pub(super) async fn journal(inner: Arc<Inner>, door: RelayDoor) {
    let read = async {
        let mut client = door.client()?;
        let reply = tokio::time::timeout(CALL, client.journal(pb::JournalRequest { limit: 30 }))
            .await
            .map_err(|_| "the relay did not send its journal in time".to_owned())?
            .map_err(|s| door.words(&s))?
            .into_inner();
        serde_json::from_str::<Vec<(RunRow, Vec<StepRow>)>>(&reply.runs)
            .map_err(|e| format!("the relay's journal was not readable: {e}"))
    };
    match read.await {
        Ok(rows) => {
            if let Ok(mut h) = inner.history.lock() {
                *h = Arc::new(rows);
            }
        }
        Err(e) => tracing::debug!("journal view not refreshed: {e}"),
    }
    inner.wake();
}
