//! `switchboard notes ...` and `switchboard incident ...`: the incident store from the
//! command line (the same `notes.sqlite` the window uses).

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

/// `println!` that ends quietly when the reader went away (`| head`), as `head` expects.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}
use switchboard_core::store::{NewNote, Objectives, Store};
use switchboard_core::{Clock as _, Config, SystemClock};

use super::args::Common;
use super::setup::data_dir;

/// `switchboard notes ...`.
#[derive(Subcommand, Debug)]
pub enum NotesCmd {
    /// Add a note (Markdown), to an incident, about an entity.
    Add {
        /// The text.
        text: String,
        /// The incident it belongs to (without it: the one open incident, if exactly
        /// one is open).
        #[arg(long, conflicts_with = "no_incident")]
        incident: Option<i64>,
        /// A note on no incident, even while one is open.
        #[arg(long)]
        no_incident: bool,
        /// What it is about (`service:checkout`, `run:12`...).
        #[arg(long)]
        entity: Option<String>,
    },
    /// The notes, in the order of the moments they are pinned to.
    List {
        /// Only this incident's.
        #[arg(long)]
        incident: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// An incident's postmortem: Markdown or JSON, to stdout or a file.
    Export {
        /// The incident.
        incident: i64,
        /// Markdown (the default).
        #[arg(long, conflicts_with = "json")]
        md: bool,
        /// JSON.
        #[arg(long)]
        json: bool,
        /// Write it here.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Full-text search.
    Search {
        /// Words (all must match).
        query: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `switchboard incident ...`.
#[derive(Subcommand, Debug)]
pub enum IncidentCmd {
    /// The incidents, newest first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open one by hand.
    Open {
        /// Its title.
        #[arg(long)]
        title: String,
        /// Sev0 (worst) .. Sev3.
        #[arg(long, default_value_t = 2)]
        severity: u8,
    },
    /// Its timeline: what the console saw and the workflow steps, with the notes.
    Timeline {
        /// Its id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set its severity by hand (from then on the console no longer raises it).
    Severity {
        /// Its id.
        id: i64,
        /// Sev0 (worst) .. Sev3.
        severity: u8,
        /// Why, for the timeline.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Star a timeline entry (it matters), or take the star back with --off.
    Star {
        /// The entry's id (`incident timeline ID` shows them).
        entry: i64,
        /// Take the star back.
        #[arg(long)]
        off: bool,
    },
    /// Hide a timeline entry from the timeline and the export, or show it again with --off.
    Hide {
        /// The entry's id.
        entry: i64,
        /// Show it again.
        #[arg(long)]
        off: bool,
    },
    /// Mark it mitigated.
    Mitigate {
        /// Its id.
        id: i64,
    },
    /// Mark it resolved.
    Resolve {
        /// Its id.
        id: i64,
    },
}

fn open(path: &Path) -> Result<Store, String> {
    let opened = Store::open(path).map_err(|e| e.to_string())?;
    if let Some(aside) = opened.recovered {
        eprintln!(
            "switchboard: the notes database was corrupt; it was moved aside to {} and a fresh one was made",
            aside.display()
        );
    }
    Ok(opened.store)
}

/// Notes as JSON, or one line each.
fn print_notes(rows: &[switchboard_core::store::NoteRow], json: bool) -> Result<(), String> {
    if json {
        outln!(
            "{}",
            serde_json::to_string(rows).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    for n in rows {
        outln!(
            "#{} {} {}{}{}: {}",
            n.id,
            n.pinned_at.to_rfc3339(),
            n.author,
            n.incident
                .map(|i| format!(" (incident #{i})"))
                .unwrap_or_default(),
            n.entity
                .as_ref()
                .map(|e| format!(" [{e}]"))
                .unwrap_or_default(),
            n.body
        );
    }
    Ok(())
}

fn age(ms: Option<i64>) -> String {
    ms.map_or_else(|| "–".to_owned(), |m| format!("{:.0} s", m as f64 / 1000.0))
}

/// The incident a note given no `--incident` belongs to: the one open incident, none
/// when none is open. With several open the note is refused, naming them, so it cannot
/// land on the wrong one or on none and miss its postmortem.
fn the_open_incident(store: &Store) -> Result<Option<i64>, String> {
    let open: Vec<_> = store
        .incidents()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|i| i.status != "resolved")
        .collect();
    match open.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.id)),
        many => Err(format!(
            "{} incidents are open ({}): say which with --incident ID, or --no-incident for a note on none",
            many.len(),
            many.iter()
                .map(|i| format!(
                    "#{} Sev{} {} in {}",
                    i.id, i.severity, i.title, i.environment
                ))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// Runs a notes command on the store at `path`.
pub fn notes(path: &Path, cmd: &NotesCmd) -> Result<(), String> {
    let store = open(path)?;
    match cmd {
        NotesCmd::Add {
            text,
            incident,
            no_incident,
            entity,
        } => {
            let incident = match (incident, no_incident) {
                (Some(i), _) => Some(*i),
                (None, true) => None,
                (None, false) => the_open_incident(&store)?,
            };
            let id = store
                .add_note(&NewNote {
                    incident,
                    author: switchboard_core::operator_name(),
                    body: text.clone(),
                    at: SystemClock.now(),
                    pinned_at: None,
                    entity: entity.clone(),
                })
                .map_err(|e| e.to_string())?;
            if let Some(i) = incident {
                outln!("note #{id} saved to incident #{i}");
            } else {
                outln!("note #{id} saved");
            }
        }
        NotesCmd::List { incident, json } => {
            print_notes(&store.notes(*incident).map_err(|e| e.to_string())?, *json)?;
        }
        NotesCmd::Export {
            incident,
            md: _,
            json,
            out,
        } => {
            let pm = store
                .postmortem(*incident, SystemClock.now())
                .map_err(|e| e.to_string())?;
            let text = if *json {
                pm.to_json()
            } else {
                pm.to_markdown()
            };
            if let Some(path) = out {
                std::fs::write(path, &text)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                outln!(
                    "postmortem of incident #{incident} written to {}",
                    path.display()
                );
            } else {
                outln!("{text}");
            }
        }
        NotesCmd::Search { query, json } => {
            print_notes(&store.search(query, 50).map_err(|e| e.to_string())?, *json)?;
        }
    }
    Ok(())
}

/// Runs an incident command on the store at `path`, in `environment` (whose incidents
/// are measured against `objectives`).
pub fn incident(
    path: &Path,
    environment: &str,
    objectives: &Objectives,
    cmd: &IncidentCmd,
) -> Result<(), String> {
    let store = open(path)?;
    let now = SystemClock.now();
    match cmd {
        IncidentCmd::List { json } => {
            let rows = store.incidents().map_err(|e| e.to_string())?;
            if *json {
                outln!(
                    "{}",
                    serde_json::to_string(&rows).map_err(|e| e.to_string())?
                );
            } else {
                for i in rows {
                    outln!(
                        "#{} Sev{} {} [{}] {} · started {} · MTTD {} · MTTR {}",
                        i.id,
                        i.severity,
                        i.title,
                        i.status,
                        i.environment,
                        i.started_at.to_rfc3339(),
                        age(i.mttd_millis()),
                        age(i.mttr_millis())
                    );
                }
            }
        }
        IncidentCmd::Open { title, severity } => {
            if *severity > 3 {
                return Err(format!("severity {severity}: Sev0 (worst) to Sev3"));
            }
            let id = store
                .open_incident(title, *severity, environment, "manual", now, Some(now))
                .map_err(|e| e.to_string())?;
            store
                .set_objectives(id, objectives)
                .map_err(|e| e.to_string())?;
            outln!("incident #{id} opened (Sev{severity}) in {environment}");
        }
        IncidentCmd::Timeline { id, json } => {
            let i = store.incident(*id).map_err(|e| e.to_string())?;
            let entries = store.timeline(*id).map_err(|e| e.to_string())?;
            let notes = store.notes(Some(*id)).map_err(|e| e.to_string())?;
            if *json {
                outln!(
                    "{}",
                    serde_json::json!({ "incident": i, "timeline": entries, "notes": notes })
                );
            } else {
                outln!("#{} Sev{} {} [{}]", i.id, i.severity, i.title, i.status);
                let mut lines: Vec<(i64, String)> = entries
                    .iter()
                    .filter(|e| !e.hidden)
                    .map(|e| {
                        (
                            e.at.0,
                            format!(
                                "{} [{}] {}{} {}: {}",
                                e.at.to_rfc3339(),
                                e.id,
                                if e.starred { "* " } else { "" },
                                e.kind,
                                e.subject,
                                e.text
                            ),
                        )
                    })
                    .collect();
                lines.extend(notes.iter().map(|n| {
                    (
                        n.pinned_at.0,
                        format!(
                            "{} note by {}: {}",
                            n.pinned_at.to_rfc3339(),
                            n.author,
                            n.body
                        ),
                    )
                }));
                lines.sort_by_key(|(at, _)| *at);
                for (_, l) in lines {
                    outln!("  {l}");
                }
            }
        }
        IncidentCmd::Severity {
            id,
            severity,
            reason,
        } => {
            let who = switchboard_core::operator_name();
            let why = reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            store
                .set_severity(*id, *severity, now, Some(&who), &why)
                .map_err(|e| e.to_string())?;
            outln!("incident #{id} is Sev{severity}");
        }
        IncidentCmd::Star { entry, off } | IncidentCmd::Hide { entry, off } => {
            let e = store.timeline_entry(*entry).map_err(|e| e.to_string())?;
            let (starred, hidden) = if matches!(cmd, IncidentCmd::Star { .. }) {
                (!off, e.hidden)
            } else {
                (e.starred, !off)
            };
            store
                .mark(*entry, starred, hidden)
                .map_err(|e| e.to_string())?;
            outln!(
                "entry #{entry}: {}{}",
                if starred { "starred" } else { "not starred" },
                if hidden { ", hidden" } else { "" }
            );
        }
        IncidentCmd::Mitigate { id } | IncidentCmd::Resolve { id } => {
            let status = if matches!(cmd, IncidentCmd::Mitigate { .. }) {
                "mitigated"
            } else {
                "resolved"
            };
            store
                .set_status(*id, status, now)
                .map_err(|e| e.to_string())?;
            outln!("incident #{id} {status}");
        }
    }
    Ok(())
}

/// `switchboard notes [--where] ...` on the data directory's `notes.sqlite`: 0 done,
/// 1 failed, 2 no data directory or no action.
pub fn notes_command(c: &Common, where_is: bool, action: Option<&NotesCmd>) -> ExitCode {
    let Some(dir) = data_dir(c) else {
        eprintln!("switchboard: no data directory for the notes (give --data-dir)");
        return ExitCode::from(2);
    };
    let path = dir.join("notes.sqlite");
    match (where_is, action) {
        (true, _) => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        (false, Some(cmd)) => match notes(&path, cmd) {
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
    }
}

/// `switchboard incident ...` on the data directory's `notes.sqlite`, in `--environment`
/// (else the configuration's first): 0 done, 1 failed, 2 no data directory.
pub fn incident_command(c: &Common, config: &Config, action: &IncidentCmd) -> ExitCode {
    let Some(dir) = data_dir(c) else {
        eprintln!("switchboard: no data directory for the incidents (give --data-dir)");
        return ExitCode::from(2);
    };
    let chosen = match &c.environment {
        Some(n) => config.environment.iter().find(|e| &e.name == n),
        None => config.environment.first(),
    };
    let env = c
        .environment
        .clone()
        .or_else(|| chosen.map(|e| e.name.clone()))
        .unwrap_or_else(|| "none".into());
    let objectives = chosen.map(|e| e.objectives.clone()).unwrap_or_default();
    match incident(&dir.join("notes.sqlite"), &env, &objectives, action) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e}");
            ExitCode::from(1)
        }
    }
}
