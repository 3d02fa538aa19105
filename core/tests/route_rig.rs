//! Traefik route failover through its file provider, on the rig's real Traefik with
//! real traffic: `fallback` sends router `web` (both backends) to `fallbacksvc`
//! (backend2 only) by rewriting the watched file, confirmed through Traefik's API;
//! `restore` sends it back. Timed against Traefik's own reload of a hand-written file
//! in the same run.
//!
//! Runs when `SWITCHBOARD_RIG` names `traefik`.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::rig_has;
use switchboard_core::sources::traefik::{TraefikConfig, TraefikRoute};
use switchboard_core::workflow::route::{service_in, with_service, write_atomically};
use switchboard_core::workflow::{self, Kind};
use switchboard_core::{Environment, SourceConfig};

fn dynamic_file() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
        .join("traefik-dyn.yml")
}

/// Puts the rig's file back as it was when dropped.
struct Original(String);

impl Drop for Original {
    fn drop(&mut self) {
        let _ = write_atomically(&dynamic_file(), &self.0);
    }
}

fn env() -> Environment {
    let mut source = vec![SourceConfig::Traefik(TraefikConfig {
        name: "traefik".into(),
        api: "http://127.0.0.1:8181".into(),
        interval_millis: 500,
        timeout_millis: 1000,
        metrics: None,
        dynamic_file: Some(dynamic_file().display().to_string()),
        routes: vec![TraefikRoute {
            router: "web".into(),
            primary: "websvc".into(),
            fallback: "fallbacksvc".into(),
        }],
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    })];
    if rig_has("etcd") {
        source.push(common::rig_etcd());
    }
    Environment {
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
        source,
        fence: Vec::new(),
    }
}

/// The body of `GET /` through Traefik's entry point ("backend1", "backend2"), or "".
fn through_traefik() -> String {
    common::curl("http://127.0.0.1:8180/").trim().to_owned()
}

/// Router `web`'s service as Traefik runs it.
fn running() -> String {
    let v: serde_json::Value = serde_json::from_str(&common::curl(
        "http://127.0.0.1:8181/api/http/routers/web@file",
    ))
    .unwrap_or_default();
    v["service"].as_str().unwrap_or_default().to_owned()
}

/// Requests through Traefik every 10 ms: (answered by backend1, by backend2, failed).
struct Traffic {
    stop: Arc<AtomicBool>,
    counts: Arc<[AtomicU32; 3]>,
    thread: std::thread::JoinHandle<()>,
}

impl Traffic {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let counts: Arc<[AtomicU32; 3]> = Arc::new(Default::default());
        let thread = {
            let (stop, counts) = (Arc::clone(&stop), Arc::clone(&counts));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = match through_traefik().as_str() {
                        "backend1" => 0,
                        "backend2" => 1,
                        _ => 2,
                    };
                    counts[i].fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Self {
            stop,
            counts,
            thread,
        }
    }

    fn stop(self) -> [u32; 3] {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("traffic");
        [0, 1, 2].map(|i| self.counts[i].load(Ordering::Relaxed))
    }
}

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn fallback_and_restore_of_a_traefik_router_under_traffic() {
    if !rig_has("traefik") {
        eprintln!("skipped: the rig's Traefik is not running (tests/check.sh starts it)");
        return;
    }
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let file = dynamic_file();
    let original = std::fs::read_to_string(&file).expect("the rig's Traefik file");
    let _restore = Original(original.clone());
    let env = env();
    let (_dir, journal) = common::journal();
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // Traefik's own minimum: a hand-written change of the same kind, file to API.
    let by_hand = with_service(&original, false, "web", "fallbacksvc").expect("edit");
    let t0 = Instant::now();
    write_atomically(&file, &by_hand).expect("write");
    while running() != "fallbacksvc" {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "Traefik never reloaded"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let traefik_own = t0.elapsed();
    write_atomically(&file, &original).expect("write back");
    while running() != "websvc" {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "Traefik never reloaded back"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    // Traefik applies a provider's changes at most once per providersThrottleDuration
    // (2 s by default): let that pass, so the workflow is timed as the hand edit was.
    std::thread::sleep(Duration::from_millis(2500));
    let traffic = Traffic::start();
    std::thread::sleep(Duration::from_millis(500));
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fallback, "traefik/web"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.guards);
    assert_eq!(plan.before, "websvc");
    let err = rt
        .block_on(workflow::run(&ctx, &plan, "websvc", "rig-test"))
        .expect_err("the confirmation is the router's name");
    assert!(
        err.to_string().contains("is not the target's name"),
        "{err}"
    );
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "web", "rig-test"))
        .expect("fallback");
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(
        service_in(&std::fs::read_to_string(&file).expect("read"), false, "web").as_deref(),
        Ok("fallbacksvc")
    );
    assert!(
        std::fs::read_to_string(format!("{}.switchboard-bak", file.display()))
            .is_ok_and(|b| b == original),
        "the original is kept"
    );
    std::thread::sleep(Duration::from_millis(300));
    let [b1, b2, failed] = traffic.stop();
    // After the switch, only the fallback's server answers.
    let after: Vec<String> = (0..20).map(|_| through_traefik()).collect();
    assert!(after.iter().all(|b| b == "backend2"), "{after:?}");

    // Already there: refused; then back.
    let again = rt
        .block_on(workflow::plan(&ctx, Kind::Fallback, "traefik/web"))
        .expect("plan");
    assert!(
        again
            .refusals()
            .iter()
            .any(|r| r == "not there yet: web already goes to fallbacksvc"),
        "{:?}",
        again.refusals()
    );
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Restore, "traefik/web"))
        .expect("plan");
    let back = rt
        .block_on(workflow::run(&ctx, &plan, "web", "rig-test"))
        .expect("restore");
    assert_eq!(back.outcome, "done", "{:?}", back.lines);
    let seen: Vec<String> = (0..40).map(|_| through_traefik()).collect();
    eprintln!(
        "route rig: Traefik's own reload of the file {} ms; fallback confirmed -> Traefik runs it {} ms, restore {} ms; traffic during the fallback: {b1} by backend1, {b2} by backend2, {failed} failed",
        traefik_own.as_millis(),
        report.effect_millis.unwrap_or(-1),
        back.effect_millis.unwrap_or(-1)
    );
    assert_eq!(failed, 0, "no request failed during the switch");
    assert!(seen.iter().any(|b| b == "backend1"), "restored: {seen:?}");
}
