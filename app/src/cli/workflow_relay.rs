//! `switchboard workflow ...` on a relay (`--connect`, or the environment's `relay`):
//! the relay plans, runs and journals, under the person its certificate or token
//! names, with its guards, second-approver rule and etcd lock; this command is the
//! console's desk on it (the window's own), printing what the local path prints.

use std::time::{Duration, Instant};

use switchboard_core::RelayDoor;
use switchboard_core::workflow::desk::{Desk, Phase};
use switchboard_core::workflow::{Kind, Plan};
use switchboard_core::{Environment, RelayClient};

use super::args::WorkflowCmd;
use super::workflow::{Prompter, WorkflowExit, print_kinds, print_plan, print_report, print_runs};

/// Bound on a plan (the relay bounds its own reads too).
const PLANNING: Duration = Duration::from_secs(70);

/// Runs `action` through the relay `relay` watching `env`.
pub(super) fn on_relay(
    env: &Environment,
    relay: &RelayClient,
    action: &WorkflowCmd,
) -> Result<(), WorkflowExit> {
    // The connection's own task runs on this runtime while the desk's calls use it: a
    // worker of its own keeps it going while this thread waits on the desk.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| WorkflowExit::Failed(e.to_string()))?;
    let (door, person) = rt
        .block_on(RelayDoor::dial(relay))
        .map_err(WorkflowExit::Failed)?;
    eprintln!("switchboard: on the relay as {person}");
    if let WorkflowCmd::List = action {
        print_kinds();
        let runs = rt.block_on(journal(&door)).map_err(WorkflowExit::Failed)?;
        print_runs(&runs, "the relay's journal");
        return Ok(());
    }
    let desk = Desk::relayed(env.clone(), door).map_err(WorkflowExit::Failed)?;
    match action {
        WorkflowCmd::List => Ok(()),
        WorkflowCmd::Plan { kind, target, json } => {
            let id = desk.plan(Kind::parse(kind)?, target);
            let plan = planned(&desk, id)?;
            print_plan(&plan, *json);
            if plan.allowed() {
                Ok(())
            } else {
                Err(WorkflowExit::Refused(format!(
                    "refused: {}",
                    plan.refusals().join("; ")
                )))
            }
        }
        WorkflowCmd::Resume { run, confirm, json }
        | WorkflowCmd::Rollback { run, confirm, json } => {
            desk.take_over(*run, matches!(action, WorkflowCmd::Rollback { .. }));
            let deadline = Instant::now() + PLANNING;
            let id = loop {
                if let Some(id) = desk.take_focus() {
                    break id;
                }
                if let Some(why) = desk.take_error() {
                    return Err(exit_of(why));
                }
                if Instant::now() > deadline {
                    return Err(WorkflowExit::Failed(
                        "the relay did not answer the take-over in time".into(),
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let plan = planned(&desk, id)?;
            println!(
                "run #{run} closed as interrupted; {} {}:",
                plan.kind.as_str(),
                plan.target
            );
            run_job(&desk, id, &plan, confirm, *json)
        }
        WorkflowCmd::Run {
            kind,
            target,
            confirm,
            overrides,
            reason,
            approver,
            json,
        } => {
            let id = desk.plan(Kind::parse(kind)?, target);
            planned(&desk, id)?;
            for g in overrides {
                desk.override_guard(id, g, reason.as_deref().unwrap_or(""))
                    .map_err(exit_of)?;
            }
            if let Some(a) = approver {
                desk.approve(id, a).map_err(exit_of)?;
            }
            let plan = planned(&desk, id)?;
            run_job(&desk, id, &plan, confirm, *json)
        }
    }
}

/// A refusal (exit 3) or a failure (exit 1), from the words the relay or the desk said.
fn exit_of(why: String) -> WorkflowExit {
    if why.starts_with("refused") || why.contains("type ") && why.contains("exactly") {
        WorkflowExit::Refused(why)
    } else {
        WorkflowExit::Failed(why)
    }
}

/// Waits for job `id` to leave `busy`; its phase then.
fn settled(
    desk: &Desk,
    id: u64,
    busy: fn(&Phase) -> bool,
    within: Option<Duration>,
) -> Result<Phase, WorkflowExit> {
    let deadline = within.map(|w| (Instant::now() + w, w));
    loop {
        let phase = desk
            .job(id)
            .ok_or_else(|| WorkflowExit::Failed("the job was dropped".into()))?
            .phase;
        if !busy(&phase) {
            return Ok(phase);
        }
        if let Some((at, w)) = deadline
            && Instant::now() > at
        {
            return Err(WorkflowExit::Failed(format!(
                "no answer from the relay within {} s",
                w.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Job `id`'s plan, once made.
fn planned(desk: &Desk, id: u64) -> Result<Plan, WorkflowExit> {
    match settled(desk, id, |p| matches!(p, Phase::Planning), Some(PLANNING))? {
        Phase::Planned(p) => Ok(*p),
        Phase::Failed(_, why) => Err(exit_of(why)),
        p => Err(WorkflowExit::Failed(format!("unexpected: {p:?}"))),
    }
}

/// Confirms job `id` and follows it to its end on the relay.
fn run_job(
    desk: &Desk,
    id: u64,
    plan: &Plan,
    confirm: &str,
    json: bool,
) -> Result<(), WorkflowExit> {
    if !json {
        print_plan(plan, false);
    }
    desk.confirm(id, confirm).map_err(exit_of)?;
    let control = desk
        .job(id)
        .ok_or_else(|| WorkflowExit::Failed("the job was dropped".into()))?
        .control;
    let prompter = Prompter::start(control);
    // A run may wait on a human for as long as it takes; the desk says when the relay
    // is lost.
    let end = settled(desk, id, |p| matches!(p, Phase::Running(_)), None);
    prompter.stop();
    match end? {
        Phase::Finished(_, report) => print_report(plan, &report, json),
        Phase::Failed(_, why) => Err(exit_of(why)),
        p => Err(WorkflowExit::Failed(format!("unexpected: {p:?}"))),
    }
}

/// The relay's latest runs, each with its last row.
async fn journal(
    door: &RelayDoor,
) -> Result<
    Vec<(
        switchboard_core::workflow::RunRow,
        Option<switchboard_core::workflow::StepRow>,
    )>,
    String,
> {
    use switchboard_core::protocol::pb;
    let mut client = door.client()?;
    let reply = tokio::time::timeout(
        Duration::from_secs(15),
        client.journal(pb::JournalRequest { limit: 10 }),
    )
    .await
    .map_err(|_| "the relay did not send its journal in time".to_owned())?
    .map_err(|s| door.words(&s))?
    .into_inner();
    let runs: Vec<(
        switchboard_core::workflow::RunRow,
        Vec<switchboard_core::workflow::StepRow>,
    )> = serde_json::from_str(&reply.runs)
        .map_err(|e| format!("the relay's journal was not readable: {e}"))?;
    Ok(runs.into_iter().map(|(r, mut s)| (r, s.pop())).collect())
}
