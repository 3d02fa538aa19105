//! The window on an estate of many sources. The status bar, past six sources, sums them
//! up ("37 up · 2 stale · 1 down"), names those in trouble, keeps its right end (what
//! is recorded) clear of them, and lists every source in a popover. A gateway's box
//! shows its own health: HAProxy's by its frontends, Traefik's by its API answering
//! (not `0/0` with an unknown ring), and greys out when its source stops.

use std::time::Duration;

use egui_kittest::kittest::Queryable as _;
use switchboard_core::model::{ServiceId, SourceId, SourceKind, SourceStatus};
use switchboard_core::session::{Recorder, SessionMeta};
use switchboard_core::sources::{haproxy, traefik};
use switchboard_core::{Event, EventBody, Timestamp};

use crate::helpers::{harness, has, wait_for};
use crate::transport::replay;

/// The kinds a production estate mixes, with the names such sources get.
const KINDS: [(SourceKind, &str); 10] = [
    (SourceKind::Etcd, "etcd"),
    (SourceKind::Haproxy, "edge-haproxy"),
    (SourceKind::Traefik, "ingress-traefik"),
    (SourceKind::Envoy, "mesh-envoy"),
    (SourceKind::Patroni, "pg-patroni"),
    (SourceKind::Prometheus, "metrics"),
    (SourceKind::Kubernetes, "k8s"),
    (SourceKind::Consul, "consul"),
    (SourceKind::HttpProbe, "probe-checkout"),
    (SourceKind::GrpcHealth, "grpc-payments"),
];

/// A recording of `n` sources named as an estate names them (`edge-haproxy-eu-west-03`),
/// each with the status `status(i)` gives; source `then_down`, if any, goes down a
/// second later.
fn estate(
    dir: &std::path::Path,
    n: usize,
    status: impl Fn(usize) -> SourceStatus,
    then_down: Option<usize>,
) -> std::path::PathBuf {
    let path = dir.join("estate.sqlite");
    let t0 = Timestamp(1_800_000_000_000);
    let meta = SessionMeta {
        app_version: "test".into(),
        environment: "prod".into(),
        drill: false,
        config: String::new(),
        started_at: t0,
        focus: None,
        recording: "r".into(),
        segment: 0,
    };
    let mut events: Vec<Event> = Vec::new();
    for i in 0..n {
        let (kind, name) = KINDS[i % KINDS.len()];
        let source = format!("{name}-eu-west-{i:02}");
        let at = t0.plus_millis(i64::try_from(i).unwrap_or(0));
        events.push(Event::new(
            at,
            SourceId::from(source.as_str()),
            EventBody::SourceStatus {
                source_kind: kind,
                status: status(i),
                detail: (status(i) == SourceStatus::Down)
                    .then(|| "no answer within 2000 ms (https://10.0.3.7:8404/stats;csv)".into()),
                drill: false,
            },
        ));
        // The first gateway of each kind reports what its source would: HAProxy its
        // recorded `show stat` (frontends, a backend, servers), Traefik its recorded
        // rawdata (routers and load balancers, no instance of its own).
        let gateway = ServiceId::new(&source);
        let bodies = match (kind, i < KINDS.len()) {
            (SourceKind::Haproxy, true) => haproxy::rows_to_events(
                &gateway,
                &haproxy::parse_stat_csv(include_str!(
                    "../../../core/tests/fixtures/haproxy/show-stat-rig.csv"
                ))
                .expect("recorded stats"),
            ),
            (SourceKind::Traefik, true) => {
                let raw = traefik::parse_rawdata(include_str!(
                    "../../../core/tests/fixtures/traefik/api-getrawdata.json"
                ))
                .expect("recorded rawdata");
                traefik::to_events(&gateway, &raw, &traefik::router_breakers(&gateway, &raw))
            }
            _ => Vec::new(),
        };
        events.extend(
            bodies
                .into_iter()
                .map(|b| Event::new(at, SourceId::from(source.as_str()), b)),
        );
    }
    if let Some(i) = then_down {
        let (kind, name) = KINDS[i % KINDS.len()];
        events.push(Event::new(
            t0.plus_millis(1000),
            SourceId::from(format!("{name}-eu-west-{i:02}").as_str()),
            EventBody::SourceStatus {
                source_kind: kind,
                status: SourceStatus::Down,
                detail: Some("no answer within 2000 ms (http://10.0.3.9:8080/api/rawdata)".into()),
                drill: false,
            },
        ));
    }
    let mut rec = Recorder::create(&path, &meta).expect("create");
    rec.append(&events).expect("append");
    drop(rec);
    path
}

