//! DNS panel: one card per public name: where it points now and whether that is its
//! primary or its standby (failed over), its TTL, the topology service its target is
//! (with that service's health), since when, and every place asked (each authoritative
//! server with its SOA serial, or Route53's API) with its answer; concerns (a place
//! unreachable, places that disagree, serials that differ) in words. Right-click a name
//! for its failover or restore.

use egui::RichText;
use switchboard_core::DnsEntry;
use switchboard_core::model::{DnsSide, SourceStatus};
use switchboard_core::workflow::Kind;

use super::{PanelCtx, UiCommand};
use crate::theme::{self, Glyph, badge, format_age};

/// Colour, glyph and word of where a name points.
fn side_style(side: DnsSide) -> (egui::Color32, Glyph, &'static str) {
    match side {
        DnsSide::Primary => (theme::GOOD, Glyph::Circle, "PRIMARY"),
        DnsSide::Standby => (theme::WARN, Glyph::Triangle, "FAILED OVER"),
        DnsSide::Elsewhere => (theme::WARN, Glyph::Triangle, "ELSEWHERE"),
        DnsSide::Unknown => (theme::SPLIT, Glyph::Diamond, "DISAGREE"),
    }
}

/// Draws every public name.
pub fn dns_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Public names").strong());
        let n = ctx.state.dns.len();
        ui.weak(format!("{n} name{}", if n == 1 { "" } else { "s" }));
    });
    if ctx.state.dns.is_empty() {
        ui.weak("No public name reported yet (add a kind = \"dns\" source with a record).");
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for entry in ctx.state.dns.values() {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    name_ui(ui, ctx, entry);
                });
            }
        });
}

fn name_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, entry: &DnsEntry) {
    let r = &entry.record;
    let source = ctx.state.sources.get(&entry.source);
    let stale = source.is_none_or(|s| s.status != SourceStatus::Up);
    let (mut color, glyph, word) = side_style(r.side());
    if stale {
        color = theme::STALE;
    }
    ui.horizontal_wrapped(|ui| {
        let title = ui
            .add(
                egui::Label::new(RichText::new(&r.name).strong().size(15.0))
                    .sense(egui::Sense::click()),
            )
            .on_hover_text("Right-click: failover or restore of this name");
        title.context_menu(|ui| actions_menu(ui, ctx, entry));
        badge(ui, color, glyph, word);
        ui.label(format!("-> {}", r.target()));
        if let Some(ttl) = r.agreed().and_then(|(_, t)| t) {
            ui.weak(format!("TTL {ttl} s"));
        }
        ui.weak(format!("for {}", format_age(ctx.age_secs(entry.since))));
        if stale {
            let age = source.map_or(0.0, |s| ctx.age_secs(s.last_event_at));
            theme::chip(
                ui,
                theme::STALE,
                Glyph::Ring,
                &format!("STALE {}", format_age(age)),
            );
        }
    });
    if let Some(service) = &r.service {
        ui.horizontal_wrapped(|ui| {
            ui.weak("leads to service");
            let health = ctx.state.services.get(service).map(|s| {
                let c = &s.counts;
                (c.healthy, c.total())
            });
            let database = ctx.state.databases.get(service.as_str());
            let link = ui.add(
                egui::Label::new(RichText::new(service.as_str()).strong())
                    .sense(egui::Sense::click()),
            );
            if link.clicked() {
                ctx.push(UiCommand::Select(Some(service.to_string())));
            }
            match (health, database) {
                (Some((ok, all)), _) if all > 0 => {
                    let c = if ok == all { theme::GOOD } else { theme::WARN };
                    ui.colored_label(c, format!("{ok}/{all} healthy"));
                }
                (Some(_), _) => {
                    ui.weak("no instances reported");
                }
                (None, Some(db)) => {
                    let (c, _, word) = super::databases::db_style(db);
                    let primary = db
                        .primary
                        .as_ref()
                        .map(|p| format!(", primary {p}"))
                        .unwrap_or_default();
                    ui.colored_label(c, format!("database: {}{primary}", word.to_lowercase()));
                }
                (None, None) => {
                    ui.weak("(not in the topology)");
                }
            }
        });
    }
    let other = match r.side() {
        DnsSide::Standby => Some(("primary", &r.primary)),
        DnsSide::Primary => Some(("standby", &r.standby)),
        _ => None,
    };
    if let Some((what, v)) = other.filter(|(_, v)| !v.is_empty()) {
        ui.weak(format!("{what}: {}", v.join(", ")));
    }
    for c in r.concerns() {
        ui.colored_label(theme::WARN, c);
    }
    egui::Grid::new(("dns-places", r.name.as_str()))
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for h in ["asked", "answer", "TTL", "SOA serial"] {
                ui.label(RichText::new(h).weak());
            }
            ui.end_row();
            for place in &r.reads {
                ui.label(&place.server);
                match &place.error {
                    Some(e) => {
                        ui.add(egui::Label::new(RichText::new(e).color(theme::BAD)).truncate())
                            .on_hover_text(e);
                    }
                    None => {
                        ui.label(place.shown());
                    }
                }
                ui.label(
                    place
                        .ttl_secs
                        .map_or_else(|| "–".into(), |t| format!("{t} s")),
                );
                ui.label(place.serial.map_or_else(|| "–".into(), |s| s.to_string()));
                ui.end_row();
            }
        });
}

/// The workflows offered on this name (its failover or its restore).
fn actions_menu(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, entry: &DnsEntry) {
    if ctx.read_only {
        ui.weak("Read-only: nothing can act from here.");
        return;
    }
    let prefix = format!("{}/", entry.source);
    let mut any = false;
    for o in ctx.offers.iter().filter(|o| {
        matches!(o.kind, Kind::DnsFailover | Kind::DnsRestore)
            && o.target.starts_with(&prefix)
            && o.label.contains(&entry.record.name)
    }) {
        any = true;
        if ui.button(format!("{}…", o.label)).clicked() {
            ctx.push(UiCommand::Plan(o.kind, o.target.clone()));
            ui.close();
        }
    }
    if !any {
        ui.weak("No workflow for this name (no primary or standby value configured).");
    }
}
