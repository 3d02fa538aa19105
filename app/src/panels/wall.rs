//! The wall's banners: what is wrong right now, in type readable across a room, each
//! with a glyph and a word as well as a colour (never colour alone). Lost or split
//! quorum, databases without a single primary, open breakers, the open incident; a
//! quiet "all clear" otherwise. Each names the age of what it says.

use egui::{Color32, RichText, Vec2};
use switchboard_core::model::QuorumState;

use super::PanelCtx;
use crate::theme::{self, Glyph, format_age};

/// The banner text size, in points (before the wall's zoom).
const BANNER_POINTS: f32 = 26.0;

struct Banner {
    color: Color32,
    glyph: Glyph,
    word: &'static str,
    text: String,
}

fn banners(ctx: &PanelCtx<'_>) -> Vec<Banner> {
    let s = ctx.state;
    let mut out = Vec::new();
    for (name, c) in &s.clusters {
        let (color, glyph, word) = match c.quorum.state {
            QuorumState::Lost => (theme::BAD, Glyph::Cross, "QUORUM LOST"),
            QuorumState::Split => (theme::SPLIT, Glyph::Diamond, "SPLIT BRAIN"),
            QuorumState::AtRisk => (theme::WARN, Glyph::Triangle, "QUORUM AT RISK"),
            QuorumState::Healthy => continue,
        };
        out.push(Banner {
            color,
            glyph,
            word,
            text: format!("{name} · {}", c.quorum.reason),
        });
    }
    for (name, d) in &s.databases {
        if d.writable != 1 && !d.members.is_empty() {
            let (color, glyph, word) = if d.writable > 1 {
                (theme::SPLIT, Glyph::Diamond, "SPLIT DATABASE")
            } else {
                (theme::BAD, Glyph::Cross, "NO PRIMARY")
            };
            out.push(Banner {
                color,
                glyph,
                word,
                text: format!("{name} · {} writable", d.writable),
            });
        }
    }
    let open: Vec<&str> = s
        .breakers
        .iter()
        .filter(|(_, b)| b.state != switchboard_core::model::BreakerState::Closed)
        .map(|(id, _)| id.as_str())
        .collect();
    if !open.is_empty() {
        out.push(Banner {
            color: theme::WARN,
            glyph: Glyph::Triangle,
            word: if open.len() == 1 {
                "BREAKER OPEN"
            } else {
                "BREAKERS OPEN"
            },
            text: open.join(", "),
        });
    }
    if let Some(i) = s.open_incident() {
        out.push(Banner {
            color: theme::BAD,
            glyph: Glyph::Cross,
            word: "INCIDENT",
            text: format!(
                "#{} Sev{} · {} · open {}",
                i.id,
                i.severity(),
                i.title,
                format_age(ctx.age_secs(i.detected_at))
            ),
        });
    }
    out
}

/// Draws the banners (or the all-clear line).
pub fn wall_banners_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
    let list = banners(ctx);
    if list.is_empty() {
        let s = ctx.state;
        ui.horizontal(|ui| {
            theme::badge(ui, theme::GOOD, Glyph::Circle, "ALL CLEAR");
            ui.label(
                RichText::new(format!(
                    "{} clusters healthy · {} breakers closed · {} instances",
                    s.clusters.len(),
                    s.breakers.len(),
                    s.instances.len()
                ))
                .size(BANNER_POINTS * 0.7),
            );
        });
        return;
    }
    for b in list {
        egui::Frame::new()
            .fill(b.color)
            .inner_margin(egui::Margin::symmetric(10, 4))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    let h = BANNER_POINTS;
                    let (rect, _) = ui.allocate_exact_size(Vec2::splat(h), egui::Sense::hover());
                    theme::paint_glyph(
                        ui.painter(),
                        rect.center(),
                        h * 0.4,
                        b.glyph,
                        Color32::BLACK,
                    );
                    ui.label(
                        RichText::new(b.word)
                            .size(BANNER_POINTS)
                            .strong()
                            .color(Color32::BLACK),
                    );
                    ui.add(
                        egui::Label::new(
                            RichText::new(&b.text)
                                .size(BANNER_POINTS * 0.8)
                                .color(Color32::BLACK),
                        )
                        .truncate(),
                    );
                });
            });
    }
}
