//! The incident store behind the window. One thread owns `notes.sqlite` (and reads the
//! workflow journal); the window sends it [`Request`]s and reads the latest [`Shelf`]
//! it published, so no disk access ever runs on the UI thread.
//!
//! - Every two seconds the console's state is recorded: detected incidents, their
//!   severity and impact, the automatic timeline, the journal's workflow runs.
//! - Notes are autosaved by draft: the first save of a draft adds the note (or, for an
//!   existing note, keeps its text from before in the history), later saves replace
//!   the text in place. A save that fails is reported with its text and error; the
//!   editor keeps the text and tries again.
//! - A store that cannot be opened (read-only or missing directory, disk full) is
//!   tried again on the next request, so the console recovers once the cause is gone.
//! - On a relay, the team's notes: a note saved here is marked pending and sent to the
//!   relay ([`Relay::share`]); the relay's copies of everyone's notes come back as
//!   [`Request::Relay`] and are kept here (so a laptop on a train still has them); notes
//!   still pending go again on each new connection, and the relay takes each once.
//! - The requests wait in a bounded queue ([`CAPACITY`]). When the store falls that far
//!   behind (a disk that hangs), a request is handed back refused, with why in words,
//!   and the window never waits: a refused save is shown as not saved and its text stays
//!   in the editor, which tries again; a refused change is said in the top bar.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use switchboard_core::protocol::SharedNote;
use switchboard_core::store::{
    ActionRow, IncidentRow, NewNote, NoteRow, Objectives, Store, StoreError, TimelineEntry,
};
use switchboard_core::workflow::Journal;
use switchboard_core::{RelayNews, State, Timestamp};

/// How many requests may wait for the store thread; one more is refused (see
/// [`Notebook::send`]). The thread takes every waiting request at once, so this is
/// reached only when it is stuck: about a minute of typing and syncing.
pub const CAPACITY: usize = 64;

/// A note being written, as the editor sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// The editor's draft id (one per editing session).
    pub id: u64,
    /// The stored note this edits, if it existed before the session.
    pub existing: Option<i64>,
    /// Its incident.
    pub incident: Option<i64>,
    /// What it is about.
    pub entity: Option<String>,
    /// The moment it is pinned to.
    pub pinned_at: Timestamp,
    /// The text.
    pub body: String,
}

/// What the window asks of the store (the panels push these as commands; the console
/// sends them after the frame).
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Record the console's incidents and timeline.
    Sync(Arc<State>),
    /// The incident page shown (its timeline, notes and actions are loaded).
    Focus(Option<i64>),
    /// Full-text search of the notes, and incident titles.
    Search(String),
    /// Save a draft, at a time.
    Save(Draft, Timestamp),
    /// Set an incident's status.
    Status(i64, &'static str, Timestamp),
    /// Set an incident's severity by hand.
    Severity(i64, u8, Timestamp),
    /// Star or hide a timeline entry.
    Mark {
        /// The entry.
        entry: i64,
        /// Starred.
        starred: bool,
        /// Hidden.
        hidden: bool,
    },
    /// Open an incident by hand.
    Open {
        /// Title.
        title: String,
        /// Severity.
        severity: u8,
        /// When.
        at: Timestamp,
    },
    /// News from the relay: a note as it keeps it, or a new connection.
    Relay(RelayNews),
    /// Write the postmortem of an incident to a file.
    Export {
        /// The incident.
        incident: i64,
        /// The file.
        path: PathBuf,
        /// JSON (else Markdown).
        json: bool,
        /// As of when.
        at: Timestamp,
    },
}

/// A request the store thread did not take, handed back with why, in words for the
/// operator.
#[derive(Debug)]
pub struct Refused {
    /// The request, not carried out.
    pub request: Request,
    /// Why: the store is behind, or its thread has stopped.
    pub why: String,
}

/// How a draft's last save went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaveState {
    /// On disk: the note's id, the text saved, when.
    Saved(i64, String, Timestamp),
    /// Not saved: the text that was tried and why.
    Failed(String, String),
}

