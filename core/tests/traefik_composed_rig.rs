//! A real Traefik's composed service: the rig's router `composed` sends `/composed`
//! through the circuit breaker `cb-composed` (`ResponseCodeRatio(500, 600, 0, 600) >
//! 0.25`, fallback 3 s) to the failover `composedsvc`, whose main is the weighted
//! `splitsvc` over the load balancers `appa` (backend4) and `appb` (backend5) and whose
//! fallback is `sparesvc` (backend2).
//!
//! The console must list the servers behind the composition as the route's backends,
//! follow the breaker on the load balancers' counters (Traefik counts nothing on
//! `composedsvc` or `splitsvc`), open it within 2 s of Traefik's own trip when the
//! backends answer real 500s, close it once they answer 200 again, and show the
//! failover moving to its fallback when both apps die and back when they return.
//!
//! A second test starts a Traefik of its own on free ports, reading a copy of the rig's
//! file (so the same servers) with `--metrics.prometheus.addRoutersLabels=true`: the
//! breaker is then followed on the router's own counters, which also count the
//! breaker's own 503s; it must still open within 2 s of Traefik's trip and close again.
//! The two tests switch the same backends, so they take turns.
//!
//! Runs when `SWITCHBOARD_RIG` names `traefik`.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{rig, rig_has};
use switchboard_core::model::{BreakerState, ServiceId};
use switchboard_core::sources::traefik::{TraefikConfig, TraefikRoute};
use switchboard_core::workflow::{self, Kind};
use switchboard_core::{
    Clock as _, Environment, SourceConfig, State, StatusReport, SystemClock, Timestamp,
};

const BREAKER: &str = "traefik/cb-composed@file";
const ROUTE: &str = "traefik/composed@file";
const FAILOVER: &str = "composedsvc@file";

/// The rig's Traefik's entry point.
const WEB: &str = "127.0.0.1:8180";

/// The two tests switch the same backends: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// One `GET /composed` through Traefik's entry point `web`; the status code, 0 on
/// failure.
fn get_composed(web: &str) -> u16 {
    let Ok(mut s) = TcpStream::connect(web) else {
        return 0;
    };
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    if s.write_all(b"GET /composed HTTP/1.0\r\nHost: rig\r\n\r\n")
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

/// Requests `/composed` through `web` every 50 ms until `stop`, logging (time, status).
fn traffic(web: &str, stop: Arc<AtomicBool>) -> Arc<Mutex<Vec<(Timestamp, u16)>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let out = Arc::clone(&log);
    let web = web.to_owned();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let code = get_composed(&web);
            log.lock().expect("log").push((SystemClock.now(), code));
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    out
}

/// Puts backend4 and backend5 back as the rig starts them, whatever the test did.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        for n in ["4", "5"] {
            let name = format!("backend{n}");
            rig(&["restart", &name]);
        }
    }
}

fn chosen(s: &State) -> Option<(Option<String>, bool)> {
    s.choices
        .get(FAILOVER)
        .map(|c| (c.choice.chosen.clone(), c.choice.primary))
}

/// A Traefik source on `api`, with router `web` able to fall back to the composed
/// service.
fn traefik(api: &str, dynamic_file: Option<String>) -> SourceConfig {
    SourceConfig::Traefik(TraefikConfig {
        name: "traefik".into(),
        api: api.into(),
        interval_millis: 100,
        timeout_millis: 1000,
        metrics: None,
        dynamic_file,
        routes: vec![TraefikRoute {
            router: "web".into(),
            primary: "websvc".into(),
            fallback: "composedsvc".into(),
        }],
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    })
}

/// The "destination healthy" guard of a plan moving router `web` to `composedsvc`
/// (planned only, never run): (ok, reason).
fn destination_guard() -> (bool, String) {
    let file = std::path::PathBuf::from(
        std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()),
    )
    .join("traefik-dyn.yml");
    let environment = Environment {
        relay: None,
        relay_tls: None,
        relay_auth: None,
        fallback_direct: false,
        serve: None,
        second_approver: false,
        experiment: Vec::new(),
        objectives: switchboard_core::store::Objectives::default(),
        look: switchboard_core::Look::default(),
        runbook: Vec::new(),
        name: "rig".into(),
        read_only: false,
        stale_after_millis: 5000,
        source: vec![traefik(
            "http://127.0.0.1:8181",
            Some(file.display().to_string()),
        )],
        fence: Vec::new(),
    };
    let (_dir, journal) = common::journal();
    let ctx = common::workflow_ctx(&environment, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fallback, "traefik/web"))
        .expect("plan");
    let g = plan
        .guards
        .iter()
        .find(|g| g.name == "destination healthy")
        .expect("the guard");
    (g.ok, g.reason.clone())
}

/// The first flip of the breaker to open at or after `after`.
fn opened_after(s: &State, after: Timestamp) -> Option<Timestamp> {
    s.breakers.get(BREAKER).and_then(|b| {
        b.flips
            .iter()
            .find(|f| f.at >= after && f.to == BreakerState::Open)
            .map(|f| f.at)
    })
}

