//! Folding integrity findings into the state: each check on each subject as last said,
//! a failing one logged and made a Sev-1 incident subject, a passing one after it
//! recovering that subject.

use serde::{Deserialize, Serialize};

use super::{Severity, State, Subject};
use crate::event::Event;
use crate::model::{IntegrityFinding, SourceId};
use crate::time::Timestamp;

/// A finding as last said, by which source, and since when it holds or fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntegrityEntry {
    /// The source that checks it.
    pub source: SourceId,
    /// What it found.
    pub finding: IntegrityFinding,
    /// When it last turned (held -> failed or back), or was first said.
    pub since: Timestamp,
}

impl State {
    /// Records `finding`; a check that starts failing is logged and joins or opens an
    /// incident, one that holds again recovers it.
    pub(super) fn integrity(&mut self, ev: &Event, finding: &IntegrityFinding) {
        let key = finding.key();
        let before = self.integrity.get(&key).map(|e| e.finding.ok);
        let turned = before != Some(finding.ok);
        if !finding.ok && turned {
            self.log(
                ev,
                Severity::Critical,
                &finding.subject,
                format!("INTEGRITY {}: {}", finding.check, finding.detail),
            );
            let healthy_until = self.integrity.get(&key).map(|e| e.since);
            self.open_incident_for(Subject::Integrity(key.clone()), ev, healthy_until);
        } else if finding.ok && before == Some(false) {
            self.log(
                ev,
                Severity::Good,
                &finding.subject,
                format!("{} holds again: {}", finding.check, finding.detail),
            );
            self.recover(&Subject::Integrity(key.clone()), ev);
        }
        let since = match self.integrity.get(&key) {
            Some(e) if !turned => e.since,
            _ => ev.at,
        };
        self.integrity.insert(
            key,
            IntegrityEntry {
                source: ev.source.clone(),
                finding: finding.clone(),
                since,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{Event, EventBody};
    use crate::model::{IntegrityFinding, SourceId};
    use crate::state::{Severity, State};
    use crate::time::Timestamp;

    fn said(at: i64, ok: bool) -> Event {
        Event::new(
            Timestamp(at),
            SourceId::from("orders-db"),
            EventBody::Integrity {
                finding: IntegrityFinding {
                    check: "pg checksums".into(),
                    subject: "orders-db/node2".into(),
                    ok,
                    detail: if ok {
                        "no checksum failure".into()
                    } else {
                        "1 checksum failure".into()
                    },
                },
            },
        )
    }

    #[test]
    fn a_failing_check_is_a_sev1_incident_until_it_holds_again() {
        let mut s = State::default();
        s.apply(&said(1000, true));
        assert!(s.incidents.incidents.is_empty());
        assert!(s.restates(&said(1500, true)));
        s.apply(&said(2000, false));
        let i = s.open_incident().expect("an incident");
        assert_eq!(i.severity(), 1);
        assert_eq!(
            i.title,
            "integrity check failed: pg checksums: orders-db/node2"
        );
        assert_eq!(i.started_at, Timestamp(1000), "last seen holding");
        assert!(s.log.iter().any(|e| e.severity == Severity::Critical
            && e.message == "INTEGRITY pg checksums: 1 checksum failure"));
        s.apply(&said(3000, false));
        assert_eq!(s.incidents.incidents.len(), 1);
        s.apply(&said(9000, true));
        assert!(s.open_incident().is_none());
        assert_eq!(
            s.integrity["pg checksums: orders-db/node2"].since,
            Timestamp(9000)
        );
        let back = State::from_snapshot(&s.to_snapshot()).expect("read back");
        assert_eq!(back.integrity, s.integrity);
        assert_eq!(back.digest(), s.digest());
    }
}
