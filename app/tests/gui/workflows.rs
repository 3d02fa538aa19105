//! Workflows from the window: the palette, the plan with its guards, the typed
//! confirmation and the run off the UI thread, on the rig's fence agent and on the drill.

use std::time::Duration;

use egui_kittest::kittest::{NodeT as _, Queryable as _};
use switchboard::{Console, ConsoleOptions};
use switchboard_core::{Config, EngineOptions, Environment};

use crate::helpers::{drill, harness, has, wait_for};

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
            ec2: None,
            options: BTreeMap::from([
                ("type".into(), "file".into()),
                ("status_file".into(), file.display().to_string()),
            ]),
            secret_env: BTreeMap::new(),
            timeout_secs: 30,
        }
    };
    let env = Environment {
        fence: vec![dummy("db1"), dummy("db2")],
        ..Environment::new("rig", Vec::new())
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
