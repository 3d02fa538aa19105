//! The note editor and the postmortem export, each a window of its own.
//!
//! The editor (Ctrl+N pins a note to the selected thing and the moment the key was
//! pressed): Markdown on the left, its preview on the right, autosaved as you type. A
//! save that fails keeps the text in the editor, says why, and is tried again.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui_commonmark::CommonMarkViewer;
use switchboard_core::Timestamp;
use switchboard_core::store::NoteRow;

use super::IncidentsView;
use crate::notebook::{Draft, Notebook, Request, SaveState, Shelf};
use crate::panels::{Dialog, FileField, PanelCtx, UiCommand};
use crate::theme::{self, clock_time};

/// The editor autosaves once typing pauses this long (and at least this often).
const AUTOSAVE_AFTER: Duration = Duration::from_millis(400);
/// A failed save is tried again this often.
const RETRY_AFTER: Duration = Duration::from_secs(3);

/// The note being written.
pub struct NoteEditor {
    draft: u64,
    existing: Option<i64>,
    incident: Option<i64>,
    entity: Option<String>,
    pinned_at: Timestamp,
    text: String,
    /// The text last sent to the store, and when.
    sent: Option<(String, Instant)>,
    changed_at: Option<Instant>,
    focus: bool,
    /// The last save the store did not take (it is behind): its text and why. Shown
    /// like a failed save, and tried again like one.
    refused: Option<SaveState>,
}

impl NoteEditor {
    fn saved<'a>(&'a self, published: &'a Shelf) -> Option<&'a SaveState> {
        self.refused
            .as_ref()
            .or_else(|| published.saves.get(&self.draft))
    }

    /// Whether the text on screen is on disk.
    fn is_saved(&self, published: &Shelf) -> bool {
        self.text.trim().is_empty() && self.existing.is_none()
            || matches!(self.saved(published), Some(SaveState::Saved(_, t, _)) if *t == self.text)
    }
}

/// Where the export's file goes.
#[derive(Default)]
pub(super) struct ExportForm {
    pub(super) incident: i64,
    pub(super) file: FileField,
    pub(super) json: bool,
}

impl IncidentsView {
    /// What the export form's file dialog answered.
    pub fn chosen(&mut self, file: Option<PathBuf>) {
        if let Some(form) = &mut self.export {
            form.file.chosen(file);
        }
    }

    /// The store did not take draft `draft`'s save of `body` (why): the editor shows it
    /// as not saved, keeps the text and tries again.
    pub fn save_refused(&mut self, draft: u64, body: String, why: String) {
        if let Some(ed) = &mut self.editor
            && ed.draft == draft
        {
            ed.refused = Some(SaveState::Failed(body, why));
        }
    }

    /// The text in the note editor, if one is open.
    pub fn editor_text(&self) -> Option<&str> {
        self.editor.as_ref().map(|e| e.text.as_str())
    }

    /// Opens the editor for a new note pinned to `at`, about `entity`, on the open
    /// incident (or the focused one).
    pub fn quick_note(&mut self, notebook: &Notebook, at: Timestamp, entity: Option<String>) {
        if self.editor.is_some() {
            if let Some(e) = &mut self.editor {
                e.focus = true;
            }
            return;
        }
        let published = notebook.shelf();
        let incident = published
            .incidents
            .iter()
            .find(|i| i.status != "resolved")
            .or_else(|| published.page.incident.as_ref())
            .map(|i| i.id);
        self.editor = Some(NoteEditor {
            draft: notebook.new_draft(),
            existing: None,
            incident,
            entity,
            pinned_at: at,
            text: String::new(),
            sent: None,
            changed_at: None,
            focus: true,
            refused: None,
        });
    }

    pub(super) fn edit_note(&mut self, notebook: &Notebook, n: &NoteRow) {
        if self.editor.is_some() {
            return;
        }
        self.editor = Some(NoteEditor {
            draft: notebook.new_draft(),
            existing: Some(n.id),
            incident: n.incident,
            entity: n.entity.clone(),
            pinned_at: n.pinned_at,
            text: n.body.clone(),
            sent: Some((n.body.clone(), Instant::now())),
            changed_at: None,
            focus: true,
            refused: None,
        });
    }
}

