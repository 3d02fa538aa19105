//! The map's tooltips: an instance's, a service's or a breaker's state, with a note when
//! the source that reported it is not up.

use egui::{Color32, RichText, Vec2};
use switchboard_core::model::{
    BreakerState, Health, InstanceId, ServiceId, SourceId, SourceStatus,
};
use switchboard_core::{Breaker, Instance, Service};

use super::super::PanelCtx;
use super::layout::{Layout, ServiceBox};
use super::map::Hit;
use super::paint::Frame;
use crate::theme::{self, Glyph, breaker_style, format_age, health_style};

/// The tooltip for what the pointer is over, and how to select it.
pub(super) fn tooltip_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    fx: &Frame<'_>,
    layout: &Layout,
    hit: Hit,
) {
    let state = fx.state;
    match hit {
        Hit::Instance(i, k) => {
            let Some(id) = layout.boxes.get(i).and_then(|b| b.instances.get(k)) else {
                return;
            };
            if let Some(inst) = state.instances.get(id) {
                instance_tooltip_ui(ui, ctx, id, inst);
            }
        }
        Hit::Service(i) => {
            if let Some(b) = layout.boxes.get(i)
                && let Some(svc) = super::paint::shown_service(state, &b.id)
            {
                service_tooltip_ui(ui, ctx, b, &svc);
                composition_ui(ui, ctx, &b.id);
            }
        }
        Hit::Breaker(e) => {
            let Some(id) = layout.edges.get(e).and_then(|e| e.breaker.as_ref()) else {
                return;
            };
            ui.label(RichText::new(id.as_str()).strong());
            match state.breakers.get(id) {
                Some(b) => breaker_tooltip_ui(ui, ctx, b),
                None => {
                    ui.label("no report from this breaker yet");
                }
            }
        }
    }
    ui.label(
        RichText::new("click to select")
            .small()
            .color(ui.visuals().weak_text_color()),
    );
}

/// "state (glyph word)" line with the glyph painted, so colour is not the only cue.
fn state_line_ui(ui: &mut egui::Ui, color: Color32, glyph: Glyph, text: &str) {
    ui.horizontal(|ui| {
        let (r, _) = ui.allocate_exact_size(Vec2::splat(12.0), egui::Sense::hover());
        theme::paint_glyph(ui.painter(), r.center(), 5.0, glyph, color);
        ui.label(text);
    });
}

/// A warning line when `source` is not up: what is shown is its last report.
fn source_note_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, source: &SourceId) {
    match ctx.state.sources.get(source) {
        Some(s) if s.status != SourceStatus::Up => {
            ui.colored_label(
                theme::STALE,
                format!(
                    "source {source} is {} ({}): last report {} ago",
                    s.status.as_str(),
                    s.detail.as_deref().unwrap_or("no detail"),
                    format_age(ctx.age_secs(s.last_event_at))
                ),
            );
        }
        _ => {}
    }
}

fn instance_tooltip_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, id: &InstanceId, inst: &Instance) {
    ui.label(RichText::new(id.as_str()).strong());
    let (c, g, word) = health_style(inst.health);
    state_line_ui(
        ui,
        c,
        g,
        &format!(
            "{word} for {} · of {}",
            format_age(ctx.age_secs(inst.since)),
            inst.service
        ),
    );
    if let Some(d) = &inst.detail {
        ui.label(d.as_ref());
    }
    if inst.flapping {
        ui.colored_label(theme::SPLIT, "~ flapping: 4 health changes within a minute");
    }
    ui.label(
        RichText::new(format!(
            "reported by {} · seen {} ago",
            inst.source,
            format_age(ctx.held_age_secs(inst.seen_at, Some(inst.source.as_str())))
        ))
        .color(ui.visuals().weak_text_color()),
    );
    source_note_ui(ui, ctx, &inst.source);
}

fn service_tooltip_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, b: &ServiceBox, svc: &Service) {
    ui.label(RichText::new(b.id.as_str()).strong());
    let (c, g, word) = health_style(svc.health);
    let since = match (svc.health, svc.healthy_at) {
        (Health::Healthy, _) => String::new(),
        (_, Some(t)) => format!(" · last healthy {} ago", format_age(ctx.age_secs(t))),
        (_, None) => " · never seen healthy".to_owned(),
    };
    state_line_ui(ui, c, g, &format!("{word}{since}"));
    let n = svc.counts;
    if n.total() == 0 && svc.role == switchboard_core::model::ServiceRole::Gateway {
        ui.label(format!(
            "a gateway seen through its API: {}",
            if svc.health == Health::Healthy {
                "it answers"
            } else {
                "its API does not answer now"
            }
        ));
    }
    ui.label(format!(
        "{} instances: {} healthy, {} degraded, {} unhealthy, {} unknown",
        n.total(),
        n.healthy,
        n.degraded,
        n.unhealthy,
        n.unknown
    ));
    let flapping = b
        .instances
        .iter()
        .filter_map(|id| ctx.state.instances.get(id))
        .filter(|i| i.flapping)
        .count();
    if flapping > 0 {
        ui.colored_label(theme::SPLIT, format!("~ {flapping} flapping"));
    }
    if let Some(p) = svc.pool {
        let text = format!(
            "pool {}/{} in use ({:.0} %), {} queued",
            p.in_use,
            p.size,
            p.saturation() * 100.0,
            p.queued
        );
        if p.saturation() >= 0.9 {
            ui.colored_label(theme::WARN, text);
        } else {
            ui.label(text);
        }
    }
    for s in &b.sources {
        source_note_ui(ui, ctx, s);
    }
}

/// What a composed service is made of, where a choosing one sends its traffic, and
/// the servers behind it.
fn composition_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, id: &ServiceId) {
    let state = ctx.state;
    if let Some(c) = state.composites.get(id) {
        let parts: Vec<&str> = c.parts.iter().map(ServiceId::as_str).collect();
        ui.label(format!(
            "{} of {}",
            c.composition.as_str(),
            parts.join(", ")
        ));
        let reach = state.reach(id);
        let leaves: Vec<&str> = reach.leaves.iter().map(ServiceId::as_str).collect();
        ui.label(format!("servers behind it: those of {}", leaves.join(", ")));
        if reach.cycle {
            ui.colored_label(
                theme::BAD,
                "its composition is a cycle: the gateway refuses to run it",
            );
        }
    }
    if let Some(c) = state.choices.get(id) {
        let (color, glyph, words) = theme::choice_style(&c.choice);
        state_line_ui(
            ui,
            color,
            glyph,
            &format!("{words} for {}", format_age(ctx.age_secs(c.since))),
        );
        ui.label(RichText::new(c.choice.detail.as_str()).small());
    }
}

fn breaker_tooltip_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, b: &Breaker) {
    let (c, g, word) = breaker_style(b.state);
    let since = b
        .last_flip
        .map(|t| format!(" for {}", format_age(ctx.age_secs(t))))
        .unwrap_or_default();
    state_line_ui(ui, c, g, &format!("{word}{since}"));
    ui.label(format!(
        "{:.1} % failures · {} calls in the window{}",
        b.failure_rate * 100.0,
        b.volume,
        b.service
            .as_ref()
            .map(|s| format!(" · guards {s}"))
            .unwrap_or_default()
    ));
    if b.near_trip && b.state == BreakerState::Closed {
        ui.colored_label(theme::WARN, "near its trip threshold");
    }
    source_note_ui(ui, ctx, &b.source);
}
