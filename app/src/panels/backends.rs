//! Backends panel: every instance behind a gateway route, grouped by service, with its
//! health, the last check as the gateway words it (result, latency, weight, operator
//! state) and how long it has been in that state. A route to a composed service
//! (weighted, failover, mirroring, aggregate) reaches the instances of every service
//! it is made of, and its group says through which; the routes whose traffic is a
//! choice (a failover's main or fallback...) say where it goes now, first.
//!
//! An estate may have a hundred thousand backends: the table's rows are worked out
//! once per snapshot and filter (not every frame), and only the rows on screen are
//! laid out.

use std::collections::BTreeMap;

use egui::RichText;
use switchboard_core::model::{Health, InstanceId, ServiceId, SourceStatus};
use switchboard_core::{Instance, State};

use super::text_match::contains_folded;
use super::{PanelCtx, UiCommand};
use crate::theme::{self, format_age, health_style};

/// Filter state of the panel, and the rows it last worked out.
#[derive(Default)]
pub struct BackendsView {
    /// Only backends whose name, service or detail contains this.
    pub filter: String,
    /// Hide healthy backends.
    pub problems_only: bool,
    rows: Rows,
}

/// The table's rows for one snapshot and filter.
#[derive(Default)]
struct Rows {
    /// What they were worked out for: the topology's version (or the snapshot's event
    /// count), the instance count, the filter.
    key: Option<(u64, usize, String, bool)>,
    /// A service's header (its gateways and the composed services it is reached
    /// through), then its instances.
    list: Vec<Row>,
    /// Backends behind the routes, and how many are not healthy (before the filter).
    total: usize,
    bad: usize,
}

enum Row {
    Service(ServiceId, String),
    Instance(InstanceId),
}

/// The composed services a route names, for each service they reach: "through which".
fn through(state: &State) -> BTreeMap<ServiceId, Vec<ServiceId>> {
    let mut out: BTreeMap<ServiceId, Vec<ServiceId>> = BTreeMap::new();
    for r in state.routes.values() {
        if !state.composites.contains_key(&r.service) {
            continue;
        }
        for s in state.reach(&r.service).services.into_iter().skip(1) {
            let t = out.entry(s).or_default();
            if !t.contains(&r.service) {
                t.push(r.service.clone());
            }
        }
    }
    out
}

