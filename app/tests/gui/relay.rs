//! Two windows on one relay (the rig's etcd and HAProxy, TLS with people's
//! certificates): each names the relay and its person in the top bar; a note alice
//! types in hers is in bob's within a second, under alice's name, kept in his own
//! store. A drain alice picks from her window's palette runs on the relay and her
//! journal pane shows it under her name. Runs when `SWITCHBOARD_RIG` names `etcd` and
//! `haproxy`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable as _;
use switchboard::{Console, ConsoleOptions};
use switchboard_core::sources::TlsSettings;
use switchboard_core::{
    Config, EngineHandle, EngineOptions, Environment, RelayClient, ServeConfig,
};

use crate::common;
use crate::helpers::{harness, has, wait_for};

fn rig_env() -> Environment {
    common::rig_relay_env(250)
}

/// A window of `person` on the relay at `url`, keeping notes in `store`.
fn window_of(url: &str, pki: &Path, person: &str, store: PathBuf) -> Console {
    let engine = engine_of(url, pki, person, rig_env());
    Console::new(engine, ConsoleOptions::default()).with_incident_store(
        store,
        None,
        switchboard_core::store::Objectives::default(),
    )
}

/// The engine of `person`'s window on the relay at `url`, connected.
fn engine_of(url: &str, pki: &Path, person: &str, env: Environment) -> EngineHandle {
    let p = |f: String| Some(pki.join(f).display().to_string());
    let mut opts = EngineOptions::new(Config {
        environment: vec![env],
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
    engine
}

/// A relay on `env`, keeping its notes and journal in `data`; alice and bob operators.
struct TestRelay {
    engine: EngineHandle,
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl TestRelay {
    fn start(env: &Environment, pki: &Path, data: &Path) -> Self {
        let engine: EngineHandle = switchboard_core::start(&EngineOptions::new(Config {
            environment: vec![env.clone()],
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
            record: None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let relay = engine
            .block_on(switchboard_core::relay::start(
                engine.tap(),
                &serve,
                env,
                Some(data),
                async move {
                    stopped.await.ok();
                },
            ))
            .expect("runtime")
            .expect("relay");
        Self {
            url: format!("https://127.0.0.1:{}", relay.addr.port()),
            engine,
            stop,
        }
    }

    fn stop(self) {
        self.stop.send(()).ok();
        std::thread::sleep(Duration::from_millis(100));
        self.engine.shutdown();
    }
}

#[test]
fn a_note_typed_in_one_window_is_in_the_other_within_a_second() {
    if !(common::rig_has("etcd") && common::rig_has("haproxy")) {
        return;
    }
    let pki = common::rig_pki();
    let dir = tempfile::tempdir().expect("dir");
    let relay = TestRelay::start(&rig_env(), &pki, dir.path());
    let url = relay.url.clone();

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
    // The incident alice opened by hand is in bob's list too, recorded from the note.
    bob.get_by_label("Search").focus();
    bob.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    bob.key_press(egui::Key::Backspace);
    bob.run_steps(2);
    wait_for(&mut bob, "orders db failover", Duration::from_secs(5));
    assert!(!has(&bob, "MITIGATED"));
    // alice marks it mitigated: bob's list says so, the change carried as a note.
    alice.get_by_label("Mitigated").click();
    alice.run_steps(2);
    wait_for(&mut bob, "MITIGATED", Duration::from_secs(5));
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
    relay.stop();
}

/// A drain alice picks from her window's palette is planned and run by the relay on
/// the rig's HAProxy: the plan shows the relay's guards (its etcd lock), the typed
/// confirmation runs it, and her journal pane (the relay's journal) names her.
#[test]
fn a_drain_from_the_palette_runs_on_the_relay_under_alices_name() {
    if !(common::rig_has("etcd") && common::rig_has("haproxy")) {
        return;
    }
    let _back = BackInRotation;
    let pki = common::rig_pki();
    let dir = tempfile::tempdir().expect("dir");
    let env = common::rig_edge_env();
    let relay = TestRelay::start(&env, &pki, dir.path());
    let engine = engine_of(&relay.url, &pki, "alice", env.clone());
    let desk = switchboard_core::workflow::desk::Desk::relayed(
        env,
        engine.relay_door().expect("on a relay"),
    )
    .expect("desk");
    let mut h = harness(Console::new(engine, ConsoleOptions::default()).with_desk(desk));
    wait_for(&mut h, "alice (operator)", Duration::from_secs(10));

    h.get_by_label("Actions…").click();
    wait_for(
        &mut h,
        "drain be_web/web1 (UP) on edge",
        Duration::from_secs(10),
    );
    h.get_by_label("drain be_web/web1 (UP) on edge").click();
    wait_for(
        &mut h,
        "To run it, type be_web/web1 exactly",
        Duration::from_secs(10),
    );
    assert!(has(&h, "lock"), "the relay's lock guard is listed");
    h.get_by_label("Run drain").type_text("be_web/web1");
    h.run_steps(2);
    h.get_by_label("Run drain").click();
    let longest = wait_for(&mut h, "journal run #", Duration::from_secs(20));
    assert!(has(&h, "DONE"), "the relay's report");
    assert!(
        longest < Duration::from_millis(500),
        "no frame waits on the relay: longest {longest:?}"
    );
    h.get_by_label("Close").click();
    h.get_by_label("Workflows").click();
    wait_for(
        &mut h,
        "edge/be_web/web1 · alice · done",
        Duration::from_secs(10),
    );
    drop(h);
    relay.stop();
}

/// Puts web1 back in rotation when the test ends, passed or not, for the tests after.
struct BackInRotation;

impl Drop for BackInRotation {
    fn drop(&mut self) {
        if let Ok(rt) = tokio::runtime::Runtime::new() {
            rt.block_on(switchboard_core::sources::haproxy::runtime_command(
                "tcp://127.0.0.1:9999",
                "set server be_web/web1 state ready",
                Duration::from_secs(2),
            ))
            .ok();
        }
    }
}
