//! Session benchmarks (a bench binary; `cargo bench -p switchboard-core --bench session`).
//!
//! A session of the drill's own event mix (300 instances, every scripted fault), folded
//! and recorded as the engine does (keyframes every 10,000 events or 60 s of event
//! time), then replayed:
//!
//! - recording: events written per second (append, a block per simulated second as the
//!   engine writes one a second, and keyframes: the recorder thread's work), and bytes
//!   per event on disk;
//! - open: [`Replay::open`] (format, metadata, span, keyframes);
//! - first read: [`Replay::index`] (every event folded, every keyframe checked);
//! - seek: the state at 200 random moments, p50/p99/max.
//!
//! `SESSION_EVENTS` sets the size (default 10,000,000 with `--bench`). Run without
//! `--bench` (as `cargo test --all-targets` does) it makes one small pass, so the
//! benchmark cannot rot unnoticed.

use std::time::{Duration, Instant};

use switchboard_core::session::replay::Replay;
use switchboard_core::session::{KEYFRAME_EVENTS, KEYFRAME_MILLIS, Recorder, SessionMeta};
use switchboard_core::sources::drill::DrillFleet;
use switchboard_core::{Event, SplitMix64, State, Timestamp};

mod common;

use common::percentile;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let target: u64 = std::env::var("SESSION_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000_000 } else { 60_000 });
    let instances = 300;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bench.session");
    let meta = SessionMeta {
        app_version: "bench".into(),
        environment: "drill".into(),
        drill: true,
        config: String::new(),
        started_at: Timestamp(0),
        focus: None,
        recording: String::new(),
        segment: 0,
    };
    let mut rec = Recorder::create(&path, &meta).expect("create");
    let mut fleet = DrillFleet::new(7, instances, true);
    let src = switchboard_core::model::SourceId::new("drill");
    let mut state = State::default();
    let mut written = Duration::ZERO;
    let mut last_key = (0u64, Timestamp(0));
    let mut batch: Vec<Event> = fleet
        .inventory()
        .into_iter()
        .map(|b| Event::new(Timestamp(0), src.clone(), b))
        .collect();
    let mut s = 0i64;
    while state.events_applied < target {
        state.apply_all(&batch);
        let due = state.events_applied - last_key.0 >= KEYFRAME_EVENTS
            || state.now.millis_since(last_key.1) >= KEYFRAME_MILLIS;
        let t = Instant::now();
        rec.append(&batch).expect("append");
        // A block a simulated second, as the engine's recorder writes one a second.
        rec.flush().expect("flush");
        if due {
            rec.keyframe(&state).expect("keyframe");
            last_key = (state.events_applied, state.now);
        }
        written += t.elapsed();
        s += 1;
        let at = Timestamp(s * 1000);
        batch = fleet
            .step(at)
            .into_iter()
            .map(|b| Event::new(at, src.clone(), b))
            .collect();
    }
    let events = state.events_applied;
    drop(rec);
    // A segment's starting state: written once per segment.
    let t = Instant::now();
    let snap = state.to_snapshot();
    let snap_write = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let back = State::from_snapshot(&snap).expect("snapshot");
    let snap_read = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(back.digest(), state.digest());
    let bytes: u64 = ["", "-wal"]
        .iter()
        .filter_map(|x| std::fs::metadata(format!("{}{x}", path.display())).ok())
        .map(|m| m.len())
        .sum();

    let t = Instant::now();
    let mut replay = Replay::open(&path).expect("open");
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    replay.index(&mut |_, _| {});
    let index_s = t.elapsed().as_secs_f64();
    let v = replay.verification().clone();
    assert!(v.ok() && v.checked == replay.keyframes().len(), "{v:?}");

    let mut rng = SplitMix64::new(11);
    let last = replay.last_seq();
    let mut seeks = Vec::new();
    let mut check = 0u64;
    for _ in 0..if full { 200 } else { 20 } {
        let seq = i64::try_from(rng.next_u64() % u64::try_from(last).unwrap_or(1)).unwrap_or(0) + 1;
        let t = Instant::now();
        let st = replay.state_at_seq(seq).expect("seek");
        seeks.push(t.elapsed().as_secs_f64() * 1000.0);
        check += st.events_applied;
    }
    assert!(check > 0);
    let (p50, p99) = (percentile(&mut seeks, 0.5), percentile(&mut seeks, 0.99));
    let max = seeks.last().copied().unwrap_or(0.0);
    println!(
        "session: {events} events ({instances} instances, {s} simulated s), {} keyframes",
        replay.keyframes().len()
    );
    println!(
        "  recording: {:.0} events/s written (append + keyframes), {:.0} bytes/event ({:.1} MB)",
        events as f64 / written.as_secs_f64(),
        bytes as f64 / events as f64,
        bytes as f64 / 1e6
    );
    println!(
        "  open: {open_ms:.1} ms; first read (fold + {} keyframes checked): {index_s:.1} s ({:.0} events/s)",
        v.checked,
        events as f64 / index_s
    );
    let stored = switchboard_core::session::blocks::compress(&snap)
        .expect("compress")
        .len();
    println!(
        "  segment start (state snapshot): {:.0} KB ({:.0} KB compressed, as a segment holds it), written in {snap_write:.1} ms, read in {snap_read:.1} ms",
        snap.len() as f64 / 1024.0,
        stored as f64 / 1024.0
    );
    let (cps, cp_bytes) = replay.checkpoints();
    println!(
        "  seek to a random moment: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({cps} checkpoints every {} events, {:.0} MB packed)",
        replay.spacing(),
        cp_bytes as f64 / 1e6
    );
}
