//! The whole state as bytes (postcard, a compact serde format), so a session segment
//! can start from the state the console had instead of from nothing: the flight
//! recorder's rolling segments each begin with one. A snapshot read back has the same
//! fingerprint ([`State::digest`]) as the state written, and the session checks it.
//!
//! postcard writes fields by position, with no names, so a field added to the state
//! would make every snapshot written before it unreadable. Fields added since the first
//! format are therefore written after the state, in parts, each read only when bytes
//! remain: the transports ([`Trailer`]), then the sources that send heartbeats
//! ([`Vouched`]), then the composed services and choices ([`Compositions`]), then the
//! public names ([`Names`]), then the integrity findings ([`Checks`]). A snapshot
//! from an older build ends sooner and reads with the later parts empty. A part is
//! written when it or any part after it holds something; a further field goes in a
//! part of its own at the end, the same way.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Chosen, Composite, DnsEntry, IntegrityEntry, State};
use crate::model::{ServiceId, SourceId, Transport};

/// What a snapshot holds after the state's own fields.
#[derive(Serialize, Deserialize)]
struct Trailer {
    transports: BTreeMap<SourceId, Transport>,
}

/// What follows the trailer: the sources that send heartbeats (see `quiet.rs`).
#[derive(Serialize, Deserialize)]
struct Vouched {
    vouched: BTreeSet<SourceId>,
}

/// What follows [`Vouched`]: services made of services, and where choosing ones send.
#[derive(Serialize, Deserialize)]
struct Compositions {
    composites: BTreeMap<ServiceId, Composite>,
    choices: BTreeMap<ServiceId, Chosen>,
}

/// What follows [`Compositions`]: the public names the DNS sources read.
#[derive(Serialize, Deserialize)]
struct Names {
    dns: BTreeMap<String, DnsEntry>,
}

/// What follows [`Names`]: the integrity findings.
#[derive(Serialize, Deserialize)]
struct Checks {
    integrity: BTreeMap<String, IntegrityEntry>,
}

impl State {
    /// The state as bytes.
    pub fn to_snapshot(&self) -> Vec<u8> {
        // Writing into a growable buffer cannot run out of room.
        let mut bytes = postcard::to_stdvec(self).unwrap_or_default();
        let checked = !self.integrity.is_empty();
        let named = checked || !self.dns.is_empty();
        let composed = named || !self.composites.is_empty() || !self.choices.is_empty();
        let vouched = composed || !self.vouched.is_empty();
        if vouched || !self.transports.is_empty() {
            let trailer = Trailer {
                transports: self.transports.clone(),
            };
            bytes.extend(postcard::to_stdvec(&trailer).unwrap_or_default());
        }
        if vouched {
            let part = Vouched {
                vouched: self.vouched.clone(),
            };
            bytes.extend(postcard::to_stdvec(&part).unwrap_or_default());
        }
        if composed {
            let more = Compositions {
                composites: self.composites.clone(),
                choices: self.choices.clone(),
            };
            bytes.extend(postcard::to_stdvec(&more).unwrap_or_default());
        }
        if named {
            let part = Names {
                dns: self.dns.clone(),
            };
            bytes.extend(postcard::to_stdvec(&part).unwrap_or_default());
        }
        if checked {
            let part = Checks {
                integrity: self.integrity.clone(),
            };
            bytes.extend(postcard::to_stdvec(&part).unwrap_or_default());
        }
        bytes
    }

