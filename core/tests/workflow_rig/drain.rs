//! A drain under live traffic that loses no request and is journaled, and the guards
//! that refuse a run with their reasons (last healthy server, confirmation, dampening,
//! second approver, read-only).

use std::time::Duration;

use switchboard_core::workflow::server::Target;
use switchboard_core::workflow::{self, Kind, WorkflowError};

use crate::common;
use crate::helpers::{Scenario, Traffic, begin, env, reset, run_one, server_stat};

#[test]
fn a_drain_under_traffic_loses_no_request_and_is_journaled() {
    let Some(Scenario {
        _one,
        rt,
        _dir,
        journal,
    }) = begin()
    else {
        return;
    };
    let env = env(false);
    let ctx = common::workflow_ctx(&env, &journal);
    // HAProxy's own minimum, in the same run: the runtime command by hand, then its
    // stats polled until they show it.
    let by_hand = |state: &str, shows: &str| {
        let t0 = std::time::Instant::now();
        rt.block_on(switchboard_core::sources::haproxy::runtime_command(
            "tcp://127.0.0.1:9999",
            &format!("set server be_web/web1 state {state}"),
            Duration::from_secs(2),
        ))
        .expect("runtime API");
        while !server_stat(&rt, "web1").0.starts_with(shows) {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "HAProxy never showed {shows}"
            );
        }
        t0.elapsed()
    };
    let own = by_hand("drain", "DRAIN");
    by_hand("ready", "UP");
    // Live traffic through HAProxy for the whole run.
    let traffic = Traffic::start();
    std::thread::sleep(Duration::from_millis(300));
    let t = Target::parse("edge/be_web/web1").expect("target");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Drain, &t.to_string()))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert_eq!(plan.before, "UP");
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web1", "rig-test"))
        .expect("run");
    std::thread::sleep(Duration::from_millis(500));
    let back = run_one(&rt, &ctx, Kind::Ready, "edge/be_web/web1").expect("ready");
    std::thread::sleep(Duration::from_millis(300));
    let (ok, bad) = traffic.stop();
    eprintln!(
        "workflow rig: drain took effect {} ms after confirmation, ready {} ms (HAProxy's own, by hand: {} ms); {ok} requests ok, {bad} failed",
        report.effect_millis.unwrap_or(-1),
        back.effect_millis.unwrap_or(-1),
        own.as_millis()
    );
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(back.outcome, "done", "{:?}", back.lines);
    assert!(ok > 20, "traffic flowed: {ok}");
    assert_eq!(bad, 0, "no request failed during the drain");
    let steps = journal.steps(report.run).expect("steps");
    let phases: Vec<&str> = steps.iter().map(|s| s.phase.as_str()).collect();
    assert_eq!(
        phases,
        ["guards", "before", "after", "verify"],
        "the guards' verdicts, then before and after"
    );
    assert!(
        steps[0]
            .detail
            .lines()
            .any(|l| l.starts_with("read-only: PASS")),
        "every guard's verdict is journaled: {:?}",
        steps[0].detail
    );
    assert_eq!(journal.recent(5).expect("runs")[1].operator, "rig-test");
}

