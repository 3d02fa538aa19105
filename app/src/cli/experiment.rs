//! `switchboard experiment list|run|report|history`: game days from the command line.
//! `run` starts an engine on the environment (the console's own view, which judges the
//! hypothesis), waits for the steady state, plans the `experiment` workflow with every
//! guard, runs it after the typed confirmation and prints the report kept in the journal.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use switchboard_core::workflow::experiment::ExperimentReport;
use switchboard_core::workflow::{self, Journal, Kind};
use switchboard_core::{Config, EngineOptions, SystemClock};

use super::args::{Common, ExperimentCmd};
use super::setup::data_dir;
use super::workflow::{WorkflowExit, exit_code, print_plan, run_plan};

/// `switchboard experiment ...`: 0 done, 1 failed, 2 bad usage, 3 refused.
pub fn experiment(c: &Common, config: &Config, action: &ExperimentCmd) -> ExitCode {
    exit_code(run(c, config, action))
}

fn report_of(json: &str) -> Result<ExperimentReport, WorkflowExit> {
    serde_json::from_str(json)
        .map_err(|e| WorkflowExit::Failed(format!("a report in the journal is unreadable: {e}")))
}

fn run(c: &Common, config: &Config, action: &ExperimentCmd) -> Result<(), WorkflowExit> {
    let env = match &c.environment {
        Some(name) => config.environment.iter().find(|e| &e.name == name),
        None => config.environment.first(),
    }
    .ok_or_else(|| WorkflowExit::Usage("no such environment in the configuration".into()))?;
    let dir = data_dir(c)
        .ok_or_else(|| WorkflowExit::Usage("no data directory for the journal".into()))?;
    let journal = Journal::open(&dir.join("journal.sqlite")).map_err(WorkflowExit::Failed)?;
    match action {
        ExperimentCmd::List => {
            if env.experiment.is_empty() {
                println!(
                    "no experiment enabled in environment {} (shipped: {}); enable one with [[environment.experiment]]",
                    env.name,
                    workflow::experiment::SHIPPED.map(|(n, _)| n).join(", ")
                );
            }
            for e in &env.experiment {
                let latest = journal
                    .experiment_reports(&e.name, 1)
                    .map_err(WorkflowExit::Failed)?
                    .pop()
                    .map(|(_, j)| report_of(&j))
                    .transpose()?;
                println!(
                    "{:<20} {}{}",
                    e.name,
                    e.file.as_deref().unwrap_or("(shipped)"),
                    latest.map_or_else(
                        || " · never run".to_owned(),
                        |r| format!(" · latest: {}", r.line())
                    )
                );
            }
            Ok(())
        }
        ExperimentCmd::Report { run, json } => {
            let all = journal
                .experiment_reports("", 10_000)
                .map_err(WorkflowExit::Failed)?;
            let (_, text) = match run {
                Some(id) => all.into_iter().find(|(r, _)| r == id),
                None => all.into_iter().next(),
            }
            .ok_or_else(|| {
                WorkflowExit::Usage(match run {
                    Some(id) => format!("run #{id} is not an experiment's run in this journal"),
                    None => "no experiment has run yet".to_owned(),
                })
            })?;
            let r = report_of(&text)?;
            if *json {
                println!("{text}");
            } else {
                print!("{}", r.markdown());
            }
            Ok(())
        }
        ExperimentCmd::History { name } => {
            let runs = journal
                .experiment_reports(name, 1000)
                .map_err(WorkflowExit::Failed)?;
            if runs.is_empty() {
                println!("{name} has not run yet");
            }
            for (_, text) in runs {
                let r = report_of(&text)?;
                println!(
                    "{} {}",
                    r.injected_at
                        .map_or_else(|| "–".to_owned(), switchboard_core::Timestamp::to_rfc3339),
                    r.line()
                );
            }
            Ok(())
        }
        ExperimentCmd::Run {
            name,
            confirm,
            wait,
            json,
        } => {
            let cfg = Config {
                environment: vec![env.clone()],
            };
            let engine = switchboard_core::start(&EngineOptions::new(cfg))
                .map_err(|e| WorkflowExit::Failed(e.to_string()))?;
            let ctx = workflow::Context {
                environment: env,
                journal: &journal,
                clock: &SystemClock,
                read_only_mode: false,
                timeout: Duration::from_secs(2),
                control: workflow::Control::default(),
                drill: None,
                observed: Some(engine.view()),
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| WorkflowExit::Failed(e.to_string()))?;
            // The sources' first reads make the steady state: plan again until the
            // guards pass or the wait is over, then show the last plan either way.
            let deadline = Instant::now() + Duration::from_secs_f64(wait.clamp(0.0, 3600.0));
            // Only what the sources' reads can change is waited for: a read-only
            // environment or a held lock refuses at once.
            let waits = |g: &workflow::GuardResult| {
                g.ok || matches!(
                    g.name,
                    "steady state" | "outside the scope" | "fault" | "blast radius"
                )
            };
            let plan = loop {
                let plan = rt.block_on(workflow::plan(&ctx, Kind::Experiment, name))?;
                if plan.allowed() || Instant::now() >= deadline || !plan.guards.iter().all(waits) {
                    break plan;
                }
                std::thread::sleep(Duration::from_millis(250));
            };
            if !plan.allowed() {
                print_plan(&plan, *json);
                return Err(WorkflowExit::Refused(format!(
                    "refused: {}",
                    plan.refusals().join("; ")
                )));
            }
            eprintln!("GAME DAY: {name} in environment {}", env.name);
            let ran = run_plan(&rt, &ctx, &plan, confirm, *json);
            if let Some((_, text)) = journal
                .experiment_reports(name, 1)
                .map_err(WorkflowExit::Failed)?
                .pop()
                && !*json
            {
                print!("\n{}", report_of(&text)?.markdown());
            }
            ran
        }
    }
}
