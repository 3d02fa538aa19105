//! File → Open session and File → Save session.
//!
//! - Open: a typed path, or one chosen in the system's file dialog (rfd, on a thread
//!   of its own; it answers nothing both for cancel and for no dialog backend, so the
//!   typed path is always there). The session opens in a replay window of its own, so
//!   the live console goes on.
//! - Save: a span of the session being recorded (the last 15 minutes, the last hour,
//!   the open incident, or all of it) to a new file, with this machine's incidents,
//!   notes and workflow runs of that span; written on a thread of its own.

use std::path::{Path, PathBuf};

use switchboard_core::Timestamp;

use crate::background::{self, Slot};
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
    /// The save's outcome, while it runs (`None` inside) and after.
    result: Option<Slot<Result<String, String>>>,
    /// The path last looked up and whether it is a file: the disk is asked when the
    /// path changes, not every frame.
    checked: Option<(String, bool)>,
}

impl SessionFilesView {
    /// Opens File → Open session.
    pub fn show_open(&mut self, data_dir: Option<&Path>) {
        let dir = data_dir.map(|d| d.join("sessions")).unwrap_or_default();
        self.open = Some(Form {
            file: super::FileField::new(format!("{}/", dir.display()), false),
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
            result: None,
            checked: None,
        });
    }
}

/// What the console knows that the dialogs need.
pub struct SessionCtx<'a> {
    /// The session being recorded (its current segment).
    pub recording: Option<PathBuf>,
    /// The data directory.
    pub data_dir: Option<&'a Path>,
    /// Now (the console's clock).
    pub now: Timestamp,
    /// The open incident's start, if any.
    pub incident_start: Option<Timestamp>,
}

/// Draws the open and save windows (when shown); returns a message for the top bar.
pub fn session_windows_ui(
    ctx: &egui::Context,
    area: egui::Rect,
    view: &mut SessionFilesView,
    sc: &SessionCtx<'_>,
) -> Option<String> {
    let mut message = None;
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
                form.file.ui(ui);
                let typed = form.file.path.trim();
                let file = PathBuf::from(typed);
                let ok = match &form.checked {
                    Some((path, ok)) if path == typed => *ok,
                    _ => {
                        let ok = file.is_file();
                        form.checked = Some((typed.to_owned(), ok));
                        ok
                    }
                };
                if !ok && !form.file.path.trim().is_empty() && !form.file.path.ends_with('/') {
                    ui.colored_label(theme::WARN, "no such file");
                }
                if ui.add_enabled(ok, egui::Button::new("Replay")).clicked() {
                    message = Some(match spawn_replay(&file, sc.data_dir) {
                        Ok(()) => format!("replay of {} opened", file.display()),
                        Err(e) => e,
                    });
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
                form.file.ui(ui);
                let busy = form
                    .result
                    .as_ref()
                    .is_some_and(|r| r.lock().is_ok_and(|r| r.is_none()));
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
                    form.result = Some(spawn_save(
                        src,
                        PathBuf::from(form.file.path.trim()),
                        from,
                        sc.now,
                        sc.data_dir.map(Path::to_path_buf),
                        ui.ctx().clone(),
                    ));
                }
                if let Some(r) = form.result.as_ref().and_then(|r| r.lock().ok()?.clone()) {
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
    message
}

/// Opens `file` in a replay window of its own (this program, `replay FILE`).
fn spawn_replay(file: &Path, data_dir: Option<&Path>) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot start the replay: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    if let Some(d) = data_dir {
        cmd.arg("--data-dir").arg(d);
    }
    cmd.arg("replay").arg(file);
    cmd.spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the replay: {e}"))
}

fn spawn_save(
    src: &Path,
    dst: PathBuf,
    from: Timestamp,
    to: Timestamp,
    data_dir: Option<PathBuf>,
    repaint: egui::Context,
) -> Slot<Result<String, String>> {
    let src = src.to_owned();
    background::spawn(
        "switchboard-save-session",
        repaint,
        move || {
            if let Some(dir) = dst.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            crate::session_files::save(&src, &dst, from, to, data_dir.as_deref())
        },
        |e| Err(format!("cannot save: {e}")),
    )
}
