//! Applying what a frame asked for: the commands panels and menus pushed, and the
//! palette's console commands, all in one place after the frame. Work that touches a
//! file (a layout, the theme, a session, a dialog) starts here as a job; its answer
//! comes back through the job queue ([`super::answers`]).

use std::time::{Duration, Instant};

use switchboard_core::{Intent, Timestamp};

use super::answers::Answer;
use super::{Console, Wall};
use crate::notebook::{self, Request};
use crate::panels::{self, FileCommand, LayoutCommand, PanelCtx, UiCommand};
use crate::{layout, palette, png_export, theme};

impl Console {
    /// Replaces the layout with a preset (at once: presets are built in) or one of the
    /// operator's named layouts (read as a job; on screen when it is read).
    pub fn apply_preset(&mut self, name: &str) {
        // Newer asks win: the answer of an older one is dropped.
        self.layout_request += 1;
        let dir = self.user_layouts();
        let own = dir.is_some()
            && layout::check_name(name).is_ok()
            && !layout::preset_names().contains(&name);
        if !own {
            match layout::resolve(name, None) {
                Ok(tree) => {
                    self.tree = tree;
                    self.layout_dirty = true;
                }
                Err(e) => self.say(e),
            }
            return;
        }
        let request = self.layout_request;
        let name = name.to_owned();
        let failed_name = name.clone();
        self.jobs.spawn(
            "switchboard-layout-load",
            move || Answer::LayoutLoaded {
                request,
                result: layout::resolve(&name, dir.as_deref()),
            },
            move |why| Answer::LayoutLoaded {
                request,
                result: Err(format!("cannot read layout {failed_name}: {why}")),
            },
        );
    }

    /// Saves the layout on screen as the operator's layout `name` (written as a job:
    /// "saving…" until it is on disk, then saved or the error in words).
    pub fn save_layout_as(&mut self, name: &str) -> Result<(), String> {
        let dir = self
            .user_layouts()
            .ok_or("layouts are saved in the data directory, and this console has none")?;
        layout::check_name(name)?;
        let tree = self.tree.clone();
        let name = name.to_owned();
        let failed_name = name.clone();
        self.say(format!("saving layout {name}…"));
        self.jobs.spawn(
            "switchboard-layout-save",
            move || Answer::LayoutSavedAs {
                result: layout::save_named(&dir, &name, &tree),
                name,
            },
            move |why| Answer::LayoutSavedAs {
                name: failed_name.clone(),
                result: Err(format!("cannot save layout {failed_name}: {why}")),
            },
        );
        Ok(())
    }

    /// Removes the operator's layout `name` (as a job).
    fn remove_layout(&mut self, name: String) {
        let Some(dir) = self.user_layouts() else {
            return;
        };
        let failed_name = name.clone();
        self.jobs.spawn(
            "switchboard-layout-remove",
            move || Answer::LayoutRemoved {
                result: layout::remove_named(&dir, &name),
                name,
            },
            move |why| Answer::LayoutRemoved {
                name: failed_name.clone(),
                result: Err(format!("cannot remove layout {failed_name}: {why}")),
            },
        );
    }

    /// Lists the operator's named layouts again (as a job).
    pub(super) fn list_own_layouts(&self) {
        if let Some(dir) = self.user_layouts() {
            self.jobs.spawn(
                "switchboard-layout-list",
                move || Answer::OwnLayouts(layout::user_names(&dir)),
                |_| Answer::OwnLayouts(Vec::new()),
            );
        }
    }

    /// Carries out a console command picked in the palette: views and windows at once,
    /// anything else as a command.
    pub(super) fn run_palette(&mut self, ctx: &PanelCtx<'_>, cmd: palette::PaletteCmd) {
        use palette::PaletteCmd as P;
        match cmd {
            P::Show(pane) => ctx.push(UiCommand::Show(pane)),
            P::Layout(name) => ctx.push(UiCommand::Layout(LayoutCommand::Load(name))),
            P::Theme(t) => ctx.push(UiCommand::Theme(t)),
            P::ExportPng => ctx.push(UiCommand::File(FileCommand::ExportPng)),
            P::Find => self.find.toggle(),
            P::Help => self.show_help = true,
            P::Note => ctx.push(UiCommand::QuickNote),
            P::SaveSession => self
                .session_files
                .show_save(self.data_dir.as_deref(), ctx.now),
            P::OpenSession => self.session_files.show_open(self.data_dir.as_deref()),
            P::Inject(fault) => ctx.push(UiCommand::Intent(Intent::DrillInject { fault })),
        }
    }

