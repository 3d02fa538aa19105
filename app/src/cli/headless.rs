//! The commands that run the engine without a window: `status` (one snapshot once every
//! source has reported), `watch` (what changes, one event per line; every applied
//! event with `--all`) and `record` (a session file, headless).

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use switchboard_core::session::retention::Retention;
use switchboard_core::{Clock as _, Config, EngineOptions, State, StatusReport, SystemClock};

use super::args::Common;
use super::setup::{engine_options, start_engine};

/// Every configured source has reported, and every cluster has been polled in full.
fn all_reported(state: &State, expected: &[String]) -> bool {
    expected
        .iter()
        .all(|name| state.sources.contains_key(name.as_str()))
        && state
            .clusters
            .values()
            .all(|c| c.membership_known && c.members.values().all(|m| m.polled))
}

/// The names of the sources of the environment the engine watches.
fn expected_sources(opts: &EngineOptions) -> Vec<String> {
    let env = match &opts.environment {
        Some(n) => opts.config.environment.iter().find(|e| &e.name == n),
        None => opts.config.environment.first(),
    };
    env.map(|e| e.source.iter().map(|s| s.name().to_owned()).collect())
        .unwrap_or_default()
}

/// A recording that rolls to a new segment every so often and prunes by `retention`,
/// as the window's flight recorder does (`--segment-secs`, hidden).
fn roll(opts: &mut EngineOptions, rolling: Option<(Duration, Retention)>) {
    if let Some((every, retention)) = rolling {
        opts.segment_every = Some(every);
        opts.retention = Some(retention);
    }
}

/// `status`: one snapshot once every source has reported or `wait` seconds passed.
pub fn run_status(c: &Common, config: Config, json: bool, wait: f64) -> anyhow::Result<()> {
    let opts = engine_options(c, config, None);
    let expected = expected_sources(&opts);
    let engine = start_engine(&opts)?;
    let wait = Duration::from_secs_f64(wait.max(0.0));
    let state = if opts.relay.is_some() {
        relay_state(&engine, wait)?
    } else {
        engine.wait_for(wait, |s| all_reported(s, &expected))
    };
    let report = StatusReport::new(&state, SystemClock.now());
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_status(&report);
    }
    Ok(())
}

