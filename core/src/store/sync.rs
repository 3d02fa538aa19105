//! The store kept in step with the console: incidents the console detects become
//! stored incidents (with their detection time), recovered ones are resolved, and the
//! automatic timeline gathers what mattered while they were open: the console's log
//! (breaker flips, leader and quorum changes, instances down and up...) and every
//! workflow step from the journal. Idempotent: syncing again adds nothing twice.
//!
//! A detected incident's severity follows what it hit
//! ([`crate::state::Incident::severity`]): it is raised (never lowered) as worse
//! subjects join, until a person sets it by hand. Each workflow run during an incident
//! is kept as one of its actions, with the verdicts of its guards and its outcome.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Objectives, Store, StoreError};
use crate::state::State;
use crate::time::Timestamp;
use crate::workflow::{RunRow, StepRow};

/// How long before an incident's start the timeline reaches back (what led to it).
const LEAD_MILLIS: i64 = 60_000;

/// One timeline entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// Id.
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// `event` (the console's log) or `workflow` (a journaled step).
    pub kind: String,
    /// What it concerns.
    pub subject: String,
    /// What happened.
    pub text: String,
    /// Starred by the operator.
    pub starred: bool,
    /// Hidden by the operator.
    pub hidden: bool,
}

impl Store {
    /// Records the console's incidents of `state` in `environment` (measured against
    /// `objectives`) and their timelines; returns how many incidents were opened in the
    /// store.
    pub fn sync_state(
        &self,
        state: &State,
        environment: &str,
        objectives: &Objectives,
    ) -> Result<usize, StoreError> {
        let mut opened = 0;
        for inc in &state.incidents.incidents {
            let external = format!("{environment}:{}:{}", inc.started_at.0, inc.title);
            let known: Option<(i64, String)> = self
                .conn
                .query_row(
                    "SELECT id, status FROM incidents WHERE external = ?1",
                    params![external],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let id = if let Some((id, status)) = known {
                // Resolved and recorded up to its resolution on an earlier pass: nothing
                // more to write (this runs every two seconds for every incident).
                if status == "resolved" {
                    continue;
                }
                id
            } else {
                let id = self.open_incident(
                    &inc.title,
                    inc.severity(),
                    environment,
                    "detected",
                    inc.started_at,
                    Some(inc.detected_at),
                )?;
                self.conn.execute(
                    "UPDATE incidents SET external = ?2 WHERE id = ?1",
                    params![id, external],
                )?;
                self.set_objectives(id, objectives)?;
                opened += 1;
                id
            };
            let row = self.incident(id)?;
            let impact = inc.impact();
            if row.impact != impact {
                self.conn.execute(
                    "UPDATE incidents SET impact = ?2 WHERE id = ?1",
                    params![id, impact],
                )?;
            }
            if !row.severity_by_hand && inc.severity() < row.severity {
                let worst = inc
                    .subjects
                    .iter()
                    .min_by_key(|s| s.severity())
                    .map(ToString::to_string)
                    .unwrap_or_default();
                self.set_severity(
                    id,
                    inc.severity(),
                    state.now.max(inc.detected_at),
                    None,
                    &format!("{worst} is hit"),
                )?;
            }
            if let Some(r) = inc.recovered_at
                && row.status != "resolved"
            {
                self.set_status(id, "resolved", r)?;
            }
            let from = inc.started_at.0 - LEAD_MILLIS;
            let to = inc.recovered_at.map_or(i64::MAX, |r| r.0);
            for e in state.log.iter().filter(|e| (from..=to).contains(&e.at.0)) {
                self.conn.execute(
                    "INSERT OR IGNORE INTO timeline (incident_id, at, kind, subject, text)
                     VALUES (?1, ?2, 'event', ?3, ?4)",
                    params![id, e.at.0, e.subject, e.message],
                )?;
            }
        }
        self.sync_manual_timelines(state, environment)?;
        if opened > 0 {
            self.link_keyed_notes()?;
        }
        Ok(opened)
    }

    /// Gives the incidents a person opened in `environment` the console's log of their
    /// span, as the detected ones get it: what happened while one was open is its
    /// timeline, whoever opened it.
    fn sync_manual_timelines(&self, state: &State, environment: &str) -> Result<(), StoreError> {
        let Some(oldest) = state.log.front().map(|e| e.at.0) else {
            return Ok(());
        };
        // One transaction for the pass (this runs every two seconds).
        let tx = self.conn.unchecked_transaction()?;
        for i in self.incidents_touching(oldest)? {
            if i.origin == "detected" || i.environment != environment {
                continue;
            }
            let from = i.started_at.0 - LEAD_MILLIS;
            let to = i.resolved_at.map_or(i64::MAX, |r| r.0);
            for e in state.log.iter().filter(|e| (from..=to).contains(&e.at.0)) {
                tx.execute(
                    "INSERT OR IGNORE INTO timeline (incident_id, at, kind, subject, text)
                     VALUES (?1, ?2, 'event', ?3, ?4)",
                    params![i.id, e.at.0, e.subject, e.message],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Adds the journal's workflow steps that fall inside each stored incident to its
    /// timeline.
    pub fn sync_journal(&self, runs: &[(RunRow, Vec<StepRow>)]) -> Result<(), StoreError> {
        // Steps come after their run starts: an incident resolved before the oldest run
        // began has nothing to gain (this runs every two seconds).
        let Some(oldest) = runs.iter().map(|(r, _)| r.started_at.0).min() else {
            return Ok(());
        };
        // One transaction for the whole pass (one sync to disk, not one per row).
        let tx = self.conn.unchecked_transaction()?;
        for i in self.incidents_touching(oldest)? {
            let from = i.started_at.0 - LEAD_MILLIS;
            let to = i.resolved_at.map_or(i64::MAX, |r| r.0);
            for (run, steps) in runs {
                if (from..=to).contains(&run.started_at.0) {
                    let guards = steps
                        .iter()
                        .find(|s| s.phase == "guards")
                        .map_or("", |s| s.detail.as_str());
                    self.conn.execute(
                        "INSERT INTO actions (incident_id, run_id, kind, target, operator,
                                              started_at, outcome, guards)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (incident_id, run_id) DO UPDATE
                         SET outcome = excluded.outcome, guards = excluded.guards",
                        params![
                            i.id,
                            run.id,
                            run.kind,
                            run.target,
                            run.operator,
                            run.started_at.0,
                            run.outcome,
                            guards
                        ],
                    )?;
                }
                // The guards' verdicts are the action's, not timeline entries.
                for s in steps
                    .iter()
                    .filter(|s| s.phase != "guards" && (from..=to).contains(&s.at.0))
                {
                    let text = format!(
                        "run #{} {} by {}: {} {} — {}{}",
                        run.id,
                        run.kind,
                        run.operator,
                        s.phase,
                        s.action,
                        s.outcome,
                        if s.detail.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", s.detail)
                        }
                    );
                    self.conn.execute(
                        "INSERT OR IGNORE INTO timeline (incident_id, at, kind, subject, text)
                         VALUES (?1, ?2, 'workflow', ?3, ?4)",
                        params![i.id, s.at.0, run.target, text],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// An incident's timeline, in time order (hidden entries too; the view decides).
    pub fn timeline(&self, incident: i64) -> Result<Vec<TimelineEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, kind, subject, text, starred, hidden FROM timeline
             WHERE incident_id = ?1 ORDER BY at, id",
        )?;
        let rows = stmt.query_map(params![incident], timeline_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One timeline entry.
    pub fn timeline_entry(&self, entry: i64) -> Result<TimelineEntry, StoreError> {
        self.conn
            .query_row(
                "SELECT id, at, kind, subject, text, starred, hidden FROM timeline WHERE id = ?1",
                params![entry],
                timeline_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no timeline entry #{entry}")))
    }

    /// Stars or hides a timeline entry.
    pub fn mark(&self, entry: i64, starred: bool, hidden: bool) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE timeline SET starred = ?2, hidden = ?3 WHERE id = ?1",
            params![entry, starred, hidden],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("no timeline entry #{entry}")));
        }
        Ok(())
    }
}

/// A timeline row: id, at, kind, subject, text, starred, hidden.
fn timeline_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TimelineEntry> {
    Ok(TimelineEntry {
        id: r.get(0)?,
        at: Timestamp(r.get(1)?),
        kind: r.get(2)?,
        subject: r.get(3)?,
        text: r.get(4)?,
        starred: r.get(5)?,
        hidden: r.get(6)?,
    })
}
