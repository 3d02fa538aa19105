//! The incident store: incidents and the operator's notes, in one SQLite database per
//! user (`notes.sqlite` in the data directory), so nothing depends on a chat tool or a
//! hosted service being up, and nothing written is lost.
//!
//! - WAL mode, `synchronous = FULL` (a note reported saved survives a crash or a
//!   `kill -9`), foreign keys on, a 2 s busy timeout (a second console waits briefly,
//!   then is told).
//! - Schema versions in `PRAGMA user_version`, migrated in order at open; a database
//!   from a newer console is refused rather than guessed at.
//! - A database that fails `PRAGMA quick_check` at open is copied aside
//!   (`notes.sqlite.corrupt-<time>`) and a fresh one is created; [`Opened::recovered`]
//!   says so, for the user.
//! - Notes are Markdown with an author, created and edited times (every edit keeps the
//!   previous text), a moment they are pinned to and optionally an entity (a service,
//!   instance, cluster, breaker or workflow run); full-text search through FTS5.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::time::{Clock as _, Timestamp};

/// The schema this console writes.
pub const SCHEMA_VERSION: i64 = 4;

/// Each version's migration from the one before (index 0: empty file -> 1).
const MIGRATIONS: [&str; 4] = [
    r"
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        severity INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 3),
        status TEXT NOT NULL DEFAULT 'triage'
            CHECK (status IN ('triage', 'mitigated', 'resolved')),
        environment TEXT NOT NULL,
        origin TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        detected_at INTEGER,
        mitigated_at INTEGER,
        resolved_at INTEGER
    );
    CREATE TABLE status_changes (
        incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER REFERENCES incidents(id) ON DELETE SET NULL,
        author TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        edited_at INTEGER NOT NULL,
        pinned_at INTEGER NOT NULL,
        entity TEXT
    );
    CREATE INDEX notes_incident ON notes(incident_id, pinned_at);
    CREATE TABLE note_history (
        note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
        body TEXT NOT NULL,
        replaced_at INTEGER NOT NULL
    );
    CREATE VIRTUAL TABLE notes_fts USING fts5(body, content = 'notes', content_rowid = 'id');
    CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
        INSERT INTO notes_fts(rowid, body) VALUES (new.id, new.body);
    END;
    CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN
        INSERT INTO notes_fts(notes_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END;
    CREATE TRIGGER notes_au AFTER UPDATE OF body ON notes BEGIN
        INSERT INTO notes_fts(notes_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO notes_fts(rowid, body) VALUES (new.id, new.body);
    END;
",
    r"
    ALTER TABLE incidents ADD COLUMN external TEXT;
    CREATE UNIQUE INDEX incidents_external ON incidents(external) WHERE external IS NOT NULL;
    CREATE TABLE timeline (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        text TEXT NOT NULL,
        starred INTEGER NOT NULL DEFAULT 0,
        hidden INTEGER NOT NULL DEFAULT 0,
        UNIQUE (incident_id, at, subject, text)
    );
",
    r"
    ALTER TABLE incidents ADD COLUMN impact TEXT NOT NULL DEFAULT '';
    ALTER TABLE incidents ADD COLUMN severity_by_hand INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE incidents ADD COLUMN objectives TEXT NOT NULL DEFAULT '{}';
    CREATE TABLE actions (
        incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        run_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        operator TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        guards TEXT NOT NULL,
        PRIMARY KEY (incident_id, run_id)
    );
",
    // Notes shared through a relay: a client-made id (a retry never doubles a note),
    // the incident's key on every console (`incidents.external`), and where the note
    // stands: NULL kept here only, 'pending' not yet taken by the relay, 'shared'.
    r"
    ALTER TABLE notes ADD COLUMN uid TEXT;
    ALTER TABLE notes ADD COLUMN incident_key TEXT;
    ALTER TABLE notes ADD COLUMN shared TEXT CHECK (shared IN ('pending', 'shared'));
    CREATE UNIQUE INDEX notes_uid ON notes(uid) WHERE uid IS NOT NULL;
    CREATE INDEX notes_shared ON notes(shared) WHERE shared IS NOT NULL;
",
];

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database is busy (another console writes) beyond the wait.
    #[error("the notes database is busy (another console is writing); the note is kept, try again")]
    Busy,
    /// Made by a newer console.
    #[error(
        "the notes database {path} has schema {found}, newer than this console's {SCHEMA_VERSION}; update the console"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
    /// The disk is full, or the database or its directory cannot be written.
    #[error("the notes database cannot be written ({0}); nothing was saved, the text is kept")]
    Unwritable(String),
    /// Anything else SQLite or the file system said.
    #[error("notes database: {0}")]
    Sqlite(String),
    /// Not found.
    #[error("{0}")]
    NotFound(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Self::Busy
            }
            Some(rusqlite::ErrorCode::DiskFull) => Self::Unwritable("the disk is full".into()),
            Some(
                rusqlite::ErrorCode::ReadOnly
                | rusqlite::ErrorCode::CannotOpen
                | rusqlite::ErrorCode::PermissionDenied,
            ) => Self::Unwritable(e.to_string()),
            _ => Self::Sqlite(e.to_string()),
        }
    }
}

