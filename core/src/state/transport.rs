//! Folding a source's transport (its TLS and certificate dates) into the state, and
//! logging what an operator must know about it: a connection made INSECURE, a
//! certificate expired or expiring within two weeks.

use super::{Severity, State};
use crate::event::Event;
use crate::model::Transport;

impl State {
    /// Records `transport` for the event's source and logs each concern it raises that
    /// the source's previous transport did not, both judged at the event's time.
    pub(super) fn source_transport(&mut self, ev: &Event, transport: &Transport) {
        let before = self
            .transports
            .get(&ev.source)
            .map(|t| t.concerns(ev.at))
            .unwrap_or_default();
        for c in transport.concerns(ev.at) {
            if !before.contains(&c) {
                let severity = if c.error {
                    Severity::Critical
                } else {
                    Severity::Warn
                };
                self.log(ev, severity, ev.source.as_str(), c.words);
            }
        }
        self.transports.insert(ev.source.clone(), transport.clone());
    }

    /// The source's transport, if it said one.
    pub fn transport(&self, source: &str) -> Option<&Transport> {
        self.transports.get(source)
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{Event, EventBody};
    use crate::model::{SourceId, TlsMode, Transport};
    use crate::state::{Severity, State};
    use crate::time::Timestamp;

    fn said(at: i64, t: &Transport) -> Event {
        Event::new(
            Timestamp(at),
            SourceId::from("etcd-prod"),
            EventBody::SourceTransport {
                transport: t.clone(),
            },
        )
    }

    #[test]
    fn an_expiring_certificate_is_logged_once_and_kept_per_source() {
        let day = 86_400_000;
        let mut t = Transport::new(TlsMode::Verified);
        t.server_cert_not_after = Some(Timestamp(10 * day));
        let mut s = State::default();
        s.apply(&said(0, &t));
        s.apply(&said(1000, &t));
        let warned: Vec<_> = s
            .log
            .iter()
            .filter(|e| e.message.contains("expires in"))
            .collect();
        assert_eq!(warned.len(), 1, "{:?}", s.log);
        assert_eq!(warned[0].severity, Severity::Warn);
        assert_eq!(s.transport("etcd-prod"), Some(&t));
        t.tls = TlsMode::Insecure;
        s.apply(&said(2000, &t));
        assert!(
            s.log
                .iter()
                .any(|e| e.severity == Severity::Critical && e.message.starts_with("INSECURE")),
            "{:?}",
            s.log
        );
    }
}