    /// File → Save session is offered: a live console that is not a wall.
    pub(super) fn can_save_session(&self) -> bool {
        self.player.is_none() && self.wall == Wall::Off
    }

    /// Drill faults can be started from here: a drill that takes intents.
    pub(super) fn drill_faults(&self, state: &switchboard_core::State) -> bool {
        state.drill && self.engine.read_only().is_none()
    }

    /// Switches the theme (at the next frame) and keeps the choice for the next start
    /// (written as a job).
    fn set_theme(&mut self, theme: egui::Theme) {
        self.theme = Some(theme);
        if let Some(dir) = self.data_dir.clone() {
            self.jobs.spawn(
                "switchboard-theme-save",
                move || Answer::ThemeKept(theme::save_choice(&dir, theme)),
                |why| Answer::ThemeKept(Err(format!("cannot keep the theme: {why}"))),
            );
        }
    }

    /// Writes the next frame to a PNG in the data directory (else the temp directory).
    fn export_png(&self, ctx: &egui::Context, now: Timestamp) {
        let dir = self.data_dir.clone().unwrap_or_else(std::env::temp_dir);
        let path = png_export::default_path(&dir, self.engine.environment(), now);
        png_export::request(ctx, path, self.jobs.spawner(), Answer::PngWritten);
    }

    /// Carries out a file command: each one that touches a file or waits is a job.
    fn apply_file(&mut self, egui_ctx: &egui::Context, now: Timestamp, cmd: FileCommand) {
        match cmd {
            FileCommand::Choose {
                dialog,
                start,
                save,
            } => self.jobs.spawn(
                "switchboard-file-dialog",
                move || Answer::FileChosen {
                    dialog,
                    file: panels::choose_file(&start, save),
                },
                move |_| Answer::FileChosen { dialog, file: None },
            ),
            FileCommand::Check(path) => {
                let failed_path = path.clone();
                self.jobs.spawn(
                    "switchboard-file-check",
                    move || Answer::Checked {
                        is_file: path.is_file(),
                        path,
                    },
                    move |_| Answer::Checked {
                        path: failed_path.clone(),
                        is_file: false,
                    },
                );
            }
            FileCommand::Replay(file) => {
                let data_dir = self.data_dir.clone();
                self.jobs.spawn(
                    "switchboard-replay-start",
                    move || Answer::Said(panels::spawn_replay(&file, data_dir.as_deref())),
                    |why| Answer::Said(Err(format!("cannot start the replay: {why}"))),
                );
            }
            FileCommand::SaveSession { src, dst, from, to } => {
                let data_dir = self.data_dir.clone();
                let flusher = self.engine.flusher();
                self.jobs.spawn(
                    "switchboard-save-session",
                    move || {
                        // The last second's events are still being gathered: written
                        // first, so the span holds everything up to now.
                        flusher.flush(Duration::from_secs(2));
                        Answer::SessionSaved(panels::save_session(
                            &src,
                            &dst,
                            from,
                            to,
                            data_dir.as_deref(),
                        ))
                    },
                    |why| Answer::SessionSaved(Err(format!("cannot save: {why}"))),
                );
            }
            FileCommand::ExportPng => self.export_png(egui_ctx, now),
        }
    }

    /// Carries out a layout command.
    fn apply_layout(&mut self, cmd: LayoutCommand) {
        match cmd {
            LayoutCommand::Load(name) => self.apply_preset(&name),
            LayoutCommand::SaveAs(name) => {
                if let Err(e) = self.save_layout_as(&name) {
                    self.say(e);
                }
            }
            LayoutCommand::Remove(name) => self.remove_layout(name),
            LayoutCommand::SetTree(tree) => {
                self.tree = *tree;
                self.layout_dirty = true;
            }
        }
    }