#[test]
fn guards_refuse_with_their_reasons() {
    let Some(Scenario {
        _one,
        rt,
        _dir,
        journal,
    }) = begin()
    else {
        return;
    };
    let writable_env = env(false);
    let ctx = common::workflow_ctx(&writable_env, &journal);

    // Last healthy: web2 in maintenance, web1 is the only server left (web3 is a backup).
    run_one(&rt, &ctx, Kind::Maint, "edge/be_web/web2").expect("maint web2");
    let t1 = Target::parse("edge/be_web/web1").expect("target");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Drain, &t1.to_string()))
        .expect("plan");
    assert!(!plan.allowed());
    let why = plan.refusals().join("; ");
    assert!(why.contains("last healthy: 0 other server(s)"), "{why}");
    let err = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web1", "rig-test"))
        .expect_err("refused");
    assert!(matches!(err, WorkflowError::Refused(_)), "{err}");

    // The confirmation must be the target's name.
    let t2 = Target::parse("edge/be_web/web2").expect("target");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Ready, &t2.to_string()))
        .expect("plan");
    let err = rt
        .block_on(workflow::run(&ctx, &plan, "web2", "rig-test"))
        .expect_err("wrong confirmation");
    assert!(
        err.to_string().contains("is not the target's name"),
        "{err}"
    );
    rt.block_on(workflow::run(&ctx, &plan, "be_web/web2", "rig-test"))
        .expect("ready web2");

    // Dampening: web2 has had 2 runs; a third is allowed, a fourth is not.
    run_one(&rt, &ctx, Kind::Drain, "edge/be_web/web2").expect("third");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Ready, &t2.to_string()))
        .expect("plan");
    assert!(
        plan.refusals()
            .iter()
            .any(|r| r.starts_with("dampening: 3 run(s)")),
        "{:?}",
        plan.refusals()
    );
    // A human may go past dampening, with a reason that is journaled; never past
    // read-only, quorum or the lock.
    let mut plan = plan;
    assert!(plan.override_guard("read-only", "I know").is_err());
    assert!(
        plan.override_guard("dampening", " ").is_err(),
        "needs a reason"
    );
    assert!(
        plan.override_guard("last healthy", "x").is_err(),
        "did not refuse"
    );
    plan.override_guard("dampening", "flapping check, fixed upstream")
        .expect("override");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web2", "rig-test"))
        .expect("overridden run");
    let rows = journal.steps(report.run).expect("steps");
    assert_eq!(rows[0].phase, "override", "{rows:?}");
    assert_eq!(rows[0].action, "dampening");
    assert!(
        rows[0]
            .detail
            .starts_with("rig-test: flapping check, fixed upstream (the guard said: 3 run(s)"),
        "{rows:?}"
    );

    // An environment that needs a second approver: not without one, not oneself.
    let mut four_eyes = env(false);
    four_eyes.second_approver = true;
    let ctx4 = common::workflow_ctx(&four_eyes, &journal);
    let t3 = Target::parse("edge/be_web/web1").expect("target");
    let mut plan = rt
        .block_on(workflow::plan(&ctx4, Kind::Drain, &t3.to_string()))
        .expect("plan");
    let err = rt
        .block_on(workflow::run(&ctx4, &plan, "be_web/web1", "rig-test"))
        .expect_err("no approver");
    assert!(err.to_string().contains("needs a second approver"), "{err}");
    plan.approver = Some("rig-test".into());
    let err = rt
        .block_on(workflow::run(&ctx4, &plan, "be_web/web1", "rig-test"))
        .expect_err("oneself");
    assert!(err.to_string().contains("another person"), "{err}");
    plan.approver = Some("bo".into());
    let report = rt
        .block_on(workflow::run(&ctx4, &plan, "be_web/web1", "rig-test"))
        .expect("approved");
    let rows = journal.steps(report.run).expect("steps");
    assert_eq!(
        (rows[0].phase.as_str(), rows[0].detail.as_str()),
        ("approval", "bo approved; rig-test runs it")
    );
    run_one(&rt, &ctx, Kind::Ready, "edge/be_web/web1").expect("ready web1");

    // Read-only: an environment marked so, and a wall/replay console.
    let read_only_env = env(true);
    let ro = common::workflow_ctx(&read_only_env, &journal);
    let plan = rt
        .block_on(workflow::plan(&ro, Kind::Maint, &t1.to_string()))
        .expect("plan");
    assert!(
        plan.refusals()
            .iter()
            .any(|r| r.contains("environment rig is read-only"))
    );
    let wall = workflow::Context {
        read_only_mode: true,
        ..ctx
    };
    let plan = rt
        .block_on(workflow::plan(&wall, Kind::Ready, &t1.to_string()))
        .expect("plan");
    assert!(plan.refusals().iter().any(|r| r.contains("wall or replay")));
    reset(&rt);
}
