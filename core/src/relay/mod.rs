//! `switchboard serve`: one engine (its sources, reducer, recorder) serving many
//! consoles over gRPC, so production answers one poller whatever the number of
//! consoles watching it.
//!
//! - A console that subscribes gets the engine's state and then every batch it applies
//!   ([`Tap::attach`] takes both at once, so nothing is missed or repeated),
//!   and an empty frame each idle second, so a silent relay is told from a quiet one.
//! - Each console has its own bounded queue: the engine's broadcast keeps
//!   1024 batches; a console that falls further behind is dropped
//!   with why (it reconnects and takes a fresh state), and the engine never waits for
//!   it. Each batch is encoded once, whatever the number of consoles.
//! - Intents (`Act`) are taken from operators only and recorded under the person's
//!   name (`access.rs`); viewers are refused in words.
//! - Notes (`PutNote`, operators only) are kept in the relay's store, the team's
//!   record, under the person's name, and sent to every console within the moment;
//!   a console that connects gets the notes since its last one after the state.
//! - Workflows asked from a console are planned, run and journaled here, under the
//!   person's name, with the relay's guards and etcd lock (`workflows.rs`); the
//!   console that asked follows the run's journal rows as they are written.
//! - Relays of one configuration with `serve.elect` elect a leader on the environment's
//!   etcd (`elect.rs`): only the leader serves; a standby says where the leader is, and
//!   a leader that steps down ends its consoles' streams so they find the new one.
//! - TLS is on unless a person set `plaintext`; with `client_ca_file` every console
//!   presents a certificate (or, when tokens are configured too, a token).

mod access;
mod acks;
mod elect;
mod notes;
mod record;
mod workflows;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use self::access::Access;
pub use self::access::Person;
pub use self::elect::Leadership;
use self::notes::Notes;
use self::workflows::Workflows;
use crate::config::ServeConfig;
use crate::engine::Tap;
use crate::event::{Event, Intent};
use crate::protocol::{self, MAX_MESSAGE_BYTES, Role, SharedNote, pb};
use crate::time::Timestamp;

/// Frames waiting for one console's connection (a batch each, or the state).
const CONSOLE_QUEUE: usize = 256;
/// An idle console gets an empty frame this often.
const IDLE_TICK: Duration = Duration::from_secs(1);
/// Batches whose encoding is kept for the consoles still to send them.
const ENCODED_KEPT: usize = 64;

/// What the relay has done, for `serve`'s log and the figures.
#[derive(Debug, Default)]
pub struct RelayStats {
    /// Consoles subscribed now.
    pub consoles: AtomicUsize,
    /// Subscriptions ever taken.
    pub subscriptions: AtomicU64,
    /// Frames sent, all consoles together.
    pub frames: AtomicU64,
    /// Bytes of event frames sent.
    pub event_bytes: AtomicU64,
    /// Consoles dropped for falling behind.
    pub dropped: AtomicU64,
    /// Batches encoded (once each, whatever the consoles).
    pub encoded: AtomicU64,
}

/// A running relay: where it listens and what it has done.
pub struct Relay {
    /// The address it listens on (the port the system chose, for `:0`).
    pub addr: SocketAddr,
    /// Its counters.
    pub stats: Arc<RelayStats>,
}

struct Service {
    engine: Tap,
    /// Whether this relay leads (always, without an election) and where the leader is.
    leadership: tokio::sync::watch::Receiver<Leadership>,
    /// Turns true when the relay stops: every console's stream ends, saying so.
    stopping: tokio::sync::watch::Receiver<bool>,
    access: Arc<Access>,
    environment: String,
    name: String,
    sources: Vec<String>,
    max_consoles: usize,
    stats: Arc<RelayStats>,
    encoded: Arc<Encoded>,
    notes: Option<Arc<Notes>>,
    workflows: Option<Arc<Workflows>>,
    /// The team's record, where acknowledgements are kept for a new leader.
    record: Option<Arc<record::TeamRecord>>,
}

/// Each batch's JSON lines, made once for every console (keyed by the batch's `Arc`,
/// which the cache holds, so its address is not reused while it is kept).
#[derive(Default)]
struct Encoded(Mutex<VecDeque<EncodedBatch>>);

/// A batch and its JSON lines (shared by every console's frame: no copy per console).
type EncodedBatch = (Arc<Vec<Event>>, bytes::Bytes);

