//! Session files for the replay targets: one recorded once per thread (HAProxy's
//! recorded rows as events, with keyframes), then damaged per input, either a row's
//! column rewritten with the input or the whole file replaced by it, and replayed.

use std::path::{Path, PathBuf};

use switchboard_core::model::{ServiceId, SourceId};
use switchboard_core::session::replay::Replay;
use switchboard_core::session::{Recorder, SessionMeta, SessionReader};
use switchboard_core::sources::haproxy;
use switchboard_core::{Event, State, Timestamp};

use super::Verdict;

/// A thread's base recording and the path its damaged copies are written to.
struct Files {
    _dir: tempfile::TempDir,
    base: Vec<u8>,
    work: PathBuf,
}

fn record(path: &Path) {
    let csv = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/haproxy/show-stat-rig.csv"),
    )
    .expect("the recorded HAProxy sample");
    let rows = haproxy::parse_stat_csv(&csv).expect("the sample parses");
    let bodies = haproxy::rows_to_events(&ServiceId::from("edge"), &rows);
    let meta = SessionMeta {
        app_version: "fuzz".into(),
        environment: "lab".into(),
        drill: false,
        config: String::new(),
        started_at: Timestamp(1_000),
        focus: None,
        recording: "fuzz".into(),
        segment: 0,
    };
    let mut rec = Recorder::create(path, &meta).expect("a new session file");
    let mut state = State::default();
    for round in 0..3_i64 {
        let events: Vec<Event> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let at = 1_000 + round * 10_000 + i64::try_from(i).unwrap_or(0) * 100;
                Event::new(Timestamp(at), SourceId::from("haproxy"), b.clone())
            })
            .collect();
        for e in &events {
            state.apply(e);
        }
        rec.append(&events).expect("append");
        rec.keyframe(&state).expect("keyframe");
    }
}

thread_local! {
    static FILES: Files = {
        // In memory where there is a tmpfs: the target is the reading, not the disk.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }
            .expect("a temporary directory");
        let base_path = dir.path().join("base.session");
        record(&base_path);
        let base = std::fs::read(&base_path).expect("the recording");
        let work = dir.path().join("damaged.session");
        Files { _dir: dir, base, work }
    };
}

/// The recorded file, the seed of the whole-file target.
pub fn base() -> Vec<u8> {
    FILES.with(|f| f.base.clone())
}

fn clear(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        std::fs::remove_file(PathBuf::from(p)).ok();
    }
}

/// Opens `path` as the replay does and reads everything it offers: metadata,
/// keyframes (checked), every event, the state at the end and in the middle.
fn replay(path: &Path) -> Verdict {
    let mut r = match Replay::open(path) {
        Ok(r) => r,
        Err(e) => return Verdict::Refused(format!("{e:#}")),
    };
    r.index(&mut |_, _| {});
    let last = r.last_seq();
    let first = r.first_seq();
    for seq in [last, first + (last - first) / 2] {
        if let Err(e) = r.state_at_seq(seq) {
            return Verdict::Refused(format!("{e:#}"));
        }
    }
    match SessionReader::open(path).and_then(|s| s.events()) {
        Ok(_) => Verdict::Accepted,
        Err(e) => Verdict::Refused(format!("{e:#}")),
    }
}

/// The input as one damaged row: its first byte picks the row and the column
/// (`body`, `kind`, `source`, `at_millis`, or a keyframe's `hash`), the rest is written
/// there (as text when it is UTF-8, else as a blob, as a torn write could leave it).
pub fn rows(input: &[u8]) -> Verdict {
    let (pick, rest) = input.split_first().map_or((0, input), |(p, r)| (*p, r));
    FILES.with(|f| {
        clear(&f.work);
        std::fs::write(&f.work, &f.base).expect("write the copy");
        let conn = rusqlite::Connection::open(&f.work).expect("open the copy");
        conn.execute_batch("PRAGMA synchronous = OFF")
            .expect("no sync");
        let column = ["body", "kind", "source", "at_millis", "hash"][usize::from(pick % 5)];
        let table = if column == "hash" {
            "keyframes"
        } else {
            "events"
        };
        let sql = format!(
            "UPDATE {table} SET {column} = ?1 WHERE rowid = (SELECT rowid FROM {table} \
             ORDER BY rowid LIMIT 1 OFFSET ?2 % (SELECT COUNT(*) FROM {table}))"
        );
        let offset = i64::from(pick / 5);
        let written = match std::str::from_utf8(rest) {
            Ok(s) => conn.execute(&sql, rusqlite::params![s, offset]),
            Err(_) => conn.execute(&sql, rusqlite::params![rest, offset]),
        };
        written.expect("rewrite the row");
        drop(conn);
        let v = replay(&f.work);
        clear(&f.work);
        v
    })
}

/// The input as the whole file.
pub fn whole(input: &[u8]) -> Verdict {
    FILES.with(|f| {
        clear(&f.work);
        std::fs::write(&f.work, input).expect("write the file");
        let v = replay(&f.work);
        clear(&f.work);
        v
    })
}
