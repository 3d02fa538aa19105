//! The engine: wires sources to the reducer and the recorder, and hands the app an
//! [`EngineHandle`].
//!
//! - Each source runs as its own task on the engine's runtime (threads named
//!   `switchboard-engine`) and sends events over one bounded channel.
//! - The reducer task applies events in batches (whatever is queued, up to 4096), then
//!   publishes a new `Arc<State>` snapshot on a watch channel, hands the batch to the
//!   recorder and broadcasts it to `watch` subscribers. It wakes the UI through the
//!   waker only when the batch changed something notable (a transition the reducer
//!   logs); the UI refreshes routine numbers on its own once a second. No change, no
//!   wake-up: an idle console costs one frame a second.
//! - An event that says nothing new ([`State::restates`]: a periodic refresh, a
//!   reading that did not move, a source's own heartbeat) is not applied, recorded or
//!   broadcast. Once a second, a source that only repeated itself gets one `heartbeat`
//!   event instead, dated when it last spoke: its liveness is recorded per source,
//!   never per instance.
//! - Once a second it checks each source's freshness on the engine's clock; a source
//!   that is `up` but silent for longer than `stale_after` gets a `stale` event, which is
//!   recorded like any other, so replay shows the same gap.
//! - The recorder is a thread of its own (`SQLite` is blocking). Its channel is bounded,
//!   so a slow disk slows the reducer down instead of losing events.
//! - Operator intents enter through [`EngineHandle::send`], are refused when the engine
//!   is read-only, and are recorded as events before anything acts on them.
//! - A console on a relay runs no sources: its link (`link.rs`) hands the reducer the
//!   relay's state to adopt and the relay's applied batches to fold, and sends intents
//!   to the relay. A relay serves its consoles through a [`Tap`]: [`Tap::attach`] (the
//!   state and a subscription that starts exactly after it) and [`Tap::send_as`] (an
//!   intent under the person's name).

mod link;
mod pace;
pub mod player;
mod recording;
mod start_arm;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};

use crate::config::{Config, RelayClient, SourceConfig};
use crate::event::{Event, EventBody, Intent};
use crate::model::{SourceId, SourceStatus};
use crate::session::{SessionError, retention::Retention};

pub use self::link::{LinkStatus, RelayDoor, RelayNews};
pub use self::recording::Flusher;
use self::recording::Recorded;
use crate::sources::{self, Emitter};
use crate::state::State;
use crate::time::{Clock, SystemClock};

/// Capacity of the source -> reducer channel.
const EVENT_CHANNEL: usize = 8192;
/// Most events applied before a snapshot is published.
const MAX_BATCH: usize = 4096;
/// Capacity of the broadcast to `watch` subscribers, in batches.
const BROADCAST: usize = 1024;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The async runtime could not start.
    #[error("cannot start the engine runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The session file could not be created.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The engine is read-only (wall or replay mode, or a read-only environment).
    #[error("refused: this console is read-only ({0})")]
    ReadOnly(String),
    /// The engine has stopped.
    #[error("the engine has stopped")]
    Stopped,
}

/// How to start an engine.
pub struct EngineOptions {
    /// What to watch.
    pub config: Config,
    /// Which environment of the config (default: the first).
    pub environment: Option<String>,
    /// Record every applied event here (a new file).
    pub record_to: Option<PathBuf>,
    /// Refuse every intent (wall mode, replay); enforced here, not only in the UI.
    pub read_only: bool,
    /// Who the operator is (recorded with each intent).
    pub operator: String,
    /// The clock sources and the staleness check use.
    pub clock: Arc<dyn Clock>,
    /// Subscribe to applied events before any source starts, so none is missed
    /// (see [`EngineHandle::take_initial_subscription`]).
    pub subscribe_from_start: bool,
    /// The flight recorder: start a new segment (a file beside the first, starting from
    /// the state the console has) this often, so old segments can be removed.
    pub segment_every: Option<Duration>,
    /// The flight recorder's retention: older sessions beside the recording go when it
    /// starts and at every new segment (`None`: all are kept).
    pub retention: Option<Retention>,
    /// Follow this relay instead of running the environment's sources.
    pub relay: Option<RelayClient>,
}

