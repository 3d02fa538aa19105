//! The wall's banners: what is wrong right now, in type readable across a room, each
//! with a glyph and a word as well as a colour (never colour alone). Lost or split
//! quorum, databases without a single primary, open breakers, sources that stopped,
//! the open incident; a quiet "all clear" otherwise. Each names the age of what it
//! says.

use egui::{Color32, RichText, Vec2};
use switchboard_core::model::{QuorumState, SourceStatus};

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

fn banners(ctx: &PanelCtx<'_>, s: &switchboard_core::State) -> Vec<Banner> {
    let mut out = Vec::new();
    for (name, c) in &s.clusters {
        let word = match c.quorum.state {
            QuorumState::Lost => "QUORUM LOST",
            QuorumState::Split => "SPLIT BRAIN",
            QuorumState::AtRisk => "QUORUM AT RISK",
            QuorumState::Healthy => continue,
        };
        let (color, glyph, _) = theme::quorum_style(c.quorum.state);
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
        // The same colour and shape as an open breaker's tile.
        let (color, glyph, _) = theme::breaker_style(switchboard_core::model::BreakerState::Open);
        out.push(Banner {
            color,
            glyph,
            word: if open.len() == 1 {
                "BREAKER OPEN"
            } else {
                "BREAKERS OPEN"
            },
            text: open.join(", "),
        });
    }
    // Sources that stopped: what the tiles show from them is old.
    let stopped: Vec<_> = s
        .sources
        .iter()
        .filter(|(_, src)| {
            src.status != SourceStatus::Up
                && src.kind != switchboard_core::model::SourceKind::Engine
        })
        .collect();
    if !stopped.is_empty() {
        let down = stopped
            .iter()
            .any(|(_, src)| src.status == SourceStatus::Down);
        out.push(Banner {
            color: theme::STALE,
            glyph: Glyph::Ring,
            word: match (down, stopped.len()) {
                (true, 1) => "SOURCE DOWN",
                (true, _) => "SOURCES DOWN",
                (false, 1) => "SOURCE STALE",
                (false, _) => "SOURCES STALE",
            },
            text: stopped
                .iter()
                .map(|(id, src)| {
                    format!(
                        "{id} {} {}",
                        src.status.as_str(),
                        format_age(ctx.age_secs(src.last_event_at))
                    )
                })
                .collect::<Vec<_>>()
                .join(" · "),
        });
    }
    // Connections an operator must know about: INSECURE, certificates expired or
    // expiring (the outage may be the certificate).
    let mut insecure = Vec::new();
    let mut expired = Vec::new();
    let mut expiring = Vec::new();
    for (id, t) in &s.transports {
        for c in t.concerns(ctx.now) {
            let list = if !c.error {
                &mut expiring
            } else if c.words.starts_with("INSECURE") {
                &mut insecure
            } else {
                &mut expired
            };
            list.push(format!("{id}: {}", c.words));
        }
    }
    for (list, color, glyph, word) in [
        (insecure, theme::BAD, Glyph::Cross, "INSECURE"),
        (expired, theme::BAD, Glyph::Cross, "CERTIFICATE EXPIRED"),
        (expiring, theme::WARN, Glyph::Ring, "CERTIFICATE EXPIRING"),
    ] {
        if !list.is_empty() {
            out.push(Banner {
                color,
                glyph,
                word,
                text: list.join(" · "),
            });
        }
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

/// Draws the banners (or the all-clear line): this environment's, then those of the
/// `others` a rotating wall is not showing, named by their environment.
pub fn wall_banners_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    others: &[(String, std::sync::Arc<switchboard_core::State>)],
) {
    let mut list = banners(ctx, ctx.state);
    for (env, state) in others {
        list.extend(banners(ctx, state).into_iter().map(|mut b| {
            b.text = format!("env {env} · {}", b.text);
            b
        }));
    }
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
