//! Integrity on the real cluster (data checksums on, as the rig bootstraps it): a page
//! of a table damaged on a replica's disk is read there and the console raises a Sev-1
//! naming the member; a replica whose WAL receiver is frozen while the primary writes
//! is raised as not replaying, and clears once it replays again.

use std::time::{Duration, Instant};

use crate::common::rig;
use crate::helpers::{begin, leader_and_candidate, members};

const SUPERUSER: &str = "postgresql://postgres:rigsecret@127.0.0.1";

/// Runs `sql` on the server at `port` as the superuser; the error in words.
fn sql(rt: &tokio::runtime::Runtime, port: u16, sql: &str) -> Result<(), String> {
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(
            &format!("{SUPERUSER}:{port}/postgres"),
            tokio_postgres::NoTls,
        )
        .await
        .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        client.batch_execute(sql).await.map_err(|e| {
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned())
        })
    })
}

/// The finding `key` once `pred` holds of it (within `secs`), and how long that took.
fn finding(
    e: &switchboard_core::EngineHandle,
    key: &str,
    secs: u64,
    pred: impl Fn(&switchboard_core::model::IntegrityFinding) -> bool,
) -> (switchboard_core::model::IntegrityFinding, Duration) {
    let started = Instant::now();
    let s = e.wait_for(Duration::from_secs(secs), |s| {
        s.integrity.get(key).is_some_and(|f| pred(&f.finding))
    });
    let found = s.integrity.get(key).map_or_else(
        || panic!("no finding {key}: {:?}", s.integrity.keys()),
        |entry| entry.finding.clone(),
    );
    assert!(pred(&found), "{key}: {found:?}");
    (found, started.elapsed())
}

#[test]
fn a_damaged_page_and_a_stalled_replica_are_raised_on_the_real_cluster() {
    let Some((_one, engine, leader)) = begin() else {
        return;
    };
    let (_, replica) = leader_and_candidate(leader);
    let rest = members()
        .into_iter()
        .find(|(n, _)| *n == replica)
        .map(|(_, p)| p)
        .expect("the replica's port");
    let node = rest - 8000;
    let (primary_pg, replica_pg) = (5440 + (leader - 8000), 5440 + node);
    let key = format!("pg checksums: pgha/{replica}");
    let (first, _) = finding(&engine, &key, 20, |f| f.ok);
    assert_eq!(
        first.detail, "no page failed its checksum",
        "checksums are on"
    );

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    sql(
        &rt,
        primary_pg,
        "DROP TABLE IF EXISTS integrity_probe;
         CREATE TABLE integrity_probe AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 200) g;
         CHECKPOINT;",
    )
    .expect("the probe table");
    let deadline = Instant::now() + Duration::from_secs(20);
    while sql(&rt, replica_pg, "SELECT 1 FROM integrity_probe LIMIT 1").is_err() {
        assert!(Instant::now() < deadline, "the replica never had the table");
        std::thread::sleep(Duration::from_millis(200));
    }
    sql(&rt, replica_pg, "CHECKPOINT").expect("a restartpoint on the replica");
    rig(&["pg-corrupt", &node.to_string(), "integrity_probe"]);
    let deadline = Instant::now() + Duration::from_mins(1);
    let read_at = loop {
        match sql(&rt, replica_pg, "SELECT count(*) FROM integrity_probe") {
            Err(err) if err.contains("invalid page") => {
                eprintln!("patroni rig: reading the damaged table on {replica}: {err}");
                break Instant::now();
            }
            other => {
                assert!(
                    Instant::now() < deadline,
                    "the damaged page was not refused: {other:?}"
                );
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    };
    let (failed, _) = finding(&engine, &key, 20, |f| !f.ok);
    let raised = read_at.elapsed();
    eprintln!(
        "patroni rig: checksum failure on {replica} raised {} ms after the read: {}",
        raised.as_millis(),
        failed.detail
    );
    assert!(
        failed.detail.contains("failed their checksum"),
        "{}",
        failed.detail
    );
    let state = engine.snapshot();
    let incident = state.open_incident().expect("a Sev-1 incident");
    assert!(
        incident.severity() <= 1 && incident.impact().contains(&key),
        "{incident:?}"
    );

    // Cleaned up: the table dropped (the replica drops its file), its counters reset.
    sql(&rt, primary_pg, "DROP TABLE integrity_probe").expect("drop");
    std::thread::sleep(Duration::from_secs(1));
    sql(&rt, replica_pg, "SELECT pg_stat_reset()").expect("reset the replica's counters");
    let (again, _) = finding(&engine, &key, 20, |f| f.ok);
    eprintln!("patroni rig: {replica} holds again: {}", again.detail);

    // Replay frozen while the primary writes.
    let key = format!("pg replay: pgha/{replica}");
    finding(&engine, &key, 20, |f| f.ok);
    rig(&["pg-walreceiver", &node.to_string(), "stop"]);
    let frozen_at = Instant::now();
    let writer = {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let h = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            sql(
                &rt,
                primary_pg,
                "CREATE TABLE IF NOT EXISTS replay_probe (at timestamptz)",
            )
            .expect("table");
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = sql(&rt, primary_pg, "INSERT INTO replay_probe VALUES (now())");
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = sql(&rt, primary_pg, "DROP TABLE replay_probe");
        });
        (stop, h)
    };
    let stalled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        finding(&engine, &key, 45, |f| !f.ok)
    }));
    let raised_after = frozen_at.elapsed();
    rig(&["pg-walreceiver", &node.to_string(), "cont"]);
    let thawed_at = Instant::now();
    writer.0.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = writer.1.join();
    let (stall, _) = stalled.unwrap_or_else(|p| std::panic::resume_unwind(p));
    eprintln!(
        "patroni rig: replay stall on {replica} raised {} ms after the freeze: {}",
        raised_after.as_millis(),
        stall.detail
    );
    assert!(stall.detail.contains("replay stopped"), "{}", stall.detail);
    finding(&engine, &key, 30, |f| f.ok);
    eprintln!(
        "patroni rig: {replica} replays again, seen within {} ms of the thaw",
        thawed_at.elapsed().as_millis()
    );
}
