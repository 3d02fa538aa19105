//! Round trips, replay determinism and damaged files.

use proptest::prelude::*;

use std::path::Path;

use rusqlite::Connection;

use super::*;
use crate::event::EventBody;
use crate::event::MemberStatus;
use crate::model::{ClusterId, ClusterKind, Health, InstanceId, MemberId, ServiceId, SourceId};
use crate::sources::drill::simulate;
use crate::state::State;

fn meta() -> SessionMeta {
    SessionMeta {
        app_version: "test".into(),
        environment: "lab".into(),
        drill: true,
        config: String::new(),
        started_at: Timestamp(1),
        focus: None,
        recording: String::new(),
        segment: 0,
    }
}

fn drill_events(seed: u64, secs: i64) -> Vec<Event> {
    simulate(seed, 120, secs)
}

#[path = "../../tests/common/session_v2.rs"]
mod session_v2;

/// `events` as a file of format 1 or 2 (see `session_v2`), with the states' keyframes
/// after every `every` events (format 2).
fn write_old(path: &Path, format: i32, events: &[Event], every: usize) {
    let m = meta();
    let meta = [
        ("app_version", m.app_version),
        ("environment", m.environment),
        ("drill", m.drill.to_string()),
        ("config", m.config),
        ("started_at", m.started_at.0.to_string()),
    ];
    let mut state = State::default();
    let mut keyframes = Vec::new();
    let mut rows = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let seq = i64::try_from(i).expect("fits") + 1;
        state.apply(e);
        rows.push((
            seq,
            e.at.0,
            e.source.to_string(),
            e.body.kind_name().to_owned(),
            serde_json::to_string(e).expect("json"),
        ));
        if (i + 1) % every == 0 {
            keyframes.push((seq, state.now.0, seq, state.digest()));
        }
    }
    session_v2::write(path, format, &meta, &rows, &keyframes);
}

#[test]
fn round_trip_and_meta() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sqlite");
    let events = drill_events(3, 30);
    let mut rec = Recorder::create(&path, &meta()).expect("create");
    rec.append(&events[..10]).expect("append");
    rec.append(&events[10..]).expect("append");
    drop(rec);
    let reader = SessionReader::open(&path).expect("open");
    assert_eq!(reader.meta().expect("meta"), meta());
    assert_eq!(reader.event_count().expect("count"), events.len() as u64);
    assert_eq!(reader.events().expect("events"), events);
}

#[test]
fn refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sqlite");
    std::fs::write(&path, b"x").expect("write");
    assert!(Recorder::create(&path, &meta()).is_err());
}

#[test]
fn foreign_and_garbage_files_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, this is not a database").expect("write");
    let err = SessionReader::open(&text)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("not a Switchboard session"), "{err}");

    let other = dir.path().join("other.sqlite");
    Connection::open(&other)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x)"))
        .expect("sqlite");
    let err = SessionReader::open(&other)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("not a Switchboard session"), "{err}");

    let missing = dir.path().join("missing.sqlite");
    assert!(SessionReader::open(&missing).is_err());
}

#[test]
fn newer_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sqlite");
    drop(Recorder::create(&path, &meta()).expect("create"));
    Connection::open(&path)
        .and_then(|c| c.execute_batch("PRAGMA user_version = 99"))
        .expect("bump");
    let err = SessionReader::open(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("format 99 is newer"), "{err}");
}

#[test]
fn damaged_rows_are_reported_not_panicked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sqlite");
    write_old(&path, 2, &drill_events(1, 3), 1000);
    Connection::open(&path)
        .and_then(|c| {
            c.execute_batch("UPDATE events SET body = '{\"at\": 1, broken' WHERE seq = 5")
        })
        .expect("damage");
    let reader = SessionReader::open(&path).expect("open");
    let mut seen = 0;
    let err = reader
        .for_each(|_| seen += 1)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("event 5 is damaged"), "{err}");
    assert_eq!(seen, 4, "the valid prefix was delivered");
}

