//! Postmortem export of one incident: Markdown for people, JSON for tools. Summary
//! (severity, status, environment, times, MTTD, MTTR, time in each status), impact
//! (what was hit, downtime against the RTO, the RPO target, the cost estimate), the
//! actions taken (each workflow run with its guards' verdicts, its outcome and its
//! journaled steps), the timeline (hidden entries left out, starred ones marked)
//! interleaved with the notes.

use std::fmt::Write as _;

use serde::Serialize;

use rusqlite::params;

use super::{CostEstimate, IncidentRow, NoteRow, RtoStatus, Store, StoreError, TimelineEntry};
use crate::time::Timestamp;

/// A workflow run during an incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionRow {
    /// The journal's run id.
    pub run: i64,
    /// Workflow.
    pub kind: String,
    /// Target.
    pub target: String,
    /// Who ran it.
    pub operator: String,
    /// When it started.
    pub started_at: Timestamp,
    /// How it ended (`running` while it runs).
    pub outcome: String,
    /// Its guards' verdicts when it was confirmed, a line each
    /// ("read-only: PASS (the environment allows changes)").
    pub guards: String,
}

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
    /// MTTD + MTTR: start to resolution (or to the export), in seconds.
    pub downtime_secs: f64,
    /// Against the RTO, when one was set.
    pub rto: Option<RtoStatus>,
    /// The downtime cost, an estimate, when a rate and a value were set.
    pub cost: Option<CostEstimate>,
    /// The workflow runs during the incident, in order.
    pub actions: Vec<ActionRow>,
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
            downtime_secs: secs(incident.downtime_millis(now)),
            rto: incident.rto(now),
            cost: incident.cost(now),
            actions: self.actions(id)?,
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

impl Store {
    /// The workflow runs during incident `id`, in order.
    pub fn actions(&self, id: i64) -> Result<Vec<ActionRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT run_id, kind, target, operator, started_at, outcome, guards FROM actions
             WHERE incident_id = ?1 ORDER BY started_at, run_id",
        )?;
        let rows = stmt.query_map(params![id], |r| {
            Ok(ActionRow {
                run: r.get(0)?,
                kind: r.get(1)?,
                target: r.get(2)?,
                operator: r.get(3)?,
                started_at: Timestamp(r.get(4)?),
                outcome: r.get(5)?,
                guards: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        md.push_str("\n## Impact\n\n");
        let _ = writeln!(
            md,
            "- Hit: {}",
            if i.impact.is_empty() {
                "not recorded (opened by hand)"
            } else {
                &i.impact
            }
        );
        let _ = writeln!(
            md,
            "- Downtime (MTTD + MTTR): {:.0} s{}",
            self.downtime_secs,
            if i.resolved_at.is_none() {
                ", still open at export"
            } else {
                ""
            }
        );
        let o = &i.objectives;
        if let (Some(rto), Some(status)) = (o.rto_secs, &self.rto) {
            let _ = writeln!(
                md,
                "- RTO {}: {}",
                super::clock(rto as i64),
                status.describe()
            );
        }
        if let Some(rpo) = o.rpo_secs {
            let _ = writeln!(
                md,
                "- RPO target {}; data loss is not measured by the console",
                super::clock(rpo as i64)
            );
        }
        match &self.cost {
            Some(c) => {
                let _ = writeln!(md, "- Cost: {}", c.describe());
            }
            None => md.push_str(
                "- Cost: no estimate (the environment sets no transaction rate and value)\n",
            ),
        }
        md.push_str("\n## Actions\n");
        if self.actions.is_empty() {
            md.push_str("\nNo workflow ran during the incident.\n");
        }
        for a in &self.actions {
            let _ = write!(
                md,
                "\n### Run #{}: {} `{}` by {} — {}\n\nStarted {}.\n",
                a.run,
                a.kind,
                a.target,
                a.operator,
                a.outcome,
                a.started_at.to_rfc3339()
            );
            if a.guards.is_empty() {
                md.push_str("\nGuards: not journaled.\n");
            } else {
                md.push_str("\nGuards, as confirmed:\n\n");
                for g in a.guards.lines() {
                    let _ = writeln!(md, "- {g}");
                }
            }
            let prefix = format!("run #{} ", a.run);
            let steps: Vec<&TimelineEntry> = self
                .timeline
                .iter()
                .filter(|e| e.kind == "workflow" && e.text.starts_with(&prefix))
                .collect();
            if !steps.is_empty() {
                md.push_str("\nSteps:\n\n");
                for e in steps {
                    let _ = writeln!(md, "- {} {}", e.at.to_rfc3339(), e.text);
                }
            }
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
