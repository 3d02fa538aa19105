//! The HTTP client every HTTP source uses: rustls on the ring provider (installed once,
//! here, so no caller can forget), bounded connect and request times, no proxy from the
//! environment (a console must reach its targets directly).

use std::time::Duration;

/// A client whose requests give up after `timeout`.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    // Installing twice is harmless: the first provider stays.
    rustls::crypto::ring::default_provider()
        .install_default()
        .ok();
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .no_proxy()
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e:#}"))
}
