//! The journal and the notes store read back from damaged files: a database written
//! once per thread by the real `Journal` and `Store`, then per input either replaced
//! whole (an input that starts with SQLite's magic) or with one row's column rewritten
//! with the input, and opened and read as the console does after a restart.

use std::path::{Path, PathBuf};

use switchboard_core::Timestamp;
use switchboard_core::store::{NewNote, Store};
use switchboard_core::workflow::{Journal, StepRow};

use super::Verdict;

/// SQLite's file magic: inputs starting with it are whole files.
const MAGIC: &[u8] = b"SQLite format 3\0";

struct Files {
    _dir: tempfile::TempDir,
    journal: Vec<u8>,
    store: Vec<u8>,
    work: PathBuf,
}

fn tempdir() -> tempfile::TempDir {
    // In memory where there is a tmpfs: the target is the reading, not the disk.
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("a temporary directory")
}

fn write_journal(path: &Path) {
    let j = Journal::open(path).expect("a new journal");
    for n in 0..3_i64 {
        let run = j
            .start(
                "fallback",
                "ingress/shop",
                "lab",
                "oncall",
                Timestamp(1_000 + n),
                "UP",
            )
            .expect("start");
        for (seq, phase) in ["before", "after", "verify"].into_iter().enumerate() {
            j.step(
                run,
                &StepRow {
                    seq: i64::try_from(seq).unwrap_or(0),
                    phase: phase.into(),
                    action: "route ingress/shop to fallbacksvc".into(),
                    outcome: "ok".into(),
                    detail: "2 of 2 servers up".into(),
                    at: Timestamp(2_000 + n),
                },
            )
            .expect("step");
        }
        if n > 0 {
            j.finish(run, "done").expect("finish");
        }
    }
}

fn write_store(path: &Path) {
    let s = Store::open(path).expect("a new store").store;
    let id = s
        .open_incident(
            "checkout 5xx",
            1,
            "lab",
            "breaker",
            Timestamp(1_000),
            Some(Timestamp(1_500)),
        )
        .expect("incident");
    s.set_status(id, "mitigated", Timestamp(3_000))
        .expect("status");
    for n in 0..3_i64 {
        let note = s
            .add_note(&NewNote {
                incident: Some(id),
                author: "oncall".into(),
                body: format!("**step {n}**: drained lb1, `5xx` down"),
                at: Timestamp(2_000 + n),
                pinned_at: None,
                entity: Some("service:checkout".into()),
            })
            .expect("note");
        s.edit_note(note, "edited", Timestamp(2_500 + n))
            .expect("edit");
    }
}

thread_local! {
    static FILES: Files = {
        let dir = tempdir();
        let j = dir.path().join("journal.db");
        write_journal(&j);
        let s = dir.path().join("store.db");
        write_store(&s);
        let journal = std::fs::read(&j).expect("journal");
        let store = std::fs::read(&s).expect("store");
        let work = dir.path().join("damaged.db");
        Files { _dir: dir, journal, store, work }
    };
}

/// The recorded journal and store, seeds of both targets.
pub fn seeds() -> Vec<Vec<u8>> {
    FILES.with(|f| vec![f.journal.clone(), f.store.clone()])
}

fn clear(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        std::fs::remove_file(PathBuf::from(p)).ok();
    }
}

/// Writes the damaged copy: `input` whole when it is a file, else `base` with the
/// column of `columns` picked by the input's first byte rewritten with the rest.
fn damage(work: &Path, base: &[u8], input: &[u8], columns: &[(&str, &str)]) {
    clear(work);
    if input.starts_with(MAGIC) {
        std::fs::write(work, input).expect("write the file");
        return;
    }
    std::fs::write(work, base).expect("write the copy");
    let (pick, rest) = input.split_first().map_or((0, input), |(p, r)| (*p, r));
    let (table, column) = columns[usize::from(pick) % columns.len()];
    let conn = rusqlite::Connection::open(work).expect("open the copy");
    conn.execute_batch("PRAGMA synchronous = OFF")
        .expect("no sync");
    let sql = format!(
        "UPDATE {table} SET {column} = ?1 WHERE rowid = (SELECT rowid FROM {table} \
         ORDER BY rowid LIMIT 1 OFFSET ?2 % MAX(1, (SELECT COUNT(*) FROM {table})))"
    );
    let offset = i64::from(pick) / i64::try_from(columns.len()).unwrap_or(1);
    // A column's constraints may refuse the value: that copy stays as it was.
    match std::str::from_utf8(rest) {
        Ok(s) => conn.execute(&sql, rusqlite::params![s, offset]).ok(),
        Err(_) => conn.execute(&sql, rusqlite::params![rest, offset]).ok(),
    };
}

/// The journal as the console reads it after a restart: recent runs, their steps, and
/// which were interrupted.
pub fn journal(input: &[u8]) -> Verdict {
    FILES.with(|f| {
        damage(
            &f.work,
            &f.journal,
            input,
            &[
                ("runs", "kind"),
                ("runs", "outcome"),
                ("runs", "started_at"),
                ("runs", "pid"),
                ("runs", "host"),
                ("steps", "detail"),
                ("steps", "at"),
                ("steps", "seq"),
                ("steps", "run_id"),
            ],
        );
        let read = || -> Result<(), String> {
            let j = Journal::open(&f.work)?;
            for run in j.recent(50)? {
                run.interrupted(Timestamp(10_000_000));
                j.steps(run.id)?;
                j.run(run.id)?;
            }
            j.runs_since("ingress/shop", Timestamp(0))?;
            Ok(())
        };
        let v = match read() {
            Ok(()) => Verdict::Accepted,
            Err(e) => Verdict::Refused(e),
        };
        clear(&f.work);
        v
    })
}

/// The notes store as the console reads it: incidents, notes, their history, search,
/// the timeline and the postmortem.
pub fn store(input: &[u8]) -> Verdict {
    FILES.with(|f| {
        damage(
            &f.work,
            &f.store,
            input,
            &[
                ("incidents", "title"),
                ("incidents", "severity"),
                ("incidents", "status"),
                ("incidents", "started_at"),
                ("incidents", "objectives"),
                ("notes", "body"),
                ("notes", "pinned_at"),
                ("notes", "incident_id"),
                ("note_history", "body"),
                ("status_changes", "at"),
                ("status_changes", "status"),
            ],
        );
        let read = || -> Result<(), switchboard_core::store::StoreError> {
            let s = Store::open(&f.work)?.store;
            for i in s.incidents()? {
                s.incident(i.id)?;
                s.time_in_status(i.id, Timestamp(10_000_000))?;
                s.timeline(i.id)?;
                s.postmortem(i.id, Timestamp(10_000_000))?.to_markdown();
                for n in s.notes(Some(i.id))? {
                    s.history(n.id)?;
                }
            }
            s.notes(None)?;
            s.search("drained", 20)?;
            Ok(())
        };
        let v = super::verdict(read());
        clear(&f.work);
        v
    })
}
