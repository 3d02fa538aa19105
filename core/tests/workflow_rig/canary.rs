//! Reintegration through the canary ramp under live traffic, and a canary that fails
//! its check rolled back to maintenance.

use switchboard_core::workflow::{self, Kind};

use crate::common::{self, rig};
use crate::helpers::{Scenario, Traffic, begin, env, reset, run_one, server_stat};

/// A server in maintenance comes back through the canary ramp (10 -> 50 -> 100 % of
/// weight 100) under live traffic: no request fails, it takes a growing share, and it
/// ends UP at its full weight.
#[test]
fn a_canary_ramp_reintegrates_a_server_under_traffic() {
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
    run_one(&rt, &ctx, Kind::Maint, "edge/be_web/web2").expect("maint web2");
    let traffic = Traffic::start();
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Reintegrate, "edge/be_web/web2"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert_eq!(plan.before, "MAINT");
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web2", "rig-test"))
        .expect("run");
    let (ok, bad) = traffic.stop();
    eprintln!(
        "workflow rig: canary ramp of web2: {} in {} ms; {ok} requests ok, {bad} failed; {:?}",
        report.outcome,
        report.effect_millis.unwrap_or(-1),
        report.lines
    );
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(bad, 0, "no request failed during the ramp");
    let (status, weight, _) = server_stat(&rt, "web2");
    assert!(
        status.starts_with("UP") && weight == 100,
        "{status} {weight}"
    );
    let steps = journal.steps(report.run).expect("steps");
    let verified: Vec<&str> = steps
        .iter()
        .filter(|s| s.phase == "verify")
        .map(|s| s.detail.as_str())
        .collect();
    assert_eq!(verified.len(), 3, "{steps:?}");
    for (v, w) in verified
        .iter()
        .zip(["weight 10", "weight 50", "weight 100"])
    {
        assert!(v.starts_with("UP, 0 error(s)") && v.ends_with(w), "{v}");
    }
    // Already in rotation: nothing to reintegrate.
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Reintegrate, "edge/be_web/web2"))
        .expect("plan");
    assert!(
        plan.refusals()
            .iter()
            .any(|r| r.starts_with("out of traffic: web2 is UP")),
        "{:?}",
        plan.refusals()
    );
}

/// A canary whose backend is dead fails its first hold (HAProxy's check marks it DOWN)
/// and goes back to maintenance at its full weight.
#[test]
fn a_canary_that_fails_its_check_is_rolled_back() {
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
    run_one(&rt, &ctx, Kind::Maint, "edge/be_web/web2").expect("maint web2");
    rig(&["kill", "backend2"]);
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Reintegrate, "edge/be_web/web2"))
        .expect("plan");
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web2", "rig-test"))
        .expect("run");
    eprintln!(
        "workflow rig: canary on a dead backend: {} {:?}",
        report.outcome, report.lines
    );
    assert_eq!(report.outcome, "rolled_back", "{:?}", report.lines);
    assert!(
        report
            .lines
            .iter()
            .any(|l| l.starts_with("rolled back: web2 is DOWN")),
        "{:?}",
        report.lines
    );
    let (status, weight, _) = server_stat(&rt, "web2");
    assert!(
        status.starts_with("MAINT") && weight == 100,
        "{status} {weight}"
    );
    reset(&rt);
}
