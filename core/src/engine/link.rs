//! A console's link to its relay: in place of its own sources, the engine of a console
//! on a relay adopts the relay's state and folds the relay's applied events with the
//! same reducer, so it shows exactly what the relay sees.
//!
//! - Connect (TLS with the person's client certificate, or a bearer token), `Hello` to
//!   learn who the relay takes the console for, `Subscribe`: the first frame is the
//!   relay's state (adopted whole), then event batches, notes, and an empty frame each
//!   idle second so a silent relay is told from a quiet one.
//! - Lost (an error, the stream's end, or five seconds of silence): every source still
//!   up is marked stale at once, naming the relay, so every tile shows its age; the
//!   link then reconnects with jittered backoff and adopts a fresh state.
//! - Intents sent to the engine go to the relay (`Act`), recorded there under the
//!   person's name; the relay's echo of them is what the console records.
//! - Notes go to the relay (`PutNote`); the notes it sends (every console's, and the
//!   relay's copy of this one's) and each new connection are told to the listener the
//!   app sets ([`RelayNews`]), which keeps them in the console's own store.
//! - With `fallback_direct`, a relay lost for [`FALLBACK_AFTER`] is replaced by the
//!   environment's own sources, polled directly on a runtime of their own, until the
//!   relay is back (its state is then adopted and the direct sources stop). Off by
//!   default: twenty consoles falling back at once are the storm a relay prevents.
//! - Several relays (they elect a leader): a standby's `Hello` names the leader, which
//!   the link dials next; any other failure moves on to the next relay of the list,
//!   retrying within a few hundred milliseconds, so a console finds a new leader within
//!   moments of its election.
//! - Every wait is bounded: connecting, `Hello`, the first frame, each later frame.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::Command;
use crate::config::RelayClient;
use crate::event::Intent;
use crate::protocol::{self, Conn, Role, SharedNote, connect, pb, status_words};
use crate::sources::Backoff;
use crate::time::{Clock, Timestamp};

/// A relay silent this long is taken as lost (it sends a frame every idle second).
const SILENCE: Duration = Duration::from_secs(5);
/// Bound on each unary call.
const CALL: Duration = Duration::from_secs(10);
/// How long a relay stays lost before a console allowed to polls directly.
pub const FALLBACK_AFTER: Duration = Duration::from_secs(10);
/// Bound on the first frame (a large estate's state).
const FIRST_FRAME: Duration = Duration::from_mins(1);

/// What the window says of the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    /// The relay's address.
    pub url: String,
    /// Connected and following the relay's state.
    pub connected: bool,
    /// When it last connected or was lost.
    pub since: Timestamp,
    /// Who the relay takes this console for, once it said.
    pub person: Option<String>,
    /// What that person may do.
    pub role: Option<Role>,
    /// The sources the relay runs (so a console knows when it has heard from all).
    pub sources: Vec<String>,
    /// Why it is not connected, or why the relay last refused something.
    pub error: Option<String>,
    /// The relay is plain `http://`: the window says INSECURE.
    pub insecure: bool,
    /// The relay is lost and this console polls the sources itself (`fallback_direct`).
    pub direct: bool,
}

/// What a console allowed to fall back polls while its relay is lost.
pub(super) struct Fallback {
    /// The environment's sources.
    pub(super) sources: Vec<crate::config::SourceConfig>,
    /// The reducer's event queue.
    pub(super) events: mpsc::Sender<crate::event::Event>,
}

/// What the link tells the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayNews {
    /// A note as the relay keeps it (someone's new note or edit, or the relay's copy of
    /// one this console sent).
    Note(SharedNote),
    /// The console follows the relay again: notes still pending may be sent.
    Connected,
}

/// Who hears of the relay's notes and connections.
pub(super) type Listener = Arc<Mutex<Option<Box<dyn Fn(RelayNews) + Send + Sync>>>>;

/// The way to the relay a console follows now, for calls besides the link's own (the
/// workflow desk's): the connection to the leader while connected, none while lost.
#[derive(Clone)]
pub struct RelayDoor {
    conn: Arc<Mutex<Option<Conn>>>,
    tls: Option<crate::sources::TlsSettings>,
}

impl RelayDoor {
    /// A client of the relay followed now, or why there is none.
    pub fn client(&self) -> Result<Conn, String> {
        self.conn
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .ok_or_else(|| "the relay is not connected; try again once it is back".to_owned())
    }

