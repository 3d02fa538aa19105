//! Incidents derived from the event stream.
//!
//! An incident opens when a subject (a cluster's quorum, a breaker, a service, a
//! database cluster) turns unhealthy while no incident is open; subjects that turn
//! unhealthy while one is open join it. It recovers when every affected subject is
//! healthy again.
//!
//! - `detected_at` is the time of the event that showed the problem.
//! - `started_at` is the best evidence of when the fault began: in a drill, the time the
//!   fault was injected; otherwise the last observation that still saw the subject
//!   healthy (so MTTD is an upper bound, never flattering).
//! - MTTD = detected - started; MTTR = recovered - detected (domain.md §10).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{BreakerId, ClusterId, ServiceId};
use crate::time::Timestamp;

/// A fault injected this long before detection still counts as the incident's start.
const FAULT_ATTRIBUTION_MILLIS: i64 = 10 * 60 * 1000;

/// Something that can be unhealthy and so be part of an incident.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A consensus cluster whose quorum is not healthy.
    Quorum(ClusterId),
    /// An open breaker.
    Breaker(BreakerId),
    /// A service with most instances unhealthy.
    Service(ServiceId),
    /// A database cluster without exactly one reachable primary.
    Database(ClusterId),
    /// An integrity check that fails (`pg checksums: orders-db/node2`): data that may be
    /// wrong where it is read.
    Integrity(String),
}

impl Subject {
    /// The severity its loss alone warrants, Sev0 (worst) to Sev3: a consensus quorum
    /// or a database's single primary lost stops writes (Sev0); a service mostly down
    /// stops its users, and data that fails an integrity check may be served wrong
    /// (Sev1); an open breaker sheds or fails over one route (Sev2).
    pub const fn severity(&self) -> u8 {
        match self {
            Self::Quorum(_) | Self::Database(_) => 0,
            Self::Service(_) | Self::Integrity(_) => 1,
            Self::Breaker(_) => 2,
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Quorum(c) => write!(f, "quorum of {c}"),
            Self::Breaker(b) => write!(f, "breaker {b}"),
            Self::Service(s) => write!(f, "service {s}"),
            Self::Database(d) => write!(f, "database {d}"),
            Self::Integrity(i) => write!(f, "integrity ({i})"),
        }
    }
}

/// One incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Sequence number, from 1.
    pub id: u64,
    /// What was first seen, e.g. "breaker edge/checkout open".
    pub title: String,
    /// Best evidence of when the fault began.
    pub started_at: Timestamp,
    /// When the console saw it.
    pub detected_at: Timestamp,
    /// When every affected subject was healthy again.
    pub recovered_at: Option<Timestamp>,
    /// Every subject that was affected, in order of appearance.
    pub subjects: Vec<Subject>,
    /// The injected drill fault behind it, if any.
    pub fault: Option<String>,
    /// The operator who acknowledged it.
    pub acked_by: Option<String>,
}

impl Incident {
    /// Time to detect, in milliseconds.
    pub const fn mttd_millis(&self) -> i64 {
        self.detected_at.millis_since(self.started_at)
    }

    /// Time to recover from detection, in milliseconds; `None` while open.
    pub fn mttr_millis(&self) -> Option<i64> {
        self.recovered_at.map(|r| r.millis_since(self.detected_at))
    }

    /// The worst severity of what it hit (see [`Subject::severity`]); Sev3 with no
    /// subject.
    pub fn severity(&self) -> u8 {
        self.subjects
            .iter()
            .map(Subject::severity)
            .min()
            .unwrap_or(3)
    }

    /// What it hit, in words: "quorum of etcd-main, service checkout".
    pub fn impact(&self) -> String {
        self.subjects
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether it is still open.
    pub const fn open(&self) -> bool {
        self.recovered_at.is_none()
    }
}

/// Incidents the state keeps: a console that runs for weeks does not grow. The oldest
/// resolved ones go first (an operator console's incident store has kept them; a wall
/// or a replay shows "N older ones not kept"). A session recorded by a console without
/// this bound that holds more than this many incidents replays with the oldest let go,
/// and its keyframe check reports the difference from that point.
pub const INCIDENTS_KEPT: usize = 200;

/// Keeps the set of unhealthy subjects and opens and closes incidents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentTracker {
    /// The incidents, oldest first: every open one and the newest resolved ones, at
    /// most [`INCIDENTS_KEPT`] in all.
    pub incidents: Vec<Incident>,
    unhealthy: BTreeMap<Subject, Timestamp>,
    pending_fault: Option<(Timestamp, String)>,
}

