//! The operator's panels on a live engine: every panel on screen, backends, quorum
//! loss and its acknowledgement, a down or stale source, breakers and their detail,
//! metrics, databases, production's frame and toasts, and Ctrl+F find.

use std::net::TcpListener;
use std::time::Duration;

use egui_kittest::kittest::Queryable as _;
use switchboard::{Console, ConsoleOptions};
use switchboard_core::sources::etcd::EtcdConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig};

use crate::helpers::{console, drill, fully_polled, harness, has, silent_drill, wait_for};

#[test]
fn drill_opens_with_every_panel_and_says_drill() {
    let mut h = harness(console(drill(true, 1.0)));
    for panel in [
        "Topology",
        "Breakers",
        "Quorum",
        "Event log",
        "Incidents",
        "Backends",
    ] {
        assert!(has(&h, panel), "panel {panel} not found");
    }
    assert!(has(&h, "DRILL · simulated fleet"), "the drill is labelled");
    assert!(
        has(&h, "drill-etcd"),
        "the quorum panel lists the drill's etcd"
    );
    assert!(
        has(&h, "edge-gateway/checkout"),
        "the breakers panel lists the checkout breaker"
    );
    assert!(
        has(&h, "drill (drill) up"),
        "the status bar shows the source's freshness"
    );
    assert!(has(&h, "no open incident"));
    h.key_press(egui::Key::F1);
    h.run_steps(2);
    assert!(
        has(&h, "Ctrl+K") && has(&h, "Ctrl+N"),
        "F1 lists the shortcuts"
    );
}

/// The Backends tab lists each routed service with its gateways and instances; only
/// the rows on screen are laid out, so the filter finds one further down.
#[test]
fn backends_tab_lists_instances_behind_each_route() {
    let mut h = harness(console(drill(true, 1.0)));
    h.get_by_label("Backends").click();
    h.run_steps(2);
    assert!(has(&h, " · via "), "the first groups are listed");
    // The Backends pane's own filter: the one on the line of its "Backends" title (the
    // Events pane beside it has one too).
    let title = h
        .get_by_role_and_label(egui::accesskit::Role::Label, "Backends")
        .rect();
    for step in 0..2 {
        let filter = h
            .get_all_by_role_and_label(egui::accesskit::Role::TextInput, "filter")
            .find(|n| (n.rect().center().y - title.center().y).abs() < 12.0)
            .expect("the Backends filter");
        if step == 0 {
            filter.focus();
        } else {
            filter.type_text("checkout");
        }
        h.run_steps(1);
    }
    h.run_steps(2);
    assert!(
        has(&h, "checkout · via edge-gateway"),
        "a backend group names its gateway"
    );
    assert!(has(&h, "checkout-01"), "its instances are listed");
}

#[test]
fn injected_quorum_loss_shows_at_risk_then_lost_and_can_be_acknowledged() {
    let mut h = harness(console(drill(false, 10.0)));
    assert!(!has(&h, "AT RISK"));
    h.get_by_label("Drill").click();
    h.run_steps(2);
    h.get_by_label("Inject quorum_loss").click();
    h.run_steps(2);
    wait_for(&mut h, "AT RISK", Duration::from_secs(10));
    wait_for(&mut h, "LOST", Duration::from_secs(10));
    assert!(
        has(&h, "INCIDENT #1"),
        "the top bar shows the open incident"
    );
    h.get_by_label("Incidents").click();
    h.run_steps(2);
    h.get_by_label("Acknowledge #1").click();
    h.run_steps(2);
    wait_for(&mut h, "acknowledged by", Duration::from_secs(5));
}

#[test]
fn unreachable_etcd_shows_down_and_lost_without_blocking_frames() {
    // One endpoint refuses connections; the other accepts TCP and never answers (a hang).
    let hanging = TcpListener::bind("127.0.0.1:0").expect("bind");
    let hang_ep = format!("http://{}", hanging.local_addr().expect("addr"));
    let refused = TcpListener::bind("127.0.0.1:0").expect("bind");
    let refused_ep = format!("http://{}", refused.local_addr().expect("addr"));
    drop(refused);
    let mut etcd = EtcdConfig::new("lab-etcd", vec![refused_ep, hang_ep]);
    etcd.timeout_millis = 500;
    let cfg = Config {
        environment: vec![Environment::new("lab", vec![SourceConfig::Etcd(etcd)])],
    };
    let engine = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine starts");
    let mut h = harness(Console::new(engine, ConsoleOptions::default()));
    let longest = wait_for(&mut h, "lab-etcd (etcd) down", Duration::from_secs(10));
    wait_for(&mut h, "LOST", Duration::from_secs(5));
    assert!(
        !has(&h, "DRILL"),
        "a real environment is not labelled as a drill"
    );
    assert!(
        longest < Duration::from_millis(500),
        "a frame took {longest:?} while etcd hung"
    );
    drop(hanging);
}

#[test]
fn a_silent_source_is_shown_stale_with_its_age_and_its_data_greyed() {
    let cfg = silent_drill();
    let engine = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine starts");
    let mut h = harness(Console::new(engine, ConsoleOptions::default()));
    wait_for(&mut h, "drill (drill) stale", Duration::from_secs(10));
    assert!(has(&h, "STALE"), "breaker tiles of a stale source say so");
    assert!(
        has(&h, "source stale"),
        "the quorum card says its source is stale"
    );
}

