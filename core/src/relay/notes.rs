//! The relay's notes: the team's record, each note taken once by its id and sent to
//! every console as it comes.
//!
//! The record is the team's PostgreSQL when `serve.record` names it (`record.rs`),
//! else the relay's own SQLite store; with PostgreSQL, the SQLite store is the relay's
//! cache: it takes every note too, it answers when the database does not, and a note
//! the database could not take is kept there and sent again every few seconds (and
//! every note the cache holds is sent once when the relay starts), so a note a console
//! was told is kept reaches the record. When the relay starts it also takes the
//! record's notes into its cache. The SQLite store is blocking: it is used off the
//! runtime's workers, one call at a time.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::record::TeamRecord;
use crate::protocol::{SharedNote, pb};
use crate::store::Store;
use crate::time::Timestamp;

/// Ids of the notes sent kept (then forgotten all at once: a note sent twice is taken
/// once by every console).
const SENT_KEPT: usize = 100_000;
/// How often notes the team's record could not take are sent again.
const RESEND_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// Notes waiting for consoles that are behind; a console further behind gets the rest
/// when it reconnects (the notes since its last one).
const FANOUT: usize = 1024;

/// The relay's record of notes and their fan-out.
pub(super) struct Notes {
    store: Mutex<Store>,
    record: Option<Arc<TeamRecord>>,
    /// Notes the team's record has not taken yet (kept in the cache meanwhile).
    unsaved: Mutex<Vec<SharedNote>>,
    /// The ids of the notes this relay sent to its consoles.
    sent: Mutex<std::collections::HashSet<String>>,
    fanout: broadcast::Sender<pb::Note>,
}

impl Notes {
    /// Opens (or makes) the store at `path`: the record, or with `record` its cache.
    pub(super) fn open(path: &Path, record: Option<Arc<TeamRecord>>) -> Result<Self, String> {
        let opened = Store::open(path).map_err(|e| format!("the relay's notes: {e}"))?;
        if let Some(aside) = opened.recovered {
            tracing::error!(
                "the relay's notes database was damaged; copied aside to {}",
                aside.display()
            );
        }
        let (fanout, _) = broadcast::channel(FANOUT);
        Ok(Self {
            store: Mutex::new(opened.store),
            record,
            unsaved: Mutex::new(Vec::new()),
            sent: Mutex::new(std::collections::HashSet::new()),
            fanout,
        })
    }

    /// With a team's record: brings the cache and the record together once (every
    /// note of one into the other), then sends again what the record could not take,
    /// until the relay stops. Returns at once without one.
    pub(super) async fn keep_record(self: Arc<Self>) {
        let Some(record) = &self.record else { return };
        let cached = self.cached_since(Timestamp(0)).await;
        if let Ok(mut u) = self.unsaved.lock() {
            u.extend(cached);
        }
        match record.since(Timestamp(0)).await {
            Ok(kept) => {
                let n = kept.len();
                for note in kept {
                    if let Err(e) = self.cache(note).await {
                        tracing::warn!(
                            "the relay's cache did not take a note of the team's record: {e}"
                        );
                    }
                }
                tracing::info!("the team's record ({}) holds {n} notes", record.what());
            }
            Err(e) => tracing::warn!("the team's record cannot be read yet: {e}"),
        }
        loop {
            let pending = self
                .unsaved
                .lock()
                .map(|mut u| std::mem::take(&mut *u))
                .unwrap_or_default();
            let mut left = Vec::new();
            let mut failed = None;
            for note in pending {
                if failed.is_some() {
                    left.push(note);
                    continue;
                }
                if let Err(e) = record.put(&note).await {
                    failed = Some(e);
                    left.push(note);
                }
            }
            if let Some(e) = failed {
                tracing::warn!(
                    "the team's record has not taken {} note(s) yet (kept in the relay's cache): {e}",
                    left.len()
                );
            }
            if !left.is_empty()
                && let Ok(mut u) = self.unsaved.lock()
            {
                u.extend(left);
            }
            tokio::time::sleep(RESEND_EVERY).await;
        }
    }

    /// Takes `note` into the SQLite store: the note as stored, and whether it changed.
    async fn cache(self: &Arc<Self>, note: SharedNote) -> Result<(SharedNote, bool), String> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let store = me
                .store
                .lock()
                .map_err(|_| "the notes store is unavailable".to_owned())?;
            store.receive_note(&note).map_err(|e| e.to_string())
        })
        .await
        .map_err(|_| "the notes store stopped".to_owned())?
    }

    /// The SQLite store's notes edited at or after `since`.
    async fn cached_since(self: &Arc<Self>, since: Timestamp) -> Vec<SharedNote> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            me.store
                .lock()
                .ok()
                .and_then(|s| s.shared_notes_since(since).ok())
                .unwrap_or_default()
        })
        .await
        .unwrap_or_default()
    }

    /// Every note from now on.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<pb::Note> {
        self.fanout.subscribe()
    }

    /// Stores `note` as `author` wrote it, sends it to every console when it is new or
    /// newer, and returns it as stored.
    pub(super) async fn put(
        self: &Arc<Self>,
        mut note: SharedNote,
        author: String,
    ) -> Result<SharedNote, tonic::Status> {
        note.author = author;
        let mut recorded = None;
        if let Some(record) = &self.record {
            match record.put(&note).await {
                Ok(r) => recorded = Some(r),
                Err(e) => {
                    tracing::warn!(
                        "the team's record did not take a note; kept in the relay's cache and sent again: {e}"
                    );
                    if let Ok(mut u) = self.unsaved.lock() {
                        u.push(note.clone());
                    }
                }
            }
        }
        let to_cache = recorded
            .as_ref()
            .map_or_else(|| note.clone(), |(n, _)| n.clone());
        let cached = self.cache(to_cache).await.map_err(|e| {
            tonic::Status::unavailable(format!("the relay cannot keep the note: {e}"))
        });
        let (stored, changed) = match (recorded, cached) {
            (Some(r), Ok(_)) => r,
            (Some(r), Err(e)) => {
                tracing::warn!("the relay's cache did not take a note the record kept: {e}");
                r
            }
            (None, cached) => cached?,
        };
        // A note the record already held may never have reached the consoles (its relay
        // died between the two): this relay sends each note once at least.
        let first_here = self.sent.lock().map_or(true, |mut sent| {
            if sent.len() >= SENT_KEPT {
                sent.clear();
            }
            sent.insert(stored.uid.clone())
        });
        if changed || first_here {
            self.fanout.send(stored.to_pb()).ok();
        }
        Ok(stored)
    }

    /// The notes edited at or after `since`: the team's record's, or the cache's when
    /// the record does not answer.
    pub(super) async fn since(self: &Arc<Self>, since: Timestamp) -> Vec<pb::Note> {
        if let Some(record) = &self.record {
            match record.since(since).await {
                Ok(notes) => return notes.iter().map(SharedNote::to_pb).collect(),
                Err(e) => {
                    tracing::warn!("the team's record did not answer; the relay's cache does: {e}");
                }
            }
        }
        self.cached_since(since)
            .await
            .iter()
            .map(SharedNote::to_pb)
            .collect()
    }
}
