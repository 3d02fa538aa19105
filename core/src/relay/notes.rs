//! The relay's notes: the team's record (its own SQLite store), each note taken once by
//! its id and sent to every console as it comes. The store is blocking: it is used
//! off the runtime's workers, one call at a time.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::protocol::{SharedNote, pb};
use crate::store::Store;
use crate::time::Timestamp;

/// Notes waiting for consoles that are behind; a console further behind gets the rest
/// when it reconnects (the notes since its last one).
const FANOUT: usize = 1024;

/// The relay's record of notes and their fan-out.
pub(super) struct Notes {
    store: Mutex<Store>,
    fanout: broadcast::Sender<pb::Note>,
}

impl Notes {
    /// Opens (or makes) the record at `path`.
    pub(super) fn open(path: &Path) -> Result<Self, String> {
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
            fanout,
        })
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
        let me = Arc::clone(self);
        let (stored, changed) = tokio::task::spawn_blocking(move || {
            let store = me
                .store
                .lock()
                .map_err(|_| "the notes store is unavailable".to_owned())?;
            store.receive_note(&note).map_err(|e| e.to_string())
        })
        .await
        .map_err(|_| tonic::Status::internal("the notes store stopped"))?
        .map_err(|e| tonic::Status::unavailable(format!("the relay cannot keep the note: {e}")))?;
        if changed {
            self.fanout.send(stored.to_pb()).ok();
        }
        Ok(stored)
    }

    /// The notes edited at or after `since`.
    pub(super) async fn since(self: &Arc<Self>, since: Timestamp) -> Vec<pb::Note> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            me.store
                .lock()
                .ok()
                .and_then(|s| s.shared_notes_since(since).ok())
                .unwrap_or_default()
                .iter()
                .map(SharedNote::to_pb)
                .collect()
        })
        .await
        .unwrap_or_default()
    }
}
