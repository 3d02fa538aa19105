//! The replay player: a thread owns a [`Replay`] and publishes the state at the
//! playhead through an ordinary [`EngineHandle`], so the window shows a replay with the
//! very panels it shows live. The handle is read-only: no intent, and so no action,
//! can leave a replay.
//!
//! The thread first reads the whole file ([`Replay::index`]: keyframes checked,
//! checkpoints and marks kept), showing the state at the start meanwhile; then it
//! plays (x1, x10, x60 of recorded time), seeks and jumps to marks on request. Playing
//! forward folds the next events into the current state; a seek starts from the
//! nearest checkpoint.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::EngineHandle;
use crate::session::SessionError;
use crate::session::replay::{Mark, MarkKind, Replay, Verification};
use crate::state::State;
use crate::time::Timestamp;

/// What the window asks of the player.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlayerCmd {
    /// Move the playhead to a moment.
    Seek(Timestamp),
    /// Play or pause.
    Play(bool),
    /// Recorded seconds per second.
    Speed(f64),
    /// Jump to the next mark (of a kind, or any) after the playhead.
    Next(Option<MarkKind>),
    /// Jump to the previous mark (of a kind, or any) before the playhead.
    Previous(Option<MarkKind>),
}

/// Where the player is, for the window.
#[derive(Clone, Debug, Default)]
pub struct PlayerStatus {
    /// The session file.
    pub file: String,
    /// First and last event times.
    pub span: Option<(Timestamp, Timestamp)>,
    /// The playhead.
    pub at: Timestamp,
    /// The last event folded in.
    pub seq: i64,
    /// The last event that can be replayed.
    pub last_seq: i64,
    /// Playing (else paused).
    pub playing: bool,
    /// Recorded seconds per second.
    pub speed: f64,
    /// How far the first read has come, 0..=1.
    pub indexed: f64,
    /// The keyframe check, once read.
    pub verification: Option<Verification>,
    /// Moments worth jumping to, once read.
    pub marks: Arc<Vec<Mark>>,
    /// What the user should know about the file (shared: the window reads the status
    /// every frame).
    pub warnings: Arc<Vec<String>>,
}

/// The window's handle on the player thread.
pub struct Player {
    tx: mpsc::Sender<PlayerCmd>,
    status: Arc<Mutex<PlayerStatus>>,
    file: String,
}

impl Player {
    /// Sends a command (ignored once the thread is gone).
    pub fn send(&self, cmd: PlayerCmd) {
        let _ = self.tx.send(cmd);
    }

    /// The session file.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The latest status.
    pub fn status(&self) -> PlayerStatus {
        self.status
            .lock()
            .map_or_else(|p| p.into_inner().clone(), |s| s.clone())
    }
}

/// Opens `path` for replay: a read-only engine handle showing the state at the
/// playhead, and the player that moves it. `local` adds notes and workflow runs kept
/// elsewhere (this machine's stores) as marks, in the shape of
/// [`Replay::add_marks`].
pub fn open(
    path: &Path,
    local: Option<(serde_json::Value, serde_json::Value)>,
) -> Result<(EngineHandle, Player), SessionError> {
    let replay = Replay::open(path)?;
    let meta = replay.meta().clone();
    let span = replay.span();
    let (snap_tx, snap_rx) = tokio::sync::watch::channel(Arc::new(State::default()));
    let (handle, waker) = EngineHandle::replaying(
        snap_rx,
        format!("{} (replay)", meta.environment),
        format!("replay of {}", path.display()),
    );
    let status = Arc::new(Mutex::new(PlayerStatus {
        file: path.display().to_string(),
        span,
        at: span.map_or(Timestamp(0), |s| s.0),
        last_seq: replay.last_seq(),
        speed: 1.0,
        warnings: Arc::new(replay.warnings().to_vec()),
        ..PlayerStatus::default()
    }));
    let (tx, rx) = mpsc::channel();
    let shared = Arc::clone(&status);
    let publish = move |s: Arc<State>| {
        snap_tx.send_replace(s);
        if let Ok(w) = waker.lock()
            && let Some(wake) = w.as_ref()
        {
            wake();
        }
    };
    std::thread::Builder::new()
        .name("switchboard-replay".into())
        .spawn(move || run(replay, local.as_ref(), &rx, &shared, &publish))
        .map_err(|e| SessionError::Corrupt {
            seq: 0,
            reason: format!("the replay thread did not start: {e}"),
            path: path.to_owned(),
        })?;
    Ok((
        handle,
        Player {
            tx,
            status,
            file: path.display().to_string(),
        },
    ))
}