impl EngineOptions {
    /// Options for `config` with the system clock, no recording, operator from `$USER`.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            environment: None,
            record_to: None,
            read_only: false,
            operator: crate::identity::operator_name(),
            clock: Arc::new(SystemClock),
            subscribe_from_start: false,
            segment_every: None,
            retention: None,
            relay: None,
        }
    }
}

pub(crate) type Waker = Box<dyn Fn() + Send + Sync>;

/// A relay's state and the subscription that follows it, for one console.
pub type Attached = (Arc<State>, broadcast::Receiver<Arc<Vec<Event>>>);

pub(crate) enum Command {
    Intent(Intent),
    /// An intent of a person a relay admitted, recorded under their name.
    IntentAs(Intent, String),
    /// A relay's state, to take whole (a console on a relay, at each connection).
    Adopt(Box<State>),
    /// A relay's applied batch, to fold as it is.
    Relayed(Vec<Event>),
    /// The relay is lost, in words: every source still up turns stale now.
    RelayLost(String),
    /// The state now and a subscription starting right after it (a relay's console).
    Attach(tokio::sync::oneshot::Sender<Attached>),
    /// Have the recorder write what it gathered, after every batch applied so far.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// The app's handle on a running engine. Dropping it stops the engine.
pub struct EngineHandle {
    runtime: Option<tokio::runtime::Runtime>,
    snapshot: watch::Receiver<Arc<State>>,
    waker: Arc<Mutex<Option<Waker>>>,
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Arc<Vec<Event>>>,
    /// Why intents are refused; a relay's viewer learns it once the relay says.
    read_only: Arc<Mutex<Option<String>>>,
    link: Option<Arc<Mutex<LinkStatus>>>,
    /// The way to the relay for the workflow desk (a console on a relay).
    door: Option<RelayDoor>,
    /// A console on a relay: its notes go there; the relay's news goes to the listener.
    relay_notes: Option<(mpsc::Sender<crate::protocol::SharedNote>, link::Listener)>,
    environment: String,
    /// The segment being written (it changes as the flight recorder rolls).
    recording: Arc<Mutex<Option<PathBuf>>>,
    /// Why the recorder stopped (a full disk...), in words, once it has.
    recording_stopped: Arc<Mutex<Option<String>>>,
    recorder_thread: Option<std::thread::JoinHandle<Option<SessionError>>>,
    initial_subscription: Option<broadcast::Receiver<Arc<Vec<Event>>>>,
    drill: Option<sources::drill::DrillHandle>,
}

/// Starts an engine.
pub fn start(opts: &EngineOptions) -> Result<EngineHandle, EngineError> {
    let env = match &opts.environment {
        Some(name) => opts.config.environment.iter().find(|e| &e.name == name),
        None => opts.config.environment.first(),
    };
    let environment = env.map_or_else(|| "none".to_owned(), |e| e.name.clone());
    let stale_after = Duration::from_millis(env.map_or(5000, |e| e.stale_after_millis.max(500)));
    let sources: Vec<SourceConfig> = if opts.relay.is_some() {
        Vec::new()
    } else {
        env.map(|e| e.source.clone()).unwrap_or_default()
    };
    let drill = sources.iter().any(|s| matches!(s, SourceConfig::Drill(_)));
    let read_only = if opts.read_only {
        Some("read-only mode".to_owned())
    } else if env.is_some_and(|e| e.read_only) {
        Some(format!("environment {environment} is read-only"))
    } else {
        None
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("switchboard-engine")
        .enable_all()
        .build()
        .map_err(EngineError::Runtime)?;

    // The recorder thread: created before anything runs, so a bad path fails start-up.
    let recording_stopped: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let (rec_tx, recorder_thread, recording) =
        recording::spawn(opts, &environment, drill, &recording_stopped)?;

    let (ev_tx, ev_rx) = mpsc::channel::<Event>(EVENT_CHANNEL);
    let (cmd_tx, cmd_rx) = mpsc::channel::<Command>(64);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(State::default()));
    let (bcast_tx, first_rx) = broadcast::channel(BROADCAST);
    let initial_subscription = opts.subscribe_from_start.then_some(first_rx);
    let waker: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));

    let mut drill_control = None;
    for source in sources {
        let emitter = Emitter::new(
            SourceId::new(source.name()),
            source.kind(),
            ev_tx.clone(),
            Arc::clone(&opts.clock),
        );
        let started = self::start_arm::start_source(source, emitter, runtime.handle());
        if let Some(tx) = started.drill {
            drill_control = Some(tx);
        }
    }
    let read_only = Arc::new(Mutex::new(read_only));
    let fallback = opts
        .relay
        .as_ref()
        .filter(|r| r.fallback_direct)
        .map(|_| link::Fallback {
            sources: env.map(|e| e.source.clone()).unwrap_or_default(),
            events: ev_tx.clone(),
        });
    let link = opts.relay.clone().map(|target| {
        link::spawn(
            target,
            fallback,
            cmd_tx.clone(),
            Arc::clone(&read_only),
            Arc::clone(&opts.clock),
            runtime.handle(),
        )
    });

    drop(ev_tx);

    let reducer = Reducer {
        state: State::default(),
        events: ev_rx,
        commands: cmd_rx,
        snapshot: snap_tx,
        waker: Arc::clone(&waker),
        recorder: rec_tx.map(|tx| RecordPlan {
            tx,
            last_keyframe: (0, crate::time::Timestamp(0)),
            sent: 0,
            segment_every: opts.segment_every,
            segment_started: std::time::Instant::now(),
        }),
        broadcast: bcast_tx.clone(),
        drill_control: drill_control.clone(),
        clock: Arc::clone(&opts.clock),
        stale_after,
        operator: opts.operator.clone(),
        heard: std::collections::BTreeMap::new(),
        pace: pace::Pacer::new(),
        published_log: None,
        relay: link.as_ref().map(|l| l.intents.clone()),
    };
    runtime.spawn(reducer.run());

    Ok(EngineHandle {
        runtime: Some(runtime),
        snapshot: snap_rx,
        waker,
        commands: cmd_tx,
        events: bcast_tx,
        read_only,
        relay_notes: link
            .as_ref()
            .map(|l| (l.notes.clone(), Arc::clone(&l.listener))),
        door: link.as_ref().map(|l| l.door.clone()),
        link: link.map(|l| l.status),
        environment,
        recording,
        recording_stopped,
        recorder_thread,
        initial_subscription,
        drill: drill_control.map(sources::drill::DrillHandle),
    })
}

