//! Against a real 3-member Patroni cluster (Debian's Patroni 3.0.2, PostgreSQL 15) on
//! the rig's real etcd, started by `tests/rig/rig.sh`: a switchover by hand, a crashed
//! leader (its Patroni and its postmaster killed), a split brain (only the leader's
//! Patroni killed, so its postmaster keeps taking writes while a replica is promoted),
//! the DCS losing quorum (Patroni demotes the primary while `/cluster` still names a
//! leader), and a pile of idle-in-transaction sessions. Each is timed against what
//! Patroni itself says, polled every 50 ms from a side thread.
//!
//! The scenarios share one cluster, so they run one at a time. Runs when
//! `SWITCHBOARD_RIG` names `patroni`.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{rig, rig_has};
use switchboard_core::model::{DbRole, SourceStatus};
use switchboard_core::sources::patroni::{PatroniConfig, parse_cluster};
use switchboard_core::sources::postgres::PostgresConfig;
use switchboard_core::{
    Clock as _, DbCluster, EngineHandle, SourceConfig, State, SystemClock, Timestamp,
};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const CLUSTER: &str = "pgha";
const DSN_ENV: &str = "SWITCHBOARD_RIG_PG_DSN";
const DSN: &str = "postgresql://switchboard:rigwatch@127.0.0.1:5441/postgres";

fn skip() -> bool {
    if rig_has("patroni") {
        return false;
    }
    eprintln!(
        "skipped: the real Patroni rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG)"
    );
    true
}

/// The rig's three members as a Patroni source that also asks their servers.
fn patroni_source(name: &str) -> SourceConfig {
    SourceConfig::Patroni(PatroniConfig {
        name: name.into(),
        endpoints: (1..=3)
            .map(|n| format!("http://127.0.0.1:800{n}"))
            .collect(),
        cluster: None,
        interval_millis: 250,
        timeout_millis: 1000,
        dsn_env: Some(DSN_ENV.into()),
        dcs: Some("etcd".into()),
    })
}

fn engine() -> EngineHandle {
    unsafe_env_named(DSN_ENV, DSN);
    common::engine_with(patroni_source("patroni"))
}

/// Patroni's own answer: member name -> REST port, from any member's `/cluster`.
fn members() -> Vec<(String, u16)> {
    for n in 1..=3 {
        let text = common::curl(&format!("http://127.0.0.1:800{n}/cluster"));
        if let Ok(c) = parse_cluster(&text) {
            return c
                .members
                .iter()
                .filter_map(|m| {
                    let port = m.api_url.as_deref()?.rsplit(':').next()?;
                    let port: u16 = port.trim_end_matches("/patroni").parse().ok()?;
                    Some((m.name.clone(), port))
                })
                .collect();
        }
    }
    Vec::new()
}

