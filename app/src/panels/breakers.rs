//! Breakers panel: a tile per breaker with its state, failure rate against its
//! threshold, volume and last flip; sortable and filterable.

use egui::{Color32, RichText, Vec2};
use switchboard_core::Breaker;
use switchboard_core::model::{BreakerState, SourceStatus};

use super::{PanelCtx, UiCommand};
use crate::theme::{self, badge, breaker_style, format_age};

/// "near trip", or "rising: trips in ~12 s" when the trend is what warns.
pub(super) fn near_trip_words(b: &Breaker) -> String {
    if b.rising && b.trend_per_sec > 0.0 {
        let secs = (b.config.failure_rate_threshold - b.failure_rate).max(0.0) / b.trend_per_sec;
        format!("rising: trips in ~{secs:.0} s")
    } else {
        "near trip".to_owned()
    }
}

/// Width of a breaker tile's content.
const TILE_WIDTH: f32 = 190.0;

/// How tiles are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BreakerSort {
    /// Open first, then half-open, then by failure rate.
    #[default]
    Severity,
    /// Highest failure rate first.
    FailureRate,
    /// Highest volume first.
    Volume,
    /// Most recent flip first.
    LastFlip,
    /// By name.
    Name,
}

impl BreakerSort {
    const ALL: [Self; 5] = [
        Self::Severity,
        Self::FailureRate,
        Self::Volume,
        Self::LastFlip,
        Self::Name,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Severity => "severity",
            Self::FailureRate => "failure rate",
            Self::Volume => "volume",
            Self::LastFlip => "last flip",
            Self::Name => "name",
        }
    }
}

/// Filter and sort state of the panel.
#[derive(Default)]
pub struct BreakersView {
    /// Only breakers whose name contains this.
    pub filter: String,
    /// Order.
    pub sort: BreakerSort,
}

fn severity(b: &Breaker) -> u8 {
    match b.state {
        BreakerState::Open => 0,
        BreakerState::HalfOpen => 1,
        BreakerState::Closed if b.near_trip => 2,
        BreakerState::Closed => 3,
    }
}

/// Draws the breaker tiles.
pub fn breakers_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, view: &mut BreakersView) {
    let all = &ctx.state.breakers;
    let open = all
        .values()
        .filter(|b| b.state == BreakerState::Open)
        .count();
    if ctx.wall {
        wall_ui(ui, ctx, open);
        return;
    }
    ui.horizontal(|ui| {
        ui.label(RichText::new("Breakers").strong());
        ui.weak(format!("{} · {open} open", all.len()));
        let label = ui.label("filter");
        ui.add(
            egui::TextEdit::singleline(&mut view.filter)
                .hint_text("name")
                .desired_width(110.0),
        )
        .labelled_by(label.id);
        egui::ComboBox::from_label("sort")
            .selected_text(view.sort.label())
            .show_ui(ui, |ui| {
                for s in BreakerSort::ALL {
                    ui.selectable_value(&mut view.sort, s, s.label());
                }
            });
    });
    let needle = view.filter.to_lowercase();
    let mut list: Vec<(&str, &Breaker)> = all
        .iter()
        .map(|(id, b)| (id.as_str(), b))
        .filter(|(id, _)| needle.is_empty() || id.to_lowercase().contains(&needle))
        .collect();
    match view.sort {
        BreakerSort::Severity => by_severity(&mut list),
        BreakerSort::FailureRate => list.sort_by(|a, b| {
            b.1.failure_rate
                .total_cmp(&a.1.failure_rate)
                .then(a.0.cmp(b.0))
        }),
        BreakerSort::Volume => list.sort_by(|a, b| b.1.volume.cmp(&a.1.volume).then(a.0.cmp(b.0))),
        BreakerSort::LastFlip => {
            list.sort_by(|a, b| b.1.last_flip.cmp(&a.1.last_flip).then(a.0.cmp(b.0)));
        }
        BreakerSort::Name => list.sort_by(|a, b| a.0.cmp(b.0)),
    }
    if list.is_empty() {
        ui.weak(if all.is_empty() {
            "No breaker reported yet."
        } else {
            "No breaker matches the filter."
        });
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            tiles_ui(ui, ctx, &list);
        });
}