impl IncidentTracker {
    /// Remembers a drill fault's start, to date the next incident.
    pub fn fault_injected(&mut self, at: Timestamp, fault: &str) {
        self.pending_fault = Some((at, fault.to_owned()));
    }

    /// `subject` was seen unhealthy at `at`; `healthy_until` is the last time it was seen healthy.
    /// Returns the id of a newly opened incident.
    pub fn unhealthy(
        &mut self,
        subject: Subject,
        at: Timestamp,
        healthy_until: Option<Timestamp>,
    ) -> Option<u64> {
        if self.unhealthy.contains_key(&subject) {
            return None;
        }
        self.unhealthy.insert(subject.clone(), at);
        if let Some(open) = self.incidents.last_mut().filter(|i| i.open()) {
            if !open.subjects.contains(&subject) {
                open.subjects.push(subject);
            }
            return None;
        }
        let fault = self
            .pending_fault
            .take()
            .filter(|(t, _)| *t <= at && at.millis_since(*t) <= FAULT_ATTRIBUTION_MILLIS);
        let started_at = match (&fault, healthy_until) {
            (Some((t, _)), _) => *t,
            (None, Some(h)) if h <= at => h,
            _ => at,
        };
        // Ids run on from the newest, whatever was let go.
        let id = self.incidents.last().map_or(1, |i| i.id + 1);
        if self.incidents.len() >= INCIDENTS_KEPT {
            // The oldest resolved ones go (the incident store keeps them all).
            let excess = self.incidents.len() + 1 - INCIDENTS_KEPT;
            let mut gone = 0;
            self.incidents.retain(|i| {
                let go = gone < excess && !i.open();
                gone += usize::from(go);
                !go
            });
        }
        let title = match &subject {
            Subject::Quorum(c) => format!("{c} quorum not healthy"),
            Subject::Breaker(b) => format!("breaker {b} open"),
            Subject::Service(s) => format!("service {s} unhealthy"),
            Subject::Database(d) => format!("database {d} without a single primary"),
            Subject::Integrity(i) => format!("integrity check failed: {i}"),
        };
        self.incidents.push(Incident {
            id,
            title,
            started_at,
            detected_at: at,
            recovered_at: None,
            subjects: vec![subject],
            fault: fault.map(|(_, f)| f),
            acked_by: None,
        });
        Some(id)
    }

    /// `subject` was seen healthy at `at`. Returns the id of an incident this recovered.
    pub fn healthy(&mut self, subject: &Subject, at: Timestamp) -> Option<u64> {
        self.unhealthy.remove(subject)?;
        if !self.unhealthy.is_empty() {
            return None;
        }
        let open = self.incidents.last_mut().filter(|i| i.open())?;
        open.recovered_at = Some(at);
        Some(open.id)
    }

    /// Records who acknowledged an incident.
    pub fn ack(&mut self, id: u64, operator: &str) {
        if let Some(i) = self.incidents.iter_mut().find(|i| i.id == id) {
            i.acked_by = Some(operator.to_owned());
        }
    }

    /// The open incident, if any.
    pub fn open(&self) -> Option<&Incident> {
        self.incidents.last().filter(|i| i.open())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str) -> Subject {
        Subject::Service(ServiceId::new(name))
    }

