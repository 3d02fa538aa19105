//! The guarded database workflows on the real cluster: switchover, the lag guard on a
//! replica that really lags, and failover in a paused cluster whose leader is down;
//! each verified by asking every member's PostgreSQL.

use std::time::{Duration, Instant};

use switchboard_core::sources::patroni::parse_cluster;

use crate::common::{self, rig, rig_has};
use crate::helpers::{begin, leader_and_candidate, name_of, wait, workflow_env};

/// The guarded switchover workflow on the real cluster: planned with every guard
/// (the lock in the rig's etcd), refused for a candidate that is the leader, run after
/// the typed confirmation, verified by asking every member's PostgreSQL that exactly
/// one server takes writes and that it is the candidate.
#[test]
fn the_switchover_workflow_verifies_exactly_one_writable_server() {
    use switchboard_core::workflow::{self, Kind};
    if !rig_has("etcd") {
        return;
    }
    let Some((_one, e, leader)) = begin() else {
        return;
    };
    let (old, cand) = leader_and_candidate(leader);
    let env = workflow_env();
    let (_dir, journal) = common::journal();
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let to_leader = rt
        .block_on(workflow::plan(&ctx, Kind::Switchover, &format!("pg/{old}")))
        .expect("plan");
    assert!(
        to_leader
            .refusals()
            .iter()
            .any(|r| r.starts_with("candidate:")),
        "the leader is no candidate: {:?}",
        to_leader.refusals()
    );
    let plan = rt
        .block_on(workflow::plan(
            &ctx,
            Kind::Switchover,
            &format!("pg/{cand}"),
        ))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert!(
        plan.guards.iter().any(|g| g.name == "dcs quorum"
            && g.reason == "etcd (the cluster's DCS): 3 of 3 members answer, one leader"),
        "{:?}",
        plan.guards
    );
    let err = rt
        .block_on(workflow::run(&ctx, &plan, &old, "rig-test"))
        .expect_err("the confirmation must be the candidate");
    assert!(
        err.to_string().contains("is not the target's name"),
        "{err}"
    );
    let report = rt
        .block_on(workflow::run(&ctx, &plan, &cand, "rig-test"))
        .expect("run");
    eprintln!(
        "patroni rig: switchover workflow {old} -> {cand}: {} {:?} ms from confirmation to exactly one writable server; {:?}",
        report.outcome, report.effect_millis, report.lines
    );
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    let steps = journal.steps(report.run).expect("steps");
    assert_eq!(
        steps.iter().map(|s| s.phase.as_str()).collect::<Vec<_>>(),
        ["guards", "before", "after", "verify"]
    );
    wait(&e, 30, "the console sees the new primary", |d| {
        d.primary.as_ref().is_some_and(|p| p.as_str() == cand)
    });
}

/// Patroni's `/cluster` lag of `member`, in bytes (`None`: unknown or not listed).
fn patroni_lag(member: &str) -> Option<u64> {
    let text = common::curl("http://127.0.0.1:8001/cluster");
    parse_cluster(&text)
        .ok()?
        .members
        .into_iter()
        .find(|m| m.name == member)?
        .lag_bytes
}

/// Writes about `mb` MB on the primary on `pg_port`, as the rig's superuser.
fn write_mb(rt: &tokio::runtime::Runtime, pg_port: u16, mb: u32) {
    let dsn = format!("postgresql://postgres:rigsecret@127.0.0.1:{pg_port}/postgres");
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls)
            .await
            .expect("connect as superuser");
        tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS rig_lag (x text);
                 INSERT INTO rig_lag SELECT repeat('x', 1000) FROM generate_series(1, {});",
                mb * 1000
            ))
            .await
            .expect("write");
    });
}

/// Thaws a frozen WAL receiver when dropped, so a failing test leaves a healthy rig.
struct Frozen(String);

impl Drop for Frozen {
    fn drop(&mut self) {
        rig(&["pg-walreceiver", &self.0, "cont"]);
    }
}

