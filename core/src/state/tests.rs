//! Reducer tests: build a state from a list of events and check the derived views.

use super::*;
use crate::event::DrillFault;

fn state_after(events: &[Event]) -> State {
    let mut s = State::default();
    s.apply_all(events);
    s
}

fn ev(at: i64, body: EventBody) -> Event {
    Event::new(Timestamp(at), SourceId::new("test"), body)
}

fn inst(at: i64, name: &str, service: &str, health: Health) -> Event {
    ev(
        at,
        EventBody::InstanceHealth {
            instance: InstanceId::new(name),
            service: ServiceId::new(service),
            health,
            detail: None,
        },
    )
}

fn member(at: i64, name: &str, reachable: bool, leader: Option<&str>) -> Event {
    ev(
        at,
        EventBody::MemberStatus {
            cluster: ClusterId::new("etcd"),
            cluster_kind: ClusterKind::Etcd,
            status: MemberStatus {
                member: MemberId::new(name),
                reachable,
                voter: true,
                leader: if reachable {
                    leader.map(MemberId::new)
                } else {
                    None
                },
                term: 2,
                ..MemberStatus::default()
            },
        },
    )
}

#[test]
fn service_health_follows_instances() {
    let mut events: Vec<Event> = (0..4)
        .map(|i| inst(0, &format!("a-{i}"), "a", Health::Healthy))
        .collect();
    let s = state_after(&events);
    assert_eq!(s.services["a"].health, Health::Healthy);
    assert_eq!(s.services["a"].counts.healthy, 4);

    events.push(inst(10, "a-0", "a", Health::Unhealthy));
    let s = state_after(&events);
    assert_eq!(s.services["a"].health, Health::Degraded);
    assert!(
        s.open_incident().is_none(),
        "one instance down is not an incident"
    );

    events.push(inst(20, "a-1", "a", Health::Unhealthy));
    events.push(inst(30, "a-2", "a", Health::Unhealthy));
    let s = state_after(&events);
    assert_eq!(s.services["a"].health, Health::Unhealthy);
    let incident = s
        .open_incident()
        .expect("incident opens when most instances are down");
    assert_eq!(incident.detected_at, Timestamp(30));
    assert_eq!(
        incident.started_at,
        Timestamp(20),
        "last time the service was seen serving"
    );
    assert_eq!(s.instance_counts().unhealthy, 3);
}

#[test]
fn incident_mttd_mttr_from_a_drill_fault() {
    let mut events = vec![
        inst(0, "a-0", "a", Health::Healthy),
        inst(0, "a-1", "a", Health::Healthy),
        ev(
            1_000,
            EventBody::FaultInjected {
                fault: "connection_leak".into(),
                description: "x".into(),
            },
        ),
        inst(5_000, "a-0", "a", Health::Unhealthy),
        inst(6_000, "a-1", "a", Health::Unhealthy),
    ];
    let s = state_after(&events);
    let i = s.open_incident().expect("open");
    assert_eq!(
        i.detected_at,
        Timestamp(6_000),
        "1 of 2 down is degraded; 2 of 2 is unhealthy"
    );
    assert_eq!(i.mttd_millis(), 5_000);
    assert_eq!(i.fault.as_deref(), Some("connection_leak"));
    events.push(inst(45_000, "a-0", "a", Health::Healthy));
    let s = state_after(&events);
    let i = &s.incidents.incidents[0];
    assert_eq!(i.recovered_at, Some(Timestamp(45_000)));
    assert_eq!(i.mttr_millis(), Some(39_000));
}

#[test]
fn quorum_through_events_and_incident() {
    let mut events = vec![
        members(0, &["m1", "m2", "m3"]),
        member(0, "m1", true, Some("m1")),
        member(0, "m2", true, Some("m1")),
        member(0, "m3", true, Some("m1")),
    ];
    let s = state_after(&events);
    let c = &s.clusters["etcd"];
    assert_eq!(c.quorum.state, QuorumState::Healthy);
    assert_eq!(c.quorum.leader.as_ref().map(MemberId::as_str), Some("m1"));
    assert!(s.open_incident().is_none());

    events.push(member(1_000, "m3", false, None));
    let s = state_after(&events);
    assert_eq!(s.clusters["etcd"].quorum.state, QuorumState::AtRisk);
    let i = s.open_incident().expect("at_risk opens an incident");
    assert_eq!(i.started_at, Timestamp(0));

    events.push(member(2_000, "m2", false, None));
    events.push(member(2_100, "m1", true, None));
    let s = state_after(&events);
    assert_eq!(s.clusters["etcd"].quorum.state, QuorumState::Lost);
    assert_eq!(s.incidents.incidents.len(), 1, "same incident");

    events.push(member(9_000, "m2", true, Some("m2")));
    events.push(member(9_000, "m3", true, Some("m2")));
    events.push(member(9_000, "m1", true, Some("m2")));
    let s = state_after(&events);
    let c = &s.clusters["etcd"];
    assert_eq!(c.quorum.state, QuorumState::Healthy);
    assert_eq!(c.leader_changes, 2, "m1 then m2");
    let i = &s.incidents.incidents[0];
    assert_eq!(i.mttr_millis(), Some(8_000));
}