/// A severity, Sev0 (worst) to Sev3.
pub type Severity = u8;

/// An incident as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentRow {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// 0..=3.
    pub severity: Severity,
    /// `triage`, `mitigated`, `resolved`.
    pub status: String,
    /// Environment.
    pub environment: String,
    /// `detected` (by the console) or `manual`.
    pub origin: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it was detected.
    pub detected_at: Option<Timestamp>,
    /// When it was mitigated.
    pub mitigated_at: Option<Timestamp>,
    /// When it was resolved.
    pub resolved_at: Option<Timestamp>,
    /// What it hit (for a detected incident, the subjects the console saw unhealthy).
    pub impact: String,
    /// The severity was set by a person (the console no longer raises it).
    pub severity_by_hand: bool,
    /// Its environment's targets and cost figures when it opened.
    pub objectives: Objectives,
}

impl IncidentRow {
    /// Time to detect, in milliseconds.
    pub fn mttd_millis(&self) -> Option<i64> {
        self.detected_at.map(|d| d.millis_since(self.started_at))
    }

    /// Time to recover (detection to resolution; from the start when it was never
    /// detected), in milliseconds.
    pub fn mttr_millis(&self) -> Option<i64> {
        self.resolved_at
            .map(|r| r.millis_since(self.detected_at.unwrap_or(self.started_at)))
    }
}

/// A note as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NoteRow {
    /// Id.
    pub id: i64,
    /// Its incident.
    pub incident: Option<i64>,
    /// OS user.
    pub author: String,
    /// Markdown.
    pub body: String,
    /// Created.
    pub created_at: Timestamp,
    /// Last edited.
    pub edited_at: Timestamp,
    /// The moment it is about.
    pub pinned_at: Timestamp,
    /// The entity it is about (`service:checkout`, `run:12`...).
    pub entity: Option<String>,
    /// Written while the relay was out of reach: kept here, sent when it is back.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

/// A note to add.
#[derive(Clone, Debug, Default)]
pub struct NewNote {
    /// Its incident.
    pub incident: Option<i64>,
    /// OS user.
    pub author: String,
    /// Markdown.
    pub body: String,
    /// Now.
    pub at: Timestamp,
    /// The moment it is about (default: `at`).
    pub pinned_at: Option<Timestamp>,
    /// The entity it is about.
    pub entity: Option<String>,
}

/// The store and what opening it had to do.
pub struct Opened {
    /// The store.
    pub store: Store,
    /// A corrupt database was found and copied aside here; a fresh one was made.
    pub recovered: Option<PathBuf>,
}

/// The incident store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    // The file is named in what cannot be opened: the operator must find it.
    let named = |e: StoreError| match e {
        StoreError::Sqlite(why) => StoreError::Sqlite(format!("{why} ({})", path.display())),
        StoreError::Unwritable(why) => StoreError::Unwritable(format!("{why}: {}", path.display())),
        other => other,
    };
    let conn = Connection::open(path).map_err(|e| named(e.into()))?;
    conn.busy_timeout(Duration::from_secs(2))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )
    .map_err(|e| {
        named(match unwritable_io(e) {
            StoreError::Unwritable(_) if disk_full_beside(path) => {
                StoreError::Unwritable("the disk is full".into())
            }
            other => other,
        })
    })?;
    Ok(conn)
}

