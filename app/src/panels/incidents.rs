//! Incidents panel and the note editor.
//!
//! With the incident store (a data directory): the stored incidents, newest first, and
//! the focused incident's page: severity (set by hand), status, MTTD/MTTR, the RTO
//! countdown, the cost ticker (an estimate), what it hit, a drawn time axis with the
//! timeline's entries and the notes as markers, then the timeline itself (star, hide)
//! interleaved with the notes. Search covers the notes (full text) and the titles.
//!
//! The note editor is a window of its own (Ctrl+N pins a note to the selected thing
//! and the moment the key was pressed): Markdown on the left, its preview on the
//! right, autosaved as you type. A save that fails keeps the text in the editor, says
//! why, and is tried again.
//!
//! Without a store (replay, no data directory): the console's own incidents, live.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::{Color32, RichText};
use egui_commonmark::{CommonMarkCache, CommonMarkViewer};
use switchboard_core::store::{IncidentRow, NoteRow, TimelineEntry, clock, money};
use switchboard_core::{Intent, Timestamp};

use super::{PanelCtx, UiCommand};
use crate::notebook::{Draft, Notebook, Request, SaveState, Shelf};
use crate::theme::{self, Glyph, badge, clock_time, format_age};

/// The editor autosaves once typing pauses this long (and at least this often).
const AUTOSAVE_AFTER: Duration = Duration::from_millis(400);
/// A failed save is tried again this often.
const RETRY_AFTER: Duration = Duration::from_secs(3);

/// The note being written.
pub struct NoteEditor {
    draft: u64,
    existing: Option<i64>,
    incident: Option<i64>,
    entity: Option<String>,
    pinned_at: Timestamp,
    text: String,
    /// The text last sent to the store, and when.
    sent: Option<(String, Instant)>,
    changed_at: Option<Instant>,
    focus: bool,
}

impl NoteEditor {
    fn saved<'a>(&self, published: &'a Shelf) -> Option<&'a SaveState> {
        published.saves.get(&self.draft)
    }

    /// Whether the text on screen is on disk.
    fn is_saved(&self, published: &Shelf) -> bool {
        self.text.trim().is_empty() && self.existing.is_none()
            || matches!(self.saved(published), Some(SaveState::Saved(_, t, _)) if *t == self.text)
    }
}

/// Where the export's file goes.
#[derive(Default)]
struct ExportForm {
    incident: i64,
    file: super::FileField,
    json: bool,
}

/// The incidents panel's state.
#[derive(Default)]
pub struct IncidentsView {
    focus: Option<i64>,
    /// The focus last told to the store (and whether it was told at all).
    sent_focus: (bool, Option<i64>),
    query: String,
    sent_query: String,
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

    /// Shows incident `id`'s page.
    pub fn focus(&mut self, id: i64) {
        self.focus = Some(id);
        self.query.clear();
    }

    /// What the export form's file dialog answered.
    pub fn chosen(&mut self, file: Option<PathBuf>) {
        if let Some(form) = &mut self.export {
            form.file.chosen(file);
        }
    }

    /// The text in the note editor, if one is open.
    pub fn editor_text(&self) -> Option<&str> {
        self.editor.as_ref().map(|e| e.text.as_str())
    }

    /// Opens the editor for a new note pinned to `at`, about `entity`, on the open
    /// incident (or the focused one).
    pub fn quick_note(&mut self, notebook: &Notebook, at: Timestamp, entity: Option<String>) {
        if self.editor.is_some() {
            if let Some(e) = &mut self.editor {
                e.focus = true;
            }
            return;
        }
        let published = notebook.shelf();
        let incident = published
            .incidents
            .iter()
            .find(|i| i.status != "resolved")
            .or_else(|| published.page.incident.as_ref())
            .map(|i| i.id);
        self.editor = Some(NoteEditor {
            draft: notebook.new_draft(),
            existing: None,
            incident,
            entity,
            pinned_at: at,
            text: String::new(),
            sent: None,
            changed_at: None,
            focus: true,
        });
    }

