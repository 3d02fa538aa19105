//! `switchboard workflow list|plan|run|resume|rollback`: guarded workflows from the
//! command line (plan with every guard, typed confirmation, journal, verification), the
//! same as in the window.

use std::process::ExitCode;
use std::time::Duration;

use switchboard_core::{Clock as _, Config, SystemClock};

use super::args::{Common, WorkflowCmd};
use super::setup::data_dir;

/// How a workflow command failed, which decides the exit code.
pub(super) enum WorkflowExit {
    /// A guard (or the confirmation) refused: exit 3.
    Refused(String),
    /// Bad usage or configuration: exit 2.
    Usage(String),
    /// The run or the journal failed: exit 1.
    Failed(String),
}

impl From<switchboard_core::workflow::WorkflowError> for WorkflowExit {
    fn from(e: switchboard_core::workflow::WorkflowError) -> Self {
        use switchboard_core::workflow::WorkflowError as E;
        match e {
            E::Refused(_) => Self::Refused(e.to_string()),
            E::Usage(_) => Self::Usage(e.to_string()),
            E::Target(_) => Self::Failed(e.to_string()),
        }
    }
}

/// `switchboard workflow ...`: runs `action` and says how it ended (0 done, 1 failed,
/// 2 bad usage, 3 refused).
pub fn workflow(c: &Common, config: &Config, action: &WorkflowCmd) -> ExitCode {
    exit_code(run_workflow(c, config, action))
}

/// How a workflow or experiment command ended, as its exit code (0 done, 1 failed,
/// 2 bad usage, 3 refused), the failure said on stderr.
pub(super) fn exit_code(result: Result<(), WorkflowExit>) -> ExitCode {
    let (code, message) = match result {
        Ok(()) => return ExitCode::SUCCESS,
        Err(WorkflowExit::Refused(e)) => (3, e),
        Err(WorkflowExit::Usage(e)) => (2, e),
        Err(WorkflowExit::Failed(e)) => (1, e),
    };
    eprintln!("switchboard: {message}");
    ExitCode::from(code)
}

fn run_workflow(c: &Common, config: &Config, action: &WorkflowCmd) -> Result<(), WorkflowExit> {
    use switchboard_core::workflow::{self, Journal, Kind};
    let env = match &c.environment {
        Some(name) => config.environment.iter().find(|e| &e.name == name),
        None => config.environment.first(),
    };
    // On a relay, workflows are the relay's: planned, run and journaled there.
    if let Some(relay) = super::setup::relay_for(c, config) {
        let env = env
            .cloned()
            .unwrap_or_else(|| switchboard_core::Environment::new("relay", Vec::new()));
        return super::workflow_relay::on_relay(&env, &relay, action);
    }
    let env =
        env.ok_or_else(|| WorkflowExit::Usage("no such environment in the configuration".into()))?;
    let dir = data_dir(c)
        .ok_or_else(|| WorkflowExit::Usage("no data directory for the journal".into()))?;
    let journal = Journal::open(&dir.join("journal.sqlite")).map_err(WorkflowExit::Failed)?;
    let ctx = workflow::Context {
        environment: env,
        journal: &journal,
        clock: &SystemClock,
        read_only_mode: false,
        timeout: Duration::from_secs(2),
        control: workflow::Control::default(),
        drill: None,
        observed: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| WorkflowExit::Failed(e.to_string()))?;
    match action {
        WorkflowCmd::List => {
            print_kinds();
            let runs = journal
                .recent(10)
                .map_err(WorkflowExit::Failed)?
                .into_iter()
                .map(|r| {
                    let last = journal.steps(r.id)?.pop();
                    Ok((r, last))
                })
                .collect::<Result<Vec<_>, String>>()
                .map_err(WorkflowExit::Failed)?;
            print_runs(
                &runs,
                &format!("journal {}", dir.join("journal.sqlite").display()),
            );
            Ok(())
        }
        WorkflowCmd::Plan { kind, target, json } => {
            let plan = rt.block_on(workflow::plan(&ctx, Kind::parse(kind)?, target))?;
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
            let rollback = matches!(action, WorkflowCmd::Rollback { .. });
            let (kind, target) = workflow::take_over(
                ctx.environment,
                &journal,
                *run,
                rollback,
                &switchboard_core::operator_name(),
                SystemClock.now(),
            )?;
            println!(
                "run #{run} closed as interrupted; {} {target}:",
                kind.as_str()
            );
            let plan = rt.block_on(workflow::plan(&ctx, kind, &target))?;
            run_plan(&rt, &ctx, &plan, confirm, *json)
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
            let mut plan = rt.block_on(workflow::plan(&ctx, Kind::parse(kind)?, target))?;
            for g in overrides {
                plan.override_guard(g, reason.as_deref().unwrap_or(""))?;
            }
            plan.approver.clone_from(approver);
            run_plan(&rt, &ctx, &plan, confirm, *json)
        }
    }
}

