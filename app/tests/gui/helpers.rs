//! What the GUI tests share: engines on the drill, consoles on them, the harness at a
//! fixed size, and waiting for text or for the console's background jobs.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use switchboard::{Console, ConsoleOptions};
use switchboard_core::sources::drill::DrillConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig, State};

pub(crate) fn fully_polled(s: &State) -> bool {
    !s.clusters.is_empty()
        && s.clusters
            .values()
            .all(|c| c.membership_known && c.members.values().all(|m| m.polled))
}

pub(crate) fn console(config: Config) -> Console {
    let engine = switchboard_core::start(&EngineOptions::new(config)).expect("engine starts");
    engine.wait_for(Duration::from_secs(10), fully_polled);
    Console::new(engine, ConsoleOptions::default())
}

pub(crate) fn drill(scripted: bool, speed: f64) -> Config {
    Config::drill(DrillConfig {
        scripted,
        speed,
        seed: 7,
        ..DrillConfig::default()
    })
}

pub(crate) fn harness(console: Console) -> Harness<'static, Console> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1440.0, 900.0))
        .build_ui_state(|ui, c: &mut Console| c.ui(ui), console);
    h.run_steps(3);
    h
}

/// A drill that steps once a minute, in an environment whose sources turn stale after
/// 2 s: after its inventory it falls silent.
pub(crate) fn silent_drill() -> Config {
    Config {
        environment: vec![Environment {
            // Long enough for a loaded machine's first frames to see the tiles live
            // before they turn stale (the wall test watches that turn).
            stale_after_millis: 2000,
            ..Environment::new("t", vec![SourceConfig::Drill(DrillConfig::silent())])
        }],
    }
}

/// A read-only engine on `cfg`, as `--wall` starts it; `polled`: wait until every
/// cluster has been polled.
pub(crate) fn wall_engine(cfg: Config, polled: bool) -> switchboard_core::EngineHandle {
    let mut opts = EngineOptions::new(cfg);
    opts.read_only = true;
    let engine = switchboard_core::start(&opts).expect("engine");
    if polled {
        engine.wait_for(Duration::from_secs(10), fully_polled);
    }
    engine
}

/// A wall console (the wall layout) on `engine`.
pub(crate) fn wall_console(engine: switchboard_core::EngineHandle) -> Console {
    Console::new(
        engine,
        ConsoleOptions {
            wall: true,
            layout: Some("wall".into()),
            ..ConsoleOptions::default()
        },
    )
}

/// Steps the harness until every background job of the console has answered (10 s at
/// most): saves and loads of layouts and the theme are jobs, off the UI thread.
pub(crate) fn settle(h: &mut Harness<'_, Console>) {
    let start = Instant::now();
    while h.state().jobs_pending() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "a job never answered"
        );
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(1);
}

pub(crate) fn has(h: &Harness<'_, Console>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// Steps the harness until `text` is on screen or `timeout` passes; returns the longest frame.
pub(crate) fn wait_for(h: &mut Harness<'_, Console>, text: &str, timeout: Duration) -> Duration {
    let start = Instant::now();
    let mut longest = Duration::ZERO;
    loop {
        let t = Instant::now();
        h.run_steps(1);
        longest = longest.max(t.elapsed());
        if has(h, text) {
            return longest;
        }
        assert!(
            start.elapsed() < timeout,
            "{text:?} did not appear within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
}
