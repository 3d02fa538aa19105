//! What every command starts from: the configuration (`--drill`, `--config`, the default
//! file, `ETCDCTL_ENDPOINTS`), the data directory, and the engine on them.

use std::path::PathBuf;

use anyhow::Context as _;
use switchboard_core::sources::drill::DrillConfig;
use switchboard_core::{Config, EngineHandle, EngineOptions};

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

/// The engine's options on `config`, in `--environment`, recording to `record_to`.
pub fn engine_options(c: &Common, config: Config, record_to: Option<PathBuf>) -> EngineOptions {
    let mut opts = EngineOptions::new(config);
    opts.environment.clone_from(&c.environment);
    opts.record_to = record_to;
    opts
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
    switchboard_core::start(opts).context("cannot start the engine")
}
