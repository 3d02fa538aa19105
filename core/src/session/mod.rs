//! Session files: every applied event, recorded for replay.
//!
//! A session is one `SQLite` file, chosen because it is self-contained, crash-safe (WAL),
//! indexable by time for fast seeking, and readable by any tool. It holds:
//! - `meta`: key/value pairs (format version, app version, environment, drill flag, the
//!   configuration with no secrets: the config only ever names environment variables);
//! - `events`: one row per applied event in order: `seq`, `at_millis`, `source`, `kind`
//!   (the event's tag) and `body` (the event as JSON);
//! - `keyframes` (format 2): the state's fingerprint ([`State::digest`]) after event
//!   `seq`, taken every [`KEYFRAME_EVENTS`] events or [`KEYFRAME_MILLIS`] of event time,
//!   so a replay proves it rebuilt exactly what the console had;
//! - `attachments` (format 2): the incidents, notes and workflow runs of the recorded
//!   span, as JSON, written when a session is saved.
//!
//! Events of a kind this build does not know (a source added by a newer build) are
//! delivered as [`Row::Raw`], and the rest replays; a row that is not even JSON, or a
//! file cut short, ends the readable prefix with [`SessionError::Corrupt`].
//!
//! The file is stamped with `SQLite`'s `application_id` ("SWBD") and `user_version` (the
//! format version), so a foreign file or a newer format is refused with a clear error
//! before anything is read.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use serde::Serialize;

use crate::event::Event;
use crate::state::State;
use crate::time::Timestamp;

pub mod replay;
pub mod retention;

/// The format this build writes (and the newest it reads; format 1 has no keyframes).
pub const FORMAT_VERSION: i32 = 2;
/// The longest value a session reader takes from one row (`SQLite`'s own limit is
/// 1 GB): a damaged or hostile file cannot make a replay allocate more than this per
/// row. An event is a source's folded answer, and answers are limited to 32 MB, so
/// nothing this console writes comes near it.
pub const MAX_ROW_BYTES: i32 = 64 << 20;
/// A keyframe at least every this many events...
pub const KEYFRAME_EVENTS: u64 = 10_000;
/// ...and every this much event time.
pub const KEYFRAME_MILLIS: i64 = 60_000;

const SCHEMA_V2: &str = "
    CREATE TABLE IF NOT EXISTS keyframes (
        seq INTEGER PRIMARY KEY,
        at_millis INTEGER NOT NULL,
        events_applied INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS attachments (kind TEXT PRIMARY KEY, body TEXT NOT NULL);";

/// A keyframe: the state's fingerprint after event `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Keyframe {
    /// The last event folded in.
    pub seq: i64,
    /// The state's time then.
    pub at: Timestamp,
    /// Events the state had applied.
    pub events_applied: u64,
    /// [`State::digest`].
    pub hash: String,
}

/// An event row whose kind this build does not know: shown as it is, not replayed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RawEvent {
    /// Sequence number.
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// Its source.
    pub source: String,
    /// Its kind, unknown here.
    pub kind: String,
    /// The event as recorded (JSON).
    pub body: String,
}