/// The note editor window (when one is open) and the export window: drawn by the
/// console every frame, whichever panels are shown.
pub fn note_windows_ui(
    ctx: &egui::Context,
    area: egui::Rect,
    pctx: &PanelCtx<'_>,
    view: &mut IncidentsView,
    nb: &Notebook,
) {
    let shelf = nb.shelf();
    editor_window_ui(ctx, area, pctx, view, &shelf);
    export_window_ui(ctx, area, pctx, view, &shelf);
}

fn editor_window_ui(
    ctx: &egui::Context,
    area: egui::Rect,
    pctx: &PanelCtx<'_>,
    view: &mut IncidentsView,
    shelf: &Shelf,
) {
    let Some(ed) = &mut view.editor else {
        return;
    };
    // Autosave: once typing pauses, and at least every so often while it goes on; a
    // failed save again after a while.
    let failed = matches!(ed.saved(shelf), Some(SaveState::Failed(t, _)) if *t == ed.text);
    let due = match (&ed.sent, ed.changed_at) {
        (Some((t, _)), _) if *t == ed.text && !failed => false,
        (Some((_, at)), _) if failed => at.elapsed() >= RETRY_AFTER,
        (_, Some(c)) => {
            c.elapsed() >= AUTOSAVE_AFTER
                || ed
                    .sent
                    .as_ref()
                    .is_some_and(|(_, at)| at.elapsed() >= AUTOSAVE_AFTER * 5)
        }
        _ => false,
    };
    if due && !(ed.text.trim().is_empty() && ed.existing.is_none()) {
        pctx.push(UiCommand::Notebook(Request::Save(
            Draft {
                id: ed.draft,
                existing: ed.existing,
                incident: ed.incident,
                entity: ed.entity.clone(),
                pinned_at: ed.pinned_at,
                body: ed.text.clone(),
            },
            pctx.now,
        )));
        // Taken, unless the console hands it back refused after this frame.
        ed.refused = None;
        ed.sent = Some((ed.text.clone(), Instant::now()));
    }
    let saved = ed.is_saved(shelf);
    let mut open = true;
    let mut close = false;
    let title = match ed.existing {
        Some(id) => format!("Edit note #{id}"),
        None => "Note".to_owned(),
    };
    egui::Window::new(title)
        .id(egui::Id::unique("note-editor"))
        .open(&mut open)
        .constrain_to(area)
        .default_size([720.0, 340.0])
        .default_pos(area.center() - egui::vec2(360.0, 170.0))
        .collapsible(false)
        .show(ctx, |ui| {
            ui.horizontal_wrapped(|ui| {
                let title = ed.incident.and_then(|id| {
                    shelf
                        .incidents
                        .iter()
                        .find(|i| i.id == id)
                        .map(|i| format!("incident #{id} {}", i.title))
                });
                ui.label(title.unwrap_or_else(|| "no incident".into()));
                ui.weak(format!("pinned {} UTC", clock_time(ed.pinned_at)));
                if let Some(e) = &ed.entity {
                    ui.weak(format!("about {e}"));
                }
            });
            ui.columns(2, |cols| {
                let label = cols[0].weak("Markdown");
                let r = cols[0]
                    .add(
                        egui::TextEdit::multiline(&mut ed.text)
                            .hint_text("What you see, what you did")
                            .desired_rows(12)
                            .desired_width(f32::INFINITY),
                    )
                    .labelled_by(label.id);
                if ed.focus {
                    r.request_focus();
                    ed.focus = false;
                }
                if r.changed() {
                    ed.changed_at = Some(Instant::now());
                }
                egui::ScrollArea::vertical()
                    .id_salt("note-preview")
                    .max_height(230.0)
                    .show(&mut cols[1], |ui| {
                        ui.weak("Preview");
                        if ed.text.trim().is_empty() {
                            ui.weak("(nothing yet)");
                        } else {
                            CommonMarkViewer::new().show(ui, &mut view.cache, &ed.text);
                        }
                    });
            });
            ui.separator();
            ui.horizontal(|ui| {
                match ed.saved(shelf) {
                    Some(SaveState::Failed(_, why)) => {
                        ui.colored_label(
                            theme::BAD,
                            format!("NOT SAVED: {why}. The text stays here and is tried again."),
                        );
                    }
                    Some(SaveState::Saved(id, t, at)) if *t == ed.text => {
                        ui.colored_label(
                            theme::GOOD,
                            format!("saved as note #{id} at {} UTC", clock_time(*at)),
                        );
                    }
                    _ if ed.text.trim().is_empty() && ed.existing.is_none() => {
                        ui.weak("Autosaved as you type.");
                    }
                    _ => {
                        ui.weak("saving…");
                    }
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui
                        .add_enabled(saved, egui::Button::new("Done"))
                        .on_disabled_hover_text("Not saved yet")
                        .clicked()
                    {
                        close = true;
                    }
                    if !saved && ui.button("Discard").clicked() {
                        close = true;
                    }
                });
            });
        });
    // The window's ✖ closes only a saved note: unsaved text is never dropped silently.
    if close || (!open && saved) {
        view.editor = None;
    }
}