impl Encoded {
    fn lines(&self, batch: &Arc<Vec<Event>>, stats: &RelayStats) -> bytes::Bytes {
        if let Ok(kept) = self.0.lock()
            && let Some((_, lines)) = kept.iter().find(|(b, _)| Arc::ptr_eq(b, batch))
        {
            return lines.clone();
        }
        let lines = bytes::Bytes::from(protocol::encode_events(batch));
        stats.encoded.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() == ENCODED_KEPT {
                kept.pop_front();
            }
            kept.push_back((Arc::clone(batch), lines.clone()));
        }
        lines
    }
}

/// Starts serving `engine` (watching `environment`'s sources) as `serve` says, keeping the
/// team's notes (`notes.sqlite`) and the workflows' journal (`journal.sqlite`) in the
/// directory `data` (none: notes and workflows are refused), until `shutdown`
/// completes. Binds before returning, so a taken port is said at once.
pub async fn start(
    engine: Tap,
    serve: &ServeConfig,
    environment: &crate::config::Environment,
    data: Option<&std::path::Path>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Relay, String> {
    serve.validate()?;
    let access = Arc::new(Access::new(serve)?);
    let record = team_record(serve, environment)?.map(Arc::new);
    let notes = data
        .map(|d| Notes::open(&d.join("notes.sqlite"), record.clone()))
        .transpose()?
        .map(Arc::new);

    let workflows = data
        .map(|d| Workflows::open(environment, d.join("journal.sqlite")))
        .transpose()?
        .map(Arc::new);
    let listener = tokio::net::TcpListener::bind(&serve.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", serve.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", serve.listen))?;
    let mut builder = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(5)));
    if !serve.plaintext {
        builder = builder
            .tls_config(server_tls(serve)?)
            .map_err(|e| format!("cannot set up the relay's TLS: {e}"))?;
    }
    let stats = Arc::new(RelayStats::default());
    let (stop_tx, stopping) = tokio::sync::watch::channel(false);
    if let Some(n) = &notes {
        let (notes, mut stopped) = (Arc::clone(n), stopping.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = notes.keep_record() => {}
                _ = stopped.wait_for(|s| *s) => {}
            }
        });
    }
    let (lead_tx, leadership) = tokio::sync::watch::channel(Leadership {
        leading: serve.elect.is_none(),
        leader: None,
    });
    if let Some(election) = serve.elect.clone() {
        tokio::spawn(elect::run(environment.clone(), election, lead_tx));
    }
    if let Some(record) = &record {
        // Each time this relay takes the lead, it carries the acknowledgements given on
        // the one before (`acks.rs`).
        let (tap, record, mut lead) = (engine.clone(), Arc::clone(record), leadership.clone());
        tokio::spawn(async move {
            while lead.wait_for(|l| l.leading).await.is_ok() {
                acks::carry(tap.clone(), Arc::clone(&record)).await;
                if lead.wait_for(|l| !l.leading).await.is_err() {
                    return;
                }
            }
        });
    }
    let service = Service {
        engine,
        leadership,
        stopping: stopping.clone(),
        access,
        environment: environment.name.clone(),
        sources: environment
            .source
            .iter()
            .map(|s| s.name().to_owned())
            .collect(),
        name: format!("{}:{}", crate::identity::host_name(), addr.port()),
        max_consoles: serve.max_consoles,
        stats: Arc::clone(&stats),
        encoded: Arc::default(),
        notes,
        workflows,
        record: record.clone(),
    };
    let server = pb::relay_server::RelayServer::new(service)
        .max_decoding_message_size(1 << 20)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let router = builder.add_service(server);
    tokio::spawn(async move {
        shutdown.await;
        stop_tx.send(true).ok();
    });
    let mut stopped = stopping;
    let stopped = async move {
        stopped.wait_for(|s| *s).await.ok();
    };
    tokio::spawn(async move {
        if let Err(e) = router.serve_with_incoming_shutdown(incoming, stopped).await {
            tracing::error!("the relay stopped serving: {e}");
        }
    });
    Ok(Relay { addr, stats })
}

