//! Layouts and the theme: saved under a name and loaded back, saved off the UI thread
//! (a blocking save never holds a frame), the light theme kept, both reached from the
//! palette.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use switchboard::{Console, ConsoleOptions};
use switchboard_core::EngineOptions;

use crate::helpers::{console, drill, harness, has, settle};

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
/// opening it for writing blocks for ever, yet after a layout edit no frame waits for
/// it and the console says the save is under way. (Written on the UI thread,
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
    // A save on the UI thread would hold a frame until the reader opens the FIFO (5 s
    // after the start); a loaded 2-core machine can stretch a frame past 100 ms, so
    // the bound tells a blocked write from a slow frame, not a frame's speed.
    assert!(
        longest < Duration::from_secs(1),
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
