//! Frame-time benchmark of the topology panel, headless (a bench binary;
//! `cargo bench -p switchboard --bench frame`).
//!
//! Builds the state of a 10,000-instance drill (inventory plus a minute of events), then
//! runs the topology panel for a 1440x900 frame in an `egui::Context` with no window and
//! no GPU, and times `run_ui` plus tessellation: everything the CPU does for a frame.
//! Two views: fitted to the whole fleet (level of detail: health bars per service), and
//! zoomed in on one region (individual instance squares).
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it makes a quick pass.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use switchboard::panels::{PanelCtx, TopologyView, topology_ui};
use switchboard_core::State;
use switchboard_core::sources::drill::simulate;

fn drill_state(instances: usize, secs: i64) -> State {
    let mut state = State::default();
    state.apply_all(&simulate(7, instances, secs));
    state
}

fn input(size: egui::Vec2, events: Vec<egui::Event>) -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, size)),
        events,
        ..Default::default()
    }
}

/// Times `frames` frames; returns (mean, p95, max).
fn time_frames(
    ctx: &egui::Context,
    state: &State,
    view: &mut TopologyView,
    frames: usize,
    zoom_in: bool,
) -> (Duration, Duration, Duration) {
    let size = egui::vec2(1440.0, 900.0);
    let commands = RefCell::new(Vec::new());
    let mut times = Vec::with_capacity(frames);
    for f in 0..frames {
        // Zoom in around the centre for the first frames of the zoomed run.
        let events = if zoom_in && f < 20 {
            vec![
                egui::Event::PointerMoved(egui::pos2(500.0, 400.0)),
                egui::Event::Zoom(1.25),
            ]
        } else {
            Vec::new()
        };
        let t = Instant::now();
        let mut out = ctx.run_ui(input(size, events), |ui| {
            let pctx = PanelCtx {
                state,
                now: state.now,
                selected: None,
                commands: &commands,
            };
            topology_ui(ui, &pctx, view);
        });
        let prims = ctx.tessellate(std::mem::take(&mut out.shapes), out.pixels_per_point);
        // A renderer would upload these; a headless frame just consumes them.
        out.textures_delta.clear();
        std::hint::black_box(prims);
        times.push(t.elapsed());
        commands.borrow_mut().clear();
    }
    // The first frames build the layout cache: leave them out.
    let mut steady: Vec<Duration> = times.iter().skip(times.len().min(25)).copied().collect();
    if steady.is_empty() {
        steady = times;
    }
    steady.sort();
    let mean = steady.iter().sum::<Duration>() / steady.len() as u32;
    let p95 = steady[(steady.len() * 95 / 100).min(steady.len() - 1)];
    (mean, p95, *steady.last().unwrap_or(&Duration::ZERO))
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let frames = if full { 300 } else { 30 };
    for instances in [300, 10_000] {
        let state = drill_state(instances, if full { 60 } else { 5 });
        for (label, zoom) in [("fitted", false), ("zoomed in", true)] {
            let ctx = egui::Context::default();
            let mut view = TopologyView::default();
            let (mean, p95, max) = time_frames(&ctx, &state, &mut view, frames, zoom);
            println!(
                "topology frame, {} instances, {label}: mean {:.2} ms, p95 {:.2} ms, max {:.2} ms",
                state.instances.len(),
                mean.as_secs_f64() * 1e3,
                p95.as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3
            );
        }
    }
}