/// Found by fuzzing: a damaged row's 40 kB value was quoted whole in the error.
#[test]
fn a_huge_damaged_row_is_quoted_in_part() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("s.session");
    write_old(&path, 2, &drill_events(1, 3), 1000);
    Connection::open(&path)
        .and_then(|c| {
            c.execute(
                "UPDATE events SET body = ?1 WHERE seq = 2",
                [format!("\"{}\"", "x".repeat(40_000))],
            )
        })
        .expect("damage");
    let err = SessionReader::open(&path)
        .expect("open")
        .events()
        .expect_err("damaged")
        .to_string();
    assert!(err.contains("event 2 is damaged"), "{err:.100}");
    assert!(err.contains("xxx…"), "{err:.100}");
    assert!(err.chars().count() < 500, "{} chars", err.chars().count());
}

/// A row past [`MAX_ROW_BYTES`] (here a 65 MB value written by another program) is
/// refused in words before it is read into memory; the events before it replay. In
/// format 2 the value is an event's body, in format 3 a block's.
#[test]
fn a_row_past_the_limit_is_refused_not_read() {
    let dir = tempfile::tempdir().expect("dir");
    let huge = usize::try_from(MAX_ROW_BYTES).expect("fits") + (1 << 20);
    let old = dir.path().join("old.session");
    write_old(&old, 2, &drill_events(1, 3), 1000);
    Connection::open(&old)
        .and_then(|c| {
            c.execute(
                "UPDATE events SET body = ?1 WHERE seq = 3",
                [format!("\"{}\"", "x".repeat(huge))],
            )
        })
        .expect("damage");
    let new = dir.path().join("new.session");
    let events = drill_events(1, 3);
    let mut rec = Recorder::create(&new, &meta()).expect("create");
    rec.append(&events[..2]).expect("append");
    rec.flush().expect("block of 2");
    rec.append(&events[2..]).expect("append");
    drop(rec);
    Connection::open(&new)
        .and_then(|c| {
            c.execute(
                "UPDATE blocks SET body = zeroblob(?1) WHERE first_seq = 3",
                [i64::try_from(huge).expect("fits")],
            )
        })
        .expect("damage");
    for path in [old, new] {
        let reader = SessionReader::open(&path).expect("open");
        let mut seen = 0;
        let err = reader
            .for_each(|_| seen += 1)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("event 3 is damaged"), "{err:.200}");
        assert!(err.contains("larger than 64 MB"), "{err:.200}");
        assert!(!err.contains("xxx"), "{err:.200}");
        assert_eq!(seen, 2, "the events before it were delivered");
    }
}

/// Format 3's blocks: one that does not decode, one whose count is wrong, one missing,
/// one with a damaged line: each ends the readable prefix with the first event it
/// held, in words; the blocks before it are read.
#[test]
fn damaged_blocks_end_the_prefix_in_words() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("s.session");
    let events = drill_events(4, 10);
    let mut rec = Recorder::create(&path, &meta()).expect("create");
    for chunk in events.chunks(100) {
        rec.append(chunk).expect("append");
        rec.flush().expect("a block per chunk");
    }
    drop(rec);
    let damage = |sql: &str| {
        let copy = dir.path().join("damaged.session");
        std::fs::remove_file(&copy).ok();
        Connection::open(&path)
            .and_then(|c| c.execute("VACUUM INTO ?1", [copy.to_string_lossy()]))
            .expect("copy");
        Connection::open(&copy)
            .and_then(|c| c.execute_batch(sql))
            .expect("damage");
        let mut seen = 0;
        let err = SessionReader::open(&copy)
            .expect("open")
            .for_each(|_| seen += 1)
            .expect_err("damaged")
            .to_string();
        (seen, err)
    };
    let (seen, err) = damage("UPDATE blocks SET body = x'00112233' WHERE first_seq = 201");
    assert_eq!(seen, 200);
    assert!(
        err.contains("event 201 is damaged: not a compressed block"),
        "{err}"
    );
    let (seen, err) = damage("UPDATE blocks SET last_seq = 310 WHERE first_seq = 201");
    assert_eq!(seen, 200);
    assert!(err.contains("holds 100 events"), "{err}");
    let (seen, err) = damage("DELETE FROM blocks WHERE first_seq = 101");
    assert_eq!(seen, 100);
    assert!(
        err.contains("event 101 is damaged: events 101 to 200 are missing"),
        "{err}"
    );
    let (seen, err) = damage("UPDATE blocks SET body = 'text' WHERE first_seq = 1");
    assert_eq!(seen, 0);
    assert!(err.contains("event 1 is damaged"), "{err}");
    // A line that is not an event, inside a block that decodes.
    let mut lines = Vec::new();
    for e in &events[100..200] {
        lines.extend(serde_json::to_vec(e).expect("json"));
        lines.push(b'\n');
    }
    let cut = lines.iter().position(|b| *b == b'\n').expect("a line") + 10;
    lines.splice(cut..cut + 5, b"]]]]]".iter().copied());
    let blob = blocks::compress(&lines).expect("compress");
    let copy = dir.path().join("line.session");
    Connection::open(&path)
        .and_then(|c| c.execute("VACUUM INTO ?1", [copy.to_string_lossy()]))
        .expect("copy");
    Connection::open(&copy)
        .and_then(|c| c.execute("UPDATE blocks SET body = ?1 WHERE first_seq = 101", [blob]))
        .expect("damage");
    let mut seen = 0;
    let err = SessionReader::open(&copy)
        .expect("open")
        .for_each(|_| seen += 1)
        .expect_err("damaged")
        .to_string();
    assert_eq!(seen, 101, "the block's first line still reads");
    assert!(err.contains("event 102 is damaged"), "{err}");
}