    /// MTTD and MTTR for the ways an incident can start and end.
    #[test]
    fn mttd_mttr_table() {
        struct Row {
            name: &'static str,
            fault_at: Option<i64>,
            healthy_until: Option<i64>,
            detected: i64,
            recovered: i64,
            mttd: i64,
            mttr: i64,
        }
        let rows = [
            Row {
                name: "no evidence",
                fault_at: None,
                healthy_until: None,
                detected: 5_000,
                recovered: 65_000,
                mttd: 0,
                mttr: 60_000,
            },
            Row {
                name: "last healthy poll",
                fault_at: None,
                healthy_until: Some(4_000),
                detected: 5_000,
                recovered: 9_000,
                mttd: 1_000,
                mttr: 4_000,
            },
            Row {
                name: "drill fault",
                fault_at: Some(1_000),
                healthy_until: Some(4_000),
                detected: 5_000,
                recovered: 35_000,
                mttd: 4_000,
                mttr: 30_000,
            },
            Row {
                name: "fault too old",
                fault_at: Some(1_000),
                healthy_until: Some(999_000),
                detected: 1_000_000,
                recovered: 1_000_500,
                mttd: 1_000,
                mttr: 500,
            },
        ];
        for r in rows {
            let mut t = IncidentTracker::default();
            if let Some(f) = r.fault_at {
                t.fault_injected(Timestamp(f), "connection_leak");
            }
            let id = t.unhealthy(
                svc("a"),
                Timestamp(r.detected),
                r.healthy_until.map(Timestamp),
            );
            assert_eq!(id, Some(1), "{}", r.name);
            assert_eq!(
                t.healthy(&svc("a"), Timestamp(r.recovered)),
                Some(1),
                "{}",
                r.name
            );
            let i = &t.incidents[0];
            assert_eq!(i.mttd_millis(), r.mttd, "{}", r.name);
            assert_eq!(i.mttr_millis(), Some(r.mttr), "{}", r.name);
        }
    }

    #[test]
    fn subjects_join_the_open_incident_and_all_must_recover() {
        let mut t = IncidentTracker::default();
        assert_eq!(t.unhealthy(svc("a"), Timestamp(10), None), Some(1));
        assert_eq!(t.unhealthy(svc("b"), Timestamp(20), None), None);
        assert_eq!(
            t.unhealthy(svc("a"), Timestamp(25), None),
            None,
            "already unhealthy"
        );
        assert_eq!(t.healthy(&svc("a"), Timestamp(30)), None, "b is still down");
        assert!(t.open().is_some());
        assert_eq!(t.healthy(&svc("b"), Timestamp(40)), Some(1));
        assert!(t.open().is_none());
        assert_eq!(t.incidents[0].subjects, vec![svc("a"), svc("b")]);
        assert_eq!(t.incidents[0].mttr_millis(), Some(30));
        // A new problem opens a new incident.
        assert_eq!(t.unhealthy(svc("a"), Timestamp(50), None), Some(2));
    }

    /// The severity follows the worst thing hit, and rises as worse things join.
    #[test]
    fn severity_follows_what_is_hit() {
        let mut t = IncidentTracker::default();
        t.unhealthy(
            Subject::Breaker(BreakerId::new("edge/checkout")),
            Timestamp(1),
            None,
        );
        assert_eq!(t.incidents[0].severity(), 2, "an open breaker");
        t.unhealthy(svc("checkout"), Timestamp(2), None);
        assert_eq!(t.incidents[0].severity(), 1, "a service down");
        t.unhealthy(
            Subject::Database(ClusterId::new("orders-db")),
            Timestamp(3),
            None,
        );
        assert_eq!(t.incidents[0].severity(), 0, "no primary: writes stop");
        assert_eq!(
            t.incidents[0].impact(),
            "breaker edge/checkout, service checkout, database orders-db"
        );
        assert_eq!(
            Subject::Quorum(ClusterId::new("etcd")).severity(),
            0,
            "quorum lost"
        );
    }

    #[test]
    fn healthy_without_incident_is_a_no_op() {
        let mut t = IncidentTracker::default();
        assert_eq!(t.healthy(&svc("a"), Timestamp(1)), None);
        assert!(t.incidents.is_empty());
    }

    #[test]
    fn only_the_newest_incidents_are_kept_and_ids_run_on() {
        let mut t = IncidentTracker::default();
        for n in 0..(INCIDENTS_KEPT as i64 + 50) {
            let at = n * 1000;
            t.unhealthy(svc("a"), Timestamp(at), None).expect("opens");
            t.healthy(&svc("a"), Timestamp(at + 500)).expect("recovers");
        }
        assert_eq!(t.incidents.len(), INCIDENTS_KEPT);
        assert_eq!(t.incidents[0].id, 51, "the 50 oldest went");
        assert_eq!(
            t.incidents.last().map(|i| i.id),
            Some(INCIDENTS_KEPT as u64 + 50),
            "ids run on"
        );
    }
}
