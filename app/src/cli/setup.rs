//! What every command starts from: the configuration (`--drill`, `--config`, the default
//! file, `ETCDCTL_ENDPOINTS`), the data directory, and the engine on them.

use std::path::PathBuf;

use anyhow::Context as _;
use switchboard_core::sources::drill::DrillConfig;
use switchboard_core::sources::{AuthSettings, TlsSettings};
use switchboard_core::{Config, EngineHandle, EngineOptions, RelayClient};

use super::args::Common;

/// `--drill` > `--config` > the default config file > `ETCDCTL_ENDPOINTS` > the drill.
pub fn resolve_config(c: &Common) -> anyhow::Result<Config> {
    let drill = || {
        Config::drill(DrillConfig {
            instances: c.drill_size,
            seed: c.drill_seed,
            speed: c.drill_speed,
            ..DrillConfig::default()
        })
    };
    if c.drill {
        return Ok(drill());
    }
    if let Some(path) = &c.config {
        return Ok(Config::load(path)?);
    }
    if let Some(path) = Config::default_path().filter(|p| p.exists()) {
        return Ok(Config::load(&path)?);
    }
    if let Some(cfg) = Config::from_cli_env() {
        return Ok(cfg);
    }
    Ok(drill())
}

/// `--data-dir` > `$SWITCHBOARD_DATA_DIR` > the platform data dir; `None` where the
/// platform has none (no home directory).
pub fn data_dir(c: &Common) -> Option<PathBuf> {
    c.data_dir
        .clone()
        .or_else(|| std::env::var_os("SWITCHBOARD_DATA_DIR").map(PathBuf::from))
        .or_else(|| {
            directories::ProjectDirs::from("org", "switchboard", "switchboard")
                .map(|d| d.data_dir().to_owned())
        })
}

/// The engine's options on `config`, in `--environment`, recording to `record_to`;
/// following a relay when `--connect` names one or the environment does (unless
/// `--direct`).
pub fn engine_options(c: &Common, config: Config, record_to: Option<PathBuf>) -> EngineOptions {
    let mut opts = EngineOptions::new(config);
    opts.environment.clone_from(&c.environment);
    opts.record_to = record_to;
    opts.relay = relay_client(c, &opts);
    opts
}

/// The relay a command on `config` follows, if any (`--connect`, or the environment's
/// `relay`, unless `--direct`).
pub fn relay_for(c: &Common, config: &Config) -> Option<RelayClient> {
    let mut opts = EngineOptions::new(config.clone());
    opts.environment.clone_from(&c.environment);
    relay_client(c, &opts)
}

/// The relay `--connect` names (with the environment's TLS and token settings, else
/// the `SWITCHBOARD_RELAY_*` variables), else the environment's own, unless `--direct`.
fn relay_client(c: &Common, opts: &EngineOptions) -> Option<RelayClient> {
    let env = match &opts.environment {
        Some(name) => opts.config.environment.iter().find(|e| &e.name == name),
        None => opts.config.environment.first(),
    };
    if c.direct {
        return None;
    }
    let Some(url) = &c.connect else {
        return env.and_then(switchboard_core::Environment::relay_client);
    };
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let from_vars = TlsSettings {
        ca_file: var("SWITCHBOARD_RELAY_CACERT"),
        cert_file: var("SWITCHBOARD_RELAY_CERT"),
        key_file: var("SWITCHBOARD_RELAY_KEY"),
        ..TlsSettings::default()
    };
    let tls = env
        .and_then(|e| e.relay_tls.clone())
        .or_else(|| (from_vars != TlsSettings::default()).then_some(from_vars));
    let auth = env.and_then(|e| e.relay_auth.clone()).or_else(|| {
        var("SWITCHBOARD_RELAY_TOKEN").map(|_| AuthSettings {
            token_env: Some("SWITCHBOARD_RELAY_TOKEN".into()),
            ..AuthSettings::default()
        })
    });
    let mut urls = url
        .split(',')
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty());
    Some(RelayClient {
        url: urls.next().unwrap_or_default(),
        standby: urls.collect(),
        tls: tls.filter(|_| url.starts_with("https://")),
        auth,
        fallback_direct: env.is_some_and(|e| e.fallback_direct),
    })
}

/// Starts the engine, first checking that the environment asked for exists (so the
/// error names it rather than the engine's internals).
pub fn start_engine(opts: &EngineOptions) -> anyhow::Result<EngineHandle> {
    if let Some(env) = &opts.environment {
        anyhow::ensure!(
            opts.config.environment.iter().any(|e| &e.name == env),
            "no environment named {env:?} in the configuration"
        );
    }
    if let Some(relay) = &opts.relay {
        relay.validate().map_err(anyhow::Error::msg)?;
    }
    switchboard_core::start(opts).context("cannot start the engine")
}