impl EngineHandle {
    /// A read-only handle whose state comes from `snapshot` (a replay's playhead), with
    /// no sources; returns it and its waker slot for the publisher.
    pub(crate) fn replaying(
        snapshot: watch::Receiver<Arc<State>>,
        environment: String,
        why_read_only: String,
    ) -> (Self, Arc<Mutex<Option<Waker>>>) {
        let waker: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        // Nothing listens: every intent is refused before it is sent (read-only).
        let (commands, _) = mpsc::channel(1);
        let (events, _) = broadcast::channel(1);
        (
            Self {
                runtime: None,
                snapshot,
                waker: Arc::clone(&waker),
                commands,
                events,
                read_only: Arc::new(Mutex::new(Some(why_read_only))),
                link: None,
                door: None,
                relay_notes: None,
                environment,
                recording: Arc::new(Mutex::new(None)),
                recording_stopped: Arc::new(Mutex::new(None)),
                recorder_thread: None,
                initial_subscription: None,
                drill: None,
            },
            waker,
        )
    }

    /// The running drill, for its workflows (`None` without a drill source).
    pub fn drill(&self) -> Option<sources::drill::DrillHandle> {
        self.drill.clone()
    }

    /// The latest state. Cheap: clones an `Arc`; never waits on the engine.
    pub fn snapshot(&self) -> Arc<State> {
        Arc::clone(&self.snapshot.borrow())
    }

