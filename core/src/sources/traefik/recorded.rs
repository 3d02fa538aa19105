//! Tests on answers recorded from the test rig's real Traefik 3.7.15 with its
//! composition: router `composed` -> failover `composedsvc` (main `splitsvc`, fallback
//! `sparesvc`) -> weighted `splitsvc` (`appa` 3, `appb` 1), behind the circuit breaker
//! `cb-composed` (`ResponseCodeRatio(500, 600, 0, 600) > 0.25`); and `mirroredsvc`
//! (mirroring `appa` to `appb`). See `tests/fixtures/SOURCES.md`.

use super::*;
use crate::event::Event;
use crate::model::{Composition, SourceId};
use crate::state::State;
use crate::time::Timestamp;

const RAWDATA: &str = include_str!("../../../tests/fixtures/traefik/rawdata-composed.json");
const FALLBACK: &str =
    include_str!("../../../tests/fixtures/traefik/rawdata-composed-fallback.json");
const REFUSED: &str = include_str!("../../../tests/fixtures/traefik/rawdata-composed-refused.json");
const METRICS: &str = include_str!("../../../tests/fixtures/traefik/metrics-composed.txt");
const METRICS_ROUTERS: &str =
    include_str!("../../../tests/fixtures/traefik/metrics-composed-routers.txt");

/// The state the console folds from one rawdata answer.
fn state_of(text: &str) -> (RawData, Vec<RouterBreaker>, State) {
    let raw = parse_rawdata(text).expect("parse");
    let gateway = ServiceId::new("traefik");
    let breakers = router_breakers(&gateway, &raw);
    let mut state = State::default();
    for body in to_events(&gateway, &raw, &breakers) {
        state.apply(&Event::new(Timestamp(1), SourceId::new("traefik"), body));
    }
    (raw, breakers, state)
}

fn ids(list: &[ServiceId]) -> Vec<&str> {
    list.iter().map(ServiceId::as_str).collect()
}

#[test]
fn the_composition_resolves_to_its_load_balancers() {
    let (raw, breakers, state) = state_of(RAWDATA);
    let c = &raw.composed["composedsvc@file"];
    assert_eq!(c.composition, Composition::Failover);
    assert_eq!(c.parts, ["splitsvc@file", "sparesvc@file"]);
    assert!(c.health_check);
    assert_eq!(
        raw.composed["mirroredsvc@file"].parts,
        ["appa@file", "appb@file"]
    );

    let b = breakers
        .iter()
        .find(|b| b.router == "composed@file")
        .expect("the composed router's breaker");
    assert_eq!(b.service, "composedsvc@file");
    assert_eq!(b.leaves, ["appa@file", "appb@file", "sparesvc@file"]);
    assert_eq!(b.middleware.response_code, 503);
    assert!(
        b.counters_words()
            .contains("appa@file, appb@file, sparesvc@file"),
        "{}",
        b.counters_words()
    );

    let route = ServiceId::new("composedsvc@file");
    let reach = state.reach(&route);
    assert_eq!(
        ids(&reach.leaves),
        ["appa@file", "appb@file", "sparesvc@file"]
    );
    assert_eq!(state.reach_counts(&route).healthy, 3);
    // status --json: the route's backends are the servers behind the composition.
    let report = crate::StatusReport::new(&state, Timestamp(1));
    let backends: Vec<&str> = report
        .backends
        .iter()
        .filter(|b| ["appa@file", "appb@file", "sparesvc@file"].contains(&b.service.as_str()))
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(
        backends,
        ["127.0.0.1:9004", "127.0.0.1:9005", "127.0.0.1:9002"]
    );
    let r = report
        .routes
        .iter()
        .find(|r| r.name == "traefik/composed@file")
        .expect("the route");
    assert_eq!(r.choices.len(), 1);
    assert_eq!(r.choices[0].chosen.as_deref(), Some("splitsvc@file"));
    assert!(r.choices[0].primary);
}

#[test]
fn with_both_apps_down_the_failover_sends_to_its_fallback() {
    let (_, _, state) = state_of(FALLBACK);
    let chosen = &state.choices[&ServiceId::new("composedsvc@file")].choice;
    assert_eq!(chosen.chosen.as_deref(), Some("sparesvc@file"));
    assert!(!chosen.primary);
    assert!(chosen.detail.contains("splitsvc@file"), "{}", chosen.detail);
    let counts = state.reach_counts(&ServiceId::new("composedsvc@file"));
    assert_eq!((counts.healthy, counts.unhealthy), (1, 2));
}

/// Traefik refuses a cycle ("recursion detected") and a failover whose main has no
/// health check; the console walks both without looping and still says a choice.
#[test]
fn configurations_traefik_refuses_are_walked_safely() {
    let (raw, _, state) = state_of(REFUSED);
    assert_eq!(compose::leaves(&raw, "loop1@file"), Vec::<String>::new());
    assert!(state.reach(&ServiceId::new("loop1@file")).cycle);
    let c = &state.choices[&ServiceId::new("fo-nohc@file")].choice;
    assert_eq!(c.chosen.as_deref(), Some("nohc@file"), "{}", c.detail);
    let composed = &state.choices[&ServiceId::new("composed@file")].choice;
    assert!(composed.primary);
}

#[test]
fn the_breaker_reads_every_load_balancer_or_the_router() {
    let leaves = ["appa@file", "appb@file", "sparesvc@file"].map(str::to_owned);
    // Service counters only (the rig's Traefik): the sum over the load balancers;
    // the tripped breaker's 503s never reached one.
    let services = infer::read_counters(METRICS).expect("parse");
    assert!(services.routers.is_empty());
    let seen = services
        .seen_by("composed@file", &leaves, 503)
        .expect("counted");
    assert_eq!(seen.get(&200), Some(&30.0));
    assert_eq!(seen.get(&500), Some(&7.0));
    assert_eq!(seen.get(&503), None);
    let rule = infer::parse_expression("ResponseCodeRatio(500, 600, 0, 600) > 0.25").expect("rule");
    assert_eq!(rule.calls(&seen), (30, 7));

    // With addRoutersLabels: the router's own counters, which hold the breaker's 23
    // answers of 503 too; that code comes from the load balancers instead.
    let routers = infer::read_counters(METRICS_ROUTERS).expect("parse");
    assert_eq!(routers.routers["composed@file"].get(&503), Some(&23.0));
    let seen = routers
        .seen_by("composed@file", &leaves, 503)
        .expect("counted");
    assert_eq!(seen.get(&200), Some(&20.0));
    assert_eq!(seen.get(&500), Some(&7.0));
    assert_eq!(
        seen.get(&503),
        None,
        "the breaker's own answers are left out"
    );
}