#[test]
fn clicking_a_breaker_opens_its_detail_with_the_plot() {
    let mut h = harness(console(drill(true, 1.0)));
    h.get_by_label("edge-gateway/checkout").click();
    h.run_steps(3);
    assert!(
        has(&h, "Breaker edge-gateway/checkout"),
        "the detail window opens"
    );
    assert!(
        has(&h, "computed by the console: opens at 50 % failures"),
        "its settings are spelled out"
    );
    assert!(has(&h, "% failures over"), "the current rate and volume");
}

#[test]
fn metrics_tab_plots_each_services_latency_and_the_breaker_detail_shows_it() {
    let mut h = harness(console(drill(true, 1.0)));
    wait_for(&mut h, "Breakers", Duration::from_secs(5));
    h.get_by_label("Metrics").click();
    wait_for(&mut h, "p99 latency", Duration::from_secs(10));
    assert!(has(&h, "series of"), "the panel counts its series");
    assert!(has(&h, "checkout"), "a service's row");
    assert!(has(&h, "ms"), "latencies read in milliseconds");

    h.get_by_label("Event log").click();
    h.run_steps(2);
    assert!(!has(&h, "p99 latency"), "the metrics tab is hidden again");
    h.get_by_label("edge-gateway/checkout").click();
    wait_for(&mut h, "p99 latency", Duration::from_secs(5));
    assert!(
        has(&h, "p99 latency"),
        "the breaker detail shows its service's latency too"
    );
}

#[test]
fn databases_tab_shows_the_primary_and_every_member() {
    let mut h = harness(console(drill(true, 1.0)));
    h.get_by_label("Databases").click();
    wait_for(&mut h, "ONE PRIMARY", Duration::from_secs(10));
    assert!(has(&h, "primary pg-1"), "the primary the servers report");
    assert!(has(&h, "pg-2"), "every member is listed");
    assert!(has(&h, "connections"), "with connections against max");
    assert!(
        has(&h, "streaming"),
        "each member's state as its agent words it"
    );
}

/// Production is framed and named on the top bar; what matters arrives as a toast
/// (not the history the console starts with).
#[test]
fn production_is_marked_and_a_lost_quorum_arrives_as_a_toast() {
    let engine = switchboard_core::start(&EngineOptions::new(drill(false, 20.0))).expect("engine");
    engine.wait_for(Duration::from_secs(10), fully_polled);
    let console = Console::new(
        engine,
        ConsoleOptions {
            look: switchboard_core::Look {
                production: true,
                color: Some("#d55e00".into()),
            },
            ..ConsoleOptions::default()
        },
    );
    let mut h = harness(console);
    assert!(has(&h, "PRODUCTION · drill"), "named production");
    assert!(h.state().toasts().is_empty(), "no toast for history");
    h.state()
        .engine()
        .send(switchboard_core::Intent::DrillInject {
            fault: switchboard_core::DrillFault::QuorumLoss,
        })
        .expect("inject");
    let start = std::time::Instant::now();
    while !h.state().toasts().iter().any(|t| t.contains("quorum lost")) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            h.state().toasts()
        );
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(h.state().toasts().len() <= 4);
    // The drill heals its quorum a simulated minute after losing it (3 s here): the
    // toast goes with it, though its 8 s are not up.
    let shown = std::time::Instant::now();
    loop {
        let healed = h
            .state()
            .engine()
            .snapshot()
            .clusters
            .values()
            .all(|c| c.quorum.state == switchboard_core::model::QuorumState::Healthy);
        h.run_steps(1);
        if healed {
            break;
        }
        assert!(shown.elapsed() < Duration::from_secs(20), "never healed");
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(
        shown.elapsed() < Duration::from_secs(8),
        "healed within the toast's time, so the test means something"
    );
    assert!(
        !h.state().toasts().iter().any(|t| t.contains("quorum lost")),
        "a healed quorum ends its toast: {:?}",
        h.state().toasts()
    );
}

/// Ctrl+F finds across services, instances, breakers, clusters and public names: Enter
/// selects the best match and shows its panel; a breaker opens its detail.
#[test]
fn find_reaches_instances_and_breakers_by_name() {
    let mut h = harness(console(drill(true, 1.0)));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.run_steps(2);
    h.get_by_label("Services, instances, breakers, clusters, databases, public names")
        .type_text("checkout-0");
    h.run_steps(2);
    assert!(has(&h, "checkout-09"), "instances are listed");
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert_eq!(h.state().selected(), Some("checkout-01"));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.run_steps(2);
    h.get_by_label("Services, instances, breakers, clusters, databases, public names")
        .type_text("edge-gateway/checkout");
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    assert!(
        has(&h, "Breaker edge-gateway/checkout"),
        "the breaker's detail opens"
    );
    // A public name: found, and Enter shows the DNS panel with it.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.run_steps(2);
    h.get_by_label("Services, instances, breakers, clusters, databases, public names")
        .type_text("www.drill");
    h.run_steps(2);
    assert!(
        has(&h, "-> CNAME eu-west.drill.example · primary"),
        "where the name points"
    );
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    assert!(
        has(&h, "Public names") && has(&h, "leads to service"),
        "the DNS panel is shown"
    );
}
