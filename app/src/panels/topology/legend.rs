//! The map's legend: what each glyph, colour and mark means.

use egui::{Pos2, Rect, RichText, Stroke, StrokeKind, Vec2};
use switchboard_core::model::{BreakerState, Health};

use crate::theme::{self, breaker_style, health_style};

/// Health glyphs and words, the flapping mark, stale, breaker states: one compact line,
/// wrapped when the pane is narrow. Returns the height it took.
pub(super) fn legend_ui(ui: &mut egui::Ui) -> f32 {
    let weak = ui.visuals().weak_text_color();
    let item = |ui: &mut egui::Ui, paint: &dyn Fn(&egui::Painter, Pos2), word: &str| {
        let (r, _) = ui.allocate_exact_size(Vec2::splat(11.0), egui::Sense::hover());
        paint(ui.painter(), r.center());
        ui.label(RichText::new(word).small().color(weak));
    };
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        for h in [
            Health::Healthy,
            Health::Degraded,
            Health::Unhealthy,
            Health::Unknown,
        ] {
            let (c, g, w) = health_style(h);
            item(ui, &|p, at| theme::paint_glyph(p, at, 4.5, g, c), w);
        }
        item(
            ui,
            &|p, at| {
                p.rect_stroke(
                    Rect::from_center_size(at, Vec2::splat(8.0)),
                    2.0,
                    Stroke::new(1.5, theme::SPLIT),
                    StrokeKind::Outside,
                );
            },
            "flapping",
        );
        item(
            ui,
            &|p, at| {
                p.rect_filled(
                    Rect::from_center_size(at, Vec2::splat(8.0)),
                    1.0,
                    theme::STALE,
                );
            },
            "stale source",
        );
        ui.separator();
        ui.label(RichText::new("breakers").small().color(weak));
        for s in [
            BreakerState::Closed,
            BreakerState::HalfOpen,
            BreakerState::Open,
        ] {
            let (c, g, w) = breaker_style(s);
            item(ui, &|p, at| theme::paint_glyph(p, at, 4.5, g, c), w);
        }
    })
    .response
    .rect
    .height()
}
