//! A wall on a real HAProxy (the rig's, started by `tests/rig/rig.sh`): the gateway is
//! killed and the wall, untouched, says so on the tiles it feeds and in a banner; the
//! gateway is started again and the wall comes back to live by itself.
//!
//! Runs when `SWITCHBOARD_RIG` names `haproxy` (as `tests/check.sh` sets after starting
//! the rig). Leaves HAProxy running.

#[path = "../../core/tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use common::{rig, rig_has};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use switchboard::{Console, ConsoleOptions};
use switchboard_core::sources::haproxy::HaproxyConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig};

fn has(h: &Harness<'_, Console>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// Steps until `pred` holds (or panics after `timeout`); returns how long it took.
fn until(
    h: &mut Harness<'_, Console>,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&Harness<'_, Console>) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        h.run_steps(1);
        if pred(h) {
            return start.elapsed();
        }
        assert!(start.elapsed() < timeout, "{what} not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_wall_survives_its_gateway_dying_and_coming_back() {
    if !rig_has("haproxy") {
        eprintln!(
            "skipped: the real HAProxy rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG to the components that are up)"
        );
        return;
    }
    let mut source = SourceConfig::Haproxy(HaproxyConfig {
        name: "edge-lb".into(),
        socket: Some("tcp://127.0.0.1:9999".into()),
        stats_url: None,
        interval_millis: 100,
        timeout_millis: 1000,
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    });
    // As `switchboard --wall` does.
    source.poll_at_most_every(Duration::from_secs(1));
    assert!(matches!(&source, SourceConfig::Haproxy(c) if c.interval_millis == 1000));
    let cfg = Config {
        environment: vec![Environment::new("rig", vec![source])],
    };
    let mut opts = EngineOptions::new(cfg);
    opts.read_only = true;
    let engine = switchboard_core::start(&opts).expect("engine");
    let console = Console::new(
        engine,
        ConsoleOptions {
            wall: true,
            layout: Some("wall".into()),
            ..ConsoleOptions::default()
        },
    );
    let mut h = Harness::builder()
        .with_size(egui::vec2(1440.0, 900.0))
        .build_ui_state(|ui, c: &mut Console| c.ui(ui), console);
    until(
        &mut h,
        "the topology tile live",
        Duration::from_secs(15),
        |h| has(h, "live · ") && !has(h, "Topology · "),
    );

    rig(&["kill", "haproxy"]);
    let down = until(
        &mut h,
        "the tile marked down",
        Duration::from_secs(15),
        |h| has(h, "Topology · down"),
    );
    assert!(
        has(&h, "SOURCE DOWN"),
        "a banner says the gateway's source is down"
    );
    assert!(has(&h, "edge-lb down"), "the banner names it");

    rig(&["restart", "haproxy"]);
    let back = until(
        &mut h,
        "the tile live again",
        Duration::from_secs(15),
        |h| !has(h, "Topology · ") && !has(h, "SOURCE DOWN"),
    );
    assert!(has(&h, "live · "), "live again, with its age");
    eprintln!(
        "wall on the rig: HAProxy killed -> tile down in {:.0} ms; restarted -> live in {:.0} ms",
        down.as_secs_f64() * 1000.0,
        back.as_secs_f64() * 1000.0
    );
}