/// Whether the file system holding `path` is out of space: `SQLite` says "disk I/O
/// error" when it cannot size the WAL's shared memory on a full disk, which tells the
/// operator nothing; a probe write beside the file tells.
fn disk_full_beside(path: &Path) -> bool {
    let Some(dir) = path.parent() else {
        return false;
    };
    let probe = dir.join(format!(".switchboard-space-{}", std::process::id()));
    let written = std::fs::write(&probe, vec![0u8; 64 * 1024]);
    std::fs::remove_file(&probe).ok();
    written.is_err_and(|e| e.kind() == std::io::ErrorKind::StorageFull)
}

/// An I/O error opening the WAL's shared memory or log (a full disk may come as
/// `SQLITE_IOERR` or `SQLITE_CANTOPEN` rather than `SQLITE_FULL`) is the disk refusing,
/// not damage: the file is left alone and the error said as one.
fn unwritable_io(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::CannotOpen) => {
            StoreError::Unwritable(e.to_string())
        }
        _ => StoreError::from(e),
    }
}

/// A sound database: `quick_check` says `ok`. `Err` when it could not even be asked
/// (a full disk, an unreadable file): that says nothing of damage.
fn healthy(conn: &Connection) -> Result<bool, StoreError> {
    match conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)) {
        Ok(s) => Ok(s == "ok"),
        Err(e) => match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                Ok(false)
            }
            _ => Err(unwritable_io(e)),
        },
    }
}

