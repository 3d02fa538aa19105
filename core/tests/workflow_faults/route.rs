//! A Traefik route fallback whose API goes silent once the run has rewritten the file.

use std::time::{Duration, Instant};

use switchboard_core::sources::traefik::{TraefikConfig, TraefikRoute};
use switchboard_core::workflow::route::{service_in, write_atomically};
use switchboard_core::workflow::{self, Kind};
use switchboard_core::{Environment, SourceConfig};
use switchboard_faultproxy::{Fault, FaultProxy};

use crate::common::{self, rig_has};
use crate::{on_row, phases};

fn dynamic_file() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
        .join("traefik-dyn.yml")
}

/// Puts the rig's file back as it was when dropped.
struct Original(String);

impl Drop for Original {
    fn drop(&mut self) {
        write_atomically(&dynamic_file(), &self.0).ok();
    }
}

fn env(api: String) -> Environment {
    Environment::new(
        "faults",
        vec![SourceConfig::Traefik(TraefikConfig {
            name: "traefik".into(),
            api,
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
        })],
    )
}

/// Router `web`'s service as Traefik runs it, asked directly.
fn running() -> String {
    let v: serde_json::Value = serde_json::from_str(&common::curl(
        "http://127.0.0.1:8181/api/http/routers/web@file",
    ))
    .unwrap_or_default();
    v["service"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_fallback_whose_api_goes_silent_is_rolled_back() {
    if !rig_has("traefik") {
        eprintln!("skipped: needs the rig's traefik");
        return;
    }
    let file = dynamic_file();
    let original = std::fs::read_to_string(&file).expect("the rig's Traefik file");
    assert_eq!(service_in(&original, false, "web").as_deref(), Ok("websvc"));
    let _put_back = Original(original.clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    while running() != "websvc" {
        assert!(
            Instant::now() < deadline,
            "Traefik does not run web -> websvc"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let proxy = std::sync::Arc::new(FaultProxy::start("127.0.0.1:8181").expect("proxy"));
    let env = env(format!("http://{}", proxy.addr()));
    let (_dir, journal) = common::journal();
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fallback, "traefik/web"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.guards);
    let silent = std::sync::Arc::clone(&proxy);
    let (stop, watcher) = on_row(
        ctx.control.clone(),
        "after",
        Duration::from_secs(30),
        move || silent.set(Fault::Silence),
    );
    let t0 = Instant::now();
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "web", "faults-test"))
        .expect("run");
    let took = t0.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(watcher.join().expect("watcher"), "the change was journaled");
    proxy.set(Fault::Pass);
    let said = report.lines.join(" | ");
    assert_eq!(report.outcome, "rolled_back", "{said}");
    let rows = journal.steps(report.run).expect("steps");
    assert_eq!(
        phases(&rows),
        [
            "guards:passed",
            "before:pending",
            "after:ok",
            "verify:failed",
            "rollback:ok"
        ]
    );
    assert!(
        rows[3].detail.contains("no answer within 2000 ms"),
        "verification says the API went silent: {}",
        rows[3].detail
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        original,
        "the original file is back"
    );
    // Verification (10 s, its last call a bound late) and the rollback (a file write).
    let bound = Duration::from_secs(10 + 2 + 2);
    assert!(took < bound, "the run took {took:?} (bound {bound:?})");
    let deadline = Instant::now() + Duration::from_secs(20);
    while running() != "websvc" {
        assert!(Instant::now() < deadline, "Traefik never ran websvc again");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "workflow faults: Traefik fallback, API silent after the file was rewritten: {} in {} ms: {said}",
        report.outcome,
        took.as_millis()
    );
}
