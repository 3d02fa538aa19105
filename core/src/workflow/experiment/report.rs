//! What one experiment run measured, by the console's own clock and view: the moments
//! (fault injected, hypothesis broken, recovery started, hypothesis holding again,
//! fault undone), the figures derived from them (MTTD, MTTR, against the goal), the
//! blast radius and the timeline. Kept as JSON in the journal beside the run, so each
//! experiment has a history; rendered as Markdown for the incident and the postmortem.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// One moment of a run: when, and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// When (the console's clock).
    pub at: Timestamp,
    /// What happened, in words.
    pub what: String,
}

/// One run of an experiment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentReport {
    /// The experiment.
    pub experiment: String,
    /// Its title.
    pub title: String,
    /// The environment.
    pub environment: String,
    /// Who ran it.
    pub operator: String,
    /// The journal's run id.
    pub run: i64,
    /// How it ended: `recovered`, `held` (the fault never broke the hypothesis),
    /// `aborted`, `not recovered`.
    pub outcome: String,
    /// Why, in one line.
    pub summary: String,
    /// The fault, in words.
    pub fault: String,
    /// When the fault's action was sent.
    pub injected_at: Option<Timestamp>,
    /// When the fault's action had finished (a node off, every leaked session open).
    #[serde(default)]
    pub in_place_at: Option<Timestamp>,
    /// When the hypothesis was first seen broken.
    pub detected_at: Option<Timestamp>,
    /// What broke first.
    pub detected_by: Option<String>,
    /// When recovery started.
    pub recovery_started_at: Option<Timestamp>,
    /// Who or what recovered it (`runbook sev0-connection-leak, started automatically`,
    /// `the system itself`).
    pub recovery_by: Option<String>,
    /// When the hypothesis held again (and kept holding).
    pub recovered_at: Option<Timestamp>,
    /// When the fault was undone.
    pub undone_at: Option<Timestamp>,
    /// Injection to detection.
    pub mttd_millis: Option<i64>,
    /// Injection to verified recovery.
    pub mttr_millis: Option<i64>,
    /// The goal, injection to verified recovery.
    pub goal_millis: Option<i64>,
    /// The blast radius asked and what the fault took.
    pub blast_radius: String,
    /// Nothing outside the experiment's scope broke.
    pub blast_radius_held: bool,
    /// How finely the console sampled its view, in milliseconds.
    pub resolution_millis: u64,
    /// Everything that happened, in order.
    pub timeline: Vec<Mark>,
}

/// A duration in words: `840 ms`, `12.3 s`.
fn millis(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        #[allow(clippy::cast_precision_loss)]
        let s = ms as f64 / 1000.0;
        format!("{s:.1} s")
    }
}

fn at(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "–".to_owned(), Timestamp::to_rfc3339)
}

impl ExperimentReport {
    /// Whether the run met its goal (none without one or without a recovery).
    pub fn met_goal(&self) -> Option<bool> {
        Some(self.mttr_millis? <= self.goal_millis?)
    }

    /// The run in one line (`backend-lost #12: recovered in 2.1 s (goal 3.0 s), MTTD 640 ms`).
    pub fn line(&self) -> String {
        let mut s = format!("{} #{}: {}", self.experiment, self.run, self.outcome);
        if let Some(r) = self.mttr_millis {
            let _ = write!(s, " in {}", millis(r));
            if let Some(g) = self.goal_millis {
                let _ = write!(s, " (goal {})", millis(g));
            }
        }
        if let Some(d) = self.mttd_millis {
            let _ = write!(s, ", MTTD {}", millis(d));
        }
        if !self.blast_radius_held {
            s.push_str(", BLAST RADIUS BROKEN");
        }
        s
    }

    /// The report as Markdown (for the incident's notes and the postmortem).
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "## GAME DAY: {} (run #{})\n\n{}\n\n**{}**: {}\n\n",
            self.experiment, self.run, self.title, self.outcome, self.summary
        );
        let _ = write!(
            md,
            "Environment {} · operator {} · fault: {}\n\n",
            self.environment, self.operator, self.fault
        );
        md.push_str("| measure | value |\n|---|---|\n");
        let figure = |v: Option<i64>| v.map_or_else(|| "–".to_owned(), millis);
        let _ = writeln!(md, "| fault injected | {} |", at(self.injected_at));
        let _ = writeln!(md, "| fault in place | {} |", at(self.in_place_at));
        let _ = writeln!(
            md,
            "| detected | {}{} |",
            at(self.detected_at),
            self.detected_by
                .as_ref()
                .map(|b| format!(" ({b})"))
                .unwrap_or_default()
        );
        let _ = writeln!(md, "| MTTD | {} |", figure(self.mttd_millis));
        let _ = writeln!(
            md,
            "| recovery started | {}{} |",
            at(self.recovery_started_at),
            self.recovery_by
                .as_ref()
                .map(|b| format!(" ({b})"))
                .unwrap_or_default()
        );
        let _ = writeln!(md, "| verified recovery | {} |", at(self.recovered_at));
        let _ = writeln!(
            md,
            "| MTTR (fault to verified recovery) | {}{} |",
            figure(self.mttr_millis),
            match (self.met_goal(), self.goal_millis) {
                (Some(true), Some(g)) => format!(", goal {} met", millis(g)),
                (Some(false), Some(g)) => format!(", goal {} MISSED", millis(g)),
                (_, Some(g)) => format!(", goal {}", millis(g)),
                _ => String::new(),
            }
        );
        let _ = writeln!(md, "| fault undone | {} |", at(self.undone_at));
        let _ = writeln!(
            md,
            "| blast radius | {} ({}) |",
            self.blast_radius,
            if self.blast_radius_held {
                "held"
            } else {
                "BROKEN"
            }
        );
        let _ = write!(
            md,
            "\nMeasured by the console from its own view, sampled every {} ms.\n\n### Timeline\n\n",
            self.resolution_millis
        );
        for m in &self.timeline {
            let _ = writeln!(md, "- {} {}", m.at.to_rfc3339(), m.what);
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_says_its_figures_against_the_goal() {
        let r = ExperimentReport {
            experiment: "backend-lost".into(),
            run: 7,
            outcome: "recovered".into(),
            injected_at: Some(Timestamp(1_000)),
            detected_at: Some(Timestamp(1_640)),
            recovered_at: Some(Timestamp(3_100)),
            mttd_millis: Some(640),
            mttr_millis: Some(2_100),
            goal_millis: Some(3_000),
            blast_radius: "1 of 2 instances (at most 1, 50 %)".into(),
            blast_radius_held: true,
            resolution_millis: 50,
            timeline: vec![Mark {
                at: Timestamp(1_000),
                what: "fault: fence web1-node".into(),
            }],
            ..ExperimentReport::default()
        };
        assert_eq!(r.met_goal(), Some(true));
        assert_eq!(
            r.line(),
            "backend-lost #7: recovered in 2.1 s (goal 3.0 s), MTTD 640 ms"
        );
        let md = r.markdown();
        assert!(
            md.contains("| MTTR (fault to verified recovery) | 2.1 s, goal 3.0 s met |"),
            "{md}"
        );
        assert!(md.contains("| MTTD | 640 ms |"), "{md}");
        assert!(md.contains("fault: fence web1-node"), "{md}");
        let back: ExperimentReport =
            serde_json::from_str(&serde_json::to_string(&r).expect("json")).expect("read back");
        assert_eq!(back, r);
    }
}
