//! GUI tests: the real console on a real engine, driven through AccessKit by
//! `egui_kittest` (no display or GPU needed).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use switchboard::{Console, ConsoleOptions};
use switchboard_core::model::QuorumState;
use switchboard_core::sources::drill::DrillConfig;
use switchboard_core::sources::etcd::EtcdConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig, State};

fn fully_polled(s: &State) -> bool {
    !s.clusters.is_empty()
        && s.clusters
            .values()
            .all(|c| c.membership_known && c.members.values().all(|m| m.polled))
}

fn console(config: Config) -> Console {
    let engine = switchboard_core::start(&EngineOptions::new(config)).expect("engine starts");
    engine.wait_for(Duration::from_secs(10), fully_polled);
    Console::new(engine, ConsoleOptions::default())
}

fn drill(scripted: bool, speed: f64) -> Config {
    Config::drill(DrillConfig {
        scripted,
        speed,
        seed: 7,
        ..DrillConfig::default()
    })
}

fn harness(console: Console) -> Harness<'static, Console> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1440.0, 900.0))
        .build_ui_state(|ui, c: &mut Console| c.ui(ui), console);
    h.run_steps(3);
    h
}

/// A drill that steps once a minute, in an environment whose sources turn stale after
/// 0.5 s: after its inventory it falls silent.
fn silent_drill() -> Config {
    Config {
        environment: vec![Environment {
            stale_after_millis: 500,
            ..Environment::new("t", vec![SourceConfig::Drill(DrillConfig::silent())])
        }],
    }
}

/// A read-only engine on `cfg`, as `--wall` starts it; `polled`: wait until every
/// cluster has been polled.
fn wall_engine(cfg: Config, polled: bool) -> switchboard_core::EngineHandle {
    let mut opts = EngineOptions::new(cfg);
    opts.read_only = true;
    let engine = switchboard_core::start(&opts).expect("engine");
    if polled {
        engine.wait_for(Duration::from_secs(10), fully_polled);
    }
    engine
}

/// A wall console (the wall layout) on `engine`.
fn wall_console(engine: switchboard_core::EngineHandle) -> Console {
    Console::new(
        engine,
        ConsoleOptions {
            wall: true,
            layout: Some("wall".into()),
            ..ConsoleOptions::default()
        },
    )
}

/// Steps the harness until every background job of the console has answered (10 s at
/// most): saves and loads of layouts and the theme are jobs, off the UI thread.
fn settle(h: &mut Harness<'_, Console>) {
    let start = Instant::now();
    while h.state().jobs_pending() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "a job never answered"
        );
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(1);
}

