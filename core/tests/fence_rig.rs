//! Fencing through real fence agents (Debian's fence-agents): `fence_dummy` on status
//! files, its always-failing type for the level fallback, `fence_ipmilan` against the
//! rig's `ipmi_sim` (a real IPMI LAN BMC simulator) and `fence_redfish` against the rig's
//! sushy-tools Redfish emulator over HTTPS.
//!
//! Runs when `SWITCHBOARD_RIG` names `fence`. The BMC password is given to the agents
//! from `SWITCHBOARD_RIG_BMC_PASSWORD` (set by `tests/check.sh`), never from the config.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use common::rig_has;
use switchboard_core::Environment;
use switchboard_core::workflow::fence::FenceDevice;
use switchboard_core::workflow::{self, Journal, Kind, WorkflowError};

/// The BMC simulators are one machine each: one scenario at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn skip() -> bool {
    if rig_has("fence") {
        return false;
    }
    eprintln!("skipped: the fence rig is not running (tests/check.sh starts it)");
    true
}

fn dummy(node: &str, level: u32, status_file: &Path) -> FenceDevice {
    FenceDevice {
        name: format!("{node}-dummy{level}"),
        node: node.into(),
        group: "db".into(),
        level,
        agent: "fence_dummy".into(),
        ec2: None,
        options: BTreeMap::from([
            ("type".into(), "file".into()),
            ("status_file".into(), status_file.display().to_string()),
        ]),
        secret_env: BTreeMap::new(),
        timeout_secs: 30,
    }
}

/// `fence_dummy`'s failing type: every off times out (after 2 s here).
fn failing(node: &str, level: u32) -> FenceDevice {
    FenceDevice {
        name: format!("{node}-broken-pdu"),
        node: node.into(),
        group: "db".into(),
        level,
        agent: "fence_dummy".into(),
        ec2: None,
        options: BTreeMap::from([
            ("type".into(), "fail".into()),
            ("plug".into(), node.into()),
            ("power_timeout".into(), "2".into()),
        ]),
        secret_env: BTreeMap::new(),
        timeout_secs: 30,
    }
}

fn env_with(fence: Vec<FenceDevice>) -> Environment {
    Environment {
        relay: None,
        relay_tls: None,
        relay_auth: None,
        fallback_direct: false,
        serve: None,
        second_approver: false,
        experiment: Vec::new(),
        objectives: switchboard_core::store::Objectives::default(),
        look: switchboard_core::Look::default(),
        runbook: Vec::new(),
        name: "rig".into(),
        read_only: false,
        stale_after_millis: 5000,
        source: Vec::new(),
        fence,
    }
}

fn power_file(dir: &Path, node: &str, state: &str) -> std::path::PathBuf {
    let p = dir.join(format!("{node}.status"));
    // fence_dummy wants the bare word, no newline.
    std::fs::write(&p, state).expect("status file");
    p
}

/// One scenario at a time, in a fresh directory; `None` without the fence rig.
fn begin() -> Option<(std::sync::MutexGuard<'static, ()>, tempfile::TempDir)> {
    if skip() {
        return None;
    }
    let one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Some((one, tempfile::tempdir().expect("dir")))
}

/// Power files for db1 and db2, both on.
fn two_on(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    (power_file(dir, "db1", "on"), power_file(dir, "db2", "on"))
}

fn plan_and_run(
    rt: &tokio::runtime::Runtime,
    ctx: &workflow::Context<'_>,
    kind: Kind,
    node: &str,
) -> Result<workflow::Report, WorkflowError> {
    let plan = rt.block_on(workflow::plan(ctx, kind, node))?;
    rt.block_on(workflow::run(ctx, &plan, node, "rig-test"))
}

