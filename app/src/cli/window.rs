//! The window: the console live (operator, wall, a rotating wall) or on a recorded
//! session (`replay FILE`), and the eframe app around it (`--exit-after`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use switchboard::{Console, ConsoleOptions};
use switchboard_core::session::retention::{self, Retention};
use switchboard_core::workflow::desk::Desk;
use switchboard_core::{Clock as _, Config, EngineOptions, Environment, SystemClock};

use super::args::{Cli, Common, WindowArgs};
use super::setup::{data_dir, engine_options, start_engine};

/// When the process started, for the first frame's time.
pub static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// A new session file under `dir`, named by the moment it starts.
fn new_session_path(dir: &Path) -> PathBuf {
    let stamp = SystemClock.now().file_stamp();
    dir.join("sessions").join(format!("session-{stamp}.sqlite"))
}

/// `switchboard` (no subcommand): the window on the live engine, as an operator's
/// console or a wall (`--wall`, `--rotate`).
pub fn run_gui(cli: &Cli, config: Config) -> anyhow::Result<()> {
    let data = data_dir(&cli.common);
    let record = if cli.no_record {
        None
    } else {
        data.as_deref().map(new_session_path)
    };
    let desk_env = config
        .environment
        .iter()
        .find(|e| cli.common.environment.as_ref().is_none_or(|n| &e.name == n))
        .cloned();
    let objectives = desk_env
        .as_ref()
        .map(|e| e.objectives.clone())
        .unwrap_or_default();
    let look = desk_env
        .as_ref()
        .map(|e| e.look.clone())
        .unwrap_or_default();
    // A wall polls at most once a second (or a third of the staleness limit, if that
    // is shorter): its freshness cue shows the age, and a row of walls must not
    // multiply the load on a production control plane.
    let config = if cli.wall {
        let mut config = config;
        for env in &mut config.environment {
            // A third of the staleness limit at most, so no poll gap looks like silence.
            let min = Duration::from_millis(1000.min(env.stale_after_millis / 3));
            for s in &mut env.source {
                s.poll_at_most_every(min);
            }
        }
        config
    } else {
        config
    };
    // A rotating wall watches every environment, each with its own engine.
    let rotation = match cli.rotate {
        Some(secs) => Some(rotation_of(cli, &config, secs)?),
        None => None,
    };
    let mut opts = engine_options(&cli.common, config, record);
    opts.segment_every = Some(Duration::from_secs_f64(cli.segment_minutes.max(0.1) * 60.0));
    // Older sessions go when the recorder starts and at every new segment; with no
    // recording, once now.
    let retention = Retention::new(cli.keep_hours, cli.keep_mb);
    opts.retention = Some(retention);
    if opts.record_to.is_none()
        && let Some(dir) = &data
    {
        retention::prune_in_background(dir.join("sessions"), retention, None);
    }
    // A wall refuses every intent in core, not only in the window.
    opts.read_only = cli.wall;
    let engine = start_engine(&opts)?;
    let drill = matches!(engine.environment(), "drill");
    // A wall keeps no notes and runs no workflows.
    let data_for_store = data.clone().filter(|_| !cli.wall);
    // Workflows run from the window through a desk on the same environment and journal
    // as the CLI's; without a data directory there is no journal, so no workflows. On a
    // relay they are planned, run and journaled by the relay, under the person's name.
    let desk = match (desk_env.filter(|_| !cli.wall), &data, engine.relay_door()) {
        _ if cli.wall => None,
        (env, _, Some(door)) => Some(Desk::relayed(
            env.unwrap_or_else(|| Environment::new(engine.environment(), Vec::new())),
            door,
        )),
        (Some(env), Some(dir), None) => Some(Desk::new(
            env,
            dir.join("journal.sqlite"),
            engine.read_only().is_some(),
            switchboard_core::operator_name(),
            engine.drill(),
        )),
        _ => None,
    }
    .and_then(|d| d.map_err(|e| tracing::warn!("workflows are off: {e}")).ok());
    let opts = ConsoleOptions {
        // The wall's layout is the preset, not the operator's saved one.
        layout_file: data
            .as_ref()
            .filter(|_| !cli.wall)
            .map(|d| d.join("layout.json")),
        layout: match &rotation {
            Some(r) => Some(r.first_layout().to_owned()),
            None => cli
                .window
                .layout
                .clone()
                .or_else(|| cli.wall.then(|| "wall".to_owned())),
        },
        fixed_now: None,
        data_dir: data,
        wall: cli.wall,
        look,
        theme: theme_of(&cli.window),
    };
    let title = if drill {
        "Switchboard · DRILL".to_owned()
    } else {
        format!("Switchboard · {}", engine.environment())
    };
    open_window(&cli.window, cli.wall, &title, move |egui_ctx| {
        let ctx = egui_ctx.clone();
        engine.set_waker(move || ctx.request_repaint());
        let mut console = Console::new(engine, opts);
        if let Some(dir) = &data_for_store {
            console = console.with_incident_store(
                dir.join("notes.sqlite"),
                Some(dir.join("journal.sqlite")),
                objectives,
            );
        }
        if let Some(desk) = desk {
            // with_desk sets the desk's waker itself (a repaint, and the take-over's bell).
            console = console.with_desk(desk);
        }
        if let Some(r) = rotation {
            for e in r.engines() {
                let ctx = egui_ctx.clone();
                e.set_waker(move || ctx.request_repaint());
            }
            console = console.with_rotation(r);
        }
        console
    })
}