fn has(h: &Harness<'_, Console>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// Steps the harness until `text` is on screen or `timeout` passes; returns the longest frame.
fn wait_for(h: &mut Harness<'_, Console>, text: &str, timeout: Duration) -> Duration {
    let start = Instant::now();
    let mut longest = Duration::ZERO;
    loop {
        let t = Instant::now();
        h.run_steps(1);
        longest = longest.max(t.elapsed());
        if has(h, text) {
            return longest;
        }
        assert!(
            start.elapsed() < timeout,
            "{text:?} did not appear within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
}

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

#[test]
fn backends_tab_lists_instances_behind_each_route() {
    let mut h = harness(console(drill(true, 1.0)));
    h.get_by_label("Backends").click();
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
    h.run_steps(3);
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

/// From the palette to a finished run, with the real `fence_dummy` agent (the rig's
/// fence-agents): plan with its guards, a wrong confirmation keeps the run button off,
/// the right one runs it off the UI thread, and the journal pane lists the run.
#[test]
fn a_workflow_runs_from_the_palette_after_the_typed_confirmation() {
    use std::collections::BTreeMap;
    use switchboard_core::workflow::desk::Desk;
    use switchboard_core::workflow::fence::FenceDevice;
    if !std::env::var("SWITCHBOARD_RIG").is_ok_and(|v| v.split([' ', ',']).any(|c| c == "fence")) {
        eprintln!("skipped: needs the rig's fence agents (tests/check.sh)");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let dummy = |node: &str| {
        let file = dir.path().join(format!("{node}.status"));
        std::fs::write(&file, "on").expect("status file");
        FenceDevice {
            name: format!("{node}-pdu"),
            node: node.into(),
            group: "db".into(),
            level: 1,
            agent: "fence_dummy".into(),
            options: BTreeMap::from([
                ("type".into(), "file".into()),
                ("status_file".into(), file.display().to_string()),
            ]),
            secret_env: BTreeMap::new(),
            timeout_secs: 30,
        }
    };
    let env = Environment {
        second_approver: false,
        objectives: switchboard_core::store::Objectives::default(),
        look: switchboard_core::Look::default(),
        runbook: Vec::new(),
        name: "rig".into(),
        read_only: false,
        stale_after_millis: 5000,
        source: Vec::new(),
        fence: vec![dummy("db1"), dummy("db2")],
    };
    let engine = switchboard_core::start(&EngineOptions::new(Config {
        environment: vec![env.clone()],
    }))
    .expect("engine");
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
    wait_for(&mut h, "fence node db1", Duration::from_secs(10));
    h.get_by_label("fence node db1 (power off through its fence devices)")
        .click();
    wait_for(
        &mut h,
        "To run it, type db1 exactly",
        Duration::from_secs(10),
    );
    assert!(has(&h, "last healthy"), "the guards are listed");
    h.get_by_label("Run fence").type_text("db2");
    h.run_steps(2);
    assert!(has(&h, "does not match"));
    assert!(
        h.get_by_label("Run fence").accesskit_node().is_disabled(),
        "a wrong confirmation leaves the run button off"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("db1.status")).expect("read"),
        "on"
    );
    h.key_press(egui::Key::Backspace);
    h.key_press(egui::Key::Backspace);
    h.key_press(egui::Key::Backspace);
    h.get_by_label("Run fence").type_text("db1");
    h.run_steps(2);
    h.get_by_label("Run fence").click();
    let longest = wait_for(&mut h, "verified: db1 is OFF", Duration::from_secs(20));
    assert!(
        longest < Duration::from_millis(500),
        "no frame waits on the agent: longest {longest:?}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("db1.status")).expect("read"),
        "off"
    );
    h.get_by_label("Close").click();
    h.get_by_label("Workflows").click();
    wait_for(&mut h, "fence db1 · ana · done", Duration::from_secs(10));
}

/// The drill's workflows in the window: the palette offers the simulated fleet's
/// instances, and a drain runs through the typed confirmation, labelled DRILL.
#[test]
fn a_drill_workflow_from_the_palette() {
    use switchboard_core::workflow::desk::Desk;
    let config = drill(false, 1.0);
    let env = config.environment[0].clone();
    let engine = switchboard_core::start(&EngineOptions::new(config)).expect("engine");
    engine.wait_for(Duration::from_secs(10), |s| !s.instances.is_empty());
    let dir = tempfile::tempdir().expect("dir");
    let desk = Desk::new(
        env,
        dir.path().join("journal.sqlite"),
        false,
        "ana".into(),
        engine.drill(),
    )
    .expect("desk");
    let mut h = harness(Console::new(engine, ConsoleOptions::default()).with_desk(desk));
    h.get_by_label("Actions…").click();
    wait_for(&mut h, "DRILL drain", Duration::from_secs(10));
    // Type to filter (the filter has the keyboard), as an operator would.
    h.get_by_label("Actions…").type_text("drain checkout-01 ");
    h.run_steps(2);
    h.get_by_label_contains("DRILL drain checkout-01 ").click();
    wait_for(
        &mut h,
        "To run it, type checkout-01 exactly",
        Duration::from_secs(10),
    );
    assert!(has(&h, "practised on the simulated fleet"));
    h.get_by_label("Run drain").type_text("checkout-01");
    h.run_steps(2);
    h.get_by_label("Run drain").click();
    wait_for(
        &mut h,
        "DRILL: checkout-01 is DRAIN",
        Duration::from_secs(10),
    );
}

/// A console on the drill that keeps incidents and notes in `store`, measured against
/// domain.md §10's example objectives.
fn console_with_store(store: &std::path::Path) -> Console {
    let objectives = switchboard_core::store::Objectives {
        rto_secs: Some(900),
        rpo_secs: Some(60),
        tx_per_sec: Some(250.0),
        tx_value: Some(75.0),
        currency: None,
    };
    console(drill(false, 1.0)).with_incident_store(store.to_owned(), None, objectives)
}

/// Ctrl+N opens the note editor; what is typed is autosaved to the real SQLite file,
/// shows on the incident's timeline, the search finds it, and the postmortem written
/// from the window holds it.
#[test]
fn a_note_written_in_the_editor_is_on_the_timeline_and_found_by_search() {
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("notes.sqlite");
    let mut h = harness(console_with_store(&store));
    h.get_by_label("Incidents").click();
    h.run_steps(2);
    wait_for(&mut h, "No incident recorded", Duration::from_secs(5));
    h.get_by_label("New incident…").click();
    h.run_steps(2);
    h.get_by_label("Title").type_text("checkout pool leak");
    h.run_steps(1);
    h.get_by_label("Open").click();
    h.run_steps(2);
    wait_for(&mut h, "#1 checkout pool leak", Duration::from_secs(5));
    let id = 1;
    assert!(has(&h, "RTO 15:00"), "the RTO countdown is on the page");
    assert!(has(&h, "cost ≈ $"), "the cost ticker is on the page");

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    h.run_steps(3);
    h.get_by_label("Markdown")
        .type_text("pool exhausted at 50 of 50 connections");
    h.run_steps(2);
    let longest = wait_for(&mut h, "saved as note #1", Duration::from_secs(5));
    assert!(
        longest < Duration::from_millis(500),
        "saving never holds a frame: {longest:?}"
    );
    // On disk, in the incident, as typed.
    let notes = switchboard_core::store::Store::open(&store)
        .expect("reopen")
        .store
        .notes(Some(id))
        .expect("notes");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].body, "pool exhausted at 50 of 50 connections");
    // More typing revises the same note.
    h.get_by_label("Markdown").type_text("; queue 40");
    h.run_steps(2);
    wait_for(&mut h, "saved as note #1", Duration::from_secs(5));
    h.get_by_label("Done").click();
    h.run_steps(3);
    assert!(h.state().note_editor_text().is_none(), "the editor closed");
    wait_for(
        &mut h,
        "pool exhausted at 50 of 50 connections; queue 40",
        Duration::from_secs(5),
    );
    assert!(has(&h, "1 notes"), "counted on the page");

    // The postmortem, to a typed path (no file dialog is needed).
    h.get_by_label("Export…").click();
    h.run_steps(2);
    h.get_by_label("Write").click();
    h.run_steps(2);
    wait_for(&mut h, "written to", Duration::from_secs(5));
    let md = std::fs::read_to_string(dir.path().join("incident-1-postmortem.md"))
        .expect("the postmortem file");
    assert!(
        md.starts_with("# Postmortem: checkout pool leak (incident #1)")
            && md.contains("pool exhausted at 50 of 50 connections; queue 40")
            && md.contains("- RTO 15:00:"),
        "{md}"
    );
    h.get_by_label("Close").click();
    h.run_steps(2);

    h.get_by_label("Search").focus();
    h.run_steps(1);
    h.get_by_label("Search").type_text("exhausted");
    h.run_steps(2);
    wait_for(&mut h, "found in note #1", Duration::from_secs(5));
    h.get_by_label("Search").type_text(" nosuchword");
    h.run_steps(2);
    wait_for(
        &mut h,
        "Notes matching “exhausted nosuchword”: 0",
        Duration::from_secs(5),
    );
}

/// A store that cannot be written (here its directory cannot exist): the note stays in
/// the editor with the error, and the editor cannot be closed as if it were saved.
#[test]
fn a_note_that_cannot_be_saved_stays_in_the_editor_with_the_error() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("file");
    let mut h = harness(console_with_store(&file.join("notes.sqlite")));
    h.get_by_label("Incidents").click();
    h.run_steps(2);
    wait_for(&mut h, "cannot be used", Duration::from_secs(5));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    h.run_steps(3);
    h.get_by_label("Markdown").type_text("db2 fenced at 03:12");
    h.run_steps(2);
    wait_for(&mut h, "NOT SAVED", Duration::from_secs(5));
    assert!(has(&h, "a-file"), "the error names the path");
    assert_eq!(h.state().note_editor_text(), Some("db2 fenced at 03:12"));
    h.get_by_label("Done").click();
    h.run_steps(3);
    assert_eq!(
        h.state().note_editor_text(),
        Some("db2 fenced at 03:12"),
        "Done is off while the note is not saved"
    );
}

/// A drill run with a quorum loss, recorded by the real engine, opened for replay: the
/// replay checks out against the recording; jumping to the end shows the quorum lost,
/// jumping back to the incident shows it at risk; nothing can act from a replay.
#[test]
fn a_recorded_session_replays_and_the_quorum_panel_follows_the_playhead() {
    use switchboard_core::player;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("drill.session");
    let mut opts = EngineOptions::new(drill(false, 20.0));
    opts.record_to = Some(file.clone());
    let engine = switchboard_core::start(&opts).expect("engine");
    engine.wait_for(Duration::from_secs(10), |s| {
        fully_polled(s)
            && s.clusters
                .values()
                .all(|c| c.quorum.state == QuorumState::Healthy)
    });
    engine
        .send(switchboard_core::Intent::DrillInject {
            fault: switchboard_core::DrillFault::QuorumLoss,
        })
        .expect("inject");
    let s = engine.wait_for(Duration::from_secs(20), |s| {
        s.clusters
            .get("drill-etcd")
            .is_some_and(|c| c.quorum.state == QuorumState::Lost)
    });
    assert_eq!(s.clusters["drill-etcd"].quorum.state, QuorumState::Lost);
    assert!(engine.shutdown().is_none());

    let (engine, player) = player::open(&file, None).expect("open the session");
    let console = Console::new(engine, ConsoleOptions::default()).with_player(player);
    let mut h = harness(console);
    assert!(has(&h, "REPLAY · "), "labelled REPLAY");
    wait_for(
        &mut h,
        "replay matches the recording",
        Duration::from_secs(10),
    );
    h.get_by_label("End").click();
    h.run_steps(2);
    wait_for(&mut h, "LOST", Duration::from_secs(5));
    assert!(!has(&h, "AT RISK"));
    h.get_by_label("jumps to").click();
    h.run_steps(2);
    h.get_by_label("incident").click();
    h.run_steps(2);
    h.get_by_label("Previous").click();
    h.run_steps(2);
    wait_for(&mut h, "AT RISK", Duration::from_secs(5));
    assert!(
        h.state()
            .engine()
            .send(switchboard_core::Intent::AckIncident { incident: 1 })
            .is_err(),
        "a replay is read-only"
    );
    assert!(!has(&h, "STOP ALL"), "no workflows from a replay");
}

/// File > Save session from a recording console: the span is written beside the data
/// directory with this machine's notes of it, and the file replays.
#[test]
fn save_session_from_the_window_writes_a_file_that_replays() {
    let dir = tempfile::tempdir().expect("dir");
    let mut opts = EngineOptions::new(drill(false, 10.0));
    opts.record_to = Some(dir.path().join("sessions").join("session-now.sqlite"));
    let engine = switchboard_core::start(&opts).expect("engine");
    engine.wait_for(Duration::from_secs(10), fully_polled);
    let console = Console::new(
        engine,
        ConsoleOptions {
            data_dir: Some(dir.path().to_owned()),
            ..ConsoleOptions::default()
        },
    );
    let mut h = harness(console);
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Save session…").click();
    h.run_steps(2);
    h.get_by_label("all of it").click();
    h.run_steps(1);
    h.get_by_label("Save").click();
    h.run_steps(2);
    wait_for(&mut h, "; 0 incident(s)", Duration::from_secs(10));
    let saved: Vec<_> = std::fs::read_dir(dir.path().join("saved"))
        .expect("saved dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let mut r = switchboard_core::session::replay::Replay::open(&saved[0]).expect("opens");
    r.index(&mut |_, _| {});
    assert!(
        r.verification().ok() && r.last_seq() > 0,
        "{:?}",
        r.warnings()
    );
    assert!(r.meta().focus.is_some());
}

/// Wall mode: no action is reachable, by label, by shortcut or through the engine
/// (read-only in core); the scripted drill's quorum loss becomes a banner across the
/// top, with a word and a glyph, not colour alone.
#[test]
fn in_wall_mode_no_action_is_reachable_and_a_lost_quorum_is_a_banner() {
    let console = wall_console(wall_engine(drill(true, 60.0), true));
    let mut h = harness(console);
    assert!(has(&h, "WALL · read-only"), "labelled");
    assert!(
        has(&h, "12 closed and calm"),
        "calm breakers are chips, all on screen"
    );
    // Each one's chip ("search 0.8 %", under its gateway) lies in the breakers pane:
    // below its header and above the row of panes below (whose tabs are "Databases"
    // and "Topology"), none scrolled out of sight.
    let header = h.get_by_label_contains("closed and calm").rect();
    let screen = h.ctx.content_rect();
    let below = h
        .get_all_by_label("Databases")
        .map(|n| n.rect().top())
        .fold(f32::INFINITY, f32::min);
    assert!(below > header.bottom(), "the databases pane is below");
    let ids: Vec<String> = h
        .state()
        .engine()
        .snapshot()
        .breakers
        .keys()
        .map(|k| k.as_str().to_owned())
        .collect();
    assert_eq!(ids.len(), 12);
    for id in &ids {
        let (gateway, route) = id.split_once('/').expect("gateway/route");
        let heading = h.get_by_label(gateway).rect();
        assert!(
            heading.top() > header.bottom() && heading.bottom() < below,
            "{gateway} heads its chips in the pane"
        );
        let head = format!("{route} ");
        let chip = h
            .query_all_by_label_contains(&head)
            .find(|n| {
                n.value()
                    .or_else(|| n.accesskit_node().label())
                    .is_some_and(|l| l.starts_with(&head) && l.ends_with(" %"))
            })
            .unwrap_or_else(|| panic!("a chip for {id}"));
        let r = chip.rect();
        assert!(
            r.top() > header.bottom() && r.bottom() < below && screen.contains_rect(r),
            "{id}'s chip {r:?} is in the pane: below {header:?}, above {below}, on {screen:?}"
        );
    }
    // The topology's legend wraps rather than losing its last words off the tile.
    let open = h.get_by_label("OPEN").rect();
    assert!(
        screen.contains_rect(open),
        "the legend's OPEN {open:?} is whole on screen"
    );
    for action in ["STOP ALL", "Actions…", "Drill", "Note (Ctrl+N)"] {
        assert!(!has(&h, action), "{action} is not on a wall");
    }
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::K);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    h.run_steps(3);
    assert!(!has(&h, "Markdown"), "no note editor");
    assert!(
        h.state()
            .engine()
            .send(switchboard_core::Intent::DrillInject {
                fault: switchboard_core::DrillFault::Flapping,
            })
            .is_err(),
        "the engine refuses every intent"
    );
    h.get_by_label("File").click();
    h.run_steps(2);
    assert!(!has(&h, "Save session…"));
    h.key_press(egui::Key::Escape);
    h.key_press(egui::Key::F1);
    h.run_steps(2);
    assert!(has(&h, "Keyboard shortcuts"), "F1 opens the help");
    assert!(has(&h, "This console is read-only"));
    assert!(!has(&h, "Ctrl+K"), "no palette shortcut on a wall");
    wait_for(&mut h, "QUORUM LOST", Duration::from_secs(30));
    assert!(has(&h, "drill-etcd · "), "the banner names the cluster");
    assert!(has(&h, "INCIDENT"), "the open incident is a banner too");
    assert!(!has(&h, "Acknowledge"), "not even acknowledging");
}

/// On a wall, a source that stops turns every tile it feeds grey, each saying "stale"
/// and for how long, and the age keeps counting.
#[test]
fn in_wall_mode_a_stopped_source_turns_its_tiles_stale_with_the_age() {
    let cfg = silent_drill();
    let console = wall_console(wall_engine(cfg, false));
    let mut h = harness(console);
    wait_for(&mut h, "live · ", Duration::from_secs(10));
    wait_for(&mut h, "Quorum · stale", Duration::from_secs(10));
    for tab in ["Topology · stale", "Breakers · stale", "Quorum · stale"] {
        assert!(has(&h, tab), "the {tab:?} tab says its source stopped");
    }
    assert!(!has(&h, "live · "), "no tile still claims to be live");
    assert!(has(&h, "SOURCE STALE"), "a stopped source is a wall banner");
    let age = |h: &Harness<'_, Console>| -> f64 {
        let label = h
            .query_all_by_label_contains("Quorum · stale ")
            .next()
            .and_then(|n| n.accesskit_node().label())
            .expect("quorum tab");
        let secs = label.rsplit("stale ").next().unwrap_or_default();
        secs.trim_end_matches(" s").parse().unwrap_or(f64::NAN)
    };
    let first = age(&h);
    std::thread::sleep(Duration::from_millis(1200));
    h.run_steps(2);
    let later = age(&h);
    assert!(
        later >= first + 1.0,
        "the age counts up: {first} s then {later} s"
    );
}

