//! A relay on the rig's real servers and consoles on it: the relay is an engine on the
//! rig's etcd and HAProxy served over TLS with client certificates (the rig's PKI,
//! `rig.sh pki`: people alice, bob and wall); consoles are engines following it through
//! the same link the window uses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use switchboard_core::relay::Relay;
use switchboard_core::sources::TlsSettings;
use switchboard_core::{
    Config, EngineHandle, EngineOptions, Environment, RelayClient, ServeConfig,
};

use crate::common;

/// The rig's PKI directory, made if it is not there.
pub fn pki() -> PathBuf {
    common::rig_pki()
}

/// The environment the relay and the direct consoles watch: the rig's etcd and HAProxy
/// (stats over HTTP, so HAProxy's own counter sees every poll).
pub fn rig_env() -> Environment {
    common::rig_relay_env(100)
}

/// How the relay serves: TLS with the rig's server certificate, people's certificates
/// from the rig's CA, alice and bob operators.
pub fn serve_config(pki: &std::path::Path) -> ServeConfig {
    let p = |f: &str| Some(pki.join(f).display().to_string());
    ServeConfig {
        listen: "127.0.0.1:0".into(),
        cert_file: p("server.pem"),
        key_file: p("server-key.pem"),
        client_ca_file: p("ca.pem"),
        operators: vec!["alice".into(), "bob".into()],
        token: Vec::new(),
        plaintext: false,
        max_consoles: 256,
        elect: None,
        record: None,
    }
}

/// A relay on `env`: its engine, and where it listens.
pub struct RigRelay {
    pub engine: EngineHandle,
    pub relay: Relay,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl RigRelay {
    pub fn start(env: Environment, serve: &ServeConfig) -> Self {
        Self::started(env, serve, None)
    }

    /// A relay keeping the team's notes and its journal in the directory `data`.
    pub fn start_with_data(env: Environment, serve: &ServeConfig, data: &Path) -> Self {
        Self::started(env, serve, Some(data))
    }

    fn started(env: Environment, serve: &ServeConfig, data: Option<&Path>) -> Self {
        let served = env.clone();
        let engine = switchboard_core::start(&EngineOptions::new(Config {
            environment: vec![env],
        }))
        .expect("relay engine");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let relay = engine
            .block_on(switchboard_core::relay::start(
                engine.tap(),
                serve,
                &served,
                data,
                async move {
                    stopped.await.ok();
                },
            ))
            .expect("runtime")
            .expect("relay starts");
        Self {
            engine,
            relay,
            stop: Some(stop),
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.relay.addr.port())
    }

    /// Stops serving (every console's stream ends, saying so), then the engine.
    pub fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            s.send(()).ok();
        }
        std::thread::sleep(Duration::from_millis(100));
        self.engine.shutdown();
    }
}

/// How `person` (alice, bob, wall) reaches the relay at `url`.
pub fn client_of(url: &str, pki: &std::path::Path, person: &str) -> RelayClient {
    let p = |f: String| Some(pki.join(f).display().to_string());
    RelayClient {
        url: url.to_owned(),
        standby: Vec::new(),
        tls: Some(TlsSettings {
            ca_file: p("ca.pem".into()),
            cert_file: p(format!("{person}.pem")),
            key_file: p(format!("{person}-key.pem")),
            ..TlsSettings::default()
        }),
        auth: None,
        fallback_direct: false,
    }
}

/// A console of `person` following `relay` (the environment configured as the
/// relay's, as a console's would be).
pub fn console(relay: &RelayClient) -> EngineHandle {
    console_in(rig_env(), relay)
}

/// A console following `relay`, configured with `env`.
pub fn console_in(env: Environment, relay: &RelayClient) -> EngineHandle {
    let mut opts = EngineOptions::new(Config {
        environment: vec![env],
    });
    opts.relay = Some(relay.clone());
    switchboard_core::start(&opts).expect("console engine")
}

/// Waits until `console` follows its relay (its link connected and a state adopted).
pub fn wait_connected(console: &EngineHandle, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if console.relay_link().is_some_and(|l| l.connected)
            && console.snapshot().sources.len() >= 2
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "the console did not connect within {within:?}: {:?}",
        console.relay_link()
    );
}
