//! HTTP probes against real endpoints on loopback: a small server in this test answers
//! healthy, sick (503 with a deep readiness body), slowly (past the timeout), with
//! truncated JSON, and with a health the test flips.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use switchboard_core::model::Health;
use switchboard_core::sources::http_probe::HttpProbeConfig;
use switchboard_core::{Config, EngineHandle, EngineOptions, Environment, SourceConfig, State};

/// Serves the test routes; `/flip` is healthy while `flip_ok` is true.
fn serve(flip_ok: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let flip_ok = Arc::clone(&flip_ok);
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, ctype, body) = match path.as_str() {
                    "/ok" => (200, "application/json", r#"{"status":"UP","components":{"database":{"status":"UP","latency_ms":3}},"saturation":35}"#.to_owned()),
                    "/sick" => (503, "application/json", r#"{"status":"DOWN","components":{"database":{"status":"DOWN","latency_ms":5000,"detail":"pool exhausted"}},"saturation":100}"#.to_owned()),
                    "/slow" => {
                        std::thread::sleep(Duration::from_secs(5));
                        (200, "application/json", r#"{"status":"UP"}"#.to_owned())
                    }
                    "/truncated" => (200, "application/json", r#"{"status":"UP","compon"#.to_owned()),
                    "/flip" if flip_ok.load(Ordering::Relaxed) => (200, "application/json", r#"{"status":"UP"}"#.to_owned()),
                    "/flip" => (503, "application/json", r#"{"status":"DOWN"}"#.to_owned()),
                    _ => (404, "text/plain", "not found".to_owned()),
                };
                let reason = if status == 200 { "OK" } else { "Error" };
                let resp = format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                s.write_all(resp.as_bytes()).ok();
            });
        }
    });
    addr
}

fn probe(addr: &str, path: &str) -> SourceConfig {
    SourceConfig::HttpProbe(HttpProbeConfig {
        name: format!("probe{path}"),
        url: format!("http://{addr}{path}"),
        interval_secs: 0.1,
        timeout_secs: 1.5,
        healthy_threshold: 2,
        unhealthy_threshold: 2,
        // The sick target is its own service, so its saturation is its own pool bar.
        service: Some(
            if path == "/sick" {
                "probed-sick"
            } else {
                "probed"
            }
            .into(),
        ),
        instance: Some(path.trim_start_matches('/').into()),
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    })
}

fn health(s: &State, instance: &str) -> Option<(Health, String)> {
    s.instances
        .get(instance)
        .map(|i| (i.health, i.detail.as_deref().unwrap_or_default().to_owned()))
}

fn wait(e: &EngineHandle, instance: &str, want: Health, needle: &str) -> Duration {
    let start = Instant::now();
    let s = e.wait_for(Duration::from_secs(10), |s| {
        health(s, instance).is_some_and(|(h, d)| h == want && d.contains(needle))
    });
    assert!(
        health(&s, instance).is_some_and(|(h, d)| h == want && d.contains(needle)),
        "{instance}: wanted {want:?} with {needle:?}, got {:?}",
        health(&s, instance)
    );
    start.elapsed()
}

#[test]
fn probes_read_deep_health_time_out_and_follow_thresholds() {
    let flip_ok = Arc::new(AtomicBool::new(true));
    let addr = serve(Arc::clone(&flip_ok));
    let sources = ["/ok", "/sick", "/slow", "/truncated", "/flip"]
        .iter()
        .map(|p| probe(&addr, p))
        .collect();
    let cfg = Config {
        environment: vec![Environment::new("t", sources)],
    };
    let e = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine");

    wait(&e, "ok", Health::Healthy, "HTTP 200");
    wait(
        &e,
        "sick",
        Health::Unhealthy,
        "database DOWN (pool exhausted)",
    );
    wait(&e, "slow", Health::Unhealthy, "no answer within 1500 ms");
    wait(&e, "truncated", Health::Unhealthy, "malformed JSON");
    wait(&e, "flip", Health::Healthy, "HTTP 200");
    let s = e.snapshot();
    assert_eq!(
        s.services["probed-sick"].pool.map(|p| p.in_use),
        Some(100),
        "saturation feeds the pool bar"
    );
    assert_eq!(s.services["probed"].pool.map(|p| p.in_use), Some(35));

    // The target turns unhealthy: two failures in a row at 100 ms make it unhealthy.
    flip_ok.store(false, Ordering::Relaxed);
    let down = wait(&e, "flip", Health::Unhealthy, "HTTP 503");
    flip_ok.store(true, Ordering::Relaxed);
    let up = wait(&e, "flip", Health::Healthy, "HTTP 200");
    eprintln!(
        "http probe (interval 100 ms, thresholds 2/2): unhealthy after {} ms, healthy again after {} ms",
        down.as_millis(),
        up.as_millis()
    );
    assert!(down < Duration::from_secs(2) && up < Duration::from_secs(2));
}

/// A probe whose target answers the same at every poll says nothing new: the console
/// records one heartbeat a second for it instead of its repetitions, never takes it
/// for stale, and the recording replays to the state the console had, every keyframe
/// matching.
#[test]
fn a_probe_that_repeats_itself_is_recorded_as_heartbeats() {
    use switchboard_core::model::SourceStatus;
    use switchboard_core::session::SessionReader;
    use switchboard_core::session::replay::Replay;

    let addr = serve(Arc::new(AtomicBool::new(true)));
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("quiet.session");
    let cfg = Config {
        environment: vec![Environment {
            stale_after_millis: 1500,
            ..Environment::new("t", vec![probe(&addr, "/ok")])
        }],
    };
    let mut opts = EngineOptions::new(cfg);
    opts.record_to = Some(path.clone());
    let e = switchboard_core::start(&opts).expect("engine");
    wait(&e, "ok", Health::Healthy, "HTTP 200");
    std::thread::sleep(Duration::from_secs(5));
    let s = e.snapshot();
    assert_eq!(s.sources["probe/ok"].status, SourceStatus::Up);
    assert!(
        !s.log.iter().any(|l| l.message.starts_with("source stale")),
        "a quiet source is alive"
    );
    assert!(e.shutdown().is_none(), "recorded to the end");

    let sources = SessionReader::open(&path)
        .expect("open")
        .sources()
        .expect("sources");
    let (_, kinds, n) = sources
        .iter()
        .find(|(name, ..)| name == "probe/ok")
        .expect("the probe recorded");
    assert!(kinds.iter().any(|k| k == "heartbeat"), "{kinds:?}");
    // Some 60 polls: its status, the instance twice (unknown, then healthy), its pool,
    // and a heartbeat a second.
    assert!(*n <= 16, "{n} events recorded: {kinds:?}");
    let mut r = Replay::open(&path).expect("replay");
    r.index(&mut |_, _| {});
    assert!(r.verification().ok(), "{:?}", r.warnings());
    assert!(r.verification().checked >= 1);
}
