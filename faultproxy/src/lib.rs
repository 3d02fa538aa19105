//! A fault-injecting TCP proxy for Switchboard's fault tests.
//!
//! Outages do not look like a killed process: they look like a network that drops
//! packets after the connection was made, a peer that vanished without a FIN, a proxy
//! that answers an HTML login page with `200 OK`, an answer that trickles a byte at a
//! time or never ends. The kernel here has no `netem`, so these faults are made in user
//! space: a [`FaultProxy`] listens on loopback in front of one real upstream
//! (`host:port`) and forwards bytes both ways, doing whatever its current [`Fault`]
//! says. The fault can be switched at any time, from a test or by hand
//! (`cargo run -p switchboard-faultproxy -- --listen … --upstream … --fault latency:500ms`).
//!
//! The proxy runs on its own small tokio runtime, so synchronous tests and tests that
//! already run inside tokio can both use it; dropping it closes every connection.
//! [`Stats`] count connections and bytes, so a test can assert the source really went
//! through the proxy. [`FaultProxy::arm`] switches the fault by itself right after a
//! given command has been answered (a workflow's `disable server`, a `POST
//! /switchover`): a deterministic "the target stops answering after the change".

mod api;
mod conn;
mod fault;
mod forge;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use self::fault::{Fault, ParseFaultError};

/// Counters of what went through a proxy since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted from clients (whatever the fault did with them).
    pub connections: u64,
    /// Connections made to the upstream (forwarding faults only).
    pub upstream_connections: u64,
    /// Bytes read from clients.
    pub bytes_from_clients: u64,
    /// Bytes written to clients, forwarded or forged.
    pub bytes_to_clients: u64,
    /// How many times an armed trigger switched the fault (0 or 1 per [`FaultProxy::arm`]).
    pub triggered: u64,
}

/// A pattern in the client's bytes and the fault to switch to once its answer is out.
#[derive(Debug)]
struct Trigger {
    pattern: Vec<u8>,
    then: Fault,
}

/// What the proxy's tasks share: the fault, the counters, the upstream and the trigger.
#[derive(Debug)]
struct Shared {
    upstream: String,
    fault: watch::Sender<Fault>,
    connections: AtomicU64,
    upstream_connections: AtomicU64,
    bytes_from_clients: AtomicU64,
    bytes_to_clients: AtomicU64,
    triggered: AtomicU64,
    trigger: Mutex<Option<Trigger>>,
}

impl Shared {
    fn trigger_pattern(&self) -> Option<Vec<u8>> {
        self.trigger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|t| t.pattern.clone())
    }

    /// Fires the armed trigger, if still armed: switches to its fault once.
    fn fire(&self) {
        let taken = self
            .trigger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = taken {
            self.fault.send_replace(t.then);
            self.triggered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A fault-injecting proxy on loopback in front of one upstream. Dropping it stops it
/// and closes every connection it holds.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1` (a free port) in front of `upstream` (`host:port`),
    /// forwarding plainly ([`Fault::Pass`]).
    pub fn start(upstream: &str) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0", upstream)
    }

    /// Starts a proxy listening on `listen` (`host:port`; port 0 picks a free one) in
    /// front of `upstream`. The upstream is resolved and connected per connection, so
    /// it need not be up yet.
    pub fn start_on(listen: &str, upstream: &str) -> std::io::Result<Self> {
        let std_listener = std::net::TcpListener::bind(listen)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("faultproxy")
            .enable_all()
            .build()?;
        let (fault, _) = watch::channel(Fault::Pass);
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            fault,
            connections: AtomicU64::new(0),
            upstream_connections: AtomicU64::new(0),
            bytes_from_clients: AtomicU64::new(0),
            bytes_to_clients: AtomicU64::new(0),
            triggered: AtomicU64::new(0),
            trigger: Mutex::new(None),
        });
        let listener = {
            let _inside = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        runtime.spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Self {
            addr,
            shared,
            runtime: Some(runtime),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The upstream this proxy forwards to, as given.
    pub fn upstream(&self) -> &str {
        &self.shared.upstream
    }

    /// Switches the fault, for new and established connections alike (see [`Fault`] for
    /// what each does to a connection already made).
    pub fn set(&self, fault: Fault) {
        self.shared.fault.send_replace(fault);
    }

    /// The fault now in force.
    pub fn fault(&self) -> Fault {
        *self.shared.fault.borrow()
    }

    /// Arms a one-shot trigger: on the first connection whose client bytes contain
    /// `pattern`, once the upstream's answer to them has been forwarded (its first
    /// chunk, or the connection's end if the upstream closes without a word), the fault
    /// becomes `then`. So the command reaches the target and its answer reaches the
    /// client, and everything after it meets the fault. Replaces a trigger still armed.
    pub fn arm(&self, pattern: &[u8], then: Fault) {
        *self
            .shared
            .trigger
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Trigger {
            pattern: pattern.to_vec(),
            then,
        });
    }

    /// Serves a control API in Toxiproxy's shape on `listen` (`host:port`), this proxy
    /// answering to `name` (see `api.rs`); returns the address it listens on. Stops with
    /// the proxy.
    pub fn serve_api(&self, listen: &str, name: &str) -> std::io::Result<SocketAddr> {
        let std_listener = std::net::TcpListener::bind(listen)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let Some(runtime) = &self.runtime else {
            return Err(std::io::Error::other("the proxy is stopping"));
        };
        let listener = {
            let _inside = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        runtime.spawn(api::serve(
            listener,
            Arc::new(api::Api {
                name: name.to_owned(),
                listen: self.addr.to_string(),
                shared: Arc::clone(&self.shared),
                toxic: Mutex::new(None),
            }),
        ));
        Ok(addr)
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        Stats {
            connections: s.connections.load(Ordering::Relaxed),
            upstream_connections: s.upstream_connections.load(Ordering::Relaxed),
            bytes_from_clients: s.bytes_from_clients.load(Ordering::Relaxed),
            bytes_to_clients: s.bytes_to_clients.load(Ordering::Relaxed),
            triggered: s.triggered.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Not `drop(runtime)`: that blocks, and panics inside an async context.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Accepts connections until the runtime stops; each gets its own task.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                shared.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(conn::serve(client, Arc::clone(&shared)));
            }
            // Out of descriptors or an aborted handshake: wait a little, go on.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

#[cfg(test)]
mod tests;