    fn edit_note(&mut self, notebook: &Notebook, n: &NoteRow) {
        if self.editor.is_some() {
            return;
        }
        self.editor = Some(NoteEditor {
            draft: notebook.new_draft(),
            existing: Some(n.id),
            incident: n.incident,
            entity: n.entity.clone(),
            pinned_at: n.pinned_at,
            text: n.body.clone(),
            sent: Some((n.body.clone(), Instant::now())),
            changed_at: None,
            focus: true,
        });
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

fn status_color(s: &str) -> Color32 {
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
        if search.changed() || view.query != view.sent_query {
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

fn severity_combo(ui: &mut egui::Ui, id: &str, sev: &mut u8) -> bool {
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

fn page_ui(
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
                    file: super::FileField::new(
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

/// The note editor window (when one is open) and the export window: drawn by the
/// console every frame, whichever panels are shown.
pub fn note_windows_ui(
    ctx: &egui::Context,
    area: egui::Rect,
    pctx: &PanelCtx<'_>,
    view: &mut IncidentsView,
    nb: &Notebook,
) {
    let shelf = nb.shelf();
    editor_window_ui(ctx, area, pctx, view, &shelf);
    export_window_ui(ctx, area, pctx, view, &shelf);
}

fn editor_window_ui(
    ctx: &egui::Context,
    area: egui::Rect,
    pctx: &PanelCtx<'_>,
    view: &mut IncidentsView,
    shelf: &Shelf,
) {
    let Some(ed) = &mut view.editor else {
        return;
    };
    // Autosave: once typing pauses, and at least every so often while it goes on; a
    // failed save again after a while.
    let failed = matches!(ed.saved(shelf), Some(SaveState::Failed(t, _)) if *t == ed.text);
    let due = match (&ed.sent, ed.changed_at) {
        (Some((t, _)), _) if *t == ed.text && !failed => false,
        (Some((_, at)), _) if failed => at.elapsed() >= RETRY_AFTER,
        (_, Some(c)) => {
            c.elapsed() >= AUTOSAVE_AFTER
                || ed
                    .sent
                    .as_ref()
                    .is_some_and(|(_, at)| at.elapsed() >= AUTOSAVE_AFTER * 5)
        }
        _ => false,
    };
    if due && !(ed.text.trim().is_empty() && ed.existing.is_none()) {
        pctx.push(UiCommand::Notebook(Request::Save(
            Draft {
                id: ed.draft,
                existing: ed.existing,
                incident: ed.incident,
                entity: ed.entity.clone(),
                pinned_at: ed.pinned_at,
                body: ed.text.clone(),
            },
            pctx.now,
        )));
        ed.sent = Some((ed.text.clone(), Instant::now()));
    }
    let saved = ed.is_saved(shelf);
    let mut open = true;
    let mut close = false;
    let title = match ed.existing {
        Some(id) => format!("Edit note #{id}"),
        None => "Note".to_owned(),
    };
    egui::Window::new(title)
        .id(egui::Id::unique("note-editor"))
        .open(&mut open)
        .constrain_to(area)
        .default_size([720.0, 340.0])
        .default_pos(area.center() - egui::vec2(360.0, 170.0))
        .collapsible(false)
        .show(ctx, |ui| {
            ui.horizontal_wrapped(|ui| {
                let title = ed.incident.and_then(|id| {
                    shelf
                        .incidents
                        .iter()
                        .find(|i| i.id == id)
                        .map(|i| format!("incident #{id} {}", i.title))
                });
                ui.label(title.unwrap_or_else(|| "no incident".into()));
                ui.weak(format!("pinned {} UTC", clock_time(ed.pinned_at)));
                if let Some(e) = &ed.entity {
                    ui.weak(format!("about {e}"));
                }
            });
            ui.columns(2, |cols| {
                let label = cols[0].weak("Markdown");
                let r = cols[0]
                    .add(
                        egui::TextEdit::multiline(&mut ed.text)
                            .hint_text("What you see, what you did")
                            .desired_rows(12)
                            .desired_width(f32::INFINITY),
                    )
                    .labelled_by(label.id);
                if ed.focus {
                    r.request_focus();
                    ed.focus = false;
                }
                if r.changed() {
                    ed.changed_at = Some(Instant::now());
                }
                egui::ScrollArea::vertical()
                    .id_salt("note-preview")
                    .max_height(230.0)
                    .show(&mut cols[1], |ui| {
                        ui.weak("Preview");
                        if ed.text.trim().is_empty() {
                            ui.weak("(nothing yet)");
                        } else {
                            CommonMarkViewer::new().show(ui, &mut view.cache, &ed.text);
                        }
                    });
            });
            ui.separator();
            ui.horizontal(|ui| {
                match ed.saved(shelf) {
                    Some(SaveState::Failed(_, why)) => {
                        ui.colored_label(
                            theme::BAD,
                            format!("NOT SAVED: {why}. The text stays here and is tried again."),
                        );
                    }
                    Some(SaveState::Saved(id, t, at)) if *t == ed.text => {
                        ui.colored_label(
                            theme::GOOD,
                            format!("saved as note #{id} at {} UTC", clock_time(*at)),
                        );
                    }
                    _ if ed.text.trim().is_empty() && ed.existing.is_none() => {
                        ui.weak("Autosaved as you type.");
                    }
                    _ => {
                        ui.weak("saving…");
                    }
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui
                        .add_enabled(saved, egui::Button::new("Done"))
                        .on_disabled_hover_text("Not saved yet")
                        .clicked()
                    {
                        close = true;
                    }
                    if !saved && ui.button("Discard").clicked() {
                        close = true;
                    }
                });
            });
        });
    // The window's ✖ closes only a saved note: unsaved text is never dropped silently.
    if close || (!open && saved) {
        view.editor = None;
    }
}

fn export_window_ui(
    ctx: &egui::Context,
    area: egui::Rect,
    pctx: &PanelCtx<'_>,
    view: &mut IncidentsView,
    shelf: &Shelf,
) {
    let Some(form) = &mut view.export else {
        return;
    };
    let mut open = true;
    let mut done = false;
    egui::Window::new(format!(
        "Export the postmortem of incident #{}",
        form.incident
    ))
    .id(egui::Id::unique("export-postmortem"))
    .open(&mut open)
    .constrain_to(area)
    .collapsible(false)
    .default_width(560.0)
    .show(ctx, |ui| {
        ui.horizontal(|ui| {
            if ui.radio(!form.json, "Markdown").clicked() {
                form.json = false;
                form.file.path = swap_ext(&form.file.path, "md");
            }
            if ui.radio(form.json, "JSON").clicked() {
                form.json = true;
                form.file.path = swap_ext(&form.file.path, "json");
            }
        });
        form.file.ui(ui, pctx, super::Dialog::Postmortem);
        match &shelf.outcome {
            Some(Ok(msg)) => {
                ui.colored_label(theme::GOOD, msg);
            }
            Some(Err(e)) => {
                ui.colored_label(theme::BAD, e);
            }
            None => {}
        }
        ui.horizontal(|ui| {
            let ok = !form.file.path.trim().is_empty();
            if ui.add_enabled(ok, egui::Button::new("Write")).clicked() {
                pctx.push(UiCommand::Notebook(Request::Export {
                    incident: form.incident,
                    path: PathBuf::from(form.file.path.trim()),
                    json: form.json,
                    at: pctx.now,
                }));
            }
            if ui.button("Close").clicked() {
                done = true;
            }
        });
    });
    if done || !open {
        view.export = None;
    }
}

fn swap_ext(path: &str, ext: &str) -> String {
    PathBuf::from(path)
        .with_extension(ext)
        .display()
        .to_string()
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
