//! The recorder thread: writes the engine's applied batches to the session file (blocks
//! of events, keyframes), rolls to a new segment when asked, and keeps to the
//! retention; and the [`Flusher`] that asks it to write what it gathered.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{EngineError, EngineOptions};
use crate::event::Event;
use crate::session::{Recorder, SessionError, SessionMeta, retention::Retention};
use crate::state::State;

/// The recorder writes a block of events at least this often (a console killed loses
/// at most this much of its recording).
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The recorder's sender, its thread, and the segment being written.
pub(super) type Spawned = (
    Option<std::sync::mpsc::SyncSender<Recorded>>,
    Option<std::thread::JoinHandle<Option<SessionError>>>,
    Arc<Mutex<Option<PathBuf>>>,
);

/// Starts the recorder thread when `opts` records: created before anything runs, so a
/// bad path fails start-up. `recording_stopped` gets why it stopped, in words.
pub(super) fn spawn(
    opts: &EngineOptions,
    environment: &str,
    drill: bool,
    recording_stopped: &Arc<Mutex<Option<String>>>,
) -> Result<Spawned, EngineError> {
    Ok(match &opts.record_to {
        Some(path) => {
            let mut meta = SessionMeta {
                app_version: env!("CARGO_PKG_VERSION").to_owned(),
                environment: environment.to_owned(),
                drill,
                config: opts.config.to_toml(),
                started_at: opts.clock.now(),
                focus: None,
                recording: format!("{}-{}", opts.clock.now().0, std::process::id()),
                segment: 0,
            };
            let mut recorder = Recorder::create(path, &meta)?;
            let (tx, rx) = std::sync::mpsc::sync_channel::<Recorded>(256);
            let shared_path = Arc::new(Mutex::new(Some(path.clone())));
            let current = Arc::clone(&shared_path);
            let retention = opts.retention;
            let clock = Arc::clone(&opts.clock);
            let stopped_slot = Arc::clone(recording_stopped);
            // The recorder stopped: said once, in words, and shown (the window's status
            // bar, `watch`'s stderr); the reducer goes on without it.
            let stopped = move |e: SessionError, current: &Mutex<Option<PathBuf>>| {
                let words = e.recording_stopped();
                tracing::error!("{words}");
                if let Ok(mut p) = current.lock() {
                    *p = None;
                }
                if let Ok(mut s) = stopped_slot.lock() {
                    *s = Some(words);
                }
                Some(e)
            };
            let handle = std::thread::Builder::new()
                .name("switchboard-recorder".into())
                .spawn(move || {
                    prune(&recorder, retention);
                    // The state a new segment starts from, once the next batch comes
                    // (so no segment is ever empty).
                    let mut roll_from: Option<Arc<State>> = None;
                    let mut wrote_any = false;
                    loop {
                        // A block is written within a second of its first event even
                        // when nothing more comes.
                        let r = match rx.recv_timeout(FLUSH_EVERY) {
                            Ok(r) => r,
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                                if let Err(e) = recorder.flush_due(FLUSH_EVERY) {
                                    return stopped(e, &current);
                                }
                                continue;
                            }
                            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                        };
                        if let Some(state) = r.restart {
                            roll_from = Some(state);
                        }
                        if !r.events.is_empty()
                            && let Some(state) = roll_from.take()
                        {
                            meta.segment += 1;
                            meta.started_at = clock.now();
                            let next = segment_path(recorder.path(), clock.now());
                            match Recorder::create_from(&next, &meta, &state) {
                                Ok(rec) => {
                                    let before = std::mem::replace(&mut recorder, rec);
                                    let empty = !wrote_any;
                                    let old_path = before.path().to_owned();
                                    if let Err(e) = before.finish() {
                                        return stopped(e, &current);
                                    }
                                    // A console that adopted a relay's state before
                                    // anything was written leaves no empty segment.
                                    if empty {
                                        std::fs::remove_file(&old_path).ok();
                                    }
                                    if let Ok(mut p) = current.lock() {
                                        *p = Some(next);
                                    }
                                    prune(&recorder, retention);
                                }
                                Err(e) => return stopped(e, &current),
                            }
                        }
                        wrote_any |= !r.events.is_empty();
                        let written = recorder
                            .append(&r.events)
                            .and_then(|()| {
                                // The fingerprint is computed here, off the reducer.
                                match &r.state {
                                    Some(state) => recorder.keyframe(state),
                                    None => Ok(()),
                                }
                            })
                            .and_then(|()| recorder.flush_due(FLUSH_EVERY));
                        if let Err(e) = written {
                            return stopped(e, &current);
                        }
                        if let Some(done) = r.flushed {
                            if let Err(e) = recorder.flush() {
                                return stopped(e, &current);
                            }
                            done.try_send(()).ok();
                        }
                        if r.roll {
                            roll_from = r.state;
                        }
                    }
                    match recorder.finish() {
                        Ok(()) => None,
                        Err(e) => stopped(e, &current),
                    }
                })
                .map_err(EngineError::Runtime)?;
            (Some(tx), Some(handle), shared_path)
        }
        None => (None, None, Arc::new(Mutex::new(None))),
    })
}