/// What `--rotate` asks for: the layouts (read once, here: a bad name stops the start),
/// and the other environments' engines (started read-only, not recorded).
fn rotation_of(
    cli: &Cli,
    config: &Config,
    secs: f64,
) -> anyhow::Result<switchboard::rotation::Rotation> {
    anyhow::ensure!(
        secs.is_finite() && secs >= 2.0,
        "--rotate {secs}: a page must stay at least 2 s"
    );
    let layouts: Vec<String> = cli
        .window
        .layout
        .as_deref()
        .unwrap_or("wall,database")
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let mut engines = Vec::new();
    if cli.common.environment.is_none() {
        for env in config.environment.iter().skip(1) {
            let mut opts = EngineOptions::new(config.clone());
            opts.environment = Some(env.name.clone());
            opts.read_only = true;
            engines.push((start_engine(&opts)?, env.look.clone()));
        }
    }
    let mut rotation =
        switchboard::rotation::Rotation::new(engines, layouts, Duration::from_secs_f64(secs));
    let mine = data_dir(&cli.common).map(|d| switchboard::layout::user_dir(&d));
    rotation
        .resolve(mine.as_deref())
        .map_err(|e| anyhow::anyhow!("--layout: {e}"))?;
    Ok(rotation)
}

/// The theme `--theme` asks for; `None`: the one last chosen in the window.
fn theme_of(window: &WindowArgs) -> Option<egui::Theme> {
    match window.theme.as_deref() {
        Some("light") => Some(egui::Theme::Light),
        Some(_) => Some(egui::Theme::Dark),
        None => None,
    }
}

/// Opens the window titled `title` on the console `build` makes (given the window's
/// context, to wake it), until it is closed or `--exit-after` passes; `fullscreen` for a
/// wall.
fn open_window(
    window: &WindowArgs,
    fullscreen: bool,
    title: &str,
    build: impl FnOnce(&egui::Context) -> Console + 'static,
) -> anyhow::Result<()> {
    let renderer = window.renderer.as_deref().unwrap_or("glow");
    anyhow::ensure!(
        renderer == "glow",
        "unknown renderer {renderer:?}: this build has glow"
    );
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_fullscreen(fullscreen)
            .with_title(title)
            .with_app_id("switchboard")
            .with_inner_size([1440.0, 900.0])
            .with_min_inner_size([800.0, 500.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    let exit_at = window
        .exit_after
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    eframe::run_native(
        title,
        native,
        Box::new(move |cc| {
            let console = build(&cc.egui_ctx);
            Ok(Box::new(Window {
                console,
                exit_at,
                first_frame_logged: false,
            }))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// `switchboard replay FILE`: the window on a recorded session, read-only.
pub fn run_replay_gui(common: &Common, window: &WindowArgs, file: &Path) -> anyhow::Result<()> {
    // A session recorded here: this machine's notes and workflow runs of its span are
    // marks on the scrubber (a saved session carries its own).
    let reader = switchboard_core::session::SessionReader::open(file)?;
    let local = match (
        reader.attachment("notes")?,
        reader.span()?,
        data_dir(common),
    ) {
        (None, Some((from, to, _)), Some(dir)) => {
            let (_, notes, journal) = switchboard::session_files::gather(&dir, from, to);
            Some((notes, journal))
        }
        _ => None,
    };
    drop(reader);
    let (engine, player) = switchboard_core::player::open(file, local)?;
    let opts = ConsoleOptions {
        // A replay has its own layout; the operator's saved one stays as it was.
        layout_file: None,
        layout: window.layout.clone().or_else(|| Some("replay".to_owned())),
        fixed_now: None,
        data_dir: data_dir(common),
        wall: false,
        look: switchboard_core::Look::default(),
        theme: theme_of(window),
    };
    let title = format!("Switchboard · REPLAY · {}", file.display());
    open_window(window, false, &title, move |egui_ctx| {
        let ctx = egui_ctx.clone();
        engine.set_waker(move || ctx.request_repaint());
        Console::new(engine, opts).with_player(player)
    })
}

/// The eframe app: the console plus the `--exit-after` timer.
struct Window {
    console: Console,
    exit_at: Option<Instant>,
    first_frame_logged: bool,
}

impl eframe::App for Window {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.console.ui(ui);
        if !self.first_frame_logged {
            self.first_frame_logged = true;
            if let Some(t) = STARTED.get() {
                tracing::info!(
                    "first frame {:.0} ms after start",
                    t.elapsed().as_secs_f64() * 1000.0
                );
            }
        }
        if let Some(at) = self.exit_at {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
            } else {
                ui.ctx().request_repaint_after(left);
            }
        }
    }
}
