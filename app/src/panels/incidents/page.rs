//! An incident's page: its figures (MTTD, MTTR, the RTO countdown, the cost ticker),
//! what it hit, a drawn time axis with the timeline's entries and the notes as
//! markers, and the timeline itself (star, hide) interleaved with the notes.

use std::path::PathBuf;

use egui::{Color32, RichText};
use egui_commonmark::CommonMarkViewer;
use switchboard_core::store::{IncidentRow, NoteRow, TimelineEntry, clock, money};
use switchboard_core::{Intent, Timestamp};

use super::note_editor::ExportForm;
use super::{IncidentsView, severity_combo, status_color};
use crate::notebook::{Notebook, Request, Shelf};
use crate::panels::{FileField, PanelCtx, UiCommand};
use crate::theme::{self, Glyph, badge, clock_time, format_age};

pub(super) fn page_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    view: &mut IncidentsView,
    nb: &Notebook,
    shelf: &Shelf,
) {
    let Some(i) = &shelf.page.incident else {
        return;
    };
    ui.horizontal(|ui| {
        ui.heading(format!("#{} {}", i.id, i.title));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("Export…").clicked() {
                let dir = view
                    .export_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("."));
                view.export = Some(ExportForm {
                    incident: i.id,
                    file: FileField::new(
                        dir.join(format!("incident-{}-postmortem.md", i.id))
                            .display()
                            .to_string(),
                        true,
                    ),
                    json: false,
                });
            }
        });
    });
    ui.horizontal(|ui| {
        let mut sev = i.severity;
        if severity_combo(ui, "page-severity", &mut sev) {
            ctx.push(UiCommand::Notebook(Request::Severity(i.id, sev, ctx.now)));
        }
        if !i.severity_by_hand && i.origin == "detected" {
            ui.weak("(from what it hit)");
        }
        badge(
            ui,
            status_color(&i.status),
            if i.status == "resolved" {
                Glyph::Circle
            } else {
                Glyph::Cross
            },
            &i.status.to_uppercase(),
        );
        if i.status == "triage" && ui.button("Mitigated").clicked() {
            ctx.push(UiCommand::Notebook(Request::Status(
                i.id,
                "mitigated",
                ctx.now,
            )));
        }
        if i.status != "resolved" && ui.button("Resolved").clicked() {
            ctx.push(UiCommand::Notebook(Request::Status(
                i.id, "resolved", ctx.now,
            )));
        }
        ui.weak(format!("{} · {}", i.environment, i.origin));
        // The console's own incident: acknowledge it (on-call paging), once.
        if let Some(live) = ctx.state.open_incident()
            && live.started_at == i.started_at
            && live.title == i.title
        {
            match &live.acked_by {
                Some(who) => {
                    ui.weak(format!("acknowledged by {who}"));
                }
                None if ctx.read_only => {}
                None => {
                    if ui.button(format!("Acknowledge #{}", live.id)).clicked() {
                        ctx.push(UiCommand::Intent(Intent::AckIncident { incident: live.id }));
                    }
                }
            }
        }
    });
    figures_ui(ui, ctx, i);
    if !i.impact.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Hit:").strong());
            ui.label(&i.impact);
        });
    }
    ui.add_space(4.0);
    axis_ui(
        ui,
        ctx,
        i,
        &shelf.page.timeline,
        &shelf.page.notes,
        view.show_hidden,
    );
    ui.add_space(4.0);
    let hidden = shelf.page.timeline.iter().filter(|e| e.hidden).count();
    ui.horizontal(|ui| {
        ui.label(RichText::new("Timeline").strong());
        ui.weak(format!(
            "{} entries · {} notes · {} workflow runs",
            shelf.page.timeline.len(),
            shelf.page.notes.len(),
            shelf.page.actions.len()
        ));
        ui.checkbox(&mut view.starred_only, "starred, workflows and notes only");
        if hidden > 0 {
            ui.checkbox(&mut view.show_hidden, format!("show {hidden} hidden"));
        }
    });
    timeline_ui(ui, ctx, view, nb, shelf);
}

