//! The workflow journal: every run and every step, in SQLite, written *before* a step
//! runs and again with its outcome, so a crash in the middle is never a mystery: a
//! step with a `before` row and no `after` row was interrupted.
//!
//! One file per user (`journal.sqlite` in the data directory), WAL mode. Rows hold
//! commands and outcomes in words, never credentials.

use std::path::Path;

use rusqlite::{Connection, params};

use crate::time::Timestamp;

/// The journal file.
pub struct Journal {
    conn: std::sync::Mutex<Connection>,
}

/// One journaled step.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepRow {
    /// Order within the run.
    pub seq: i64,
    /// `before`, `after`, `verify`, `rollback`.
    pub phase: String,
    /// What was (to be) done.
    pub action: String,
    /// `ok`, `failed`, `pending`...
    pub outcome: String,
    /// Details in words.
    pub detail: String,
    /// When.
    pub at: Timestamp,
}

/// One journaled run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunRow {
    /// Run id.
    pub id: i64,
    /// Workflow kind.
    pub kind: String,
    /// Target.
    pub target: String,
    /// Environment.
    pub environment: String,
    /// OS user.
    pub operator: String,
    /// Start.
    pub started_at: Timestamp,
    /// `running` until it ends: `done`, `rolled_back`, `needs_human`, `cancelled`,
    /// `interrupted` (cut short, then taken over by a resume or a rollback).
    pub outcome: String,
    /// The host whose console ran it.
    pub host: String,
    /// That console's process id.
    pub pid: i64,
    /// The target's state when planned (`UP`, `ON`...).
    pub before: String,
}

/// A run still marked running whose console is gone is interrupted (a crash, kill -9,
/// power loss): from this host, when its process no longer exists; from another
/// host (or a system without `/proc`), when it started longer ago than this.
pub const INTERRUPTED_AFTER_MILLIS: i64 = 10 * 60 * 1000;

impl RunRow {
    /// Whether the run was cut short: still `running`, and its console is gone.
    pub fn interrupted(&self, now: Timestamp) -> bool {
        if self.outcome != "running" {
            return false;
        }
        let proc_dir = std::path::Path::new("/proc");
        if self.host == crate::identity::host_name() && self.pid > 0 && proc_dir.is_dir() {
            // Gone, or a zombie its parent has not reaped yet (state `Z`).
            let stat = std::fs::read_to_string(proc_dir.join(self.pid.to_string()).join("stat"));
            return stat.map_or(true, |st| {
                st.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            });
        }
        now.millis_since(self.started_at) > INTERRUPTED_AFTER_MILLIS
    }
}

impl Journal {
    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, String> {
        self.conn
            .lock()
            .map_err(|_| "journal: a writer panicked; reopen the journal".to_owned())
    }

