//! Folding what DNS sources read of public names into the state, and logging what an
//! operator must know: a name that moved (a failover, by this console or anyone), and
//! each concern as it appears (a server unreachable, servers that disagree, SOA serials
//! that differ).

use serde::{Deserialize, Serialize};

use super::{Severity, State};
use crate::event::Event;
use crate::model::{DnsRecordView, SourceId};
use crate::time::Timestamp;

/// A public name as last read, by which source, and since when it points where it does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DnsEntry {
    /// The DNS source that reads it.
    pub source: SourceId,
    /// What it read.
    pub record: DnsRecordView,
    /// When its target (the value every place agrees on) last changed.
    pub since: Timestamp,
}

impl State {
    /// Records `record` and logs its move and its new concerns.
    pub(super) fn dns_record(&mut self, ev: &Event, record: &DnsRecordView) {
        let before = self.dns.get(&record.name);
        let target = record.target();
        let moved = before.is_none_or(|b| b.record.target() != target);
        let old_concerns = before.map(|b| b.record.concerns()).unwrap_or_default();
        if let Some(b) = before.filter(|_| moved) {
            let severity = if record.agreed().is_some() {
                Severity::Warn
            } else {
                Severity::Critical
            };
            let was = b.record.target();
            self.log(
                ev,
                severity,
                &record.name,
                format!("now points to {target} (was {was})"),
            );
        }
        for c in record.concerns() {
            if !old_concerns.contains(&c) {
                self.log(ev, Severity::Warn, &record.name, c);
            }
        }
        let since = match self.dns.get(&record.name) {
            Some(b) if !moved => b.since,
            _ => ev.at,
        };
        self.dns.insert(
            record.name.clone(),
            DnsEntry {
                source: ev.source.clone(),
                record: record.clone(),
                since,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{Event, EventBody};
    use crate::model::{DnsRead, DnsRecordView, DnsSide, SourceId};
    use crate::state::State;
    use crate::time::Timestamp;

    fn said(at: i64, target: &str) -> Event {
        let read = |server: &str| DnsRead {
            server: server.into(),
            values: vec![target.into()],
            ttl_secs: Some(15),
            serial: Some(3),
            error: None,
        };
        Event::new(
            Timestamp(at),
            SourceId::from("public-dns"),
            EventBody::DnsRecord {
                record: DnsRecordView {
                    name: "www.example.test".into(),
                    zone: "example.test".into(),
                    rtype: "CNAME".into(),
                    reads: vec![read("127.0.0.1:5301"), read("127.0.0.1:5302")],
                    primary: vec!["eu-west.example.test".into()],
                    standby: vec!["eu-central.example.test".into()],
                    service: None,
                },
            },
        )
    }

    #[test]
    fn a_move_is_logged_once_with_where_it_was_and_since_follows_it() {
        let mut s = State::default();
        s.apply(&said(1000, "eu-west.example.test"));
        s.apply(&said(2000, "eu-west.example.test"));
        assert!(s.restates(&said(2500, "eu-west.example.test")));
        assert!(!s.restates(&said(2500, "eu-central.example.test")));
        s.apply(&said(3000, "eu-central.example.test"));
        let moves: Vec<_> = s
            .log
            .iter()
            .filter(|e| e.message.starts_with("now points to"))
            .collect();
        assert_eq!(moves.len(), 1, "{:?}", s.log);
        assert_eq!(
            moves[0].message,
            "now points to CNAME eu-central.example.test (was CNAME eu-west.example.test)"
        );
        let e = &s.dns["www.example.test"];
        assert_eq!(e.since, Timestamp(3000));
        assert_eq!(e.record.side(), DnsSide::Standby);
        let back = State::from_snapshot(&s.to_snapshot()).expect("read back");
        assert_eq!(back.dns, s.dns);
        assert_eq!(back.digest(), s.digest());
    }
}