impl Store {
    /// Opens (creating and migrating) the store at `path`. A corrupt file is copied
    /// aside and replaced by a fresh one.
    pub fn open(path: &Path) -> Result<Opened, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Sqlite(format!("{e} ({})", dir.display())))?;
        }
        let mut recovered = None;
        let conn = match connect(path).and_then(|c| Ok((healthy(&c)?, c))) {
            Ok((true, c)) => c,
            // A full disk, a read-only mount, a missing permission: the file may well be
            // sound, and moving it aside would hide every note in it. Say so and leave it.
            Err(e @ (StoreError::Unwritable(_) | StoreError::Busy)) => return Err(e),
            other => {
                if path.exists() {
                    drop(other);
                    let aside = PathBuf::from(format!(
                        "{}.corrupt-{}",
                        path.display(),
                        crate::time::SystemClock.now().0
                    ));
                    std::fs::rename(path, &aside).map_err(|e| {
                        StoreError::Sqlite(format!(
                            "cannot move the corrupt {} aside: {e}",
                            path.display()
                        ))
                    })?;
                    for suffix in ["-wal", "-shm"] {
                        let side = PathBuf::from(format!("{}{suffix}", path.display()));
                        let _ = std::fs::rename(&side, format!("{}{suffix}", aside.display()));
                    }
                    recovered = Some(aside);
                    connect(path)?
                } else {
                    other?.1
                }
            }
        };
        let mut store = Self {
            conn,
            path: path.to_owned(),
        };
        store.migrate()?;
        Ok(Opened { store, recovered })
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its schema version.
    pub fn version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
            });
        }
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(found).unwrap_or(0))
        {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(
                None,
                "user_version",
                i64::try_from(i + 1).unwrap_or(i64::MAX),
            )?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Opens an incident; returns its id.
    pub fn open_incident(
        &self,
        title: &str,
        severity: Severity,
        environment: &str,
        origin: &str,
        started_at: Timestamp,
        detected_at: Option<Timestamp>,
    ) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO incidents (title, severity, environment, origin, started_at, detected_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                title,
                severity.min(3),
                environment,
                origin,
                started_at.0,
                detected_at.map(|t| t.0)
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        self.conn.execute(
            "INSERT INTO status_changes (incident_id, status, at) VALUES (?1, 'triage', ?2)",
            params![id, started_at.0],
        )?;
        Ok(id)
    }

    /// Moves an incident to `status` (`mitigated`, `resolved`) at `at`.
    pub fn set_status(&self, id: i64, status: &str, at: Timestamp) -> Result<(), StoreError> {
        let column = match status {
            "triage" => None,
            "mitigated" => Some("mitigated_at"),
            "resolved" => Some("resolved_at"),
            other => {
                return Err(StoreError::NotFound(format!(
                    "no status {other:?}: triage, mitigated or resolved"
                )));
            }
        };
        let n = self.conn.execute(
            "UPDATE incidents SET status = ?2 WHERE id = ?1",
            params![id, status],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("no incident #{id}")));
        }
        if let Some(c) = column {
            self.conn.execute(
                &format!("UPDATE incidents SET {c} = coalesce({c}, ?2) WHERE id = ?1"),
                params![id, at.0],
            )?;
        }
        self.conn.execute(
            "INSERT INTO status_changes (incident_id, status, at) VALUES (?1, ?2, ?3)",
            params![id, status, at.0],
        )?;
        Ok(())
    }

    /// Sets an incident's severity at `at`; `by` names the person who did (from then on
    /// the console no longer raises it), `None` is the console raising it for what it
    /// saw, `why`. Each change is a timeline entry.
    pub fn set_severity(
        &self,
        id: i64,
        severity: Severity,
        at: Timestamp,
        by: Option<&str>,
        why: &str,
    ) -> Result<(), StoreError> {
        if severity > 3 {
            return Err(StoreError::NotFound(format!(
                "no severity Sev{severity}: Sev0 (worst) to Sev3"
            )));
        }
        let old = self.incident(id)?.severity;
        if old == severity && by.is_none() {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "UPDATE incidents SET severity = ?2, severity_by_hand = severity_by_hand OR ?3
             WHERE id = ?1",
            params![id, severity, by.is_some()],
        )?;
        let text = match by {
            Some(who) => format!("Sev{old} -> Sev{severity}, set by {who}{why}"),
            None => format!("Sev{old} -> Sev{severity}: {why}"),
        };
        tx.execute(
            "INSERT OR IGNORE INTO timeline (incident_id, at, kind, subject, text)
             VALUES (?1, ?2, 'severity', 'incident', ?3)",
            params![id, at.0, text],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records the targets and cost figures an incident is measured against.
    pub fn set_objectives(&self, id: i64, objectives: &Objectives) -> Result<(), StoreError> {
        let json = serde_json::to_string(objectives).unwrap_or_else(|_| "{}".into());
        let n = self.conn.execute(
            "UPDATE incidents SET objectives = ?2 WHERE id = ?1",
            params![id, json],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("no incident #{id}")));
        }
        Ok(())
    }

    /// Every incident, newest first.
    pub fn incidents(&self) -> Result<Vec<IncidentRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{INCIDENT_COLUMNS} ORDER BY id DESC"))?;
        let rows = stmt.query_map([], incident_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The incidents still open, or resolved at or after `since` (milliseconds).
    pub(crate) fn incidents_touching(&self, since: i64) -> Result<Vec<IncidentRow>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{INCIDENT_COLUMNS} WHERE resolved_at IS NULL OR resolved_at >= ?1 ORDER BY id DESC"
        ))?;
        let rows = stmt.query_map(params![since], incident_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One incident.
    pub fn incident(&self, id: i64) -> Result<IncidentRow, StoreError> {
        self.conn
            .query_row(
                &format!("{INCIDENT_COLUMNS} WHERE id = ?1"),
                params![id],
                incident_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no incident #{id}")))
    }

    /// Milliseconds an incident spent in each status before its resolution, up to `now`
    /// for the current one.
    pub fn time_in_status(
        &self,
        id: i64,
        now: Timestamp,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT status, at FROM status_changes WHERE incident_id = ?1 ORDER BY rowid",
        )?;
        let changes: Vec<(String, i64)> = stmt
            .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut out: Vec<(String, i64)> = Vec::new();
        for (i, (status, at)) in changes.iter().enumerate() {
            if status == "resolved" {
                break;
            }
            let end = changes.get(i + 1).map_or(now.0, |(_, t)| *t);
            let ms = (end - at).max(0);
            match out.iter_mut().find(|(s, _)| s == status) {
                Some(e) => e.1 += ms,
                None => out.push((status.clone(), ms)),
            }
        }
        Ok(out)
    }

    /// Adds a note (committed, on disk, when this returns); returns its id.
    pub fn add_note(&self, n: &NewNote) -> Result<i64, StoreError> {
        if let Some(i) = n.incident {
            self.incident(i)?;
        }
        self.conn.execute(
            "INSERT INTO notes (incident_id, author, body, created_at, edited_at, pinned_at, entity)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
            params![
                n.incident,
                n.author,
                n.body,
                n.at.0,
                n.pinned_at.unwrap_or(n.at).0,
                n.entity
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Replaces a note's text, keeping the previous one in its history.
    pub fn edit_note(&self, id: i64, body: &str, at: Timestamp) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let old: Option<String> = tx
            .query_row("SELECT body FROM notes WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()?;
        let old = old.ok_or_else(|| StoreError::NotFound(format!("no note #{id}")))?;
        if old == body {
            return Ok(());
        }
        tx.execute(
            "INSERT INTO note_history (note_id, body, replaced_at) VALUES (?1, ?2, ?3)",
            params![id, old, at.0],
        )?;
        tx.execute(
            "UPDATE notes SET body = ?2, edited_at = ?3 WHERE id = ?1",
            params![id, body, at.0],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces a note's text while one editing session lasts (the editor's autosave):
    /// the session's first save goes through [`Store::edit_note`], which keeps the text
    /// from before the session in the history; the saves after it replace the text in
    /// place, so typing does not fill the history with every keystroke.
    pub fn revise_note(&self, id: i64, body: &str, at: Timestamp) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE notes SET body = ?2, edited_at = ?3 WHERE id = ?1 AND body IS NOT ?2",
            params![id, body, at.0],
        )?;
        if n == 0 && self.note(id)?.is_none() {
            return Err(StoreError::NotFound(format!("no note #{id}")));
        }
        Ok(())
    }

    /// One note.
    pub fn note(&self, id: i64) -> Result<Option<NoteRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, incident_id, author, body, created_at, edited_at, pinned_at, entity, shared
                 FROM notes WHERE id = ?1",
                params![id],
                note_row,
            )
            .optional()?)
    }

    /// A note's earlier texts, oldest first: (text, when it was replaced).
    pub fn history(&self, id: i64) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT body, replaced_at FROM note_history WHERE note_id = ?1 ORDER BY rowid",
        )?;
        let rows = stmt.query_map(params![id], |r| Ok((r.get(0)?, Timestamp(r.get(1)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Notes (of one incident, or all), in the order of the moments they are pinned to.
    pub fn notes(&self, incident: Option<i64>) -> Result<Vec<NoteRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, incident_id, author, body, created_at, edited_at, pinned_at, entity, shared
             FROM notes WHERE ?1 IS NULL OR incident_id = ?1 ORDER BY pinned_at, id",
        )?;
        let rows = stmt.query_map(params![incident], note_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Notes matching every word of `query`, best first (FTS5 rank).
    pub fn search(&self, query: &str, limit: u32) -> Result<Vec<NoteRow>, StoreError> {
        // Plain words become quoted terms, so punctuation in them is not FTS syntax.
        let terms: Vec<String> = query
            .split_whitespace()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare(
            "SELECT n.id, n.incident_id, n.author, n.body, n.created_at, n.edited_at, n.pinned_at, n.entity,
                    n.shared
             FROM notes_fts JOIN notes n ON n.id = notes_fts.rowid
             WHERE notes_fts MATCH ?1 ORDER BY rank LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![terms.join(" "), limit], note_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `PRAGMA integrity_check`: `ok`, or what is wrong.
    pub fn integrity(&self) -> Result<String, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// The columns [`incident_row`] reads, in its order.
const INCIDENT_COLUMNS: &str =
    "SELECT id, title, severity, status, environment, origin, started_at,
    detected_at, mitigated_at, resolved_at, impact, severity_by_hand, objectives FROM incidents";

fn incident_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentRow> {
    let t = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(Timestamp))
    };
    Ok(IncidentRow {
        id: r.get(0)?,
        title: r.get(1)?,
        severity: r.get(2)?,
        status: r.get(3)?,
        environment: r.get(4)?,
        origin: r.get(5)?,
        started_at: Timestamp(r.get(6)?),
        detected_at: t(7)?,
        mitigated_at: t(8)?,
        resolved_at: t(9)?,
        impact: r.get(10)?,
        severity_by_hand: r.get(11)?,
        // Written by this code from the same type; an unreadable one counts as unset.
        objectives: serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or_default(),
    })
}

fn note_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NoteRow> {
    Ok(NoteRow {
        id: r.get(0)?,
        incident: r.get(1)?,
        author: r.get(2)?,
        body: r.get(3)?,
        created_at: Timestamp(r.get(4)?),
        edited_at: Timestamp(r.get(5)?),
        pinned_at: Timestamp(r.get(6)?),
        entity: r.get(7)?,
        pending: r.get::<_, Option<String>>(8)?.as_deref() == Some("pending"),
    })
}

mod export;
mod objectives;
mod shared;
mod sync;

pub use self::export::{ActionRow, Postmortem};
pub use self::objectives::{CostEstimate, Objectives, RtoStatus, clock, money};
pub use self::sync::TimelineEntry;

#[cfg(test)]
mod tests;