/// The relay's state once the console follows it, or why it could not within `wait`.
fn relay_state(
    engine: &switchboard_core::EngineHandle,
    wait: Duration,
) -> anyhow::Result<std::sync::Arc<State>> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let link = engine.relay_link().context("no relay link")?;
        // Followed, and every source of the relay's heard from (as without a relay).
        if link.connected {
            let state = engine.snapshot();
            if all_reported(&state, &link.sources) {
                return Ok(state);
            }
        }
        if std::time::Instant::now() >= deadline {
            if link.connected {
                return Ok(engine.snapshot());
            }
            anyhow::bail!(
                "cannot follow the relay {}: {}",
                link.url,
                link.error.as_deref().unwrap_or("no answer")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The status report in words, one line per source and cluster (`status` and
/// `replay --at` without `--json`).
pub fn print_status(r: &StatusReport) {
    if r.drill {
        println!("DRILL: simulated fleet, nothing here is real");
    }
    for s in &r.sources {
        let detail = s
            .detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        println!(
            "source {} [{}] {} · {:.1} s ago{detail}",
            s.name, s.kind, s.status, s.age_secs
        );
    }
    for c in &r.clusters {
        println!(
            "cluster {} [{}] {} · leader {} · quorum {} of {} · {} reachable · tolerates {} · {}",
            c.name,
            c.kind,
            c.state,
            c.leader.as_deref().unwrap_or("none"),
            c.quorum.size,
            c.quorum.voters,
            c.quorum.reachable,
            c.quorum.tolerance,
            c.reason
        );
    }
    for d in &r.dns {
        let target = d
            .target
            .as_ref()
            .map_or_else(|| "servers disagree".to_owned(), |t| t.join(", "));
        let ttl = d
            .ttl_secs
            .map(|t| format!(" · TTL {t} s"))
            .unwrap_or_default();
        let service = d
            .service
            .as_deref()
            .map(|s| format!(" · service {s}"))
            .unwrap_or_default();
        let concerns = if d.concerns.is_empty() {
            String::new()
        } else {
            format!(" · {}", d.concerns.join("; "))
        };
        println!(
            "dns {} {} {target} · {}{ttl}{service} · since {}{concerns}",
            d.name, d.rtype, d.side, d.since
        );
    }
    let open: Vec<&str> = r
        .breakers
        .iter()
        .filter(|b| b.state != "closed")
        .map(|b| b.id.as_str())
        .collect();
    println!(
        "breakers {} · not closed: {}",
        r.breakers.len(),
        if open.is_empty() {
            "none".into()
        } else {
            open.join(", ")
        }
    );
    println!(
        "instances {} · {} healthy · {} unhealthy",
        r.instances.total, r.instances.healthy, r.instances.unhealthy
    );
    for i in r.incidents.iter().filter(|i| i.open) {
        println!(
            "OPEN INCIDENT #{} {} (detected {})",
            i.id, i.title, i.detected_at
        );
    }
}

/// How `watch` prints.
#[derive(Clone, Copy, Debug)]
pub struct WatchOutput {
    /// JSON lines.
    pub json: bool,
    /// Every applied event, readings and heartbeats too (else what changes).
    pub all: bool,
}

/// `watch`: what changes (every applied event with `all`), one per line, until Ctrl+C,
/// `duration` seconds, or stdout closing; `record`: a session file of them too.
pub fn run_watch(
    c: &Common,
    config: Config,
    output: WatchOutput,
    duration: Option<f64>,
    record: Option<&Path>,
    rolling: Option<(Duration, Retention)>,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut opts = engine_options(c, config, record.map(Path::to_owned));
    roll(&mut opts, rolling);
    opts.subscribe_from_start = true;
    let mut engine = start_engine(&opts)?;
    let mut rx = engine
        .take_initial_subscription()
        .context("no event subscription")?;
    let deadline =
        duration.map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let drill = opts.config.environment.iter().any(|e| {
        e.source
            .iter()
            .any(|s| matches!(s, switchboard_core::SourceConfig::Drill(_)))
    });
    let result: anyhow::Result<()> = engine
        .block_on(async move {
            let stdout = std::io::stdout();
            loop {
                let next = async {
                    tokio::select! {
                        batch = rx.recv() => Some(batch),
                        _ = tokio::signal::ctrl_c() => None,
                    }
                };
                let batch = match deadline {
                    Some(d) => tokio::time::timeout_at(d, next).await.unwrap_or_default(),
                    None => next.await,
                };
                let Some(batch) = batch else { return Ok(()) };
                let batch = match batch {
                    Ok(b) => b,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("switchboard: output too slow, {n} batches of events skipped");
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                };
                let mut out = stdout.lock();
                for ev in batch.iter().filter(|e| output.all || !e.body.is_reading()) {
                    let line = if output.json {
                        switchboard_core::event_json_line(ev, drill)
                    } else {
                        format!(
                            "{} {} {} {}",
                            ev.at,
                            ev.source,
                            ev.body.kind_name(),
                            ev.body.subjects().join(" ")
                        )
                    };
                    if writeln!(out, "{line}").is_err() {
                        return Ok(()); // stdout closed (piped into head): stop quietly
                    }
                }
                out.flush().ok();
            }
        })
        .unwrap_or(Ok(()));
    if let Some(e) = engine.shutdown() {
        anyhow::bail!("{}", e.recording_stopped());
    }
    result
}

/// `record`: the engine with a recorder and nothing else, until Ctrl+C or the duration.
pub fn run_record(
    c: &Common,
    config: Config,
    out: &Path,
    duration: Option<&str>,
    rolling: Option<(Duration, Retention)>,
) -> anyhow::Result<()> {
    let limit = duration
        .map(|d| {
            switchboard_core::session::replay::parse_moment(
                &format!("+{d}"),
                switchboard_core::Timestamp(0),
            )
            .map(|t| Duration::from_millis(u64::try_from(t.0).unwrap_or(0)))
            .map_err(|_| anyhow::anyhow!("--for {d:?}: expected a duration like 90s, 30m or 12h"))
        })
        .transpose()?;
    let mut opts = engine_options(c, config, Some(out.to_owned()));
    roll(&mut opts, rolling);
    let engine = start_engine(&opts)?;
    eprintln!(
        "switchboard: recording {} to {}{}",
        engine.environment(),
        out.display(),
        limit.map_or_else(
            || " until Ctrl+C".to_owned(),
            |l| format!(" for {:.0} s", l.as_secs_f64())
        )
    );
    engine.block_on(async move {
        match limit {
            Some(l) => {
                tokio::select! {
                    () = tokio::time::sleep(l) => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            None => {
                tokio::signal::ctrl_c().await.ok();
            }
        }
    });
    let applied = engine.snapshot().events_applied;
    if let Some(e) = engine.shutdown() {
        anyhow::bail!("{}", e.recording_stopped());
    }
    eprintln!(
        "switchboard: {applied} events recorded to {}",
        out.display()
    );
    Ok(())
}
