//! Reading a session file of any format this build knows: format 3's blocks of
//! compressed events, or formats 1 and 2's row per event.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::blocks;
use super::{
    APPLICATION_ID, FORMAT_VERSION, Keyframe, MAX_ROW_BYTES, RawEvent, Row, SessionError,
    SessionMeta, sqlite,
};
use crate::event::{Event, EventBody};
use crate::state::State;
use crate::time::Timestamp;

/// How a file holds its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Formats 1 and 2: `events`, one row per event with its body as JSON text.
    Rows,
    /// Format 3: `blocks`, events as compressed JSON lines.
    Blocks,
}

/// Reads a session file.
pub struct SessionReader {
    conn: Connection,
    path: PathBuf,
    layout: Layout,
    /// The last event folded into a segment's starting state (0: none): its events
    /// begin after it.
    base_seq: i64,
}

/// serde's quote of a damaged value: 300 characters of it say what is wrong, a 40 kB
/// row need not be printed.
fn shorten(reason: String) -> String {
    if reason.chars().count() > 300 {
        reason.chars().take(300).chain(['…']).collect()
    } else {
        reason
    }
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
        let mut reader = Self {
            conn,
            path: path.to_owned(),
            layout: Layout::Rows,
            base_seq: 0,
        };
        if reader.has_table("blocks") {
            reader.layout = Layout::Blocks;
        }
        if reader.has_table("base") {
            reader.base_seq = reader
                .conn
                .query_row("SELECT seq FROM base", [], |r| r.get(0))
                .optional()
                .map_err(sqlite(path))?
                .unwrap_or(0);
        }
        Ok(reader)
    }

    /// The file, for errors.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for copying the file.
    pub(super) fn conn(&self) -> &Connection {
        &self.conn
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
        let sql = match self.layout {
            Layout::Rows => "SELECT count(*) FROM events",
            Layout::Blocks => "SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM blocks",
        };
        self.conn
            .query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
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
            // Format 3 compresses it as it does the blocks.
            let bytes = match self.layout {
                Layout::Rows => Ok(bytes),
                Layout::Blocks => blocks::decompress(&bytes)
                    .map_err(|why| format!("the state snapshot is damaged: {why}")),
            };
            bytes
                .and_then(|b| State::from_snapshot(&b))
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
        let sql = match self.layout {
            // One aggregate per subquery: each is a single index lookup, where one
            // query with three would scan the table.
            Layout::Rows => {
                "SELECT (SELECT min(at_millis) FROM events), (SELECT max(at_millis) FROM events),
                        (SELECT max(seq) FROM events)"
            }
            // The last block by its key holds the last event: blocks follow each other.
            Layout::Blocks => {
                "SELECT (SELECT min(min_at) FROM blocks), (SELECT max(max_at) FROM blocks),
                        (SELECT last_seq FROM blocks ORDER BY first_seq DESC LIMIT 1)"
            }
        };
        self.conn
            .query_row(sql, [], |r| {
                Ok(
                    match (r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?) {
                        (Some(a), Some(b)) => Some((Timestamp(a), Timestamp(b), r.get(2)?)),
                        _ => None,
                    },
                )
            })
            .map_err(sqlite(&self.path))
    }

    /// Events per source: (source, kinds seen, count), by name.
    pub fn sources(&self) -> Result<Vec<(String, Vec<String>, u64)>, SessionError> {
        if self.layout == Layout::Rows {
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
            return rows.collect::<Result<_, _>>().map_err(sqlite(&self.path));
        }
        let mut by: BTreeMap<String, (Vec<String>, u64)> = BTreeMap::new();
        self.rows(0, i64::MAX, |row| {
            let (source, kind) = match &row {
                Row::Event(_, e) => (e.source.as_str(), e.body.kind_name()),
                Row::Raw(r) => (r.source.as_str(), r.kind.as_str()),
            };
            let entry = by.entry(source.to_owned()).or_default();
            if !entry.0.iter().any(|k| k == kind) {
                entry.0.push(kind.to_owned());
            }
            entry.1 += 1;
        })?;
        Ok(by.into_iter().map(|(s, (k, n))| (s, k, n)).collect())
    }

    /// The last event at or before `at` (0: none).
    pub fn seq_at(&self, at: Timestamp) -> Result<i64, SessionError> {
        match self.layout {
            Layout::Rows => self
                .conn
                .query_row(
                    "SELECT coalesce(max(seq), 0) FROM events WHERE at_millis <= ?1",
                    params![at.0],
                    |r| r.get(0),
                )
                .map_err(sqlite(&self.path)),
            Layout::Blocks => blocks_seq_at(&self.conn, at).map_err(|e| self.damaged(e)),
        }
    }

    fn damaged(&self, (seq, reason): (i64, String)) -> SessionError {
        SessionError::Corrupt {
            seq,
            reason: shorten(reason),
            path: self.path.clone(),
        }
    }

    /// Calls `f` with each row after `after` up to `upto` (inclusive), in order; stops
    /// at the first damaged row with its error (the rows before it were delivered).
    pub fn rows(&self, after: i64, upto: i64, f: impl FnMut(Row)) -> Result<u64, SessionError> {
        match self.layout {
            Layout::Rows => self.event_rows(after, upto, f),
            // A segment's events begin after its starting state: none before are missing.
            Layout::Blocks => {
                block_rows(&self.conn, after.max(self.base_seq), upto, f).map_err(|e| match e {
                    BlockError::Sqlite(e) => sqlite(&self.path)(e),
                    BlockError::Damaged(seq, reason) => self.damaged((seq, reason)),
                })
            }
        }
    }

    /// Formats 1 and 2: a row per event.
    fn event_rows(
        &self,
        after: i64,
        upto: i64,
        mut f: impl FnMut(Row),
    ) -> Result<u64, SessionError> {
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
        let damaged = |seq: i64, reason: String| self.damaged((seq, reason));
        loop {
            let row = match rows.next() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    return Err(damaged(
                        after + i64::try_from(n).unwrap_or(0) + 1,
                        too_big_words(&e),
                    ));
                }
            };
            let seq: i64 = row.get(0).map_err(|e| damaged(-1, e.to_string()))?;
            let body: String = row.get(4).map_err(|e| damaged(seq, e.to_string()))?;
            match serde_json::from_str::<Event>(&body) {
                Ok(ev) => f(Row::Event(seq, ev)),
                Err(e) => {
                    let kind: String = row.get(3).map_err(|e| damaged(seq, e.to_string()))?;
                    // Readable, but of a kind this build does not know: shown raw.
                    if !EventBody::KIND_NAMES.contains(&kind.as_str())
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

/// A value past the row limit, in words; any other read error as `SQLite` says it.
fn too_big_words(e: &rusqlite::Error) -> String {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::TooBig) {
        format!(
            "a value larger than {} MB, more than a session row may hold",
            MAX_ROW_BYTES >> 20
        )
    } else {
        e.to_string()
    }
}

/// Why the blocks could not be read.
pub(super) enum BlockError {
    /// `SQLite` failed.
    Sqlite(rusqlite::Error),
    /// The events from this sequence number on are damaged, for this reason.
    Damaged(i64, String),
}

/// One event line of a block: an event, or one of a kind this build does not know.
fn read_line(seq: i64, line: &[u8]) -> Result<Row, String> {
    match serde_json::from_slice::<Event>(line) {
        Ok(ev) => Ok(Row::Event(seq, ev)),
        Err(e) => {
            // Readable, but of a kind this build does not know: shown raw.
            let value: serde_json::Value =
                serde_json::from_slice(line).map_err(|_| e.to_string())?;
            let kind = value["body"]["kind"].as_str().unwrap_or_default();
            match (value["at"].as_i64(), value["source"].as_str()) {
                (Some(at), Some(source))
                    if !kind.is_empty() && !EventBody::KIND_NAMES.contains(&kind) =>
                {
                    Ok(Row::Raw(RawEvent {
                        seq,
                        at: Timestamp(at),
                        source: source.to_owned(),
                        kind: kind.to_owned(),
                        body: String::from_utf8_lossy(line).into_owned(),
                    }))
                }
                _ => Err(e.to_string()),
            }
        }
    }
}

/// Format 3: calls `f` with the events after `after` up to `upto`, block by block.
pub(super) fn block_rows(
    conn: &Connection,
    after: i64,
    upto: i64,
    mut f: impl FnMut(Row),
) -> Result<u64, BlockError> {
    // From the block holding event `after + 1` (a lookup on the key, where a bound on
    // `last_seq` alone would scan from the first block).
    let mut stmt = conn
        .prepare_cached(
            "SELECT first_seq, last_seq, body FROM blocks
             WHERE first_seq >= (SELECT coalesce(max(first_seq), 0) FROM blocks
                                 WHERE first_seq <= ?1 + 1)
               AND last_seq > ?1 AND first_seq <= ?2
             ORDER BY first_seq",
        )
        .map_err(BlockError::Sqlite)?;
    let mut rows = stmt
        .query(params![after, upto])
        .map_err(BlockError::Sqlite)?;
    let mut n = 0_u64;
    // The next sequence number a block must start at or before.
    let mut next = after + 1;
    loop {
        let row = match rows.next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Err(BlockError::Damaged(next, too_big_words(&e))),
        };
        let range: Result<(i64, i64), _> = (|| Ok((row.get(0)?, row.get(1)?)))();
        let (first, last) =
            range.map_err(|e: rusqlite::Error| BlockError::Damaged(next, e.to_string()))?;
        if first > next {
            return Err(BlockError::Damaged(
                next,
                format!("events {next} to {} are missing", first - 1),
            ));
        }
        let block = match row.get_ref(2) {
            Ok(rusqlite::types::ValueRef::Blob(b)) => blocks::decompress(b),
            Ok(_) => Err("a block that is not compressed events".to_owned()),
            Err(e) => Err(e.to_string()),
        }
        .map_err(|why| BlockError::Damaged(next.max(first), why))?;
        let expected = last - first + 1;
        let held = blocks::lines(&block).count() as i64;
        if held != expected {
            return Err(BlockError::Damaged(
                next.max(first),
                format!("a block of events {first} to {last} holds {held} events"),
            ));
        }
        for (seq, line) in (first..).zip(blocks::lines(&block)) {
            if seq <= after {
                continue;
            }
            if seq > upto {
                return Ok(n);
            }
            let row = read_line(seq, line).map_err(|why| BlockError::Damaged(seq, why))?;
            f(row);
            n += 1;
        }
        next = last + 1;
    }
    Ok(n)
}

/// Format 3: the last event at or before `at` (0: none). It is in the latest block
/// that starts by then: every later block's events all come after `at`.
pub(super) fn blocks_seq_at(conn: &Connection, at: Timestamp) -> Result<i64, (i64, String)> {
    let found: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT first_seq, body FROM blocks WHERE first_seq =
                 (SELECT max(first_seq) FROM blocks WHERE min_at <= ?1)",
            params![at.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|e| (0, too_big_words(&e)))?;
    let Some((first, body)) = found else {
        return Ok(0);
    };
    let block = blocks::decompress(&body).map_err(|why| (first, why))?;
    let mut last = 0;
    for (seq, line) in (first..).zip(blocks::lines(&block)) {
        match blocks::line_at(line) {
            Some(t) if t <= at => last = seq,
            Some(_) => {}
            None => return Err((seq, "an event without its time".to_owned())),
        }
    }
    Ok(last)
}
