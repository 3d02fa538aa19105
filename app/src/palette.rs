//! The console's own entries in the command palette (Ctrl+K): every view, layout and
//! console command, beside the workflows the desk offers. The palette filters them by
//! the words typed; the console carries out the one picked.

use switchboard_core::DrillFault;

use crate::layout::{self, Pane};

/// A console command the palette can pick.
#[derive(Clone, Debug, PartialEq)]
pub enum PaletteCmd {
    /// Bring a pane to the front (adding it when the layout has none).
    Show(Pane),
    /// Replace the layout with a preset or one of the operator's.
    Layout(String),
    /// Switch the colour theme.
    Theme(egui::Theme),
    /// Write the view to a PNG.
    ExportPng,
    /// Open Find.
    Find,
    /// Open the keyboard shortcuts.
    Help,
    /// A note pinned to now and the selected thing.
    Note,
    /// Save the session (a range of the recording) to a file.
    SaveSession,
    /// Open a session file to replay.
    OpenSession,
    /// Start a drill fault.
    Inject(DrillFault),
}

/// What the console can do, for the palette to list.
pub struct Can<'a> {
    /// The operator's own layouts.
    pub own_layouts: &'a [String],
    /// The theme on screen.
    pub theme: egui::Theme,
    /// Notes are kept (an incident store).
    pub notes: bool,
    /// The session is recorded (it can be saved).
    pub save_session: bool,
    /// A drill that accepts faults.
    pub drill: bool,
}

/// Every console command, labelled as the palette shows it.
pub fn commands(can: &Can<'_>) -> Vec<(String, PaletteCmd)> {
    let mut out: Vec<(String, PaletteCmd)> = Pane::ALL
        .iter()
        .map(|p| (format!("Show {}", p.title()), PaletteCmd::Show(*p)))
        .collect();
    out.extend(
        layout::preset_names()
            .into_iter()
            .map(|n| (format!("Layout: {n}"), PaletteCmd::Layout(n.to_owned()))),
    );
    out.extend(
        can.own_layouts
            .iter()
            .map(|n| (format!("Layout: yours, {n}"), PaletteCmd::Layout(n.clone()))),
    );
    out.push(match can.theme {
        egui::Theme::Dark => (
            "Theme: light".to_owned(),
            PaletteCmd::Theme(egui::Theme::Light),
        ),
        egui::Theme::Light => (
            "Theme: dark".to_owned(),
            PaletteCmd::Theme(egui::Theme::Dark),
        ),
    });
    out.push(("Export view as PNG (F12)".to_owned(), PaletteCmd::ExportPng));
    out.push(("Find (Ctrl+F)".to_owned(), PaletteCmd::Find));
    out.push(("Help: keyboard shortcuts (F1)".to_owned(), PaletteCmd::Help));
    if can.notes {
        out.push(("New note (Ctrl+N)".to_owned(), PaletteCmd::Note));
    }
    if can.save_session {
        out.push(("Save session…".to_owned(), PaletteCmd::SaveSession));
    }
    out.push(("Open session…".to_owned(), PaletteCmd::OpenSession));
    if can.drill {
        out.extend(DrillFault::ALL.iter().map(|f| {
            (
                format!("DRILL: inject {} ({})", f.as_str(), f.description()),
                PaletteCmd::Inject(*f),
            )
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pane_and_preset_is_reachable_and_extras_follow_what_the_console_can() {
        let mine = vec!["night-shift".to_owned()];
        let mut can = Can {
            own_layouts: &mine,
            theme: egui::Theme::Dark,
            notes: false,
            save_session: false,
            drill: false,
        };
        let list = commands(&can);
        for p in Pane::ALL {
            assert!(list.contains(&(format!("Show {}", p.title()), PaletteCmd::Show(p))));
        }
        for n in layout::preset_names() {
            assert!(
                list.iter()
                    .any(|(_, c)| *c == PaletteCmd::Layout(n.to_owned()))
            );
        }
        assert!(list.iter().any(|(l, _)| l == "Layout: yours, night-shift"));
        assert!(
            list.iter()
                .any(|(_, c)| *c == PaletteCmd::Theme(egui::Theme::Light))
        );
        assert!(
            !list
                .iter()
                .any(|(_, c)| matches!(c, PaletteCmd::Note | PaletteCmd::Inject(_)))
        );
        can.notes = true;
        can.drill = true;
        can.theme = egui::Theme::Light;
        let list = commands(&can);
        assert!(list.iter().any(|(_, c)| *c == PaletteCmd::Note));
        assert_eq!(
            list.iter()
                .filter(|(_, c)| matches!(c, PaletteCmd::Inject(_)))
                .count(),
            DrillFault::ALL.len()
        );
        assert!(
            list.iter()
                .any(|(_, c)| *c == PaletteCmd::Theme(egui::Theme::Dark))
        );
    }
}