/// Open first, then half-open, near trip, closed; by failure rate within each.
fn by_severity(list: &mut [(&str, &Breaker)]) {
    list.sort_by(|a, b| {
        severity(a.1)
            .cmp(&severity(b.1))
            .then(b.1.failure_rate.total_cmp(&a.1.failure_rate))
            .then(a.0.cmp(b.0))
    });
}

/// Tiles of a fixed width, as many columns as fit.
fn tiles_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, list: &[(&str, &Breaker)]) {
    ui.spacing_mut().item_spacing = Vec2::splat(6.0);
    let per_row = ((ui.available_width() + 6.0) / (TILE_WIDTH + 6.0 + 14.0))
        .floor()
        .max(1.0) as usize;
    for row in list.chunks(per_row) {
        ui.horizontal(|ui| {
            for (id, b) in row {
                tile_ui(ui, ctx, id, b);
            }
        });
    }
}

/// A wall's breakers: the ones that matter (open, half-open, near trip) as full tiles,
/// worst first; the calm ones as one chip each, so every breaker is on screen at once.
fn wall_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, open: usize) {
    let all = &ctx.state.breakers;
    let mut list: Vec<(&str, &Breaker)> = all.iter().map(|(id, b)| (id.as_str(), b)).collect();
    by_severity(&mut list);
    let (loud, calm): (Vec<_>, Vec<_>) = list.into_iter().partition(|(_, b)| severity(b) < 3);
    ui.horizontal(|ui| {
        ui.label(RichText::new("Breakers").strong());
        ui.weak(format!(
            "{} · {open} open · {} closed and calm",
            all.len(),
            calm.len()
        ));
    });
    if all.is_empty() {
        ui.weak("No breaker reported yet.");
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            tiles_ui(ui, ctx, &loud);
            calm_ui(ui, ctx, &calm);
        });
}

/// The calm breakers as chips, a line per gateway ("edge-gateway" above "search 1.8 %",
/// "payments 0.9 %", …): the shared prefix is said once, so twelve long route names fit
/// a wall's tile. The hover names the whole breaker.
fn calm_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, calm: &[(&str, &Breaker)]) {
    for (gateway, members) in by_gateway(calm) {
        ui.add_space(4.0);
        if !gateway.is_empty() {
            ui.label(RichText::new(gateway).weak());
        }
        ui.indent(gateway, |ui| {
            ui.horizontal_wrapped(|ui| {
                for (route, id, b) in members {
                    let (color, glyph, word) = if source_stopped(ctx, b) {
                        (theme::STALE, theme::Glyph::Ring, "STALE")
                    } else {
                        breaker_style(b.state)
                    };
                    let label = format!("{route} {:.1} %", b.failure_rate * 100.0);
                    theme::chip(ui, color, glyph, &label).on_hover_text(format!("{id}: {word}"));
                    ui.add_space(8.0);
                }
            });
        });
    }
}

/// A gateway's breakers: (route, whole id, breaker).
type Routes<'a> = Vec<(&'a str, &'a str, &'a Breaker)>;

/// `list`'s breakers grouped by the gateway before the first `/` (in order of first
/// appearance, so the worst group leads).
fn by_gateway<'a>(list: &[(&'a str, &'a Breaker)]) -> Vec<(&'a str, Routes<'a>)> {
    let mut groups: Vec<(&str, Routes<'_>)> = Vec::new();
    for &(id, b) in list {
        let (gateway, route) = id.split_once('/').unwrap_or(("", id));
        match groups.iter_mut().find(|(g, _)| *g == gateway) {
            Some((_, members)) => members.push((route, id, b)),
            None => groups.push((gateway, vec![(route, id, b)])),
        }
    }
    groups
}

/// The source behind `b` is down or silent: what the panel shows of it is old.
fn source_stopped(ctx: &PanelCtx<'_>, b: &Breaker) -> bool {
    ctx.state
        .sources
        .get(&b.source)
        .is_some_and(|s| s.status != SourceStatus::Up)
}