fn members(at: i64, names: &[&str]) -> Event {
    ev(
        at,
        EventBody::ClusterMembers {
            cluster: ClusterId::new("etcd"),
            cluster_kind: ClusterKind::Etcd,
            members: names
                .iter()
                .map(|m| MemberSpec {
                    member: MemberId::new(m),
                    voter: true,
                })
                .collect(),
        },
    )
}

#[test]
fn membership_list_counts_silent_voters() {
    let events = vec![
        members(0, &["m1", "m2", "m3"]),
        member(10, "m1", true, Some("m1")),
    ];
    let s = state_after(&events);
    let q = &s.clusters["etcd"].quorum;
    assert_eq!((q.voters, q.reachable, q.state), (3, 1, QuorumState::Lost));
}

#[test]
fn flapping_instance_is_flagged_and_settles() {
    let mut events = vec![inst(0, "s-1", "s", Health::Healthy)];
    for (i, t) in [5_000, 10_000, 15_000, 20_000].iter().enumerate() {
        let h = if i % 2 == 0 {
            Health::Unhealthy
        } else {
            Health::Healthy
        };
        events.push(inst(*t, "s-1", "s", h));
    }
    let s = state_after(&events);
    assert!(s.instances["s-1"].flapping);
    events.push(inst(200_000, "s-1", "s", Health::Unhealthy));
    let s = state_after(&events);
    assert!(
        !s.instances["s-1"].flapping,
        "transitions spread over minutes are not flapping"
    );
}

#[test]
fn breaker_flip_opens_and_closes_incident() {
    let b = BreakerId::new("edge/checkout");
    let calls = |at, ok, failed| {
        ev(
            at,
            EventBody::BreakerCalls {
                breaker: b.clone(),
                ok,
                failed,
            },
        )
    };
    let events = vec![calls(0, 100, 0), calls(1_000, 5, 200), calls(31_000, 3, 0)];
    let s = state_after(&events);
    assert_eq!(s.breakers["edge/checkout"].state, BreakerState::Closed);
    let i = &s.incidents.incidents[0];
    assert_eq!(i.title, "breaker edge/checkout open");
    assert_eq!(i.mttr_millis(), Some(30_000));
    assert!(s.log.iter().any(|e| e.message.contains("closed -> open")));
}

#[test]
fn source_status_and_freshness() {
    let src = |at, status| {
        ev(
            at,
            EventBody::SourceStatus {
                source_kind: SourceKind::Etcd,
                status,
                detail: Some("x".into()),
                drill: false,
            },
        )
    };
    let events = vec![
        src(0, SourceStatus::Up),
        member(500, "m1", true, Some("m1")),
        src(9_000, SourceStatus::Stale),
    ];
    let s = state_after(&events);
    let info = &s.sources["test"];
    assert_eq!(info.status, SourceStatus::Stale);
    assert_eq!(
        info.last_event_at,
        Timestamp(500),
        "a stale marker is not fresh data"
    );
    assert_eq!(info.status_since, Timestamp(9_000));
    assert!(!s.drill);
}

#[test]
fn database_split_brain_opens_incident() {
    let db = |at, member: &str, role| {
        ev(
            at,
            EventBody::DbMember {
                cluster: ClusterId::new("pg"),
                member: MemberId::new(member),
                role,
                reachable: true,
                lag_bytes: None,
                connections: 1,
                max_connections: 100,
            },
        )
    };
    let events = vec![
        db(0, "a", DbRole::Primary),
        db(0, "b", DbRole::Replica),
        db(5, "b", DbRole::Primary),
    ];
    let s = state_after(&events);
    assert_eq!(s.databases["pg"].writable, 2);
    assert_eq!(s.databases["pg"].primary, None);
    assert_eq!(
        s.open_incident().map(|i| i.title.as_str()),
        Some("database pg without a single primary")
    );
}

#[test]
fn intents_are_recorded_in_the_log() {
    let events = vec![ev(
        0,
        EventBody::Intent {
            operator: "alice".into(),
            intent: Intent::DrillInject {
                fault: DrillFault::QuorumLoss,
            },
        },
    )];
    let s = state_after(&events);
    assert!(s.log.back().is_some_and(|e| e.message.contains("alice")));
}

