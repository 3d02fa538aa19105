//! Workflows asked from consoles run on the relay: the console's desk plans and runs
//! through the relay (the window's own desk, on the relay's link), the relay acts on
//! the rig's real HAProxy under its etcd lock, and its journal names the person whose
//! certificate confirmed. The second-approver rule and a plan's maker hold on the
//! relay as on a console; a viewer cannot plan.

use std::time::{Duration, Instant};

use switchboard_core::Environment;
use switchboard_core::protocol::{self, pb};
use switchboard_core::workflow::desk::{Desk, Phase};
use switchboard_core::workflow::{Journal, Kind, Plan, Report};

use crate::common;
use crate::helpers::{RigRelay, client_of, console_in, pki, serve_config, wait_connected};

/// The rig's etcd (the lock) and HAProxy over its runtime API (the target).
fn acting_env(second_approver: bool) -> Environment {
    let mut env = common::rig_edge_env();
    env.second_approver = second_approver;
    env
}

/// Waits for job `id` to leave planning or running; its last phase.
fn settled(desk: &Desk, id: u64) -> Phase {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let phase = desk.job(id).expect("job").phase;
        if !matches!(phase, Phase::Planning | Phase::Running(_)) {
            return phase;
        }
        assert!(Instant::now() < deadline, "job {id} never settled");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn planned(desk: &Desk, id: u64) -> Plan {
    match settled(desk, id) {
        Phase::Planned(p) => *p,
        p => panic!("no plan: {p:?}"),
    }
}

fn finished(desk: &Desk, id: u64) -> Report {
    match settled(desk, id) {
        Phase::Finished(_, r) => r,
        p => panic!("did not finish: {p:?}"),
    }
}

#[test]
fn a_drain_asked_from_a_console_runs_on_the_relay_under_the_persons_name() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let dir = tempfile::tempdir().expect("dir");
    let env = acting_env(false);
    let relay = RigRelay::start_with_data(env.clone(), &serve_config(&pki), dir.path());
    let alice = console_in(env.clone(), &client_of(&relay.url(), &pki, "alice"));
    wait_connected(&alice, Duration::from_secs(15));
    let desk = Desk::relayed(env.clone(), alice.relay_door().expect("on a relay")).expect("desk");

    desk.refresh_offers();
    let deadline = Instant::now() + Duration::from_secs(20);
    while desk.offers().at.is_none() {
        assert!(Instant::now() < deadline, "no offers from the relay");
        std::thread::sleep(Duration::from_millis(20));
    }
    let offers = desk.offers();
    assert!(
        offers
            .offers
            .iter()
            .any(|o| o.kind == Kind::Drain && o.target == "edge/be_web/web1"),
        "the relay offers the drain: {:?} {:?}",
        offers.offers,
        offers.errors
    );

    let id = desk.plan(Kind::Drain, "edge/be_web/web1");
    let plan = planned(&desk, id);
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert_eq!(plan.before, "UP");
    assert!(
        plan.guards.iter().any(|g| g.name == "lock" && g.ok),
        "the relay's guards, its lock among them: {:?}",
        plan.guards
    );
    assert!(
        desk.confirm(id, "web1")
            .expect_err("not the name")
            .contains("be_web/web1"),
        "a wrong confirmation is refused and the plan kept"
    );
    let asked = Instant::now();
    desk.confirm(id, "be_web/web1").expect("confirmed");
    let report = finished(&desk, id);
    eprintln!(
        "relay workflows: drain asked from alice's console done in {} ms (effect {} ms after confirmation on the relay)",
        asked.elapsed().as_millis(),
        report.effect_millis.unwrap_or(-1)
    );
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    let rows = desk.job(id).expect("job").control.rows();
    let phases: Vec<&str> = rows.iter().map(|r| r.phase.as_str()).collect();
    assert_eq!(
        phases,
        ["guards", "before", "after", "verify"],
        "the relay's journal rows reached the console"
    );

    // The relay's journal, and the console's view of it, name alice.
    let journal = Journal::open(&dir.path().join("journal.sqlite")).expect("journal");
    let run = journal.run(report.run).expect("read").expect("the run");
    assert_eq!(run.operator, "alice");
    assert_eq!(run.kind, "drain");
    desk.refresh_history();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !desk
        .history()
        .iter()
        .any(|(r, steps)| r.id == report.run && r.operator == "alice" && steps.len() == 4)
    {
        assert!(
            Instant::now() < deadline,
            "the console's journal view: {:?}",
            desk.history()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Back in rotation the same way.
    let back = desk.plan(Kind::Ready, "edge/be_web/web1");
    planned(&desk, back);
    desk.confirm(back, "be_web/web1").expect("confirmed");
    assert_eq!(finished(&desk, back).outcome, "done");

    // The wall is a viewer: it cannot plan.
    let wall = console_in(env.clone(), &client_of(&relay.url(), &pki, "wall"));
    wait_connected(&wall, Duration::from_secs(15));
    let wall_desk = Desk::relayed(env, wall.relay_door().expect("on a relay")).expect("desk");
    let id = wall_desk.plan(Kind::Drain, "edge/be_web/web1");
    match settled(&wall_desk, id) {
        Phase::Failed(None, why) => assert!(why.contains("wall is a viewer"), "{why}"),
        p => panic!("a viewer planned: {p:?}"),
    }
    drop((alice, wall));
    relay.stop();
}

/// The first update of a run through the raw protocol: a refusal, or `None` once it
/// streams.
fn run_refusal(
    conn: &mut protocol::Conn,
    rt: &tokio::runtime::Runtime,
    req: pb::RunRequest,
) -> Option<String> {
    rt.block_on(async {
        let mut stream = conn.run(req).await.expect("run call").into_inner();
        let first = stream.message().await.expect("update").expect("one");
        if !first.error.is_empty() {
            return Some(first.error);
        }
        while let Some(u) = stream.message().await.expect("update") {
            if !u.error.is_empty() {
                return Some(u.error);
            }
            if !u.report.is_empty() {
                return None;
            }
        }
        None
    })
}

#[test]
fn the_relay_keeps_the_second_approver_rule_and_a_plan_for_its_maker() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let dir = tempfile::tempdir().expect("dir");
    let relay = RigRelay::start_with_data(acting_env(true), &serve_config(&pki), dir.path());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let conn = |who: &str| {
        rt.block_on(protocol::connect(&client_of(&relay.url(), &pki, who)))
            .expect("connects")
    };
    let (mut alice, mut bob) = (conn("alice"), conn("bob"));
    let plan = |c: &mut protocol::Conn, kind: &str| {
        rt.block_on(c.plan(pb::PlanRequest {
            kind: kind.into(),
            target: "edge/be_web/web1".into(),
            ..pb::PlanRequest::default()
        }))
        .expect("plan call")
        .into_inner()
    };
    let reply = plan(&mut alice, "drain");
    assert!(reply.error.is_empty(), "{}", reply.error);
    assert!(
        reply.second_approver,
        "the relay says it needs a second approver"
    );
    let run = |job: u64, approver: &str| pb::RunRequest {
        job,
        typed: "be_web/web1".into(),
        approver: approver.into(),
        overrides: Vec::new(),
    };
    let why = run_refusal(&mut bob, &rt, run(reply.job, "carol")).expect("refused");
    assert!(why.contains("made by alice"), "{why}");
    // A run the workflow refuses ends its job, as on a console: plan again.
    let why = run_refusal(&mut alice, &rt, run(reply.job, "")).expect("refused");
    assert!(why.contains("needs a second approver"), "{why}");
    let reply = plan(&mut alice, "drain");
    let why = run_refusal(&mut alice, &rt, run(reply.job, "alice")).expect("refused");
    assert!(
        why.contains("another person than the operator (alice)"),
        "{why}"
    );
    let reply = plan(&mut alice, "drain");
    assert_eq!(
        run_refusal(&mut alice, &rt, run(reply.job, "bob")),
        None,
        "runs"
    );
    let ready = plan(&mut bob, "ready");
    assert_eq!(
        run_refusal(&mut bob, &rt, run(ready.job, "alice")),
        None,
        "back"
    );
    let journal = Journal::open(&dir.path().join("journal.sqlite")).expect("journal");
    let runs = journal.recent(5).expect("runs");
    let who: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| (r.kind.as_str(), r.operator.as_str()))
        .collect();
    assert_eq!(who, [("ready", "bob"), ("drain", "alice")], "{runs:?}");
    relay.stop();
}