/// A rotating wall turns its pages (layouts, then environments) on the right arrow, and
/// shows the banners of an environment that is not on screen.
#[test]
fn a_rotating_wall_turns_pages_and_shows_every_environments_banners() {
    let start = |name: &str, scripted: bool| {
        let mut cfg = drill(scripted, 60.0);
        cfg.environment[0].name = name.into();
        wall_engine(cfg, true)
    };
    let (a, b) = (start("alpha", false), start("bravo", true));
    let console = wall_console(a).with_rotation(switchboard::rotation::Rotation::new(
        vec![(b, switchboard_core::Look::default())],
        vec!["wall".into(), "database".into()],
        Duration::from_hours(1),
    ));
    let mut h = harness(console);
    assert!(
        has(&h, "page 1/4"),
        "four pages: two layouts of two environments"
    );
    assert!(has(&h, "env alpha"));
    // Bravo's scripted drill loses its quorum while alpha is on screen.
    wait_for(&mut h, "QUORUM LOST", Duration::from_secs(30));
    assert!(
        has(&h, "env bravo · drill-etcd"),
        "the banner names the other environment"
    );
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    assert_eq!(h.state().rotation_page(), Some((2, 4)));
    assert!(
        has(&h, "env alpha"),
        "the second layout of the same environment"
    );
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    assert_eq!(h.state().rotation_page(), Some((3, 4)));
    assert!(has(&h, "env bravo"), "then the next environment");
    assert_eq!(h.state().engine().environment(), "bravo");
    h.key_press(egui::Key::Space);
    h.run_steps(2);
    assert!(has(&h, "paused"), "Space pauses the rotation");
}