/// The team's record `serve.record` names: the `postgres` source's connection settings,
/// resolved as libpq would (the variable its `dsn_env` names, libpq's own variables
/// and files).
fn team_record(
    serve: &ServeConfig,
    environment: &crate::config::Environment,
) -> Result<Option<record::TeamRecord>, String> {
    let Some(name) = &serve.record else {
        return Ok(None);
    };
    let source = environment
        .source
        .iter()
        .find_map(|s| match s {
            crate::config::SourceConfig::Postgres(p) if &p.name == name => Some(p),
            _ => None,
        })
        .ok_or_else(|| format!("serve.record {name:?} names no postgres source"))?;
    let (dsn, from) = source.dsn()?;
    let params =
        crate::sources::libpq::Params::resolve(&dsn, &crate::sources::libpq::process_env())
            .map_err(|e| format!("serve.record {name:?} ({from}): {e}"))?;
    Ok(Some(record::TeamRecord::new(params)))
}

/// The relay's TLS: its certificate, and the people's CA when it checks certificates.
fn server_tls(serve: &ServeConfig) -> Result<tonic::transport::ServerTlsConfig, String> {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let read = |path: &Option<String>, what: &str| -> Result<Vec<u8>, String> {
        let path = path
            .as_deref()
            .ok_or_else(|| format!("serve.{what} is not set"))?;
        crate::sources::read_small(path, 1 << 20, &format!("serve.{what}"))
    };
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(
        read(&serve.cert_file, "cert_file")?,
        read(&serve.key_file, "key_file")?,
    ));
    if serve.client_ca_file.is_some() {
        tls = tls
            .client_ca_root(Certificate::from_pem(read(
                &serve.client_ca_file,
                "client_ca_file",
            )?))
            // Walls with a token and no certificate are admitted when tokens exist.
            .client_auth_optional(!serve.token.is_empty());
    }
    Ok(tls)
}

/// One console's place among `max`: given back when its stream ends.
struct Slot(Arc<RelayStats>);

