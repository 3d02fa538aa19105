//! Frame-time benchmark of the topology panel, headless (a bench binary;
//! `cargo bench -p switchboard --bench frame`).
//!
//! Builds the state of a drill fleet (inventory plus a minute of events), then runs the
//! topology panel for a 1440x900 frame in an `egui::Context` with no window and no GPU,
//! and times `run_ui` plus tessellation: everything the CPU does for a frame. Two views:
//! fitted to the whole fleet (at 10,000 instances that is the level of detail with one
//! health bar per service), and at 1:1 around the centre (every visible instance drawn
//! as its own glyph).
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

/// Times `frames` frames; returns (mean, p95, max) of the steady frames and the shapes painted.
fn time_frames(
    state: &State,
    mut view: TopologyView,
    frames: usize,
) -> (Duration, Duration, Duration, usize) {
    let ctx = egui::Context::default();
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1440.0, 900.0),
        )),
        ..Default::default()
    };
    let commands = RefCell::new(Vec::new());
    let mut times = Vec::with_capacity(frames);
    let mut shapes = 0;
    for _ in 0..frames {
        let t = Instant::now();
        let mut out = ctx.run_ui(input(), |ui| {
            let pctx = PanelCtx {
                state,
                now: state.now,
                selected: None,
                commands: &commands,
                offers: &[],
                read_only: false,
                wall: false,
            };
            topology_ui(ui, &pctx, &mut view);
        });
        shapes = out.shapes.len();
        let prims = ctx.tessellate(std::mem::take(&mut out.shapes), out.pixels_per_point);
        // A renderer would upload these; a headless frame just consumes them.
        out.textures_delta.clear();
        std::hint::black_box(prims);
        times.push(t.elapsed());
        commands.borrow_mut().clear();
    }
    // The first frames build the layout cache and fonts: leave them out.
    let mut steady: Vec<Duration> = times.iter().skip(times.len().min(10)).copied().collect();
    if steady.is_empty() {
        steady = times;
    }
    steady.sort();
    let mean = steady.iter().sum::<Duration>() / steady.len() as u32;
    let p95 = steady[(steady.len() * 95 / 100).min(steady.len() - 1)];
    (
        mean,
        p95,
        steady.last().copied().unwrap_or_default(),
        shapes,
    )
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let frames = if full { 300 } else { 20 };
    for instances in [300, 10_000] {
        let state = drill_state(instances, if full { 60 } else { 5 });
        for (label, zoom) in [
            ("fitted", None),
            ("at 1:1, every visible instance drawn", Some(1.0)),
        ] {
            let view = zoom.map_or_else(TopologyView::default, TopologyView::at_zoom);
            let (mean, p95, max, shapes) = time_frames(&state, view, frames);
            println!(
                "topology frame, {} instances, {label}: mean {:.2} ms, p95 {:.2} ms, max {:.2} ms ({shapes} shapes)",
                state.instances.len(),
                mean.as_secs_f64() * 1e3,
                p95.as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3
            );
        }
    }
}