/// A layout saved under a name from the Layout menu is a file in the data directory,
/// is listed in the menu, and comes back when chosen (and by `--layout NAME`).
#[test]
fn a_layout_saved_under_a_name_comes_back_from_the_menu() {
    let dir = tempfile::tempdir().expect("tmp");
    let engine = switchboard_core::start(&EngineOptions::new(drill(false, 1.0))).expect("engine");
    let console = Console::new(
        engine,
        ConsoleOptions {
            layout: Some("database".into()),
            data_dir: Some(dir.path().to_owned()),
            ..ConsoleOptions::default()
        },
    );
    let mut h = harness(console);
    let database = h.state().layout_panes();
    h.get_by_label("Layout").click();
    h.run_steps(2);
    h.get_by_label("Save as").focus();
    h.run_steps(1);
    h.get_by_label("Save as").type_text("night-shift");
    h.run_steps(2);
    h.get_by_label("Save").click();
    h.run_steps(2);
    settle(&mut h);
    assert!(
        dir.path().join("layouts/night-shift.json").exists(),
        "saved in the data directory"
    );
    assert!(has(&h, "layout saved as night-shift"));
    h.state_mut().apply_preset("wall");
    h.run_steps(2);
    assert_ne!(h.state().layout_panes(), database, "another layout");
    h.get_by_label("Layout").click();
    h.run_steps(2);
    h.get_by_label("Yours: night-shift").click();
    h.run_steps(2);
    settle(&mut h);
    assert_eq!(h.state().layout_panes(), database, "the saved one is back");
    // By name at start, as --layout does.
    let engine = switchboard_core::start(&EngineOptions::new(drill(false, 1.0))).expect("engine");
    let again = Console::new(
        engine,
        ConsoleOptions {
            layout: Some("night-shift".into()),
            data_dir: Some(dir.path().to_owned()),
            ..ConsoleOptions::default()
        },
    );
    assert_eq!(again.layout_panes(), database);
}