/// The focused incident, loaded.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The incident.
    pub incident: Option<IncidentRow>,
    /// Its timeline (hidden entries too).
    pub timeline: Vec<TimelineEntry>,
    /// Its notes.
    pub notes: Vec<NoteRow>,
    /// Its workflow runs.
    pub actions: Vec<ActionRow>,
}

/// What the store thread last published.
#[derive(Clone, Debug, Default)]
pub struct Shelf {
    /// The store file.
    pub path: PathBuf,
    /// The store cannot be used (why), as of the last attempt.
    pub unavailable: Option<String>,
    /// A corrupt store was moved aside here and a fresh one made.
    pub recovered: Option<PathBuf>,
    /// Every incident, newest first.
    pub incidents: Vec<IncidentRow>,
    /// The focused incident.
    pub page: Page,
    /// The last search: its words, the notes found, the incidents whose title matches.
    pub search: Option<(String, Vec<NoteRow>, Vec<IncidentRow>)>,
    /// Each draft's last save.
    pub saves: HashMap<u64, SaveState>,
    /// The last change or export that failed, or the last export written.
    pub outcome: Option<Result<String, String>>,
    /// An incident opened by hand in this session (the page to show).
    pub opened: Option<i64>,
}

/// How the store thread sends notes to the console's relay (`false`: not taken now;
/// the note stays pending).
pub struct Relay {
    /// Sends one note.
    pub share: Box<dyn Fn(SharedNote) -> bool + Send>,
}

/// The window's handle on the store thread.
pub struct Notebook {
    tx: mpsc::SyncSender<Request>,
    shelf: Arc<Mutex<Arc<Shelf>>>,
    pending: Arc<AtomicUsize>,
    last_sync: Option<Instant>,
    next_draft: AtomicU64,
    path: PathBuf,
}

impl Notebook {
    /// Starts the store thread on `path`, recording the incidents of `environment`
    /// (measured against `objectives`) and the workflow steps of `journal`.
    pub fn start(
        path: PathBuf,
        journal: Option<PathBuf>,
        environment: String,
        objectives: Objectives,
        relay: Option<Relay>,
    ) -> Self {
        let (notebook, rx) = Self::unstarted(path.clone());
        let worker = Worker {
            path,
            journal_path: journal,
            journal: None,
            environment,
            objectives,
            store: None,
            last_open_attempt: None,
            shelf: Arc::clone(&notebook.shelf),
            pending: Arc::clone(&notebook.pending),
            drafts: HashMap::new(),
            focus: None,
            query: None,
            relay,
        };
        let spawned = std::thread::Builder::new()
            .name("switchboard-notes".into())
            .spawn(move || worker.run(&rx));
        if let Err(e) = spawned {
            tracing::error!("the notes thread did not start: {e}");
        }
        notebook
    }