impl Slot {
    fn take(stats: &Arc<RelayStats>, max: usize) -> Result<Self, tonic::Status> {
        let now = stats.consoles.fetch_add(1, Ordering::SeqCst);
        if now >= max {
            stats.consoles.fetch_sub(1, Ordering::SeqCst);
            return Err(tonic::Status::resource_exhausted(format!(
                "the relay serves {max} consoles already (serve.max_consoles)"
            )));
        }
        stats.subscriptions.fetch_add(1, Ordering::Relaxed);
        Ok(Self(Arc::clone(stats)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.consoles.fetch_sub(1, Ordering::SeqCst);
    }
}

type Frames = ReceiverStream<Result<pb::Frame, tonic::Status>>;

impl Service {
    /// The relay's workflows, for a caller the relay admits, when it leads.
    fn workflows<T>(
        &self,
        req: &tonic::Request<T>,
    ) -> Result<(Person, &Arc<Workflows>), tonic::Status> {
        let person = self.access.person(req)?;
        self.leading()?;
        let w = self.workflows.as_ref().ok_or_else(|| {
            tonic::Status::unimplemented(
                "this relay runs no workflows (it has no data directory for a journal)",
            )
        })?;
        Ok((person, w))
    }

    /// Refuses, naming the leader, when this relay is a standby.
    fn leading(&self) -> Result<(), tonic::Status> {
        let lead = self.leadership.borrow();
        if lead.leading {
            return Ok(());
        }
        Err(tonic::Status::failed_precondition(match &lead.leader {
            Some(l) => format!("this relay is a standby; the leader is {l}"),
            None => "this relay is a standby; a leader is being elected".to_owned(),
        }))
    }
}

#[tonic::async_trait]
impl pb::relay_server::Relay for Service {
    async fn hello(
        &self,
        req: tonic::Request<pb::HelloRequest>,
    ) -> Result<tonic::Response<pb::HelloReply>, tonic::Status> {
        let person = self.access.person(&req)?;
        let lead = self.leadership.borrow().clone();
        Ok(tonic::Response::new(pb::HelloReply {
            standby: !lead.leading,
            leader: lead.leader.unwrap_or_default(),
            person: person.name,
            role: person.role.as_str().into(),
            environment: self.environment.clone(),
            relay: self.name.clone(),
            sources: self.sources.clone(),
        }))
    }

    type SubscribeStream = Frames;

    async fn subscribe(
        &self,
        req: tonic::Request<pb::SubscribeRequest>,
    ) -> Result<tonic::Response<Frames>, tonic::Status> {
        let person = self.access.person(&req)?;
        self.leading()?;
        let slot = Slot::take(&self.stats, self.max_consoles)?;
        tracing::info!("{} follows this relay", person.name);
        let (state, events) = self
            .engine
            .attach()
            .await
            .map_err(|_| tonic::Status::unavailable("the relay is stopping"))?;
        let notes_since = Timestamp(req.get_ref().notes_since);
        // Subscribed before the record is read: a note in between comes twice, which a
        // console takes once (by its id), rather than never.
        let notes = self.notes.as_ref().map(|n| (Arc::clone(n), n.subscribe()));
        let (tx, rx) = mpsc::channel(CONSOLE_QUEUE);
        let feed = Feed {
            tx,
            stopping: self.stopping.clone(),
            leadership: self.leadership.clone(),
            stats: Arc::clone(&self.stats),
            encoded: Arc::clone(&self.encoded),
            person: person.name,
        };
        let environment = self.environment.clone();
        tokio::spawn(async move {
            let _slot = slot;
            feed.run(state, &environment, events, notes, notes_since)
                .await;
        });
        Ok(tonic::Response::new(ReceiverStream::new(rx)))
    }

    async fn act(
        &self,
        req: tonic::Request<pb::ActRequest>,
    ) -> Result<tonic::Response<pb::ActReply>, tonic::Status> {
        let person = self.access.person(&req)?;
        self.leading()?;
        if person.role != Role::Operator {
            return Err(tonic::Status::permission_denied(format!(
                "{} is a viewer here; operators are listed in serve.operators",
                person.name
            )));
        }
        let intent: Intent = serde_json::from_str(&req.get_ref().intent).map_err(|e| {
            tonic::Status::invalid_argument(format!("not a request this relay knows: {e}"))
        })?;
        self.engine
            .send_as(intent.clone(), &person.name)
            .map_err(|e| tonic::Status::failed_precondition(e.to_string()))?;
        if let (Intent::AckIncident { incident }, Some(record)) = (&intent, &self.record) {
            tokio::spawn(acks::keep(
                self.engine.clone(),
                Arc::clone(record),
                *incident,
                person.name,
            ));
        }
        Ok(tonic::Response::new(pb::ActReply {}))
    }

    async fn put_note(
        &self,
        req: tonic::Request<pb::Note>,
    ) -> Result<tonic::Response<pb::NoteReply>, tonic::Status> {
        let person = self.access.person(&req)?;
        self.leading()?;
        if person.role != Role::Operator {
            return Err(tonic::Status::permission_denied(format!(
                "{} is a viewer here and cannot write notes",
                person.name
            )));
        }
        let Some(notes) = &self.notes else {
            return Err(tonic::Status::unimplemented(
                "this relay keeps no notes (it has no data directory)",
            ));
        };
        let note =
            SharedNote::from_pb(req.into_inner()).map_err(tonic::Status::invalid_argument)?;
        let stored = notes.put(note, person.name).await?;
        Ok(tonic::Response::new(pb::NoteReply {
            note: Some(stored.to_pb()),
        }))
    }

    async fn offers(
        &self,
        req: tonic::Request<pb::OffersRequest>,
    ) -> Result<tonic::Response<pb::OffersReply>, tonic::Status> {
        let (_, w) = self.workflows(&req)?;
        w.offers().await.map(tonic::Response::new)
    }

    async fn plan(
        &self,
        req: tonic::Request<pb::PlanRequest>,
    ) -> Result<tonic::Response<pb::PlanReply>, tonic::Status> {
        let (person, w) = self.workflows(&req)?;
        w.plan(&person, req.into_inner())
            .await
            .map(tonic::Response::new)
    }

    type RunStream = workflows::Updates;

    async fn run(
        &self,
        req: tonic::Request<pb::RunRequest>,
    ) -> Result<tonic::Response<workflows::Updates>, tonic::Status> {
        let (person, w) = self.workflows(&req)?;
        w.run(&person, req.get_ref()).map(tonic::Response::new)
    }

    async fn steer(
        &self,
        req: tonic::Request<pb::SteerRequest>,
    ) -> Result<tonic::Response<pb::SteerReply>, tonic::Status> {
        let (person, w) = self.workflows(&req)?;
        w.steer(&person, req.get_ref())?;
        Ok(tonic::Response::new(pb::SteerReply {}))
    }

    async fn journal(
        &self,
        req: tonic::Request<pb::JournalRequest>,
    ) -> Result<tonic::Response<pb::JournalReply>, tonic::Status> {
        let (_, w) = self.workflows(&req)?;
        w.journal(req.get_ref().limit)
            .await
            .map(tonic::Response::new)
    }
}

/// The next note for a console; `None` when it fell behind the fan-out. Never
/// completes without notes.
async fn next_note(rx: Option<&mut broadcast::Receiver<pb::Note>>) -> Option<pb::Note> {
    let Some(rx) = rx else {
        return std::future::pending().await;
    };
    match rx.recv().await {
        Ok(n) => Some(n),
        Err(broadcast::error::RecvError::Lagged(_)) => None,
        Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
    }
}

/// One console's stream: the state, the notes, then the batches as they come.
struct Feed {
    tx: mpsc::Sender<Result<pb::Frame, tonic::Status>>,
    stopping: tokio::sync::watch::Receiver<bool>,
    leadership: tokio::sync::watch::Receiver<Leadership>,
    stats: Arc<RelayStats>,
    encoded: Arc<Encoded>,
    person: String,
}

impl Feed {
    async fn run(
        self,
        state: Arc<crate::state::State>,
        environment: &str,
        mut events: broadcast::Receiver<Arc<Vec<Event>>>,
        notes: Option<(Arc<Notes>, broadcast::Receiver<pb::Note>)>,
        notes_since: Timestamp,
    ) {
        let env = environment.to_owned();
        // Encoding a large estate takes a moment: off the runtime's workers.
        let Ok(snapshot) =
            tokio::task::spawn_blocking(move || protocol::encode_snapshot(&state, &env)).await
        else {
            return;
        };
        if !self.send(pb::frame::Body::Snapshot(snapshot)).await {
            return;
        }
        let mut stopping = self.stopping.clone();
        let mut leadership = self.leadership.clone();
        let mut live_notes = None;
        if let Some((record, rx)) = notes {
            for n in record.since(notes_since).await {
                if !self.send(pb::frame::Body::Note(n)).await {
                    return;
                }
            }
            live_notes = Some(rx);
        }
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(IDLE_TICK, events.recv()) => next,
                note = next_note(live_notes.as_mut()) => {
                    // Behind on notes: reconnecting fetches them from the record.
                    let Some(n) = note else {
                        self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("console of {} fell behind on notes; dropped", self.person);
                        let why = "this console fell behind on the team's notes; it reconnects and reads them from the record";
                        self.tx
                            .send(Err(tonic::Status::resource_exhausted(why)))
                            .await
                            .ok();
                        return;
                    };
                    if !self.send(pb::frame::Body::Note(n)).await {
                        return;
                    }
                    continue;
                }
                () = async { stopping.wait_for(|s| *s).await.map(|_| ()).ok(); } => {
                    Ok(Err(broadcast::error::RecvError::Closed))
                }
                // A relay that does not elect has no one to say so: it never steps down.
                () = async {
                    if leadership.wait_for(|l| !l.leading).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                } => {
                    self.tx
                        .send(Err(tonic::Status::unavailable(
                            "this relay stepped down; the console finds the new leader",
                        )))
                        .await
                        .ok();
                    return;
                }
            };
            let body = match next {
                Err(_) => pb::frame::Body::Events(bytes::Bytes::new()),
                Ok(Ok(batch)) => {
                    let lines = self.encoded.lines(&batch, &self.stats);
                    self.stats
                        .event_bytes
                        .fetch_add(lines.len() as u64, Ordering::Relaxed);
                    pb::frame::Body::Events(lines)
                }
                Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "console of {} fell {n} batches behind; dropped",
                        self.person
                    );
                    let why = format!(
                        "this console fell {n} batches behind the relay; it reconnects for a fresh state"
                    );
                    self.tx
                        .send(Err(tonic::Status::resource_exhausted(why)))
                        .await
                        .ok();
                    return;
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    self.tx
                        .send(Err(tonic::Status::unavailable("the relay is stopping")))
                        .await
                        .ok();
                    return;
                }
            };
            if !self.send(body).await {
                return;
            }
        }
    }

    /// Sends one frame; `false` when the console is gone.
    async fn send(&self, body: pb::frame::Body) -> bool {
        self.stats.frames.fetch_add(1, Ordering::Relaxed);
        self.tx
            .send(Ok(pb::Frame { body: Some(body) }))
            .await
            .is_ok()
    }
}
