//! Incidents panel.
//!
//! With the incident store (a data directory): the stored incidents, newest first, and
//! the focused incident's page ([`page`]): severity (set by hand), status, MTTD/MTTR,
//! the RTO countdown, the cost ticker (an estimate), what it hit, a drawn time axis
//! with the timeline's entries and the notes as markers, then the timeline itself
//! (star, hide) interleaved with the notes. Search covers the notes (full text) and
//! the titles. The note editor and the postmortem export are windows of their own
//! ([`note_editor`]).
//!
//! Without a store (replay, no data directory): the console's own incidents, live.
//!
//! Everything the store should do is pushed as a [`UiCommand::Notebook`] request and
//! sent after the frame; the panel reads the store's published shelf.

mod note_editor;
mod page;

use std::path::PathBuf;

use egui::{Color32, RichText};
use egui_commonmark::CommonMarkCache;
use switchboard_core::Intent;

pub use self::note_editor::note_windows_ui;
use self::note_editor::{ExportForm, NoteEditor};
use self::page::page_ui;
use super::{PanelCtx, UiCommand};
use crate::notebook::{Notebook, Request, Shelf};
use crate::theme::{self, Glyph, badge, clock_time, format_age};

/// The incidents panel's state.
#[derive(Default)]
pub struct IncidentsView {
    focus: Option<i64>,
    /// The focus last told to the store (and whether it was told at all).
    sent_focus: (bool, Option<i64>),
    query: String,
    sent_query: String,
    /// The store refused the search: ask again.
    resend_search: bool,
    show_hidden: bool,
    starred_only: bool,
    new_title: Option<(String, u8)>,
    editor: Option<NoteEditor>,
    export: Option<ExportForm>,
    cache: CommonMarkCache,
    export_dir: Option<PathBuf>,
}

impl IncidentsView {
    /// Exports go to this directory by default.
    pub fn set_export_dir(&mut self, dir: Option<PathBuf>) {
        self.export_dir = dir;
    }

    /// The store did not take the focus or the search (it is behind): both are asked
    /// for again at the next frame.
    pub fn resend_view(&mut self) {
        self.sent_focus = (false, None);
        self.resend_search = true;
    }

    /// Shows incident `id`'s page.
    pub fn focus(&mut self, id: i64) {
        self.focus = Some(id);
        self.query.clear();
    }
}

fn severity_color(s: u8) -> Color32 {
    match s {
        0 => theme::BAD,
        1 => theme::SPLIT,
        2 => theme::WARN,
        _ => theme::INFO,
    }
}

pub(super) fn status_color(s: &str) -> Color32 {
    match s {
        "resolved" => theme::GOOD,
        "mitigated" => theme::WARN,
        _ => theme::BAD,
    }
}

/// The incidents panel.
pub fn incidents_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    view: &mut IncidentsView,
    notebook: Option<&Notebook>,
) {
    let Some(nb) = notebook else {
        live_incidents_ui(ui, ctx);
        return;
    };
    let shelf = nb.shelf();
    if view.sent_focus != (true, view.focus) {
        view.sent_focus = (true, view.focus);
        ctx.push(UiCommand::Notebook(Request::Focus(view.focus)));
    }
    if let Some(opened) = shelf.opened
        && view.focus.is_none()
    {
        view.focus = Some(opened);
    }
    toolbar_ui(ui, ctx, view, nb, &shelf);
    if let Some(why) = &shelf.unavailable {
        ui.colored_label(
            theme::BAD,
            format!("The notes database cannot be used: {why}"),
        );
    }
    if let Some(aside) = &shelf.recovered {
        ui.colored_label(
            theme::WARN,
            format!(
                "The notes database was corrupt: it was moved aside to {} and a fresh one was made.",
                aside.display()
            ),
        );
    }
    if let Some(Err(e)) = &shelf.outcome {
        ui.colored_label(theme::BAD, e);
    }
    ui.separator();
    if !view.query.trim().is_empty() {
        search_ui(ui, view, &shelf);
        return;
    }
    if shelf.incidents.is_empty() {
        ui.weak("No incident recorded. The console opens one when it detects a problem; “New incident…” opens one by hand.");
        return;
    }
    let wide = ui.available_width() >= 720.0;
    if wide {
        // The list on the left, the page on the right, each in its own rectangle.
        let full = ui.available_rect_before_wrap();
        let list_w = (full.width() * 0.3).clamp(220.0, 300.0);
        let list_rect = egui::Rect::from_min_size(full.min, egui::vec2(list_w, full.height()));
        let page_rect =
            egui::Rect::from_min_max(egui::pos2(full.min.x + list_w + 10.0, full.min.y), full.max);
        ui.scope_builder(egui::UiBuilder::new().max_rect(list_rect), |ui| {
            list_ui(ui, ctx, view, &shelf);
        });
        ui.painter().vline(
            full.min.x + list_w + 5.0,
            full.y_range(),
            ui.visuals().widgets.noninteractive.bg_stroke,
        );
        ui.scope_builder(egui::UiBuilder::new().max_rect(page_rect), |ui| {
            page_ui(ui, ctx, view, nb, &shelf);
        });
        ui.allocate_rect(full, egui::Sense::hover());
    } else {
        ui.horizontal(|ui| {
            ui.label("Incident");
            let current = shelf
                .page
                .incident
                .as_ref()
                .map_or_else(String::new, |i| format!("#{} {}", i.id, i.title));
            egui::ComboBox::from_id_salt("incident-pick")
                .selected_text(current)
                .width(ui.available_width() - 10.0)
                .show_ui(ui, |ui| {
                    for i in &shelf.incidents {
                        if ui
                            .selectable_label(
                                view.focus == Some(i.id),
                                format!("Sev{} #{} {}", i.severity, i.id, i.title),
                            )
                            .clicked()
                        {
                            view.focus = Some(i.id);
                        }
                    }
                });
        });
        page_ui(ui, ctx, view, nb, &shelf);
    }
}