/// Files of formats 1 and 2 (a row per event) read as they did: the same events,
/// span, seeks and sources; format 2's keyframes check, format 1 says it has none.
#[test]
fn older_formats_still_read() {
    let dir = tempfile::tempdir().expect("dir");
    let events = drill_events(6, 90);
    let new = dir.path().join("three.session");
    let mut rec = Recorder::create(&new, &meta()).expect("create");
    for chunk in events.chunks(500) {
        rec.append(chunk).expect("append");
        rec.flush().expect("flush");
    }
    drop(rec);
    let three = SessionReader::open(&new).expect("open 3");
    assert_eq!(three.format().expect("format"), 3);
    for format in [1, 2] {
        let path = dir.path().join(format!("f{format}.session"));
        write_old(&path, format, &events, 1000);
        let r = SessionReader::open(&path).expect("open");
        assert_eq!(r.format().expect("format"), format);
        assert_eq!(r.events().expect("events"), events);
        assert_eq!(r.event_count().expect("count"), events.len() as u64);
        assert_eq!(r.span().expect("span"), three.span().expect("span"));
        assert_eq!(
            r.sources().expect("sources"),
            three.sources().expect("sources")
        );
        for at in [0, 1, 30_000, 45_500, 1 << 40] {
            assert_eq!(
                r.seq_at(Timestamp(at)).expect("seq"),
                three.seq_at(Timestamp(at)).expect("seq"),
                "seq at {at}"
            );
        }
        let mut replay = replay::Replay::open(&path).expect("replay");
        replay.index(&mut |_, _| {});
        let v = replay.verification();
        if format == 2 {
            assert!(v.ok() && v.checked == events.len() / 1000, "{v:?}");
            assert!(replay.warnings().is_empty(), "{:?}", replay.warnings());
        } else {
            assert_eq!(v.checked, 0);
            assert!(replay.warnings()[0].contains("format 1 has no keyframes"));
        }
    }
    assert_eq!(three.events().expect("events"), events);
}

#[test]
fn truncated_file_gives_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sqlite");
    let mut rec = Recorder::create(&path, &meta()).expect("create");
    for chunk in drill_events(1, 60).chunks(50) {
        rec.append(chunk).expect("append");
        rec.flush().expect("flush");
    }
    drop(rec);
    Connection::open(&path)
        .and_then(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
        .expect("checkpoint");
    let bytes = std::fs::read(&path).expect("read");
    for cut in [10, 100, 1000, bytes.len() / 2] {
        let p = dir.path().join(format!("cut{cut}.sqlite"));
        std::fs::write(&p, &bytes[..cut.min(bytes.len())]).expect("write");
        // Either refused at open or while reading; never a panic.
        if let Ok(r) = SessionReader::open(&p) {
            let _ = r.for_each(|_| {});
        }
    }
}

