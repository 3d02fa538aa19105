//! File → Open session and File → Save session.
//!
//! - Open: a typed path, or one chosen in the system's file dialog (rfd, on a thread
//!   of its own; it answers nothing both for cancel and for no dialog backend, so the
//!   typed path is always there). The session opens in a replay window of its own, so
//!   the live console goes on.
//! - Save: a span of the session being recorded (the last 15 minutes, the last hour,
//!   the open incident, or all of it) to a new file, with this machine's incidents,
//!   notes and workflow runs of that span; written on a thread of its own.
//!
//! The forms push commands; the console runs the dialog, the save and the replay as
//! jobs and hands their answers back here ([`SessionFilesView::chosen`],
//! [`SessionFilesView::saved`]).

use std::path::{Path, PathBuf};

use switchboard_core::Timestamp;

use super::{Dialog, FileCommand, PanelCtx, UiCommand};
use crate::theme;

/// What the dialogs are doing.
#[derive(Default)]
pub struct SessionFilesView {
    open: Option<Form>,
    save: Option<Form>,
    span: Span,
}

/// The span File → Save session writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Span {
    #[default]
    Last15,
    LastHour,
    Incident,
    All,
}

#[derive(Default)]
struct Form {
    file: super::FileField,
    /// The save was asked for and has not answered yet.
    saving: bool,
    /// The save's outcome.
    result: Option<Result<String, String>>,
    /// The path last looked up and whether it is a file (`None` while the job looking
    /// runs): the disk is asked when the path changes, never by the frame itself.
    checked: Option<(String, Option<bool>)>,
}

impl SessionFilesView {
    /// Opens File → Open session.
    pub fn show_open(&mut self, data_dir: Option<&Path>) {
        let dir = data_dir.map(|d| d.join("sessions")).unwrap_or_default();
        self.open = Some(Form {
            file: super::FileField::new(format!("{}/", dir.display()), false),
            saving: false,
            result: None,
            checked: None,
        });
    }

    /// Opens File → Save session.
    pub fn show_save(&mut self, data_dir: Option<&Path>, now: Timestamp) {
        let dir = data_dir.map(|d| d.join("saved")).unwrap_or_default();
        let stamp = now.file_stamp();
        self.save = Some(Form {
            file: super::FileField::new(
                dir.join(format!("session-{stamp}.sqlite"))
                    .display()
                    .to_string(),
                true,
            ),
            saving: false,
            result: None,
            checked: None,
        });
    }

    /// What the file dialog of `dialog`'s form answered.
    pub fn chosen(&mut self, dialog: Dialog, file: Option<PathBuf>) {
        let form = match dialog {
            Dialog::OpenSession => self.open.as_mut(),
            Dialog::SaveSession => self.save.as_mut(),
            Dialog::Postmortem => None,
        };
        if let Some(f) = form {
            f.file.chosen(file);
        }
    }

    /// Whether `path`, typed in the open form, is a file.
    pub fn checked(&mut self, path: &Path, is_file: bool) {
        if let Some(f) = &mut self.open
            && let Some((typed, known)) = &mut f.checked
            && Path::new(typed.as_str()) == path
        {
            *known = Some(is_file);
        }
    }

    /// How the save went: what was written, or why not.
    pub fn saved(&mut self, result: Result<String, String>) {
        if let Some(f) = &mut self.save {
            f.saving = false;
            f.result = Some(result);
        }
    }
}

/// What the console knows that the dialogs need.
pub struct SessionCtx {
    /// The session being recorded (its current segment).
    pub recording: Option<PathBuf>,
    /// Now (the console's clock).
    pub now: Timestamp,
    /// The open incident's start, if any.
    pub incident_start: Option<Timestamp>,
}

