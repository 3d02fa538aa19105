//! Session files for the replay targets: recorded once per thread (HAProxy's recorded
//! rows as events, with keyframes), in this build's format (blocks of compressed
//! events) and in format 2 (a row per event), then damaged per input, either a row's
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
    base_v2: Vec<u8>,
    work: PathBuf,
}

/// Writes the recording to `path` (format 3) and to `v2` (format 2).
fn record(path: &Path, v2: &Path) {
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
    let mut rows = Vec::new();
    let mut keyframes = Vec::new();
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
            rows.push((
                i64::try_from(rows.len()).unwrap_or(0) + 1,
                e.at.0,
                e.source.to_string(),
                e.body.kind_name().to_owned(),
                serde_json::to_string(e).expect("json"),
            ));
        }
        rec.append(&events).expect("append");
        rec.keyframe(&state).expect("keyframe");
        let seq = i64::try_from(rows.len()).unwrap_or(0);
        keyframes.push((seq, state.now.0, seq, state.digest()));
    }
    rec.finish().expect("written");
    super::super::session_v2::write(
        v2,
        2,
        &[
            ("environment", "lab".to_owned()),
            ("drill", "false".to_owned()),
        ],
        &rows,
        &keyframes,
    );
}

thread_local! {
    static FILES: Files = {
        // In memory where there is a tmpfs: the target is the reading, not the disk.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }
            .expect("a temporary directory");
        let base_path = dir.path().join("base.session");
        let v2_path = dir.path().join("base-v2.session");
        record(&base_path, &v2_path);
        // Whole files: fold the WAL in, so the bytes are the whole session.
        let whole = |p: &Path| {
            rusqlite::Connection::open(p)
                .and_then(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
                .expect("checkpoint");
            std::fs::read(p).expect("the recording")
        };
        let (base, base_v2) = (whole(&base_path), whole(&v2_path));
        let work = dir.path().join("damaged.session");
        Files { _dir: dir, base, base_v2, work }
    };
}

/// The recorded files (formats 3 and 2), the seeds of the whole-file target.
pub fn bases() -> Vec<Vec<u8>> {
    FILES.with(|f| vec![f.base.clone(), f.base_v2.clone()])
}

/// A block's worth of event lines, compressed: a seed for the blocks' bodies.
pub fn block_seed() -> Vec<u8> {
    let lines = br#"{"at":1,"source":"haproxy","body":{"kind":"service","data":{"service":"be","role":"service"}}}"#;
    // Its first byte picks format 3's `body` column, the compressed block itself.
    let mut seed = vec![1];
    seed.extend(switchboard_core::session::blocks::compress(lines).expect("compress"));
    seed
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

/// The input as one damaged row: its first byte picks the file's format (its top
/// bit: format 2, else 3), the row and the column, the rest is written there (as text
/// when it is UTF-8, else as a blob, as a torn write could leave it). Format 3's
/// columns: `lines` (the input compressed as a block's event lines, so the lines are
/// read), `body` (the input as the compressed block itself), the block's sequence and
/// time range, or a keyframe's `hash`; format 2's: `body`, `kind`, `source`,
/// `at_millis`, or a keyframe's `hash`.
pub fn rows(input: &[u8]) -> Verdict {
    let (pick, rest) = input.split_first().map_or((0, input), |(p, r)| (*p, r));
    let v2 = pick & 0x80 != 0;
    let pick = pick & 0x7f;
    let columns: &[&str] = if v2 {
        &["body", "kind", "source", "at_millis", "hash"]
    } else {
        &[
            "lines",
            "body",
            "first_seq",
            "last_seq",
            "min_at",
            "max_at",
            "hash",
        ]
    };
    let count = u8::try_from(columns.len()).unwrap_or(1);
    let column = columns[usize::from(pick % count)];
    let offset = i64::from(pick / count);
    FILES.with(|f| {
        clear(&f.work);
        std::fs::write(&f.work, if v2 { &f.base_v2 } else { &f.base }).expect("write the copy");
        let conn = rusqlite::Connection::open(&f.work).expect("open the copy");
        conn.execute_batch("PRAGMA synchronous = OFF")
            .expect("no sync");
        let table = match (column, v2) {
            ("hash", _) => "keyframes",
            (_, true) => "events",
            (_, false) => "blocks",
        };
        let (column, compressed) = if column == "lines" {
            (
                "body",
                Some(switchboard_core::session::blocks::compress(rest).expect("compress")),
            )
        } else {
            (column, None)
        };
        let sql = format!(
            "UPDATE {table} SET {column} = ?1 WHERE rowid = (SELECT rowid FROM {table} \
             ORDER BY rowid LIMIT 1 OFFSET ?2 % (SELECT COUNT(*) FROM {table}))"
        );
        let written = match (compressed, std::str::from_utf8(rest)) {
            (Some(blob), _) => conn.execute(&sql, rusqlite::params![blob, offset]),
            (None, Ok(s)) => conn.execute(&sql, rusqlite::params![s, offset]),
            (None, Err(_)) => conn.execute(&sql, rusqlite::params![rest, offset]),
        };
        // `first_seq` is the row's key, which holds integers only: any other value
        // becomes an integer of the input's bytes.
        let written = written.or_else(|_| {
            let mut n = [0_u8; 8];
            for (i, b) in rest.iter().take(8).enumerate() {
                n[i] = *b;
            }
            conn.execute(&sql, rusqlite::params![i64::from_le_bytes(n), offset])
        });
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