/// A runbook waiting at manual steps on the relay: the question reaches the console
/// that asked, its acknowledgement goes back, and the safety valve pulled on another
/// operator's console stops the run before its next step.
#[test]
fn a_manual_step_is_asked_on_the_console_and_another_operators_valve_stops_the_run() {
    use switchboard_core::workflow::runbook::RunbookConfig;
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let dir = tempfile::tempdir().expect("dir");
    let book = dir.path().join("hold.toml");
    std::fs::write(
        &book,
        "name = \"hold\"\ntitle = \"Hold\"\ndescription = \"two manual steps\"\n\
         [[step]]\nkind = \"manual\"\ntitle = \"Look\"\ntext = \"check the dashboards\"\n\
         [[step]]\nkind = \"manual\"\ntitle = \"Wait\"\ntext = \"wait for the DBA\"\n\
         [[step]]\nkind = \"manual\"\ntitle = \"Never reached\"\ntext = \"after the valve\"\n",
    )
    .expect("runbook");
    let mut env = acting_env(false);
    env.runbook = vec![RunbookConfig {
        name: "hold".into(),
        file: Some(book.display().to_string()),
        vars: std::collections::BTreeMap::new(),
    }];
    let relay = RigRelay::start_with_data(env.clone(), &serve_config(&pki), dir.path());
    let on = |who: &str| {
        let c = console_in(env.clone(), &client_of(&relay.url(), &pki, who));
        wait_connected(&c, Duration::from_secs(15));
        let d = Desk::relayed(env.clone(), c.relay_door().expect("relay")).expect("desk");
        (c, d)
    };
    let ((_alice, desk), (_bob, bob_desk)) = (on("alice"), on("bob"));
    let id = desk.plan(Kind::Runbook, "hold");
    planned(&desk, id);
    desk.confirm(id, "hold").expect("confirmed");
    let asked = |text: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !desk.job(id).expect("job").control.waiting().contains(text) {
            assert!(
                Instant::now() < deadline,
                "never asked {text:?}: {:?}",
                desk.job(id).map(|j| j.phase)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    asked("check the dashboards");
    desk.job(id).expect("job").control.acknowledge();
    asked("wait for the DBA");
    let pulled = Instant::now();
    bob_desk.pull_valve();
    let said = match settled(&desk, id) {
        Phase::Finished(_, r) => {
            assert_ne!(r.outcome, "done");
            r.lines.join(" | ")
        }
        Phase::Failed(_, why) => why,
        p => panic!("{p:?}"),
    };
    eprintln!(
        "relay workflows: bob's safety valve stopped alice's run on the relay in {} ms: {said}",
        pulled.elapsed().as_millis()
    );
    assert!(said.contains("safety valve"), "{said}");
    assert!(!said.contains("Never reached: done"), "{said}");
    let rows = desk.job(id).expect("job").control.rows();
    assert!(
        rows.iter()
            .any(|r| r.action.contains("Look") && r.outcome == "ok"),
        "the acknowledged step's row reached the console: {rows:?}"
    );
    bob_desk.reset_valve();
    relay.stop();
}