    /// Opens (creating) the journal at `path`.
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{e} ({})", dir.display()))?;
        }
        let conn = Connection::open(path).map_err(|e| format!("{e} ({})", path.display()))?;
        // Several consoles (or a console and the CLI) share one journal: wait for a
        // writer rather than fail.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| format!("journal {}: {e}", path.display()))?;
        // Switching a new file to WAL takes a lock SQLite does not wait for through the
        // busy handler: consoles creating one journal at once retry here, bounded.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match conn.execute_batch(
                "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS runs (
                 id INTEGER PRIMARY KEY,
                 kind TEXT NOT NULL, target TEXT NOT NULL, environment TEXT NOT NULL,
                 operator TEXT NOT NULL, started_at INTEGER NOT NULL,
                 outcome TEXT NOT NULL DEFAULT 'running',
                 host TEXT NOT NULL DEFAULT '', pid INTEGER NOT NULL DEFAULT 0,
                 before TEXT NOT NULL DEFAULT '');
             CREATE TABLE IF NOT EXISTS steps (
                 run_id INTEGER NOT NULL REFERENCES runs(id),
                 seq INTEGER NOT NULL, phase TEXT NOT NULL, action TEXT NOT NULL,
                 outcome TEXT NOT NULL, detail TEXT NOT NULL, at INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS runs_target ON runs(target, started_at);
             CREATE TABLE IF NOT EXISTS experiments (
                 run_id INTEGER PRIMARY KEY REFERENCES runs(id),
                 experiment TEXT NOT NULL, report TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS experiments_name ON experiments(experiment, run_id);",
            ) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                done => break done,
            }
        }
        .map_err(|e| format!("journal {}: {e}", path.display()))?;
        // Columns added after the first release: who runs it (host, pid) and what the
        // target was before, so an interrupted run can be recognised and undone.
        for (col, decl) in [
            ("host", "TEXT NOT NULL DEFAULT ''"),
            ("pid", "INTEGER NOT NULL DEFAULT 0"),
            ("before", "TEXT NOT NULL DEFAULT ''"),
        ] {
            let has: bool = conn
                .query_row(
                    "SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = ?1",
                    params![col],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n > 0)
                .map_err(|e| format!("journal {}: {e}", path.display()))?;
            if !has {
                // Another console opening the same journal may add it first.
                match conn.execute_batch(&format!("ALTER TABLE runs ADD COLUMN {col} {decl}")) {
                    Ok(()) => {}
                    Err(e) if e.to_string().contains("duplicate column") => {}
                    Err(e) => return Err(format!("journal {}: {e}", path.display())),
                }
            }
        }
        Ok(Self {
            conn: std::sync::Mutex::new(conn),
        })
    }

    /// Starts a run of this process on this host; `before` is the target's state as
    /// planned. Returns its id.
    pub fn start(
        &self,
        kind: &str,
        target: &str,
        environment: &str,
        operator: &str,
        at: Timestamp,
        before: &str,
    ) -> Result<i64, String> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO runs (kind, target, environment, operator, started_at, host, pid, before)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                kind,
                target,
                environment,
                operator,
                at.0,
                crate::identity::host_name(),
                i64::from(std::process::id()),
                before
            ],
        )
        .map_err(|e| format!("journal: {e}"))?;
        Ok(conn.last_insert_rowid())
    }

    /// Records a step row (committed before the call returns).
    pub fn step(&self, run: i64, row: &StepRow) -> Result<(), String> {
        self.conn()?
            .execute(
                "INSERT INTO steps (run_id, seq, phase, action, outcome, detail, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![run, row.seq, row.phase, row.action, row.outcome, row.detail, row.at.0],
            )
            .map(|_| ())
            .map_err(|e| format!("journal: {e}"))
    }

    /// Ends a run with its outcome.
    pub fn finish(&self, run: i64, outcome: &str) -> Result<(), String> {
        self.conn()?
            .execute(
                "UPDATE runs SET outcome = ?2 WHERE id = ?1",
                params![run, outcome],
            )
            .map(|_| ())
            .map_err(|e| format!("journal: {e}"))
    }

    /// Runs on `target` started at or after `since`.
    pub fn runs_since(&self, target: &str, since: Timestamp) -> Result<Vec<RunRow>, String> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT id, kind, target, environment, operator, started_at, outcome, host, pid, before FROM runs
                 WHERE target = ?1 AND started_at >= ?2 ORDER BY id",
            )
            .map_err(|e| format!("journal: {e}"))?;
        let rows = stmt
            .query_map(params![target, since.0], row_to_run)
            .map_err(|e| format!("journal: {e}"))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| format!("journal: {e}"))
    }

    /// The latest runs, newest first.
    pub fn recent(&self, limit: u32) -> Result<Vec<RunRow>, String> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT id, kind, target, environment, operator, started_at, outcome, host, pid, before FROM runs
                 ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| format!("journal: {e}"))?;
        let rows = stmt
            .query_map(params![limit], row_to_run)
            .map_err(|e| format!("journal: {e}"))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| format!("journal: {e}"))
    }

    /// One run by id.
    pub fn run(&self, id: i64) -> Result<Option<RunRow>, String> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT id, kind, target, environment, operator, started_at, outcome, host, pid, before FROM runs
                 WHERE id = ?1",
            )
            .map_err(|e| format!("journal: {e}"))?;
        let mut rows = stmt
            .query_map(params![id], row_to_run)
            .map_err(|e| format!("journal: {e}"))?;
        rows.next().transpose().map_err(|e| format!("journal: {e}"))
    }

    /// `PRAGMA integrity_check`: `ok`, or what is wrong (the crash trials ask it after
    /// every kill).
    pub fn integrity(&self) -> Result<String, String> {
        self.conn()?
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| format!("journal: {e}"))
    }

    /// Every run, oldest first (the crash trials check that none is stuck `running`).
    pub fn all_runs(&self) -> Result<Vec<RunRow>, String> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT id, kind, target, environment, operator, started_at, outcome, host, pid, before FROM runs
                 ORDER BY id",
            )
            .map_err(|e| format!("journal: {e}"))?;
        let rows = stmt
            .query_map([], row_to_run)
            .map_err(|e| format!("journal: {e}"))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| format!("journal: {e}"))
    }
    /// Keeps an experiment run's report (JSON) beside its run.
    pub fn record_experiment(
        &self,
        run: i64,
        experiment: &str,
        report: &str,
    ) -> Result<(), String> {
        self.conn()?
            .execute(
                "INSERT OR REPLACE INTO experiments (run_id, experiment, report) VALUES (?1, ?2, ?3)",
                params![run, experiment, report],
            )
            .map(|_| ())
            .map_err(|e| format!("journal: {e}"))
    }

    /// The latest `limit` reports of `experiment` (every experiment when empty), newest
    /// first, as (run id, JSON).
    pub fn experiment_reports(
        &self,
        experiment: &str,
        limit: u32,
    ) -> Result<Vec<(i64, String)>, String> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT run_id, report FROM experiments WHERE ?1 = '' OR experiment = ?1
                 ORDER BY run_id DESC LIMIT ?2",
            )
            .map_err(|e| format!("journal: {e}"))?;
        stmt.query_map(params![experiment, limit], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(|e| format!("journal: {e}"))
    }

    /// The steps of a run, in order.
    pub fn steps(&self, run: i64) -> Result<Vec<StepRow>, String> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT seq, phase, action, outcome, detail, at FROM steps WHERE run_id = ?1 ORDER BY rowid")
            .map_err(|e| format!("journal: {e}"))?;
        let rows = stmt
            .query_map(params![run], |r| {
                Ok(StepRow {
                    seq: r.get(0)?,
                    phase: r.get(1)?,
                    action: r.get(2)?,
                    outcome: r.get(3)?,
                    detail: r.get(4)?,
                    at: Timestamp(r.get(5)?),
                })
            })
            .map_err(|e| format!("journal: {e}"))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| format!("journal: {e}"))
    }
}

