//! Two windows on one relay (the rig's etcd and HAProxy, TLS with people's
//! certificates): each names the relay and its person in the top bar; a note alice
//! types in hers is in bob's within a second, under alice's name, kept in his own
//! store. Runs when `SWITCHBOARD_RIG` names `etcd` and `haproxy`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable as _;
use switchboard::{Console, ConsoleOptions};
use switchboard_core::sources::TlsSettings;
use switchboard_core::sources::haproxy::HaproxyConfig;
use switchboard_core::{
    Config, EngineHandle, EngineOptions, Environment, RelayClient, ServeConfig, SourceConfig,
};

use crate::common;
use crate::helpers::{harness, has, wait_for};

fn rig_env() -> Environment {
    let haproxy = HaproxyConfig {
        name: "haproxy".into(),
        socket: None,
        stats_url: Some("http://127.0.0.1:8404/stats;csv".into()),
        interval_millis: 250,
        timeout_millis: 1000,
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    };
    Environment::new(
        "rig",
        vec![common::rig_etcd(), SourceConfig::Haproxy(haproxy)],
    )
}

fn pki() -> PathBuf {
    common::rig(&["pki"]);
    PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
        .join("tls")
}

/// A window of `person` on the relay at `url`, keeping notes in `store`.
fn window_of(url: &str, pki: &Path, person: &str, store: PathBuf) -> Console {
    let p = |f: String| Some(pki.join(f).display().to_string());
    let mut opts = EngineOptions::new(Config {
        environment: vec![rig_env()],
    });
    opts.relay = Some(RelayClient {
        url: url.to_owned(),
        standby: Vec::new(),
        tls: Some(TlsSettings {
            ca_file: p("ca.pem".into()),
            cert_file: p(format!("{person}.pem")),
            key_file: p(format!("{person}-key.pem")),
            ..TlsSettings::default()
        }),
        auth: None,
        fallback_direct: false,
    });
    let engine = switchboard_core::start(&opts).expect("engine");
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && !engine.relay_link().is_some_and(|l| l.connected) {
        std::thread::sleep(Duration::from_millis(20));
    }
    Console::new(engine, ConsoleOptions::default()).with_incident_store(
        store,
        None,
        switchboard_core::store::Objectives::default(),
    )
}

#[test]
fn a_note_typed_in_one_window_is_in_the_other_within_a_second() {
    if !(common::rig_has("etcd") && common::rig_has("haproxy")) {
        return;
    }
    let pki = pki();
    let dir = tempfile::tempdir().expect("dir");
    let relay_engine: EngineHandle = switchboard_core::start(&EngineOptions::new(Config {
        environment: vec![rig_env()],
    }))
    .expect("relay engine");
    let p = |f: &str| Some(pki.join(f).display().to_string());
    let serve = ServeConfig {
        listen: "127.0.0.1:0".into(),
        cert_file: p("server.pem"),
        key_file: p("server-key.pem"),
        client_ca_file: p("ca.pem"),
        operators: vec!["alice".into(), "bob".into()],
        token: Vec::new(),
        plaintext: false,
        max_consoles: 16,
        elect: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = relay_engine
        .block_on(switchboard_core::relay::start(
            relay_engine.tap(),
            &serve,
            &rig_env(),
            Some(dir.path()),
            async move {
                stopped.await.ok();
            },
        ))
        .expect("runtime")
        .expect("relay");
    let url = format!("https://127.0.0.1:{}", relay.addr.port());

    let mut alice = harness(window_of(
        &url,
        &pki,
        "alice",
        dir.path().join("alice.sqlite"),
    ));
    let mut bob = harness(window_of(&url, &pki, "bob", dir.path().join("bob.sqlite")));
    wait_for(&mut alice, "alice (operator)", Duration::from_secs(10));
    wait_for(&mut bob, "bob (operator)", Duration::from_secs(10));

    // alice opens an incident by hand and writes a note in it.
    alice.get_by_label("Incidents").click();
    alice.run_steps(2);
    alice.get_by_label("New incident…").click();
    alice.run_steps(2);
    alice.get_by_label("Title").type_text("orders db failover");
    alice.run_steps(1);
    alice.get_by_label("Open").click();
    alice.run_steps(2);
    wait_for(&mut alice, "orders db failover", Duration::from_secs(5));
    alice.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    alice.run_steps(3);
    alice
        .get_by_label("Markdown")
        .type_text("db1 fenced at 03:12, promoting db2");
    alice.run_steps(2);
    wait_for(&mut alice, "saved as note #1", Duration::from_secs(5));
    let saved = Instant::now();

    // bob's window finds it in his own store, under alice's name.
    bob.get_by_label("Incidents").click();
    bob.run_steps(2);
    bob.get_by_label("Search").focus();
    bob.run_steps(1);
    bob.get_by_label("Search").type_text("promoting");
    bob.run_steps(2);
    wait_for(&mut bob, "found in note", Duration::from_secs(5));
    let took = saved.elapsed();
    assert!(has(&bob, "alice"), "named by the relay");
    println!(
        "a note typed in one window, in the other's store and screen after {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
    let kept = switchboard_core::store::Store::open(&dir.path().join("bob.sqlite"))
        .expect("bob's store")
        .store
        .search("promoting", 10)
        .expect("search");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].author, "alice");
    assert!(!kept[0].pending);

    drop(alice);
    drop(bob);
    stop.send(()).ok();
    std::thread::sleep(Duration::from_millis(100));
    relay_engine.shutdown();
}
