//! What the game days share: one at a time, an engine on the environment with the
//! console's view handed to the workflow context, and the runs themselves (the rig's
//! fence agent as a device, live traffic and Patroni's primary are in `common`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_core::workflow::experiment::ExperimentReport;
use switchboard_core::workflow::{self, Journal, Kind};
use switchboard_core::{Config, EngineHandle, EngineOptions, Environment, SystemClock};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Holds the rig for one experiment; `None` (said) without the components it needs.
pub(crate) fn begin(needs: &[&str]) -> Option<std::sync::MutexGuard<'static, ()>> {
    if let Some(missing) = needs.iter().find(|c| !crate::common::rig_has(c)) {
        eprintln!("skipped: the rig's {missing} is not running (SWITCHBOARD_RIG)");
        return None;
    }
    Some(
        ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// How many runs each experiment makes.
pub(crate) fn runs() -> usize {
    std::env::var("SWITCHBOARD_EXPERIMENT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// The engine watching `env`, and the console's view of it for the workflow context.
pub(crate) fn engine(env: &Environment) -> (EngineHandle, workflow::experiment::Observed) {
    let cfg = Config {
        environment: vec![env.clone()],
    };
    let engine = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine");
    let view = engine.view();
    (engine, view)
}

/// Plans `name` until its guards pass (the steady state comes with the sources'
/// first reads), runs it confirmed by its name in a fresh journal, and returns its report.
pub(crate) fn run_experiment(
    rt: &tokio::runtime::Runtime,
    env: &Environment,
    observed: &workflow::experiment::Observed,
    name: &str,
) -> ExperimentReport {
    run_with(rt, env, observed, name, workflow::Control::default())
}

/// [`run_experiment`] with `control` (its cancel and safety valve) shared with the caller.
pub(crate) fn run_with(
    rt: &tokio::runtime::Runtime,
    env: &Environment,
    observed: &workflow::experiment::Observed,
    name: &str,
    control: workflow::Control,
) -> ExperimentReport {
    let dir = tempfile::tempdir().expect("dir");
    let journal = Journal::open(&dir.path().join("journal.sqlite")).expect("journal");
    let ctx = workflow::Context {
        environment: env,
        journal: &journal,
        clock: &SystemClock,
        read_only_mode: false,
        timeout: Duration::from_secs(2),
        control,
        drill: None,
        observed: Some(Arc::clone(observed)),
    };
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    let plan = loop {
        let plan = rt
            .block_on(workflow::plan(&ctx, Kind::Experiment, name))
            .expect("plan");
        if plan.allowed() {
            break plan;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never became runnable: {:?}",
            plan.refusals()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let report = rt
        .block_on(workflow::run(&ctx, &plan, name, "game-day"))
        .expect("run");
    if report.outcome != "done" {
        eprintln!("{name}: {}\n{}", report.outcome, report.lines.join("\n"));
    }
    let (run, json) = journal
        .experiment_reports(name, 1)
        .expect("history")
        .pop()
        .expect("the run's report is kept");
    assert_eq!(run, report.run);
    let measured: ExperimentReport = serde_json::from_str(&json).expect("report json");
    eprintln!("{}", measured.markdown());
    // The journal names sources and hosts, never a credential (the rig's passwords are
    // in the DSNs the leak and the runbook connect with).
    drop(journal);
    for entry in std::fs::read_dir(dir.path()).expect("journal dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        for secret in ["rigsecret", "rigwatch"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in the journal"
            );
        }
    }
    measured
}

#[allow(unsafe_code)]
pub(crate) fn set_env(name: &str, value: &str) {
    // SAFETY: the experiments hold ONE_AT_A_TIME; nothing else in this binary reads
    // the environment while one sets it.
    unsafe { std::env::set_var(name, value) };
}

pub(crate) use crate::common::{Traffic, patroni_primary, rig_node};