    /// Tells the operator what the note store did not take (it is behind, or stopped):
    /// a save shows as not saved in the editor, which keeps the text and tries again;
    /// what the incidents page shows is asked for again at the next frame; a change is
    /// said in the top bar, to be done again.
    fn note_refused(&mut self, refused: notebook::Refused) {
        let notebook::Refused { request, why } = refused;
        let what = match request {
            Request::Save(draft, _) => {
                self.incidents.save_refused(draft.id, draft.body, why);
                return;
            }
            // Nothing is lost: the next offer carries a newer state, the next
            // connection the relay's notes.
            Request::Sync(_) | Request::Relay(_) => return,
            Request::Focus(_) | Request::Search(_) => {
                self.incidents.resend_view();
                return;
            }
            Request::Status(id, status, _) => {
                format!("incident #{id} was not set to {status}")
            }
            Request::Severity(id, sev, _) => {
                format!("the severity of incident #{id} was not set to Sev{sev}")
            }
            Request::Mark { .. } => "the timeline entry was not marked".to_owned(),
            Request::Open { title, .. } => format!("incident \"{title}\" was not opened"),
            Request::Export { incident, .. } => {
                format!("the postmortem of incident #{incident} was not written")
            }
        };
        self.say(format!("{why}: {what}. Try again in a moment."));
    }

    /// Shows `text` in the top bar for a few seconds.
    pub(super) fn say(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), Instant::now()));
    }

    /// Applies the commands pushed during the frame, in the order they came: the one
    /// place where what a frame asked for takes effect.
    pub(super) fn apply_commands(
        &mut self,
        commands: Vec<UiCommand>,
        egui_ctx: &egui::Context,
        now: Timestamp,
        selected: Option<&str>,
    ) {
        for cmd in commands {
            match cmd {
                UiCommand::Layout(c) => self.apply_layout(c),
                UiCommand::Theme(t) => self.set_theme(t),
                UiCommand::File(c) => self.apply_file(egui_ctx, now, c),
                UiCommand::Show(pane) => {
                    layout::show_pane(&mut self.tree, pane);
                    self.layout_dirty = true;
                }
                UiCommand::QuickNote => match &self.notebook {
                    Some(nb) => self
                        .incidents
                        .quick_note(nb, now, selected.map(str::to_owned)),
                    None => {
                        self.message = Some((
                            "notes need a data directory (this console has none)".into(),
                            Instant::now(),
                        ));
                    }
                },
                UiCommand::Select(s) => self.selected = s,
                UiCommand::Plan(kind, target) => self.start_plan(kind, &target),
                UiCommand::Palette => self.open_palette(),
                UiCommand::Desk(c) => self.apply_desk(c),
                UiCommand::Notebook(r) => {
                    if let Some(Err(refused)) = self.notebook.as_ref().map(|nb| nb.send(r)) {
                        self.note_refused(*refused);
                    }
                }
                UiCommand::Intent(i) => {
                    if let Err(e) = self.engine.send(i) {
                        self.message = Some((format!("{e:#}"), Instant::now()));
                    }
                }
            }
        }
    }

    /// Keeps an edited layout in the layout file once the pointer is let go, as a job:
    /// one save at a time, the newest layout saved when the one before has answered.
    pub(super) fn save_layout_if_edited(&mut self, ui: &egui::Ui) {
        if !self.layout_dirty || self.layout_saving.is_some() || ui.input(|i| i.pointer.any_down())
        {
            return;
        }
        self.layout_dirty = false;
        let Some(path) = self.layout_file.clone() else {
            return;
        };
        let tree = self.tree.clone();
        self.layout_saving = Some(Instant::now());
        self.jobs.spawn(
            "switchboard-layout-autosave",
            move || {
                Answer::LayoutKept(
                    layout::save(&path, &tree)
                        .map_err(|e| format!("cannot save the layout: {e} ({})", path.display())),
                )
            },
            |why| Answer::LayoutKept(Err(format!("cannot save the layout: {why}"))),
        );
    }
}
