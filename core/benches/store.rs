//! Notes store benchmarks (a bench binary; `cargo bench -p switchboard-core --bench store`).
//!
//! - save: latency of `add_note` (committed with `synchronous = FULL`, on disk when it
//!   returns), p50/p99 over 1,000 notes;
//! - search: full-text search over 100,000 notes (bulk-loaded in one transaction through
//!   the same schema and triggers), p50/p99 over 200 queries.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it makes one small pass,
//! so the benchmark cannot rot unnoticed.

use std::time::Instant;

use switchboard_core::Timestamp;
use switchboard_core::store::{NewNote, Store};

const WORDS: [&str; 16] = [
    "pool",
    "saturated",
    "checkout",
    "rollback",
    "deploy",
    "latency",
    "breaker",
    "leader",
    "quorum",
    "replica",
    "fence",
    "timeout",
    "queue",
    "primary",
    "traefik",
    "haproxy",
];

mod common;

use common::percentile;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (saves, notes, queries) = if full {
        (1_000, 100_000, 200)
    } else {
        (50, 2_000, 20)
    };
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("notes.sqlite");
    let store = Store::open(&path).expect("open").store;

    let mut lat = Vec::with_capacity(saves);
    for k in 0..saves {
        let t = Instant::now();
        store
            .add_note(&NewNote {
                author: "bench".into(),
                body: format!("note {k}: {} {}", WORDS[k % 16], WORDS[(k * 7) % 16]),
                at: Timestamp(i64::try_from(k).unwrap_or(0)),
                ..NewNote::default()
            })
            .expect("save");
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "save: {saves} notes, p50 {:.2} ms, p99 {:.2} ms (synchronous = FULL, WAL)",
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99)
    );

    // Bulk load through the same schema (the FTS triggers fill the index).
    {
        let conn = rusqlite::Connection::open(&path).expect("raw");
        conn.execute_batch("BEGIN").expect("begin");
        let mut stmt = conn
            .prepare(
                "INSERT INTO notes (author, body, created_at, edited_at, pinned_at) VALUES ('bench', ?1, ?2, ?2, ?2)",
            )
            .expect("prepare");
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for k in 0..notes {
            let mut body = format!("note {k}:");
            for _ in 0..12 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                body.push(' ');
                body.push_str(WORDS[(x % 16) as usize]);
            }
            stmt.execute(rusqlite::params![body, i64::try_from(k).unwrap_or(0)])
                .expect("insert");
        }
        drop(stmt);
        conn.execute_batch("COMMIT").expect("commit");
    }
    let mut lat = Vec::with_capacity(queries);
    let mut hits = 0;
    for q in 0..queries {
        let query = format!("{} {}", WORDS[q % 16], WORDS[(q * 5 + 3) % 16]);
        let t = Instant::now();
        hits += store.search(&query, 50).expect("search").len();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "search: {queries} two-word queries over {} notes (50 best each), p50 {:.2} ms, p99 {:.2} ms; {hits} hits",
        notes + saves,
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99)
    );
    assert!(hits > 0, "the queries find notes");
}
