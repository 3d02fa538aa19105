//! Wall mode: read-only, banners instead of actions, stale tiles, the rotation through
//! layouts and environments, and the zoom on a high-DPI screen.

use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use switchboard::Console;

use crate::helpers::{drill, harness, has, silent_drill, wait_for, wall_console, wall_engine};

/// Wall mode: no action is reachable, by label, by shortcut or through the engine
/// (read-only in core); the scripted drill's quorum loss becomes a banner across the
/// top, with a word and a glyph, not colour alone.
#[test]
fn in_wall_mode_no_action_is_reachable_and_a_lost_quorum_is_a_banner() {
    let console = wall_console(wall_engine(drill(true, 60.0), true));
    let mut h = harness(console);
    assert!(has(&h, "WALL · read-only"), "labelled");
    // The chips come with the breakers' first counts (a loaded machine takes a while).
    wait_for(&mut h, "12 closed and calm", Duration::from_secs(10));
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
