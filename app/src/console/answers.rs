//! The answers of the window's jobs (layouts, the theme, dialogs, sessions, PNGs,
//! take-overs of interrupted runs), as plain values, and where each lands: the frame
//! takes them from the one job queue ([`crate::background::Jobs`]) for a few
//! milliseconds at most and applies them here.

use std::path::PathBuf;
use std::time::Instant;

use super::Console;
use crate::background::DRAIN_BUDGET;
use crate::layout::Pane;
use crate::panels::Dialog;

/// What a job of the window answers.
pub(super) enum Answer {
    /// The layout file was written (autosave after an edit), or why not.
    LayoutKept(Result<(), String>),
    /// Layout → Save as: the layout saved under `name`, or why not.
    LayoutSavedAs {
        /// The name.
        name: String,
        /// Saved, or why not.
        result: Result<(), String>,
    },
    /// One of the operator's layouts, read (the `request`-th ask: older ones are stale).
    LayoutLoaded {
        /// Which ask this answers.
        request: u64,
        /// The layout, or why it cannot be had.
        result: Result<egui_tiles::Tree<Pane>, String>,
    },
    /// One of the operator's layouts removed, or why not.
    LayoutRemoved {
        /// The name.
        name: String,
        /// Removed, or why not.
        result: Result<(), String>,
    },
    /// The operator's named layouts, listed.
    OwnLayouts(Vec<String>),
    /// The theme chosen was kept for the next start, or why not.
    ThemeKept(Result<(), String>),
    /// A file dialog's answer for `dialog`'s form: a file, or nothing.
    FileChosen {
        /// The form.
        dialog: Dialog,
        /// The file, if one was chosen.
        file: Option<PathBuf>,
    },
    /// Whether a path typed in File → Open session is a file.
    Checked {
        /// The path.
        path: PathBuf,
        /// It is a file.
        is_file: bool,
    },
    /// File → Save session: what was written, or why not.
    SessionSaved(Result<String, String>),
    /// The view exported as a PNG: the file, or why not.
    PngWritten(Result<PathBuf, String>),
    /// A take-over of an interrupted run: the job it planned, or why it was refused.
    TakenOver(Result<u64, String>),
    /// Something to tell the operator (a replay started), or an error.
    Said(Result<String, String>),
}

impl Console {
    /// Applies the answers that landed, for a few milliseconds at most: the rest waits
    /// for the next frame (which the queue asks for).
    pub(super) fn apply_answers(&mut self) {
        let deadline = Instant::now() + DRAIN_BUDGET;
        while let Some(answer) = self.jobs.next_before(deadline) {
            self.apply_answer(answer);
        }
    }

    fn apply_answer(&mut self, answer: Answer) {
        match answer {
            Answer::LayoutKept(result) => {
                self.layout_saving = None;
                if let Err(e) = result {
                    self.say(e);
                }
            }
            Answer::LayoutSavedAs { name, result } => match result {
                Ok(()) => {
                    if !self.own_layouts.contains(&name) {
                        self.own_layouts.push(name.clone());
                        self.own_layouts.sort();
                    }
                    self.say(format!("layout saved as {name}"));
                }
                Err(e) => self.say(e),
            },
            Answer::LayoutLoaded { request, result } => {
                if request != self.layout_request {
                    return;
                }
                match result {
                    Ok(tree) => {
                        self.tree = tree;
                        self.layout_dirty = true;
                    }
                    Err(e) => self.say(e),
                }
            }
            Answer::LayoutRemoved { name, result } => match result {
                Ok(()) => self.own_layouts.retain(|n| *n != name),
                Err(e) => self.say(e),
            },
            Answer::OwnLayouts(names) => self.own_layouts = names,
            Answer::ThemeKept(result) => {
                if let Err(e) = result {
                    self.say(e);
                }
            }
            Answer::FileChosen { dialog, file } => match dialog {
                Dialog::Postmortem => self.incidents.chosen(file),
                Dialog::OpenSession | Dialog::SaveSession => {
                    self.session_files.chosen(dialog, file);
                }
            },
            Answer::Checked { path, is_file } => self.session_files.checked(&path, is_file),
            Answer::SessionSaved(result) => self.session_files.saved(result),
            Answer::PngWritten(result) => self.say(match result {
                Ok(p) => format!("view saved as {}", p.display()),
                Err(e) => e,
            }),
            Answer::TakenOver(Ok(job)) => self.workflows.focus(job),
            Answer::TakenOver(Err(e)) => self.say(e),
            Answer::Said(text) => self.say(text.unwrap_or_else(|e| e)),
        }
    }
}