/// Saving the layout never holds a frame: the save's file is a FIFO nobody reads, so
/// opening it for writing blocks for ever, yet after a layout edit every frame stays
/// under 100 ms and the console says the save is under way. (Written on the UI thread,
/// as the layout once was, the frame after the edit froze until the FIFO was opened:
/// here after 5 s, so that fails rather than hangs.)
#[test]
fn a_layout_save_that_blocks_never_holds_a_frame() {
    use switchboard::layout::{Node, Pane, Preset, build_tree, save_named, user_dir};

    let dir = tempfile::tempdir().expect("tmp");
    // A small layout of the operator's, so a frame's time is the console's own work,
    // not a debug build drawing a full wall.
    let small = build_tree(&Preset {
        name: "small".into(),
        description: String::new(),
        root: Node::Tabs(vec![Pane::Events]),
    });
    save_named(&user_dir(dir.path()), "small", &small).expect("saved");
    // A save writes `NAME.json.tmp`, then renames it over `NAME.json`: the layout file
    // (after an edit), and an own layout (Layout → Save as).
    let fifos = [
        dir.path().join("layout.json.tmp"),
        user_dir(dir.path()).join("night.json.tmp"),
    ];
    for fifo in &fifos {
        let made = std::process::Command::new("mkfifo")
            .arg(fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success(), "mkfifo {}", fifo.display());
    }
    let (done, unblock) = std::sync::mpsc::channel::<()>();
    let reader = {
        let fifos = fifos.clone();
        std::thread::spawn(move || {
            unblock.recv_timeout(Duration::from_secs(5)).ok();
            // Opening the read end lets the blocked writer through; read it all.
            for fifo in &fifos {
                let mut f = std::fs::File::open(fifo).expect("open the FIFO");
                std::io::copy(&mut f, &mut std::io::sink()).ok();
            }
        })
    };
    let engine = switchboard_core::start(&EngineOptions::new(drill(false, 1.0))).expect("engine");
    let console = Console::new(
        engine,
        ConsoleOptions {
            layout_file: Some(dir.path().join("layout.json")),
            layout: Some("small".into()),
            data_dir: Some(dir.path().to_owned()),
            ..ConsoleOptions::default()
        },
    );
    let mut h = harness(console);
    settle(&mut h);
    let mut longest = Duration::ZERO;
    let mut step = |h: &mut Harness<'_, Console>, n: usize| {
        for _ in 0..n {
            let t = Instant::now();
            h.run_steps(1);
            longest = longest.max(t.elapsed());
        }
    };
    // An edit: a pane the layout lacks.
    h.get_by_label("Layout").click();
    step(&mut h, 2);
    h.get_by_label("Show Quorum").click();
    step(&mut h, 2);
    // And Save as.
    h.get_by_label("Layout").click();
    step(&mut h, 2);
    h.get_by_label("Save as").focus();
    step(&mut h, 1);
    h.get_by_label("Save as").type_text("night");
    step(&mut h, 2);
    h.get_by_label("Save").click();
    step(&mut h, 2);
    assert!(
        has(&h, "saving layout night"),
        "the console says Save as is under way"
    );
    // Past the half second after which a layout save is said to be under way.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(900) {
        step(&mut h, 1);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        longest < Duration::from_millis(100),
        "a frame took {longest:?} while the layout files could not be written"
    );
    assert!(
        has(&h, "saving the layout"),
        "the console says the save is under way"
    );
    assert!(
        h.state().layout_panes().contains(&Pane::Quorum),
        "the edit is on screen"
    );
    done.send(()).ok();
    reader.join().expect("the FIFOs' reader");
    settle(&mut h);
    assert!(!has(&h, "saving the layout"), "saved once the FIFO is read");
    assert!(has(&h, "layout saved as night"), "and saved as night");
}