/// 40 sources, one down and two stale: the bar says "40 sources: 37 up · 2 stale · 1
/// down", names the three in trouble (down first) on screen, left of "not recording"
/// and clear of each other, and the popover lists all 40.
#[test]
fn forty_sources_are_summed_up_the_troubled_named_and_all_listed_on_demand() {
    let dir = tempfile::tempdir().expect("dir");
    let path = estate(
        dir.path(),
        40,
        |i| match i {
            13 => SourceStatus::Down,
            21 | 34 => SourceStatus::Stale,
            _ => SourceStatus::Up,
        },
        None,
    );
    let mut h = harness(replay(&path, false));
    h.get_by_label("End").click();
    wait_for(&mut h, "40 sources", Duration::from_secs(10));
    h.run_steps(2);
    let summary = h
        .get_by_label_contains("40 sources: 37 up · 2 stale · 1 down")
        .rect();
    let screen = h.ctx.content_rect();
    let right = h.get_by_label("not recording").rect();
    assert!(screen.contains_rect(right), "{right:?} on {screen:?}");
    let down = h.get_by_label_contains("mesh-envoy-eu-west-13 down").rect();
    let stale = [
        h.get_by_label_contains("edge-haproxy-eu-west-21 stale")
            .rect(),
        h.get_by_label_contains("pg-patroni-eu-west-34 stale")
            .rect(),
    ];
    let named = [summary, down, stale[0], stale[1]];
    for (i, r) in named.iter().enumerate() {
        assert!(screen.contains_rect(*r), "{r:?} on screen");
        assert!(r.right() < right.left(), "{r:?} left of {right:?}");
        for o in &named[i + 1..] {
            assert!(!r.intersects(*o), "{r:?} overlaps {o:?}");
        }
    }
    assert!(
        summary.right() < down.left(),
        "the sum, then the down source"
    );
    assert!(
        down.right() < stale[0].left().min(stale[1].left()),
        "down before stale"
    );
    assert!(
        !has(&h, "etcd-eu-west-00 (etcd) up"),
        "a healthy source is not in the bar"
    );
    // The gateways' boxes on the map: HAProxy by its two open frontends, Traefik by
    // its API answering; neither unknown.
    assert!(
        has(&h, "edge-haproxy-eu-west-01: healthy, 2 of 2 healthy"),
        "HAProxy's box counts its frontends"
    );
    assert!(
        has(
            &h,
            "ingress-traefik-eu-west-02: healthy, seen through its API"
        ),
        "Traefik's box is as healthy as its API answers"
    );
    h.get_by_label_contains("40 sources:").click();
    h.run_steps(3);
    for name in [
        "etcd-eu-west-00 (etcd) up",
        "k8s-eu-west-06 (kubernetes) up",
        "grpc-payments-eu-west-39 (grpc_health) up",
    ] {
        assert!(
            h.query_by_label_contains(name).is_some(),
            "the popover lists {name}"
        );
    }
}

/// Six sources with an estate's long names do not fit one by one at 1440 px: summed up
/// too, the two down named first, clear of the right end. The Traefik gateway whose API
/// stopped answering is no longer called healthy: its box is unknown and stale.
#[test]
fn six_long_named_sources_are_summed_and_a_silent_gateway_greys_out() {
    let dir = tempfile::tempdir().expect("dir");
    let path = estate(
        dir.path(),
        6,
        |i| {
            if i == 5 {
                SourceStatus::Down
            } else {
                SourceStatus::Up
            }
        },
        Some(2),
    );
    let mut h = harness(replay(&path, false));
    h.get_by_label("End").click();
    wait_for(&mut h, "6 sources", Duration::from_secs(10));
    h.run_steps(2);
    let screen = h.ctx.content_rect();
    let right = h.get_by_label("not recording").rect();
    let summary = h.get_by_label_contains("6 sources: 4 up · 2 down").rect();
    let traefik = h
        .get_by_label_contains("ingress-traefik-eu-west-02 down")
        .rect();
    let metrics = h.get_by_label_contains("metrics-eu-west-05 down").rect();
    for r in [summary, traefik, metrics] {
        assert!(screen.contains_rect(r), "{r:?} on screen");
        assert!(r.right() < right.left(), "{r:?} left of {right:?}");
    }
    assert!(summary.right() < traefik.left() && traefik.right() < metrics.left());
    assert!(
        has(
            &h,
            "ingress-traefik-eu-west-02: unknown, seen through its API, stale"
        ),
        "a gateway whose API is down is not shown healthy"
    );
}

/// Two sources fit: each is listed by itself, no sum.
#[test]
fn a_few_sources_that_fit_are_each_listed() {
    let dir = tempfile::tempdir().expect("dir");
    let path = estate(dir.path(), 2, |_| SourceStatus::Up, None);
    let mut h = harness(replay(&path, false));
    h.get_by_label("End").click();
    wait_for(&mut h, "edge-haproxy-eu-west-01", Duration::from_secs(10));
    h.run_steps(2);
    assert!(!has(&h, "2 sources:"), "no sum for two");
    let right = h.get_by_label("not recording").rect();
    for name in [
        "etcd-eu-west-00 (etcd) up",
        "edge-haproxy-eu-west-01 (haproxy) up",
    ] {
        let r = h.get_by_label_contains(name).rect();
        assert!(r.right() < right.left(), "{name}: {r:?} left of {right:?}");
    }
}