/// Which member answers 200 on `/primary` (Patroni's own role probe), if one does.
fn patroni_primary(except: Option<u16>) -> Option<u16> {
    (8001..=8003).filter(|p| Some(*p) != except).find(|p| {
        std::process::Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "--max-time", "1"])
            .arg(format!("http://127.0.0.1:{p}/primary"))
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn db(s: &State) -> Option<&DbCluster> {
    s.databases.get(CLUSTER)
}

fn wait(e: &EngineHandle, secs: u64, what: &str, pred: impl Fn(&DbCluster) -> bool) -> State {
    let s = e.wait_for(Duration::from_secs(secs), |s| db(s).is_some_and(&pred));
    let s = (*s).clone();
    assert!(
        db(&s).is_some_and(&pred),
        "{what}: {:#?}",
        db(&s).map(|d| (&d.primary, d.writable, &d.dcs_leader, &d.members))
    );
    s
}

fn name_of(port: u16) -> String {
    members()
        .into_iter()
        .find(|(_, p)| *p == port)
        .map(|(n, _)| n)
        .unwrap_or_default()
}

/// The leader's name and a replica's, to promote.
fn leader_and_candidate(leader: u16) -> (String, String) {
    (
        name_of(leader),
        name_of(if leader == 8003 { 8002 } else { 8003 }),
    )
}

/// When the log first says `needle` at or after `since`.
fn logged_at(s: &State, since: Timestamp, needle: &str) -> Option<Timestamp> {
    s.log
        .iter()
        .find(|l| l.at >= since && l.message.contains(needle))
        .map(|l| l.at)
}

/// The cluster to one scenario: `None` when the rig has no Patroni; else the lock held,
/// an engine watching the cluster, and the primary's REST port once all is settled.
fn begin() -> Option<(std::sync::MutexGuard<'static, ()>, EngineHandle, u16)> {
    if skip() {
        return None;
    }
    let one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let e = engine();
    let leader = settled(&e);
    Some((one, e, leader))
}

/// A healthy cluster with one primary, seen by the console; returns its port.
fn settled(e: &EngineHandle) -> u16 {
    let deadline = Instant::now() + Duration::from_mins(1);
    let port = loop {
        if let Some(p) = patroni_primary(None)
            && members().len() == 3
        {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "the rig's Patroni has no primary"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let name = name_of(port);
    wait(e, 30, "one primary, three members", |d| {
        d.primary.as_ref().is_some_and(|p| p.as_str() == name)
            && d.members.len() == 3
            && d.members.values().all(|m| m.writable.is_some())
    });
    port
}

#[test]
fn a_switchover_by_hand_is_followed() {
    let Some((_one, e, leader)) = begin() else {
        return;
    };
    let (from, to) = (
        name_of(leader),
        name_of(if leader == 8001 { 8002 } else { 8001 }),
    );
    let asked = SystemClock.now();
    let out = std::process::Command::new("curl")
        .args(["-s", "-XPOST", "--max-time", "30"])
        .arg(format!("http://127.0.0.1:{leader}/switchover"))
        .arg("-d")
        .arg(format!(r#"{{"leader":"{from}","candidate":"{to}"}}"#))
        .output()
        .expect("curl");
    let done = SystemClock.now();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.contains("Successfully switched over"),
        "Patroni: {said}"
    );
    let s = wait(&e, 20, "the new primary", |d| {
        d.primary.as_ref().is_some_and(|p| p.as_str() == to)
    });
    let seen = db(&s).and_then(|d| d.primary_since).unwrap_or_default();
    let line = format!(
        "patroni rig: switchover {from} -> {to}: Patroni answered after {} ms; console saw {to} primary {} ms after asking",
        done.millis_since(asked),
        seen.millis_since(asked)
    );
    eprintln!("{line}");
    assert!(
        s.log
            .iter()
            .any(|l| l.message.contains(&format!("primary is {to}"))),
        "the log says who is primary now"
    );
}

#[test]
fn a_crashed_leader_fails_over_and_the_console_times_it() {
    let Some((_one, e, leader)) = begin() else {
        return;
    };
    let n = (leader - 8000).to_string();
    let old = name_of(leader);
    let watcher = common::first_seen(move || patroni_primary(Some(leader)).is_some());
    let crashed = SystemClock.now();
    rig(&["kill", &format!("patroni{n}")]);
    rig(&["pg-kill-postmaster", &n]);
    let s = wait(&e, 60, "a new primary", |d| {
        d.primary.as_ref().is_some_and(|p| p.as_str() != old)
    });
    let patroni_at = watcher
        .join()
        .expect("watcher")
        .expect("Patroni promoted a replica");
    let console_at = db(&s).and_then(|d| d.primary_since).unwrap_or_default();
    let lost_at: Option<Timestamp> = logged_at(&s, crashed, "no reachable primary");
    rig(&["restart", &format!("patroni{n}")]);
    let line = format!(
        "patroni rig: leader {old} crashed; console saw no primary after {} ms; Patroni's new primary after {} ms; console saw it {} ms after Patroni",
        lost_at.map_or(-1, |t| t.millis_since(crashed)),
        patroni_at.millis_since(crashed),
        console_at.millis_since(patroni_at)
    );
    eprintln!("{line}");
    assert!(lost_at.is_some(), "the primary's loss is logged: {line}");
    assert!(
        console_at.millis_since(patroni_at) <= 1000,
        "the console follows Patroni's promotion within a second: {line}"
    );
    wait(&e, 60, "the old leader back as a replica", |d| {
        d.members
            .get(old.as_str())
            .is_some_and(|m| m.reachable && m.role == DbRole::Replica)
    });
}

#[test]
fn killing_only_the_leaders_patroni_shows_two_writable_primaries() {
    let Some((_one, e, leader)) = begin() else {
        return;
    };
    let n = (leader - 8000).to_string();
    let old = name_of(leader);
    let killed = SystemClock.now();
    rig(&["kill", &format!("patroni{n}")]);
    let s = wait(&e, 60, "a split: two servers take writes", |d| {
        d.writable >= 2
    });
    let split_at = logged_at(&s, killed, "split brain");
    let d = db(&s).expect("cluster");
    let old_view = &d.members[old.as_str()];
    assert!(!old_view.reachable, "its Patroni is dead");
    assert_eq!(
        old_view.writable,
        Some(true),
        "its server still takes writes"
    );
    assert!(s.open_incident().is_some(), "a split is an incident");
    eprintln!(
        "patroni rig: only {old}'s Patroni killed: split seen after {} ms",
        split_at.map_or(-1, |t| t.millis_since(killed))
    );
    // Patroni comes back, demotes and rewinds the old primary: one primary again.
    rig(&["restart", &format!("patroni{n}")]);
    wait(&e, 90, "one primary again", |d| d.writable == 1);
}

#[test]
fn losing_dcs_quorum_demotes_the_primary_though_cluster_still_names_a_leader() {
    let Some((_one, e, _)) = begin() else {
        return;
    };
    let lost = SystemClock.now();
    rig(&["kill", "etcd2"]);
    rig(&["kill", "etcd3"]);
    // A failover decided now would be decided from the minority side: refused.
    let env = workflow_env();
    let dir = tempfile::tempdir().expect("dir");
    let journal =
        switchboard_core::workflow::Journal::open(&dir.path().join("j.sqlite")).expect("journal");
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let plan = rt.block_on(switchboard_core::workflow::plan(
        &ctx,
        switchboard_core::workflow::Kind::Failover,
        "pg/node2",
    ));
    let s = wait(&e, 60, "no server takes writes", |d| d.writable == 0);
    let d = db(&s).expect("cluster");
    let demoted = logged_at(&s, lost, "no reachable primary").map_or(-1, |t| t.millis_since(lost));
    eprintln!(
        "patroni rig: etcd quorum lost: console saw the demotion after {demoted} ms; the DCS still names {:?}",
        d.dcs_leader
    );
    rig(&["restart", "etcd2"]);
    rig(&["restart", "etcd3"]);
    let refused = plan.expect("plan").refusals().join("; ");
    eprintln!("patroni rig: failover planned without DCS quorum: {refused}");
    assert!(
        refused.contains(
            "dcs quorum: etcd (the cluster's DCS): 1 of 3 members answer: quorum (2) lost"
        ),
        "{refused}"
    );
    wait(&e, 60, "a primary again with etcd back", |d| {
        d.writable == 1
    });
}

#[test]
fn idle_in_transaction_sessions_show_as_saturation() {
    let Some((_one, e, leader)) = begin() else {
        return;
    };
    let pg_port = 5440 + (leader - 8000);
    let dsn = format!("postgresql://switchboard:rigwatch@127.0.0.1:{pg_port}/postgres");
    // A watcher on the primary alone, feeding a service's pool bar too.
    unsafe_env_named("SWITCHBOARD_RIG_PG_PRIMARY", &dsn);
    let pg = common::engine_with(SourceConfig::Postgres(PostgresConfig {
        name: "pg".into(),
        dsn_env: "SWITCHBOARD_RIG_PG_PRIMARY".into(),
        cluster: Some("leak".into()),
        member: None,
        service: Some("orders".into()),
        interval_millis: 250,
        timeout_millis: 1000,
    }));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let leaked = 60;
    let held = rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..leaked {
            let (client, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(conn);
            client
                .batch_execute("BEGIN; SELECT 1")
                .await
                .expect("begin");
            held.push(client);
        }
        held
    });
    std::thread::sleep(Duration::from_secs(2));
    let s = pg.wait_for(Duration::from_secs(10), |s| {
        s.databases.get("leak").is_some_and(|d| {
            d.members.values().any(|m| {
                m.sessions.as_ref().is_some_and(|x| {
                    x.idle_in_transaction >= leaked && x.oldest_xact_secs.unwrap_or(0.0) >= 1.0
                })
            })
        })
    });
    let m = s.databases["leak"].members.values().next().expect("member");
    let sessions = m.sessions.clone().expect("sessions");
    let pool = s.services.get("orders").and_then(|x| x.pool);
    eprintln!(
        "patroni rig: {leaked} leaked sessions: console sees {} idle in transaction, oldest {:?} s, {} of {} connections, pool {:?}",
        sessions.idle_in_transaction,
        sessions.oldest_xact_secs,
        sessions.connections,
        sessions.max_connections,
        pool
    );
    assert!(sessions.idle_in_transaction >= leaked, "{sessions:?}");
    assert!(
        pool.is_some_and(|p| p.in_use >= leaked),
        "the service's pool bar: {pool:?}"
    );

    // Exhaust the server: new clients are refused ("too many clients"), exactly the
    // incident. The console's kept-open connection still reports; a fresh source says
    // why it cannot connect.
    let (more, refused) = rt.block_on(async {
        let mut more = Vec::new();
        let mut refused = String::new();
        for _ in 0..200 {
            match tokio_postgres::connect(&dsn, tokio_postgres::NoTls).await {
                Ok((client, conn)) => {
                    tokio::spawn(conn);
                    more.push(client);
                }
                Err(e) => {
                    refused = e.to_string();
                    break;
                }
            }
        }
        (more, refused)
    });
    assert!(!refused.is_empty(), "the server refused at last");
    let before = pg.snapshot().events_applied;
    let s = pg.wait_for(Duration::from_secs(5), |s| s.events_applied > before + 2);
    let still = s.databases["leak"].members.values().next().expect("member");
    assert!(
        still.reachable && still.server_detail.is_none(),
        "the console's own connection still works"
    );
    unsafe_env_named("SWITCHBOARD_RIG_PG_LATE", &dsn);
    let late = common::engine_with(SourceConfig::Postgres(PostgresConfig {
        name: "pg-late".into(),
        dsn_env: "SWITCHBOARD_RIG_PG_LATE".into(),
        cluster: Some("late".into()),
        member: None,
        service: None,
        interval_millis: 250,
        timeout_millis: 1000,
    }));
    let s = late.wait_for(Duration::from_secs(10), |s| {
        s.sources
            .get("pg-late")
            .is_some_and(|x| x.status == SourceStatus::Down)
    });
    let why = s.sources["pg-late"].detail.clone().unwrap_or_default();
    eprintln!(
        "patroni rig: with {} more sessions the server refuses: the console says {why:?}",
        more.len()
    );
    assert!(why.contains("connection slots are full"), "{why}");
    assert!(!why.contains("rigwatch"), "no password in messages: {why}");
    drop(more);
    drop(held);
    drop(rt);
    drop(e);
}

#[allow(unsafe_code)]
fn unsafe_env_named(name: &str, value: &str) {
    // SAFETY: tests here hold ONE_AT_A_TIME; nothing else reads the environment now.
    unsafe { std::env::set_var(name, value) };
}

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

/// The environment of the workflow tests: the rig's cluster as source `pg`, its etcd
/// for the lock.
fn workflow_env() -> switchboard_core::Environment {
    switchboard_core::Environment {
        second_approver: false,
        objectives: switchboard_core::store::Objectives::default(),
        look: switchboard_core::Look::default(),
        runbook: Vec::new(),
        name: "rig".into(),
        read_only: false,
        stale_after_millis: 5000,
        source: vec![patroni_source("pg"), common::rig_etcd()],
        fence: Vec::new(),
    }
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

/// A runbook on the real servers: sessions leaked on the primary (idle in a
/// transaction), the Sev-0 steps the rig can run: diagnose, route to the fallback
/// (Traefik), terminate the hanging sessions, a manual step the operator acknowledges,
/// deep readiness through the fallback, restore the route. One confirmation; each step
/// journaled; the leaked sessions are gone and the route is back.
#[test]
fn a_connection_leak_runbook_runs_on_the_real_servers() {
    use switchboard_core::sources::traefik::{TraefikConfig, TraefikRoute};
    use switchboard_core::workflow::runbook::RunbookConfig;
    use switchboard_core::workflow::{self, Kind};
    if !rig_has("etcd") || !rig_has("traefik") {
        eprintln!("skipped: needs the rig's etcd and Traefik too");
        return;
    }
    let Some((_one, _e, leader)) = begin() else {
        return;
    };
    let pg_port = 5440 + (leader - 8000);
    unsafe_env_named(
        "SWITCHBOARD_RIG_PG_ADMIN",
        &format!("postgresql://postgres:rigsecret@127.0.0.1:{pg_port}/postgres"),
    );
    let traefik_file = std::path::PathBuf::from(
        std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()),
    )
    .join("traefik-dyn.yml");
    let original = std::fs::read_to_string(&traefik_file).expect("traefik file");
    let dir = tempfile::tempdir().expect("dir");
    let book = dir.path().join("leak.toml");
    std::fs::write(
        &book,
        r#"name = "leak-drill"
title = "Connection leak (rig)"
[[step]]
kind = "sessions"
title = "Diagnose"
database = "{database}"
[[step]]
kind = "workflow"
title = "Route to the fallback"
workflow = "fallback"
target = "{route}"
[[step]]
kind = "terminate_sessions"
title = "Terminate the hanging sessions"
database = "{database}"
idle_in_transaction = true
[[step]]
kind = "manual"
title = "Tighter pool"
text = "Set max pool 20, connection timeout 5 s"
[[step]]
kind = "http_check"
title = "Verify readiness"
url = "{readiness}"
times = 3
[[step]]
kind = "workflow"
title = "Restore the route"
workflow = "restore"
target = "{route}"
"#,
    )
    .expect("runbook file");
    let env = switchboard_core::Environment {
        second_approver: false,
        objectives: switchboard_core::store::Objectives::default(),
        look: switchboard_core::Look::default(),
        name: "rig".into(),
        read_only: false,
        stale_after_millis: 5000,
        source: vec![
            SourceConfig::Postgres(PostgresConfig {
                name: "orders-db".into(),
                dsn_env: "SWITCHBOARD_RIG_PG_ADMIN".into(),
                cluster: None,
                member: None,
                service: None,
                interval_millis: 1000,
                timeout_millis: 1000,
            }),
            SourceConfig::Traefik(TraefikConfig {
                name: "traefik".into(),
                api: "http://127.0.0.1:8181".into(),
                interval_millis: 500,
                timeout_millis: 1000,
                metrics: None,
                dynamic_file: Some(traefik_file.display().to_string()),
                routes: vec![TraefikRoute {
                    router: "web".into(),
                    primary: "websvc".into(),
                    fallback: "fallbacksvc".into(),
                }],
            }),
            common::rig_etcd(),
        ],
        fence: Vec::new(),
        runbook: vec![RunbookConfig {
            name: "leak-drill".into(),
            file: Some(book.display().to_string()),
            vars: [
                ("database", "orders-db"),
                ("route", "traefik/web"),
                ("readiness", "http://127.0.0.1:8180/"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        }],
    };
    let journal = switchboard_core::workflow::Journal::open(&dir.path().join("journal.sqlite"))
        .expect("journal");
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // The leak: 20 sessions idle in a transaction on the primary.
    let dsn = format!("postgresql://switchboard:rigwatch@127.0.0.1:{pg_port}/postgres");
    let leaked = rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..20 {
            let (client, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(conn);
            client
                .batch_execute("BEGIN; SELECT 1")
                .await
                .expect("begin");
            held.push(client);
        }
        held
    });
    // The operator, acknowledging the manual step when it is asked.
    let control = ctx.control.clone();
    let operator = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_mins(1);
        while Instant::now() < deadline {
            let asked = control.waiting();
            if !asked.is_empty() {
                control.acknowledge();
                return asked;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        String::new()
    });

    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Runbook, "leak-drill"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert_eq!(plan.steps.len(), 6, "{:?}", plan.steps);
    let report = rt.block_on(workflow::run(&ctx, &plan, "leak-drill", "rig-test"));
    let _ = route_back(&traefik_file, &original);
    let report = report.expect("run");
    eprintln!(
        "patroni rig: runbook {} in {:?} ms: {:#?}",
        report.outcome, report.effect_millis, report.lines
    );
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(
        operator.join().expect("operator"),
        "Set max pool 20, connection timeout 5 s"
    );
    assert!(
        report.lines[0].contains("idle in transaction"),
        "{}",
        report.lines[0]
    );
    assert!(
        report.lines[2].contains("20 of 20 matching session(s) terminated"),
        "{}",
        report.lines[2]
    );
    let gone = rt.block_on(async {
        let mut gone = 0;
        for c in &leaked {
            if c.simple_query("SELECT 1").await.is_err() {
                gone += 1;
            }
        }
        gone
    });
    assert_eq!(gone, 20, "every leaked session was cut");
    let rows = journal.steps(report.run).expect("steps");
    assert_eq!(
        rows.iter()
            .filter(|r| r.phase == "after" && r.outcome == "ok")
            .count(),
        6,
        "{rows:?}"
    );
    assert!(
        std::fs::read_to_string(&traefik_file).is_ok_and(|t| t.contains("service: websvc")),
        "the route is restored"
    );
}

/// Writes the rig's Traefik file back (after a runbook that may have stopped midway).
fn route_back(file: &std::path::Path, original: &str) -> Result<(), String> {
    let now = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    if now.contains("service: websvc") {
        return Ok(());
    }
    switchboard_core::workflow::route::write_atomically(file, original)
}
