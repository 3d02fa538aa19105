//! Against a real Prometheus scraping the real HAProxy of `tests/rig/rig.sh` every
//! second: a PromQL ratio (the share of `be_web`'s two servers that are down) drives a
//! breaker the console computes. Killing a backend opens it; bringing it back closes it
//! again through half-open. Also: bad PromQL is Prometheus' own error on the source.
//!
//! Runs when `SWITCHBOARD_RIG` names `prometheus`.

mod common;

use std::time::Duration;

use common::{rig, rig_has};
use switchboard_core::model::{BreakerState, SourceStatus};
use switchboard_core::sources::prometheus::{PrometheusConfig, QueryConfig};
use switchboard_core::{Config, EngineHandle, EngineOptions, Environment, SourceConfig, State};

const DOWN_SHARE: &str =
    r#"1 - avg(haproxy_server_status{proxy="be_web",server=~"web1|web2",state="UP"})"#;

fn engine(name: &str, expr: &str) -> EngineHandle {
    let cfg = Config {
        environment: vec![Environment {
            name: "rig".into(),
            read_only: false,
            stale_after_millis: 5000,
            source: vec![SourceConfig::Prometheus(PrometheusConfig {
                name: name.into(),
                url: "http://127.0.0.1:9090".into(),
                interval_secs: 0.5,
                timeout_secs: 2.0,
                query: vec![QueryConfig {
                    breaker: format!("{name}/be_web-down"),
                    service: "be_web".into(),
                    expr: expr.into(),
                    threshold: Some(0.3),
                    cooldown_secs: Some(2.0),
                }],
            })],
        }],
    };
    switchboard_core::start(&EngineOptions::new(cfg)).expect("engine")
}

fn state_of(s: &State, id: &str) -> Option<BreakerState> {
    s.breakers
        .get(id)
        .filter(|b| b.sampled_at.is_some())
        .map(|b| b.state)
}

fn wait_state(e: &EngineHandle, id: &str, want: BreakerState) {
    let s = e.wait_for(Duration::from_secs(30), |s| state_of(s, id) == Some(want));
    assert_eq!(
        state_of(&s, id),
        Some(want),
        "{id}: {:?}",
        s.breakers.get(id).map(|b| (&b.flips, b.failure_rate))
    );
}

#[test]
fn a_promql_ratio_opens_and_closes_a_breaker() {
    if !rig_has("prometheus") {
        eprintln!(
            "skipped: the real Prometheus rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG)"
        );
        return;
    }
    rig(&["restart", "backend1"]);
    let id = "prom/be_web-down";
    let e = engine("prom", DOWN_SHARE);
    wait_state(&e, id, BreakerState::Closed);

    rig(&["kill", "backend1"]);
    wait_state(&e, id, BreakerState::Open);
    let s = e.snapshot();
    assert!(
        s.open_incident().is_some_and(|i| i.title.contains(id)),
        "the open breaker opened an incident"
    );

    rig(&["restart", "backend1"]);
    wait_state(&e, id, BreakerState::Closed);
    let flips: Vec<(BreakerState, BreakerState)> = e.snapshot().breakers[id]
        .flips
        .iter()
        .map(|f| (f.from, f.to))
        .collect();
    assert!(
        flips.contains(&(BreakerState::Closed, BreakerState::Open)),
        "{flips:?}"
    );
    assert!(
        flips.contains(&(BreakerState::HalfOpen, BreakerState::Closed)),
        "{flips:?}"
    );

    // Bad PromQL: Prometheus' own error, on the source.
    let bad = engine("prom-bad", "sum(");
    let s = bad.wait_for(Duration::from_secs(10), |s| {
        s.sources
            .get("prom-bad")
            .is_some_and(|x| x.status == SourceStatus::Down)
    });
    let detail = s.sources["prom-bad"].detail.clone().unwrap_or_default();
    assert!(detail.contains("Prometheus says bad_data"), "{detail}");
}