    /// A state from [`State::to_snapshot`]'s bytes (of this build or an older one).
    pub fn from_snapshot(bytes: &[u8]) -> Result<Self, String> {
        let damaged = |e: postcard::Error| format!("the state snapshot is damaged: {e}");
        let (mut state, rest): (Self, _) = postcard::take_from_bytes(bytes).map_err(damaged)?;
        if !rest.is_empty() {
            let (trailer, rest): (Trailer, _) = postcard::take_from_bytes(rest).map_err(damaged)?;
            state.transports = trailer.transports;
            if !rest.is_empty() {
                let (vouched, rest): (Vouched, _) =
                    postcard::take_from_bytes(rest).map_err(damaged)?;
                state.vouched = vouched.vouched;
                if !rest.is_empty() {
                    let (more, rest): (Compositions, _) =
                        postcard::take_from_bytes(rest).map_err(damaged)?;
                    state.composites = more.composites;
                    state.choices = more.choices;
                    if !rest.is_empty() {
                        let (names, rest): (Names, _) =
                            postcard::take_from_bytes(rest).map_err(damaged)?;
                        state.dns = names.dns;
                        if !rest.is_empty() {
                            let checks: Checks = postcard::from_bytes(rest).map_err(damaged)?;
                            state.integrity = checks.integrity;
                        }
                    }
                }
            }
        }
        state.reindex_flapping();
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{Event, EventBody};
    use crate::model::{SourceId, TlsMode, Transport};
    use crate::sources::drill::simulate;
    use crate::state::State;
    use crate::time::Timestamp;

    /// A drill run's state (incidents, breakers with their windows, histories, the
    /// log) survives the round trip exactly, and folding on from either gives the same.
    #[test]
    fn a_snapshot_round_trips_to_the_same_state() {
        let events = simulate(3, 120, 400);
        let (head, tail) = events.split_at(events.len() * 2 / 3);
        let mut a = State::default();
        a.apply_all(head);
        assert!(!a.incidents.incidents.is_empty(), "a run with incidents");
        let bytes = a.to_snapshot();
        let mut b = State::from_snapshot(&bytes).expect("read back");
        assert_eq!(b.digest(), a.digest());
        assert_eq!(b, a);
        a.apply_all(tail);
        b.apply_all(tail);
        assert_eq!(b.digest(), a.digest(), "the same future");
        assert!(State::from_snapshot(&bytes[..bytes.len() / 2]).is_err());
    }

    /// The transports ride in the trailer; a snapshot without one (an older build's)
    /// reads with none, and a cut trailer is damage, not silence.
    #[test]
    fn transports_round_trip_and_older_snapshots_still_read() {
        let mut a = State::default();
        a.apply_all(&simulate(1, 30, 40));
        let old = a.to_snapshot();
        let mut t = Transport::new(TlsMode::Verified);
        t.server_cert_not_after = Some(Timestamp(1_900_000_000_000));
        a.apply(&Event::new(
            a.now,
            SourceId::from("etcd"),
            EventBody::SourceTransport { transport: t },
        ));
        let bytes = a.to_snapshot();
        let b = State::from_snapshot(&bytes).expect("read back");
        assert_eq!(b, a);
        assert_eq!(b.digest(), a.digest());
        let before = State::from_snapshot(&old).expect("an older snapshot");
        assert!(before.transports.is_empty());
        assert!(State::from_snapshot(&bytes[..bytes.len() - 2]).is_err());
    }

    /// Composed services and choices ride after the transports, with or without any
    /// transport; a snapshot without them still reads.
    #[test]
    fn compositions_round_trip_after_the_transports() {
        use crate::model::{Choice, Composition, ServiceId};
        let mut a = State::default();
        a.apply_all(&simulate(1, 30, 40));
        let old = a.to_snapshot();
        a.apply(&Event::new(
            a.now,
            SourceId::from("traefik"),
            EventBody::Composed {
                service: ServiceId::new("fo"),
                composition: Composition::Failover,
                parts: vec![ServiceId::new("main"), ServiceId::new("spare")],
            },
        ));
        a.apply(&Event::new(
            a.now,
            SourceId::from("traefik"),
            EventBody::Chose {
                service: ServiceId::new("fo"),
                choice: Choice {
                    chosen: Some("spare".into()),
                    primary: false,
                    detail: "main has no server up".into(),
                },
            },
        ));
        assert!(a.transports.is_empty());
        let bytes = a.to_snapshot();
        let b = State::from_snapshot(&bytes).expect("read back");
        assert_eq!(b, a);
        assert_eq!(b.digest(), a.digest());
        assert!(
            State::from_snapshot(&old)
                .expect("older")
                .composites
                .is_empty()
        );
        assert!(State::from_snapshot(&bytes[..bytes.len() - 2]).is_err());
    }
}
