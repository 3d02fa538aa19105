//! Every workflow practised on the drill, through the same engine: the drill's fleet
//! runs in a real engine, the workflows plan and run through its handle, with their
//! guards and journal, and the console's state shows the result. DRILL only: nothing
//! real is touched (this test needs no rig).

mod common;

use std::time::Duration;

use switchboard_core::model::Health;
use switchboard_core::sources::drill::DrillConfig;
use switchboard_core::workflow::{self, Kind};
use switchboard_core::{Config, EngineOptions};

#[test]
fn drain_fence_failover_and_fallback_on_the_drill() {
    let config = Config::drill(DrillConfig {
        scripted: false,
        speed: 1.0,
        seed: 7,
        ..DrillConfig::default()
    });
    let env = config.environment[0].clone();
    let engine = switchboard_core::start(&EngineOptions::new(config)).expect("engine");
    engine.wait_for(Duration::from_secs(10), |s| !s.instances.is_empty());
    let (_dir, journal) = common::journal();
    let mut ctx = common::workflow_ctx(&env, &journal);
    ctx.drill = engine.drill();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let go = |kind: Kind, target: &str| {
        let plan = rt
            .block_on(workflow::plan(&ctx, kind, target))
            .expect("plan");
        assert!(plan.allowed(), "{kind:?} {target}: {:?}", plan.refusals());
        assert!(plan.steps[0].starts_with("DRILL: "), "{:?}", plan.steps);
        let r = rt
            .block_on(workflow::run(
                &ctx,
                &plan,
                &plan.confirm_as.clone(),
                "drill-test",
            ))
            .expect("run");
        assert_eq!(r.outcome, "done", "{kind:?} {target}: {:?}", r.lines);
        r
    };

    // Drain an instance: the console shows it drained.
    let r = go(Kind::Drain, "checkout-01");
    assert_eq!(r.lines, ["DRILL: checkout-01 is DRAIN"]);
    let s = engine.wait_for(Duration::from_secs(5), |s| {
        s.instances
            .get("checkout-01")
            .is_some_and(|i| i.health == Health::Degraded)
    });
    assert!(
        s.instances["checkout-01"]
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("DRAIN"))
    );
    go(Kind::Ready, "checkout-01");

    // Fence the database primary: a switchover is refused (no healthy leader), a
    // failover to a named replica makes it the one primary; the old one rejoins.
    go(Kind::Fence, "pg-1");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Switchover, "orders-db/pg-2"))
        .expect("plan");
    assert!(
        plan.refusals().iter().any(|r| r.contains("use a failover")),
        "{:?}",
        plan.refusals()
    );
    go(Kind::Failover, "orders-db/pg-2");
    go(Kind::Unfence, "pg-1");
    let s = engine.wait_for(Duration::from_secs(10), |s| {
        s.databases.get("orders-db").is_some_and(|d| {
            d.writable == 1 && d.primary.as_ref().is_some_and(|p| p.as_str() == "pg-2")
        })
    });
    assert_eq!(s.databases["orders-db"].writable, 1);

    // A route to its fallback and back; the last healthy guard holds on a drill too.
    go(Kind::Fallback, "edge-gateway/checkout");
    go(Kind::Restore, "edge-gateway/checkout");
    let runs = journal.recent(20).expect("runs");
    assert_eq!(runs.len(), 7, "every practice run is journaled");
    // Without the engine's handle (the CLI), the drill's workflows say where to go.
    let cli = common::workflow_ctx(&env, &journal);
    let err = rt
        .block_on(workflow::plan(&cli, Kind::Drain, "checkout-01"))
        .expect_err("no drill here");
    assert!(
        err.to_string()
            .contains("practise its workflows in the window"),
        "{err}"
    );
}

