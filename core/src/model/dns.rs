//! A public name as the console sees it: where it points on each place that answers for
//! it (each authoritative server of the zone, or the Route53 API), its TTL, each
//! server's SOA serial, and which topology service its target is.

use serde::{Deserialize, Serialize};

use super::ServiceId;

/// One DNS record a `dns` source watches, as last read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecordView {
    /// Fully written, without the final dot (`www.example.com`).
    pub name: String,
    /// The zone it is in.
    pub zone: String,
    /// `CNAME`, `A` or `AAAA`.
    pub rtype: String,
    /// Each place asked, in the source's order (the Route53 API first, then the
    /// servers; or the primary server first).
    pub reads: Vec<DnsRead>,
    /// Its normal value, canonical (`dns-restore` goes back to it); empty when not
    /// configured.
    #[serde(default)]
    pub primary: Vec<String>,
    /// Its standby value (`dns-failover` goes to it); empty when not configured.
    #[serde(default)]
    pub standby: Vec<String>,
    /// The topology service the name's target is, when the configuration says which
    /// (`primary_service`, `standby_service`).
    #[serde(default)]
    pub service: Option<ServiceId>,
}

/// What one place said of a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRead {
    /// `10.0.0.53:53`, or `Route53 Z0123456789`.
    pub server: String,
    /// Its values, canonical and sorted (empty: no such record).
    #[serde(default)]
    pub values: Vec<String>,
    /// Its TTL in seconds, when it has the record.
    #[serde(default)]
    pub ttl_secs: Option<u32>,
    /// The zone's SOA serial there (a server; Route53 does not say one).
    #[serde(default)]
    pub serial: Option<u32>,
    /// Why it could not be asked.
    #[serde(default)]
    pub error: Option<String>,
}

/// Which of its configured values a name points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsSide {
    /// Its normal value.
    Primary,
    /// Its standby value: failed over.
    Standby,
    /// Neither configured value.
    Elsewhere,
    /// The places asked disagree, or none answered.
    Unknown,
}

impl DnsSide {
    /// For reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Standby => "standby",
            Self::Elsewhere => "elsewhere",
            Self::Unknown => "unknown",
        }
    }
}

impl DnsRecordView {
    /// The value every place that answered agrees on, with the TTL of the first:
    /// `None` when they disagree or none answered.
    pub fn agreed(&self) -> Option<(&[String], Option<u32>)> {
        let mut answered = self.reads.iter().filter(|r| r.error.is_none());
        let first = answered.next()?;
        answered
            .all(|r| r.values == first.values)
            .then_some((first.values.as_slice(), first.ttl_secs))
    }

    /// Which configured value it points at.
    pub fn side(&self) -> DnsSide {
        match self.agreed() {
            Some((v, _)) if !v.is_empty() && v == self.primary.as_slice() => DnsSide::Primary,
            Some((v, _)) if !v.is_empty() && v == self.standby.as_slice() => DnsSide::Standby,
            Some(_) => DnsSide::Elsewhere,
            None => DnsSide::Unknown,
        }
    }

    /// What an operator must know about it, in words: places that could not be asked,
    /// places that disagree, servers whose SOA serials differ.
    pub fn concerns(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .reads
            .iter()
            .filter_map(|r| {
                r.error.as_ref().map(|e| {
                    if e.starts_with(&r.server) {
                        e.clone()
                    } else {
                        format!("{}: {e}", r.server)
                    }
                })
            })
            .collect();
        if self.agreed().is_none() && self.reads.iter().any(|r| r.error.is_none()) {
            out.push(format!(
                "the servers disagree: {}",
                self.reads
                    .iter()
                    .filter(|r| r.error.is_none())
                    .map(|r| format!("{} {}", r.server, r.shown()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let serials: std::collections::BTreeSet<u32> =
            self.reads.iter().filter_map(|r| r.serial).collect();
        if serials.len() > 1 {
            out.push(format!(
                "the SOA serials differ ({}): a secondary missed a change",
                self.reads
                    .iter()
                    .filter_map(|r| r.serial.map(|s| format!("{} {s}", r.server)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out
    }

    /// Its target in one line (`CNAME eu-west.example.com`, `A 10.0.0.1, 10.0.0.2`), or
    /// what stands in for one.
    pub fn target(&self) -> String {
        match self.agreed() {
            Some((v, _)) if !v.is_empty() => format!("{} {}", self.rtype, v.join(", ")),
            Some(_) => "no record".to_owned(),
            None if self.reads.iter().all(|r| r.error.is_some()) => "unreachable".to_owned(),
            None => "servers disagree".to_owned(),
        }
    }
}

impl DnsRead {
    /// Its answer in a few words.
    pub fn shown(&self) -> String {
        match (&self.error, self.values.is_empty()) {
            (Some(_), _) => "unreachable".to_owned(),
            (None, true) => "no record".to_owned(),
            (None, false) => self.values.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(server: &str, v: &str, serial: Option<u32>) -> DnsRead {
        DnsRead {
            server: server.into(),
            values: if v.is_empty() {
                Vec::new()
            } else {
                vec![v.into()]
            },
            ttl_secs: Some(15),
            serial,
            error: None,
        }
    }

    fn view(reads: Vec<DnsRead>) -> DnsRecordView {
        DnsRecordView {
            name: "www.example.test".into(),
            zone: "example.test".into(),
            rtype: "CNAME".into(),
            reads,
            primary: vec!["eu-west.example.test".into()],
            standby: vec!["eu-central.example.test".into()],
            service: None,
        }
    }

    #[test]
    fn a_name_says_which_side_it_is_on_and_what_is_wrong() {
        let v = view(vec![
            read("a", "eu-west.example.test", Some(7)),
            read("b", "eu-west.example.test", Some(7)),
        ]);
        assert_eq!(v.side(), DnsSide::Primary);
        assert!(v.concerns().is_empty());
        assert_eq!(v.target(), "CNAME eu-west.example.test");

        let v = view(vec![
            read("a", "eu-central.example.test", Some(8)),
            read("b", "eu-west.example.test", Some(7)),
        ]);
        assert_eq!(v.side(), DnsSide::Unknown);
        let c = v.concerns().join("; ");
        assert!(
            c.contains("disagree: a eu-central.example.test, b eu-west"),
            "{c}"
        );
        assert!(c.contains("serials differ (a 8, b 7)"), "{c}");

        let mut down = read("b", "", None);
        down.error = Some("connection refused".into());
        let v = view(vec![read("a", "eu-central.example.test", Some(8)), down]);
        assert_eq!(v.side(), DnsSide::Standby);
        assert_eq!(v.concerns(), ["b: connection refused"]);
        assert_eq!(
            view(vec![read("a", "x.test", None)]).side(),
            DnsSide::Elsewhere
        );
        assert_eq!(view(vec![read("a", "", None)]).target(), "no record");
    }
}
