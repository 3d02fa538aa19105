//! The command line's shape (clap): which options belong to the window, which to each
//! subcommand, and which to every one.
//!
//! Options of the window (`--layout`, `--renderer`, `--theme`, `--exit-after`, `--wall`,
//! `--no-record`, the flight recorder's limits) sit on the bare command, not global, so
//! `switchboard status --help` does not offer them; given before a subcommand they are
//! still accepted (and mean nothing there), as they always were. `replay` opens a window
//! too and carries its own [`WindowArgs`]. The configuration options ([`Common`]) are
//! global: every command resolves the configuration before it runs, and scripts give
//! them before or after the subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::notes::{IncidentCmd, NotesCmd};
use super::session::SessionCmd;

/// The whole command line: the window's options, and a subcommand or none (the window).
#[derive(Parser, Debug)]
#[command(
    name = "switchboard",
    version,
    about = "An incident console for on-call engineers."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub window: WindowArgs,
    /// A wall display: full screen, read-only (enforced in core), large type, banners
    /// of what is wrong; the wall layout unless --layout says otherwise.
    #[arg(long)]
    pub wall: bool,
    /// On a wall: show the next page every this many seconds. The pages are each
    /// environment of the configuration (or the one --environment names) in each layout
    /// of --layout, comma-separated (default: wall,database). Space pauses, the right
    /// arrow turns the page.
    #[arg(long, value_name = "SECS", requires = "wall")]
    pub rotate: Option<f64>,
    /// Do not record a session file.
    #[arg(long)]
    pub no_record: bool,
    /// The flight recorder keeps the sessions of the last this many hours...
    #[arg(long, value_name = "HOURS", default_value_t = 72.0)]
    pub keep_hours: f64,
    /// ...and at most this many megabytes of them (the oldest go first).
    #[arg(long, value_name = "MB", default_value_t = 2048)]
    pub keep_mb: u64,
    /// The flight recorder starts a new segment (a file of its own, starting from the
    /// console's state) this often, so the oldest can go while the window runs.
    #[arg(long, value_name = "MINUTES", default_value_t = 60.0)]
    pub segment_minutes: f64,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the configuration is and where data is kept: global, so they may come before or
/// after any subcommand. Listed under a heading of their own, apart from the command's.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Configuration (every command)")]
pub struct Common {
    /// Configuration file (default: the platform config dir's config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Open the drill (simulated fleet) whatever is configured.
    #[arg(long, global = true)]
    pub drill: bool,
    /// Instances in the drill fleet.
    #[arg(long, global = true, value_name = "N", default_value_t = 300)]
    pub drill_size: usize,
    /// Seed of the drill.
    #[arg(long, global = true, value_name = "N", default_value_t = 7)]
    pub drill_seed: u64,
    /// Speed of the drill (simulated seconds per second).
    #[arg(long, global = true, value_name = "X", default_value_t = 1.0)]
    pub drill_speed: f64,
    /// Environment of the configuration to watch (default: the first).
    #[arg(long, global = true)]
    pub environment: Option<String>,
    /// Where sessions and layouts are kept (default: the platform data dir, or $`SWITCHBOARD_DATA_DIR`).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Follow this relay (`switchboard serve`, `https://host:7443`; several, comma-separated,
    /// for relays that elect a leader) instead of polling the
    /// sources: the environment's relay TLS and token settings, else
    /// $`SWITCHBOARD_RELAY_CACERT`, $`SWITCHBOARD_RELAY_CERT`, $`SWITCHBOARD_RELAY_KEY` and
    /// the token in $`SWITCHBOARD_RELAY_TOKEN`.
    #[arg(long, global = true, value_name = "URL", conflicts_with = "direct")]
    pub connect: Option<String>,
    /// Poll the sources directly even when the environment names a relay.
    #[arg(long, global = true)]
    pub direct: bool,
}

/// The options of a window: the bare command's and `replay`'s. The heading also covers
/// the bare command's options declared after them (wall, recorder).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Window")]
pub struct WindowArgs {
    /// Layout to start with: a preset (oncall, wall, triage, replay, database) or one
    /// you saved under a name (Layout → Save as).
    #[arg(long)]
    pub layout: Option<String>,
    /// Renderer of the window (default: glow, the one this build has).
    #[arg(long, value_name = "NAME")]
    pub renderer: Option<String>,
    /// Close the window after this many seconds (for screenshots and smoke tests).
    #[arg(long, value_name = "SECS")]
    pub exit_after: Option<f64>,
    /// Colour theme of the window: dark or light (default: the last chosen in the
    /// window, else dark).
    #[arg(long, value_parser = ["dark", "light"])]
    pub theme: Option<String>,
}

impl WindowArgs {
    /// These options, each one not given taken from `outer` (the bare command's, given
    /// before the subcommand: `switchboard --exit-after 5 replay FILE`).
    pub fn or(&self, outer: &Self) -> Self {
        Self {
            layout: self.layout.clone().or_else(|| outer.layout.clone()),
            renderer: self.renderer.clone().or_else(|| outer.renderer.clone()),
            exit_after: self.exit_after.or(outer.exit_after),
            theme: self.theme.clone().or_else(|| outer.theme.clone()),
        }
    }
}

