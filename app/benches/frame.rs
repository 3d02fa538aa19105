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
//! The Backends panel (every instance behind a route, in one scrolling table) and the
//! Find box (a query matching many names) are timed the same way, and at 100,000
//! instances (`--bench` only) the state's build and size are printed too.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it makes a quick pass.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use switchboard::panels::{
    BackendsView, FindView, PanelCtx, TopologyView, backends_ui, find_ui, topology_ui,
};
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
    frames: usize,
    mut panel: impl FnMut(&mut egui::Ui, &PanelCtx<'_>),
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
            panel(ui, &pctx);
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

fn print(what: &str, n: usize, (mean, p95, max, shapes): (Duration, Duration, Duration, usize)) {
    println!(
        "{what}, {n} instances: mean {:.2} ms, p95 {:.2} ms, max {:.2} ms ({shapes} shapes)",
        mean.as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let frames = if full { 300 } else { 20 };
    let sizes: &[usize] = if full {
        &[300, 10_000, 100_000]
    } else {
        &[300, 10_000]
    };
    for &instances in sizes {
        let built = Instant::now();
        let state = drill_state(instances, if full { 60 } else { 5 });
        let n = state.instances.len();
        if instances >= 100_000 {
            println!(
                "state of {n} instances built from the drill's events in {:.0} ms",
                built.elapsed().as_secs_f64() * 1e3
            );
        }
        for (label, zoom) in [
            ("fitted", None),
            ("at 1:1, every visible instance drawn", Some(1.0)),
        ] {
            let mut view = zoom.map_or_else(TopologyView::default, TopologyView::at_zoom);
            let t = time_frames(&state, frames, |ui, pctx| topology_ui(ui, pctx, &mut view));
            print(&format!("topology frame, {label}"), n, t);
        }
        let mut backends = BackendsView::default();
        let t = time_frames(&state, frames, |ui, pctx| {
            backends_ui(ui, pctx, &mut backends);
        });
        print("backends panel", n, t);
        let mut find = FindView::searching("1");
        let t = time_frames(&state, frames, |ui, pctx| {
            find_ui(ui.ctx(), ui.max_rect(), pctx, &mut find);
        });
        print("find box, a query matching most names", n, t);
        // Typing: each frame a new query, so each frame makes the pass over every name.
        let mut typed = 0usize;
        let t = time_frames(&state, frames, |ui, pctx| {
            typed += 1;
            let mut find = FindView::searching(if typed.is_multiple_of(2) { "1" } else { "12" });
            find_ui(ui.ctx(), ui.max_rect(), pctx, &mut find);
        });
        print("find box, the query changed at every frame (typing)", n, t);
    }
}