/// Prints the plan, runs it after the typed confirmation, prints the report.
pub(super) fn run_plan(
    rt: &tokio::runtime::Runtime,
    ctx: &switchboard_core::workflow::Context<'_>,
    plan: &switchboard_core::workflow::Plan,
    confirm: &str,
    json: bool,
) -> Result<(), WorkflowExit> {
    if !json {
        print_plan(plan, false);
    }
    let prompter = Prompter::start(ctx.control.clone());
    let report = rt.block_on(switchboard_core::workflow::run(
        ctx,
        plan,
        confirm,
        &switchboard_core::operator_name(),
    ));
    prompter.stop();
    print_report(plan, &report?, json)
}

/// A runbook's manual step waits for the operator: says what to do on stderr, and takes
/// `done` from stdin, for as long as the run lasts.
pub(super) struct Prompter {
    finished: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Prompter {
    /// Starts asking for the run that `control` watches.
    pub(super) fn start(control: switchboard_core::workflow::Control) -> Self {
        let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (control, finished) = (control.clone(), finished.clone());
            std::thread::spawn(move || {
                let mut asked = String::new();
                while !finished.load(std::sync::atomic::Ordering::SeqCst) {
                    let now = control.waiting();
                    if !now.is_empty() && now != asked {
                        eprintln!("MANUAL STEP: {now}\n  type `done` and Enter when it is done");
                    }
                    asked = now;
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                match line {
                    Ok(l) if l.trim() == "done" => control.acknowledge(),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        Self { finished, thread }
    }

    /// The run ended: stops asking.
    pub(super) fn stop(self) {
        self.finished
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().ok();
    }
}

/// Prints how a run ended (or the JSON of the plan and the report): `Ok` when done.
pub(super) fn print_report(
    plan: &switchboard_core::workflow::Plan,
    report: &switchboard_core::workflow::Report,
    json: bool,
) -> Result<(), WorkflowExit> {
    if json {
        println!("{}", serde_json::json!({"plan": plan, "report": report}));
    } else {
        for l in &report.lines {
            println!("{l}");
        }
        println!(
            "run #{}: {}{}",
            report.run,
            report.outcome,
            report
                .effect_millis
                .map(|m| format!(" ({m} ms from confirmation to effect)"))
                .unwrap_or_default()
        );
    }
    if report.outcome == "done" {
        Ok(())
    } else {
        Err(WorkflowExit::Failed(format!(
            "run #{} {}",
            report.run, report.outcome
        )))
    }
}

/// Prints every workflow and what it does.
pub(super) fn print_kinds() {
    for k in switchboard_core::workflow::Kind::ALL {
        println!("{:<6} {}", k.as_str(), k.describe());
    }
}

/// Prints the latest runs (each with its last journal row), kept in `kept_in`.
pub(super) fn print_runs(
    runs: &[(
        switchboard_core::workflow::RunRow,
        Option<switchboard_core::workflow::StepRow>,
    )],
    kept_in: &str,
) {
    if !runs.is_empty() {
        println!("\nlatest runs ({kept_in}):");
    }
    let now = SystemClock.now();
    for (r, last) in runs {
        println!(
            "#{} {} {} {} by {} in {}: {}",
            r.id,
            r.started_at.to_rfc3339(),
            r.kind,
            r.target,
            r.operator,
            r.environment,
            r.outcome
        );
        // A run still marked running whose console is gone was cut short (a
        // crash, kill -9): say where, so a human checks the target.
        if r.interrupted(now) {
            println!(
                "   INTERRUPTED {}: the target may be half-changed (it was {}); check it, then `workflow resume {}` or `workflow rollback {}`",
                last.as_ref().map_or_else(
                    || "before its first step".to_owned(),
                    |s| format!(
                        "after the `{}` row of `{}` ({})",
                        s.phase, s.action, s.outcome
                    )
                ),
                if r.before.is_empty() {
                    "unknown"
                } else {
                    r.before.as_str()
                },
                r.id,
                r.id
            );
        }
    }
}

/// Prints the plan: its steps and every guard's verdict (or the JSON of both).
pub(super) fn print_plan(plan: &switchboard_core::workflow::Plan, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({ "plan": plan, "allowed": plan.allowed() })
        );
        return;
    }
    println!(
        "plan: {} {} in {} (now {})",
        plan.kind.as_str(),
        plan.target,
        plan.environment,
        plan.before
    );
    for s in &plan.steps {
        println!("  step: {s}");
    }
    for g in &plan.guards {
        println!(
            "  guard {:<15} {}  {}",
            g.name,
            if g.ok {
                "ok        "
            } else if plan.overridden(g.name) {
                "OVERRIDDEN"
            } else {
                "REFUSES   "
            },
            g.reason
        );
    }
    for o in &plan.overrides {
        println!("  override {}: {}", o.guard, o.reason);
    }
}
