//! Sessions recorded by the real engine on the drill, replayed through the one
//! reducer: every keyframe matches, seeking anywhere gives the state a straight replay
//! gives, and damaged, foreign, newer and partly unknown files are handled without a
//! panic.

use std::path::{Path, PathBuf};
use std::time::Duration;

use switchboard_core::session::replay::{Replay, parse_moment};
use switchboard_core::session::{SessionError, SessionReader};
use switchboard_core::sources::drill::DrillConfig;
use switchboard_core::{Config, DrillFault, EngineOptions, Intent, State, Timestamp};

#[path = "common/session_v2.rs"]
mod session_v2;

/// Records `secs` seconds of the drill at `speed` (a quorum loss injected at once) to
/// a new session file; returns it and the console's last state.
fn record_drill(dir: &Path, secs: u64, speed: f64) -> (PathBuf, State) {
    let path = dir.join("drill.session");
    let mut opts = EngineOptions::new(Config::drill(DrillConfig {
        scripted: false,
        speed,
        seed: 11,
        instances: 120,
        ..DrillConfig::default()
    }));
    opts.record_to = Some(path.clone());
    let engine = switchboard_core::start(&opts).expect("engine");
    engine.wait_for(Duration::from_secs(5), |s| s.events_applied > 100);
    engine
        .send(Intent::DrillInject {
            fault: DrillFault::QuorumLoss,
        })
        .expect("inject");
    std::thread::sleep(Duration::from_secs(secs));
    let end = engine.snapshot();
    assert!(engine.shutdown().is_none(), "the recording ran to the end");
    (path, (*end).clone())
}

/// A straight fold of the file's first `seq` events.
fn straight(path: &Path, seq: i64) -> State {
    let mut s = State::default();
    SessionReader::open(path)
        .expect("open")
        .rows(0, seq, |r| {
            if let switchboard_core::session::Row::Event(_, e) = r {
                s.apply(&e);
            }
        })
        .expect("rows");
    s
}

#[test]
fn a_recorded_drill_replays_exactly_and_seeks_anywhere() {
    let dir = tempfile::tempdir().expect("dir");
    let (path, end) = record_drill(dir.path(), 4, 30.0);
    let mut r = Replay::open(&path).expect("open");
    assert!(!r.indexed());
    let mut calls = 0;
    r.index(&mut |_, _| calls += 1);
    assert!(calls >= 1);
    let v = r.verification().clone();
    assert!(v.ok(), "{v:?}");
    assert!(v.checked >= 2, "keyframes by time and by count: {v:?}");
    assert_eq!(v.checked, r.keyframes().len());
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
    let seq = i64::try_from(end.events_applied).expect("count");
    assert_eq!(r.state_at_seq(seq).expect("end").digest(), end.digest());
    // Seeking, forwards and backwards, equals a straight replay.
    let last = r.last_seq();
    for k in [last, 1, last / 2, last / 3, 7, last - 1] {
        assert_eq!(
            r.state_at_seq(k).expect("seek").digest(),
            straight(&path, k).digest(),
            "seek to {k}"
        );
    }
    // The injected fault is a mark to jump to.
    assert!(
        r.marks().iter().any(|m| m.text.contains("drill-etcd")),
        "{:?}",
        r.marks().iter().take(5).collect::<Vec<_>>()
    );
    // By time: the first event's time and an offset.
    let (first, _) = r.span().expect("span");
    assert_eq!(parse_moment("+0s", first), Ok(first));
    assert_eq!(
        parse_moment("+1.5m", first),
        Ok(Timestamp(first.0 + 90_000))
    );
    assert!(parse_moment("+3 parsecs", first).is_err());
    assert!(parse_moment("yesterday", first).is_err());
    let at = r.state_at(first).expect("at start");
    assert!(at.events_applied >= 1);
}

/// A tiny deterministic generator (no dependency, reproducible failures).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

/// Opens and replays whatever `path` holds: an error, or a replay with warnings;
/// never a panic. Returns the error text, if any.
fn try_replay(path: &Path) -> Option<String> {
    match Replay::open(path) {
        Err(e) => Some(e.to_string()),
        Ok(mut r) => {
            r.index(&mut |_, _| {});
            let _ = r.state_at_seq(r.last_seq());
            None
        }
    }
}

