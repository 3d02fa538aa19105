//! The Consul source end to end against a FAKE Consul: no Consul server can run on our
//! machines (see test-rig.md), so a loopback HTTP server answers with Consul's own
//! documented responses (`tests/fixtures/consul`, see `SOURCES.md`), and mimics the two
//! behaviours the source depends on: blocking queries on `/v1/health/state/any`
//! (`?index=N&wait=` held until the index moves, `X-Consul-Index` on every answer) and
//! ACL tokens (`X-Consul-Token`, 403 `ACL not found` otherwise). These are recorded
//! responses, not a real Consul.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use switchboard_core::model::{Health, QuorumState, SourceStatus};
use switchboard_core::sources::consul::ConsulConfig;
use switchboard_core::{Clock as _, EngineHandle, SourceConfig, State, SystemClock};

const RAFT: &str = include_str!("fixtures/consul/operator-raft-configuration.json");
const CHECKS: &str = include_str!("fixtures/consul/health-state-passing.json");
const TOKEN: &str = "s3cret-token";

/// What the fake Consul serves now.
struct World {
    index: u64,
    checks: String,
    leader: bool,
}

type Shared = Arc<(Mutex<World>, Condvar)>;

fn respond(s: &mut std::net::TcpStream, status: u16, index: u64, body: &str) {
    let resp = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nX-Consul-Index: {index}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(resp.as_bytes()).ok();
}

fn serve(world: Shared) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let world = Arc::clone(&world);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
                if !req
                    .lines()
                    .any(|l| l.to_ascii_lowercase() == format!("x-consul-token: {TOKEN}"))
                {
                    respond(&mut s, 403, 0, "ACL not found");
                    return;
                }
                let (lock, cvar) = &*world;
                let mut w = lock.lock().expect("world");
                if path.starts_with("/v1/health/state/any") {
                    let asked: u64 = path
                        .split("index=")
                        .nth(1)
                        .and_then(|x| x.split('&').next())
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(0);
                    // A blocking query: hold until the index moves past the one asked.
                    let deadline = std::time::Instant::now() + Duration::from_secs(5);
                    while w.index <= asked && std::time::Instant::now() < deadline {
                        w = cvar
                            .wait_timeout(w, Duration::from_millis(100))
                            .expect("wait")
                            .0;
                    }
                    let (index, body) = (w.index, w.checks.clone());
                    drop(w);
                    respond(&mut s, 200, index, &body);
                } else if path.starts_with("/v1/operator/raft/configuration") {
                    if w.leader {
                        respond(&mut s, 200, 22, RAFT);
                    } else {
                        respond(&mut s, 500, 0, "No cluster leader");
                    }
                } else if path.starts_with("/v1/status/leader") {
                    respond(
                        &mut s,
                        200,
                        0,
                        if w.leader {
                            r#""127.0.0.1:8300""#
                        } else {
                            r#""""#
                        },
                    );
                } else if path.starts_with("/v1/status/peers") {
                    respond(
                        &mut s,
                        200,
                        0,
                        r#"["127.0.0.1:8300","127.0.0.2:8300","127.0.0.3:8300"]"#,
                    );
                } else {
                    respond(&mut s, 404, 0, "not found");
                }
            });
        }
    });
    addr
}

#[allow(unsafe_code)]
fn engine(addr: &str, token_env: &str, token: &str) -> EngineHandle {
    // SAFETY: each test uses its own variable name; nothing else writes it.
    unsafe { std::env::set_var(token_env, token) };
    common::engine_with(SourceConfig::Consul(ConsulConfig {
        name: "dc1".into(),
        address: Some(format!("http://{addr}")),
        token_env: Some(token_env.into()),
        interval_millis: 100,
        timeout_millis: 1000,
        wait_secs: 5,
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    }))
}

fn redis(s: &State) -> Option<(Health, String)> {
    s.instances
        .get("foobar/redis")
        .map(|i| (i.health, i.detail.as_deref().unwrap_or_default().to_owned()))
}

#[test]
fn servers_feed_the_quorum_view_and_a_check_change_arrives_through_the_blocking_query() {
    let world: Shared = Arc::new((
        Mutex::new(World {
            index: 10,
            checks: CHECKS.to_owned(),
            leader: true,
        }),
        Condvar::new(),
    ));
    let addr = serve(Arc::clone(&world));
    let e = engine(&addr, "SWITCHBOARD_TEST_CONSUL_TOKEN_A", TOKEN);
    let s = e.wait_for(Duration::from_secs(10), |s| {
        s.clusters
            .get("dc1")
            .is_some_and(|c| c.quorum.state == QuorumState::Healthy)
            && redis(s).is_some()
    });
    let c = &s.clusters["dc1"];
    assert_eq!(c.quorum.state, QuorumState::Healthy, "{}", c.quorum.reason);
    assert_eq!(c.members.len(), 3);
    assert_eq!(redis(&s).map(|r| r.0), Some(Health::Healthy));

    // The check turns critical: Consul answers the held query at once.
    let changed_at = SystemClock.now();
    {
        let (lock, cvar) = &*world;
        let mut w = lock.lock().expect("world");
        w.checks = CHECKS.replacen(
            r#""Status": "passing",
    "Notes": "",
    "Output": "",
    "ServiceID": "redis""#,
            r#""Status": "critical",
    "Notes": "",
    "Output": "connection refused",
    "ServiceID": "redis""#,
            1,
        );
        assert_ne!(w.checks, CHECKS, "the fixture changed");
        w.index = 11;
        cvar.notify_all();
    }
    let s = e.wait_for(Duration::from_secs(10), |s| {
        redis(s).is_some_and(|r| r.0 == Health::Unhealthy)
    });
    let (health, detail) = redis(&s).expect("redis");
    let seen = s.instances["foobar/redis"].since;
    eprintln!(
        "consul contract: critical check seen {} ms after the change (blocking query)",
        seen.millis_since(changed_at)
    );
    assert_eq!(health, Health::Unhealthy);
    assert!(detail.contains("connection refused"), "{detail}");
    assert!(
        seen.millis_since(changed_at) < 1000,
        "no polling interval in between"
    );

    // The servers lose their leader: the quorum view says lost.
    world.0.lock().expect("world").leader = false;
    let s = e.wait_for(Duration::from_secs(10), |s| {
        s.clusters
            .get("dc1")
            .is_some_and(|c| c.quorum.state == QuorumState::Lost)
    });
    assert_eq!(s.clusters["dc1"].quorum.state, QuorumState::Lost);
}

#[test]
fn a_wrong_token_is_a_clear_error_and_nothing_else_breaks() {
    let world: Shared = Arc::new((
        Mutex::new(World {
            index: 1,
            checks: CHECKS.to_owned(),
            leader: true,
        }),
        Condvar::new(),
    ));
    let addr = serve(world);
    let e = engine(&addr, "SWITCHBOARD_TEST_CONSUL_TOKEN_B", "expired");
    let s = e.wait_for(Duration::from_secs(10), |s| {
        s.sources
            .get("dc1")
            .is_some_and(|x| x.status == SourceStatus::Down)
    });
    let detail = s.sources["dc1"].detail.clone().unwrap_or_default();
    assert!(detail.contains("ACL token was refused"), "{detail}");
    assert!(
        !detail.contains("expired"),
        "the token itself is never shown: {detail}"
    );
}