/// One event row.
#[derive(Clone, Debug, PartialEq)]
pub enum Row {
    /// An event this build replays.
    Event(i64, Event),
    /// An event of a kind this build does not know.
    Raw(RawEvent),
}
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
    /// The file system refused (renaming a new segment into place).
    #[error("session file error: {source} ({path})")]
    Io {
        /// The underlying error.
        source: std::io::Error,
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

impl SessionError {
    /// The disk (or the file system's quota) is full.
    pub fn disk_full(&self) -> bool {
        match self {
            Self::Sqlite { source, .. } => {
                source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            }
            Self::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }

    /// Why a recording stopped, in an operator's words: what happened, what was kept,
    /// and that the live view goes on (the engine keeps applying events; only the
    /// recorder stopped).
    pub fn recording_stopped(&self) -> String {
        let path = match self {
            Self::Sqlite { path, .. }
            | Self::Io { path, .. }
            | Self::NotASession { path }
            | Self::NewerFormat { path, .. }
            | Self::Corrupt { path, .. } => path,
        };
        if self.disk_full() {
            format!(
                "the disk is full: the session stopped recording, what was recorded before is kept; live state goes on (free some space and restart to record again) ({})",
                path.display()
            )
        } else {
            format!("the session stopped recording: {self}; live state goes on")
        }
    }
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
    /// A saved session's span of interest (the replay opens at its start); the events
    /// before it are kept, so the replay rebuilds the state it began with.
    pub focus: Option<(Timestamp, Timestamp)>,
    /// The recording this file belongs to (the segments of one run share it).
    pub recording: String,
    /// Its place among the recording's segments, from 0.
    pub segment: u32,
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
        Self::create_with(path, meta, None)
    }

    /// Creates a segment that starts from `base`, the state after the previous
    /// segment's last event: its snapshot is stored, the events go on from the next
    /// sequence number, and a keyframe checks the snapshot on replay.
    pub fn create_from(
        path: &Path,
        meta: &SessionMeta,
        base: &State,
    ) -> Result<Self, SessionError> {
        Self::create_with(path, meta, Some(base))
    }

    /// Creates `path` whole or not at all: the schema, the metadata and a segment's
    /// starting state are written to `<path>.partial` in one transaction, which is then
    /// renamed to `path`. A console killed while creating a segment (the flight
    /// recorder rolls every so often) so leaves no file that is a session by its header
    /// but has no metadata, or a segment without its starting state; only a
    /// `.partial` file, which retention removes.
    fn create_with(
        path: &Path,
        meta: &SessionMeta,
        base: Option<&State>,
    ) -> Result<Self, SessionError> {
        if path.exists() {
            return Err(SessionError::Sqlite {
                source: rusqlite::Error::InvalidPath(path.to_owned()),
                path: path.to_owned(),
            });
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        let partial = partial_path(path);
        for stale in [
            partial.clone(),
            PathBuf::from(format!("{}-journal", partial.display())),
        ] {
            std::fs::remove_file(stale).ok();
        }
        let base_seq = base.map(|b| i64::try_from(b.events_applied).unwrap_or(i64::MAX));
        let written = (|| -> rusqlite::Result<()> {
            let mut conn = Connection::open(&partial)?;
            let tx = conn.transaction()?;
            tx.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID};
                 PRAGMA user_version = {FORMAT_VERSION};
                 CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE events (
                     seq INTEGER PRIMARY KEY,
                     at_millis INTEGER NOT NULL,
                     source TEXT NOT NULL,
                     kind TEXT NOT NULL,
                     body TEXT NOT NULL
                 );
                 CREATE INDEX events_at ON events (at_millis);
                 {SCHEMA_V2}"
            ))?;
            {
                let mut put = tx.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)")?;
                for (k, v) in [
                    ("format_version", FORMAT_VERSION.to_string()),
                    ("app_version", meta.app_version.clone()),
                    ("environment", meta.environment.clone()),
                    ("drill", meta.drill.to_string()),
                    ("config", meta.config.clone()),
                    ("started_at", meta.started_at.0.to_string()),
                    ("recording", meta.recording.clone()),
                    ("segment", meta.segment.to_string()),
                ] {
                    put.execute(params![k, v])?;
                }
            }
            if let (Some(base), Some(seq)) = (base, base_seq) {
                tx.execute_batch("CREATE TABLE base (seq INTEGER NOT NULL, state BLOB NOT NULL);")?;
                tx.execute(
                    "INSERT INTO base (seq, state) VALUES (?1, ?2)",
                    params![seq, base.to_snapshot()],
                )?;
                tx.execute(
                    "INSERT INTO keyframes (seq, at_millis, events_applied, hash)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        seq,
                        base.now.0,
                        i64::try_from(base.events_applied).unwrap_or(i64::MAX),
                        base.digest()
                    ],
                )?;
            }
            tx.commit()?;
            // WAL is switched on here, before the file has its name: switching it
            // writes the header through a rollback journal, and a console killed then
            // would leave a hot journal that a read-only replay cannot roll back.
            conn.execute_batch("PRAGMA journal_mode = WAL;")?;
            conn.close().map_err(|(_, e)| e)
        })();
        let renamed = written.map_err(sqlite(path)).and_then(|()| {
            std::fs::rename(&partial, path).map_err(|source| SessionError::Io {
                source,
                path: path.to_owned(),
            })
        });
        if let Err(e) = renamed {
            std::fs::remove_file(&partial).ok();
            return Err(e);
        }
        let conn = Connection::open(path).map_err(sqlite(path))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(sqlite(path))?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            next_seq: base_seq.unwrap_or(0) + 1,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sequence number of the last event appended (0 before any).
    pub fn last_seq(&self) -> i64 {
        self.next_seq - 1
    }

    /// Records `state`'s fingerprint as the keyframe after the last event appended.
    pub fn keyframe(&mut self, state: &State) -> Result<(), SessionError> {
        let path = self.path.clone();
        self.conn
            .execute(
                "INSERT OR REPLACE INTO keyframes (seq, at_millis, events_applied, hash)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    self.last_seq(),
                    state.now.0,
                    i64::try_from(state.events_applied).unwrap_or(i64::MAX),
                    state.digest()
                ],
            )
            .map_err(sqlite(&path))?;
        Ok(())
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