/// Draws the open and save windows (when shown).
pub fn session_windows_ui(
    ctx: &egui::Context,
    area: egui::Rect,
    view: &mut SessionFilesView,
    sc: &SessionCtx,
    pctx: &PanelCtx<'_>,
) {
    if let Some(form) = &mut view.open {
        let mut open = true;
        let mut done = false;
        egui::Window::new("Open a session")
            .id(egui::Id::unique("open-session"))
            .open(&mut open)
            .constrain_to(area)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label("It opens in a replay window of its own; this console goes on.");
                form.file.ui(ui, pctx, Dialog::OpenSession);
                let typed = form.file.path.trim();
                let file = PathBuf::from(typed);
                let known = match &form.checked {
                    Some((path, known)) if path == typed => *known,
                    _ => {
                        form.checked = Some((typed.to_owned(), None));
                        pctx.push(UiCommand::File(FileCommand::Check(file.clone())));
                        None
                    }
                };
                let ok = known == Some(true);
                if known == Some(false)
                    && !form.file.path.trim().is_empty()
                    && !form.file.path.ends_with('/')
                {
                    ui.colored_label(theme::WARN, "no such file");
                }
                if ui.add_enabled(ok, egui::Button::new("Replay")).clicked() {
                    pctx.push(UiCommand::File(FileCommand::Replay(file)));
                    done = true;
                }
            });
        if done || !open {
            view.open = None;
        }
    }
    if let Some(form) = &mut view.save {
        let mut open = true;
        egui::Window::new("Save a session")
            .id(egui::Id::unique("save-session"))
            .open(&mut open)
            .constrain_to(area)
            .collapsible(false)
            .show(ctx, |ui| {
                let Some(src) = sc.recording.as_deref() else {
                    ui.colored_label(
                        theme::WARN,
                        "This console records nothing (--no-record, or no data directory).",
                    );
                    return;
                };
                ui.horizontal(|ui| {
                    ui.radio_value(&mut view.span, Span::Last15, "last 15 minutes");
                    ui.radio_value(&mut view.span, Span::LastHour, "last hour");
                    if sc.incident_start.is_some() {
                        ui.radio_value(&mut view.span, Span::Incident, "the open incident");
                    }
                    ui.radio_value(&mut view.span, Span::All, "all of it");
                });
                ui.weak(
                    "With this machine's incidents, notes and workflow runs of the span. \
                     The events before it are kept too, so the replay starts from the same state.",
                );
                form.file.ui(ui, pctx, Dialog::SaveSession);
                let busy = form.saving;
                if ui
                    .add_enabled(
                        !busy && !form.file.path.trim().is_empty(),
                        egui::Button::new("Save"),
                    )
                    .clicked()
                {
                    let from = match view.span {
                        Span::Last15 => Timestamp(sc.now.0 - 15 * 60_000),
                        Span::LastHour => Timestamp(sc.now.0 - 3_600_000),
                        Span::Incident => sc
                            .incident_start
                            .map_or(Timestamp(0), |t| Timestamp(t.0 - 5 * 60_000)),
                        Span::All => Timestamp(0),
                    };
                    pctx.push(UiCommand::File(FileCommand::SaveSession {
                        src: src.to_owned(),
                        dst: PathBuf::from(form.file.path.trim()),
                        from,
                        to: sc.now,
                    }));
                    form.saving = true;
                    form.result = None;
                }
                if let Some(r) = &form.result {
                    match r {
                        Ok(m) => ui.colored_label(theme::GOOD, m),
                        Err(e) => ui.colored_label(theme::BAD, e),
                    };
                } else if busy {
                    ui.weak("saving…");
                }
            });
        if !open {
            view.save = None;
        }
    }
}

/// Opens `file` in a replay window of its own (this program, `replay FILE`).
pub fn spawn_replay(file: &Path, data_dir: Option<&Path>) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot start the replay: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    if let Some(d) = data_dir {
        cmd.arg("--data-dir").arg(d);
    }
    cmd.arg("replay").arg(file);
    cmd.spawn()
        .map(|_| format!("replay of {} opened", file.display()))
        .map_err(|e| format!("cannot start the replay: {e}"))
}

/// Writes the span `from`..`to` of the session `src` to `dst` (blocks: run it as a job).
pub fn save(
    src: &Path,
    dst: &Path,
    from: Timestamp,
    to: Timestamp,
    data_dir: Option<&Path>,
) -> Result<String, String> {
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    crate::session_files::save(src, dst, from, to, data_dir)
}