    /// The latest state whenever asked, for whoever needs the console's view away from
    /// this handle (an experiment judging its hypothesis on the workflow runtime).
    pub fn view(&self) -> Arc<dyn Fn() -> Arc<State> + Send + Sync> {
        let rx = self.snapshot.clone();
        Arc::new(move || Arc::clone(&rx.borrow()))
    }

    /// Called after every published snapshot (the app passes `ctx.request_repaint()`).
    pub fn set_waker(&self, waker: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut w) = self.waker.lock() {
            *w = Some(Box::new(waker));
        }
    }

    /// Sends an operator intent; refused when read-only.
    pub fn send(&self, intent: Intent) -> Result<(), EngineError> {
        if let Some(why) = self.read_only() {
            return Err(EngineError::ReadOnly(why));
        }
        self.commands
            .try_send(Command::Intent(intent))
            .map_err(|_| EngineError::Stopped)
    }

    /// What a relay needs of the engine it serves, apart from the handle (which stays
    /// with whoever stops the engine).
    pub fn tap(&self) -> Tap {
        Tap {
            commands: self.commands.clone(),
            read_only: Arc::clone(&self.read_only),
        }
    }

    /// Why the engine is read-only, if it is.
    pub fn read_only(&self) -> Option<String> {
        self.read_only.lock().ok().and_then(|r| r.clone())
    }

    /// Sends a note to the relay (a console on one); refused when there is none, or when
    /// the link is too far behind (the note stays pending and goes with the next
    /// connection).
    pub fn share_note(&self, note: crate::protocol::SharedNote) -> Result<(), EngineError> {
        let Some((tx, _)) = &self.relay_notes else {
            return Err(EngineError::ReadOnly("this console is on no relay".into()));
        };
        tx.try_send(note).map_err(|_| EngineError::Stopped)
    }

    /// A sender of notes to the relay, for a thread of its own (`None` on no relay):
    /// `false` when the link is too far behind (the note stays pending).
    pub fn note_sender(
        &self,
    ) -> Option<impl Fn(crate::protocol::SharedNote) -> bool + Send + Sync + 'static> {
        let (tx, _) = self.relay_notes.as_ref()?;
        let tx = tx.clone();
        Some(move |n| tx.try_send(n).is_ok())
    }

    /// Who hears of the relay's notes and of each new connection (a console on a
    /// relay; the app keeps the notes in its own store).
    pub fn on_relay_news(&self, f: impl Fn(RelayNews) + Send + Sync + 'static) {
        if let Some((_, listener)) = &self.relay_notes
            && let Ok(mut l) = listener.lock()
        {
            *l = Some(Box::new(f));
        }
    }

    /// The link to the relay, for a console on one.
    pub fn relay_link(&self) -> Option<LinkStatus> {
        self.link
            .as_ref()
            .and_then(|l| l.lock().ok().map(|s| s.clone()))
    }

    /// The way to the relay, for a console on one: its workflows run there.
    pub fn relay_door(&self) -> Option<RelayDoor> {
        self.door.clone()
    }

    /// The environment being watched.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// The session file being written, if recording (the flight recorder's current
    /// segment).
    pub fn recording(&self) -> Option<PathBuf> {
        self.recording.lock().ok().and_then(|p| p.clone())
    }

    /// Asks the recorder to write what it gathered, for a job that copies the recording
    /// (never the UI thread: [`Flusher::flush`] waits).
    pub fn flusher(&self) -> Flusher {
        Flusher(self.commands.clone())
    }

    /// Why the recording stopped before the engine did (the disk is full...), in an
    /// operator's words; `None` while it records, or when it never did.
    pub fn recording_stopped(&self) -> Option<String> {
        self.recording_stopped.lock().ok().and_then(|s| s.clone())
    }

    /// Every applied batch of events, from now on (for `watch --json`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Vec<Event>>> {
        self.events.subscribe()
    }

    /// The subscription made before any source started, when
    /// [`EngineOptions::subscribe_from_start`] was set: it has every applied event.
    pub fn take_initial_subscription(&mut self) -> Option<broadcast::Receiver<Arc<Vec<Event>>>> {
        self.initial_subscription.take()
    }

    /// Blocks until `pred` holds for a snapshot or `timeout` passes; returns the last snapshot.
    /// For the CLI and tests, never the UI thread.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&State) -> bool) -> Arc<State> {
        let mut rx = self.snapshot.clone();
        if let Some(rt) = &self.runtime {
            rt.block_on(async {
                tokio::time::timeout(timeout, rx.wait_for(|s| pred(s)))
                    .await
                    .ok();
            });
        }
        self.snapshot()
    }

    /// Runs a future on the engine's runtime (for the CLI's `watch`).
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> Option<F::Output> {
        self.runtime.as_ref().map(|rt| rt.block_on(fut))
    }

    /// Stops every source, flushes the recorder and returns its error, if any.
    pub fn shutdown(mut self) -> Option<SessionError> {
        self.stop()
    }

    fn stop(&mut self) -> Option<SessionError> {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        self.recorder_thread
            .take()
            .and_then(|h| h.join().ok().flatten())
    }
}