/// The theme switches from the Layout menu and is kept for the next start.
#[test]
fn the_light_theme_is_chosen_from_the_menu_and_kept() {
    let dir = tempfile::tempdir().expect("tmp");
    let opts = || ConsoleOptions {
        data_dir: Some(dir.path().to_owned()),
        ..ConsoleOptions::default()
    };
    let engine = switchboard_core::start(&EngineOptions::new(drill(false, 1.0))).expect("engine");
    let mut h = harness(Console::new(engine, opts()));
    assert_eq!(h.ctx.theme(), egui::Theme::Dark, "dark by default");
    h.get_by_label("Layout").click();
    h.run_steps(2);
    h.get_by_label("Light theme").click();
    h.run_steps(2);
    assert_eq!(h.ctx.theme(), egui::Theme::Light);
    settle(&mut h);
    drop(h);
    let engine = switchboard_core::start(&EngineOptions::new(drill(false, 1.0))).expect("engine");
    let h = harness(Console::new(engine, opts()));
    assert_eq!(h.ctx.theme(), egui::Theme::Light, "kept for the next start");
}

/// Ctrl+K reaches views and console commands, not only workflows: a layout and the
/// theme are picked by typing and Enter.
#[test]
fn the_palette_reaches_layouts_and_the_theme() {
    let mut h = harness(console(drill(false, 1.0)));
    let database = {
        let engine =
            switchboard_core::start(&EngineOptions::new(drill(false, 1.0))).expect("engine");
        Console::new(
            engine,
            ConsoleOptions {
                layout: Some("database".into()),
                ..ConsoleOptions::default()
            },
        )
        .layout_panes()
    };
    assert_ne!(h.state().layout_panes(), database);
    let pick = |h: &mut Harness<'_, Console>, words: &str| {
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::K);
        h.run_steps(2);
        assert!(has(h, "Command palette"), "Ctrl+K opens it");
        // The filter has the keyboard: typing goes there.
        h.query_all_by_label_contains("Command palette")
            .next()
            .expect("palette")
            .type_text(words);
        h.run_steps(2);
        h.key_press(egui::Key::Enter);
        h.run_steps(3);
    };
    pick(&mut h, "layout datab");
    assert_eq!(
        h.state().layout_panes(),
        database,
        "the preset is on screen"
    );
    assert!(!has(&h, "Command palette"), "the palette closes");
    pick(&mut h, "theme");
    assert_eq!(h.ctx.theme(), egui::Theme::Light);
    pick(&mut h, "layout wall");
    assert!(
        !h.state()
            .layout_panes()
            .contains(&switchboard::layout::Pane::Metrics)
    );
    pick(&mut h, "show metrics");
    assert!(
        h.state()
            .layout_panes()
            .contains(&switchboard::layout::Pane::Metrics),
        "the metrics pane is added and shown"
    );
}