/// MTTD, MTTR, the RTO countdown, the RPO target and the cost ticker.
fn figures_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, i: &IncidentRow) {
    ui.horizontal_wrapped(|ui| {
        let secs =
            |ms: Option<i64>| ms.map_or_else(|| "–".into(), |m| format_age(m as f64 / 1000.0));
        ui.label(format!("started {} UTC", clock_time(i.started_at)));
        ui.label(format!("MTTD {}", secs(i.mttd_millis())));
        match i.mttr_millis() {
            Some(m) => ui.label(format!("MTTR {}", format_age(m as f64 / 1000.0))),
            None => ui.label(format!(
                "open {}",
                format_age(i.downtime_millis(ctx.now) as f64 / 1000.0)
            )),
        };
    });
    ui.horizontal_wrapped(|ui| {
        if let (Some(rto), Some(status)) = (i.objectives.rto_secs, i.rto(ctx.now)) {
            let color = if status.missed() {
                theme::BAD
            } else if matches!(status, switchboard_core::store::RtoStatus::Left(s) if s < 120) {
                theme::WARN
            } else {
                theme::GOOD
            };
            theme::chip(
                ui,
                color,
                Glyph::Circle,
                &format!(
                    "RTO {}: {}",
                    clock(i64::try_from(rto).unwrap_or(i64::MAX)),
                    status.describe()
                ),
            );
        }
        if let Some(rpo) = i.objectives.rpo_secs {
            ui.label(format!(
                "RPO target {}",
                clock(i64::try_from(rpo).unwrap_or(i64::MAX))
            ))
            .on_hover_text(
                "The most data, as its age, that may be lost. The console does not measure data loss.",
            );
        }
        if let Some(c) = i.cost(ctx.now) {
            ui.label(
                RichText::new(format!("cost ≈ {}", money(&c.currency, c.amount)))
                    .strong()
                    .color(theme::WARN),
            )
            .on_hover_text(format!(
                "(MTTD + MTTR) × transaction rate × average value: {}",
                c.describe()
            ));
            ui.weak("estimate");
        }
    });
}

