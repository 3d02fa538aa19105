//! Incidents panel: open and past incidents with detection time, MTTD and MTTR.

use egui::RichText;
use switchboard_core::Intent;

use super::{PanelCtx, UiCommand};
use crate::theme::{self, badge, clock_time, format_age};

/// Draws the incident list, newest first.
pub fn incidents_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
    let list = &ctx.state.incidents.incidents;
    ui.horizontal(|ui| {
        ui.label(RichText::new("Incidents").strong());
        ui.weak(format!(
            "{} · {} open",
            list.len(),
            list.iter().filter(|i| i.open()).count()
        ));
    });
    if list.is_empty() {
        ui.weak("No incident so far.");
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for i in list.iter().rev() {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal(|ui| {
                        if i.open() {
                            badge(ui, theme::BAD, theme::Glyph::Cross, "OPEN");
                        } else {
                            badge(ui, theme::GOOD, theme::Glyph::Circle, "RECOVERED");
                        }
                        ui.label(RichText::new(format!("#{} {}", i.id, i.title)).strong());
                    });
                    let mttr = i.mttr_millis().map_or_else(
                        || format!("open for {}", format_age(ctx.age_secs(i.detected_at))),
                        |m| format!("MTTR {}", format_age(m as f64 / 1000.0)),
                    );
                    ui.label(format!(
                        "detected {} UTC · MTTD {} · {mttr}",
                        clock_time(i.detected_at),
                        format_age(i.mttd_millis() as f64 / 1000.0)
                    ));
                    let subjects: Vec<String> =
                        i.subjects.iter().map(ToString::to_string).collect();
                    ui.weak(subjects.join(", "));
                    if let Some(f) = &i.fault {
                        ui.colored_label(theme::DRILL, format!("drill fault: {f}"));
                    }
                    match &i.acked_by {
                        Some(who) => {
                            ui.weak(format!("acknowledged by {who}"));
                        }
                        None if i.open()
                            && ui.button(format!("Acknowledge #{}", i.id)).clicked() =>
                        {
                            ctx.push(UiCommand::Intent(Intent::AckIncident { incident: i.id }));
                        }
                        None => {}
                    }
                });
            }
        });
}