    /// The window's side of a store at `path`, and the queue its thread would read.
    fn unstarted(path: PathBuf) -> (Self, mpsc::Receiver<Request>) {
        let (tx, rx) = mpsc::sync_channel(CAPACITY);
        let shelf = Arc::new(Mutex::new(Arc::new(Shelf {
            path: path.clone(),
            ..Shelf::default()
        })));
        let notebook = Self {
            tx,
            shelf,
            pending: Arc::new(AtomicUsize::new(0)),
            last_sync: None,
            next_draft: AtomicU64::new(1),
            path,
        };
        (notebook, rx)
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The latest published shelf.
    pub fn shelf(&self) -> Arc<Shelf> {
        self.shelf
            .lock()
            .map_or_else(|p| Arc::clone(&p.into_inner()), |s| Arc::clone(&s))
    }

    /// Whether requests are still being worked on (the window polls until they are).
    pub fn busy(&self) -> bool {
        self.pending.load(Ordering::Acquire) > 0
    }

    /// Sends a request, or hands it back refused when [`CAPACITY`] requests are still
    /// waiting (or the store thread has stopped): never waits.
    pub fn send(&self, r: Request) -> Result<(), Box<Refused>> {
        self.pending.fetch_add(1, Ordering::AcqRel);
        let (request, why) = match self.tx.try_send(r) {
            Ok(()) => return Ok(()),
            Err(mpsc::TrySendError::Full(r)) => (
                r,
                format!("the note store is behind ({CAPACITY} requests waiting)"),
            ),
            Err(mpsc::TrySendError::Disconnected(r)) => {
                (r, "the note store has stopped".to_owned())
            }
        };
        self.pending.fetch_sub(1, Ordering::AcqRel);
        Err(Box::new(Refused { request, why }))
    }

    /// A way to hand the store thread requests from elsewhere (the relay's news), never
    /// waiting: a request that finds the queue full is dropped (the relay's notes come
    /// again with the next connection).
    pub fn sender(&self) -> impl Fn(Request) + Send + Sync + 'static {
        let tx = self.tx.clone();
        let pending = Arc::clone(&self.pending);
        move |r| {
            pending.fetch_add(1, Ordering::AcqRel);
            if tx.try_send(r).is_err() {
                pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// A new draft id.
    pub fn new_draft(&self) -> u64 {
        self.next_draft.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Offers the console's state for recording, at most every two seconds.
    pub fn offer(&mut self, state: &Arc<State>) {
        if self
            .last_sync
            .is_some_and(|l| l.elapsed() < Duration::from_secs(2))
        {
            return;
        }
        self.last_sync = Some(Instant::now());
        // Refused, it is no loss: the next offer carries a newer state.
        self.send(Request::Sync(Arc::clone(state))).ok();
    }
}

struct Worker {
    path: PathBuf,
    journal_path: Option<PathBuf>,
    journal: Option<Journal>,
    environment: String,
    objectives: Objectives,
    store: Option<Store>,
    last_open_attempt: Option<Instant>,
    shelf: Arc<Mutex<Arc<Shelf>>>,
    pending: Arc<AtomicUsize>,
    /// Draft id -> the note it saves to.
    drafts: HashMap<u64, i64>,
    focus: Option<i64>,
    query: Option<String>,
    relay: Option<Relay>,
}

impl Worker {
    fn run(mut self, rx: &mpsc::Receiver<Request>) {
        let mut next = self.shelf();
        self.ensure_open(&mut next, true);
        self.reload(&mut next);
        self.publish(next);
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            batch.extend(rx.try_iter());
            let n = batch.len();
            // Of several syncs waiting, the newest state is enough.
            let newest_sync = batch.iter().rposition(|r| matches!(r, Request::Sync(_)));
            let mut next = self.shelf();
            for (i, r) in batch.into_iter().enumerate() {
                if matches!(r, Request::Sync(_)) && Some(i) != newest_sync {
                    continue;
                }
                self.handle(r, &mut next);
            }
            self.reload(&mut next);
            self.publish(next);
            self.pending.fetch_sub(n, Ordering::AcqRel);
        }
    }

    fn shelf(&self) -> Shelf {
        self.shelf
            .lock()
            .map_or_else(|p| (**p.into_inner()).clone(), |s| (**s).clone())
    }

    fn publish(&self, next: Shelf) {
        if let Ok(mut s) = self.shelf.lock() {
            *s = Arc::new(next);
        }
    }

    /// Opens the store if it is not open; after a failure, tries again at most every
    /// two seconds unless `now` (a save must try at once).
    fn ensure_open(&mut self, out: &mut Shelf, now: bool) -> bool {
        if self.store.is_some() {
            return true;
        }
        if !now
            && self
                .last_open_attempt
                .is_some_and(|t| t.elapsed() < Duration::from_secs(2))
        {
            return false;
        }
        self.last_open_attempt = Some(Instant::now());
        match Store::open(&self.path) {
            Ok(o) => {
                out.recovered = o.recovered;
                out.unavailable = None;
                self.store = Some(o.store);
                true
            }
            Err(e) => {
                out.unavailable = Some(unwritable(&e, &self.path));
                false
            }
        }
    }

    fn handle(&mut self, r: Request, out: &mut Shelf) {
        let urgent = matches!(r, Request::Save(..));
        if !self.ensure_open(out, urgent) {
            if let Request::Save(d, _) = r {
                let why = out.unavailable.clone().unwrap_or_default();
                out.saves.insert(d.id, SaveState::Failed(d.body, why));
            }
            return;
        }
        let Some(store) = self.store.as_ref() else {
            return;
        };
        match r {
            Request::Sync(state) => {
                if let Err(e) = store.sync_state(&state, &self.environment, &self.objectives) {
                    tracing::warn!("recording incidents: {e}");
                }
                if self.journal.is_none()
                    && let Some(j) = &self.journal_path
                    && j.exists()
                {
                    self.journal = Journal::open(j).ok();
                }
                let runs = self.journal.as_ref().and_then(|j| {
                    j.recent(50)
                        .ok()?
                        .into_iter()
                        .map(|r| j.steps(r.id).map(|s| (r, s)))
                        .collect::<Result<Vec<_>, _>>()
                        .ok()
                });
                if let Some(runs) = runs
                    && let Err(e) = store.sync_journal(&runs)
                {
                    tracing::warn!("recording workflow steps: {e}");
                }
            }
            Request::Focus(id) => self.focus = id,
            Request::Search(q) => self.query = Some(q).filter(|q| !q.trim().is_empty()),
            Request::Save(d, at) => {
                let result = match (self.drafts.get(&d.id), d.existing) {
                    (Some(&id), _) => store.revise_note(id, &d.body, at).map(|()| id),
                    (None, Some(id)) => store.edit_note(id, &d.body, at).map(|()| id),
                    (None, None) => store.add_note(&NewNote {
                        incident: d.incident,
                        author: switchboard_core::operator_name(),
                        body: d.body.clone(),
                        at,
                        pinned_at: Some(d.pinned_at),
                        entity: d.entity.clone(),
                    }),
                };
                let state = match result {
                    Ok(id) => {
                        self.drafts.insert(d.id, id);
                        if let Some(relay) = &self.relay {
                            match store.share_note(id) {
                                Ok(n) => {
                                    (relay.share)(n);
                                }
                                Err(e) => tracing::warn!("note #{id} not shared: {e}"),
                            }
                        }
                        SaveState::Saved(id, d.body, at)
                    }
                    Err(e) => SaveState::Failed(d.body, unwritable(&e, &self.path)),
                };
                out.saves.insert(d.id, state);
            }
            Request::Relay(RelayNews::Note(n)) => {
                if let Err(e) = store.receive_note(&n) {
                    tracing::warn!("a note from the relay was not kept: {e}");
                }
            }
            Request::Relay(RelayNews::Connected) => {
                if let Some(relay) = &self.relay {
                    for n in store.pending_notes().unwrap_or_default() {
                        if !(relay.share)(n) {
                            break;
                        }
                    }
                }
            }
            Request::Status(id, status, at) => {
                out.outcome = store
                    .set_status(id, status, at)
                    .err()
                    .map(|e| Err(e.to_string()));
                // On a relay the change goes to every console, as a note of the incident.
                if out.outcome.is_none()
                    && let Some(relay) = &self.relay
                {
                    let shared = store
                        .status_note(id, status, &switchboard_core::operator_name(), at)
                        .and_then(|n| store.share_note(n));
                    match shared {
                        Ok(n) => {
                            (relay.share)(n);
                        }
                        Err(e) => tracing::warn!("the status of incident #{id} not shared: {e}"),
                    }
                }
            }
            Request::Severity(id, sev, at) => {
                let who = switchboard_core::operator_name();
                out.outcome = store
                    .set_severity(id, sev, at, Some(&who), "")
                    .err()
                    .map(|e| Err(e.to_string()));
            }
            Request::Mark {
                entry,
                starred,
                hidden,
            } => {
                out.outcome = store
                    .mark(entry, starred, hidden)
                    .err()
                    .map(|e| Err(e.to_string()));
            }
            Request::Open {
                title,
                severity,
                at,
            } => match store.open_incident(
                &title,
                severity,
                &self.environment,
                "manual",
                at,
                Some(at),
            ) {
                Ok(id) => {
                    let _ = store.set_objectives(id, &self.objectives);
                    out.opened = Some(id);
                    self.focus = Some(id);
                    out.outcome = None;
                }
                Err(e) => out.outcome = Some(Err(e.to_string())),
            },
            Request::Export {
                incident,
                path,
                json,
                at,
            } => {
                out.outcome = Some(export(store, incident, &path, json, at));
            }
        }
    }

    /// Reloads the list, the focused page and the search from the store.
    fn reload(&mut self, out: &mut Shelf) {
        let Some(store) = self.store.as_ref() else {
            return;
        };
        let loaded = (|| -> Result<(), StoreError> {
            out.incidents = store.incidents()?;
            let focus = self
                .focus
                .filter(|f| out.incidents.iter().any(|i| i.id == *f))
                .or_else(|| {
                    // The newest open incident, else the newest.
                    out.incidents
                        .iter()
                        .find(|i| i.status != "resolved")
                        .or_else(|| out.incidents.first())
                        .map(|i| i.id)
                });
            out.page = match focus {
                Some(id) => Page {
                    incident: Some(store.incident(id)?),
                    timeline: store.timeline(id)?,
                    notes: store.notes(Some(id))?,
                    actions: store.actions(id)?,
                },
                None => Page::default(),
            };
            out.search = match &self.query {
                Some(q) => {
                    let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
                    let titles = out
                        .incidents
                        .iter()
                        .filter(|i| {
                            let t = i.title.to_lowercase();
                            words.iter().all(|w| t.contains(w.as_str()))
                        })
                        .cloned()
                        .collect();
                    Some((q.clone(), store.search(q, 100)?, titles))
                }
                None => None,
            };
            Ok(())
        })();
        if let Err(e) = loaded {
            out.unavailable = Some(e.to_string());
        }
    }
}

/// A store error in words for the operator, naming the file.
fn unwritable(e: &StoreError, path: &Path) -> String {
    match e {
        StoreError::Busy | StoreError::Unwritable(_) => e.to_string(),
        other => format!("{other} ({})", path.display()),
    }
}

/// Writes the postmortem of `incident` to `path` (beside it first, then renamed).
fn export(
    store: &Store,
    incident: i64,
    path: &Path,
    json: bool,
    at: Timestamp,
) -> Result<String, String> {
    let pm = store.postmortem(incident, at).map_err(|e| e.to_string())?;
    let text = if json { pm.to_json() } else { pm.to_markdown() };
    let tmp = path.with_extension("switchboard-tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })?;
    Ok(format!(
        "postmortem of incident #{incident} written to {}",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(body: &str) -> Draft {
        Draft {
            id: 1,
            existing: None,
            incident: None,
            entity: None,
            pinned_at: Timestamp(0),
            body: body.to_owned(),
        }
    }

    #[test]
    fn a_full_queue_hands_the_note_back_and_takes_it_once_there_is_room() {
        let (nb, rx) = Notebook::unstarted(PathBuf::from("notes.sqlite"));
        for _ in 0..CAPACITY {
            nb.send(Request::Focus(None)).expect("room");
        }
        let at = Timestamp(1);
        let refused = nb
            .send(Request::Save(draft("the primary is back"), at))
            .expect_err("full");
        assert_eq!(
            refused.request,
            Request::Save(draft("the primary is back"), at),
            "the note comes back whole"
        );
        assert!(refused.why.contains("behind"), "{}", refused.why);
        assert_eq!(nb.pending.load(Ordering::Acquire), CAPACITY, "counted once");
        // The store thread takes one: there is room again.
        rx.recv().expect("a request");
        nb.send(refused.request).expect("room again");
        drop(rx);
        let gone = nb.send(Request::Focus(None)).expect_err("no thread");
        assert!(gone.why.contains("stopped"), "{}", gone.why);
    }
}
