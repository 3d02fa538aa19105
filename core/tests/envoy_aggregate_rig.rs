//! A real Envoy's priority levels and aggregate cluster: the rig's `prisvc` has backend1
//! at priority 0 and backend2 at priority 1; `aggsvc` aggregates `prisvc` and `slowsvc`
//! (whose host has no health check, so Envoy counts it healthy). Killing backend1 moves
//! `prisvc` to priority 1; killing backend2 too moves `aggsvc` to `slowsvc`. The
//! console reads the aggregate from Envoy's config dump and decides each choice by
//! Envoy's priority load; each request through `/agg` says where Envoy really sent it.
//!
//! Runs when `SWITCHBOARD_RIG` names `envoy`.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use common::{rig, rig_has};
use switchboard_core::sources::envoy::EnvoyConfig;
use switchboard_core::{Clock as _, SourceConfig, State, StatusReport, SystemClock};

/// Puts backend1 and backend2 back, whatever the test did.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        rig(&["restart", "backend1"]);
        rig(&["restart", "backend2"]);
    }
}

fn choice(s: &State, service: &str) -> Option<(Option<String>, bool)> {
    s.choices
        .get(service)
        .map(|c| (c.choice.chosen.clone(), c.choice.primary))
}

/// The status of a request through Envoy's `/agg` (0 without an answer within 4 s):
/// 404 comes from the backends' file server (it has no `/agg`), 503 and 504 from Envoy.
fn through_agg() -> u16 {
    let Ok(mut s) = TcpStream::connect("127.0.0.1:10000") else {
        return 0;
    };
    s.set_read_timeout(Some(Duration::from_secs(4))).ok();
    if s.write_all(b"GET /agg HTTP/1.1\r\nHost: rig\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return 0;
    }
    let mut head = [0u8; 12];
    if s.read_exact(&mut head).is_err() {
        return 0;
    }
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Requests Envoy has sent to `slowsvc` so far, from its own stats.
fn slowsvc_requests() -> u64 {
    common::curl("http://127.0.0.1:9901/stats?filter=cluster.slowsvc.upstream_rq_total")
        .rsplit(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn envoy_priority_levels_and_aggregate_follow_the_hosts() {
    if !rig_has("envoy") {
        eprintln!(
            "skipped: the real Envoy rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG)"
        );
        return;
    }
    let _restore = Restore;
    rig(&["restart", "backend1"]);
    rig(&["restart", "backend2"]);
    let e = common::engine_with(SourceConfig::Envoy(EnvoyConfig {
        name: "envoy".into(),
        admin: "http://127.0.0.1:9901".into(),
        interval_millis: 100,
        timeout_millis: 1000,
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    }));
    let wait = |what: &str, pred: &dyn Fn(&State) -> bool| {
        let s = e.wait_for(Duration::from_secs(20), pred);
        assert!(
            pred(&s),
            "{what}: prisvc {:?}, aggsvc {:?}",
            choice(&s, "prisvc"),
            choice(&s, "aggsvc")
        );
        s
    };
    let s = wait("priority 0 and prisvc", &|s| {
        choice(s, "prisvc") == Some((Some("priority 0".into()), true))
            && choice(s, "aggsvc") == Some((Some("prisvc".into()), true))
    });
    let report = StatusReport::new(&s, SystemClock.now());
    let route = report
        .routes
        .iter()
        .find(|r| r.name == "envoy/aggsvc")
        .expect("the aggregate is a route");
    assert_eq!(route.leaves, ["prisvc", "slowsvc"]);
    assert!(
        report
            .backends
            .iter()
            .any(|b| b.name == "127.0.0.1:9009" && b.service == "slowsvc"),
        "the aggregate's clusters' hosts are backends"
    );
    assert_eq!(through_agg(), 404, "Envoy sends /agg to a backend");

    rig(&["kill", "backend1"]);
    let s = wait("priority 1 once backend1 is down", &|s| {
        choice(s, "prisvc") == Some((Some("priority 1".into()), false))
    });
    assert_eq!(
        choice(&s, "aggsvc"),
        Some((Some("prisvc".into()), true)),
        "priority 1 of prisvc still comes before slowsvc"
    );
    assert_eq!(through_agg(), 404, "Envoy sends /agg to backend2");

    rig(&["kill", "backend2"]);
    let s = wait("slowsvc once no host of prisvc is healthy", &|s| {
        choice(s, "aggsvc") == Some((Some("slowsvc".into()), false))
    });
    assert_eq!(choice(&s, "prisvc").and_then(|c| c.0), None);
    let before = slowsvc_requests();
    let status = through_agg();
    assert!(
        slowsvc_requests() > before,
        "Envoy sent /agg to slowsvc (answer {status}: its host never answers)"
    );

    rig(&["restart", "backend1"]);
    wait("back on priority 0", &|s| {
        choice(s, "prisvc") == Some((Some("priority 0".into()), true))
            && choice(s, "aggsvc") == Some((Some("prisvc".into()), true))
    });
}
