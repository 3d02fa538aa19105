//! The Traefik route workflows on the TLS Traefik: `fallback` sends router `app` to
//! `fallbacksvc` by rewriting the watched file, and the plan's guards and the
//! confirmation read Traefik's API over TLS behind basicAuth with the source's settings;
//! `restore` sends it back. A wrong password stops the plan at its guard, in words.

use std::time::Duration;

use switchboard_core::sources::traefik::{TraefikConfig, TraefikRoute};
use switchboard_core::sources::{AuthSettings, ProxySetting};
use switchboard_core::workflow::route::{service_in, write_atomically};
use switchboard_core::workflow::{self, Kind};
use switchboard_core::{Environment, SourceConfig};

use super::{basic, common, rig_dir, right_ca, skip_unless, wrong_password};

fn dynamic_file() -> std::path::PathBuf {
    rig_dir().join("httptls").join("traefik-dyn.yml")
}

/// Puts the rig's file back as it was when dropped.
struct Original(String);

impl Drop for Original {
    fn drop(&mut self) {
        write_atomically(&dynamic_file(), &self.0).ok();
    }
}

fn env(auth: AuthSettings) -> Environment {
    let traefik = SourceConfig::Traefik(TraefikConfig {
        name: "ingress".into(),
        api: "https://127.0.0.1:44660".into(),
        interval_millis: 500,
        timeout_millis: 2000,
        metrics: Some(String::new()),
        dynamic_file: Some(dynamic_file().display().to_string()),
        routes: vec![TraefikRoute {
            router: "app".into(),
            primary: "appsvc".into(),
            fallback: "fallbacksvc".into(),
        }],
        tls: Some(right_ca()),
        auth: Some(auth),
        proxy: ProxySetting::Env(false),
        max_answer_bytes: None,
    });
    // `metrics = ""` (off) is no URL the TLS settings must fit.
    traefik.validate().expect("valid");
    Environment::new("rig", vec![traefik])
}

#[test]
fn fallback_and_restore_through_traefik_s_tls_api() {
    if skip_unless("traefiktls") || skip_unless("haproxytls") {
        return;
    }
    let file = dynamic_file();
    let original = std::fs::read_to_string(&file).expect("the rig's Traefik file");
    let _restore = Original(original);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (_dir, journal) = common::journal();

    // A wrong password: the guard that asks Traefik says why it cannot.
    let (wrong, _pw) = wrong_password("admin");
    let bad = env(wrong);
    let ctx = common::workflow_ctx(&bad, &journal);
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fallback, "ingress/app"))
        .expect("plan");
    assert!(!plan.allowed(), "{:?}", plan.guards);
    let refusals = plan.refusals().join(" | ");
    assert!(
        refusals.contains("Traefik's API: authentication refused (401)"),
        "{refusals}"
    );

    let good = env(basic("admin", "traefik"));
    let ctx = common::workflow_ctx(&good, &journal);
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fallback, "ingress/app"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.guards);
    assert_eq!(plan.before, "appsvc");
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "app", "rig-test"))
        .expect("fallback");
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(
        service_in(&std::fs::read_to_string(&file).expect("read"), false, "app").as_deref(),
        Ok("fallbacksvc")
    );

    // Traefik applies a provider's changes at most once per 2 s: let that pass.
    std::thread::sleep(Duration::from_millis(2500));
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Restore, "ingress/app"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.guards);
    let back = rt
        .block_on(workflow::run(&ctx, &plan, "app", "rig-test"))
        .expect("restore");
    assert_eq!(back.outcome, "done", "{:?}", back.lines);
    eprintln!(
        "traefik tls route: fallback confirmed through the TLS API after {} ms, restore {} ms",
        report.effect_millis.unwrap_or(-1),
        back.effect_millis.unwrap_or(-1)
    );
}