/// A relay's hold on the engine it serves: the state and its batches for each console,
/// intents under a person's name. Holding one does not keep the engine running.
#[derive(Clone)]
pub struct Tap {
    commands: mpsc::Sender<Command>,
    read_only: Arc<Mutex<Option<String>>>,
}

impl Tap {
    /// Sends the intent of `person`, whom a relay admitted as an operator: recorded
    /// under their name. Refused when read-only.
    pub fn send_as(&self, intent: Intent, person: &str) -> Result<(), EngineError> {
        if let Some(why) = self.read_only.lock().ok().and_then(|r| r.clone()) {
            return Err(EngineError::ReadOnly(why));
        }
        self.commands
            .try_send(Command::IntentAs(intent, person.to_owned()))
            .map_err(|_| EngineError::Stopped)
    }

    /// The state now and every batch applied after it, with none missed or repeated
    /// (the reducer takes both at once): what a relay sends a console that connects.
    pub async fn attach(&self) -> Result<Attached, EngineError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.commands
            .send(Command::Attach(tx))
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// When the reducer sends the recorder a state: a keyframe, or a new segment.
struct RecordPlan {
    tx: std::sync::mpsc::SyncSender<Recorded>,
    /// Events applied and event time at the last keyframe.
    last_keyframe: (u64, crate::time::Timestamp),
    /// Events applied after the last batch sent.
    sent: u64,
    /// Start a new segment this often (`None`: one file).
    segment_every: Option<Duration>,
    segment_started: std::time::Instant,
}

struct Reducer {
    state: State,
    events: mpsc::Receiver<Event>,
    commands: mpsc::Receiver<Command>,
    snapshot: watch::Sender<Arc<State>>,
    waker: Arc<Mutex<Option<Waker>>>,
    recorder: Option<RecordPlan>,
    broadcast: broadcast::Sender<Arc<Vec<Event>>>,
    drill_control: Option<mpsc::Sender<sources::drill::DrillCommand>>,
    clock: Arc<dyn Clock>,
    stale_after: Duration,
    operator: String,
    /// Sources that only repeated themselves since the last heartbeat, and when they
    /// last spoke.
    heard: std::collections::BTreeMap<SourceId, crate::time::Timestamp>,
    /// When the next snapshot may be copied (see `pace.rs`).
    pace: pace::Pacer,
    /// The log's last entry when the last snapshot was published: a newer one wakes
    /// the window.
    published_log: Option<Arc<crate::state::LogEntry>>,
    /// A console on a relay: its intents go there.
    relay: Option<mpsc::Sender<Intent>>,
}

impl Reducer {
    async fn run(mut self) {
        let mut freshness = tokio::time::interval(Duration::from_secs(1));
        freshness.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sources_open = true;
        loop {
            let batch = tokio::select! {
                ev = self.events.recv(), if sources_open => if let Some(first) = ev {
                    let mut batch = Vec::with_capacity(64);
                    batch.push(first);
                    while batch.len() < MAX_BATCH {
                        match self.events.try_recv() {
                            Ok(ev) => batch.push(ev),
                            Err(_) => break,
                        }
                    }
                    batch
                } else {
                    sources_open = false;
                    continue;
                },
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Intent(intent)) => self.intent(intent, None).await,
                    Some(Command::IntentAs(intent, person)) => self.intent(intent, Some(person)).await,
                    Some(Command::Adopt(state)) => {
                        self.adopt(*state);
                        Vec::new()
                    }
                    Some(Command::Relayed(events)) => {
                        self.publish_as_is(events);
                        Vec::new()
                    }
                    Some(Command::RelayLost(why)) => self.relay_lost(&why),
                    Some(Command::Attach(reply)) => {
                        let rx = self.broadcast.subscribe();
                        reply.send((Arc::new(self.state.clone()), rx)).ok();
                        Vec::new()
                    }
                    Some(Command::Flush(done)) => {
                        self.flush_recording(done);
                        Vec::new()
                    }
                    None => return,
                },
                () = tokio::time::sleep_until(self.pace.next().into()), if self.pace.behind => {
                    self.publish_snapshot();
                    Vec::new()
                }
                _ = freshness.tick() => {
                    let beats = self.heartbeats();
                    if !beats.is_empty() {
                        self.publish(beats);
                    }
                    self.staleness()
                }
            };
            if !batch.is_empty() {
                self.publish(batch);
            }
        }
    }

    async fn intent(&self, intent: Intent, person: Option<String>) -> Vec<Event> {
        // On a relay, the relay records it (under the person's name) and sends it back.
        if let Some(relay) = &self.relay {
            relay.send(intent).await.ok();
            return Vec::new();
        }
        let ev = Event::new(
            self.clock.now(),
            SourceId::new("operator"),
            EventBody::Intent {
                operator: person.unwrap_or_else(|| self.operator.clone()),
                intent: intent.clone(),
            },
        );
        if let Intent::DrillInject { fault } = intent
            && let Some(tx) = &self.drill_control
        {
            tx.send(sources::drill::DrillCommand::Inject(fault))
                .await
                .ok();
        }
        vec![ev]
    }

    /// Asks the recorder to write what it gathered; it says so on `done`. Every batch
    /// applied before was sent to it already, so the file then holds them all.
    fn flush_recording(&mut self, done: std::sync::mpsc::SyncSender<()>) {
        if let Some(rec) = &self.recorder {
            let ask = Recorded {
                events: Arc::new(Vec::new()),
                state: None,
                roll: false,
                restart: None,
                flushed: Some(done),
            };
            if rec.tx.send(ask).is_err() {
                self.recorder = None;
            }
        }
    }

    /// A heartbeat for each up source that spoke since its last applied event but only
    /// repeated itself, dated when it last spoke.
    fn heartbeats(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.heard)
            .into_iter()
            .filter(|(id, at)| {
                self.state
                    .sources
                    .get(id)
                    .is_some_and(|s| s.status == SourceStatus::Up && *at > s.last_event_at)
            })
            .map(|(id, at)| Event::new(at, id, EventBody::Heartbeat))
            .collect()
    }

    fn staleness(&self) -> Vec<Event> {
        let limit = self.stale_after.as_millis() as i64;
        self.stale_markers(limit, |secs| format!("no report for {secs:.0} s"))
    }

    /// A `stale` event, dated now, for every source still up and silent for more than
    /// `silent_millis`, saying why (given how many seconds it has been silent).
    fn stale_markers(&self, silent_millis: i64, why: impl Fn(f64) -> String) -> Vec<Event> {
        let now = self.clock.now();
        self.state
            .sources
            .iter()
            .filter(|(_, s)| {
                s.status == SourceStatus::Up && now.millis_since(s.last_event_at) > silent_millis
            })
            .map(|(id, s)| {
                let secs = now.millis_since(s.last_event_at).max(0) as f64 / 1000.0;
                Event::new(
                    now,
                    id.clone(),
                    EventBody::SourceStatus {
                        source_kind: s.kind,
                        status: SourceStatus::Stale,
                        detail: Some(why(secs)),
                        drill: s.drill,
                    },
                )
            })
            .collect()
    }

    fn publish(&mut self, incoming: Vec<Event>) {
        // An unchanged fact is not an event: not applied, recorded or broadcast; its
        // source is only remembered as alive (see `heartbeats`).
        let mut batch = Vec::with_capacity(incoming.len());
        for ev in incoming {
            if self.state.restates(&ev) {
                let heard = self.heard.entry(ev.source.clone()).or_insert(ev.at);
                *heard = (*heard).max(ev.at);
            } else {
                self.state.apply(&ev);
                batch.push(ev);
            }
        }
        self.applied(batch);
    }

    /// Folds a relay's batch exactly as the relay did: its filter already ran there.
    fn publish_as_is(&mut self, batch: Vec<Event>) {
        for ev in &batch {
            self.state.apply(ev);
        }
        self.applied(batch);
    }

    /// Takes a relay's state whole; the recording goes on in a new segment from it.
    fn adopt(&mut self, state: State) {
        self.state = state;
        self.heard.clear();
        let snapshot = self.publish_snapshot();
        if let Some(rec) = &mut self.recorder {
            rec.last_keyframe = (self.state.events_applied, self.state.now);
            rec.sent = self.state.events_applied;
            let r = Recorded {
                events: Arc::new(Vec::new()),
                state: None,
                roll: false,
                restart: Some(snapshot),
                flushed: None,
            };
            if rec.tx.send(r).is_err() {
                self.recorder = None;
            }
        }
    }

    /// Every source still up turns stale now, naming the lost relay.
    fn relay_lost(&self, why: &str) -> Vec<Event> {
        self.stale_markers(i64::MIN, |secs| {
            format!("relay lost ({why}); last report {secs:.0} s ago")
        })
    }

    /// Publishes, records and broadcasts a batch already applied to the state.
    fn applied(&mut self, batch: Vec<Event>) {
        if batch.is_empty() {
            return;
        }
        let keyframe_due = self.recorder.as_ref().is_some_and(|rec| {
            let (n, at) = rec.last_keyframe;
            rec.segment_every
                .is_some_and(|every| rec.segment_started.elapsed() >= every)
                || self.state.events_applied - n >= crate::session::KEYFRAME_EVENTS
                || self.state.now.millis_since(at) >= crate::session::KEYFRAME_MILLIS
        });
        // A keyframe is the snapshot itself: it is copied now whatever the pace.
        let snapshot = if keyframe_due || self.pace.due() {
            Some(self.publish_snapshot())
        } else {
            self.pace.behind = true;
            None
        };
        let batch = Arc::new(batch);
        if let Some(rec) = &mut self.recorder {
            let roll = rec
                .segment_every
                .is_some_and(|every| rec.segment_started.elapsed() >= every);
            let due = keyframe_due;
            if due {
                rec.last_keyframe = (self.state.events_applied, self.state.now);
            }
            if roll {
                rec.segment_started = std::time::Instant::now();
            }
            let r = Recorded {
                events: Arc::clone(&batch),
                state: snapshot.filter(|_| due),
                roll,
                restart: None,
                flushed: None,
            };
            // Blocks when the disk is behind: back-pressure instead of loss.
            if rec.tx.send(r).is_err() {
                self.recorder = None;
            } else {
                rec.sent = self.state.events_applied;
            }
        }
        if self.broadcast.receiver_count() > 0 {
            self.broadcast.send(batch).ok();
        }
    }
}

