//! Soak of a wall display: the scripted drill (a fault cycle every 5 simulated minutes:
//! flapping, a connection-pool leak with an incident, a quorum loss, a Consul member
//! outage) runs at high speed under a wall console that draws a frame every 100 ms, as
//! a window would (the whole `Console::ui` plus tessellation, headless). The process's
//! resident memory and the sizes of everything the state keeps are sampled every
//! simulated hour; after a warm-up, nothing may grow.
//!
//! By default (the test suite) it soaks 6 simulated hours. For the number in the
//! README, the equivalent of 24 hours in release:
//!
//! ```text
//! SOAK_HOURS=24 cargo test -p switchboard --release --test soak -- --nocapture
//! ```
//!
//! The session recorder is off: its memory is bounded by the recorder's own queue and is
//! measured by the session bench; here the subject is the console that runs for days.

use std::time::{Duration, Instant};

use switchboard::{Console, ConsoleOptions};
use switchboard_core::sources::drill::DrillConfig;
use switchboard_core::{Config, EngineOptions, State};

/// Simulated seconds per second.
const SPEED: f64 = 1200.0;
/// Simulated hours before memory must be flat.
const WARM_UP_HOURS: f64 = 2.0;

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// What the state keeps: log entries, incidents, flips, points of every series.
fn kept(s: &State) -> (usize, usize, usize, usize) {
    let flips = s
        .breakers
        .values()
        .map(|b| b.flips.len() + b.history.len())
        .sum();
    let points = s
        .metrics
        .values()
        .flat_map(|m| m.values())
        .map(|m| m.history.len())
        .sum();
    (s.log.len(), s.incidents.incidents.len(), flips, points)
}

struct Sample {
    hour: f64,
    /// Incidents opened so far (the newest id: ids run in sequence).
    opened: u64,
    rss: u64,
    kept: (usize, usize, usize, usize),
    events: u64,
}

#[test]
fn a_wall_on_the_drill_keeps_its_memory_flat() {
    let hours: f64 = std::env::var("SOAK_HOURS")
        .ok()
        .and_then(|h| h.parse().ok())
        .unwrap_or(6.0);
    let mut opts = EngineOptions::new(Config::drill(DrillConfig {
        scripted: true,
        speed: SPEED,
        seed: 7,
        ..DrillConfig::default()
    }));
    opts.read_only = true;
    let engine = switchboard_core::start(&opts).expect("engine");
    // The clock starts with the drill's first report.
    engine.wait_for(Duration::from_secs(10), |s| !s.instances.is_empty());
    let mut console = Console::new(
        engine,
        ConsoleOptions {
            wall: true,
            layout: Some("wall".into()),
            ..ConsoleOptions::default()
        },
    );
    let ctx = egui::Context::default();
    let start = Instant::now();
    let sim_start = console.engine().snapshot().now;
    let mut samples: Vec<Sample> = Vec::new();
    let mut frames = 0u64;
    let mut slowest = Duration::ZERO;
    loop {
        let t = Instant::now();
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1440.0, 900.0),
            )),
            time: Some(start.elapsed().as_secs_f64()),
            ..Default::default()
        };
        let mut out = ctx.run_ui(input, |ui| console.ui(ui));
        let _ = ctx.tessellate(std::mem::take(&mut out.shapes), out.pixels_per_point);
        // No GPU to upload the font atlas to.
        out.textures_delta.clear();
        slowest = slowest.max(t.elapsed());
        frames += 1;
        let state = console.engine().snapshot();
        let hour = state.now.millis_since(sim_start) as f64 / 3_600_000.0;
        if samples.last().is_none_or(|s| hour >= s.hour + 1.0) || hour >= hours {
            samples.push(Sample {
                hour,
                opened: state.incidents.incidents.last().map_or(0, |i| i.id),
                rss: rss(),
                kept: kept(&state),
                events: state.events_applied,
            });
        }
        if hour >= hours {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let secs = start.elapsed().as_secs_f64();
    println!("hour   rss MB   log  incidents  flips+history  series points   events");
    for s in &samples {
        println!(
            "{:5.1} {:8.1} {:5} {:10} {:14} {:14} {:8}",
            s.hour,
            s.rss as f64 / 1e6,
            s.kept.0,
            s.kept.1,
            s.kept.2,
            s.kept.3,
            s.events
        );
    }
    let warm = samples
        .iter()
        .find(|s| s.hour >= WARM_UP_HOURS)
        .expect("a sample after the warm-up");
    let last = samples.last().expect("samples");
    let growth = last.rss as f64 - warm.rss as f64;
    let after = last.hour - warm.hour;
    println!(
        "soak: {:.1} simulated hours in {secs:.0} s ({frames} frames, slowest {:.0} ms); \
         after {WARM_UP_HOURS} h of warm-up RSS {:.1} MB -> {:.1} MB ({:+.1} MB over {after:.1} h); \
         incidents kept {} -> {}",
        last.hour,
        slowest.as_secs_f64() * 1000.0,
        warm.rss as f64 / 1e6,
        last.rss as f64 / 1e6,
        growth / 1e6,
        warm.kept.1,
        last.kept.1,
    );
    // Nothing the state keeps grows past its bound.
    assert!(last.kept.0 <= 2000, "the log is a ring");
    // Every incident opened is kept up to the bound, and no more than the bound.
    let opened = last.opened;
    assert!(opened > 0, "the scripted drill opened incidents");
    assert_eq!(
        last.kept.1,
        usize::try_from(opened)
            .unwrap_or(usize::MAX)
            .min(switchboard_core::INCIDENTS_KEPT),
        "{opened} incidents opened"
    );
    assert!(
        last.kept.2 <= warm.kept.2 * 2 + 100 && last.kept.3 <= warm.kept.3 * 2 + 100,
        "breaker and series history are bounded: {:?} -> {:?}",
        warm.kept,
        last.kept
    );
    // Resident memory is flat after the warm-up (allocator noise aside): under 1 MB
    // of growth per simulated hour.
    assert!(
        growth < after * 1e6,
        "RSS grew {:.1} MB in {after:.1} simulated hours after the warm-up",
        growth / 1e6
    );
}