fn row_to_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        target: r.get(2)?,
        environment: r.get(3)?,
        operator: r.get(4)?,
        started_at: Timestamp(r.get(5)?),
        outcome: r.get(6)?,
        host: r.get(7)?,
        pid: r.get(8)?,
        before: r.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consoles_opening_one_new_journal_at_once_all_succeed() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("journal.sqlite");
        let opened: Vec<Result<(), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| Journal::open(&path).map(|_| ())))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert!(opened.iter().all(Result::is_ok), "{opened:?}");
    }

    #[test]
    fn a_run_and_its_steps_round_trip_and_an_interrupted_step_shows() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("j/journal.sqlite");
        let j = Journal::open(&path).expect("open");
        let run = j
            .start(
                "drain",
                "haproxy/be_web/web1",
                "prod",
                "ana",
                Timestamp(10),
                "UP",
            )
            .expect("start");
        j.step(
            run,
            &StepRow {
                seq: 0,
                phase: "before".into(),
                action: "set server be_web/web1 state drain".into(),
                outcome: "pending".into(),
                detail: String::new(),
                at: Timestamp(11),
            },
        )
        .expect("step");
        drop(j);
        // Reopened as after a crash: the run is still running, the step has no `after`.
        let j = Journal::open(&path).expect("reopen");
        let runs = j
            .runs_since("haproxy/be_web/web1", Timestamp(0))
            .expect("runs");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].outcome, "running");
        assert_eq!(runs[0].before, "UP");
        assert!(
            !runs[0].interrupted(Timestamp(20)),
            "this process still runs it"
        );
        let mut gone = runs[0].clone();
        gone.pid = i64::from(u32::MAX);
        assert!(gone.interrupted(Timestamp(20)), "its process is gone");
        let steps = j.steps(run).expect("steps");
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].phase, "before");
        j.finish(run, "done").expect("finish");
        assert_eq!(j.recent(5).expect("recent")[0].outcome, "done");
    }
}
