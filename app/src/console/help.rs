//! F1 (the keyboard shortcuts, and what this console can do) and About.

use egui::RichText;

use super::{Console, Wall};

impl Console {
    /// F1: the keyboard shortcuts, and what this console can do.
    pub(super) fn help_ui(&mut self, ui: &mut egui::Ui, area: egui::Rect) {
        let mut open = self.show_help;
        let acting = self.wall == Wall::Off && self.engine.read_only().is_none();
        egui::Window::new("Keyboard shortcuts")
            .id(egui::Id::unique("help-overlay"))
            .open(&mut open)
            .constrain_to(area)
            .collapsible(false)
            .show(ui.ctx(), |ui| {
                egui::Grid::new("shortcuts")
                    .num_columns(2)
                    .spacing([16.0, 4.0])
                    .show(ui, |ui| {
                        let mut row = |keys: &str, what: &str| {
                            ui.label(RichText::new(keys).monospace().strong());
                            ui.label(what);
                            ui.end_row();
                        };
                        row("F1", "this help");
                        row(
                            "F12",
                            "export the view as a PNG (data directory, screenshots/)",
                        );
                        row(
                            "Ctrl+F",
                            "find a service, instance, breaker, cluster or database",
                        );
                        if self.wall == Wall::Off {
                            row(
                                "Ctrl+K",
                                "command palette: every view, layout and command, and every workflow on every target",
                            );
                        }
                        if acting {
                            row("Ctrl+N", "a note pinned to now and the selected thing");
                            row("Enter", "in the palette: plan the first match");
                        }
                        row("Esc", "close a menu or a dialog");
                        row(
                            "Right-click",
                            "on an instance, a service or a database member: what can act on it",
                        );
                        row(
                            "Scroll / drag",
                            "on the topology: zoom and pan; Fit to see it all",
                        );
                    });
                if !acting {
                    ui.separator();
                    ui.weak("This console is read-only: nothing can act from it.");
                }
            });
        self.show_help = open;
    }

    pub(super) fn about_ui(&mut self, ui: &mut egui::Ui) {
        let mut open = self.show_about;
        egui::Window::new("About Switchboard")
            .open(&mut open)
            .collapsible(false)
            .show(ui.ctx(), |ui| {
                ui.label(format!("Switchboard {}", env!("CARGO_PKG_VERSION")));
                ui.label("An incident console for on-call engineers.");
                ui.separator();
                let data = self
                    .data_dir
                    .as_ref()
                    .map_or_else(|| "(none)".to_owned(), |d| d.display().to_string());
                ui.label(format!("Data directory: {data}"));
                if let Some(nb) = &self.notebook {
                    ui.label(format!("Notes and incidents: {}", nb.path().display()));
                }
                if let Some(p) = self.engine.recording() {
                    ui.label(format!("Session file: {}", p.display()));
                }
                if let Some(p) = &self.layout_file {
                    ui.label(format!("Layout file: {}", p.display()));
                }
            });
        self.show_about = open;
    }
}