/// Where a session file is built before it appears under its name (see
/// [`Recorder::create`]); retention removes one a killed console left behind.
pub fn partial_path(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial", path.display()))
}

/// Saves the part of a recording (its `segments`, in order; the last may still be
/// recording) that ends at `to` into the new file `dst`, with [from, to] as its span of interest and the
/// `attachments` (kind, JSON): the incidents, notes and workflow runs of that span.
/// Every event up to `to` is kept from the start of the segment holding `from` (and
/// that segment's starting state), so the saved session replays to exactly the states
/// the console showed. Returns the sequence number of the last event saved.
pub fn save_range(
    segments: &[PathBuf],
    dst: &Path,
    from: Timestamp,
    to: Timestamp,
    attachments: &[(&str, String)],
) -> Result<i64, SessionError> {
    // The segment holding `from` (the last that starts by then, or else the first) and
    // every one after it; each file is opened once.
    let mut found = None;
    for (i, p) in segments.iter().enumerate().rev() {
        let r = SessionReader::open(p)?;
        if r.span()?.is_some_and(|(first, _, _)| first <= from) {
            found = Some((i, r));
            break;
        }
    }
    let (start, reader) = match (found, segments.first()) {
        (Some(hit), _) => hit,
        (None, Some(first)) => (0, SessionReader::open(first)?),
        (None, None) => {
            return Err(SessionError::NotASession {
                path: dst.to_owned(),
            });
        }
    };
    if dst.exists() {
        return Err(SessionError::Sqlite {
            source: rusqlite::Error::InvalidPath(dst.to_owned()),
            path: dst.to_owned(),
        });
    }
    // A consistent copy, even of a file being written (one read transaction).
    reader
        .conn
        .execute("VACUUM INTO ?1", params![dst.to_string_lossy()])
        .map_err(sqlite(dst))?;
    drop(reader);
    let out = Connection::open(dst).map_err(sqlite(dst))?;
    let tx_result = (|| -> rusqlite::Result<i64> {
        out.execute_batch(SCHEMA_V2)?;
        // The later segments' events go on in sequence.
        for later in &segments[start + 1..] {
            out.execute(
                "ATTACH DATABASE ?1 AS seg",
                params![later.to_string_lossy()],
            )?;
            out.execute_batch(
                "INSERT INTO events SELECT * FROM seg.events
                     WHERE seq > (SELECT coalesce(max(seq), 0) FROM main.events);
                 INSERT OR IGNORE INTO keyframes SELECT * FROM seg.keyframes;
                 DETACH DATABASE seg;",
            )?;
        }
        let last: i64 = out.query_row(
            "SELECT coalesce(max(seq), 0) FROM events WHERE at_millis <= ?1",
            params![to.0],
            |r| r.get(0),
        )?;
        out.execute("DELETE FROM events WHERE seq > ?1", params![last])?;
        out.execute("DELETE FROM keyframes WHERE seq > ?1", params![last])?;
        out.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('focus', ?1)",
            params![format!("{}/{}", from.0, to.0)],
        )?;
        for (kind, body) in attachments {
            out.execute(
                "INSERT OR REPLACE INTO attachments (kind, body) VALUES (?1, ?2)",
                params![kind, body],
            )?;
        }
        out.execute_batch(&format!("PRAGMA user_version = {FORMAT_VERSION}; VACUUM;"))?;
        Ok(last)
    })();
    tx_result.map_err(|e| {
        drop(std::fs::remove_file(dst));
        sqlite(dst)(e)
    })
}