fn export_window_ui(
    ctx: &egui::Context,
    area: egui::Rect,
    pctx: &PanelCtx<'_>,
    view: &mut IncidentsView,
    shelf: &Shelf,
) {
    let Some(form) = &mut view.export else {
        return;
    };
    let mut open = true;
    let mut done = false;
    egui::Window::new(format!(
        "Export the postmortem of incident #{}",
        form.incident
    ))
    .id(egui::Id::unique("export-postmortem"))
    .open(&mut open)
    .constrain_to(area)
    .collapsible(false)
    .default_width(560.0)
    .show(ctx, |ui| {
        ui.horizontal(|ui| {
            if ui.radio(!form.json, "Markdown").clicked() {
                form.json = false;
                form.file.path = swap_ext(&form.file.path, "md");
            }
            if ui.radio(form.json, "JSON").clicked() {
                form.json = true;
                form.file.path = swap_ext(&form.file.path, "json");
            }
        });
        form.file.ui(ui, pctx, Dialog::Postmortem);
        match &shelf.outcome {
            Some(Ok(msg)) => {
                ui.colored_label(theme::GOOD, msg);
            }
            Some(Err(e)) => {
                ui.colored_label(theme::BAD, e);
            }
            None => {}
        }
        ui.horizontal(|ui| {
            let ok = !form.file.path.trim().is_empty();
            if ui.add_enabled(ok, egui::Button::new("Write")).clicked() {
                pctx.push(UiCommand::Notebook(Request::Export {
                    incident: form.incident,
                    path: PathBuf::from(form.file.path.trim()),
                    json: form.json,
                    at: pctx.now,
                }));
            }
            if ui.button("Close").clicked() {
                done = true;
            }
        });
    });
    if done || !open {
        view.export = None;
    }
}

fn swap_ext(path: &str, ext: &str) -> String {
    PathBuf::from(path)
        .with_extension(ext)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_save_shows_as_not_saved_and_keeps_the_text() {
        let mut view = IncidentsView {
            editor: Some(NoteEditor {
                draft: 3,
                existing: None,
                incident: None,
                entity: None,
                pinned_at: Timestamp(0),
                text: "the primary is back".into(),
                sent: Some(("the primary is back".into(), Instant::now())),
                changed_at: None,
                focus: false,
                refused: None,
            }),
            ..IncidentsView::default()
        };
        let shelf = Shelf::default();
        // Another draft's refusal is not this one's.
        view.save_refused(4, "other".into(), "busy".into());
        let ed = view.editor.as_ref().expect("open");
        assert_eq!(ed.saved(&shelf), None);
        view.save_refused(3, "the primary is back".into(), "busy".into());
        let ed = view.editor.as_ref().expect("open");
        assert_eq!(
            ed.saved(&shelf),
            Some(&SaveState::Failed(
                "the primary is back".into(),
                "busy".into()
            ))
        );
        assert!(!ed.is_saved(&shelf), "not on disk: Done stays off");
        assert_eq!(view.editor_text(), Some("the primary is back"));
    }
}
