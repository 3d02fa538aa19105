//! Applying what a frame asked for: the commands panels and menus pushed, and the
//! palette's console commands, all in one place after the frame.

use std::time::Instant;

use switchboard_core::{Intent, Timestamp};

use super::{Console, Wall};
use crate::panels::{self, PanelCtx, UiCommand};
use crate::{layout, palette, png_export, theme};

impl Console {
    /// Replaces the layout with a preset or one of the operator's named layouts.
    pub fn apply_preset(&mut self, name: &str) {
        match layout::resolve(name, self.user_layouts().as_deref()) {
            Ok(tree) => {
                self.tree = tree;
                self.layout_dirty = true;
            }
            Err(e) => self.message = Some((e, Instant::now())),
        }
    }

    /// Saves the layout on screen as the operator's layout `name`.
    pub fn save_layout_as(&mut self, name: &str) -> Result<(), String> {
        let dir = self
            .user_layouts()
            .ok_or("layouts are saved in the data directory, and this console has none")?;
        layout::save_named(&dir, name, &self.tree)?;
        if !self.own_layouts.iter().any(|n| n == name) {
            self.own_layouts.push(name.to_owned());
            self.own_layouts.sort();
        }
        self.message = Some((format!("layout saved as {name}"), Instant::now()));
        Ok(())
    }
    /// Carries out a console command picked in the palette.
    pub(super) fn run_palette(
        &mut self,
        egui_ctx: &egui::Context,
        ctx: &PanelCtx<'_>,
        cmd: palette::PaletteCmd,
    ) {
        use palette::PaletteCmd as P;
        match cmd {
            P::Show(pane) => ctx.push(UiCommand::Show(pane)),
            P::Layout(name) => self.apply_preset(&name),
            P::Theme(t) => self.set_theme(t),
            P::ExportPng => self.export_png(egui_ctx, ctx.now),
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

    /// Switches the theme (at the next frame) and keeps the choice for the next start.
    pub(super) fn set_theme(&mut self, theme: egui::Theme) {
        self.theme = Some(theme);
        if let Some(dir) = &self.data_dir
            && let Err(e) = theme::save_choice(dir, theme)
        {
            self.message = Some((e, Instant::now()));
        }
    }

    /// Writes the next frame to a PNG in the data directory (else the temp directory).
    pub(super) fn export_png(&self, ctx: &egui::Context, now: Timestamp) {
        let dir = self.data_dir.clone().unwrap_or_else(std::env::temp_dir);
        let path = png_export::default_path(&dir, self.engine.environment(), now);
        self.png.request(ctx, path);
    }

    /// Applies the commands pushed during the frame, in the order they came: the one
    /// place where what a frame asked for takes effect.
    pub(super) fn apply_commands(
        &mut self,
        commands: Vec<UiCommand>,
        now: Timestamp,
        selected: Option<&str>,
    ) {
        for cmd in commands {
            match cmd {
                UiCommand::Show(pane) => {
                    layout::show_pane(&mut self.tree, pane);
                    self.layout_dirty = true;
                }
                UiCommand::QuickNote => match &mut self.notebook {
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
                UiCommand::Plan(kind, target) => match &self.desk {
                    Some(desk) => panels::start_plan(desk, &mut self.workflows, kind, &target),
                    None => {
                        self.message =
                            Some(("this console cannot run workflows".into(), Instant::now()));
                    }
                },
                UiCommand::Palette => {
                    panels::open_palette(self.desk.as_ref(), &mut self.workflows);
                }
                UiCommand::Intent(i) => {
                    if let Err(e) = self.engine.send(i) {
                        self.message = Some((format!("{e:#}"), Instant::now()));
                    }
                }
            }
        }
    }

    /// Keeps an edited layout in the layout file once the pointer is let go.
    pub(super) fn save_layout_if_edited(&mut self, ui: &egui::Ui) {
        if self.layout_dirty && !ui.input(|i| i.pointer.any_down()) {
            self.layout_dirty = false;
            if let Some(path) = &self.layout_file
                && let Err(e) = layout::save(path, &self.tree)
            {
                self.message = Some((
                    format!("cannot save the layout: {e} ({})", path.display()),
                    Instant::now(),
                ));
            }
        }
    }
}