#[test]
fn damaged_truncated_foreign_and_newer_files_never_panic() {
    let dir = tempfile::tempdir().expect("dir");
    let (path, _) = record_drill(dir.path(), 2, 20.0);
    // One self-contained file: fold the WAL in so the bytes are the whole session.
    let copy = dir.path().join("whole.session");
    rusqlite::Connection::open(&path)
        .and_then(|c| c.execute("VACUUM INTO ?1", [copy.to_str().unwrap_or_default()]))
        .expect("vacuum into");
    let bytes = std::fs::read(&copy).expect("read");
    let mut rng = Lcg(42);
    let mut refused = 0;
    for i in 0..100 {
        let cut = rng.next(bytes.len());
        let p = dir.path().join(format!("cut-{i}.session"));
        std::fs::write(&p, &bytes[..cut]).expect("write");
        if try_replay(&p).is_some() {
            refused += 1;
        }
    }
    for i in 0..100 {
        let mut b = bytes.clone();
        for _ in 0..8 {
            let at = rng.next(b.len());
            b[at] ^= 1 << rng.next(8);
        }
        let p = dir.path().join(format!("flip-{i}.session"));
        std::fs::write(&p, &b).expect("write");
        let _ = try_replay(&p);
    }
    assert!(refused > 0, "some cuts are refused outright");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a session").expect("write");
    let err = try_replay(&text).unwrap_or_default();
    assert!(err.contains("not a Switchboard session"), "{err}");

    let newer = dir.path().join("newer.session");
    std::fs::copy(&copy, &newer).expect("copy");
    rusqlite::Connection::open(&newer)
        .and_then(|c| c.execute_batch("PRAGMA user_version = 99"))
        .expect("bump");
    let err = try_replay(&newer).unwrap_or_default();
    assert!(err.contains("format 99 is newer"), "{err}");
}

/// Rewrites the event lines of a format 3 file: `edit(seq, line)` gives a line's new
/// text, or `None` to keep it.
fn rewrite_lines(path: &Path, edit: impl Fn(i64, &[u8]) -> Option<Vec<u8>>) {
    use switchboard_core::session::blocks;
    let c = rusqlite::Connection::open(path).expect("open");
    let rows: Vec<(i64, Vec<u8>)> = c
        .prepare("SELECT first_seq, body FROM blocks")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()
        })
        .expect("blocks");
    for (first, body) in rows {
        let block = blocks::decompress(&body).expect("a block");
        let mut out = Vec::new();
        let mut changed = false;
        for (seq, line) in (first..).zip(blocks::lines(&block)) {
            match edit(seq, line) {
                Some(new) => {
                    out.extend(new);
                    changed = true;
                }
                None => out.extend_from_slice(line),
            }
            out.push(b'\n');
        }
        if changed {
            let blob = blocks::compress(&out).expect("compress");
            c.execute(
                "UPDATE blocks SET body = ?1 WHERE first_seq = ?2",
                rusqlite::params![blob, first],
            )
            .expect("update");
        }
    }
}

/// The recording at `path` copied into the format of the builds before blocks (a row
/// per event, keyframes), so the same damage can be done to both.
fn as_format_2(path: &Path, to: &Path) {
    let r = SessionReader::open(path).expect("open");
    let mut rows = Vec::new();
    r.rows(0, i64::MAX, |row| {
        if let switchboard_core::session::Row::Event(seq, e) = row {
            rows.push((
                seq,
                e.at.0,
                e.source.to_string(),
                e.body.kind_name().to_owned(),
                serde_json::to_string(&e).expect("json"),
            ));
        }
    })
    .expect("rows");
    let keyframes: Vec<_> = r
        .keyframes()
        .expect("keyframes")
        .into_iter()
        .map(|k| {
            (
                k.seq,
                k.at.0,
                i64::try_from(k.events_applied).expect("fits"),
                k.hash,
            )
        })
        .collect();
    let meta = r.meta().expect("meta");
    session_v2::write(
        to,
        2,
        &[
            ("environment", meta.environment),
            ("drill", meta.drill.to_string()),
        ],
        &rows,
        &keyframes,
    );
}

