//! `switchboard`: the console window, and the CLI on the same core.
//!
//! - `switchboard` opens the window (the drill when nothing is configured); `--wall`
//!   makes it a read-only status board, `--rotate` turns its pages.
//! - `switchboard status [--json] [--wait SECS]` prints one snapshot once every source
//!   has reported, or when the wait runs out.
//! - `switchboard watch [--json] [--for SECS] [--record FILE]` prints every applied
//!   event, one per line.
//! - `switchboard record --out FILE [--for DURATION]` records a session headless.
//! - `switchboard replay FILE` replays a session in the window; with `--at TIME` or
//!   `--export FILE`, headless.
//! - `switchboard session info FILE` says what a session file holds.
//! - `switchboard workflow list|plan|run|resume|rollback`: guarded workflows (plan with
//!   every guard, typed confirmation, journal, verification), the same as in the window.
//! - `switchboard notes ...` and `switchboard incident ...`: the incident store.
//! - `switchboard serve`: the relay, one engine serving many consoles; any command
//!   follows one with `--connect URL` (or the environment's `relay =`).
//!
//! The commands live in [`cli`], one module per job. Exit codes: 0 success, 1 runtime
//! failure, 2 bad configuration or usage, 3 a guard (or the confirmation) refused.

mod cli;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser as _;

use crate::cli::args::{Cli, Command};
use crate::cli::{experiment, headless, notes, serve, session, setup, window, workflow};

fn main() -> ExitCode {
    window::STARTED.get_or_init(Instant::now);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = match setup::resolve_config(&cli.common) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        None => window::run_gui(&cli, config),
        Some(Command::Status { json, wait }) => {
            headless::run_status(&cli.common, config, *json, *wait)
        }
        Some(Command::Watch {
            json,
            all,
            duration,
            record,
            rolling,
        }) => headless::run_watch(
            &cli.common,
            config,
            headless::WatchOutput {
                json: *json,
                all: *all,
            },
            *duration,
            record.as_deref(),
            rolling.plan(&cli),
        ),
        Some(Command::Serve {
            listen,
            record,
            duration,
        }) => serve::run_serve(
            &cli.common,
            config,
            &serve::ServeArgs {
                listen: listen.as_deref(),
                record: record.as_deref(),
                duration: *duration,
            },
        ),
        Some(Command::Record {
            out,
            duration,
            rolling,
        }) => headless::run_record(
            &cli.common,
            config,
            out,
            duration.as_deref(),
            rolling.plan(&cli),
        ),
        Some(Command::Session { action }) => return plain(session::info(action)),
        Some(Command::Replay {
            file,
            at,
            json,
            export,
            window: replay_window,
        }) => match (at, export) {
            (Some(t), _) => return plain(session::at(file, t, *json)),
            (None, Some(out)) => return plain(session::export(file, out)),
            // Window options given before `replay` count too, as they always did.
            (None, None) => {
                window::run_replay_gui(&cli.common, &replay_window.or(&cli.window), file)
            }
        },
        Some(Command::Notes { where_is, action }) => {
            return notes::notes_command(&cli.common, *where_is, action.as_ref());
        }
        Some(Command::Incident { action }) => {
            return notes::incident_command(&cli.common, &config, action);
        }
        Some(Command::Workflow { action }) => {
            return workflow::workflow(&cli.common, &config, action);
        }
        Some(Command::Experiment { action }) => {
            return experiment::experiment(&cli.common, &config, action);
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

/// The exit of a command whose errors are plain text: 0, or 1 with the error said.
fn plain(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e}");
            ExitCode::from(1)
        }
    }
}
