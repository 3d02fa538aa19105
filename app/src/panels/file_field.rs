//! A file path field: typed, or chosen in the system's file dialog (rfd). The dialog
//! blocks, so the field asks for it with a command and the console runs it as a job of
//! its own, never on the UI thread; the answer comes back through the job queue. rfd
//! answers nothing both for cancel and for no dialog backend (no portal, no zenity), so
//! the typed path is always there and the user is told to type it.

use std::path::PathBuf;

use super::{Dialog, FileCommand, PanelCtx, UiCommand};
use crate::theme;

/// A path field with a "Choose…" button.
#[derive(Default)]
pub struct FileField {
    /// The path as typed or chosen.
    pub path: String,
    save: bool,
    /// The dialog was asked for and has not answered yet.
    waiting: bool,
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

    /// What the dialog answered: a file, or nothing (cancelled, or no dialog here).
    pub fn chosen(&mut self, file: Option<PathBuf>) {
        self.waiting = false;
        match file {
            Some(p) => {
                self.path = p.display().to_string();
                self.note = None;
            }
            None => {
                self.note = Some(
                    "No file chosen (cancelled, or no file dialog on this system): type the path."
                        .into(),
                );
            }
        }
    }

    /// Draws the row (and what the dialog said); "Choose…" asks for the dialog of
    /// `dialog`'s form.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &PanelCtx<'_>, dialog: Dialog) {
        ui.horizontal(|ui| {
            let label = ui.label("File");
            ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(420.0))
                .labelled_by(label.id);
            if ui
                .add_enabled(!self.waiting, egui::Button::new("Choose…"))
                .clicked()
            {
                self.waiting = true;
                ctx.push(UiCommand::File(FileCommand::Choose {
                    dialog,
                    start: PathBuf::from(&self.path),
                    save: self.save,
                }));
            }
        });
        if let Some(n) = &self.note {
            ui.colored_label(theme::WARN, n);
        }
        if self.waiting {
            ui.weak("Waiting for the file dialog…");
        }
    }
}

/// Asks the system's file dialog for a file (blocks until it answers: run it as a job).
pub fn choose(start: &std::path::Path, save: bool) -> Option<PathBuf> {
    let mut d = rfd::FileDialog::new();
    let dir = if start.is_dir() {
        Some(start)
    } else {
        start.parent()
    };
    if let Some(dir) = dir {
        d = d.set_directory(dir);
    }
    if save {
        if let Some(name) = start.file_name() {
            d = d.set_file_name(name.to_string_lossy());
        }
        d.save_file()
    } else {
        d.pick_file()
    }
}
