//! The whole state as bytes (postcard, a compact serde format), so a session segment
//! can start from the state the console had instead of from nothing: the flight
//! recorder's rolling segments each begin with one. A snapshot read back has the same
//! fingerprint ([`State::digest`]) as the state written, and the session checks it.

use super::State;

impl State {
    /// The state as bytes.
    pub fn to_snapshot(&self) -> Vec<u8> {
        // Writing into a growable buffer cannot run out of room.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// A state from [`State::to_snapshot`]'s bytes.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Self, String> {
        postcard::from_bytes(bytes).map_err(|e| format!("the state snapshot is damaged: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use crate::sources::drill::simulate;
    use crate::state::State;

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
}