fn tile_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, id: &str, b: &Breaker) {
    let stale = source_stopped(ctx, b);
    let (mut color, glyph, word) = breaker_style(b.state);
    if stale {
        color = theme::STALE;
    }
    let selected = ctx.selected == Some(id);
    let stroke_color = if selected {
        ui.visuals().selection.stroke.color
    } else if b.near_trip && !stale {
        theme::WARN
    } else {
        color.gamma_multiply(0.6)
    };
    let frame = egui::Frame::group(ui.style()).stroke(egui::Stroke::new(
        if selected { 2.0 } else { 1.0 },
        stroke_color,
    ));
    let resp = frame
        .show(ui, |ui| {
            ui.set_width(TILE_WIDTH);
            ui.set_height(70.0);
            ui.vertical(|ui| {
                ui.label(RichText::new(id).strong());
                ui.horizontal(|ui| {
                    badge(ui, color, glyph, if stale { "STALE" } else { word });
                    ui.label(format!("{:.1} %", b.failure_rate * 100.0));
                    if b.near_trip && b.state == BreakerState::Closed {
                        ui.colored_label(theme::WARN, near_trip_words(b));
                    }
                    if !b.computed {
                        ui.weak("reported");
                    } else if let Some(how) = &b.inferred {
                        ui.weak("inferred").on_hover_text(how);
                    }
                });
                match &b.detail {
                    // A gateway's own breaker: say what its state means there
                    // (Envoy: at capacity), rather than a rate the console did not compute.
                    Some(d) if !b.computed => {
                        ui.add(egui::Label::new(RichText::new(d).small()).truncate())
                            .on_hover_text(d);
                    }
                    _ => rate_bar_ui(ui, b, color),
                }
                let flipped = b.last_flip.map_or_else(
                    || "never flipped".to_owned(),
                    |t| format!("flipped {} ago", format_age(ctx.age_secs(t))),
                );
                ui.weak(format!(
                    "{} calls/{} s · {flipped}",
                    b.volume,
                    b.config.window_millis / 1000
                ));
            });
        })
        .response
        .interact(egui::Sense::click());
    if resp.clicked() {
        ctx.push(UiCommand::Select(Some(id.to_owned())));
    }
}

/// The failure rate as a bar with the threshold marked.
fn rate_bar_ui(ui: &mut egui::Ui, b: &Breaker, color: Color32) {
    let threshold = b.config.failure_rate_threshold;
    let text = format!(
        "failures {:.1} % of calls; trips at {:.0} %",
        b.failure_rate * 100.0,
        threshold * 100.0
    );
    let (rect, resp) =
        ui.allocate_exact_size(Vec2::new(TILE_WIDTH - 10.0, 8.0), egui::Sense::hover());
    let p = ui.painter();
    p.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let fill = rect.with_max_x(rect.left() + rect.width() * b.failure_rate.clamp(0.0, 1.0) as f32);
    p.rect_filled(fill, 2.0, color);
    let tx = rect.left() + rect.width() * threshold.clamp(0.0, 1.0) as f32;
    p.line_segment(
        [
            egui::pos2(tx, rect.top() - 2.0),
            egui::pos2(tx, rect.bottom() + 2.0),
        ],
        egui::Stroke::new(2.0, ui.visuals().strong_text_color()),
    );
    resp.on_hover_text(text);
}

#[cfg(test)]
mod tests {
    use super::by_gateway;
    use switchboard_core::Breaker;

    #[test]
    fn calm_breakers_group_by_gateway_in_order_of_first_appearance() {
        let b = Breaker::new(
            switchboard_core::model::SourceId::new("gw"),
            None,
            switchboard_core::model::BreakerConfig::default(),
            true,
        );
        let list = [
            ("internal-gateway/inventory", &b),
            ("edge-gateway/search", &b),
            ("internal-gateway/admin", &b),
            ("lonely", &b),
        ];
        let groups = by_gateway(&list);
        let shape: Vec<(&str, Vec<&str>)> = groups
            .iter()
            .map(|(g, m)| (*g, m.iter().map(|(route, _, _)| *route).collect()))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("internal-gateway", vec!["inventory", "admin"]),
                ("edge-gateway", vec!["search"]),
                ("", vec!["lonely"]),
            ]
        );
        assert_eq!(
            groups[0].1[1].1, "internal-gateway/admin",
            "the whole id kept"
        );
    }
}