fn update(status: &Mutex<PlayerStatus>, f: impl FnOnce(&mut PlayerStatus)) {
    if let Ok(mut s) = status.lock() {
        f(&mut s);
    }
}

fn run(
    mut replay: Replay,
    local: Option<&(serde_json::Value, serde_json::Value)>,
    rx: &mpsc::Receiver<PlayerCmd>,
    status: &Mutex<PlayerStatus>,
    publish: &dyn Fn(Arc<State>),
) {
    let Some((first, last)) = replay.span() else {
        publish(Arc::new(State::default()));
        return;
    };
    // While the file is read, the console shows its first moment.
    if let Ok(s) = replay.state_at_seq(1) {
        publish(Arc::new(s));
    }
    replay.index(&mut |seq, total| {
        update(status, |s| s.indexed = seq as f64 / total.max(1) as f64);
    });
    if let Some((notes, journal)) = local {
        replay.add_marks(notes, journal);
    }
    let focus = replay.meta().focus;
    update(status, |s| {
        s.indexed = 1.0;
        s.verification = Some(replay.verification().clone());
        s.marks = Arc::new(replay.marks().to_vec());
        s.warnings = Arc::new(replay.warnings().to_vec());
        s.last_seq = replay.last_seq();
    });
    let mut state = replay.state_at_seq(1).unwrap_or_default();
    let mut seq = state.events_applied.try_into().unwrap_or(0i64);
    // A saved session opens at its span of interest.
    let mut at = focus.map_or(first, |f| f.0.clamp(first, last));
    let mut playing = false;
    let mut speed = 1.0f64;
    let mut tick = Instant::now();
    let mut dirty = true;
    loop {
        if dirty {
            dirty = false;
            let target = replay.seq_at(at).unwrap_or(seq);
            if target > seq && target - seq <= replay_spacing(&replay) {
                // Forward, close by: fold the next events into the current state.
                let _ = replay.reader().rows(seq, target, |row| {
                    if let crate::session::Row::Event(_, ev) = row {
                        state.apply(&ev);
                    }
                });
            } else if target != seq {
                match replay.state_at_seq(target) {
                    Ok(s) => state = s,
                    Err(e) => update(status, |s| {
                        Arc::make_mut(&mut s.warnings).push(e.to_string());
                    }),
                }
            }
            let moved = target != seq;
            seq = target;
            update(status, |s| {
                s.at = at;
                s.seq = seq;
                s.playing = playing;
                s.speed = speed;
            });
            // Playing, a tick without a new event changes only the playhead, which the
            // window reads from the status as it redraws (every 100 ms while playing):
            // no copy of an unchanged state. Any other change is published (it wakes
            // the window).
            if moved || !playing {
                publish(Arc::new(state.clone()));
            }
        }
        let wait = if playing {
            Duration::from_millis(50)
        } else {
            Duration::from_hours(1)
        };
        match rx.recv_timeout(wait) {
            Ok(cmd) => {
                let target = match cmd {
                    PlayerCmd::Play(p) => {
                        playing = p;
                        tick = Instant::now();
                        None
                    }
                    PlayerCmd::Speed(x) => {
                        speed = x.clamp(0.1, 3600.0);
                        None
                    }
                    PlayerCmd::Seek(t) => Some(t),
                    PlayerCmd::Next(kind) => replay
                        .marks()
                        .iter()
                        .find(|m| m.seq > seq && kind.is_none_or(|k| m.kind == k))
                        .map(|m| m.at),
                    PlayerCmd::Previous(kind) => replay
                        .marks()
                        .iter()
                        .rev()
                        .find(|m| m.seq < seq && kind.is_none_or(|k| m.kind == k))
                        .map(|m| m.at),
                };
                if let Some(t) = target {
                    at = t.clamp(first, last);
                }
                dirty = true;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        if playing {
            let dt = tick.elapsed().as_secs_f64();
            tick = Instant::now();
            at = Timestamp((at.0 + (dt * speed * 1000.0) as i64).min(last.0));
            if at >= last {
                playing = false;
            }
            dirty = true;
        }
    }
}

/// Beyond this many events ahead, a seek is cheaper than folding forward.
fn replay_spacing(r: &Replay) -> i64 {
    r.spacing()
}
