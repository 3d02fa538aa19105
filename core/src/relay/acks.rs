//! Acknowledgements carried across a failover. Each relay detects incidents itself and
//! numbers them in its own state, so an acknowledgement given on the old leader names
//! an incident the new one does not know by that number. With a team's record, the
//! leader also keeps each acknowledgement there by the incident's title and start; a
//! relay that becomes leader acknowledges, under the same person's name, each open
//! incident of its own with that title whose start is within [`SAME_START_MILLIS`]
//! (both relays watch the same sources, so they date a fault alike, a poll or two
//! apart).

use std::sync::Arc;
use std::time::Duration;

use super::record::TeamRecord;
use crate::engine::Tap;
use crate::event::Intent;
use crate::state::State;
use crate::time::{Clock, SystemClock, Timestamp};

/// Two relays' starts of one incident differ by less than this.
pub(super) const SAME_START_MILLIS: i64 = 60_000;
/// Acknowledgements older than this are not carried.
const CARRIED_FOR_MILLIS: i64 = 24 * 3600 * 1000;
/// A new leader looks this long after taking over (its own detection may trail).
const SETTLE: Duration = Duration::from_secs(2);

/// One acknowledgement as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Ack {
    /// The incident's title.
    pub(super) title: String,
    /// When it started, as the acknowledging relay dated it.
    pub(super) started_at: Timestamp,
    /// Who acknowledged it.
    pub(super) person: String,
}

/// Keeps `person`'s acknowledgement of incident `number` (this relay's) in the record.
pub(super) async fn keep(tap: Tap, record: Arc<TeamRecord>, number: u64, person: String) {
    let Ok((state, _)) = tap.attach().await else {
        return;
    };
    let Some(incident) = state.incidents.incidents.iter().find(|i| i.id == number) else {
        return;
    };
    let ack = Ack {
        title: incident.title.clone(),
        started_at: incident.started_at,
        person,
    };
    if let Err(e) = record.put_ack(&ack, SystemClock.now()).await {
        tracing::warn!(
            "the acknowledgement of {:?} is not in the team's record (a new leader would not carry it): {e}",
            ack.title
        );
    }
}

/// Acknowledges, on this relay that just became leader, the open incidents the record
/// says were acknowledged on another.
pub(super) async fn carry(tap: Tap, record: Arc<TeamRecord>) {
    tokio::time::sleep(SETTLE).await;
    let since = Timestamp(SystemClock.now().0 - CARRIED_FOR_MILLIS);
    let acks = match record.acks_since(since).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!("acknowledgements not carried from the team's record: {e}");
            return;
        }
    };
    let Ok((state, _)) = tap.attach().await else {
        return;
    };
    for (number, person) in carried(&acks, &state) {
        tracing::info!("incident #{number} acknowledged by {person} on the previous leader");
        if let Err(e) = tap.send_as(Intent::AckIncident { incident: number }, &person) {
            tracing::warn!("incident #{number} not acknowledged: {e}");
        }
    }
}

/// The open, unacknowledged incidents of `state` that `acks` acknowledged: their number
/// here and who acknowledged them.
pub(super) fn carried(acks: &[Ack], state: &State) -> Vec<(u64, String)> {
    state
        .incidents
        .incidents
        .iter()
        .filter(|i| i.recovered_at.is_none() && i.acked_by.is_none())
        .filter_map(|i| {
            acks.iter()
                .find(|a| {
                    a.title == i.title
                        && (a.started_at.0 - i.started_at.0).abs() <= SAME_START_MILLIS
                })
                .map(|a| (i.id, a.person.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Incident;

    fn incident(id: u64, title: &str, started: i64, acked: Option<&str>) -> Incident {
        Incident {
            id,
            title: title.into(),
            started_at: Timestamp(started),
            detected_at: Timestamp(started),
            recovered_at: None,
            subjects: Vec::new(),
            fault: None,
            acked_by: acked.map(str::to_owned),
        }
    }

    #[test]
    fn an_open_incident_of_the_same_title_and_start_is_acknowledged_again() {
        let mut state = State::default();
        state.incidents.incidents = vec![
            incident(1, "breaker edge/checkout open", 10_000, None),
            incident(2, "quorum of etcd lost", 500_000, None),
            incident(3, "service orders down", 900_000, Some("bob")),
        ];
        let mut recovered = incident(4, "breaker edge/checkout open", 12_000, None);
        recovered.recovered_at = Some(Timestamp(20_000));
        state.incidents.incidents.push(recovered);
        let ack = |title: &str, started: i64, person: &str| Ack {
            title: title.into(),
            started_at: Timestamp(started),
            person: person.into(),
        };
        let acks = [
            // The old leader dated it 1.5 s later.
            ack("breaker edge/checkout open", 11_500, "alice"),
            // Same title, another incident long before.
            ack("quorum of etcd lost", 100_000, "alice"),
            ack("service orders down", 900_000, "carol"),
        ];
        assert_eq!(carried(&acks, &state), vec![(1, "alice".to_owned())]);
    }
}