#[test]
fn traefik_composed_service_backends_breaker_and_failover() {
    if !rig_has("traefik") {
        eprintln!(
            "skipped: the real Traefik rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG)"
        );
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _restore = Restore;
    for n in ["4", "5"] {
        rig(&["restart", &format!("backend{n}")]);
    }
    let e = common::engine_with(traefik("http://127.0.0.1:8181", None));
    let wait = |what: &str, pred: &dyn Fn(&State) -> bool| {
        let s = e.wait_for(Duration::from_secs(20), pred);
        assert!(
            pred(&s),
            "{what}: breaker {:?}, choice {:?}",
            s.breakers.get(BREAKER).map(|b| (b.state, b.volume)),
            chosen(&s)
        );
        s
    };

    // The servers behind the composition are the route's backends.
    let s = wait("the composition and its three servers", &|s| {
        let r = StatusReport::new(s, SystemClock.now());
        let on_route = |addr: &str| {
            r.backends
                .iter()
                .any(|b| b.name == addr && b.gateways == ["traefik"] && b.health == "healthy")
        };
        on_route("127.0.0.1:9004") && on_route("127.0.0.1:9005") && on_route("127.0.0.1:9002")
    });
    let report = StatusReport::new(&s, SystemClock.now());
    let route = report
        .routes
        .iter()
        .find(|r| r.name == ROUTE)
        .expect("the composed route");
    assert_eq!(route.service, FAILOVER);
    assert_eq!(route.leaves, ["appa@file", "appb@file", "sparesvc@file"]);
    assert_eq!(route.breaker.as_deref(), Some(BREAKER));
    assert_eq!(
        chosen(&s),
        Some((Some("splitsvc@file".to_owned()), true)),
        "the failover sends to its main"
    );
    let reach = s.reach(&ServiceId::new(FAILOVER));
    assert_eq!(s.reach_counts(&ServiceId::new(FAILOVER)).healthy, 3);
    assert!(!reach.cycle);

    let trip = trip_and_recover(&e, WEB, "appa@file, appb@file, sparesvc@file");

    // Both apps die: the failover sends to its fallback, then back to its main.
    rig(&["kill", "backend4"]);
    rig(&["kill", "backend5"]);
    let killed_at = SystemClock.now();
    let s = wait("the failover on its fallback", &|s| {
        chosen(s) == Some((Some("sparesvc@file".to_owned()), false))
    });
    let fallback_after = s.choices[FAILOVER].since.millis_since(killed_at);
    let r = StatusReport::new(&s, SystemClock.now());
    let route = r.routes.iter().find(|r| r.name == ROUTE).expect("route");
    assert!(
        route
            .choices
            .iter()
            .any(|c| c.service == FAILOVER && !c.primary),
        "status --json shows the fallback on the route"
    );
    // A route moved to the composed service would find a server: its fallback's.
    let (ok, reason) = destination_guard();
    assert!(ok, "{reason}");
    assert!(
        reason.contains("composedsvc@file is composed")
            && reason.contains("1 of 1 server(s) of sparesvc UP")
            && reason.contains("0 of 1 server(s) of appa UP"),
        "{reason}"
    );
    rig(&["restart", "backend4"]);
    let back_at = SystemClock.now();
    let s = wait("the failover back on its main", &|s| {
        chosen(s) == Some((Some("splitsvc@file".to_owned()), true))
    });
    let main_after = s.choices[FAILOVER].since.millis_since(back_at);

    eprintln!(
        "traefik composed rig: {}; failover on its fallback {fallback_after} ms after both apps died, \
         back on its main {main_after} ms after appa returned",
        trip.line
    );
    trip.check();
}

/// What happened to the breaker when the apps answered 500s and then 200s again.
struct Trip {
    line: String,
    /// The console's open, from Traefik's first 503 (ms).
    open_from_traefik: i64,
    flips: Vec<String>,
}

impl Trip {
    fn check(&self) {
        assert!(
            self.open_from_traefik.abs() <= 2000,
            "the console's breaker opens within 2 s of Traefik's: {}",
            self.line
        );
        assert!(
            self.flips.contains(&"open->half_open".to_owned()),
            "recovered through trial calls: {}",
            self.line
        );
    }
}

/// Traffic through `web`; the breaker closed with volume, labelled with `counters`;
/// backend4 and backend5 switched to 500s: the console's open against Traefik's first
/// 503; back to 200s: closed again.
fn trip_and_recover(e: &switchboard_core::EngineHandle, web: &str, counters: &str) -> Trip {
    let wait = |what: &str, pred: &dyn Fn(&State) -> bool| {
        let s = e.wait_for(Duration::from_secs(20), pred);
        assert!(
            pred(&s),
            "{what}: breaker {:?}",
            s.breakers.get(BREAKER).map(|b| (b.state, b.volume))
        );
        s
    };
    let stop = Arc::new(AtomicBool::new(false));
    let log = traffic(web, Arc::clone(&stop));
    let s = wait("closed with traffic", &|s| {
        s.breakers
            .get(BREAKER)
            .is_some_and(|b| b.state == BreakerState::Closed && b.volume >= 20)
    });
    let inferred = s.breakers[BREAKER].inferred.clone().unwrap_or_default();
    assert!(inferred.contains(counters), "{inferred}");

    // Real 500s from both apps: Traefik trips, and the console opens within 2 s.
    let failed_at = SystemClock.now();
    rig(&["backend-fail", "4"]);
    rig(&["backend-fail", "5"]);
    let s = wait("open after the apps answer 500", &|s| {
        opened_after(s, failed_at).is_some()
    });
    let console_open = opened_after(&s, failed_at).expect("opened");
    let first = |code: u16| {
        log.lock()
            .expect("log")
            .iter()
            .find(|(t, c)| *t >= failed_at && *c == code)
            .map(|(t, _)| *t)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while first(503).is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let traefik_open = first(503).expect("Traefik's fallback (503) after the 500s");

    // Back to 200s: the console closes again, through trial calls.
    rig(&["backend-ok", "4"]);
    rig(&["backend-ok", "5"]);
    let ok_at = SystemClock.now();
    let s = wait("closed after the apps answer 200 again", &|s| {
        s.breakers.get(BREAKER).is_some_and(|b| {
            b.state == BreakerState::Closed && b.last_flip.is_some_and(|f| f > ok_at)
        })
    });
    stop.store(true, Ordering::Relaxed);
    let console_closed = s.breakers[BREAKER].last_flip.unwrap_or_default();
    let flips: Vec<String> = s.breakers[BREAKER]
        .flips
        .iter()
        .filter(|f| f.at >= failed_at)
        .map(|f| format!("{}->{}", f.from.as_str(), f.to.as_str()))
        .collect();
    let open_from_traefik = console_open.millis_since(traefik_open);
    Trip {
        line: format!(
            "first 500 {} ms after the switch; Traefik tripped (first 503) {} ms after it; \
             console open {} ms after it, {open_from_traefik:+} ms from Traefik's trip; \
             console closed {} ms after the apps answered 200 (flips {flips:?})",
            first(500).map_or(-1, |t| t.millis_since(failed_at)),
            traefik_open.millis_since(failed_at),
            console_open.millis_since(failed_at),
            console_closed.millis_since(ok_at),
        ),
        open_from_traefik,
        flips,
    }
}

/// A Traefik of the test's own on free ports, reading a copy of the rig's file, with
/// per-router counters; killed when dropped.
struct OwnTraefik {
    child: std::process::Child,
    web: String,
    api: String,
    _dir: tempfile::TempDir,
}

impl Drop for OwnTraefik {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl OwnTraefik {
    fn start() -> Self {
        let rig_dir = std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into());
        let venv = std::env::var("RIG_VENV").unwrap_or_else(|_| "/tmp/switchboard-rig-venv".into());
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("dyn.yml");
        std::fs::copy(format!("{rig_dir}/traefik-dyn.yml"), &file).expect("the rig's file");
        let (web, api) = (
            format!("127.0.0.1:{}", free_port()),
            format!("127.0.0.1:{}", free_port()),
        );
        let child = std::process::Command::new(format!("{venv}/bin/traefik"))
            .args([
                &format!("--entryPoints.web.address={web}"),
                &format!("--entryPoints.traefik.address={api}"),
                "--api.insecure=true",
                "--ping=true",
                "--metrics.prometheus=true",
                "--metrics.prometheus.addRoutersLabels=true",
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
                "--log.level=ERROR",
                &format!("--providers.file.filename={}", file.display()),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start traefik");
        let own = Self {
            child,
            web,
            api: format!("http://{api}"),
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !common::curl(&format!("{}/api/http/services/appa@file", own.api)).contains(r#""UP""#)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the test's Traefik did not check appa"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        own
    }
}

#[test]
fn traefik_router_counters_follow_the_same_breaker() {
    if !rig_has("traefik") {
        eprintln!(
            "skipped: the real Traefik rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG)"
        );
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _restore = Restore;
    for n in ["4", "5"] {
        rig(&["restart", &format!("backend{n}")]);
    }
    let own = OwnTraefik::start();
    let e = common::engine_with(traefik(&own.api, None));
    let trip = trip_and_recover(&e, &own.web, "router composed@file's response counters");
    let metrics = common::curl(&format!("{}/metrics", own.api));
    let own_503s: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("traefik_router_requests_total{")
                && l.contains(r#"code="503""#)
                && l.contains(r#"router="composed@file""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    eprintln!(
        "traefik router counters: {}; the router counted {own_503s} answers of 503 (the breaker's own)",
        trip.line
    );
    assert!(own_503s > 0.0, "the router counts the breaker's own 503s");
    trip.check();
}
