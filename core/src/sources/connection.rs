//! How a source reaches its system: the one place its connection settings live.
//!
//! Today that is the time bound alone. The TLS, authentication and proxy settings every
//! source will take are to be declared here, once, so the HTTP client below (and the
//! gRPC and PostgreSQL clients after it) read them from one type, and every source and
//! workflow that talks to the same system agrees on how.

use std::time::Duration;

/// How to reach a system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Bound on connecting and on each request.
    pub timeout: Duration,
}

impl Connection {
    /// A connection whose requests give up after `timeout`.
    pub const fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// An HTTP client with these settings: rustls on the ring provider (installed once,
    /// here, so no caller can forget), bounded connect and request times, no proxy from
    /// the environment (a console must reach its targets directly).
    pub fn http_client(&self) -> Result<reqwest::Client, String> {
        // Installing twice is harmless: the first provider stays.
        rustls::crypto::ring::default_provider()
            .install_default()
            .ok();
        reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .timeout(self.timeout)
            .no_proxy()
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e:#}"))
    }
}
