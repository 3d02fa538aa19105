//! Session files: every applied event, recorded for replay.
//!
//! A session is one `SQLite` file, chosen because it is self-contained, crash-safe (WAL),
//! indexable by time for fast seeking, and readable by any tool. It holds:
//! - `meta`: key/value pairs (format version, app version, environment, drill flag, the
//!   configuration with no secrets: the config only ever names environment variables);
//! - `blocks` (format 3): the applied events in order, gathered in blocks of up to a
//!   second (see `blocks.rs`): each row has its sequence range (`first_seq`,
//!   `last_seq`), its time range (`min_at`, `max_at`) and `body`, the events as JSON
//!   lines compressed with zstd. Formats 1 and 2 had `events` instead, one row per
//!   event with its JSON as text; they still read;
//! - `keyframes` (format 2): the state's fingerprint ([`State::digest`]) after event
//!   `seq`, taken every [`KEYFRAME_EVENTS`] events or [`KEYFRAME_MILLIS`] of event time,
//!   so a replay proves it rebuilt exactly what the console had;
//! - `base`: a segment's starting state (the flight recorder's segments after the
//!   first; compressed like a block in format 3), checked by the keyframe at its
//!   sequence number;
//! - `attachments` (format 2): the incidents, notes and workflow runs of the recorded
//!   span, as JSON, written when a session is saved.
//!
//! Events of a kind this build does not know (a source added by a newer build) are
//! delivered as [`Row::Raw`], and the rest replays; a row that is not even JSON, a block
//! that does not decode, or a file cut short, ends the readable prefix with
//! [`SessionError::Corrupt`].
//!
//! The file is stamped with `SQLite`'s `application_id` ("SWBD") and `user_version` (the
//! format version), so a foreign file or a newer format is refused with a clear error
//! before anything is read.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::event::Event;
#[cfg(doc)]
use crate::state::State;
use crate::time::Timestamp;

pub mod blocks;
mod reader;
mod recorder;
pub mod replay;
pub mod retention;
mod save;

pub use self::reader::SessionReader;
pub use self::recorder::Recorder;
pub use self::save::save_range;

/// The format this build writes (and the newest it reads): 3, events in compressed
/// blocks; 2 had a row per event and keyframes; 1 had no keyframes.
pub const FORMAT_VERSION: i32 = 3;
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

/// Where a session file is built before it appears under its name (see
/// [`Recorder::create`]); retention removes one a killed console left behind.
pub fn partial_path(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial", path.display()))
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

#[cfg(test)]
mod tests;