fn toolbar_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    view: &mut IncidentsView,
    nb: &Notebook,
    shelf: &Shelf,
) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Incidents").strong());
        let open = shelf
            .incidents
            .iter()
            .filter(|i| i.status != "resolved")
            .count();
        ui.weak(format!("{} · {open} open", shelf.incidents.len()));
        ui.separator();
        let label = ui.label("Search");
        let search = ui
            .add(
                egui::TextEdit::singleline(&mut view.query)
                    .hint_text("notes and titles")
                    .desired_width(220.0),
            )
            .labelled_by(label.id);
        let resend = std::mem::take(&mut view.resend_search);
        if resend || search.changed() || view.query != view.sent_query {
            view.sent_query.clone_from(&view.query);
            ctx.push(UiCommand::Notebook(Request::Search(view.query.clone())));
        }
        if !view.query.is_empty() && ui.small_button("Clear").clicked() {
            view.query.clear();
        }
        ui.separator();
        if ui.button("New incident…").clicked() {
            view.new_title = Some((String::new(), 2));
        }
        if ui
            .button("Note (Ctrl+N)")
            .on_hover_text("A note pinned to now and to the selected thing")
            .clicked()
        {
            view.quick_note(nb, ctx.now, ctx.selected.map(str::to_owned));
        }
    });
    let mut close = false;
    if let Some((title, sev)) = &mut view.new_title {
        ui.horizontal(|ui| {
            let label = ui.label("Title");
            let r = ui
                .add(egui::TextEdit::singleline(title).desired_width(300.0))
                .labelled_by(label.id);
            if ui.memory(|m| m.focused().is_none()) {
                r.request_focus();
            }
            severity_combo(ui, "new-severity", sev);
            let ok = !title.trim().is_empty();
            if ui.add_enabled(ok, egui::Button::new("Open")).clicked()
                || (ok && r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)))
            {
                ctx.push(UiCommand::Notebook(Request::Open {
                    title: title.trim().to_owned(),
                    severity: *sev,
                    at: ctx.now,
                }));
                view.focus = None;
                close = true;
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
    }
    if close {
        view.new_title = None;
    }
}

pub(super) fn severity_combo(ui: &mut egui::Ui, id: &str, sev: &mut u8) -> bool {
    let before = *sev;
    egui::ComboBox::from_id_salt(id)
        .selected_text(RichText::new(format!("Sev{sev}")).color(severity_color(*sev)))
        .width(70.0)
        .show_ui(ui, |ui| {
            for s in 0..=3u8 {
                ui.selectable_value(sev, s, format!("Sev{s}"));
            }
        });
    *sev != before
}