    /// A refusal or failure of the relay in the operator's words.
    pub fn words(&self, s: &tonic::Status) -> String {
        status_words(s, self.tls.as_ref())
    }

    fn set(&self, conn: Option<Conn>) {
        if let Ok(mut c) = self.conn.lock() {
            *c = conn;
        }
    }

    /// A door to whichever relay of `target` leads, for a command that asks once (no
    /// link, no state): each relay of the list is tried in turn, a standby's word on
    /// the leader followed. Returns the door and the person the relay takes the caller
    /// for, or why no relay would serve.
    pub async fn dial(target: &RelayClient) -> Result<(Self, String), String> {
        let urls: Vec<String> = std::iter::once(target.url.clone())
            .chain(target.standby.iter().cloned())
            .collect();
        let mut why = Vec::new();
        let mut queue: std::collections::VecDeque<String> = urls.iter().cloned().collect();
        let mut tried = std::collections::BTreeSet::new();
        while let Some(url) = queue.pop_front() {
            if !tried.insert(url.clone()) {
                continue;
            }
            let mut one = target.clone();
            one.url.clone_from(&url);
            let mut client = match connect(&one).await {
                Ok(c) => c,
                Err(e) => {
                    why.push(format!("{url}: {e}"));
                    continue;
                }
            };
            let hello = match tokio::time::timeout(CALL, client.hello(pb::HelloRequest {})).await {
                Ok(Ok(h)) => h.into_inner(),
                Ok(Err(s)) => {
                    why.push(format!("{url}: {}", status_words(&s, target.tls.as_ref())));
                    continue;
                }
                Err(_) => {
                    why.push(format!("{url}: no hello in time"));
                    continue;
                }
            };
            if hello.standby {
                why.push(format!("{url} is a standby"));
                if urls.contains(&hello.leader) {
                    queue.push_front(hello.leader);
                }
                continue;
            }
            let door = Self {
                conn: Arc::new(Mutex::new(Some(client))),
                tls: target.tls.clone(),
            };
            return Ok((door, hello.person));
        }
        Err(format!("no relay would serve: {}", why.join("; ")))
    }
}

/// The link's handles the engine keeps.
pub(super) struct Link {
    pub(super) status: Arc<Mutex<LinkStatus>>,
    pub(super) door: RelayDoor,
    pub(super) intents: mpsc::Sender<Intent>,
    pub(super) notes: mpsc::Sender<SharedNote>,
    pub(super) listener: Listener,
}

/// Starts the link to `target` on `runtime`; it feeds `commands` (the reducer's queue).
pub(super) fn spawn(
    target: RelayClient,
    fallback: Option<Fallback>,
    commands: mpsc::Sender<Command>,
    read_only: Arc<Mutex<Option<String>>>,
    clock: Arc<dyn Clock>,
    runtime: &tokio::runtime::Handle,
) -> Link {
    let status = Arc::new(Mutex::new(LinkStatus {
        url: target.url.clone(),
        connected: false,
        since: clock.now(),
        person: None,
        role: None,
        sources: Vec::new(),
        error: Some("connecting".into()),
        insecure: target.url.starts_with("http://"),
        direct: false,
    }));
    let (intents_tx, intents) = mpsc::channel(64);
    let (notes_tx, notes) = mpsc::channel(256);
    let listener: Listener = Arc::default();
    let door = RelayDoor {
        conn: Arc::default(),
        tls: target.tls.clone(),
    };
    let task = Task {
        door: door.clone(),
        target,
        fallback,
        direct: None,
        followed: false,
        current: 0,
        pointed: false,
        commands,
        status: Arc::clone(&status),
        read_only,
        clock,
        intents,
        notes,
        listener: Arc::clone(&listener),
    };
    runtime.spawn(task.run());
    Link {
        status,
        door,
        intents: intents_tx,
        notes: notes_tx,
        listener,
    }
}

struct Task {
    target: RelayClient,
    door: RelayDoor,
    fallback: Option<Fallback>,
    /// The runtime of the sources polled directly while the relay is lost.
    direct: Option<tokio::runtime::Runtime>,
    /// The last session followed the relay (a loss starts the fallback's clock anew).
    followed: bool,
    /// Which relay of the list is dialled next.
    current: usize,
    /// The last standby named the leader: dial it next rather than the next in turn.
    pointed: bool,
    commands: mpsc::Sender<Command>,
    status: Arc<Mutex<LinkStatus>>,
    read_only: Arc<Mutex<Option<String>>>,
    clock: Arc<dyn Clock>,
    intents: mpsc::Receiver<Intent>,
    notes: mpsc::Receiver<SharedNote>,
    listener: Listener,
}

