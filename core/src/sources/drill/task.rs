//! The drill as a task on the engine clock, and a headless whole run.

use std::time::Duration;

use tokio::sync::mpsc;

use super::{DrillCommand, DrillConfig, DrillFleet};
use crate::model::SourceStatus;
use crate::sources::Emitter;
use crate::time::Timestamp;

/// A whole drill run, headless: the inventory at time 0, then one step per simulated
/// second for `secs` seconds, as events from a source named `drill`. Deterministic for a
/// given seed and size; used by tests, benchmarks and recordings made without a clock.
pub fn simulate(seed: u64, instances: usize, secs: i64) -> Vec<crate::event::Event> {
    use crate::event::Event;
    let mut fleet = DrillFleet::new(seed, instances, true);
    let src = crate::model::SourceId::new("drill");
    let mut events: Vec<Event> = fleet
        .inventory()
        .into_iter()
        .map(|b| Event::new(Timestamp(0), src.clone(), b))
        .collect();
    for s in 1..=secs {
        let at = Timestamp(s * 1000);
        events.extend(
            fleet
                .step(at)
                .into_iter()
                .map(|b| Event::new(at, src.clone(), b)),
        );
    }
    events
}

/// Starts the drill on `runtime`; the engine keeps its command channel.
pub(crate) fn start(
    cfg: DrillConfig,
    emitter: Emitter,
    runtime: &tokio::runtime::Handle,
) -> crate::sources::Started {
    let (tx, rx) = mpsc::channel::<DrillCommand>(16);
    runtime.spawn(run(cfg, emitter, rx));
    crate::sources::Started { drill: Some(tx) }
}

/// Runs the drill: sends the inventory, then steps the fleet every tick on the
/// engine's clock (scaled by `speed`), and starts faults sent over `control`.
pub async fn run(cfg: DrillConfig, emitter: Emitter, mut control: mpsc::Receiver<DrillCommand>) {
    let mut fleet = DrillFleet::new(cfg.seed, cfg.instances, cfg.scripted);
    let wall_start = emitter.now();
    let speed = if cfg.speed.is_finite() && cfg.speed > 0.0 {
        cfg.speed
    } else {
        1.0
    };
    let sim_now = |wall: Timestamp| {
        wall_start.plus_millis((wall.millis_since(wall_start) as f64 * speed) as i64)
    };
    let detail = format!(
        "simulated fleet: {} services, {} instances, seed {}",
        fleet.service_count(),
        fleet.instance_count(),
        cfg.seed
    );
    // The inventory first, then "up": whoever waits for every source to have reported
    // (`status --wait`) then sees the whole fleet, not an empty one.
    let t0 = sim_now(emitter.now());
    for body in fleet.inventory() {
        if !emitter.emit_at(t0, body).await {
            return;
        }
    }
    if !emitter.status(SourceStatus::Up, Some(detail)).await {
        return;
    }
    let tick = Duration::from_millis(((cfg.tick_millis.max(10) as f64) / speed).max(1.0) as u64);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let bodies = tokio::select! {
            _ = interval.tick() => fleet.step(sim_now(emitter.now())),
            cmd = control.recv() => match cmd {
                Some(DrillCommand::Inject(f)) => vec![fleet.inject(f, sim_now(emitter.now()))],
                Some(DrillCommand::Act(action, reply)) => {
                    let done = fleet.act(&action);
                    let ok = done.is_ok();
                    let _ = reply.send(done);
                    if ok {
                        fleet.step(sim_now(emitter.now()))
                    } else {
                        Vec::new()
                    }
                }
                Some(DrillCommand::View(reply)) => {
                    let _ = reply.send(fleet.view());
                    Vec::new()
                }
                // The engine is gone: nothing more to do.
                None => return,
            },
        };
        let at = sim_now(emitter.now());
        for body in bodies {
            if !emitter.emit_at(at, body).await {
                return;
            }
        }
    }
}
