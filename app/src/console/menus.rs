//! The top bar: the console's kind (drill, replay, production), its relay, File, Layout (presets,
//! the operator's own layouts, the theme, the panes), Drill, the safety valve, the open
//! incident and the last message.

use std::time::Duration;

use egui::{Color32, RichText};
use switchboard_core::{DrillFault, Intent};

use super::{Console, Wall, env_color};
use crate::layout::{self, Pane};
use crate::panels::{self, FileCommand, LayoutCommand, PanelCtx, UiCommand};
use crate::theme;

/// A layout save taking longer than this is shown as under way.
const LAYOUT_SAVE_SLOW: Duration = Duration::from_millis(500);

impl Console {
    pub(super) fn top_bar_ui(&mut self, ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
        let state = ctx.state;
        if let Some(p) = &self.player {
            theme::strip(
                ui,
                theme::INFO,
                &format!(
                    "REPLAY · {} · recorded, read-only: nothing here can act on a real system",
                    p.file()
                ),
            );
        }
        let link = self.engine.relay_link();
        if let Some(link) = &link {
            panels::relay_lost_ui(ui, link, ctx.now);
        }
        if state.drill {
            theme::strip(
                ui,
                theme::DRILL,
                "DRILL · simulated fleet · nothing here touches a real system",
            );
        }
        // A game day injects a real fault: every screen of this console says so while
        // one runs, with the way out.
        for job in self
            .desk
            .as_deref()
            .map(switchboard_core::workflow::desk::Desk::jobs)
            .unwrap_or_default()
        {
            if job.kind == switchboard_core::workflow::Kind::Experiment
                && matches!(
                    job.phase,
                    switchboard_core::workflow::desk::Phase::Running(_)
                )
            {
                let waiting = job.control.waiting();
                theme::strip(
                    ui,
                    theme::WARN,
                    &format!(
                        "GAME DAY · experiment {} is running: its fault is real · STOP ALL ends it and undoes the fault{}",
                        job.target,
                        if waiting.is_empty() {
                            String::new()
                        } else {
                            format!(" · {waiting}")
                        }
                    ),
                );
            }
        }
        egui::MenuBar::new().ui(ui, |ui| {
            ui.label(RichText::new("SWITCHBOARD").strong());
            if self.look.production {
                theme::badge(
                    ui,
                    env_color(&self.look),
                    theme::Glyph::Triangle,
                    &format!("PRODUCTION · {}", self.engine.environment()),
                );
            } else if self.look.color.is_some() {
                ui.colored_label(
                    env_color(&self.look),
                    format!("env {}", self.engine.environment()),
                );
            } else {
                ui.weak(format!("env {}", self.engine.environment()));
            }
            if let Some(link) = &link {
                panels::relay_badge_ui(ui, link);
            }
            if self.wall != Wall::Off {
                ui.label(
                    RichText::new(" WALL · read-only ")
                        .strong()
                        .color(Color32::BLACK)
                        .background_color(theme::INFO),
                );
            }
            if let Some(r) = &self.rotation {
                ui.weak(r.label());
            }
            ui.menu_button("File", |ui| {
                if ui
                    .button("Export view as PNG (F12)")
                    .on_hover_text("The window as it is now, to the data directory's screenshots/")
                    .clicked()
                {
                    ctx.push(UiCommand::File(FileCommand::ExportPng));
                    ui.close();
                }
                if ui.button("Open session…").clicked() {
                    self.session_files.show_open(self.data_dir.as_deref());
                    ui.close();
                }
                if self.can_save_session() && ui.button("Save session…").clicked() {
                    self.session_files
                        .show_save(self.data_dir.as_deref(), ctx.now);
                    ui.close();
                }
            });
            ui.menu_button("Layout", |ui| {
                for name in layout::preset_names() {
                    if ui.button(format!("Preset: {name}")).clicked() {
                        ctx.push(UiCommand::Layout(LayoutCommand::Load(name.to_owned())));
                        ui.close();
                    }
                }
                self.own_layouts_menu(ui, ctx);
                ui.separator();
                let light = ui.ctx().theme() == egui::Theme::Light;
                let (next, word) = if light {
                    (egui::Theme::Dark, "Dark theme")
                } else {
                    (egui::Theme::Light, "Light theme")
                };
                if ui.button(word).clicked() {
                    ctx.push(UiCommand::Theme(next));
                    ui.close();
                }
                ui.separator();
                for pane in Pane::ALL {
                    if ui.button(format!("Show {}", pane.title())).clicked() {
                        ctx.push(UiCommand::Show(pane));
                        ui.close();
                    }
                }
            });
            if self.drill_faults(state) {
                ui.menu_button("Drill", |ui| {
                    for f in DrillFault::ALL {
                        if ui
                            .button(format!("Inject {}", f.as_str()))
                            .on_hover_text(f.description())
                            .clicked()
                        {
                            ctx.push(UiCommand::Intent(Intent::DrillInject { fault: f }));
                            ui.close();
                        }
                    }
                });
            }
            if ui.button("About").clicked() {
                self.show_about = !self.show_about;
            }
            if ui.button("Find (Ctrl+F)").clicked() {
                self.find.toggle();
            }
            if ui.button("Help (F1)").clicked() {
                self.show_help = !self.show_help;
            }
            if let Some(desk) = &self.desk {
                ui.separator();
                panels::valve_ui(ui, ctx, desk);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                match state.open_incident() {
                    Some(i) => {
                        // The stored incident's number and severity, when it is recorded.
                        let stored = self.notebook.as_ref().and_then(|nb| {
                            nb.shelf()
                                .incidents
                                .iter()
                                .find(|s| s.started_at == i.started_at && s.title == i.title)
                                .map(|s| (s.id, s.severity))
                        });
                        // Numbered as stored; the console's own number only without a
                        // store (the two count differently).
                        let (number, severity) = match stored {
                            Some((id, sev)) => (format!(" #{id}"), sev),
                            None if self.notebook.is_some() => (String::new(), i.severity()),
                            None => (format!(" #{}", i.id), i.severity()),
                        };
                        let text = format!(
                            "INCIDENT{number} · Sev{severity} · {} · open {}",
                            i.title,
                            theme::format_age(ctx.age_secs(i.detected_at))
                        );
                        let r = ui.add(
                            egui::Label::new(
                                RichText::new(text)
                                    .strong()
                                    .color(Color32::BLACK)
                                    .background_color(theme::BAD),
                            )
                            .sense(egui::Sense::click()),
                        );
                        if let Some((id, _)) = stored
                            && r.on_hover_text("Open its page").clicked()
                        {
                            ctx.push(UiCommand::Show(Pane::Incidents));
                            self.incidents.focus(id);
                        }
                    }
                    None => {
                        ui.colored_label(theme::GOOD, "no open incident");
                    }
                }
                // A layout save that takes long is said, never waited for.
                if self
                    .layout_saving
                    .is_some_and(|t| t.elapsed() >= LAYOUT_SAVE_SLOW)
                {
                    ui.weak("saving the layout…");
                }
                if let Some((msg, at)) = &self.message
                    && at.elapsed() < Duration::from_secs(8)
                {
                    // Cut to the room left beside the menus; the whole text on hover.
                    ui.add(egui::Label::new(RichText::new(msg).color(theme::WARN)).truncate())
                        .on_hover_text(msg);
                }
            });
        });
    }

    /// The operator's named layouts: load or remove one, save the one on screen.
    pub(super) fn own_layouts_menu(&mut self, ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
        if self.user_layouts().is_none() {
            return;
        }
        ui.separator();
        let mut chosen = None;
        let mut removed = None;
        for name in &self.own_layouts {
            ui.horizontal(|ui| {
                if ui.button(format!("Yours: {name}")).clicked() {
                    chosen = Some(name.clone());
                }
                if self.wall == Wall::Off
                    && ui
                        .small_button("remove")
                        .on_hover_text(format!("Remove your layout {name}"))
                        .clicked()
                {
                    removed = Some(name.clone());
                }
            });
        }
        if let Some(name) = removed {
            ctx.push(UiCommand::Layout(LayoutCommand::Remove(name)));
        }
        if let Some(name) = chosen {
            ctx.push(UiCommand::Layout(LayoutCommand::Load(name)));
            ui.close();
        }
        if self.wall != Wall::Off {
            return;
        }
        ui.horizontal(|ui| {
            let label = ui.label("Save as");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.layout_name)
                        .hint_text("name")
                        .desired_width(120.0),
                )
                .labelled_by(label.id);
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let check = layout::check_name(self.layout_name.trim());
            let save = ui.add_enabled(check.is_ok(), egui::Button::new("Save"));
            let save = match &check {
                Err(e) if !self.layout_name.is_empty() => save.on_disabled_hover_text(e),
                _ => save,
            };
            if save.clicked() || (enter && check.is_ok()) {
                let name = self.layout_name.trim().to_owned();
                ctx.push(UiCommand::Layout(LayoutCommand::SaveAs(name)));
                self.layout_name.clear();
                ui.close();
            }
        });
    }
}