/// The Sev-0 runbook practised on the drill's connection-leak fault: diagnosis shows
/// the leaked sessions, the route goes to its fallback, checkout is scaled to 0, the
/// sessions are terminated (the leak ends), the manual step is acknowledged, checkout
/// comes back gradually, readiness is green, the route is restored.
#[test]
fn the_sev0_runbook_on_the_drills_connection_leak() {
    use switchboard_core::event::DrillFault;
    let config = Config::drill(DrillConfig {
        scripted: false,
        speed: 4.0,
        seed: 7,
        ..DrillConfig::default()
    });
    let env = config.environment[0].clone();
    let engine = switchboard_core::start(&EngineOptions::new(config)).expect("engine");
    engine.wait_for(Duration::from_secs(10), |s| !s.instances.is_empty());
    engine
        .send(switchboard_core::Intent::DrillInject {
            fault: DrillFault::ConnectionLeak,
        })
        .expect("inject");
    // Let the leak build (20 simulated seconds).
    let s = engine.wait_for(Duration::from_secs(20), |s| {
        s.databases
            .get("orders-db")
            .and_then(|d| d.members.values().find_map(|m| m.sessions.as_ref()))
            .is_some_and(|p| p.idle_in_transaction > 20)
    });
    assert!(s.databases.contains_key("orders-db"));
    let (_dir, journal) = common::journal();
    let mut ctx = common::workflow_ctx(&env, &journal);
    ctx.drill = engine.drill();
    let control = ctx.control.clone();
    let operator = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_mins(1);
        while std::time::Instant::now() < deadline {
            if !control.waiting().is_empty() {
                control.acknowledge();
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Runbook, "sev0-connection-leak"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert!(
        plan.steps.iter().all(|s| s.starts_with("DRILL: ")),
        "{:?}",
        plan.steps
    );
    let report = rt
        .block_on(workflow::run(
            &ctx,
            &plan,
            "sev0-connection-leak",
            "drill-test",
        ))
        .expect("run");
    assert_eq!(report.outcome, "done", "{:#?}", report.lines);
    assert!(
        operator.join().expect("operator"),
        "the manual step was asked"
    );
    assert!(
        report.lines[0].contains("idle in transaction"),
        "{}",
        report.lines[0]
    );
    assert!(
        report.lines[3].contains("hanging session(s) terminated"),
        "{}",
        report.lines[3]
    );
    let s = engine.wait_for(Duration::from_secs(10), |s| {
        s.services
            .get("checkout")
            .is_some_and(|c| c.health == Health::Healthy)
    });
    assert_eq!(s.services["checkout"].health, Health::Healthy);
}

/// The region failover practised on the drill: the DCS's quorum is read, the old
/// primary fenced, the replica promoted, the public name moved to the standby region,
/// readiness checked; the state shows the name failed over. Then the name goes back
/// (`dns-restore`), and with the DCS's quorum lost the runbook stops at its first step.
#[test]
fn the_region_failover_runbook_on_the_drill() {
    use switchboard_core::event::DrillFault;
    use switchboard_core::model::DnsSide;
    let config = Config::drill(DrillConfig {
        scripted: false,
        speed: 4.0,
        seed: 7,
        ..DrillConfig::default()
    });
    let env = config.environment[0].clone();
    let engine = switchboard_core::start(&EngineOptions::new(config)).expect("engine");
    let s = engine.wait_for(Duration::from_secs(10), |s| {
        s.dns.contains_key("www.drill.example") && !s.clusters.is_empty()
    });
    assert_eq!(s.dns["www.drill.example"].record.side(), DnsSide::Primary);
    let (_dir, journal) = common::journal();
    let mut ctx = common::workflow_ctx(&env, &journal);
    ctx.drill = engine.drill();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Runbook, "region-failover"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert_eq!(plan.steps.len(), 5, "{:?}", plan.steps);
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "region-failover", "drill-test"))
        .expect("run");
    assert_eq!(report.outcome, "done", "{:#?}", report.lines);
    assert!(
        report.lines[0].contains("one leader"),
        "{}",
        report.lines[0]
    );
    assert!(
        report.lines[3].contains("standby region"),
        "{}",
        report.lines[3]
    );
    let s = engine.wait_for(Duration::from_secs(10), |s| {
        s.dns
            .get("www.drill.example")
            .is_some_and(|e| e.record.side() == DnsSide::Standby)
            && s.databases
                .get("orders-db")
                .and_then(|d| d.primary.as_ref())
                .is_some_and(|p| p.as_str() == "pg-2")
    });
    let www = &s.dns["www.drill.example"].record;
    assert_eq!(www.side(), DnsSide::Standby);
    assert_eq!(www.target(), "CNAME eu-central.drill.example");
    assert!(
        s.log
            .iter()
            .any(|e| e.message.starts_with("now points to CNAME eu-central")),
        "the move is logged"
    );

    // Back to the primary region by hand.
    let back = rt
        .block_on(workflow::plan(&ctx, Kind::DnsRestore, "drill/www"))
        .expect("plan");
    assert!(back.allowed(), "{:?}", back.refusals());
    let r = rt
        .block_on(workflow::run(&ctx, &back, &back.confirm_as.clone(), "t"))
        .expect("run");
    assert_eq!(r.outcome, "done", "{:?}", r.lines);

    // Without quorum (the drill's etcd loses its leader 30 s into the fault, 7.5 s
    // at 4x), the runbook refuses to go past its first step.
    engine
        .send(switchboard_core::Intent::DrillInject {
            fault: DrillFault::QuorumLoss,
        })
        .expect("inject");
    engine.wait_for(Duration::from_secs(20), |s| {
        s.clusters
            .get("drill-etcd")
            .is_some_and(|c| c.quorum.state == switchboard_core::model::QuorumState::Lost)
    });
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Runbook, "region-failover"))
        .expect("plan");
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "region-failover", "drill-test"))
        .expect("run");
    assert_eq!(report.outcome, "needs_human", "{:#?}", report.lines);
    assert!(
        report.lines[0].contains("quorum lost") && report.lines[0].contains("split the brain"),
        "{:#?}",
        report.lines
    );
}
