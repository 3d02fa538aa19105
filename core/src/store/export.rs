//! Postmortem export of one incident: Markdown for people, JSON for tools. Summary
//! (severity, status, environment, times, MTTD, MTTR, time in each status), the actions
//! taken (the journaled workflow steps), the timeline (hidden entries left out, starred
//! ones marked) interleaved with the notes.

use std::fmt::Write as _;

use serde::Serialize;

use super::{IncidentRow, NoteRow, Store, StoreError, TimelineEntry};
use crate::time::Timestamp;

/// Everything a postmortem holds.
#[derive(Clone, Debug, Serialize)]
pub struct Postmortem {
    /// The incident.
    pub incident: IncidentRow,
    /// Time to detect, in seconds.
    pub mttd_secs: Option<f64>,
    /// Time to recover, in seconds.
    pub mttr_secs: Option<f64>,
    /// Seconds in each status.
    pub time_in_status: Vec<(String, f64)>,
    /// Timeline entries shown (not hidden), in time order.
    pub timeline: Vec<TimelineEntry>,
    /// Notes, in the order of the moments they are pinned to.
    pub notes: Vec<NoteRow>,
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

impl Store {
    /// The postmortem of incident `id`, as of `now` (for an incident still open).
    pub fn postmortem(&self, id: i64, now: Timestamp) -> Result<Postmortem, StoreError> {
        let incident = self.incident(id)?;
        Ok(Postmortem {
            mttd_secs: incident.mttd_millis().map(secs),
            mttr_secs: incident.mttr_millis().map(secs),
            time_in_status: self
                .time_in_status(id, now)?
                .into_iter()
                .map(|(s, ms)| (s, secs(ms)))
                .collect(),
            timeline: self
                .timeline(id)?
                .into_iter()
                .filter(|e| !e.hidden)
                .collect(),
            notes: self.notes(Some(id))?,
            incident,
        })
    }
}

fn when(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "–".to_owned(), Timestamp::to_rfc3339)
}

fn dur(s: Option<f64>) -> String {
    s.map_or_else(|| "–".to_owned(), |s| format!("{s:.0} s"))
}

impl Postmortem {
    /// As JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// As Markdown.
    pub fn to_markdown(&self) -> String {
        let i = &self.incident;
        let mut md = format!("# Postmortem: {} (incident #{})\n\n", i.title, i.id);
        md.push_str("## Summary\n\n| | |\n|---|---|\n");
        for (k, v) in [
            ("Severity", format!("Sev{}", i.severity)),
            ("Status", i.status.clone()),
            ("Environment", i.environment.clone()),
            (
                "Opened",
                if i.origin == "detected" {
                    "detected by the console".to_owned()
                } else {
                    "by hand".to_owned()
                },
            ),
            ("Started", i.started_at.to_rfc3339()),
            ("Detected", when(i.detected_at)),
            ("Mitigated", when(i.mitigated_at)),
            ("Resolved", when(i.resolved_at)),
            ("MTTD", dur(self.mttd_secs)),
            ("MTTR", dur(self.mttr_secs)),
        ] {
            let _ = writeln!(md, "| {k} | {v} |");
        }
        if !self.time_in_status.is_empty() {
            md.push_str("\nTime in each status: ");
            md.push_str(
                &self
                    .time_in_status
                    .iter()
                    .map(|(s, t)| format!("{s} {t:.0} s"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            md.push('\n');
        }
        let actions: Vec<&TimelineEntry> = self
            .timeline
            .iter()
            .filter(|e| e.kind == "workflow")
            .collect();
        md.push_str("\n## Actions\n\n");
        if actions.is_empty() {
            md.push_str("No workflow ran during the incident.\n");
        }
        for a in actions {
            let _ = writeln!(md, "- {} `{}`: {}", a.at.to_rfc3339(), a.subject, a.text);
        }
        md.push_str("\n## Timeline\n\n");
        let mut lines: Vec<(i64, String)> = self
            .timeline
            .iter()
            .map(|e| {
                (
                    e.at.0,
                    format!(
                        "- {} {}{} · {}: {}",
                        e.at.to_rfc3339(),
                        if e.starred { "★ " } else { "" },
                        e.kind,
                        e.subject,
                        e.text
                    ),
                )
            })
            .collect();
        lines.extend(self.notes.iter().map(|n| {
            (
                n.pinned_at.0,
                format!(
                    "- {} note by {}{}: {}",
                    n.pinned_at.to_rfc3339(),
                    n.author,
                    n.entity
                        .as_ref()
                        .map(|e| format!(" about `{e}`"))
                        .unwrap_or_default(),
                    n.body.replace('\n', "\n  ")
                ),
            )
        }));
        lines.sort_by_key(|(at, _)| *at);
        for (_, l) in lines {
            md.push_str(&l);
            md.push('\n');
        }
        md.push_str("\n## Notes\n\n");
        if self.notes.is_empty() {
            md.push_str("No notes.\n");
        }
        for n in &self.notes {
            let _ = write!(
                md,
                "### {} · {}\n\n{}\n\n",
                n.pinned_at.to_rfc3339(),
                n.author,
                n.body
            );
        }
        md
    }
}
