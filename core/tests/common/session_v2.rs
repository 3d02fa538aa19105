//! Session files of the older formats, written as the builds before format 3 wrote
//! them (format 2: a row per event with its JSON, keyframes and attachments; format 1:
//! the same without keyframes or attachments), so tests prove they still read.

use std::path::Path;

use rusqlite::{Connection, params};

/// One event row: (seq, at in ms, source, kind, the event's JSON).
pub type EventRow = (i64, i64, String, String, String);
/// One keyframe: (seq, at in ms, events applied, hash).
pub type KeyframeRow = (i64, i64, i64, String);

/// Writes `path` in `format` 1 or 2 with `meta` (key, value), `rows` and `keyframes`
/// (ignored for format 1).
#[allow(dead_code)]
pub fn write(
    path: &Path,
    format: i32,
    meta: &[(&str, String)],
    rows: &[EventRow],
    keyframes: &[KeyframeRow],
) {
    let conn = Connection::open(path).expect("a new file");
    conn.execute_batch(&format!(
        "PRAGMA application_id = {};
         PRAGMA user_version = {format};
         CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE events (
             seq INTEGER PRIMARY KEY,
             at_millis INTEGER NOT NULL,
             source TEXT NOT NULL,
             kind TEXT NOT NULL,
             body TEXT NOT NULL
         );
         CREATE INDEX events_at ON events (at_millis);",
        0x5357_4244
    ))
    .expect("schema");
    if format >= 2 {
        conn.execute_batch(
            "CREATE TABLE keyframes (
                 seq INTEGER PRIMARY KEY,
                 at_millis INTEGER NOT NULL,
                 events_applied INTEGER NOT NULL,
                 hash TEXT NOT NULL
             );
             CREATE TABLE attachments (kind TEXT PRIMARY KEY, body TEXT NOT NULL);",
        )
        .expect("schema 2");
        for (seq, at, n, hash) in keyframes {
            conn.execute(
                "INSERT INTO keyframes VALUES (?1, ?2, ?3, ?4)",
                params![seq, at, n, hash],
            )
            .expect("keyframe");
        }
    }
    conn.execute(
        "INSERT INTO meta VALUES ('format_version', ?1)",
        params![format.to_string()],
    )
    .expect("meta");
    for (k, v) in meta {
        conn.execute("INSERT INTO meta VALUES (?1, ?2)", params![k, v])
            .expect("meta");
    }
    let tx = conn.unchecked_transaction().expect("tx");
    for (seq, at, source, kind, body) in rows {
        tx.execute(
            "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5)",
            params![seq, at, source, kind, body],
        )
        .expect("event");
    }
    tx.commit().expect("commit");
    conn.execute_batch("PRAGMA journal_mode = WAL;")
        .expect("wal");
}
