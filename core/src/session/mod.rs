//! Session files: every applied event, recorded for replay.
//!
//! A session is one `SQLite` file, chosen because it is self-contained, crash-safe (WAL),
//! indexable by time for fast seeking, and readable by any tool. It holds:
//! - `meta`: key/value pairs (format version, app version, environment, drill flag, the
//!   configuration with no secrets: the config only ever names environment variables);
//! - `events`: one row per applied event in order: `seq`, `at_millis`, `source`, `kind`
//!   (the event's tag) and `body` (the event as JSON).
//!
//! The file is stamped with `SQLite`'s `application_id` ("SWBD") and `user_version` (the
//! format version), so a foreign file or a newer format is refused with a clear error
//! before anything is read.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use crate::event::Event;
use crate::time::Timestamp;

/// The format this build writes and reads.
pub const FORMAT_VERSION: i32 = 1;
/// `SQLite` `application_id` of session files: "SWBD".
const APPLICATION_ID: i32 = 0x5357_4244;

/// Errors reading or writing a session file.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// `SQLite` failed (disk full, permissions, a damaged file).
    #[error("session file error: {source} ({path})")]
    Sqlite {
        /// The underlying error.
        source: rusqlite::Error,
        /// The file.
        path: PathBuf,
    },
    /// The file is not a Switchboard session.
    #[error("not a Switchboard session file ({path})")]
    NotASession {
        /// The file.
        path: PathBuf,
    },
    /// Written by a newer Switchboard.
    #[error(
        "session format {found} is newer than this build reads ({supported}); update Switchboard ({path})"
    )]
    NewerFormat {
        /// Format in the file.
        found: i32,
        /// Format this build reads.
        supported: i32,
        /// The file.
        path: PathBuf,
    },
    /// An event row could not be decoded.
    #[error("event {seq} is damaged: {reason} ({path})")]
    Corrupt {
        /// Its sequence number.
        seq: i64,
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
}

fn sqlite(path: &Path) -> impl FnOnce(rusqlite::Error) -> SessionError + '_ {
    move |source| SessionError::Sqlite {
        source,
        path: path.to_owned(),
    }
}

/// What a session is about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionMeta {
    /// Version of the app that recorded it.
    pub app_version: String,
    /// Environment name.
    pub environment: String,
    /// Recorded from the drill.
    pub drill: bool,
    /// The configuration in force (TOML, secret-free by construction).
    pub config: String,
    /// When recording started.
    pub started_at: Timestamp,
}

/// Appends events to a new session file.
pub struct Recorder {
    conn: Connection,
    path: PathBuf,
    next_seq: i64,
}

impl Recorder {
    /// Creates `path` (which must not exist yet) and writes the metadata.
    pub fn create(path: &Path, meta: &SessionMeta) -> Result<Self, SessionError> {
        if path.exists() {
            return Err(SessionError::Sqlite {
                source: rusqlite::Error::InvalidPath(path.to_owned()),
                path: path.to_owned(),
            });
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        let conn = Connection::open(path).map_err(sqlite(path))?;
        conn.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID};
             PRAGMA user_version = {FORMAT_VERSION};
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE events (
                 seq INTEGER PRIMARY KEY,
                 at_millis INTEGER NOT NULL,
                 source TEXT NOT NULL,
                 kind TEXT NOT NULL,
                 body TEXT NOT NULL
             );
             CREATE INDEX events_at ON events (at_millis);"
        ))
        .map_err(sqlite(path))?;
        {
            let mut put = conn
                .prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)")
                .map_err(sqlite(path))?;
            for (k, v) in [
                ("format_version", FORMAT_VERSION.to_string()),
                ("app_version", meta.app_version.clone()),
                ("environment", meta.environment.clone()),
                ("drill", meta.drill.to_string()),
                ("config", meta.config.clone()),
                ("started_at", meta.started_at.0.to_string()),
            ] {
                put.execute(params![k, v]).map_err(sqlite(path))?;
            }
        }
        Ok(Self {
            conn,
            path: path.to_owned(),
            next_seq: 1,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `events` in one transaction.
    pub fn append(&mut self, events: &[Event]) -> Result<(), SessionError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(sqlite(&path))?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO events (seq, at_millis, source, kind, body) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(sqlite(&path))?;
            for ev in events {
                let body = serde_json::to_string(ev).map_err(|e| SessionError::Corrupt {
                    seq: self.next_seq,
                    reason: e.to_string(),
                    path: path.clone(),
                })?;
                insert
                    .execute(params![
                        self.next_seq,
                        ev.at.0,
                        ev.source.as_str(),
                        ev.body.kind_name(),
                        body
                    ])
                    .map_err(sqlite(&path))?;
                self.next_seq += 1;
            }
        }
        tx.commit().map_err(sqlite(&path))
    }
}

/// Reads a session file.
pub struct SessionReader {
    conn: Connection,
    path: PathBuf,
}

impl SessionReader {
    /// Opens `path` read-only and checks that it is a session of a format this build reads.
    pub fn open(path: &Path) -> Result<Self, SessionError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite(path))?;
        let not_session = || SessionError::NotASession {
            path: path.to_owned(),
        };
        let app_id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|_| not_session())?;
        if app_id != APPLICATION_ID {
            return Err(not_session());
        }
        let version: i32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sqlite(path))?;
        if version > FORMAT_VERSION {
            return Err(SessionError::NewerFormat {
                found: version,
                supported: FORMAT_VERSION,
                path: path.to_owned(),
            });
        }
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    /// The metadata.
    pub fn meta(&self) -> Result<SessionMeta, SessionError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM meta")
            .map_err(sqlite(&self.path))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(sqlite(&self.path))?;
        let mut meta = SessionMeta::default();
        for row in rows {
            let (k, v) = row.map_err(sqlite(&self.path))?;
            match k.as_str() {
                "app_version" => meta.app_version = v,
                "environment" => meta.environment = v,
                "drill" => meta.drill = v == "true",
                "config" => meta.config = v,
                "started_at" => meta.started_at = Timestamp(v.parse().unwrap_or(0)),
                _ => {}
            }
        }
        Ok(meta)
    }

    /// Number of events.
    pub fn event_count(&self) -> Result<u64, SessionError> {
        self.conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(sqlite(&self.path))
    }

    /// Calls `f` with every event in order; stops at the first damaged row.
    pub fn for_each(&self, mut f: impl FnMut(Event)) -> Result<u64, SessionError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, body FROM events ORDER BY seq")
            .map_err(sqlite(&self.path))?;
        let mut rows = stmt.query([]).map_err(sqlite(&self.path))?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(sqlite(&self.path))? {
            let seq: i64 = row.get(0).map_err(sqlite(&self.path))?;
            let body: String = row.get(1).map_err(|e| SessionError::Corrupt {
                seq,
                reason: e.to_string(),
                path: self.path.clone(),
            })?;
            let ev: Event = serde_json::from_str(&body).map_err(|e| SessionError::Corrupt {
                seq,
                reason: e.to_string(),
                path: self.path.clone(),
            })?;
            f(ev);
            n += 1;
        }
        Ok(n)
    }

    /// All events, in order.
    pub fn events(&self) -> Result<Vec<Event>, SessionError> {
        let mut out = Vec::new();
        self.for_each(|e| out.push(e))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
