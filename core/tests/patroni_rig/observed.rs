//! What the console sees when the cluster changes under it: a switchover by hand, a
//! crashed leader, a split brain, the DCS losing quorum, and idle-in-transaction
//! sessions piling up; each timed against what Patroni itself says.

use std::time::Duration;

use switchboard_core::model::{DbRole, SourceStatus};
use switchboard_core::sources::postgres::PostgresConfig;
use switchboard_core::{Clock as _, SourceConfig, SystemClock, Timestamp};

use crate::common::{self, rig};
use crate::helpers::{
    begin, db, logged_at, name_of, patroni_primary, unsafe_env_named, wait, workflow_env,
};

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
        dsn_env: Some("SWITCHBOARD_RIG_PG_PRIMARY".into()),
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
    // A pool's use is sent again once it moves by 5 % of its size (or crosses 90 %):
    // the bar may show the count of a poll or two before (sources/volatile.rs).
    assert!(
        pool.is_some_and(|p| p.in_use + (p.size / 20).max(2) > leaked),
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
        dsn_env: Some("SWITCHBOARD_RIG_PG_LATE".into()),
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