/// Replaying the recorded drill stream rebuilds exactly the live state.
#[test]
fn replay_of_recorded_drill_matches_live_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sqlite");
    let events = drill_events(9, 240);
    let mut live = State::default();
    let mut rec = Recorder::create(&path, &meta()).expect("create");
    for chunk in events.chunks(37) {
        live.apply_all(chunk);
        rec.append(chunk).expect("append");
    }
    drop(rec);
    let mut replayed = State::default();
    SessionReader::open(&path)
        .expect("open")
        .for_each(|e| replayed.apply(&e))
        .expect("read");
    assert_eq!(replayed, live);
    assert!(
        !live.incidents.incidents.is_empty(),
        "the run had incidents to rebuild"
    );
}

fn arb_event() -> impl Strategy<Value = Event> {
    let health = prop_oneof![
        Just(Health::Healthy),
        Just(Health::Unhealthy),
        Just(Health::Degraded),
        Just(Health::Unknown)
    ];
    let inst = (0..20u8, 0..4u8, health).prop_map(|(i, s, h)| EventBody::InstanceHealth {
        instance: InstanceId::new(format!("i{i}")),
        service: ServiceId::new(format!("s{s}")),
        health: h,
        detail: None,
    });
    let calls = (0..3u8, 0..50u32, 0..50u32).prop_map(|(b, ok, failed)| EventBody::BreakerCalls {
        breaker: crate::model::BreakerId::new(format!("b{b}")),
        ok,
        failed,
    });
    let member = (0..5u8, any::<bool>(), 0..5u8, 1..4u64).prop_map(|(m, reachable, l, term)| {
        EventBody::MemberStatus {
            cluster: ClusterId::new("c"),
            cluster_kind: ClusterKind::Etcd,
            status: MemberStatus {
                member: MemberId::new(format!("m{m}")),
                reachable,
                voter: true,
                leader: reachable.then(|| MemberId::new(format!("m{l}"))),
                term,
                ..MemberStatus::default()
            },
        }
    });
    let removed = (0..20u8).prop_map(|i| EventBody::InstanceRemoved {
        instance: InstanceId::new(format!("i{i}")),
    });
    (0..100_000i64, prop_oneof![inst, calls, member, removed])
        .prop_map(|(dt, body)| Event::new(Timestamp(dt), SourceId::new("p"), body))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any event sequence, recorded and read back, folds to the same state.
    #[test]
    fn replaying_a_recorded_sequence_rebuilds_the_same_state(mut events in proptest::collection::vec(arb_event(), 1..200)) {
        events.sort_by_key(|e| e.at);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.sqlite");
        let mut live = State::default();
        let mut rec = Recorder::create(&path, &meta()).expect("create");
        for chunk in events.chunks(7) {
            live.apply_all(chunk);
            rec.append(chunk).expect("append");
        }
        drop(rec);
        let mut replayed = State::default();
        SessionReader::open(&path).expect("open").for_each(|e| replayed.apply(&e)).expect("read");
        prop_assert_eq!(replayed, live);
    }
}

#[test]
fn a_segment_appears_whole_or_not_at_all() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("session-x.sqlite");
    // What a console killed while creating it left: a half-built file beside it.
    let partial = super::partial_path(&path);
    std::fs::write(&partial, b"half a header").expect("partial");
    let events = drill_events(5, 20);
    let (first, rest) = events.split_at(events.len() / 2);
    let mut base = State::default();
    base.apply_all(first);
    let mut rec = Recorder::create_from(&path, &meta(), &base).expect("create");
    assert!(!partial.exists(), "built aside, then renamed into place");
    rec.append(rest).expect("append");
    drop(rec);
    let reader = SessionReader::open(&path).expect("open");
    assert_eq!(reader.meta().expect("meta").environment, meta().environment);
    let (seq, state) = reader
        .base()
        .expect("base")
        .expect("a segment has its base");
    assert_eq!(seq, i64::try_from(base.events_applied).expect("seq"));
    assert_eq!(state.digest(), base.digest());
    assert_eq!(reader.keyframes().expect("keyframes")[0].seq, seq);
    assert_eq!(reader.integrity().expect("check"), "ok");
    // Its events begin after its starting state: none before it are missing.
    assert_eq!(reader.events().expect("events"), rest);
    let sources = reader.sources().expect("sources");
    assert_eq!(sources[0].2, rest.len() as u64);
}