#[test]
fn fence_dummy_fences_unfences_and_guards_the_last_node_on() {
    let Some((_one, dir)) = begin() else {
        return;
    };
    let (f1, f2) = two_on(dir.path());
    let env = env_with(vec![dummy("db1", 1, &f1), dummy("db2", 1, &f2)]);
    let journal = Journal::open(&dir.path().join("journal.sqlite")).expect("journal");
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fence, "db1"))
        .expect("plan");
    assert_eq!(plan.before, "ON");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert!(
        plan.guards.iter().any(|g| g.name == "last healthy"
            && g.reason.contains("1 other node(s) of group db are on: db2")),
        "{:?}",
        plan.guards
    );
    let err = rt
        .block_on(workflow::run(&ctx, &plan, "db2", "rig-test"))
        .expect_err("confirmation names another node");
    assert!(matches!(err, WorkflowError::Refused(_)), "{err}");
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "db1", "rig-test"))
        .expect("fence db1");
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(std::fs::read_to_string(&f1).expect("read"), "off");
    eprintln!(
        "fence rig: fence_dummy: db1 verified OFF {} ms after confirmation",
        report.effect_millis.unwrap_or(-1)
    );

    // db2 is now the last node on: fencing it is refused.
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fence, "db2"))
        .expect("plan");
    let why = plan.refusals().join("; ");
    assert!(
        why.contains("last healthy: no other node of group db is powered on"),
        "{why}"
    );

    // Power db1 on again; the journal has every step.
    let report = plan_and_run(&rt, &ctx, Kind::Unfence, "db1").expect("unfence");
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(std::fs::read_to_string(&f1).expect("read"), "on");
    let runs = journal.recent(10).expect("runs");
    assert_eq!(runs.len(), 2);
    let steps = journal.steps(runs[1].id).expect("steps");
    let phases: Vec<&str> = steps.iter().map(|s| s.phase.as_str()).collect();
    assert_eq!(phases, ["guards", "before", "after", "verify"], "{steps:?}");
    assert_eq!(steps[2].outcome, "ok");
}

#[test]
fn a_failing_level_falls_through_to_the_next_and_all_failing_needs_a_human() {
    let Some((_one, dir)) = begin() else {
        return;
    };
    let (f1, f2) = two_on(dir.path());
    let env = env_with(vec![
        failing("db1", 1),
        dummy("db1", 2, &f1),
        dummy("db2", 1, &f2),
        failing("db3", 1),
    ]);
    let journal = Journal::open(&dir.path().join("journal.sqlite")).expect("journal");
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    let report = plan_and_run(&rt, &ctx, Kind::Fence, "db1").expect("fence db1");
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert!(
        report.lines.iter().any(|l| l.contains("level 1 failed")),
        "{:?}",
        report.lines
    );
    assert_eq!(std::fs::read_to_string(&f1).expect("read"), "off");
    let steps = journal
        .steps(journal.recent(1).expect("runs")[0].id)
        .expect("steps");
    let failed: Vec<&str> = steps
        .iter()
        .filter(|s| s.outcome == "failed")
        .map(|s| s.action.as_str())
        .collect();
    assert_eq!(failed, ["level 1: db1-broken-pdu action=off"], "{steps:?}");
    assert!(
        steps
            .iter()
            .find(|s| s.outcome == "failed")
            .is_some_and(|s| s.detail.contains("Timed out waiting to power OFF")),
        "the agent's own words are journaled: {steps:?}"
    );

    // db3 has only the broken device: nobody can say it is off.
    let report = plan_and_run(&rt, &ctx, Kind::Fence, "db3").expect("fence db3");
    assert_eq!(report.outcome, "needs_human");
    assert!(
        report
            .lines
            .last()
            .is_some_and(|l| l.starts_with("EVERY LEVEL FAILED: db3")),
        "{:?}",
        report.lines
    );
    assert!(matches!(
        rt.block_on(workflow::plan(&ctx, Kind::Fence, "db9")),
        Err(WorkflowError::Usage(m)) if m.contains("no fence device for node \"db9\"")
    ));
}