/// A drawn time axis from a minute before the start to the resolution (or now), with
/// the timeline's entries and the notes as markers; hover one to read it.
fn axis_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    i: &IncidentRow,
    timeline: &[TimelineEntry],
    notes: &[NoteRow],
    show_hidden: bool,
) {
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(ui.available_width(), 60.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let from = i.started_at.0 - 60_000;
    let to = i.resolved_at.unwrap_or(ctx.now).0.max(from + 1_000);
    let left = rect.left() + 8.0;
    let right = rect.right() - 8.0;
    let x =
        |t: i64| left + (right - left) * ((t - from) as f32 / (to - from) as f32).clamp(0.0, 1.0);
    let y = rect.bottom() - 18.0;
    let line = ui.visuals().weak_text_color();
    painter.line_segment(
        [egui::pos2(left, y), egui::pos2(right, y)],
        egui::Stroke::new(1.0, line),
    );
    let font = egui::FontId::proportional(11.0);
    let mut placed: Vec<f32> = Vec::new();
    for (label, t, color) in [
        ("start", Some(i.started_at), theme::BAD),
        ("detected", i.detected_at, theme::WARN),
        ("mitigated", i.mitigated_at, theme::WARN),
        ("resolved", i.resolved_at, theme::GOOD),
    ] {
        if let Some(t) = t {
            let px = x(t.0);
            // Labels of moments close together step down instead of overlapping.
            let row = placed.iter().filter(|p| (**p - px).abs() < 60.0).count();
            placed.push(px);
            painter.line_segment(
                [
                    egui::pos2(px, rect.top() + 12.0),
                    egui::pos2(px, rect.bottom()),
                ],
                egui::Stroke::new(1.5, color),
            );
            // Near the right end, the label goes to the line's left.
            let (lx, align) = if px > right - 70.0 {
                (px - 2.0, egui::Align2::RIGHT_TOP)
            } else {
                (px + 2.0, egui::Align2::LEFT_TOP)
            };
            painter.text(
                egui::pos2(lx, rect.top() + 11.0 * row as f32),
                align,
                label,
                font.clone(),
                color,
            );
        }
    }
    // Markers: (x, glyph, colour, text).
    let mut marks: Vec<(f32, Glyph, Color32, String)> = timeline
        .iter()
        .filter(|e| show_hidden || !e.hidden)
        .map(|e| {
            let (glyph, color) = match e.kind.as_str() {
                "workflow" => (Glyph::Diamond, theme::INFO),
                "severity" => (Glyph::Triangle, theme::BAD),
                _ => (Glyph::Circle, theme::STALE),
            };
            (
                x(e.at.0),
                glyph,
                if e.starred { theme::DRILL } else { color },
                format!(
                    "{} {} · {}: {}",
                    clock_time(e.at),
                    e.kind,
                    e.subject,
                    e.text
                ),
            )
        })
        .collect();
    marks.extend(notes.iter().map(|n| {
        (
            x(n.pinned_at.0),
            Glyph::Ring,
            theme::GOOD,
            format!(
                "{} note by {}: {}",
                clock_time(n.pinned_at),
                n.author,
                n.body
            ),
        )
    }));
    for (px, glyph, color, _) in &marks {
        theme::paint_glyph(&painter, egui::pos2(*px, y), 5.0, *glyph, *color);
    }
    painter.text(
        egui::pos2(left, rect.bottom()),
        egui::Align2::LEFT_BOTTOM,
        clock_time(Timestamp(from)),
        font.clone(),
        line,
    );
    painter.text(
        egui::pos2(right, rect.bottom()),
        egui::Align2::RIGHT_BOTTOM,
        clock_time(Timestamp(to)),
        font,
        line,
    );
    if let Some(p) = response.hover_pos()
        && let Some((_, _, _, text)) = marks
            .iter()
            .filter(|m| (m.0 - p.x).abs() < 6.0)
            .min_by(|a, b| (a.0 - p.x).abs().total_cmp(&(b.0 - p.x).abs()))
    {
        response.on_hover_text(text.clone());
    }
}

enum Row<'a> {
    Entry(&'a TimelineEntry),
    Note(&'a NoteRow),
}

fn timeline_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    view: &mut IncidentsView,
    nb: &Notebook,
    shelf: &Shelf,
) {
    let mut rows: Vec<(i64, Row<'_>)> = shelf
        .page
        .timeline
        .iter()
        .filter(|e| view.show_hidden || !e.hidden)
        .filter(|e| !view.starred_only || e.starred || e.kind != "event")
        .map(|e| (e.at.0, Row::Entry(e)))
        .collect();
    rows.extend(
        shelf
            .page
            .notes
            .iter()
            .map(|n| (n.pinned_at.0, Row::Note(n))),
    );
    rows.sort_by_key(|(at, _)| *at);
    if rows.is_empty() {
        ui.weak("Nothing on the timeline yet.");
        return;
    }
    let mut edit = None;
    egui::ScrollArea::vertical()
        .id_salt("incident-timeline")
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .show(ui, |ui| {
            for (_, row) in &rows {
                match row {
                    Row::Entry(e) => {
                        ui.horizontal_wrapped(|ui| {
                            ui.weak(clock_time(e.at));
                            let star = if e.starred {
                                RichText::new("starred").color(theme::DRILL)
                            } else {
                                RichText::new("star")
                            };
                            if ui
                                .small_button(star)
                                .on_hover_text(if e.starred {
                                    "Unstar"
                                } else {
                                    "Star: it matters"
                                })
                                .clicked()
                            {
                                ctx.push(UiCommand::Notebook(Request::Mark {
                                    entry: e.id,
                                    starred: !e.starred,
                                    hidden: e.hidden,
                                }));
                            }
                            let hide = if e.hidden { "show" } else { "hide" };
                            if ui.small_button(hide).clicked() {
                                ctx.push(UiCommand::Notebook(Request::Mark {
                                    entry: e.id,
                                    starred: e.starred,
                                    hidden: !e.hidden,
                                }));
                            }
                            let color = match e.kind.as_str() {
                                "workflow" => theme::INFO,
                                "severity" => theme::BAD,
                                _ => ui.visuals().weak_text_color(),
                            };
                            ui.colored_label(color, &e.kind);
                            ui.label(RichText::new(&e.subject).strong());
                            let text = RichText::new(&e.text);
                            ui.label(if e.hidden {
                                text.weak().strikethrough()
                            } else {
                                text
                            });
                        });
                    }
                    Row::Note(n) => {
                        egui::Frame::group(ui.style())
                            .stroke(egui::Stroke::new(1.0, theme::GOOD.gamma_multiply(0.6)))
                            .show(ui, |ui| {
                                ui.set_width(ui.available_width());
                                ui.horizontal(|ui| {
                                    ui.weak(clock_time(n.pinned_at));
                                    ui.colored_label(theme::GOOD, "note");
                                    ui.label(RichText::new(&n.author).strong());
                                    if n.pending {
                                        ui.colored_label(theme::WARN, "pending")
                                            .on_hover_text("Kept on this console; sent to the relay when it is back");
                                    }
                                    if let Some(e) = &n.entity {
                                        ui.weak(format!("about {e}"));
                                    }
                                    if n.edited_at != n.created_at {
                                        ui.weak(format!("edited {}", clock_time(n.edited_at)));
                                    }
                                    if ui.small_button("Edit").clicked() {
                                        edit = Some((*n).clone());
                                    }
                                });
                                CommonMarkViewer::new().show(ui, &mut view.cache, &n.body);
                            });
                    }
                }
            }
        });
    if let Some(n) = edit {
        view.edit_note(nb, &n);
    }
}
