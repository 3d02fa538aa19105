//! Saving a span of a recording to a file of its own (File → Save session…).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension as _, params};

use super::reader::blocks_seq_at;
use super::{SCHEMA_V2, SessionError, SessionReader, blocks, sqlite};
use crate::time::Timestamp;

/// Saves the part of a recording (its `segments`, in order; the last may still be
/// recording) that ends at `to` into the new file `dst`, with [from, to] as its span
/// of interest and the `attachments` (kind, JSON): the incidents, notes and workflow
/// runs of that span. Every event up to `to` is kept from the start of the segment
/// holding `from` (and that segment's starting state), so the saved session replays to
/// exactly the states the console showed. The file keeps its segments' format (format 1
/// becomes 2, which adds keyframes and attachments). Returns the sequence number of the
/// last event saved.
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
    let format = reader.format()?.max(2);
    // A consistent copy, even of a file being written (one read transaction).
    reader
        .conn()
        .execute("VACUUM INTO ?1", params![dst.to_string_lossy()])
        .map_err(sqlite(dst))?;
    drop(reader);
    let out = Connection::open(dst).map_err(sqlite(dst))?;
    let blocks = out
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blocks'",
            [],
            |_| Ok(()),
        )
        .is_ok();
    let written = (|| -> Result<i64, SessionError> {
        let sql = sqlite(dst);
        out.execute_batch(SCHEMA_V2).map_err(sqlite(dst))?;
        // The later segments' events go on in sequence.
        let events = if blocks {
            "INSERT INTO blocks SELECT * FROM seg.blocks
                 WHERE first_seq > (SELECT coalesce(max(last_seq), 0) FROM main.blocks);"
        } else {
            "INSERT INTO events SELECT * FROM seg.events
                 WHERE seq > (SELECT coalesce(max(seq), 0) FROM main.events);"
        };
        for later in &segments[start + 1..] {
            out.execute(
                "ATTACH DATABASE ?1 AS seg",
                params![later.to_string_lossy()],
            )
            .and_then(|_| {
                out.execute_batch(&format!(
                    "{events}
                     INSERT OR IGNORE INTO keyframes SELECT * FROM seg.keyframes;
                     DETACH DATABASE seg;"
                ))
            })
            .map_err(sqlite(dst))?;
        }
        let last = if blocks {
            let last = blocks_seq_at(&out, to).map_err(|(seq, reason)| SessionError::Corrupt {
                seq,
                reason,
                path: dst.to_owned(),
            })?;
            cut_blocks(&out, last, dst)?;
            last
        } else {
            let last: i64 = out
                .query_row(
                    "SELECT coalesce(max(seq), 0) FROM events WHERE at_millis <= ?1",
                    params![to.0],
                    |r| r.get(0),
                )
                .map_err(sqlite(dst))?;
            out.execute("DELETE FROM events WHERE seq > ?1", params![last])
                .map_err(sqlite(dst))?;
            last
        };
        let finish = || -> rusqlite::Result<()> {
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
            out.execute_batch(&format!("PRAGMA user_version = {format}; VACUUM;"))
        };
        finish().map_err(sql)?;
        Ok(last)
    })();
    written.inspect_err(|_| {
        drop(std::fs::remove_file(dst));
    })
}

/// Format 3: drops every event after `last`; the block holding it is written again
/// with its events up to `last`, as they were written.
fn cut_blocks(conn: &Connection, last: i64, path: &Path) -> Result<(), SessionError> {
    conn.execute("DELETE FROM blocks WHERE first_seq > ?1", params![last])
        .map_err(sqlite(path))?;
    let straddling: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT first_seq, body FROM blocks WHERE first_seq <= ?1 AND last_seq > ?1",
            params![last],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sqlite(path))?;
    let Some((first, body)) = straddling else {
        return Ok(());
    };
    let damaged = |seq: i64, reason: String| SessionError::Corrupt {
        seq,
        reason,
        path: path.to_owned(),
    };
    let block = blocks::decompress(&body).map_err(|why| damaged(first, why))?;
    let mut kept = blocks::Pending::default();
    for (seq, line) in (first..=last).zip(blocks::lines(&block)) {
        let at = blocks::line_at(line)
            .ok_or_else(|| damaged(seq, "an event without its time".to_owned()))?;
        kept.push_line(seq, at, line);
    }
    let body = blocks::compress(&kept.lines).map_err(|source| SessionError::Io {
        source,
        path: path.to_owned(),
    })?;
    conn.execute(
        "UPDATE blocks SET last_seq = ?2, min_at = ?3, max_at = ?4, body = ?5 WHERE first_seq = ?1",
        params![first, kept.last_seq(), kept.min_at, kept.max_at, body],
    )
    .map_err(sqlite(path))?;
    Ok(())
}