/// On a high-DPI screen the wall's zoom multiplies the screen's scale instead of replacing
/// it: 2× pixels and 1.5× type give 3 pixels a point, and the banners stay on screen.
#[test]
fn a_wall_on_a_hidpi_screen_scales_on_top_of_the_screen() {
    let console = wall_console(wall_engine(drill(false, 1.0), true));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1440.0, 900.0))
        .with_pixels_per_point(2.0)
        .build_ui_state(|ui, c: &mut Console| c.ui(ui), console);
    h.run_steps(4);
    assert!((h.ctx.pixels_per_point() - 3.0).abs() < 1e-3, "2 × 1.5");
    let screen = h.ctx.content_rect();
    assert!(
        (screen.width() - 960.0).abs() < 1.0,
        "1440 points at 1.5× zoom is 960 wide: {screen:?}"
    );
    let clear = h.get_by_label_contains("ALL CLEAR").rect();
    assert!(
        screen.contains_rect(clear),
        "the banner {clear:?} is inside {screen:?}"
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

/// Ctrl+F finds across services, instances, breakers and clusters: Enter selects the
/// best match and shows its panel; a breaker opens its detail.
#[test]
fn find_reaches_instances_and_breakers_by_name() {
    let mut h = harness(console(drill(true, 1.0)));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.run_steps(2);
    h.get_by_label("Services, instances, breakers, clusters, databases")
        .type_text("checkout-0");
    h.run_steps(2);
    assert!(has(&h, "checkout-09"), "instances are listed");
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert_eq!(h.state().selected(), Some("checkout-01"));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.run_steps(2);
    h.get_by_label("Services, instances, breakers, clusters, databases")
        .type_text("edge-gateway/checkout");
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    assert!(
        has(&h, "Breaker edge-gateway/checkout"),
        "the breaker's detail opens"
    );
}