/// The next segment's file: beside `current`, named by `now` like the first.
fn segment_path(current: &std::path::Path, now: crate::time::Timestamp) -> PathBuf {
    let stamp = now.file_stamp();
    let dir = current
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let mut p = dir.join(format!("session-{stamp}.sqlite"));
    let mut n = 1;
    while p.exists() {
        p = dir.join(format!("session-{stamp}-{n}.sqlite"));
        n += 1;
    }
    p
}

/// What the recorder thread writes: a batch, and the state after it when a keyframe is
/// due. Only keyframes carry a state, so a recorder behind the reducer holds batches,
/// not a snapshot per batch.
pub(super) struct Recorded {
    pub(super) events: Arc<Vec<Event>>,
    /// The state after them (an `Arc` clone of the published snapshot), to key.
    pub(super) state: Option<Arc<State>>,
    /// Start a new segment from that state (after keying it) when the next batch comes.
    pub(super) roll: bool,
    /// The state jumped here (a console adopted its relay's state): the next batch
    /// starts a new segment from it, since the events before it do not lead to it.
    pub(super) restart: Option<Arc<State>>,
    /// Write the block being gathered now, and say so here ([`Flusher`]).
    pub(super) flushed: Option<std::sync::mpsc::SyncSender<()>>,
}

/// Asks the recorder to write what it has gathered (the flight recorder writes a block
/// at least once a second), so a session saved now holds everything applied up to now.
#[derive(Clone)]
pub struct Flusher(pub(super) tokio::sync::mpsc::Sender<super::Command>);

impl Flusher {
    /// Asks, and waits at most `timeout` for the recorder (a job's thread, never the
    /// UI's); `false` when it did not answer (stopped, not recording, or behind).
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done, said) = std::sync::mpsc::sync_channel(1);
        let deadline = std::time::Instant::now() + timeout;
        let mut ask = Some(super::Command::Flush(done));
        // The engine's command queue may be full for a moment: wait for room, within
        // the same bound.
        while let Some(a) = ask.take() {
            match self.0.try_send(a) {
                Ok(()) => {}
                Err(tokio::sync::mpsc::error::TrySendError::Full(a))
                    if std::time::Instant::now() < deadline =>
                {
                    ask = Some(a);
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
        said.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .is_ok()
    }
}

/// Removes the sessions beside `recorder`'s file that `retention` lets go (on a
/// thread of its own: the recorder keeps writing meanwhile).
fn prune(recorder: &Recorder, retention: Option<Retention>) {
    let (Some(retention), Some(dir)) = (retention, recorder.path().parent()) else {
        return;
    };
    crate::session::retention::prune_in_background(
        dir.to_owned(),
        retention,
        Some(recorder.path().to_owned()),
    );
}
