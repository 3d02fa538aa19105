//! Status bar: each source's status and freshness, what is being recorded, and the mode.

use switchboard_core::model::SourceStatus;

use super::PanelCtx;
use crate::theme::{self, format_age, source_style};

/// Draws the status bar. `recording` is the session file, `read_only` why actions are off.
pub fn status_bar_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    recording: Option<&str>,
    read_only: Option<&str>,
) {
    ui.horizontal(|ui| {
        if ctx.state.sources.is_empty() {
            ui.colored_label(theme::STALE, "waiting for the first report…");
        }
        for (name, s) in &ctx.state.sources {
            let (color, glyph, word) = source_style(s.status);
            let age = ctx.age_secs(s.last_event_at);
            let (r, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            theme::paint_glyph(ui.painter(), r.center(), 5.0, glyph, color);
            let text = match s.status {
                SourceStatus::Up => format!(
                    "{name} ({}) {word} · {} ago",
                    s.kind.as_str(),
                    format_age(age)
                ),
                _ => format!("{name} ({}) {word} {}", s.kind.as_str(), format_age(age)),
            };
            let label = ui.colored_label(
                if s.status == SourceStatus::Up {
                    ui.visuals().text_color()
                } else {
                    color
                },
                text,
            );
            if let Some(d) = &s.detail {
                label.on_hover_text(d);
            }
            ui.separator();
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if let Some(why) = read_only {
                ui.colored_label(theme::INFO, format!("READ-ONLY: {why}"));
            }
            match recording {
                Some(path) => ui.weak(format!("recording to {path}")),
                None => ui.weak("not recording"),
            };
        });
    });
}