impl Reducer {
    /// Copies the state and publishes the copy; wakes the window when it holds a
    /// notable change (exactly what the reducer logs: flips, health and quorum changes,
    /// incidents, source status). Routine samples (a rate moving, a raft index ticking)
    /// are picked up by the window's once-a-second refresh, so a quiet fleet costs one
    /// frame a second.
    fn publish_snapshot(&mut self) -> Arc<State> {
        let started = std::time::Instant::now();
        let snapshot = Arc::new(self.state.clone());
        self.pace.copied(started);
        self.snapshot.send_replace(Arc::clone(&snapshot));
        let logged = self.state.log.back();
        let notable = match (logged, &self.published_log) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            (a, b) => a.is_some() != b.is_some(),
        };
        self.published_log = logged.cloned();
        if notable
            && let Ok(w) = self.waker.lock()
            && let Some(wake) = w.as_ref()
        {
            wake();
        }
        snapshot
    }
}

impl Drop for Reducer {
    /// The recording ends on a keyframe: the last state is checked by a replay too.
    fn drop(&mut self) {
        // After a panic in the middle of a batch, the state holds events never sent:
        // keying it would make a sound recording look corrupt.
        if let Some(rec) = self.recorder.take()
            && rec.sent == self.state.events_applied
            && rec.last_keyframe.0 != rec.sent
        {
            let state = Arc::new(std::mem::take(&mut self.state));
            let last = Recorded {
                events: Arc::new(Vec::new()),
                state: Some(state),
                roll: false,
                restart: None,
                flushed: None,
            };
            rec.tx.send(last).ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Environment;
    use crate::sources::drill::DrillConfig;

    fn quiet_drill(stale_after_millis: u64) -> Config {
        Config {
            environment: vec![Environment {
                stale_after_millis,
                ..Environment::new("t", vec![SourceConfig::Drill(DrillConfig::silent())])
            }],
        }
    }

    #[test]
    fn a_silent_source_turns_stale_with_its_age() {
        let engine = start(&EngineOptions::new(quiet_drill(500))).expect("start");
        let s = engine.wait_for(Duration::from_secs(10), |s| {
            s.sources
                .get("drill")
                .is_some_and(|src| src.status == SourceStatus::Stale)
        });
        let src = &s.sources["drill"];
        assert_eq!(src.status, SourceStatus::Stale);
        assert!(
            src.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("no report for")),
            "{:?}",
            src.detail
        );
        assert!(
            src.status_since > src.last_event_at,
            "the marker does not refresh the age"
        );
        assert!(s.log.iter().any(|e| e.message.starts_with("source stale")));
    }

    #[test]
    fn read_only_engine_refuses_intents() {
        let mut opts = EngineOptions::new(quiet_drill(5000));
        opts.read_only = true;
        let engine = start(&opts).expect("start");
        let err = engine
            .send(Intent::AckIncident { incident: 1 })
            .expect_err("refused");
        assert!(err.to_string().contains("read-only"), "{err}");
    }

    #[test]
    fn recording_captures_every_applied_event() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite");
        let mut opts = EngineOptions::new(quiet_drill(5000));
        opts.record_to = Some(path.clone());
        let engine = start(&opts).expect("start");
        let s = engine.wait_for(Duration::from_secs(10), |s| s.instances.len() >= 300);
        let applied = s.events_applied;
        assert!(engine.shutdown().is_none(), "no recording error");
        let reader = crate::session::SessionReader::open(&path).expect("open");
        assert!(reader.event_count().expect("count") >= applied);
        let mut replayed = State::default();
        reader.for_each(|e| replayed.apply(&e)).expect("read");
        assert_eq!(replayed.instances.len(), s.instances.len());
        assert!(reader.meta().expect("meta").drill);
    }

    /// A running recording holds every applied event once flushed (a session saved
    /// now), not only those of blocks already written.
    #[test]
    fn a_flush_writes_what_the_recorder_gathered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite");
        let mut opts = EngineOptions::new(quiet_drill(5000));
        opts.record_to = Some(path.clone());
        let engine = start(&opts).expect("start");
        let s = engine.wait_for(Duration::from_secs(10), |s| s.instances.len() >= 300);
        assert!(
            engine.flusher().flush(Duration::from_secs(5)),
            "the recorder answered"
        );
        let reader = crate::session::SessionReader::open(&path).expect("open");
        assert!(reader.event_count().expect("count") >= s.events_applied);
        drop(reader);
        assert!(engine.shutdown().is_none());
    }

    #[test]
    fn a_recording_path_that_exists_is_refused_at_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("taken.sqlite");
        std::fs::write(&path, b"precious").expect("write");
        let mut opts = EngineOptions::new(quiet_drill(5000));
        opts.record_to = Some(path.clone());
        assert!(start(&opts).is_err());
        assert_eq!(
            std::fs::read(&path).expect("read"),
            b"precious",
            "nothing was overwritten"
        );
    }
}
