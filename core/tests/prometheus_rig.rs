//! Against a real Prometheus scraping the real HAProxy of `tests/rig/rig.sh` every
//! second: a PromQL ratio (the share of `be_web`'s two servers that are down) drives a
//! breaker the console computes. Killing a backend opens it; bringing it back closes it
//! again through half-open. Also: bad PromQL is Prometheus' own error on the source.
//!
//! With Traefik in the rig too: p50/p99 latency from Traefik's request-duration
//! histogram, through `histogram_quantile`, become the service's metric series.
//!
//! Runs when `SWITCHBOARD_RIG` names `prometheus` (and `traefik` for the latency test).

mod common;

use std::time::Duration;

use common::{rig, rig_has};
use switchboard_core::model::MetricUnit;
use switchboard_core::model::{BreakerState, SourceStatus};
use switchboard_core::sources::prometheus::{PrometheusConfig, QueryConfig, SeriesConfig};
use switchboard_core::{Clock as _, EngineHandle, SourceConfig, State};

const DOWN_SHARE: &str =
    r#"1 - avg(haproxy_server_status{proxy="be_web",server=~"web1|web2",state="UP"})"#;

/// The rig's Prometheus, asked every half second, with these queries and series.
fn prometheus(name: &str, query: Vec<QueryConfig>, series: Vec<SeriesConfig>) -> SourceConfig {
    SourceConfig::Prometheus(PrometheusConfig {
        name: name.into(),
        url: "http://127.0.0.1:9090".into(),
        interval_secs: 0.5,
        timeout_secs: 2.0,
        query,
        series,
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    })
}

fn engine(name: &str, expr: &str) -> EngineHandle {
    common::engine_with(prometheus(
        name,
        vec![QueryConfig {
            breaker: format!("{name}/be_web-down"),
            service: "be_web".into(),
            expr: expr.into(),
            threshold: Some(0.3),
            cooldown_secs: Some(2.0),
        }],
        vec![],
    ))
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

fn quantile(q: f64) -> String {
    format!(
        r#"histogram_quantile({q}, sum by (le) (rate(traefik_service_request_duration_seconds_bucket{{service="websvc@file"}}[5s])))"#
    )
}

#[test]
fn latency_quantiles_become_series() {
    if !(rig_has("prometheus") && rig_has("traefik")) {
        eprintln!(
            "skipped: needs the real Prometheus and Traefik of the rig (tests/check.sh starts them and sets SWITCHBOARD_RIG)"
        );
        return;
    }
    let series = |name: &str, q: f64| SeriesConfig {
        name: name.into(),
        service: "websvc@file".into(),
        expr: quantile(q),
        unit: MetricUnit::Seconds,
    };
    let source = prometheus(
        "prom-latency",
        vec![],
        vec![series("p50 latency", 0.5), series("p99 latency", 0.99)],
    );
    let e = common::engine_with(source.clone());
    // Traffic through Traefik, so its histogram moves while Prometheus scrapes it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                common::curl("http://127.0.0.1:8180/");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let s = e.wait_for(Duration::from_secs(30), |s| {
        ["p50 latency", "p99 latency"].iter().all(|n| {
            s.metric("websvc@file", n)
                .is_some_and(|m| m.history.len() >= 3)
        })
    });
    let p50 = s.metric("websvc@file", "p50 latency").expect("p50 series");
    let p99 = s.metric("websvc@file", "p99 latency").expect("p99 series");
    eprintln!(
        "prometheus rig: websvc p50 {} p99 {} ({} and {} samples)",
        p50.unit.format(p50.value),
        p99.unit.format(p99.value),
        p50.history.len(),
        p99.history.len()
    );
    assert_eq!(p99.unit, MetricUnit::Seconds);
    assert!(
        p50.value > 0.0 && p50.value < 5.0,
        "a plausible latency: {}",
        p50.value
    );
    assert!(
        p99.value >= p50.value,
        "p99 {} >= p50 {}",
        p99.value,
        p50.value
    );
    assert_eq!(
        s.sources["prom-latency"].status,
        SourceStatus::Up,
        "{:?}",
        s.sources["prom-latency"].detail
    );

    // A console started now fills the plot with what Prometheus already has
    // (`query_range`), rather than starting from an empty one.
    drop(e);
    std::thread::sleep(Duration::from_secs(3)); // a few more scrapes of history
    let started = switchboard_core::SystemClock.now();
    let again = common::engine_with(source);
    let s = again.wait_for(Duration::from_secs(10), |s| {
        s.metric("websvc@file", "p99 latency")
            .is_some_and(|m| m.history.iter().filter(|(t, _)| *t < started).count() >= 3)
    });
    let history = s.metric("websvc@file", "p99 latency").map_or(0, |m| {
        m.history.iter().filter(|(t, _)| *t < started).count()
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    traffic.join().expect("traffic");
    eprintln!("prometheus rig: {history} samples of p99 history loaded at start");
    assert!(history >= 3, "history from query_range: {history} samples");
}