fn list_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, view: &mut IncidentsView, shelf: &Shelf) {
    egui::ScrollArea::vertical()
        .id_salt("incident-list-scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let focused = shelf.page.incident.as_ref().map(|i| i.id);
            for i in &shelf.incidents {
                let selected = focused == Some(i.id);
                let r = egui::Frame::group(ui.style())
                    .fill(if selected {
                        ui.visuals().selection.bg_fill.gamma_multiply(0.35)
                    } else {
                        Color32::TRANSPARENT
                    })
                    .show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.horizontal(|ui| {
                            ui.label(
                                RichText::new(format!("Sev{}", i.severity))
                                    .strong()
                                    .color(severity_color(i.severity)),
                            );
                            ui.add(
                                egui::Label::new(
                                    RichText::new(format!("#{} {}", i.id, i.title)).strong(),
                                )
                                .truncate(),
                            );
                        });
                        ui.horizontal(|ui| {
                            ui.colored_label(status_color(&i.status), i.status.to_uppercase());
                            let age = match i.resolved_at {
                                Some(_) => format!(
                                    "down {}",
                                    format_age(i.downtime_millis(ctx.now) as f64 / 1000.0)
                                ),
                                None => format!("open {}", format_age(ctx.age_secs(i.started_at))),
                            };
                            ui.weak(format!("{} · {age}", clock_time(i.started_at)));
                        });
                    })
                    .response
                    .interact(egui::Sense::click());
                if r.clicked() {
                    view.focus = Some(i.id);
                }
            }
        });
}

fn search_ui(ui: &mut egui::Ui, view: &mut IncidentsView, shelf: &Shelf) {
    let Some((q, notes, titles)) = &shelf.search else {
        ui.weak("Searching…");
        return;
    };
    if q.trim() != view.query.trim() {
        ui.weak("Searching…");
    }
    egui::ScrollArea::vertical()
        .id_salt("incident-search")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.label(
                RichText::new(format!(
                    "Incidents whose title matches “{q}”: {}",
                    titles.len()
                ))
                .strong(),
            );
            for i in titles {
                if ui
                    .link(format!(
                        "Sev{} #{} {} [{}]",
                        i.severity, i.id, i.title, i.status
                    ))
                    .clicked()
                {
                    view.focus = Some(i.id);
                    view.query.clear();
                }
            }
            ui.add_space(6.0);
            ui.label(RichText::new(format!("Notes matching “{q}”: {}", notes.len())).strong());
            for n in notes {
                ui.horizontal_wrapped(|ui| {
                    ui.weak(format!(
                        "{} {}",
                        n.pinned_at.to_rfc3339().get(..10).unwrap_or_default(),
                        clock_time(n.pinned_at)
                    ));
                    ui.label(RichText::new(&n.author).strong());
                    let first = n.body.lines().next().unwrap_or_default();
                    match n.incident {
                        Some(id) => {
                            if ui.link(format!("incident #{id}")).clicked() {
                                view.focus = Some(id);
                                view.query.clear();
                            }
                        }
                        None => {
                            ui.weak("no incident");
                        }
                    }
                    ui.label(format!("found in note #{}: {first}", n.id));
                });
            }
        });
}

/// The console's own incidents, live (no store: replay, or no data directory).
fn live_incidents_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
    let list = &ctx.state.incidents.incidents;
    ui.horizontal(|ui| {
        ui.label(RichText::new("Incidents").strong());
        ui.weak(format!(
            "{} · {} open",
            list.len(),
            list.iter().filter(|i| i.open()).count()
        ));
        // Ids run in sequence and only the oldest resolved ones are let go.
        let older = list.first().map_or(0, |i| i.id.saturating_sub(1));
        if older > 0 {
            ui.weak(format!("· {older} older ones not kept in memory"));
        }
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
                            badge(ui, theme::BAD, Glyph::Cross, "OPEN");
                        } else {
                            badge(ui, theme::GOOD, Glyph::Circle, "RECOVERED");
                        }
                        ui.label(
                            RichText::new(format!("Sev{}", i.severity()))
                                .strong()
                                .color(severity_color(i.severity())),
                        );
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
                    ui.weak(i.impact());
                    if let Some(f) = &i.fault {
                        ui.colored_label(theme::DRILL, format!("drill fault: {f}"));
                    }
                    match &i.acked_by {
                        Some(who) => {
                            ui.weak(format!("acknowledged by {who}"));
                        }
                        None if i.open()
                            && !ctx.read_only
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
