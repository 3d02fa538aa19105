//! A fingerprint of the whole state, for the session file's keyframes: replaying a
//! recorded stream must rebuild exactly the state the console had, and comparing
//! fingerprints at every keyframe proves it.
//!
//! Every field goes in, private ones and histories included, through its `Debug` form
//! (ordered maps print in order; the one hash map, the instances, is fed in key
//! order), streamed into a 64-bit FNV-1a hash without building the text.

use std::fmt::Write as _;

use super::State;

/// FNV-1a, 64 bits: tiny, stable across builds and platforms (unlike std's hasher).
struct Fnv(u64);

impl Fnv {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
}

impl std::fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for b in s.bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
        Ok(())
    }
}

impl State {
    /// The state's fingerprint, as 16 hex digits.
    pub fn digest(&self) -> String {
        let mut h = Fnv(Fnv::OFFSET);
        let mut instances: Vec<_> = self.instances.iter().collect();
        instances.sort_unstable_by(|a, b| a.0.cmp(b.0));
        // Writing into a hasher cannot fail.
        let _ = write!(
            h,
            "{:?}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{:?}",
            self.now,
            self.events_applied,
            self.drill,
            self.sources,
            self.services,
            instances,
            self.edges,
            self.routes,
            self.breakers,
            self.metrics,
            self.clusters,
            self.databases,
            self.nodes,
            self.incidents,
            self.topology_version,
            self.log,
        );
        // Only when there are any, so a state without them (every state recorded
        // before they existed) keeps its fingerprint and old keyframes still check.
        if !self.transports.is_empty() {
            let _ = write!(h, "|{:?}", self.transports);
        }
        if !self.vouched.is_empty() {
            let _ = write!(h, "|vouched {:?}", self.vouched);
        }
        if !self.composites.is_empty() || !self.choices.is_empty() {
            let _ = write!(h, "|{:?}|{:?}", self.composites, self.choices);
        }
        if !self.dns.is_empty() {
            let _ = write!(h, "|dns {:?}", self.dns);
        }
        if !self.integrity.is_empty() {
            let _ = write!(h, "|integrity {:?}", self.integrity);
        }
        format!("{:016x}", h.0)
    }
}

#[cfg(test)]
mod tests {
    use crate::sources::drill::simulate;
    use crate::state::State;

    /// Equal states have equal digests whatever the hash map's order; any change
    /// changes it.
    #[test]
    fn equal_states_equal_digests_and_a_change_shows() {
        let events = simulate(5, 60, 40);
        let mut a = State::default();
        a.apply_all(&events);
        let mut b = State::default();
        b.apply_all(&events);
        // The same content, inserted into a map built in another order.
        let mut pairs: Vec<_> = a.instances.clone().into_iter().collect();
        pairs.sort_by(|x, y| y.0.cmp(&x.0));
        b.instances = pairs.into_iter().collect();
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a.digest().len(), 16);
        let mut c = a.clone();
        if let Some(i) = c.instances.values_mut().next() {
            i.service = crate::model::ServiceId::new("moved");
        }
        assert_ne!(a.digest(), c.digest());
        let mut d = a.clone();
        d.apply(&events[0]);
        assert_ne!(a.digest(), d.digest(), "one more event");
    }
}