/// A damaged row ends the replayable prefix with a warning; events of a kind this
/// build does not know are kept raw and the rest replays: in blocks (format 3) and in
/// a row per event (format 2).
#[test]
fn a_damaged_row_ends_the_prefix_and_unknown_kinds_are_kept_raw() {
    let dir = tempfile::tempdir().expect("dir");
    let (path, _) = record_drill(dir.path(), 2, 20.0);
    let old = dir.path().join("old.session");
    as_format_2(&path, &old);
    let unknown =
        br#"{"at":1,"source":"mesh","body":{"kind":"mesh_gateway","data":{"gateway":"g1"}}}"#;
    rewrite_lines(&path, |seq, _| {
        (seq == 20 || seq == 21).then(|| unknown.to_vec())
    });
    let c = rusqlite::Connection::open(&old).expect("open");
    c.execute_batch(
        "UPDATE events SET kind = 'mesh_gateway', body = '{\"at\":1,\"source\":\"mesh\",\"kind\":\"mesh_gateway\",\"gateway\":\"g1\"}' WHERE seq IN (20, 21);",
    )
    .expect("unknown kind");
    for file in [&path, &old] {
        let mut r = Replay::open(file).expect("open");
        let last = r.last_seq();
        r.index(&mut |_, _| {});
        let (raw, n) = r.raw();
        assert_eq!(n, 2);
        assert_eq!(raw[0].kind, "mesh_gateway");
        assert_eq!(r.last_seq(), last, "the rest replays");
        assert!(
            r.warnings()
                .iter()
                .any(|w| w.contains("2 event(s) of kinds this build does not know (mesh_gateway)")),
            "{:?}",
            r.warnings()
        );
    }
    rewrite_lines(&path, |seq, _| (seq == 40).then(|| b"{broken".to_vec()));
    c.execute("UPDATE events SET body = '{broken' WHERE seq = 40", [])
        .expect("damage");
    for file in [&path, &old] {
        let mut r = Replay::open(file).expect("open");
        r.index(&mut |_, _| {});
        assert_eq!(r.last_seq(), 39);
        assert!(
            r.warnings()
                .iter()
                .any(|w| w.contains("event 40 is damaged")),
            "{:?}",
            r.warnings()
        );
        let state = r.state_at_seq(i64::MAX).expect("prefix");
        assert_eq!(state.events_applied, 37, "39 rows, 2 of them raw");
    }
    let e: Option<SessionError> = Replay::open(&dir.path().join("missing.session")).err();
    assert!(e.is_some());
}

/// A span saved from a session: everything up to its end is kept (so it replays from
/// the same state), it opens at the span, and its notes and workflow runs are marks.
#[test]
fn a_saved_span_replays_from_the_same_state_with_its_notes_as_marks() {
    let dir = tempfile::tempdir().expect("dir");
    let (path, _) = record_drill(dir.path(), 3, 20.0);
    let full = {
        let mut r = Replay::open(&path).expect("open");
        r.index(&mut |_, _| {});
        r
    };
    let (first, last) = full.span().expect("span");
    let mid = Timestamp(first.0 + (last.0 - first.0) / 2);
    let notes = serde_json::json!([{ "pinned_at": mid.0 + 1, "author": "ana", "body": "pool saturated\nmore" }]);
    let journal = serde_json::json!([{ "run": 3, "kind": "drain", "target": "edge/be/web1", "operator": "ana",
        "steps": [{ "at": mid.0 + 2, "phase": "after", "action": "set state drain", "outcome": "ok" }] }]);
    let saved = dir.path().join("saved.session");
    let kept = switchboard_core::session::save_range(
        std::slice::from_ref(&path),
        &saved,
        Timestamp(mid.0 - 1000),
        mid,
        &[
            ("notes", notes.to_string()),
            ("journal", journal.to_string()),
        ],
    )
    .expect("save");
    assert!(
        kept > 0 && kept < full.last_seq(),
        "{kept} of {}",
        full.last_seq()
    );
    assert!(
        switchboard_core::session::save_range(std::slice::from_ref(&path), &saved, first, mid, &[])
            .is_err(),
        "an existing file is not overwritten"
    );
    let mut r = Replay::open(&saved).expect("open saved");
    assert_eq!(r.meta().focus, Some((Timestamp(mid.0 - 1000), mid)));
    r.index(&mut |_, _| {});
    assert!(r.verification().ok(), "{:?}", r.warnings());
    assert_eq!(r.last_seq(), kept);
    assert_eq!(
        r.state_at_seq(kept).expect("end").digest(),
        full.state_at_seq(kept).expect("same moment").digest(),
        "the saved span replays to the states the full session has"
    );
    let kinds: Vec<_> = r
        .marks()
        .iter()
        .filter(|m| m.at > mid)
        .map(|m| (m.kind, m.text.clone()))
        .collect();
    assert!(
        kinds.iter().any(
            |(k, t)| *k == switchboard_core::session::replay::MarkKind::Note
                && t == "note by ana: pool saturated"
        ),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(
            |(k, t)| *k == switchboard_core::session::replay::MarkKind::Workflow
                && t.contains("run #3 drain edge/be/web1 by ana: after set state drain — ok")
        ),
        "{kinds:?}"
    );
}

/// A scripted drill at 30× recording to `first`, starting a new segment `every`.
fn rolling_drill(first: &Path, every: Duration) -> EngineOptions {
    let mut opts = EngineOptions::new(Config::drill(DrillConfig {
        scripted: true,
        speed: 30.0,
        seed: 5,
        instances: 90,
        ..DrillConfig::default()
    }));
    opts.record_to = Some(first.to_owned());
    opts.segment_every = Some(every);
    opts
}

