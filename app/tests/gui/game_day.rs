//! A game day from the window, on the rig's real HAProxy: the palette offers the
//! experiment, its plan shows the hypothesis, the fault and every guard, the typed
//! confirmation runs it off the UI thread, every screen says GAME DAY while it runs,
//! and the report (recovered, with its figures) ends it. Runs when `SWITCHBOARD_RIG`
//! names `haproxy` and `etcd`.

use std::time::Duration;

use egui_kittest::kittest::Queryable as _;
use switchboard::{Console, ConsoleOptions};
use switchboard_core::sources::haproxy::HaproxyConfig;
use switchboard_core::sources::http_probe::HttpProbeConfig;
use switchboard_core::workflow::desk::Desk;
use switchboard_core::workflow::experiment::ExperimentConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig};

use crate::helpers::{harness, has, wait_for};

#[test]
fn a_game_day_runs_from_the_palette_labelled_on_screen_and_reports() {
    if !(crate::common::rig_has("haproxy") && crate::common::rig_has("etcd")) {
        eprintln!("skipped: needs the rig's HAProxy and etcd (tests/check.sh)");
        return;
    }
    let mut env = Environment::new(
        "rig",
        vec![
            crate::common::rig_etcd(),
            SourceConfig::Haproxy(HaproxyConfig {
                name: "edge".into(),
                socket: Some("tcp://127.0.0.1:9999".into()),
                stats_url: None,
                interval_millis: 100,
                timeout_millis: 1000,
                tls: None,
                auth: None,
                proxy: switchboard_core::sources::ProxySetting::default(),
                max_answer_bytes: None,
            }),
            SourceConfig::HttpProbe(HttpProbeConfig {
                name: "through-gateway".into(),
                url: "http://127.0.0.1:8080/".into(),
                interval_secs: 0.1,
                timeout_secs: 1.0,
                healthy_threshold: 2,
                unhealthy_threshold: 1,
                service: Some("shop".into()),
                instance: Some("gateway".into()),
                tls: None,
                auth: None,
                proxy: switchboard_core::sources::ProxySetting::default(),
                max_answer_bytes: None,
            }),
        ],
    );
    env.fence = vec![
        crate::common::rig_node("web1-node", "web", "backend1"),
        crate::common::rig_node("web2-node", "web", "backend2"),
    ];
    env.experiment = vec![ExperimentConfig {
        name: "backend-lost".into(),
        file: None,
        vars: [("node", "web2-node"), ("through_gateway", "shop")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
        automatic_recovery: false,
    }];
    let engine = switchboard_core::start(&EngineOptions::new(Config {
        environment: vec![env.clone()],
    }))
    .expect("engine");
    engine.wait_for(Duration::from_secs(20), |s| {
        s.services
            .get("shop")
            .is_some_and(|x| x.counts.healthy == 1)
    });
    let dir = tempfile::tempdir().expect("dir");
    let desk = Desk::new(
        env,
        dir.path().join("journal.sqlite"),
        false,
        "ana".into(),
        None,
    )
    .expect("desk");
    let mut h = harness(Console::new(engine, ConsoleOptions::default()).with_desk(desk));
    h.get_by_label("Actions…").click();
    wait_for(
        &mut h,
        "GAME DAY experiment backend-lost",
        Duration::from_secs(10),
    );
    h.get_by_label_contains("GAME DAY experiment backend-lost")
        .click();
    wait_for(
        &mut h,
        "To run it, type backend-lost exactly",
        Duration::from_secs(20),
    );
    assert!(has(&h, "steady state"), "the hypothesis is a guard");
    assert!(has(&h, "fault: fence web2-node"), "the fault is previewed");
    h.get_by_label("Run experiment").type_text("backend-lost");
    h.run_steps(2);
    h.get_by_label("Run experiment").click();
    let longest = wait_for(
        &mut h,
        "GAME DAY · experiment backend-lost is running",
        Duration::from_secs(10),
    );
    let end = wait_for(&mut h, "backend-lost #", Duration::from_mins(1));
    assert!(
        has(&h, ": recovered in"),
        "the report's line says how it went"
    );
    assert!(
        longest.max(end) < Duration::from_millis(500),
        "no frame waits on the experiment"
    );
    wait_for(&mut h, "fault undone", Duration::from_secs(5));
}
