//! `switchboard`: the console window, and the CLI on the same core.
//!
//! - `switchboard` opens the window (the drill when nothing is configured).
//! - `switchboard status [--json] [--wait SECS]` prints one snapshot once every source
//!   has reported, or when the wait runs out.
//! - `switchboard watch [--json] [--for SECS]` prints every applied event, one per line.
//!
//! - `switchboard workflow list|plan|run`: guarded workflows (plan with every guard,
//!   typed confirmation, journal, verification), the same as in the window.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 bad configuration or usage, 3 a guard
//! (or the confirmation) refused.

mod notes_cli;
mod session_cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use switchboard::{Console, ConsoleOptions};
use switchboard_core::session::retention::{self, Retention};
use switchboard_core::sources::drill::DrillConfig;
use switchboard_core::{
    Clock as _, Config, EngineHandle, EngineOptions, State, StatusReport, SystemClock,
};

#[derive(Parser, Debug)]
#[command(
    name = "switchboard",
    version,
    about = "An incident console for on-call engineers."
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// Layout to start with: a preset (oncall, wall, triage, replay, database) or one
    /// you saved under a name (Layout → Save as).
    #[arg(long, global = true)]
    layout: Option<String>,
    /// Renderer of the window (glow).
    #[arg(long, default_value = "glow", global = true)]
    renderer: String,
    /// Close the window after this many seconds (for screenshots and smoke tests).
    #[arg(long, global = true)]
    exit_after: Option<f64>,
    /// A wall display: full screen, read-only (enforced in core), large type, banners
    /// of what is wrong; the wall layout unless --layout says otherwise.
    #[arg(long)]
    wall: bool,
    /// On a wall: show the next page every this many seconds. The pages are each
    /// environment of the configuration (or the one --environment names) in each layout
    /// of --layout, comma-separated (default: wall,database). Space pauses, the right
    /// arrow turns the page.
    #[arg(long, value_name = "SECS", requires = "wall")]
    rotate: Option<f64>,
    /// Colour theme of the window: dark or light (default: the last chosen in the
    /// window, else dark).
    #[arg(long, global = true, value_parser = ["dark", "light"])]
    theme: Option<String>,
    /// Do not record a session file.
    #[arg(long, global = true)]
    no_record: bool,
    /// The flight recorder keeps the sessions of the last this many hours...
    #[arg(long, value_name = "HOURS", default_value_t = 72.0)]
    keep_hours: f64,
    /// ...and at most this many megabytes of them (the oldest go first).
    #[arg(long, value_name = "MB", default_value_t = 2048)]
    keep_mb: u64,
    /// The flight recorder starts a new segment (a file of its own, starting from the
    /// console's state) this often, so the oldest can go while the window runs.
    #[arg(long, value_name = "MINUTES", default_value_t = 60.0)]
    segment_minutes: f64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Configuration file (default: the platform config dir's config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Open the drill (simulated fleet) whatever is configured.
    #[arg(long, global = true)]
    drill: bool,
    /// Instances in the drill fleet.
    #[arg(long, global = true, value_name = "N", default_value_t = 300)]
    drill_size: usize,
    /// Seed of the drill.
    #[arg(long, global = true, value_name = "N", default_value_t = 7)]
    drill_seed: u64,
    /// Speed of the drill (simulated seconds per second).
    #[arg(long, global = true, value_name = "X", default_value_t = 1.0)]
    drill_speed: f64,
    /// Environment of the configuration to watch (default: the first).
    #[arg(long, global = true)]
    environment: Option<String>,
    /// Where sessions and layouts are kept (default: the platform data dir, or $`SWITCHBOARD_DATA_DIR`).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print one snapshot once every source has reported.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Wait at most this long for every source to report.
        #[arg(long, value_name = "SECS", default_value_t = 10.0)]
        wait: f64,
    },
    /// Guarded workflows: list them, plan one (a preview with every guard), run one.
    Workflow {
        #[command(subcommand)]
        action: WorkflowCmd,
    },
    /// Notes kept during incidents (the incident store).
    Notes {
        /// Print where the notes database is, and stop.
        #[arg(long = "where")]
        where_is: bool,
        #[command(subcommand)]
        action: Option<notes_cli::NotesCmd>,
    },
    /// Incidents in the incident store: list, open by hand, mitigate, resolve.
    Incident {
        #[command(subcommand)]
        action: notes_cli::IncidentCmd,
    },
    /// Session files: what one holds.
    Session {
        #[command(subcommand)]
        action: session_cli::SessionCmd,
    },
    /// Replay a session file: in the window (read-only, labelled REPLAY), or headless
    /// with --at or --export.
    Replay {
        /// The session file.
        file: PathBuf,
        /// Print the status as it was at this moment (RFC 3339, or an offset from the
        /// first event like +90s, +2m).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// With --at: print JSON (the schema of `status --json`).
        #[arg(long, requires = "at")]
        json: bool,
        /// Write every event as a JSON line to this file.
        #[arg(long, value_name = "FILE", conflicts_with = "at")]
        export: Option<PathBuf>,
    },
    /// Record a session headless (an unattended box), until Ctrl+C or --for.
    Record {
        /// The session file to create.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Stop after this long (90s, 30m, 12h; default: until interrupted).
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
    },
    /// Print every applied event, one per line.
    Watch {
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
        /// Stop after this many seconds (default: until interrupted).
        #[arg(long = "for", value_name = "SECS")]
        duration: Option<f64>,
        /// Also record a session file here.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum WorkflowCmd {
    /// The workflows and the journal's latest runs.
    List,
    /// What a run would do, with every guard's verdict; changes nothing.
    Plan {
        /// Workflow (drain, maint, ready, switchover).
        kind: String,
        /// Target (`gateway/backend/server`; for a switchover `patroni-source/candidate`).
        #[arg(long)]
        target: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take over an interrupted run (its console died): plan it again and run it.
    Resume {
        /// The run's number (`workflow list`).
        run: i64,
        /// The target's name, typed.
        #[arg(long)]
        confirm: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Undo an interrupted run: plan the inverse (back to the state it found) and run it.
    Rollback {
        /// The run's number (`workflow list`).
        run: i64,
        /// The target's name, typed.
        #[arg(long)]
        confirm: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Plan, then run after the typed confirmation (the target's `backend/server`).
    Run {
        /// Workflow (drain, maint, ready, switchover).
        kind: String,
        /// Target (`gateway/backend/server`; for a switchover `patroni-source/candidate`).
        #[arg(long)]
        target: String,
        /// The target's name, typed: `backend/server` (a switchover: the candidate).
        #[arg(long)]
        confirm: String,
        /// Go past a refusing guard a human may decide (dampening, last healthy,
        /// replication lag); needs `--reason`, and is journaled with the run.
        #[arg(long = "override", value_name = "GUARD", requires = "reason")]
        overrides: Vec<String>,
        /// Why the overridden guards do not apply (journaled).
        #[arg(long)]
        reason: Option<String>,
        /// The second person approving the run (environments with `second_approver`).
        #[arg(long, value_name = "NAME")]
        approver: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// When the process started, for the first frame's time.
static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn main() -> ExitCode {
    STARTED.get_or_init(Instant::now);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = match resolve_config(&cli.common) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        None => run_gui(&cli, config),
        Some(Command::Status { json, wait }) => run_status(&cli.common, config, *json, *wait),
        Some(Command::Session { action }) => {
            return match session_cli::info(action) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("switchboard: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Some(Command::Replay {
            file,
            at,
            json,
            export,
        }) => {
            let headless = match (at, export) {
                (Some(t), _) => Some(session_cli::at(file, t, *json)),
                (None, Some(out)) => Some(session_cli::export(file, out)),
                (None, None) => None,
            };
            match headless {
                Some(Ok(())) => return ExitCode::SUCCESS,
                Some(Err(e)) => {
                    eprintln!("switchboard: {e}");
                    return ExitCode::from(1);
                }
                None => run_replay_gui(&cli, file),
            }
        }
        Some(Command::Watch {
            json,
            duration,
            record,
        }) => run_watch(&cli.common, config, *json, *duration, record.as_deref()),
        Some(Command::Record { out, duration }) => {
            run_record(&cli.common, config, out, duration.as_deref())
        }
        Some(Command::Notes { where_is, action }) => {
            let Some(dir) = data_dir(&cli.common) else {
                eprintln!("switchboard: no data directory for the notes (give --data-dir)");
                return ExitCode::from(2);
            };
            let path = dir.join("notes.sqlite");
            return match (where_is, action) {
                (true, _) => {
                    println!("{}", path.display());
                    ExitCode::SUCCESS
                }
                (false, Some(cmd)) => match notes_cli::notes(&path, cmd) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("switchboard: {e}");
                        ExitCode::from(1)
                    }
                },
                (false, None) => {
                    eprintln!("switchboard: notes add|list|search, or --where");
                    ExitCode::from(2)
                }
            };
        }
        Some(Command::Incident { action }) => {
            let Some(dir) = data_dir(&cli.common) else {
                eprintln!("switchboard: no data directory for the incidents (give --data-dir)");
                return ExitCode::from(2);
            };
            let chosen = match &cli.common.environment {
                Some(n) => config.environment.iter().find(|e| &e.name == n),
                None => config.environment.first(),
            };
            let env = cli
                .common
                .environment
                .clone()
                .or_else(|| chosen.map(|e| e.name.clone()))
                .unwrap_or_else(|| "none".into());
            let objectives = chosen.map(|e| e.objectives.clone()).unwrap_or_default();
            return match notes_cli::incident(&dir.join("notes.sqlite"), &env, &objectives, action) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("switchboard: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Some(Command::Workflow { action }) => {
            return match run_workflow(&cli.common, &config, action) {
                Ok(()) => ExitCode::SUCCESS,
                Err(WorkflowExit::Refused(e)) => {
                    eprintln!("switchboard: {e}");
                    ExitCode::from(3)
                }
                Err(WorkflowExit::Usage(e)) => {
                    eprintln!("switchboard: {e}");
                    ExitCode::from(2)
                }
                Err(WorkflowExit::Failed(e)) => {
                    eprintln!("switchboard: {e}");
                    ExitCode::from(1)
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `--drill` > `--config` > the default config file > `ETCDCTL_ENDPOINTS` > the drill.
fn resolve_config(c: &Common) -> anyhow::Result<Config> {
    let drill = || {
        Config::drill(DrillConfig {
            instances: c.drill_size,
            seed: c.drill_seed,
            speed: c.drill_speed,
            ..DrillConfig::default()
        })
    };
    if c.drill {
        return Ok(drill());
    }
    if let Some(path) = &c.config {
        return Ok(Config::load(path)?);
    }
    if let Some(path) = Config::default_path().filter(|p| p.exists()) {
        return Ok(Config::load(&path)?);
    }
    if let Some(cfg) = Config::from_etcdctl_env() {
        return Ok(cfg);
    }
    Ok(drill())
}

fn data_dir(c: &Common) -> Option<PathBuf> {
    c.data_dir
        .clone()
        .or_else(|| std::env::var_os("SWITCHBOARD_DATA_DIR").map(PathBuf::from))
        .or_else(|| {
            directories::ProjectDirs::from("org", "switchboard", "switchboard")
                .map(|d| d.data_dir().to_owned())
        })
}

fn engine_options(c: &Common, config: Config, record_to: Option<PathBuf>) -> EngineOptions {
    let mut opts = EngineOptions::new(config);
    opts.environment.clone_from(&c.environment);
    opts.record_to = record_to;
    opts
}

fn start_engine(opts: &EngineOptions) -> anyhow::Result<EngineHandle> {
    if let Some(env) = &opts.environment {
        anyhow::ensure!(
            opts.config.environment.iter().any(|e| &e.name == env),
            "no environment named {env:?} in the configuration"
        );
    }
    switchboard_core::start(opts).context("cannot start the engine")
}

/// `record`: the engine with a recorder and nothing else, until Ctrl+C or the duration.
fn run_record(
    c: &Common,
    config: Config,
    out: &Path,
    duration: Option<&str>,
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
    let opts = engine_options(c, config, Some(out.to_owned()));
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
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    });
    let applied = engine.snapshot().events_applied;
    if let Some(e) = engine.shutdown() {
        anyhow::bail!("the recording stopped early: {e}");
    }
    eprintln!(
        "switchboard: {applied} events recorded to {}",
        out.display()
    );
    Ok(())
}

fn new_session_path(dir: &Path) -> PathBuf {
    let stamp = SystemClock.now().file_stamp();
    dir.join("sessions").join(format!("session-{stamp}.sqlite"))
}

fn run_gui(cli: &Cli, config: Config) -> anyhow::Result<()> {
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
    // as the CLI's; without a data directory there is no journal, so no workflows.
    let desk = match (desk_env.filter(|_| !cli.wall), &data) {
        (Some(env), Some(dir)) => match switchboard_core::workflow::desk::Desk::new(
            env,
            dir.join("journal.sqlite"),
            engine.read_only().is_some(),
            switchboard_core::operator_name(),
            engine.drill(),
        ) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!("workflows are off: {e}");
                None
            }
        },
        _ => None,
    };
    let opts = ConsoleOptions {
        // The wall's layout is the preset, not the operator's saved one.
        layout_file: data
            .as_ref()
            .filter(|_| !cli.wall)
            .map(|d| d.join("layout.json")),
        layout: match &rotation {
            Some(r) => Some(r.first_layout().to_owned()),
            None => cli
                .layout
                .clone()
                .or_else(|| cli.wall.then(|| "wall".to_owned())),
        },
        fixed_now: None,
        data_dir: data,
        wall: cli.wall,
        look,
        theme: theme_of(cli),
    };
    let title = if drill {
        "Switchboard · DRILL".to_owned()
    } else {
        format!("Switchboard · {}", engine.environment())
    };
    open_window(cli, &title, move |egui_ctx| {
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
            let ctx = egui_ctx.clone();
            desk.set_waker(move || ctx.request_repaint());
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

fn theme_of(cli: &Cli) -> Option<egui::Theme> {
    match cli.theme.as_deref() {
        Some("light") => Some(egui::Theme::Light),
        Some(_) => Some(egui::Theme::Dark),
        None => None,
    }
}

/// Opens the window titled `title` on the console `build` makes (given the window's
/// context, to wake it), until it is closed or `--exit-after` passes.
fn open_window(
    cli: &Cli,
    title: &str,
    build: impl FnOnce(&egui::Context) -> Console + 'static,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        cli.renderer == "glow",
        "unknown renderer {:?}: this build has glow",
        cli.renderer
    );
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_fullscreen(cli.wall)
            .with_title(title)
            .with_app_id("switchboard")
            .with_inner_size([1440.0, 900.0])
            .with_min_inner_size([800.0, 500.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    let exit_at = cli
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
fn run_replay_gui(cli: &Cli, file: &Path) -> anyhow::Result<()> {
    // A session recorded here: this machine's notes and workflow runs of its span are
    // marks on the scrubber (a saved session carries its own).
    let reader = switchboard_core::session::SessionReader::open(file)?;
    let local = match (
        reader.attachment("notes")?,
        reader.span()?,
        data_dir(&cli.common),
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
        layout: cli.layout.clone().or_else(|| Some("replay".to_owned())),
        fixed_now: None,
        data_dir: data_dir(&cli.common),
        wall: false,
        look: switchboard_core::Look::default(),
        theme: theme_of(cli),
    };
    let title = format!("Switchboard · REPLAY · {}", file.display());
    open_window(cli, &title, move |egui_ctx| {
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

fn expected_sources(opts: &EngineOptions) -> Vec<String> {
    let env = match &opts.environment {
        Some(n) => opts.config.environment.iter().find(|e| &e.name == n),
        None => opts.config.environment.first(),
    };
    env.map(|e| e.source.iter().map(|s| s.name().to_owned()).collect())
        .unwrap_or_default()
}

fn run_status(c: &Common, config: Config, json: bool, wait: f64) -> anyhow::Result<()> {
    let opts = engine_options(c, config, None);
    let expected = expected_sources(&opts);
    let engine = start_engine(&opts)?;
    let state = engine.wait_for(Duration::from_secs_f64(wait.max(0.0)), |s| {
        all_reported(s, &expected)
    });
    let report = StatusReport::new(&state, SystemClock.now());
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_status(&report);
    }
    Ok(())
}

fn print_status(r: &StatusReport) {
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

fn run_watch(
    c: &Common,
    config: Config,
    json: bool,
    duration: Option<f64>,
    record: Option<&Path>,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut opts = engine_options(c, config, record.map(Path::to_owned));
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
                for ev in batch.iter() {
                    let line = if json {
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
        return Err(e).context("recording failed");
    }
    result
}

enum WorkflowExit {
    Refused(String),
    Usage(String),
    Failed(String),
}

impl From<switchboard_core::workflow::WorkflowError> for WorkflowExit {
    fn from(e: switchboard_core::workflow::WorkflowError) -> Self {
        use switchboard_core::workflow::WorkflowError as E;
        match e {
            E::Refused(_) => Self::Refused(e.to_string()),
            E::Usage(_) => Self::Usage(e.to_string()),
            E::Target(_) => Self::Failed(e.to_string()),
        }
    }
}

fn run_workflow(c: &Common, config: &Config, action: &WorkflowCmd) -> Result<(), WorkflowExit> {
    use switchboard_core::workflow::{self, Journal, Kind};
    let env = match &c.environment {
        Some(name) => config.environment.iter().find(|e| &e.name == name),
        None => config.environment.first(),
    }
    .ok_or_else(|| WorkflowExit::Usage("no such environment in the configuration".into()))?;
    let dir = data_dir(c)
        .ok_or_else(|| WorkflowExit::Usage("no data directory for the journal".into()))?;
    let journal = Journal::open(&dir.join("journal.sqlite")).map_err(WorkflowExit::Failed)?;
    let ctx = workflow::Context {
        environment: env,
        journal: &journal,
        clock: &SystemClock,
        read_only_mode: false,
        timeout: Duration::from_secs(2),
        control: workflow::Control::default(),
        drill: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| WorkflowExit::Failed(e.to_string()))?;
    match action {
        WorkflowCmd::List => {
            for k in Kind::ALL {
                println!("{:<6} {}", k.as_str(), k.describe());
            }
            let runs = journal.recent(10).map_err(WorkflowExit::Failed)?;
            if !runs.is_empty() {
                println!(
                    "\nlatest runs (journal {}):",
                    dir.join("journal.sqlite").display()
                );
            }
            let now = SystemClock.now();
            for r in runs {
                println!(
                    "#{} {} {} {} by {} in {}: {}",
                    r.id,
                    r.started_at.to_rfc3339(),
                    r.kind,
                    r.target,
                    r.operator,
                    r.environment,
                    r.outcome
                );
                // A run still marked running whose console is gone was cut short (a
                // crash, kill -9): say where, so a human checks the target.
                if r.interrupted(now) {
                    let last = journal.steps(r.id).map_err(WorkflowExit::Failed)?.pop();
                    println!(
                        "   INTERRUPTED {}: the target may be half-changed (it was {}); check it, then `workflow resume {}` or `workflow rollback {}`",
                        last.map_or_else(
                            || "before its first step".to_owned(),
                            |s| format!(
                                "after the `{}` row of `{}` ({})",
                                s.phase, s.action, s.outcome
                            )
                        ),
                        if r.before.is_empty() {
                            "unknown"
                        } else {
                            r.before.as_str()
                        },
                        r.id,
                        r.id
                    );
                }
            }
            Ok(())
        }
        WorkflowCmd::Plan { kind, target, json } => {
            let plan = rt.block_on(workflow::plan(&ctx, Kind::parse(kind)?, target))?;
            print_plan(&plan, *json);
            if plan.allowed() {
                Ok(())
            } else {
                Err(WorkflowExit::Refused(format!(
                    "refused: {}",
                    plan.refusals().join("; ")
                )))
            }
        }
        WorkflowCmd::Resume { run, confirm, json }
        | WorkflowCmd::Rollback { run, confirm, json } => {
            let rollback = matches!(action, WorkflowCmd::Rollback { .. });
            let (kind, target) = workflow::take_over(
                ctx.environment,
                &journal,
                *run,
                rollback,
                &switchboard_core::operator_name(),
                SystemClock.now(),
            )?;
            println!(
                "run #{run} closed as interrupted; {} {target}:",
                kind.as_str()
            );
            let plan = rt.block_on(workflow::plan(&ctx, kind, &target))?;
            run_plan(&rt, &ctx, &plan, confirm, *json)
        }
        WorkflowCmd::Run {
            kind,
            target,
            confirm,
            overrides,
            reason,
            approver,
            json,
        } => {
            let mut plan = rt.block_on(workflow::plan(&ctx, Kind::parse(kind)?, target))?;
            for g in overrides {
                plan.override_guard(g, reason.as_deref().unwrap_or(""))?;
            }
            plan.approver.clone_from(approver);
            run_plan(&rt, &ctx, &plan, confirm, *json)
        }
    }
}

/// Prints the plan, runs it after the typed confirmation, prints the report.
fn run_plan(
    rt: &tokio::runtime::Runtime,
    ctx: &switchboard_core::workflow::Context<'_>,
    plan: &switchboard_core::workflow::Plan,
    confirm: &str,
    json: bool,
) -> Result<(), WorkflowExit> {
    if !json {
        print_plan(plan, false);
    }
    // A runbook's manual step waits for the operator: say what to do, and take `done`
    // from stdin.
    let control = ctx.control.clone();
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prompter = {
        let (control, finished) = (control.clone(), finished.clone());
        std::thread::spawn(move || {
            let mut asked = String::new();
            while !finished.load(std::sync::atomic::Ordering::SeqCst) {
                let now = control.waiting();
                if !now.is_empty() && now != asked {
                    eprintln!("MANUAL STEP: {now}\n  type `done` and Enter when it is done");
                }
                asked = now;
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            match line {
                Ok(l) if l.trim() == "done" => control.acknowledge(),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let report = rt.block_on(switchboard_core::workflow::run(
        ctx,
        plan,
        confirm,
        &switchboard_core::operator_name(),
    ));
    finished.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = prompter.join();
    let report = report?;
    if json {
        println!("{}", serde_json::json!({"plan": plan, "report": report}));
    } else {
        for l in &report.lines {
            println!("{l}");
        }
        println!(
            "run #{}: {}{}",
            report.run,
            report.outcome,
            report
                .effect_millis
                .map(|m| format!(" ({m} ms from confirmation to effect)"))
                .unwrap_or_default()
        );
    }
    if report.outcome == "done" {
        Ok(())
    } else {
        Err(WorkflowExit::Failed(format!(
            "run #{} {}",
            report.run, report.outcome
        )))
    }
}

fn print_plan(plan: &switchboard_core::workflow::Plan, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({ "plan": plan, "allowed": plan.allowed() })
        );
        return;
    }
    println!(
        "plan: {} {} in {} (now {})",
        plan.kind.as_str(),
        plan.target,
        plan.environment,
        plan.before
    );
    for s in &plan.steps {
        println!("  step: {s}");
    }
    for g in &plan.guards {
        println!(
            "  guard {:<15} {}  {}",
            g.name,
            if g.ok {
                "ok        "
            } else if plan.overridden(g.name) {
                "OVERRIDDEN"
            } else {
                "REFUSES   "
            },
            g.reason
        );
    }
    for o in &plan.overrides {
        println!("  override {}: {}", o.guard, o.reason);
    }
}
