//! Writing a session: the recorder appends applied events in blocks (see `blocks.rs`)
//! and the state's fingerprint at keyframes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, params};

use super::blocks::{self, Pending};
use super::{APPLICATION_ID, FORMAT_VERSION, SCHEMA_V2, SessionError, SessionMeta, sqlite};
use crate::event::Event;
use crate::state::State;

/// The blocks table of format 3: one row per block of events, with its time range
/// indexed so a file's span and a moment's block are found without a scan.
pub(super) const SCHEMA_BLOCKS: &str = "
    CREATE TABLE IF NOT EXISTS blocks (
        first_seq INTEGER PRIMARY KEY,
        last_seq INTEGER NOT NULL,
        min_at INTEGER NOT NULL,
        max_at INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS blocks_min_at ON blocks (min_at);
    CREATE INDEX IF NOT EXISTS blocks_max_at ON blocks (max_at);";

/// Appends events to a new session file.
///
/// Events are gathered into a block and written when it is full, when a keyframe is
/// recorded, on [`Recorder::flush_due`] (the engine's recorder calls it at least once
/// a second) and on [`Recorder::finish`]; a console killed meanwhile loses at most the
/// block being gathered, never a written one.
pub struct Recorder {
    conn: Connection,
    path: PathBuf,
    next_seq: i64,
    pending: Pending,
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
        let partial = super::partial_path(path);
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
                 {SCHEMA_BLOCKS}
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
                // Compressed like the blocks: a fleet's state repeats its names.
                let state = blocks::compress(&base.to_snapshot())
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                tx.execute_batch("CREATE TABLE base (seq INTEGER NOT NULL, state BLOB NOT NULL);")?;
                tx.execute(
                    "INSERT INTO base (seq, state) VALUES (?1, ?2)",
                    params![seq, state],
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
            pending: Pending::default(),
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sequence number of the last event appended (0 before any), written or not.
    pub fn last_seq(&self) -> i64 {
        self.next_seq - 1
    }

    /// Records `state`'s fingerprint as the keyframe after the last event appended,
    /// with the block gathered so far, in one transaction.
    pub fn keyframe(&mut self, state: &State) -> Result<(), SessionError> {
        let path = self.path.clone();
        let block = self.pending.take();
        let seq = self.last_seq();
        let tx = self.conn.transaction().map_err(sqlite(&path))?;
        write_block(&tx, &block, &path)?;
        tx.execute(
            "INSERT OR REPLACE INTO keyframes (seq, at_millis, events_applied, hash)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                seq,
                state.now.0,
                i64::try_from(state.events_applied).unwrap_or(i64::MAX),
                state.digest()
            ],
        )
        .map_err(sqlite(&path))?;
        tx.commit().map_err(sqlite(&path))
    }

    /// Appends `events`; each full block is written as it fills.
    pub fn append(&mut self, events: &[Event]) -> Result<(), SessionError> {
        for ev in events {
            self.pending
                .push(self.next_seq, ev)
                .map_err(|e| SessionError::Corrupt {
                    seq: self.next_seq,
                    reason: e.to_string(),
                    path: self.path.clone(),
                })?;
            self.next_seq += 1;
            if self.pending.full() {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Writes the block gathered so far, if any.
    pub fn flush(&mut self) -> Result<(), SessionError> {
        let block = self.pending.take();
        write_block(&self.conn, &block, &self.path)
    }

    /// Writes the block gathered so far if its first event came `after` ago or more.
    pub fn flush_due(&mut self, after: Duration) -> Result<(), SessionError> {
        if self.pending.since.is_some_and(|t| t.elapsed() >= after) {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes what is gathered and closes the file.
    pub fn finish(mut self) -> Result<(), SessionError> {
        self.flush()
    }
}

impl Drop for Recorder {
    /// What was appended is written (its error is [`Recorder::finish`]'s to report).
    fn drop(&mut self) {
        self.flush().ok();
    }
}

/// Writes `block` as one row (nothing when it is empty).
fn write_block(conn: &Connection, block: &Pending, path: &Path) -> Result<(), SessionError> {
    if block.count == 0 {
        return Ok(());
    }
    let body = blocks::compress(&block.lines).map_err(|source| SessionError::Io {
        source,
        path: path.to_owned(),
    })?;
    conn.prepare_cached(
        "INSERT INTO blocks (first_seq, last_seq, min_at, max_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            block.first_seq,
            block.last_seq(),
            block.min_at,
            block.max_at,
            body
        ])
    })
    .map_err(sqlite(path))?;
    Ok(())
}
