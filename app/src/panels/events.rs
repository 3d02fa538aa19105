//! Event log panel: the notable changes (flips, leader changes, health changes,
//! incidents, source status), newest first, filterable.

use egui::RichText;
use switchboard_core::Severity;

use super::PanelCtx;
use crate::theme::{self, clock_time};

/// Filter state of the log.
#[derive(Default)]
pub struct EventsView {
    /// Only entries whose subject or message contains this.
    pub filter: String,
    /// Hide routine entries.
    pub warnings_only: bool,
}

/// Draws the log.
pub fn events_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, view: &mut EventsView) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Event log").strong());
        ui.weak(format!("{} events applied", ctx.state.events_applied));
        let label = ui.label("filter");
        ui.add(
            egui::TextEdit::singleline(&mut view.filter)
                .hint_text("text")
                .desired_width(120.0),
        )
        .labelled_by(label.id);
        ui.checkbox(&mut view.warnings_only, "warnings only");
    });
    let needle = view.filter.to_lowercase();
    let rows: Vec<_> = ctx
        .state
        .log
        .iter()
        .rev()
        .filter(|e| !view.warnings_only || e.severity >= Severity::Warn)
        .filter(|e| {
            needle.is_empty()
                || e.subject.to_lowercase().contains(&needle)
                || e.message.to_lowercase().contains(&needle)
        })
        .collect();
    if rows.is_empty() {
        ui.weak("Nothing logged yet.");
        return;
    }
    let row_h = ui.text_style_height(&egui::TextStyle::Body) + 2.0;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show_rows(ui, row_h, rows.len(), |ui, range| {
            for e in &rows[range] {
                let (color, glyph, word) = theme::severity_style(e.severity);
                ui.horizontal(|ui| {
                    ui.monospace(clock_time(e.at));
                    let (r, _) =
                        ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                    theme::paint_glyph(ui.painter(), r.center(), 5.0, glyph, color);
                    ui.colored_label(color, word);
                    ui.label(RichText::new(&e.subject).strong());
                    ui.add(egui::Label::new(&e.message).truncate())
                        .on_hover_text(&e.message);
                });
            }
        });
}