/// Tells `listener` the news.
fn tell(listener: &Listener, news: RelayNews) {
    if let Ok(l) = listener.lock()
        && let Some(f) = l.as_ref()
    {
        f(news);
    }
}

impl Task {
    async fn run(mut self) {
        let seed = u64::from(std::process::id()) ^ self.clock.now().0.unsigned_abs();
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5), seed);
        let mut lost_since: Option<std::time::Instant> = None;
        loop {
            let reason = match self.session(&mut backoff).await {
                Ok(()) => return,
                Err(reason) => reason,
            };
            self.door.set(None);
            self.set(|s| {
                if s.connected || s.error.as_deref() == Some("connecting") {
                    s.since = self.clock.now();
                }
                s.connected = false;
                s.error = Some(reason.clone());
            });
            if self
                .commands
                .send(Command::RelayLost(reason))
                .await
                .is_err()
            {
                return;
            }
            if std::mem::take(&mut self.followed) {
                lost_since = None;
            }
            let since = *lost_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() >= FALLBACK_AFTER {
                self.poll_directly();
            }
            let relays = 1 + self.target.standby.len();
            if !std::mem::take(&mut self.pointed) {
                self.current = (self.current + 1) % relays;
            }
            let delay = backoff.next_delay();
            tokio::time::sleep(if relays > 1 {
                delay.min(Duration::from_millis(300))
            } else {
                delay
            })
            .await;
        }
    }

    /// Starts the environment's own sources, when allowed and not yet running.
    fn poll_directly(&mut self) {
        let Some(fb) = &self.fallback else { return };
        if self.direct.is_some() {
            return;
        }
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("switchboard-direct")
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!("cannot poll directly: {e}");
                return;
            }
        };
        for source in fb.sources.clone() {
            let emitter = crate::sources::Emitter::new(
                crate::model::SourceId::new(source.name()),
                source.kind(),
                fb.events.clone(),
                Arc::clone(&self.clock),
            );
            super::start_arm::start_source(source, emitter, rt.handle());
        }
        tracing::warn!("the relay is lost: polling the sources directly (fallback_direct)");
        self.direct = Some(rt);
        self.set(|s| s.direct = true);
    }

    /// Stops the sources polled directly (the relay is back).
    fn stop_direct(&mut self) {
        if let Some(rt) = self.direct.take() {
            rt.shutdown_background();
            self.set(|s| s.direct = false);
        }
    }

    fn set(&self, f: impl FnOnce(&mut LinkStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    /// One connection, until it is lost (`Err`, why) or the engine stops (`Ok`).
    async fn session(&mut self, backoff: &mut Backoff) -> Result<(), String> {
        let urls: Vec<String> = std::iter::once(self.target.url.clone())
            .chain(self.target.standby.iter().cloned())
            .collect();
        let mut target = self.target.clone();
        target.url = urls[self.current % urls.len()].clone();
        self.set(|s| s.url.clone_from(&target.url));
        let mut client = connect(&target).await?;
        let hello = tokio::time::timeout(CALL, client.hello(pb::HelloRequest {}))
            .await
            .map_err(|_| "the relay did not say hello in time".to_owned())?
            .map_err(|s| status_words(&s, self.target.tls.as_ref()))?
            .into_inner();
        if hello.standby {
            if let Some(i) = urls.iter().position(|u| *u == hello.leader) {
                self.current = i;
                self.pointed = true;
            }
            return Err(if hello.leader.is_empty() {
                format!(
                    "{} is a standby relay; a leader is being elected",
                    target.url
                )
            } else {
                format!(
                    "{} is a standby relay; the leader is {}",
                    target.url, hello.leader
                )
            });
        }
        let role = Role::parse(&hello.role).unwrap_or(Role::Viewer);
        if let Ok(mut ro) = self.read_only.lock() {
            *ro = (role == Role::Viewer).then(|| {
                format!(
                    "{} is a viewer on the relay ({})",
                    hello.person, hello.relay
                )
            });
        }
        let mut stream = client
            .subscribe(pb::SubscribeRequest { notes_since: 0 })
            .await
            .map_err(|s| status_words(&s, self.target.tls.as_ref()))?
            .into_inner();
        let first = tokio::time::timeout(FIRST_FRAME, stream.message())
            .await
            .map_err(|_| "the relay sent no state in time".to_owned())?
            .map_err(|s| status_words(&s, self.target.tls.as_ref()))?
            .ok_or("the relay closed the stream before its state")?;
        let Some(pb::frame::Body::Snapshot(snap)) = first.body else {
            return Err("the relay's first frame was not its state".into());
        };
        // Decoding a large estate takes a moment: off the runtime's workers.
        let state = tokio::task::spawn_blocking(move || protocol::decode_snapshot(&snap))
            .await
            .map_err(|_| "decoding the relay's state failed".to_owned())??;
        // The relay is back: its view replaces what the console saw for itself.
        self.stop_direct();
        self.followed = true;
        if self
            .commands
            .send(Command::Adopt(Box::new(state)))
            .await
            .is_err()
        {
            return Ok(());
        }
        backoff.reset();
        self.set(|s| {
            s.connected = true;
            s.since = self.clock.now();
            s.person = Some(hello.person.clone());
            s.role = Some(role);
            s.sources.clone_from(&hello.sources);
            s.error = None;
        });
        self.door.set(Some(client.clone()));
        tell(&self.listener, RelayNews::Connected);
        loop {
            tokio::select! {
                frame = tokio::time::timeout(SILENCE, stream.message()) => {
                    let frame = frame
                        .map_err(|_| format!("the relay has been silent for {} s", SILENCE.as_secs()))?
                        .map_err(|s| status_words(&s, self.target.tls.as_ref()))?
                        .ok_or("the relay closed the stream")?;
                    match frame.body {
                        Some(pb::frame::Body::Events(lines)) if !lines.is_empty() => {
                            let events = protocol::decode_events(&lines)?;
                            if self.commands.send(Command::Relayed(events)).await.is_err() {
                                return Ok(());
                            }
                        }
                        Some(pb::frame::Body::Note(n)) => {
                            match SharedNote::from_pb(n) {
                                Ok(n) => tell(&self.listener, RelayNews::Note(n)),
                                Err(e) => tracing::warn!("a note from the relay was not taken: {e}"),
                            }
                        }
                        Some(pb::frame::Body::Snapshot(_)) => {
                            return Err("the relay sent a second state; reconnecting".into());
                        }
                        _ => {}
                    }
                }
                intent = self.intents.recv() => {
                    let Some(intent) = intent else { return Ok(()) };
                    self.act(&client, &intent);
                }
                note = self.notes.recv() => {
                    let Some(note) = note else { return Ok(()) };
                    self.put_note(&client, note);
                }
            }
        }
    }

    /// Sends `note` to the relay on a task of its own; the relay's copy is told to the
    /// listener; a refusal is said in the link's status (the note stays pending).
    fn put_note(&self, client: &Conn, note: SharedNote) {
        let mut client = client.clone();
        let status = Arc::clone(&self.status);
        let listener = Arc::clone(&self.listener);
        let tls = self.target.tls.clone();
        tokio::spawn(async move {
            let answer = tokio::time::timeout(CALL, client.put_note(note.to_pb())).await;
            let error = match answer {
                Ok(Ok(reply)) => {
                    if let Some(Ok(stored)) = reply.into_inner().note.map(SharedNote::from_pb) {
                        tell(&listener, RelayNews::Note(stored));
                    } else {
                        tracing::warn!("the relay's copy of a note was not readable");
                    }
                    None
                }
                Ok(Err(s)) => Some(status_words(&s, tls.as_ref())),
                Err(_) => Some("the relay did not take the note in time; it stays pending".into()),
            };
            if let Some(e) = error
                && let Ok(mut s) = status.lock()
            {
                s.error = Some(e);
            }
        });
    }

    /// Sends `intent` to the relay on a task of its own (the stream keeps flowing); a
    /// refusal is said in the link's status.
    fn act(&self, client: &Conn, intent: &Intent) {
        let mut client = client.clone();
        let status = Arc::clone(&self.status);
        let tls = self.target.tls.clone();
        let body = serde_json::to_string(intent).unwrap_or_default();
        tokio::spawn(async move {
            let answer =
                tokio::time::timeout(CALL, client.act(pb::ActRequest { intent: body })).await;
            let error = match answer {
                Ok(Ok(_)) => None,
                Ok(Err(s)) => Some(status_words(&s, tls.as_ref())),
                Err(_) => Some("the relay did not answer the request in time".into()),
            };
            if let Ok(mut s) = status.lock() {
                s.error = error;
            }
        });
    }
}
