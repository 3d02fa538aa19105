//! Contract tests of the Envoy and Traefik sources end to end (poll loop, parsing,
//! events, state): a loopback HTTP server answers with the upstream projects' own
//! recorded responses (`tests/fixtures`, see `SOURCES.md`), or with HTML where JSON is
//! expected. Real Traefik and Envoy binaries are the rig's next step; these samples
//! pin the wire formats meanwhile.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::Duration;

use switchboard_core::model::{BreakerState, Health, SourceStatus};
use switchboard_core::sources::envoy::EnvoyConfig;
use switchboard_core::sources::traefik::TraefikConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig, State};

const ENVOY_CLUSTERS: &str = include_str!("fixtures/envoy/clusters-format-json-two-clusters.json");
const TRAEFIK_RAWDATA: &str = include_str!("fixtures/traefik/api-getrawdata.json");
const ENVOY_STATS: &str = r#"{"stats":[{"name":"cluster.test_cluster.circuit_breakers.default.cx_open","value":1},{"name":"cluster.test_cluster.upstream_cx_overflow","value":3}]}"#;

/// Serves the fixtures by path; anything else gets an HTML error page.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req.split_whitespace().nth(1).unwrap_or("/");
                let (status, ctype, body) = if path.starts_with("/ok/clusters") {
                    (200, "application/json", ENVOY_CLUSTERS)
                } else if path.starts_with("/ok/stats") {
                    (200, "application/json", ENVOY_STATS)
                } else if path.starts_with("/ok/api/rawdata") {
                    (200, "application/json", TRAEFIK_RAWDATA)
                } else {
                    (
                        502,
                        "text/html",
                        "<html><body><h1>502 Bad Gateway</h1></body></html>",
                    )
                };
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                s.write_all(resp.as_bytes()).ok();
            });
        }
    });
    addr
}

fn sources(addr: &str) -> Vec<SourceConfig> {
    let envoy = |name: &str, base: &str| {
        SourceConfig::Envoy(EnvoyConfig {
            name: name.into(),
            admin: format!("http://{addr}{base}"),
            interval_millis: 100,
            timeout_millis: 1000,
            tls: None,
            auth: None,
            proxy: switchboard_core::sources::ProxySetting::default(),
            max_answer_bytes: None,
        })
    };
    let traefik = |name: &str, base: &str| {
        SourceConfig::Traefik(TraefikConfig {
            name: name.into(),
            api: format!("http://{addr}{base}"),
            interval_millis: 100,
            timeout_millis: 1000,
            metrics: None,
            dynamic_file: None,
            routes: Vec::new(),
            tls: None,
            auth: None,
            proxy: switchboard_core::sources::ProxySetting::default(),
            max_answer_bytes: None,
        })
    };
    vec![
        envoy("envoy", "/ok"),
        traefik("traefik", "/ok"),
        envoy("envoy-broken", "/broken"),
        traefik("traefik-broken", "/broken"),
    ]
}

#[test]
fn envoy_and_traefik_samples_become_state_and_html_is_a_clear_error() {
    let addr = serve();
    let cfg = Config {
        environment: vec![Environment::new("t", sources(&addr))],
    };
    let e = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine");
    let ready = |s: &State| {
        s.instances.contains_key("1.2.3.4:80")
            && s.instances.contains_key("127.0.0.1")
            && ["envoy-broken", "traefik-broken"]
                .iter()
                .all(|n| s.sources.contains_key(*n))
    };
    let s = e.wait_for(Duration::from_secs(10), ready);
    assert!(
        ready(&s),
        "sources: {:?}",
        s.sources.keys().collect::<Vec<_>>()
    );

    // Envoy: the host with every failure flag is unhealthy, and the breaker at capacity.
    let host = &s.instances["1.2.3.4:80"];
    assert_eq!(host.health, Health::Unhealthy);
    assert!(
        host.detail
            .as_deref()
            .is_some_and(|d| d.contains("ejected by outlier detection"))
    );
    let b = &s.breakers["envoy/test_cluster"];
    assert_eq!(b.state, BreakerState::Open);
    assert!(
        b.detail
            .as_deref()
            .is_some_and(|d| d.starts_with("at capacity: max_connections 1024 reached")),
        "{:?}",
        b.detail
    );
    assert!(
        s.routes
            .values()
            .any(|r| r.gateway.as_str() == "envoy" && r.service.as_str() == "test_cluster")
    );

    // Traefik: the router's service and its server, unknown without a health check.
    assert!(
        s.routes
            .values()
            .any(|r| r.gateway.as_str() == "traefik"
                && r.service.as_str() == "foo-service@myprovider")
    );
    assert_eq!(s.instances["127.0.0.1"].health, Health::Unknown);

    // HTML where JSON belongs: down, saying what came back, the rest unaffected.
    for name in ["envoy-broken", "traefik-broken"] {
        let src = &s.sources[name];
        assert_eq!(src.status, SourceStatus::Down, "{name}");
        let d = src.detail.as_deref().unwrap_or_default();
        assert!(d.contains("HTTP 502"), "{name}: {d}");
    }
    assert_eq!(s.sources["envoy"].status, SourceStatus::Up);
    assert_eq!(s.sources["traefik"].status, SourceStatus::Up);
}