impl Rows {
    /// Works the rows out again when the snapshot or the filter changed.
    fn refresh(&mut self, state: &State, filter: &str, problems_only: bool) {
        // Which rows there are changes with the topology; with a filter or "problems
        // only", with any health or check too (then with every snapshot).
        let changes = if filter.is_empty() && !problems_only {
            state.topology_version
        } else {
            state.events_applied
        };
        let key = (
            changes,
            state.instances.len(),
            filter.to_owned(),
            problems_only,
        );
        if self.key.as_ref() == Some(&key) {
            return;
        }
        let services = state.routed_services();
        let through = through(state);
        let mut groups: BTreeMap<&str, Vec<(&InstanceId, &Instance)>> = BTreeMap::new();
        for (id, inst) in &state.instances {
            for svc in inst.services() {
                if services.contains_key(svc) {
                    groups.entry(svc.as_str()).or_default().push((id, inst));
                }
            }
        }
        self.total = groups.values().map(Vec::len).sum();
        self.bad = groups
            .values()
            .flatten()
            .filter(|(_, i)| i.health != Health::Healthy)
            .count();
        let needle = filter.to_lowercase();
        self.list.clear();
        for (service, mut list) in groups {
            list.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let service_matches = contains_folded(service, &needle);
            let mut kept = list
                .into_iter()
                .filter(|(id, i)| {
                    (!problems_only || i.health != Health::Healthy)
                        && (service_matches
                            || contains_folded(id.as_str(), &needle)
                            || i.detail
                                .as_deref()
                                .is_some_and(|d| contains_folded(d, &needle)))
                })
                .peekable();
            if kept.peek().is_none() {
                continue;
            }
            let names = |ids: &[ServiceId]| {
                ids.iter()
                    .map(ServiceId::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let service = ServiceId::new(service);
            let mut header = services.get(&service).map(|g| names(g)).unwrap_or_default();
            if let Some(t) = through.get(&service) {
                header.push_str(" · in ");
                header.push_str(&names(t));
            }
            self.list.push(Row::Service(service, header));
            self.list
                .extend(kept.map(|(id, _)| Row::Instance(id.clone())));
        }
        self.key = Some(key);
    }
}

/// Where the choosing services on the routes send their traffic: a line each for those
/// off their first choice (since when, and why), then one line naming the others.
fn choices_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
    /// The services on their first choice named on the summary line, at most.
    const NAMED: usize = 6;
    let mut calm: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (route, r) in &ctx.state.routes {
        for (service, c) in ctx.state.choices_from(&r.service) {
            if !seen.insert(service.clone()) {
                continue;
            }
            if c.choice.primary {
                calm.push(format!(
                    "{service} to {}",
                    c.choice.chosen.as_deref().unwrap_or("?")
                ));
                continue;
            }
            let (color, glyph, words) = theme::choice_style(&c.choice);
            ui.horizontal_wrapped(|ui| {
                theme::chip(ui, color, glyph, &format!("{route}: {service} {words}"));
                ui.weak(format!(
                    "for {} · {}",
                    format_age(ctx.age_secs(c.since)),
                    c.choice.detail
                ));
            });
        }
    }
    if !calm.is_empty() {
        let more = calm.len().saturating_sub(NAMED);
        calm.truncate(NAMED);
        let rest = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        ui.weak(format!("on their first choice: {}{rest}", calm.join(", ")));
    }
}

/// Draws the backends table.
pub fn backends_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, view: &mut BackendsView) {
    let state = ctx.state;
    view.rows.refresh(state, &view.filter, view.problems_only);
    ui.horizontal(|ui| {
        ui.label(RichText::new("Backends").strong());
        ui.weak(format!(
            "{} behind {} routes · {} not healthy",
            view.rows.total,
            state.routes.len(),
            view.rows.bad
        ));
        let label = ui.label("filter");
        ui.add(
            egui::TextEdit::singleline(&mut view.filter)
                .hint_text("name, service, check")
                .desired_width(140.0),
        )
        .labelled_by(label.id);
        ui.checkbox(&mut view.problems_only, "problems only");
    });
    choices_ui(ui, ctx);
    if view.rows.total == 0 {
        ui.weak("No gateway has reported backends yet.");
        return;
    }
    if view.rows.list.is_empty() {
        ui.weak("No backend matches.");
        return;
    }
    // One height for every row, so only those on screen are laid out.
    let row_h = ui.spacing().interact_size.y;
    let name_w = 240.0_f32.min(ui.available_width() * 0.3);
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show_rows(ui, row_h, view.rows.list.len(), |ui, range| {
            for row in &view.rows.list[range] {
                match row {
                    Row::Service(service, gateways) => {
                        ui.add_sized(
                            [ui.available_width(), row_h],
                            egui::Label::new(
                                RichText::new(format!("{service} · via {gateways}")).strong(),
                            )
                            .truncate(),
                        );
                    }
                    Row::Instance(id) => {
                        if let Some(inst) = state.instances.get(id) {
                            instance_row_ui(ui, ctx, id, inst, row_h, name_w);
                        }
                    }
                }
            }
        });
}

/// One backend: a chip with its name (a click selects it), its health (stale when its
/// source is not up), the gateway's words for its last check, and for how long.
fn instance_row_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    id: &InstanceId,
    inst: &Instance,
    row_h: f32,
    name_w: f32,
) {
    let fresh = ctx
        .state
        .sources
        .get(&inst.source)
        .is_none_or(|s| s.status == SourceStatus::Up);
    let (color, glyph, word) = health_style(inst.health);
    let color = if fresh { color } else { theme::STALE };
    ui.horizontal(|ui| {
        ui.set_height(row_h);
        let name = ui
            .allocate_ui(egui::vec2(name_w, row_h), |ui| {
                ui.set_min_width(name_w);
                theme::chip(ui, color, glyph, id.as_str())
            })
            .response;
        if name.interact(egui::Sense::click()).clicked() {
            ctx.push(UiCommand::Select(Some(id.to_string())));
        }
        ui.allocate_ui(egui::vec2(70.0, row_h), |ui| {
            ui.set_min_width(70.0);
            ui.colored_label(color, if fresh { word } else { "stale" });
        });
        let age = format!("for {}", format_age(ctx.age_secs(inst.since)));
        let detail_w = (ui.available_width() - 90.0).max(40.0);
        ui.allocate_ui(egui::vec2(detail_w, row_h), |ui| {
            ui.set_min_width(detail_w);
            ui.add(egui::Label::new(inst.detail.as_deref().unwrap_or("")).truncate());
        });
        ui.weak(age);
    });
}