/// The segments of the recording `path` belongs to that are still on disk (rolled
/// ones may be gone), in order; just `path` for a file of one segment.
pub fn segments_of(path: &Path) -> Vec<PathBuf> {
    let Ok(meta) = SessionReader::open(path).and_then(|r| r.meta()) else {
        return vec![path.to_owned()];
    };
    if meta.recording.is_empty() {
        return vec![path.to_owned()];
    }
    let mut found: Vec<(u32, PathBuf)> = path
        .parent()
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sqlite"))
        .filter_map(|p| {
            let m = SessionReader::open(&p).and_then(|r| r.meta()).ok()?;
            (m.recording == meta.recording).then_some((m.segment, p))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
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
        conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH, MAX_ROW_BYTES)
            .map_err(sqlite(path))?;
        let not_session = || SessionError::NotASession {
            path: path.to_owned(),
        };
        // Garbage is not a session; a disk that refuses (full: the WAL's shared memory
        // cannot be made) is said as such, not blamed on the file.
        let app_id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                    not_session()
                }
                _ => sqlite(path)(e),
            })?;
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

    /// `PRAGMA integrity_check`: `ok`, or what is wrong.
    pub fn integrity(&self) -> Result<String, SessionError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(sqlite(&self.path))
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
                "recording" => meta.recording = v,
                "segment" => meta.segment = v.parse().unwrap_or(0),
                "focus" => {
                    meta.focus = v.split_once('/').and_then(|(a, b)| {
                        Some((Timestamp(a.parse().ok()?), Timestamp(b.parse().ok()?)))
                    });
                }
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

    /// The file's format version.
    pub fn format(&self) -> Result<i32, SessionError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sqlite(&self.path))
    }

    fn has_table(&self, name: &str) -> bool {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                params![name],
                |_| Ok(()),
            )
            .is_ok()
    }

    /// The state a segment starts from, with the sequence number of the last event
    /// folded into it (`None`: the file starts from nothing).
    pub fn base(&self) -> Result<Option<(i64, State)>, SessionError> {
        if !self.has_table("base") {
            return Ok(None);
        }
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row("SELECT seq, state FROM base", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(sqlite(&self.path))?;
        row.map(|(seq, bytes)| {
            State::from_snapshot(&bytes)
                .map(|s| (seq, s))
                .map_err(|reason| SessionError::Corrupt {
                    seq,
                    reason,
                    path: self.path.clone(),
                })
        })
        .transpose()
    }

    /// The keyframes, in order (none in a format 1 file).
    pub fn keyframes(&self) -> Result<Vec<Keyframe>, SessionError> {
        if !self.has_table("keyframes") {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT seq, at_millis, events_applied, hash FROM keyframes ORDER BY seq")
            .map_err(sqlite(&self.path))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Keyframe {
                    seq: r.get(0)?,
                    at: Timestamp(r.get(1)?),
                    events_applied: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    hash: r.get(3)?,
                })
            })
            .map_err(sqlite(&self.path))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(&self.path))
    }

    /// An attachment (`incidents`, `notes`, `journal`), if the file has it.
    pub fn attachment(&self, kind: &str) -> Result<Option<String>, SessionError> {
        if !self.has_table("attachments") {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT body FROM attachments WHERE kind = ?1",
                params![kind],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlite(&self.path))
    }

    /// The first and last event times, and the last sequence number (`None`: no events).
    pub fn span(&self) -> Result<Option<(Timestamp, Timestamp, i64)>, SessionError> {
        self.conn
            .query_row(
                // One aggregate per subquery: each is a single index lookup, where
                // one query with three would scan the table.
                "SELECT (SELECT min(at_millis) FROM events), (SELECT max(at_millis) FROM events),
                        (SELECT max(seq) FROM events)",
                [],
                |r| {
                    Ok(
                        match (r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?) {
                            (Some(a), Some(b)) => Some((Timestamp(a), Timestamp(b), r.get(2)?)),
                            _ => None,
                        },
                    )
                },
            )
            .map_err(sqlite(&self.path))
    }

    /// Events per source: (source, kinds seen, count), by name.
    pub fn sources(&self) -> Result<Vec<(String, Vec<String>, u64)>, SessionError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source, group_concat(DISTINCT kind), count(*) FROM events
                 GROUP BY source ORDER BY source",
            )
            .map_err(sqlite(&self.path))?;
        let rows = stmt
            .query_map([], |r| {
                let kinds: String = r.get(1)?;
                Ok((
                    r.get(0)?,
                    kinds.split(',').map(str::to_owned).collect(),
                    u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                ))
            })
            .map_err(sqlite(&self.path))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(&self.path))
    }

    /// The last event at or before `at` (0: none).
    pub fn seq_at(&self, at: Timestamp) -> Result<i64, SessionError> {
        self.conn
            .query_row(
                "SELECT coalesce(max(seq), 0) FROM events WHERE at_millis <= ?1",
                params![at.0],
                |r| r.get(0),
            )
            .map_err(sqlite(&self.path))
    }

    /// Calls `f` with each row after `after` up to `upto` (inclusive), in order; stops
    /// at the first damaged row with its error (the rows before it were delivered).
    pub fn rows(&self, after: i64, upto: i64, mut f: impl FnMut(Row)) -> Result<u64, SessionError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, at_millis, source, kind, body FROM events
                 WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
            )
            .map_err(sqlite(&self.path))?;
        let mut rows = stmt
            .query(params![after, upto])
            .map_err(sqlite(&self.path))?;
        let mut n = 0;
        // serde quotes the damaged value; 300 characters of it say what is wrong, a
        // 40 kB row need not be printed.
        let damaged = |seq: i64, reason: String| SessionError::Corrupt {
            seq,
            reason: if reason.chars().count() > 300 {
                reason.chars().take(300).chain(['…']).collect()
            } else {
                reason
            },
            path: self.path.clone(),
        };
        loop {
            let row = match rows.next() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    let reason = if e.sqlite_error_code() == Some(rusqlite::ErrorCode::TooBig) {
                        format!(
                            "a value larger than {} MB, more than a session row may hold",
                            MAX_ROW_BYTES >> 20
                        )
                    } else {
                        e.to_string()
                    };
                    return Err(damaged(after + i64::try_from(n).unwrap_or(0) + 1, reason));
                }
            };
            let seq: i64 = row.get(0).map_err(|e| damaged(-1, e.to_string()))?;
            let body: String = row.get(4).map_err(|e| damaged(seq, e.to_string()))?;
            match serde_json::from_str::<Event>(&body) {
                Ok(ev) => f(Row::Event(seq, ev)),
                Err(e) => {
                    let kind: String = row.get(3).map_err(|e| damaged(seq, e.to_string()))?;
                    // Readable, but of a kind this build does not know: shown raw.
                    if !crate::event::EventBody::KIND_NAMES.contains(&kind.as_str())
                        && serde_json::from_str::<serde_json::Value>(&body).is_ok()
                    {
                        f(Row::Raw(RawEvent {
                            seq,
                            at: Timestamp(row.get(1).map_err(|e| damaged(seq, e.to_string()))?),
                            source: row.get(2).map_err(|e| damaged(seq, e.to_string()))?,
                            kind,
                            body,
                        }));
                    } else {
                        return Err(damaged(seq, e.to_string()));
                    }
                }
            }
            n += 1;
        }
        Ok(n)
    }

    /// Calls `f` with every event in order (events of unknown kinds are skipped);
    /// stops at the first damaged row.
    pub fn for_each(&self, mut f: impl FnMut(Event)) -> Result<u64, SessionError> {
        self.rows(0, i64::MAX, |r| {
            if let Row::Event(_, e) = r {
                f(e);
            }
        })
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
