//! Tests of the drill: determinism, the scripted faults and the actions.

use super::*;
use crate::event::Event;
use crate::model::{BreakerState, QuorumState, SourceId};
use crate::state::State;

fn run_fleet(seed: u64, instances: usize, secs: i64) -> Vec<Event> {
    simulate(seed, instances, secs)
}

#[test]
fn same_seed_same_events() {
    let a = run_fleet(11, 300, 120);
    let b = run_fleet(11, 300, 120);
    assert_eq!(a, b);
    let c = run_fleet(12, 300, 120);
    assert_ne!(a, c);
}

#[test]
fn default_size_is_a_few_dozen_services_and_hundreds_of_instances() {
    let fleet = DrillFleet::new(7, 300, true);
    assert!(
        (24..=40).contains(&fleet.service_count()),
        "{}",
        fleet.service_count()
    );
    assert!(
        (290..=320).contains(&fleet.instance_count()),
        "{}",
        fleet.instance_count()
    );
    let big = DrillFleet::new(7, 10_000, true);
    assert!(
        (9_900..=10_100).contains(&big.instance_count()),
        "{}",
        big.instance_count()
    );
}

/// Operators' actions show on the next step: a drain and a fence on an instance, a
/// fenced primary leaves the database without one until a replica is promoted, the
/// old primary comes back as a replica, and a route's fallback stops its failures.
#[test]
fn operator_actions_show_on_the_fleet() {
    let mut fleet = DrillFleet::new(7, 300, false);
    let src = SourceId::new("drill");
    let mut state = State::default();
    for b in fleet.inventory() {
        state.apply(&Event::new(Timestamp(0), src.clone(), b));
    }
    let step = |fleet: &mut DrillFleet, state: &mut State, s: i64| {
        for b in fleet.step(Timestamp(s * 1000)) {
            state.apply(&Event::new(Timestamp(s * 1000), src.clone(), b));
        }
    };
    step(&mut fleet, &mut state, 1);
    let view = fleet.view();
    let first = view.instances.first().expect("an instance").id.clone();
    fleet
        .act(&DrillAction::Server {
            instance: first.clone(),
            state: ServerState::Drain,
        })
        .expect("drain");
    assert!(
        fleet
            .act(&DrillAction::Power {
                node: "nope".into(),
                on: false
            })
            .is_err()
    );
    step(&mut fleet, &mut state, 2);
    let i = &state.instances[first.as_str()];
    assert_eq!(i.health, Health::Degraded);
    assert!(
        i.detail.as_deref().is_some_and(|d| d.starts_with("DRAIN")),
        "{:?}",
        i.detail
    );
    assert_eq!(fleet.view().instances[0].state, "DRAIN");

    fleet
        .act(&DrillAction::Power {
            node: "pg-1".into(),
            on: false,
        })
        .expect("fence the primary");
    step(&mut fleet, &mut state, 3);
    step(&mut fleet, &mut state, 4);
    assert_eq!(state.databases[DATABASE].writable, 0, "no primary");
    fleet
        .act(&DrillAction::Promote {
            member: "pg-2".into(),
        })
        .expect("promote");
    fleet
        .act(&DrillAction::Power {
            node: "pg-1".into(),
            on: true,
        })
        .expect("unfence");
    step(&mut fleet, &mut state, 5);
    step(&mut fleet, &mut state, 6);
    let db = &state.databases[DATABASE];
    assert_eq!(db.writable, 1);
    assert_eq!(
        db.primary.as_ref().map(ToString::to_string).as_deref(),
        Some("pg-2")
    );
    assert!(
        fleet
            .view()
            .db
            .contains(&("pg-1".to_owned(), DbRole::Replica, true))
    );

    let route = fleet.view().routes[0].0.clone();
    fleet
        .act(&DrillAction::Fallback {
            route: route.clone(),
            on: true,
        })
        .expect("fallback");
    assert_eq!(fleet.view().routes[0], (route, true));
}

/// The scripted cycle plays every fault with its signature, and everything recovers.
#[test]
fn scripted_cycle_shows_each_fault_and_recovers() {
    let mut fleet = DrillFleet::new(7, 300, true);
    let src = SourceId::new("drill");
    let mut state = State::default();
    for b in fleet.inventory() {
        state.apply(&Event::new(Timestamp(0), src.clone(), b));
    }
    let mut seen_open = false;
    let mut seen_checkout_down = false;
    let mut seen_flapping = false;
    let mut quorum_states = Vec::new();
    for s in 0..=300 {
        let at = Timestamp(s * 1000);
        for b in fleet.step(at) {
            state.apply(&Event::new(at, src.clone(), b));
        }
        seen_open |= state.breakers["edge-gateway/checkout"].state == BreakerState::Open;
        seen_checkout_down |= state.services["checkout"].health == Health::Unhealthy;
        seen_flapping |= state.instances.values().any(|i| i.flapping);
        let q = state.clusters["drill-etcd"].quorum.state;
        if quorum_states.last() != Some(&q) {
            quorum_states.push(q);
        }
    }
    assert!(seen_open, "connection leak trips the edge breaker");
    assert!(seen_checkout_down, "connection leak fails readiness");
    assert!(seen_flapping, "flapping instance is flagged");
    assert_eq!(
        quorum_states,
        vec![
            QuorumState::Healthy,
            QuorumState::AtRisk,
            QuorumState::Lost,
            QuorumState::Healthy
        ]
    );
    let b = &state.breakers["edge-gateway/checkout"];
    assert_eq!(
        b.state,
        BreakerState::Closed,
        "recovered: {:?} {:?}",
        b.flips,
        state.services["checkout"]
    );
    assert_eq!(state.services["checkout"].health, Health::Healthy);
    let incidents = &state.incidents.incidents;
    assert!(incidents.len() >= 2, "{incidents:?}");
    let leak = &incidents[0];
    assert_eq!(leak.fault.as_deref(), Some("connection_leak"));
    assert!(leak.mttd_millis() > 0 && leak.mttr_millis().is_some());
    assert!(
        state.open_incident().is_none(),
        "all recovered by the end of the cycle"
    );
}