#[test]
fn log_is_bounded() {
    let events: Vec<Event> = (0..3000)
        .map(|i| {
            inst(
                i,
                "x-1",
                "x",
                if i % 2 == 0 {
                    Health::Healthy
                } else {
                    Health::Unhealthy
                },
            )
        })
        .collect();
    let s = state_after(&events);
    assert_eq!(s.log.len(), LOG_CAPACITY);
}

#[test]
fn apply_is_deterministic() {
    let events = vec![
        member(0, "m1", true, Some("m1")),
        inst(1, "a-1", "a", Health::Healthy),
        member(2, "m2", false, None),
        inst(3, "a-1", "a", Health::Unhealthy),
    ];
    assert_eq!(state_after(&events), state_after(&events));
}

#[test]
fn partial_membership_opens_no_incident() {
    // Members discovered one at a time look like a 1-voter cluster at first.
    let events = vec![
        member(0, "m1", true, Some("m1")),
        member(1, "m2", true, Some("m1")),
    ];
    let s = state_after(&events);
    assert!(s.open_incident().is_none());
    assert!(s.incidents.incidents.is_empty());
}

#[test]
fn one_backend_seen_by_two_gateways_is_one_instance_in_both_pools() {
    let seen = |at, src: &str, service: &str, health, detail: &str| {
        Event::new(
            Timestamp(at),
            SourceId::new(src),
            EventBody::InstanceHealth {
                instance: InstanceId::new("127.0.0.1:9001"),
                service: ServiceId::new(service),
                health,
                detail: Some(detail.into()),
            },
        )
    };
    let mut events = vec![
        seen(0, "haproxy", "be_web", Health::Healthy, "UP"),
        seen(1, "envoy", "websvc", Health::Healthy, "healthy"),
    ];
    let s = state_after(&events);
    assert_eq!(s.instances.len(), 1, "one node");
    let i = &s.instances["127.0.0.1:9001"];
    assert_eq!(
        i.services().map(ServiceId::as_str).collect::<Vec<_>>(),
        ["be_web", "websvc"]
    );
    assert_eq!(
        (
            s.services["be_web"].counts.healthy,
            s.services["websvc"].counts.healthy
        ),
        (1, 1)
    );

    // Envoy sees it fail while HAProxy has not yet: the worst view wins, in both pools.
    events.push(seen(
        2,
        "envoy",
        "websvc",
        Health::Unhealthy,
        "failed active health check",
    ));
    let s = state_after(&events);
    let i = &s.instances["127.0.0.1:9001"];
    assert_eq!(i.health, Health::Unhealthy);
    assert_eq!(
        i.detail.as_deref(),
        Some("via envoy: failed active health check")
    );
    assert_eq!(
        (
            s.services["be_web"].counts.unhealthy,
            s.services["websvc"].counts.unhealthy
        ),
        (1, 1)
    );
    assert_eq!(s.services["be_web"].health, Health::Unhealthy);

    // Both agree it is back; an unknown view (no health check) does not hide a healthy one.
    events.push(seen(3, "envoy", "websvc", Health::Healthy, "healthy"));
    events.push(seen(
        4,
        "traefik",
        "websvc@file",
        Health::Unknown,
        "no health check configured",
    ));
    let s = state_after(&events);
    assert_eq!(s.instances["127.0.0.1:9001"].health, Health::Healthy);
    assert_eq!(s.services["websvc@file"].counts.healthy, 1);

    // Removed: gone from every pool.
    events.push(ev(
        5,
        EventBody::InstanceRemoved {
            instance: InstanceId::new("127.0.0.1:9001"),
        },
    ));
    let s = state_after(&events);
    for svc in ["be_web", "websvc", "websvc@file"] {
        assert_eq!(s.services[svc].counts.total(), 0, "{svc}");
    }
}

#[test]
fn metric_samples_become_a_series_and_gaps_are_not_zeros() {
    let sample = |at: i64, value: f64| {
        ev(
            at,
            EventBody::Metric {
                service: ServiceId::new("checkout"),
                series: "p99 latency".into(),
                value,
                unit: crate::model::MetricUnit::Seconds,
            },
        )
    };
    let s = state_after(&[
        sample(1000, 0.12),
        sample(2000, 0.25),
        sample(3000, f64::NAN),
    ]);
    let m = s.metric("checkout", "p99 latency").expect("the series");
    assert_eq!(m.history.len(), 2, "NaN is no sample, not a zero");
    assert!(m.value.is_nan(), "the latest value says there is none");
    assert_eq!(m.at, Timestamp(3000));
    assert!(s.services.contains_key("checkout"), "the service exists");
    assert_eq!(
        s.log.len(),
        0,
        "samples are drawn, not logged as notable changes"
    );
}