/// The desk runs a workflow in the background; cancelling it while level 1's agent is
/// still failing stops it before level 2 (journaled as cancelled), and the safety valve
/// refuses new runs until it is reset.
#[test]
fn cancel_between_steps_and_the_safety_valve_through_the_desk() {
    use switchboard_core::workflow::desk::{Desk, Phase};
    let Some((_one, dir)) = begin() else {
        return;
    };
    let (f1, f2) = two_on(dir.path());
    let env = env_with(vec![
        failing("db1", 1),
        dummy("db1", 2, &f1),
        dummy("db2", 1, &f2),
    ]);
    let desk = Desk::new(
        env,
        dir.path().join("journal.sqlite"),
        false,
        "ana".into(),
        None,
    )
    .expect("desk");
    let wait = |id: u64, done: &dyn Fn(&Phase) -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let p = desk.job(id).expect("job").phase;
            if done(&p) {
                return p;
            }
            assert!(std::time::Instant::now() < deadline, "stuck in {p:?}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let id = desk.plan(Kind::Fence, "db1");
    wait(id, &|p| matches!(p, Phase::Planned(_)));
    assert!(desk.confirm(id, "db 1").is_err(), "typed wrong");
    desk.confirm(id, "db1").expect("confirm");
    // Cancel while level 1's agent runs (it fails after 2 s).
    std::thread::sleep(std::time::Duration::from_millis(300));
    desk.cancel(id);
    let Phase::Finished(_, report) = wait(id, &|p| {
        matches!(p, Phase::Finished(..) | Phase::Failed(..))
    }) else {
        panic!("not finished")
    };
    assert_eq!(report.outcome, "cancelled", "{:?}", report.lines);
    assert_eq!(
        std::fs::read_to_string(&f1).expect("read"),
        "on",
        "level 2 never ran"
    );
    let rows = desk.job(id).expect("job").control.rows();
    let last = rows.last().expect("rows");
    assert_eq!(
        (
            last.phase.as_str(),
            last.action.as_str(),
            last.outcome.as_str()
        ),
        ("cancel", "level 2: db1-dummy2 action=off", "cancelled"),
        "{rows:?}"
    );

    // The valve: nothing starts until it is reset.
    let id = desk.plan(Kind::Fence, "db1");
    wait(id, &|p| matches!(p, Phase::Planned(_)));
    desk.pull_valve();
    assert!(desk.confirm(id, "db1").is_err());
    desk.reset_valve();
    let id = desk.replan(id).expect("replan");
    wait(id, &|p| matches!(p, Phase::Planned(_)));
    desk.confirm(id, "db1").expect("confirm after reset");
    let Phase::Finished(_, report) = wait(id, &|p| {
        matches!(p, Phase::Finished(..) | Phase::Failed(..))
    }) else {
        panic!("not finished")
    };
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(std::fs::read_to_string(&f1).expect("read"), "off");
}

/// A real BMC device of `node` at level 1, its password from the environment.
fn bmc(node: &str, agent: &str, options: &[(&str, &str)]) -> FenceDevice {
    FenceDevice {
        name: format!("{node}-bmc"),
        node: node.into(),
        group: "db".into(),
        level: 1,
        agent: agent.into(),
        ec2: None,
        options: options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        secret_env: BTreeMap::from([(
            "password".to_owned(),
            "SWITCHBOARD_RIG_BMC_PASSWORD".to_owned(),
        )]),
        timeout_secs: 60,
    }
}

/// Fences and powers on `node` through its real BMC; the peer `db2` (`fence_dummy`,
/// on) keeps the last-healthy guard satisfied.
fn fence_and_unfence(device: FenceDevice) {
    let Some((_one, dir)) = begin() else {
        return;
    };
    assert!(
        std::env::var("SWITCHBOARD_RIG_BMC_PASSWORD").is_ok(),
        "tests/check.sh exports the rig BMC password"
    );
    let peer = power_file(dir.path(), "db2", "on");
    let node = device.node.clone();
    let agent = device.agent.clone();
    let env = env_with(vec![device, dummy("db2", 1, &peer)]);
    let journal = Journal::open(&dir.path().join("journal.sqlite")).expect("journal");
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fence, &node))
        .expect("plan");
    assert_eq!(plan.before, "ON", "{plan:?}");
    let report = rt
        .block_on(workflow::run(&ctx, &plan, &node, "rig-test"))
        .expect("fence");
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    let off_ms = report.effect_millis.unwrap_or(-1);
    let report = plan_and_run(&rt, &ctx, Kind::Unfence, &node).expect("unfence");
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    eprintln!(
        "fence rig: {agent}: {node} verified OFF {off_ms} ms after confirmation, ON again {} ms after",
        report.effect_millis.unwrap_or(-1)
    );
    // Nothing journaled holds the password.
    for r in journal.recent(10).expect("runs") {
        for s in journal.steps(r.id).expect("steps") {
            assert!(
                !s.detail.contains("secret") && !s.action.contains("secret"),
                "{s:?}"
            );
        }
    }
}

#[test]
fn fence_ipmilan_against_the_ipmi_simulator() {
    fence_and_unfence(bmc(
        "bmc-ipmi",
        "fence_ipmilan",
        &[
            ("ip", "127.0.0.1"),
            ("ipport", "9623"),
            ("username", "admin"),
            ("lanplus", "1"),
            ("cipher", "3"),
        ],
    ));
}

#[test]
fn fence_redfish_against_the_redfish_emulator() {
    fence_and_unfence(bmc(
        "bmc-redfish",
        "fence_redfish",
        &[
            ("ip", "127.0.0.1"),
            ("ipport", "8443"),
            ("username", "admin"),
            ("ssl_insecure", "1"),
            ("systems_uri", "/redfish/v1/Systems/node1"),
        ],
    ));
}
