//! A real Traefik's circuit breaker, inferred: the rig's `flaky` router sends `/flaky`
//! through the `cb-flaky` middleware (`NetworkErrorRatio() > 0.50`, fallback 3 s) to
//! backend2 alone. A side thread requests `/flaky` every 50 ms and notes what Traefik
//! answers: 502 while the backend is dead and the breaker closed, 503 (the fallback)
//! once Traefik's breaker has tripped. The console, reading only Traefik's
//! `/metrics` counters, must show the breaker open soon after Traefik trips it, and
//! closed again once the backend is back.
//!
//! Runs when `SWITCHBOARD_RIG` names `traefik`.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{rig, rig_has};
use switchboard_core::model::BreakerState;
use switchboard_core::sources::traefik::TraefikConfig;
use switchboard_core::{Clock as _, SourceConfig, State, StatusReport, SystemClock, Timestamp};

const BREAKER: &str = "traefik/cb-flaky@file";

/// One `GET /flaky` through Traefik's web entry point; the status code, 0 on failure.
fn get_flaky() -> u16 {
    let Ok(mut s) = TcpStream::connect("127.0.0.1:8180") else {
        return 0;
    };
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    if s.write_all(b"GET /flaky HTTP/1.0\r\nHost: rig\r\n\r\n")
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

/// Requests `/flaky` every 50 ms until `stop`, logging (time, status).
fn traffic(stop: Arc<AtomicBool>) -> Arc<Mutex<Vec<(Timestamp, u16)>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let out = Arc::clone(&log);
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let code = get_flaky();
            log.lock().expect("log").push((SystemClock.now(), code));
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    out
}

fn breaker(s: &State) -> Option<(BreakerState, Option<Timestamp>, bool)> {
    s.breakers
        .get(BREAKER)
        .map(|b| (b.state, b.last_flip, b.inferred.is_some()))
}

#[test]
fn traefik_breaker_state_is_inferred_from_its_metrics() {
    if !rig_has("traefik") {
        eprintln!(
            "skipped: the real Traefik rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG)"
        );
        return;
    }
    rig(&["restart", "backend2"]);
    let e = common::engine_with(SourceConfig::Traefik(TraefikConfig {
        name: "traefik".into(),
        api: "http://127.0.0.1:8181".into(),
        interval_millis: 100,
        timeout_millis: 1000,
        metrics: None,
        dynamic_file: None,
        routes: Vec::new(),
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let log = traffic(Arc::clone(&stop));
    let wait = |what: &str, pred: &dyn Fn(&State) -> bool| {
        let s = e.wait_for(Duration::from_secs(20), pred);
        assert!(pred(&s), "{what}: breaker {:?}", breaker(&s));
        s
    };
    let s = wait("closed with traffic", &|s| {
        s.breakers
            .get(BREAKER)
            .is_some_and(|b| b.state == BreakerState::Closed && b.volume > 0)
    });
    assert!(breaker(&s).is_some_and(|b| b.2), "labelled inferred");
    let report = StatusReport::new(&s, SystemClock.now());
    assert!(
        report
            .breakers
            .iter()
            .any(|b| b.id == BREAKER && b.basis == "inferred")
    );
    assert!(
        s.routes
            .values()
            .any(|r| r.breaker.as_ref().is_some_and(|b| b.as_str() == BREAKER)),
        "the flaky route carries the breaker's badge"
    );

    let killed_at = SystemClock.now();
    rig(&["kill", "backend2"]);
    let s = wait("open after the backend died", &|s| {
        breaker(s).is_some_and(|b| b.0 == BreakerState::Open)
    });
    let console_open = breaker(&s).and_then(|b| b.1).unwrap_or_default();
    // Traefik's own trip: its first fallback answer (it may come before or after the
    // console's, as the two windows start from different histories).
    let first_503 = || {
        log.lock()
            .expect("log")
            .iter()
            .find(|(t, c)| *t >= killed_at && *c == 503)
            .map(|(t, _)| *t)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while first_503().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let traefik_open = first_503();

    rig(&["restart", "backend2"]);
    let back_at = SystemClock.now();
    let s = wait("closed after the backend came back", &|s| {
        breaker(s).is_some_and(|b| b.0 == BreakerState::Closed && b.1 > Some(console_open))
    });
    stop.store(true, Ordering::Relaxed);
    let console_closed = breaker(&s).and_then(|b| b.1).unwrap_or_default();
    let traefik_ok = log
        .lock()
        .expect("log")
        .iter()
        .find(|(t, c)| *t >= back_at && *c == 200)
        .map(|(t, _)| *t);
    let flips: Vec<String> = s.breakers[BREAKER]
        .flips
        .iter()
        .map(|f| format!("{}->{}", f.from.as_str(), f.to.as_str()))
        .collect();

    let traefik_open = traefik_open.expect("Traefik's fallback (503) seen after the kill");
    let line = format!(
        "traefik breaker rig: Traefik tripped {} ms after the kill; console open {:+} ms from Traefik's trip; \
         Traefik served 200 again {} ms after the restart, console closed {} ms after the restart; flips {flips:?}",
        traefik_open.millis_since(killed_at),
        console_open.millis_since(traefik_open),
        traefik_ok.map_or(-1, |t| t.millis_since(back_at)),
        console_closed.millis_since(back_at),
    );
    eprintln!("{line}");
    assert!(
        console_open.millis_since(traefik_open).abs() <= 1500,
        "the console's breaker opens with Traefik's: {line}"
    );
    assert!(
        flips.contains(&"open->half_open".to_owned()),
        "recovered through trial calls: {line}"
    );
}