/// The flight recorder's rolling segments: each file starts from the state the
/// previous one ended with (its snapshot checked by a keyframe), so any segment
/// replays on its own and the oldest can be removed; a span saved across segments
/// replays too.
#[test]
fn rolling_segments_each_replay_on_their_own_and_a_span_across_them_saves() {
    let dir = tempfile::tempdir().expect("dir");
    let first = dir.path().join("session-a.sqlite");
    let opts = rolling_drill(&first, Duration::from_millis(700));
    let engine = switchboard_core::start(&opts).expect("engine");
    std::thread::sleep(Duration::from_millis(3200));
    let current = engine.recording().expect("recording");
    assert_ne!(current, first, "the recorder rolled on");
    assert!(engine.shutdown().is_none());

    let segments = switchboard_core::session::segments_of(&first);
    assert!(segments.len() >= 3, "{segments:?}");
    assert_eq!(segments.first(), Some(&first));
    let mut previous_end: Option<(i64, String)> = None;
    for (i, seg) in segments.iter().enumerate() {
        let mut r = Replay::open(seg).expect("open a segment");
        r.index(&mut |_, _| {});
        let v = r.verification();
        assert!(
            v.ok() && v.checked >= 2,
            "segment {i}: {v:?} {:?}",
            r.warnings()
        );
        let start = r.state_at_seq(r.first_seq()).expect("start");
        if let Some((seq, hash)) = &previous_end {
            assert_eq!(r.first_seq(), *seq, "segment {i} goes on from the last");
            assert_eq!(
                &start.digest(),
                hash,
                "from the very state the last ended with"
            );
        } else {
            assert_eq!(r.first_seq(), 0);
        }
        let end = r.state_at_seq(r.last_seq()).expect("end");
        previous_end = Some((r.last_seq(), end.digest()));
    }

    // Removing the oldest leaves the rest replayable; a span from segment 1 to the end.
    std::fs::remove_file(&segments[0]).expect("roll off the oldest");
    let left = switchboard_core::session::segments_of(&segments[1]);
    assert_eq!(left.len(), segments.len() - 1);
    let (from, _) = Replay::open(&left[0]).expect("open").span().expect("span");
    let (_, to) = Replay::open(left.last().expect("last"))
        .expect("open")
        .span()
        .expect("span");
    let saved = dir.path().join("saved.session");
    let kept = switchboard_core::session::save_range(&left, &saved, from, to, &[]).expect("save");
    let mut r = Replay::open(&saved).expect("open saved");
    r.index(&mut |_, _| {});
    assert!(r.verification().ok(), "{:?}", r.warnings());
    assert_eq!(r.last_seq(), kept);
    assert_eq!(
        r.state_at_seq(kept).expect("end").digest(),
        previous_end.expect("segments").1,
        "the saved span ends where the recording did"
    );
}

/// The flight recorder's retention runs in the recorder: at start and at every new
/// segment, the sessions it lets go are removed while the console runs, never the
/// segment being written; what is left replays on its own.
#[test]
fn retention_removes_old_segments_while_recording() {
    use switchboard_core::session::retention::{self, Retention};
    let dir = tempfile::tempdir().expect("dir");
    let stale = dir.path().join("session-1999.sqlite");
    std::fs::write(&stale, b"an old session").expect("old");
    std::fs::write(dir.path().join("notes.txt"), b"not a session").expect("other");
    let first = dir.path().join("session-a.sqlite");
    let mut opts = rolling_drill(&first, Duration::from_millis(500));
    opts.retention = Some(Retention {
        max_age: Duration::ZERO,
        max_bytes: u64::MAX,
        in_use: Duration::ZERO,
    });
    let sessions = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| retention::is_session_file(p))
            .collect();
        v.sort();
        v
    };
    // Retention runs on a thread of its own: wait for it, up to a generous limit.
    let within = |secs: u64, what: &str, done: &dyn Fn() -> bool| {
        let start = std::time::Instant::now();
        while !done() {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "{what}: {:?}",
                sessions()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let engine = switchboard_core::start(&opts).expect("engine");
    within(10, "an old session goes when the recorder starts", &|| {
        !stale.exists()
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_ne!(
        engine.recording(),
        Some(first.clone()),
        "the recorder rolled on"
    );
    assert!(engine.shutdown().is_none());
    within(10, "the first segment goes at a later roll", &|| {
        !first.exists()
    });
    within(10, "only the last segment is left", &|| {
        sessions().len() == 1
    });
    assert!(dir.path().join("notes.txt").exists(), "other files stay");
    let last = sessions().pop().expect("the last segment");
    let mut r = Replay::open(&last).expect("open");
    r.index(&mut |_, _| {});
    let v = r.verification();
    assert!(v.ok() && v.checked >= 2, "{v:?} {:?}", r.warnings());
}
