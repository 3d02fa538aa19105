//! `serve`: the relay. One engine on the environment's sources (never another relay),
//! serving its state, its events and its intents to every console that connects, until
//! Ctrl+C, SIGTERM or `--for`.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use switchboard_core::Config;

use super::args::Common;
use super::setup::{engine_options, start_engine};

/// What `serve` was asked.
pub struct ServeArgs<'a> {
    /// Overrides the environment's serve.listen.
    pub listen: Option<&'a str>,
    /// Record the relay's session here.
    pub record: Option<&'a Path>,
    /// Stop after this many seconds.
    pub duration: Option<f64>,
}

/// Runs the relay until interrupted.
pub fn run_serve(c: &Common, config: Config, args: &ServeArgs<'_>) -> anyhow::Result<()> {
    let mut opts = engine_options(c, config, args.record.map(Path::to_owned));
    // A relay polls the sources itself, whatever its consoles' configuration says.
    opts.relay = None;
    let env = match &opts.environment {
        Some(name) => opts.config.environment.iter().find(|e| &e.name == name),
        None => opts.config.environment.first(),
    }
    .context("no environment to serve")?;
    let mut serve = env.serve.clone().with_context(|| {
        format!(
            "environment {:?} has no [environment.serve] section: say how the relay listens and whom it admits",
            env.name
        )
    })?;
    if let Some(l) = args.listen {
        l.clone_into(&mut serve.listen);
    }
    let environment = env.name.clone();
    let served = env.clone();
    // The team's notes and the workflows' journal: the relay's own data directory.
    let data = super::setup::data_dir(c);
    if let Some(dir) = data.as_deref() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot make the data directory {}", dir.display()))?;
    }
    let engine = start_engine(&opts)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        stop_rx.await.ok();
    };
    let relay = engine
        .block_on(switchboard_core::relay::start(
            engine.tap(),
            &serve,
            &served,
            data.as_deref(),
            shutdown,
        ))
        .context("the engine stopped")?
        .map_err(anyhow::Error::msg)?;
    let how = if serve.plaintext {
        "INSECURE: plaintext, no TLS".to_owned()
    } else if serve.client_ca_file.is_some() {
        "TLS, client certificates".to_owned()
    } else {
        "TLS, tokens".to_owned()
    };
    eprintln!(
        "switchboard: serving {environment} on {} ({how}); operators: {}; notes and journal in {}",
        relay.addr,
        if serve.operators.is_empty() {
            "none".to_owned()
        } else {
            serve.operators.join(", ")
        },
        data.as_deref().map_or_else(
            || "none (no data directory: no notes, no workflows)".into(),
            |p| p.display().to_string()
        )
    );
    let limit = args.duration.map(|s| Duration::from_secs_f64(s.max(0.0)));
    engine.block_on(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let terminated = async move {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        let limited = async move {
            match limit {
                Some(l) => tokio::time::sleep(l).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            () = terminated => {},
            () = limited => {},
        }
    });
    stop_tx.send(()).ok();
    let s = &relay.stats;
    eprintln!(
        "switchboard: relay stopped; {} subscriptions, {} frames sent, {} consoles dropped for falling behind",
        s.subscriptions.load(Ordering::Relaxed),
        s.frames.load(Ordering::Relaxed),
        s.dropped.load(Ordering::Relaxed)
    );
    // The consoles' streams end with the server; give them a moment to be told.
    std::thread::sleep(Duration::from_millis(200));
    if let Some(e) = engine.shutdown() {
        anyhow::bail!("{}", e.recording_stopped());
    }
    Ok(())
}
