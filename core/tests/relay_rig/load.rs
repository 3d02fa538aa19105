//! What a relay saves production, read from the servers' own counters, and what it
//! costs the consoles (printed for the README; the times are figures, not asserted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_core::EngineHandle;

use crate::common;
use crate::helpers::{RigRelay, client_of, console, pki, rig_env, serve_config, wait_connected};

/// gRPC calls the rig's three etcd members have started, all methods together.
fn etcd_calls() -> u64 {
    ["12379", "22379", "32379"]
        .iter()
        .map(|port| {
            common::curl(&format!("http://127.0.0.1:{port}/metrics"))
                .lines()
                .filter(|l| l.starts_with("grpc_server_started_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64
        })
        .sum()
}

/// Requests HAProxy's stats frontend has served (its `req_tot`), this read included.
fn haproxy_requests() -> u64 {
    let csv = common::curl("http://127.0.0.1:8404/stats;csv");
    let header: Vec<&str> = csv
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = header
        .iter()
        .position(|h| *h == "req_tot")
        .expect("req_tot");
    csv.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"stats") && f.get(1) == Some(&"FRONTEND"))
        .and_then(|f| f.get(col)?.parse().ok())
        .expect("the stats frontend's row")
}

/// What the servers answered during `window`, after `warm` for connections to settle.
fn load_during(warm: Duration, window: Duration) -> (u64, u64) {
    std::thread::sleep(warm);
    let (e0, h0) = (etcd_calls(), haproxy_requests());
    std::thread::sleep(window);
    let (e1, h1) = (etcd_calls(), haproxy_requests());
    // The second read of the stats page is one of the requests counted.
    (e1 - e0, h1 - h0 - 1)
}

/// Twenty consoles on a relay cost the rig's etcd and HAProxy what one console costs;
/// twenty consoles polling for themselves cost twenty times as much (so the counters do
/// see consoles).
#[test]
fn twenty_consoles_on_a_relay_load_production_as_one_console_does() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let warm = Duration::from_secs(3);
    let window = Duration::from_secs(8);

    let one = common::engine_with_env(rig_env());
    let (etcd_one, haproxy_one) = load_during(warm, window);
    drop(one);

    let direct: Vec<EngineHandle> = (0..20)
        .map(|_| common::engine_with_env(rig_env()))
        .collect();
    let (etcd_direct, haproxy_direct) = load_during(warm, window);
    drop(direct);

    let relay = RigRelay::start(rig_env(), &serve_config(&pki));
    let consoles: Vec<EngineHandle> = (0..20)
        .map(|i| {
            let person = ["alice", "bob", "wall"][i % 3];
            console(&client_of(&relay.url(), &pki, person))
        })
        .collect();
    for c in &consoles {
        wait_connected(c, Duration::from_secs(20));
    }
    let (etcd_relay, haproxy_relay) = load_during(warm, window);
    for c in &consoles {
        assert!(
            c.relay_link().is_some_and(|l| l.connected),
            "all consoles followed"
        );
    }
    drop(consoles);
    relay.stop();

    println!(
        "production load over {} s: one console: etcd {etcd_one} calls, HAProxy {haproxy_one} requests; \
         20 consoles polling directly: etcd {etcd_direct}, HAProxy {haproxy_direct}; \
         1 relay + 20 consoles: etcd {etcd_relay}, HAProxy {haproxy_relay}",
        window.as_secs()
    );
    assert!(haproxy_one > 0 && etcd_one > 0, "one console polls");
    assert!(
        haproxy_direct >= 10 * haproxy_one && etcd_direct >= 10 * etcd_one,
        "the counters see each console"
    );
    let close = |relayed: u64, one: u64| relayed * 4 <= one * 5 + 20;
    assert!(
        close(etcd_relay, etcd_one),
        "etcd: {etcd_relay} calls through the relay vs {etcd_one} for one console"
    );
    assert!(
        close(haproxy_relay, haproxy_one),
        "HAProxy: {haproxy_relay} requests through the relay vs {haproxy_one} for one console"
    );
}

