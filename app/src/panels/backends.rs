//! Backends panel: every instance behind a gateway route, grouped by service, with its
//! health, the last check as the gateway words it (result, latency, weight, operator
//! state) and how long it has been in that state. A route to a composed service
//! (weighted, failover, mirroring, aggregate) reaches the instances of every service
//! it is made of, and its group says through which; the routes whose traffic is a
//! choice (a failover's main or fallback...) say where it goes now, first.

use std::collections::BTreeMap;

use egui::RichText;
use switchboard_core::model::{InstanceId, ServiceId, SourceStatus};
use switchboard_core::{Instance, State};

use super::{PanelCtx, UiCommand};
use crate::theme::{self, format_age, health_style};

/// Filter state of the panel.
#[derive(Default)]
pub struct BackendsView {
    /// Only backends whose name, service or detail contains this.
    pub filter: String,
    /// Hide healthy backends.
    pub problems_only: bool,
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
    let total: usize = groups.values().map(Vec::len).sum();
    let bad = groups
        .values()
        .flatten()
        .filter(|(_, i)| i.health != switchboard_core::model::Health::Healthy)
        .count();
    ui.horizontal(|ui| {
        ui.label(RichText::new("Backends").strong());
        ui.weak(format!(
            "{total} behind {} routes · {bad} not healthy",
            state.routes.len()
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
    if groups.is_empty() {
        ui.weak("No gateway has reported backends yet.");
        return;
    }
    let needle = view.filter.to_lowercase();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (service, mut list) in groups {
                list.retain(|(id, i)| {
                    (!view.problems_only || i.health != switchboard_core::model::Health::Healthy)
                        && (needle.is_empty()
                            || id.as_str().to_lowercase().contains(&needle)
                            || service.to_lowercase().contains(&needle)
                            || i.detail
                                .as_deref()
                                .is_some_and(|d| d.to_lowercase().contains(&needle)))
                });
                if list.is_empty() {
                    continue;
                }
                list.sort_by(|a, b| a.0.cmp(b.0));
                let gateways = services
                    .get(service)
                    .map(|g| {
                        g.iter()
                            .map(ServiceId::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                let via = through.get(service).map_or_else(String::new, |t| {
                    let names: Vec<&str> = t.iter().map(ServiceId::as_str).collect();
                    format!(" · in {}", names.join(", "))
                });
                ui.label(RichText::new(format!("{service} · via {gateways}{via}")).strong());
                egui::Grid::new(("backends", service))
                    .striped(true)
                    .spacing([10.0, 2.0])
                    .show(ui, |ui| {
                        for (id, inst) in list {
                            let fresh = state
                                .sources
                                .get(&inst.source)
                                .is_none_or(|s| s.status == SourceStatus::Up);
                            let (color, glyph, word) = health_style(inst.health);
                            let color = if fresh { color } else { theme::STALE };
                            let name = ui.horizontal(|ui| {
                                theme::chip(ui, color, glyph, id.as_str());
                            });
                            if name.response.interact(egui::Sense::click()).clicked() {
                                ctx.push(UiCommand::Select(Some(id.to_string())));
                            }
                            ui.colored_label(color, if fresh { word } else { "stale" });
                            ui.label(inst.detail.as_deref().unwrap_or(""));
                            ui.weak(format!("for {}", format_age(ctx.age_secs(inst.since))));
                            ui.end_row();
                        }
                    });
                ui.add_space(4.0);
            }
        });
}
