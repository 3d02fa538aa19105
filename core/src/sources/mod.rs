//! Sources: one module per observed system. Each runs as its own tokio task and is its
//! own bulkhead: its own timeouts, its own reconnect loop with capped exponential
//! backoff and full jitter, so one dead or hanging endpoint never holds up another.
//! A polling source writes no loop of its own: it hands the polling driver (`poll.rs`)
//! a `fetch` and a `translate`, and reaches its system with a [`Connection`].
//!
//! A source talks to the engine only through an [`Emitter`], which stamps each event
//! with the source's name and the clock's time and sends it over a bounded channel.
//! When the engine is gone, `emit` returns `false` and the task ends.
//!
//! The clients of systems that are not sources themselves live here too, beside the
//! HTTP client they share: `aws` (Route53 for the `dns` source's hosted zones, EC2 for
//! the fence devices).
//!
//! Every kind of source is one line of the sources table (`table.rs`), which generates
//! `SourceKind`, `SourceConfig` and the engine's start arm (`engine/start_arm.rs`): adding a
//! kind is a module here plus that line.

pub mod aws;
mod backoff;
mod bounds;
mod changes;
mod connection;
pub mod consul;
pub mod dns;
pub mod drill;
pub mod envoy;
pub mod etcd;
mod excerpt;
pub mod exposition;
pub mod grpc_health;
pub mod haproxy;
pub(crate) mod http;
pub mod http_probe;
mod kube_bounds;
pub mod kubernetes;
pub mod libpq;
pub mod patroni;
pub mod pg;
pub mod pg_tls;
mod poll;
pub mod postgres;
pub mod prometheus;
mod table;
pub mod traefik;
pub mod transport;
mod verifier;
mod volatile;

use std::sync::Arc;

use tokio::sync::mpsc;

pub use self::backoff::Backoff;
pub(crate) use self::bounds::read_small;
pub use self::bounds::{AnswerLimit, read_bounded, read_text_bounded, size_words};
pub use self::connection::{
    AuthSettings, Connection, ProxySetting, ReachSettings, TlsSettings, check_reach, error_words,
    error_words_for, redact_url, refusal_words, tls_words_for, tonic_tls, tonic_tls_for,
    transport_words_for,
};
pub use self::http::{HttpClient, ProxyEnv};

use crate::event::{Event, EventBody};
use crate::model::{SourceId, SourceKind, SourceStatus};
use crate::time::{Clock, Timestamp};

/// What every kind of source's config offers besides its fields; the sources table
/// makes every kind implement it.
pub trait Settings {
    /// Checks what the schema cannot (one of two fields needed, an empty list), in words
    /// that name the source.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// How the source reaches its target over HTTP (its URLs, `tls`, `auth` and `proxy`
    /// fields), for code that does not know its kind: client building, the transport
    /// and certificate report. `None` for sources that do not speak HTTP.
    fn reach(&self) -> Option<ReachSettings<'_>> {
        None
    }

    /// Its endpoints and TLS settings, for the transport watcher (`transport.rs`) that
    /// reports whether its connection is verified, INSECURE or plaintext and when its
    /// certificates expire; `None` for a source with nothing to watch. An HTTP source's
    /// comes from its [`Settings::reach`].
    fn probe(&self) -> Option<transport::Probe> {
        probe_of(self)
    }
}

/// The transport watcher's probe of an HTTP source: its [`Settings::reach`]'s URLs and
/// TLS settings; `None` when it has no URL (a socket, an address from the environment).
pub fn probe_of(cfg: &(impl Settings + ?Sized)) -> Option<transport::Probe> {
    let reach = cfg.reach().filter(|r| !r.urls.is_empty())?;
    Some(transport::Probe {
        endpoints: reach.urls.iter().map(|u| (*u).to_owned()).collect(),
        tls: reach.tls.cloned(),
        https: reach.urls.iter().any(|u| u.starts_with("https://")),
        preamble: transport::Preamble::None,
        timeout: reach.timeout,
        proxy: reach.proxy.clone(),
    })
}

/// Runs a poll bounded by `timeout`; running out of time is an error that says so,
/// naming `what` (a URL or a socket).
pub(crate) async fn bounded<T>(
    timeout: std::time::Duration,
    what: &str,
    poll: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(timeout, poll)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer within {} ms ({what})",
                timeout.as_millis()
            ))
        })
}

/// What the engine keeps of a started source.
#[derive(Default)]
pub(crate) struct Started {
    /// The command channel of a source that takes commands (the drill).
    pub(crate) drill: Option<mpsc::Sender<drill::DrillCommand>>,
}

/// Sends a source's events to the engine.
#[derive(Clone)]
pub struct Emitter {
    source: SourceId,
    kind: SourceKind,
    tx: mpsc::Sender<Event>,
    clock: Arc<dyn Clock>,
}

impl Emitter {
    /// An emitter for `source`.
    pub fn new(
        source: SourceId,
        kind: SourceKind,
        tx: mpsc::Sender<Event>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            source,
            kind,
            tx,
            clock,
        }
    }

    /// The source's name.
    pub fn source(&self) -> &SourceId {
        &self.source
    }

    /// The current time on the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Sends `body` stamped now. Returns `false` once the engine has stopped.
    pub async fn emit(&self, body: EventBody) -> bool {
        self.emit_at(self.clock.now(), body).await
    }

    /// Sends `body` stamped `at`. Returns `false` once the engine has stopped.
    pub async fn emit_at(&self, at: Timestamp, body: EventBody) -> bool {
        self.tx
            .send(Event::new(at, self.source.clone(), body))
            .await
            .is_ok()
    }

    /// Resolves once the engine has stopped listening.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }

    /// Reports the source's own status.
    pub async fn status(&self, status: SourceStatus, detail: Option<String>) -> bool {
        let drill = self.kind == SourceKind::Drill;
        self.emit(EventBody::SourceStatus {
            source_kind: self.kind,
            status,
            detail,
            drill,
        })
        .await
    }
}