/// The time from the relay applying a batch to each of twenty consoles applying it,
/// over a run on the rig: every batch reaches every console (asserted); the p50, p99
/// and worst are printed for the README.
#[test]
fn relay_to_console_latency_for_twenty_consoles() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let relay = RigRelay::start(rig_env(), &serve_config(&pki));
    let consoles: Vec<EngineHandle> = (0..20)
        .map(|_| console(&client_of(&relay.url(), &pki, "wall")))
        .collect();
    for c in &consoles {
        wait_connected(c, Duration::from_secs(20));
    }
    // Each batch is known by its first event's encoding.
    let key = |b: &[switchboard_core::Event]| {
        b.first()
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .unwrap_or_default()
    };
    let seen_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let delays: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut relay_rx = relay.engine.subscribe();
    let seen = Arc::clone(&seen_at);
    rt.spawn(async move {
        while let Ok(b) = relay_rx.recv().await {
            if let Ok(mut s) = seen.lock() {
                s.insert(key(&b), Instant::now());
            }
        }
    });
    for c in &consoles {
        let mut rx = c.subscribe();
        let seen = Arc::clone(&seen_at);
        let delays = Arc::clone(&delays);
        rt.spawn(async move {
            while let Ok(b) = rx.recv().await {
                let now = Instant::now();
                let k = key(&b);
                // The relay's subscriber may be a hair behind on its own runtime.
                for _ in 0..100 {
                    let at = seen.lock().ok().and_then(|s| s.get(&k).copied());
                    if let Some(at) = at {
                        if let Ok(mut d) = delays.lock() {
                            d.push(now.saturating_duration_since(at));
                        }
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
    }
    std::thread::sleep(Duration::from_secs(15));
    rt.shutdown_timeout(Duration::from_secs(1));
    let mut d = delays.lock().expect("delays").clone();
    d.sort_unstable();
    let batches = seen_at.lock().expect("seen").len();
    assert!(batches >= 10, "the relay applied only {batches} batches");
    assert!(
        d.len() >= batches * 20 * 9 / 10,
        "{} deliveries for {batches} batches to 20 consoles",
        d.len()
    );
    let pct = |p: f64| d[((d.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
    println!(
        "relay -> console over TLS, 20 consoles, {} deliveries of {batches} batches: p50 {:.1} ms, p99 {:.1} ms, worst {:.1} ms",
        d.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    drop(consoles);
    relay.stop();
}

/// A console connecting to the relay of a 10,000-instance estate (the drill's fleet at
/// that size) gets the whole state, fingerprint checked, in one snapshot; the time from
/// asking to having it, and the snapshot's size, are printed for the README.
#[test]
fn a_ten_thousand_instance_state_reaches_a_console_whole() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let estate = switchboard_core::Config::drill(switchboard_core::sources::drill::DrillConfig {
        instances: 10_000,
        ..switchboard_core::sources::drill::DrillConfig::default()
    })
    .environment
    .remove(0);
    let relay = RigRelay::start(estate, &serve_config(&pki));
    let s = relay
        .engine
        .wait_for(Duration::from_mins(1), |s| s.instances.len() >= 10_000);
    assert!(
        s.instances.len() >= 10_000,
        "{} instances",
        s.instances.len()
    );
    let snap = switchboard_core::protocol::encode_snapshot(&s, "drill");
    let asked = Instant::now();
    let c = console(&client_of(&relay.url(), &pki, "wall"));
    let got = c.wait_for(Duration::from_mins(1), |s| s.instances.len() >= 10_000);
    let took = asked.elapsed();
    assert!(
        got.instances.len() >= 10_000,
        "{} instances",
        got.instances.len()
    );
    println!(
        "a 10,000-instance state to a new console over TLS: {} ms (snapshot {} kB compressed, {} kB raw)",
        took.as_millis(),
        snap.state.len() >> 10,
        snap.raw_len >> 10
    );
    drop(c);
    relay.stop();
}
