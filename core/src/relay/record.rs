//! The team's record in PostgreSQL: the notes every relay of a configuration keeps,
//! in the database the environment's `postgres` source named by `serve.record`
//! reaches, with that source's connection settings (libpq's rules: `sslmode`, root
//! and client certificates, the password and service files). A new leader serves what
//! the old one kept because both write here; each relay's SQLite is its cache.
//!
//! - One table, `switchboard_notes`, made on first use; a note is one row by its
//!   client-made id, so a retry or a second relay never doubles it. An edit replaces
//!   the text only when it is newer, as the consoles' stores do.
//! - `switchboard_acks`: who acknowledged which incident (its title and start), for a
//!   new leader to carry (`acks.rs`).
//! - One connection, kept open and remade when it breaks; every call is bounded
//!   (`statement_timeout` on the server, a timeout here) and every read is limited in
//!   rows and in each note's size.
//! - The connection string is never logged: messages name `host:port`.

use std::time::Duration;

use tokio_postgres::Row;

use crate::protocol::{MAX_NOTE_BYTES, SharedNote};
use crate::sources::libpq::Params;
use crate::time::Timestamp;

/// Bound on connecting, and on each statement.
const CALL: Duration = Duration::from_secs(5);
/// Most notes one read returns (the newest edits last).
const MOST_NOTES: i64 = 5000;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS switchboard_notes (
    uid text PRIMARY KEY,
    incident text NOT NULL DEFAULT '',
    author text NOT NULL,
    body text NOT NULL,
    created_at bigint NOT NULL,
    edited_at bigint NOT NULL,
    pinned_at bigint NOT NULL,
    entity text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS switchboard_notes_edited ON switchboard_notes (edited_at);
CREATE TABLE IF NOT EXISTS switchboard_acks (
    title text NOT NULL,
    started_at bigint NOT NULL,
    person text NOT NULL,
    acked_at bigint NOT NULL,
    PRIMARY KEY (title, started_at)
)";

const COLUMNS: &str = "uid, incident, author, body, created_at, edited_at, pinned_at, entity";

/// The record's database and its one connection.
pub(super) struct TeamRecord {
    params: Params,
    what: String,
    client: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
}

impl TeamRecord {
    /// The record reached with `params` (a `postgres` source's, resolved).
    pub(super) fn new(params: Params) -> Self {
        let what = params.describe();
        Self {
            params,
            what,
            client: tokio::sync::Mutex::new(None),
        }
    }

    /// Where it is, for messages.
    pub(super) fn what(&self) -> &str {
        &self.what
    }

    /// Stores `note` (its author set by the relay): added when new, its text replaced
    /// when newer, its author restated. Returns the note as the record keeps it and
    /// whether anything changed.
    pub(super) async fn put(&self, note: &SharedNote) -> Result<(SharedNote, bool), String> {
        let sql = format!(
            "INSERT INTO switchboard_notes AS n ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (uid) DO UPDATE SET
                 body = CASE WHEN n.edited_at < EXCLUDED.edited_at THEN EXCLUDED.body ELSE n.body END,
                 edited_at = GREATEST(n.edited_at, EXCLUDED.edited_at),
                 author = EXCLUDED.author
             WHERE (n.edited_at < EXCLUDED.edited_at AND n.body <> EXCLUDED.body)
                OR n.author <> EXCLUDED.author
             RETURNING {COLUMNS}"
        );
        let incident = note.incident_key.clone().unwrap_or_default();
        let entity = note.entity.clone().unwrap_or_default();
        let (created, edited, pinned) = (note.created_at.0, note.edited_at.0, note.pinned_at.0);
        let mut slot = self.connection().await?;
        let Some(c) = slot.as_ref() else {
            return Err(self.not_connected());
        };
        let work = async {
            let n = note;
            let changed = c
                .query_opt(
                    &sql,
                    &[
                        &n.uid, &incident, &n.author, &n.body, &created, &edited, &pinned, &entity,
                    ],
                )
                .await?;
            if let Some(row) = changed {
                return Ok((note_of(&row), true));
            }
            let kept = c
                .query_one(
                    &format!("SELECT {COLUMNS} FROM switchboard_notes WHERE uid = $1"),
                    &[&n.uid],
                )
                .await?;
            Ok((note_of(&kept), false))
        };
        let answer = tokio::time::timeout(CALL * 2, work).await;
        self.outcome(&mut slot, answer)
    }

    /// The notes edited at or after `since`, oldest edit first (at most [`MOST_NOTES`]).
    pub(super) async fn since(&self, since: Timestamp) -> Result<Vec<SharedNote>, String> {
        let sql = format!(
            "SELECT {COLUMNS} FROM (
                 SELECT {COLUMNS} FROM switchboard_notes
                 WHERE edited_at >= $1 AND octet_length(body) <= $2
                 ORDER BY edited_at DESC, uid LIMIT $3
             ) newest ORDER BY edited_at, uid"
        );
        let max = i32::try_from(MAX_NOTE_BYTES).unwrap_or(i32::MAX);
        let mut slot = self.connection().await?;
        let Some(c) = slot.as_ref() else {
            return Err(self.not_connected());
        };
        let work = async {
            let rows = c.query(&sql, &[&since.0, &max, &MOST_NOTES]).await?;
            Ok(rows.iter().map(note_of).collect())
        };
        let answer = tokio::time::timeout(CALL * 2, work).await;
        self.outcome(&mut slot, answer)
    }

    /// Keeps `ack` (the first acknowledgement of an incident stands).
    pub(super) async fn put_ack(
        &self,
        ack: &super::acks::Ack,
        at: Timestamp,
    ) -> Result<(), String> {
        let mut slot = self.connection().await?;
        let Some(c) = slot.as_ref() else {
            return Err(self.not_connected());
        };
        let work = async {
            c.execute(
                "INSERT INTO switchboard_acks (title, started_at, person, acked_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&ack.title, &ack.started_at.0, &ack.person, &at.0],
            )
            .await
        };
        let answer = tokio::time::timeout(CALL * 2, work).await;
        self.outcome(&mut slot, answer).map(|_| ())
    }

    /// The acknowledgements given at or after `since` (at most [`MOST_NOTES`]).
    pub(super) async fn acks_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<super::acks::Ack>, String> {
        let mut slot = self.connection().await?;
        let Some(c) = slot.as_ref() else {
            return Err(self.not_connected());
        };
        let work = async {
            let rows = c
                .query(
                    "SELECT title, started_at, person FROM switchboard_acks
                     WHERE acked_at >= $1 ORDER BY acked_at LIMIT $2",
                    &[&since.0, &MOST_NOTES],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| super::acks::Ack {
                    title: r.get(0),
                    started_at: Timestamp(r.get(1)),
                    person: r.get(2),
                })
                .collect())
        };
        let answer = tokio::time::timeout(CALL * 2, work).await;
        self.outcome(&mut slot, answer)
    }

    /// The connection, made (and the table with it) when there is none.
    async fn connection(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<tokio_postgres::Client>>, String> {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
            *slot = Some(self.connect().await?);
        }
        Ok(slot)
    }

    fn not_connected(&self) -> String {
        format!("the team's record is not connected ({})", self.what)
    }

    /// A bounded call's result in words; a failure drops the connection so the next
    /// call makes a new one.
    fn outcome<T>(
        &self,
        slot: &mut Option<tokio_postgres::Client>,
        answer: Result<Result<T, tokio_postgres::Error>, tokio::time::error::Elapsed>,
    ) -> Result<T, String> {
        let why = match answer {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => format!("{} ({})", crate::sources::pg::words(&e), self.what),
            Err(_) => format!(
                "no answer within {} s ({})",
                (CALL * 2).as_secs(),
                self.what
            ),
        };
        *slot = None;
        Err(why)
    }

    /// A connection with the statement bound set and the table made.
    async fn connect(&self) -> Result<tokio_postgres::Client, String> {
        let connected = tokio::time::timeout(
            CALL * 2,
            crate::sources::pg_tls::connect(&self.params, CALL),
        )
        .await
        .map_err(|_| {
            format!(
                "no answer within {} s ({})",
                (CALL * 2).as_secs(),
                self.what
            )
        })?
        .map_err(|e| format!("cannot reach the team's record: {e}"))?;
        let client = connected.client;
        let setup = async {
            client
                .batch_execute(&format!("SET statement_timeout = {}", CALL.as_millis()))
                .await?;
            // Two relays starting together may both make the table: the loser's error
            // is a duplicate, and the table is there.
            if let Err(e) = client.batch_execute(SCHEMA).await {
                let duplicate = e.code().is_some_and(|c| {
                    *c == tokio_postgres::error::SqlState::UNIQUE_VIOLATION
                        || *c == tokio_postgres::error::SqlState::DUPLICATE_TABLE
                });
                if !duplicate {
                    return Err(e);
                }
            }
            Ok(())
        };
        tokio::time::timeout(CALL * 2, setup)
            .await
            .map_err(|_| {
                format!(
                    "no answer within {} s ({})",
                    (CALL * 2).as_secs(),
                    self.what
                )
            })?
            .map_err(|e| {
                format!(
                    "the team's record cannot keep notes: {} ({})",
                    crate::sources::pg::words(&e),
                    self.what
                )
            })?;
        Ok(client)
    }
}

/// A row of `switchboard_notes` as a note.
fn note_of(row: &Row) -> SharedNote {
    let text = |i: usize| row.get::<_, String>(i);
    let optional = |i: usize| Some(text(i)).filter(|t| !t.is_empty());
    SharedNote {
        uid: text(0),
        incident_key: optional(1),
        author: text(2),
        body: text(3),
        created_at: Timestamp(row.get(4)),
        edited_at: Timestamp(row.get(5)),
        pinned_at: Timestamp(row.get(6)),
        entity: optional(7),
    }
}
