//! `switchboard session info FILE` and the headless forms of `switchboard replay FILE`
//! (`--at TIME`, `--export FILE`): a recorded session read through the same reducer
//! as the live console.

use std::io::Write as _;
use std::path::Path;

use clap::Subcommand;
use switchboard_core::StatusReport;
use switchboard_core::session::Row;
use switchboard_core::session::replay::{Replay, parse_moment};

/// `switchboard session ...`.
#[derive(Subcommand, Debug)]
pub enum SessionCmd {
    /// What a session file holds: time range, events, sources, incidents, and whether
    /// its replay matches every keyframe.
    Info {
        /// The session file.
        file: std::path::PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Opens and indexes `file`, telling the user on stderr about anything wrong with it.
fn open(file: &Path) -> Result<Replay, String> {
    let mut r = Replay::open(file).map_err(|e| e.to_string())?;
    r.index(&mut |_, _| {});
    for w in r.warnings() {
        eprintln!("switchboard: warning: {w}");
    }
    Ok(r)
}

/// `session info`.
pub fn info(cmd: &SessionCmd) -> Result<(), String> {
    let SessionCmd::Info { file, json } = cmd;
    let r = open(file)?;
    let sources = r.reader().sources().map_err(|e| e.to_string())?;
    let end = r.state_at_seq(r.last_seq()).map_err(|e| e.to_string())?;
    let meta = r.meta();
    let span = r.span();
    let v = r.verification();
    let incidents: Vec<serde_json::Value> = end
        .incidents
        .incidents
        .iter()
        .map(|i| {
            serde_json::json!({
                "id": i.id,
                "title": i.title,
                "severity": format!("Sev{}", i.severity()),
                "started_at": i.started_at.to_rfc3339(),
                "detected_at": i.detected_at.to_rfc3339(),
                "recovered_at": i.recovered_at.map(switchboard_core::Timestamp::to_rfc3339),
                "mttd_secs": i.mttd_millis() as f64 / 1000.0,
                "mttr_secs": i.mttr_millis().map(|m| m as f64 / 1000.0),
            })
        })
        .collect();
    let report = serde_json::json!({
        "file": file.display().to_string(),
        "format": r.reader().format().map_err(|e| e.to_string())?,
        "app_version": meta.app_version,
        "environment": meta.environment,
        "drill": meta.drill,
        "from": span.map(|s| s.0.to_rfc3339()),
        "to": span.map(|s| s.1.to_rfc3339()),
        "duration_secs": span.map(|s| s.1.millis_since(s.0) as f64 / 1000.0),
        "events": r.last_seq() - r.first_seq(),
        "starts_after_event": r.first_seq(),
        "segment": meta.segment,
        "raw_events": r.raw().1,
        "keyframes": { "recorded": r.keyframes().len(), "checked": v.checked, "matched": v.matched },
        "sources": sources.iter().map(|(name, kinds, n)| serde_json::json!({
            "name": name, "events": n, "kinds": kinds,
        })).collect::<Vec<_>>(),
        "incidents": incidents,
        "warnings": r.warnings(),
    });
    if *json {
        println!("{report}");
        return Ok(());
    }
    let drill = if meta.drill { " (DRILL)" } else { "" };
    println!("{}{drill}", file.display());
    println!(
        "  environment {} · recorded by Switchboard {}",
        meta.environment, meta.app_version
    );
    if let Some((a, b)) = span {
        println!(
            "  {} .. {} ({:.0} s)",
            a.to_rfc3339(),
            b.to_rfc3339(),
            b.millis_since(a) as f64 / 1000.0
        );
    }
    println!(
        "  {} events · keyframes: {} of {} match",
        r.last_seq() - r.first_seq(),
        v.matched,
        v.checked
    );
    if r.first_seq() > 0 {
        println!(
            "  segment {} of a flight recording: starts from the console's state after event {}",
            meta.segment,
            r.first_seq()
        );
    }
    for (name, kinds, n) in &sources {
        println!("  source {name}: {n} events ({})", kinds.join(", "));
    }
    for i in &end.incidents.incidents {
        println!(
            "  incident #{} Sev{} {} · detected {}{}",
            i.id,
            i.severity(),
            i.title,
            i.detected_at.to_rfc3339(),
            i.recovered_at
                .map(|t| format!(" · recovered {}", t.to_rfc3339()))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `replay FILE --at TIME [--json]`: the status as it was then.
pub fn at(file: &Path, moment: &str, json: bool) -> Result<(), String> {
    let r = open(file)?;
    let (first, _) = r
        .span()
        .ok_or_else(|| format!("{}: the session holds no events", file.display()))?;
    let at = parse_moment(moment, first)?;
    let state = r.state_at(at).map_err(|e| e.to_string())?;
    let report = StatusReport::new(&state, at);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        println!("REPLAY of {} as of {}", file.display(), at.to_rfc3339());
        super::headless::print_status(&report);
    }
    Ok(())
}

/// `replay FILE --export OUT`: every event as a JSON line (as `watch --json` prints
/// them); events of kinds this build does not know, as recorded.
pub fn export(file: &Path, out: &Path) -> Result<(), String> {
    let r = open(file)?;
    let drill = r.meta().drill;
    let file_out =
        std::fs::File::create(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let mut writer = std::io::BufWriter::new(file_out);
    let mut failed = None;
    let mut n = 0u64;
    r.reader()
        .rows(r.first_seq(), r.last_seq(), |row| {
            if failed.is_some() {
                return;
            }
            let line = match row {
                Row::Event(_, e) => switchboard_core::event_json_line(&e, drill),
                Row::Raw(raw) => serde_json::json!({
                    "at": raw.at.to_rfc3339(),
                    "source": raw.source,
                    "drill": drill,
                    "kind": raw.kind,
                    "raw": serde_json::from_str::<serde_json::Value>(&raw.body)
                        .unwrap_or(serde_json::Value::Null),
                })
                .to_string(),
            };
            if let Err(e) = writeln!(writer, "{line}") {
                failed = Some(e);
            }
            n += 1;
        })
        .map_err(|e| e.to_string())?;
    if let Some(e) = failed.or_else(|| writer.flush().err()) {
        return Err(format!("cannot write {}: {e}", out.display()));
    }
    eprintln!("switchboard: {n} events written to {}", out.display());
    Ok(())
}