/// A replica whose WAL receiver is frozen really falls behind while the primary
/// writes; the lag guard refuses to promote it (a human may override, with a reason),
/// and allows it again once it has caught up.
#[test]
fn the_lag_guard_refuses_a_replica_that_really_lags() {
    use switchboard_core::workflow::{self, Kind};
    if !rig_has("etcd") {
        return;
    }
    let Some((_one, _e, leader)) = begin() else {
        return;
    };
    let lagging_port = if leader == 8003 { 8002 } else { 8003 };
    let lagging = name_of(lagging_port);
    let env = workflow_env();
    let (_dir, journal) = common::journal();
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let target = format!("pg/{lagging}");

    let n = (lagging_port - 8000).to_string();
    rig(&["pg-walreceiver", &n, "stop"]);
    let frozen = Frozen(n);
    write_mb(&rt, 5440 + (leader - 8000), 4);
    let deadline = Instant::now() + Duration::from_secs(15);
    while patroni_lag(&lagging).is_none_or(|l| l < 2_000_000) {
        assert!(Instant::now() < deadline, "Patroni never reported the lag");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut plan = rt
        .block_on(workflow::plan(&ctx, Kind::Switchover, &target))
        .expect("plan");
    drop(frozen);
    let why = plan.refusals().join("; ");
    eprintln!("patroni rig: a replica behind by 4 MB of writes: {why}");
    assert!(
        why.contains(&format!("replication lag: {lagging} lags "))
            && why.contains("(limit 1048576)"),
        "{why}"
    );
    plan.override_guard(
        "replication lag",
        "its disk is gone anyway; losing 4 MB is known",
    )
    .expect("a human may decide");
    assert!(plan.allowed(), "{:?}", plan.refusals());

    // Caught up: allowed again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while patroni_lag(&lagging) != Some(0) {
        assert!(Instant::now() < deadline, "the replica never caught up");
        std::thread::sleep(Duration::from_millis(200));
    }
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Switchover, &target))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
}

/// Sets Patroni's maintenance mode (`pause`) through any member.
fn set_pause(on: bool) {
    let out = std::process::Command::new("curl")
        .args(["-sf", "--max-time", "5", "-X", "PATCH"])
        .args(["-H", "Content-Type: application/json"])
        .args(["-d", &format!("{{\"pause\": {on}}}")])
        .arg("http://127.0.0.1:8001/config")
        .output()
        .expect("curl");
    assert!(out.status.success(), "PATCH /config pause={on}");
}

/// Unpauses the cluster when dropped.
struct Paused;

impl Drop for Paused {
    fn drop(&mut self) {
        set_pause(false);
    }
}

/// The leader's PostgreSQL dies in a paused cluster, so Patroni promotes nobody by
/// itself: a switchover is refused (no healthy leader), a failover to a named replica
/// is run after the typed confirmation and verified by asking every server; unpaused,
/// the old leader comes back as a replica.
#[test]
fn the_failover_workflow_promotes_a_named_replica_when_the_leader_is_down() {
    use switchboard_core::workflow::{self, Kind};
    if !rig_has("etcd") {
        return;
    }
    let Some((_one, e, leader)) = begin() else {
        return;
    };
    let (old, cand) = leader_and_candidate(leader);
    let env = workflow_env();
    let (_dir, journal) = common::journal();
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let target = format!("pg/{cand}");

    set_pause(true);
    let paused = Paused;
    wait(&e, 20, "the cluster paused", |d| d.paused);
    rig(&["pg-kill-postmaster", &(leader - 8000).to_string()]);
    wait(&e, 30, "no primary", |d| d.writable == 0);
    // Patroni (paused) notices at its next loop and releases the leader key.
    let deadline = Instant::now() + Duration::from_secs(20);
    while parse_cluster(&common::curl("http://127.0.0.1:8001/cluster")).map_or(true, |c| {
        c.members
            .iter()
            .any(|m| m.role == "leader" && m.state == "running")
    }) {
        assert!(
            Instant::now() < deadline,
            "Patroni still names a running leader"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let switchover = rt
        .block_on(workflow::plan(&ctx, Kind::Switchover, &target))
        .expect("plan");
    let why = switchover.refusals().join("; ");
    assert!(
        why.contains("healthy leader:") && why.contains("failover"),
        "{why}"
    );
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Failover, &target))
        .expect("plan");
    eprintln!("patroni rig: failover plan: {:?}", plan.guards);
    assert!(plan.allowed(), "{:?}", plan.refusals());
    let report = rt
        .block_on(workflow::run(&ctx, &plan, &cand, "rig-test"))
        .expect("run");
    eprintln!(
        "patroni rig: failover workflow ({old}'s server down, paused) -> {cand}: {} {:?} ms from confirmation to exactly one writable server; {:?}",
        report.outcome, report.effect_millis, report.lines
    );
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    drop(paused);
    // Reintegration of the old primary: verified back as a replica (Patroni rejoins it).
    let plan = rt
        .block_on(workflow::plan(
            &ctx,
            Kind::Reintegrate,
            &format!("pg/{old}"),
        ))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    let back = rt
        .block_on(workflow::run(&ctx, &plan, &old, "rig-test"))
        .expect("reintegrate");
    eprintln!(
        "patroni rig: {old} verified back as a replica {:?} ms after confirmation: {:?}",
        back.effect_millis, back.lines
    );
    assert_eq!(back.outcome, "done", "{:?}", back.lines);
    wait(
        &e,
        90,
        "the old leader back as a replica, one primary",
        |d| {
            d.writable == 1
                && d.primary.as_ref().is_some_and(|p| p.as_str() == cand)
                && d.members
                    .get(old.as_str())
                    .is_some_and(|m| m.reachable && m.writable == Some(false))
        },
    );
}
