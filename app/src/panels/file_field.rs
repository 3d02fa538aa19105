//! A file path field: typed, or chosen in the system's file dialog (rfd). The dialog
//! blocks, so it runs on a thread of its own, never the UI's; rfd answers nothing both
//! for cancel and for no dialog backend (no portal, no zenity), so the typed path is
//! always there and the user is told to type it.

use std::path::PathBuf;

use crate::background::{self, Slot};
use crate::theme;

/// What the dialog answered.
enum Chosen {
    /// A file.
    File(PathBuf),
    /// Cancelled, or no dialog on this system.
    Nothing,
}

/// A path field with a "Choose…" button.
#[derive(Default)]
pub struct FileField {
    /// The path as typed or chosen.
    pub path: String,
    save: bool,
    dialog: Option<Slot<Chosen>>,
    note: Option<String>,
}

impl FileField {
    /// A field starting at `path`, for a file to write (`save`) or to read.
    pub fn new(path: String, save: bool) -> Self {
        Self {
            path,
            save,
            ..Self::default()
        }
    }

    /// Draws the row (and what the dialog said).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        if let Some(answer) = self.dialog.as_ref().and_then(background::take) {
            self.dialog = None;
            match answer {
                Chosen::File(p) => {
                    self.path = p.display().to_string();
                    self.note = None;
                }
                Chosen::Nothing => {
                    self.note = Some(
                        "No file chosen (cancelled, or no file dialog on this system): type the path."
                            .into(),
                    );
                }
            }
        }
        ui.horizontal(|ui| {
            let label = ui.label("File");
            ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(420.0))
                .labelled_by(label.id);
            if ui
                .add_enabled(self.dialog.is_none(), egui::Button::new("Choose…"))
                .clicked()
            {
                self.dialog = Some(self.ask(ui.ctx().clone()));
            }
        });
        if let Some(n) = &self.note {
            ui.colored_label(theme::WARN, n);
        }
        if self.dialog.is_some() {
            ui.weak("Waiting for the file dialog…");
        }
    }

    fn ask(&self, repaint: egui::Context) -> Slot<Chosen> {
        let start = PathBuf::from(&self.path);
        let save = self.save;
        background::spawn(
            "switchboard-file-dialog",
            repaint,
            move || {
                let mut d = rfd::FileDialog::new();
                let dir = if start.is_dir() {
                    Some(start.as_path())
                } else {
                    start.parent()
                };
                if let Some(dir) = dir {
                    d = d.set_directory(dir);
                }
                let chosen = if save {
                    if let Some(name) = start.file_name() {
                        d = d.set_file_name(name.to_string_lossy());
                    }
                    d.save_file()
                } else {
                    d.pick_file()
                };
                chosen.map_or(Chosen::Nothing, Chosen::File)
            },
            |_| Chosen::Nothing,
        )
    }
}