/// The subcommands; none opens the window.
#[derive(Subcommand, Debug)]
pub enum Command {
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
    /// Game days: run an experiment on real systems (a guarded fault, measured by the
    /// console), list them, read their reports and history.
    Experiment {
        #[command(subcommand)]
        action: ExperimentCmd,
    },
    /// Notes kept during incidents (the incident store).
    Notes {
        /// Print where the notes database is, and stop.
        #[arg(long = "where")]
        where_is: bool,
        #[command(subcommand)]
        action: Option<NotesCmd>,
    },
    /// Incidents in the incident store: list, open by hand, mitigate, resolve.
    Incident {
        #[command(subcommand)]
        action: IncidentCmd,
    },
    /// Session files: what one holds.
    Session {
        #[command(subcommand)]
        action: SessionCmd,
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
        /// The replay window's options (without --at or --export).
        #[command(flatten)]
        window: WindowArgs,
    },
    /// Record a session headless (an unattended box), until Ctrl+C or --for.
    Record {
        /// The session file to create.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Stop after this long (90s, 30m, 12h; default: until interrupted).
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        #[command(flatten)]
        rolling: Rolling,
    },
    /// Serve this environment's view to many consoles (a relay): one engine polls
    /// production, the consoles follow it (`--connect`, or `relay =` in their config).
    Serve {
        /// Where to listen (default: the environment's serve.listen).
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
        /// Record the relay's session to this file.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// Stop after this many seconds (default: until interrupted).
        #[arg(long = "for", value_name = "SECS")]
        duration: Option<f64>,
    },
    /// Print what changes, one event per line: every applied event but the readings
    /// of series (metric samples, breaker calls, pool fills) and heartbeats.
    Watch {
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
        /// Print every applied event, readings and heartbeats too.
        #[arg(long)]
        all: bool,
        /// Stop after this many seconds (default: until interrupted).
        #[arg(long = "for", value_name = "SECS")]
        duration: Option<f64>,
        /// Also record a session file here.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        #[command(flatten)]
        rolling: Rolling,
    },
}

/// A headless recording that rolls like the window's flight recorder: hidden, for the
/// crash trials (`tests/crash-trials.sh`), which need many segments and pruning in
/// seconds where the window rolls every `--segment-minutes` (6 s at the least).
#[derive(Args, Debug, Clone, Default)]
pub struct Rolling {
    /// Start a new segment this often (seconds); the recording then also keeps to the
    /// window's `--keep-hours` and `--keep-mb`, pruning the sessions beside it.
    #[arg(long, hide = true, value_name = "SECS")]
    pub segment_secs: Option<f64>,
}

impl Rolling {
    /// How often to roll and what to keep (`cli`'s `--keep-hours`, `--keep-mb`), or
    /// `None` for one file kept whole.
    pub fn plan(
        &self,
        cli: &Cli,
    ) -> Option<(
        std::time::Duration,
        switchboard_core::session::retention::Retention,
    )> {
        let secs = self.segment_secs?;
        Some((
            // 10 ms at the least: a roll per batch of events is the most there can be.
            std::time::Duration::from_secs_f64(secs.max(0.01)),
            switchboard_core::session::retention::Retention::new(cli.keep_hours, cli.keep_mb),
        ))
    }
}

/// `switchboard experiment ...`.
#[derive(Subcommand, Debug)]
pub enum ExperimentCmd {
    /// The environment's experiments, each with its latest run.
    List,
    /// Watch the environment, plan the experiment with every guard, run it after the
    /// typed confirmation (its name) and print its report.
    Run {
        /// The experiment's name.
        name: String,
        /// The experiment's name, typed.
        #[arg(long)]
        confirm: String,
        /// Wait at most this long for the sources to show the steady state.
        #[arg(long, value_name = "SECS", default_value_t = 30.0)]
        wait: f64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One run's report (the latest when no run is given): Markdown, or JSON.
    Report {
        /// The run's number (`experiment history`).
        run: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// An experiment's runs, newest first: did recovery get faster?
    History {
        /// The experiment's name.
        name: String,
    },
}

/// `switchboard workflow ...`.
#[derive(Subcommand, Debug)]
pub enum WorkflowCmd {
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

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[test]
    fn window_options_before_replay_count_and_its_own_win() {
        let cli = Cli::try_parse_from([
            "switchboard",
            "--exit-after",
            "5",
            "--layout",
            "wall",
            "replay",
            "s.sqlite",
            "--layout",
            "triage",
        ])
        .expect("parses");
        let Some(Command::Replay { window, .. }) = &cli.command else {
            panic!("not a replay: {cli:?}");
        };
        let merged = window.or(&cli.window);
        assert_eq!(merged.exit_after, Some(5.0));
        assert_eq!(merged.layout.as_deref(), Some("triage"));
        assert_eq!(merged.renderer, None);
    }

    #[test]
    fn the_definitions_are_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
