//! Incidents, notes and recorded sessions: notes written in the editor and kept in the
//! incident store (or not, with the error), a recorded session replayed, and a session
//! saved from the window.

use std::time::Duration;

use egui_kittest::kittest::Queryable as _;
use switchboard::{Console, ConsoleOptions};
use switchboard_core::EngineOptions;
use switchboard_core::model::QuorumState;

use crate::helpers::{console, drill, fully_polled, harness, has, wait_for};

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
