//! Painting the map: the frame's transform, edges, box headers, pool bars, instance
//! squares or glyphs (or one health bar per service when small), breaker badges, and
//! name tags when box text is too small. Whatever comes from a source that is not up is
//! drawn grey and marked stale.

use egui::epaint::CubicBezierShape;
use egui::{Align2, Color32, FontId, Pos2, Rect, Stroke, StrokeKind, Vec2};
use switchboard_core::model::{BreakerState, Health, SourceId};
use switchboard_core::{Breaker, HealthCounts, Service, State};

use super::layout::{EdgeLine, HEADER_H, Layout, PAD, PER_ROW, PITCH, SQUARE, ServiceBox};
use super::zoom::{HEADER_FONT, MIN_GLYPH_PX};
use crate::theme::{self, Glyph, breaker_style, health_style};

/// The service as its box shows it: a composed one (weighted, failover, mirroring,
/// aggregate) has no instances of its own, so it takes its leaves' counts and the
/// health its routes see ([`State::composed_health`]); any other is as [`as_shown`]
/// says.
pub(super) fn shown_service<'a>(
    state: &'a State,
    id: &switchboard_core::model::ServiceId,
) -> Option<std::borrow::Cow<'a, Service>> {
    let svc = state.services.get(id)?;
    Some(match state.composed_health(id) {
        Some((counts, health)) => std::borrow::Cow::Owned(Service {
            counts,
            health,
            ..svc.clone()
        }),
        None => as_shown(state, id, svc),
    })
}

/// Font of badges and name tags, screen points (they do not scale).
const SMALL_FONT: f32 = 10.5;
/// The closed breaker's word is only written from this zoom up (open and half-open are
/// written whenever text is legible): a dozen "CLOSED" labels would drown the one "OPEN".
const CLOSED_WORD_ZOOM: f32 = 1.6;

/// What a frame draws with: the snapshot, the transform and this frame's stale sources.
pub(super) struct Frame<'a> {
    pub(super) state: &'a State,
    pub(super) visuals: &'a egui::Visuals,
    /// The map's screen rectangle.
    pub(super) canvas: Rect,
    /// Screen position of the world origin.
    pub(super) origin: Pos2,
    pub(super) zoom: f32,
    /// Box text is legible at this zoom.
    pub(super) text: bool,
    /// Radius of the breaker badges, screen.
    pub(super) badge_r: f32,
    pub(super) stale: &'a [SourceId],
    pub(super) selected: Option<&'a str>,
}

impl Frame<'_> {
    /// World point to screen.
    pub(super) fn pos(&self, p: Pos2) -> Pos2 {
        self.origin + p.to_vec2() * self.zoom
    }

    /// World rectangle to screen.
    pub(super) fn rect(&self, r: Rect) -> Rect {
        Rect::from_min_max(self.pos(r.min), self.pos(r.max))
    }

    /// Screen point to world.
    pub(super) fn world(&self, p: Pos2) -> Pos2 {
        ((p - self.origin) / self.zoom).to_pos2()
    }

    /// Whether `source` is up this frame.
    pub(super) fn fresh(&self, source: &SourceId) -> bool {
        !self.stale.contains(source)
    }

    /// How many of a box's sources are stale: none, some or all.
    pub(super) fn staleness(&self, b: &ServiceBox) -> Staleness {
        if self.stale.is_empty() {
            return Staleness::Fresh;
        }
        match b.sources.iter().filter(|s| !self.fresh(s)).count() {
            0 => Staleness::Fresh,
            n if n == b.sources.len() => Staleness::Stale,
            _ => Staleness::Partly,
        }
    }
}

/// A plain service as its box shows it. A gateway whose source reports routes but no
/// instances of its own (Traefik, Envoy: the console sees their API, not their
/// listeners) is as healthy as its API answers: healthy while its source of the same
/// name is up, unknown when that source is down or stale (the box then greys out).
/// Instances of its own (HAProxy's frontends) decide as for any service.
fn as_shown<'a>(
    state: &State,
    id: &switchboard_core::model::ServiceId,
    svc: &'a Service,
) -> std::borrow::Cow<'a, Service> {
    if svc.role != switchboard_core::model::ServiceRole::Gateway || svc.counts.total() > 0 {
        return std::borrow::Cow::Borrowed(svc);
    }
    let answers = state
        .sources
        .get(&SourceId::new(id.as_str()))
        .is_some_and(|s| s.status == switchboard_core::model::SourceStatus::Up);
    let mut shown = svc.clone();
    if answers && shown.health == Health::Unknown {
        shown.health = Health::Healthy;
    }
    std::borrow::Cow::Owned(shown)
}

/// How many of a box's sources are not up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Staleness {
    Fresh,
    Partly,
    Stale,
}

/// One edge's curve, in `stroke`.
pub(super) fn paint_edge(painter: &egui::Painter, fx: &Frame<'_>, edge: &EdgeLine, stroke: Stroke) {
    let pts = edge.curve.map(|p| fx.pos(p));
    painter.add(CubicBezierShape::from_points_stroke(
        pts,
        false,
        Color32::TRANSPARENT,
        stroke,
    ));
}

/// Glyph, name and healthy/total in the header; "stale" or the pool use on the right.
pub(super) fn header_text(
    painter: &egui::Painter,
    fx: &Frame<'_>,
    b: &ServiceBox,
    svc: &Service,
    (glyph, hc): (Glyph, Color32),
    staleness: Staleness,
) {
    let visuals = fx.visuals;
    let screen = fx.rect(b.rect);
    let mid_y = fx.pos(Pos2::new(0.0, b.rect.top() + HEADER_H * 0.5)).y;
    let font = FontId::proportional((HEADER_FONT * fx.zoom).clamp(9.0, 16.0));
    let small = FontId::proportional((10.0 * fx.zoom).clamp(8.0, 13.0));
    let gr = (5.0 * fx.zoom).clamp(3.0, 7.0);
    let gpos = Pos2::new(screen.left() + PAD * fx.zoom + gr, mid_y);
    theme::paint_glyph(painter, gpos, gr, glyph, hc);

    // Right-hand tag first, so the name can be clipped before it.
    // Where a choosing service sends its traffic, when not to its first choice: the
    // part's name without its provider, short enough to leave room for the box's own.
    let off_first = fx
        .state
        .choices
        .get(&b.id)
        .filter(|c| !c.choice.primary)
        .map(|c| {
            let (color, _, _) = theme::choice_style(&c.choice);
            let to = c
                .choice
                .chosen
                .as_deref()
                .map_or("none", |t| t.rsplit_once('@').map_or(t, |(name, _)| name));
            (format!("to {to}"), color)
        });
    let (tag, tag_color) = match (staleness, svc.pool, off_first) {
        (Staleness::Stale, _, _) => (Some("stale".to_owned()), theme::STALE),
        (Staleness::Partly, _, _) => (Some("partly stale".to_owned()), theme::STALE),
        (Staleness::Fresh, _, Some((words, color))) => (Some(words), color),
        (Staleness::Fresh, Some(p), None) if fx.zoom >= 0.8 => (
            Some(format!("pool {:.0} %", p.saturation() * 100.0)),
            if p.saturation() >= 0.9 {
                theme::WARN
            } else {
                visuals.weak_text_color()
            },
        ),
        _ => (None, Color32::TRANSPARENT),
    };
    let mut right = screen.right() - PAD * fx.zoom;
    if let Some(tag) = tag {
        let r = painter.text(
            Pos2::new(right, mid_y),
            Align2::RIGHT_CENTER,
            tag,
            small,
            tag_color,
        );
        right = r.left() - 4.0;
    }
    let name_color = match svc.health {
        Health::Healthy => visuals.text_color(),
        _ => visuals.strong_text_color(),
    };
    let clip = Rect::from_x_y_ranges(screen.left()..=right, screen.top()..=screen.bottom())
        .intersect(painter.clip_rect());
    let c = svc.counts;
    // Healthy of all; a box with no instances (a gateway seen by its API) just its name.
    let text = if c.total() == 0 {
        b.id.to_string()
    } else {
        format!("{}  {}/{}", b.id, c.healthy, c.total())
    };
    painter.with_clip_rect(clip).text(
        gpos + Vec2::new(gr + 4.0, 0.0),
        Align2::LEFT_CENTER,
        text,
        font,
        name_color,
    );
}

/// A pool's use: a bar filled to `saturation` (0..=1), warning from 90 %.
pub(super) fn pool_bar(
    painter: &egui::Painter,
    r: Rect,
    saturation: f64,
    fresh: bool,
    visuals: &egui::Visuals,
) {
    painter.rect_filled(r, 1.0, visuals.extreme_bg_color);
    let color = if !fresh {
        theme::STALE
    } else if saturation >= 0.9 {
        theme::WARN
    } else {
        theme::INFO
    };
    let fill = r.with_max_x(r.left() + r.width() * saturation.clamp(0.0, 1.0) as f32);
    painter.rect_filled(fill, 1.0, color);
}

/// The level-of-detail view: one stacked bar of health proportions. A service whose
/// sources are partly stale is counted instance by instance, with its stale share grey.
pub(super) fn health_bar(
    mesh: &mut egui::Mesh,
    fx: &Frame<'_>,
    b: &ServiceBox,
    svc: &Service,
    staleness: Staleness,
) {
    let bar = fx.rect(b.grid());
    let (counts, stale) = match staleness {
        Staleness::Fresh => (svc.counts, 0),
        Staleness::Stale => (HealthCounts::default(), svc.counts.total()),
        Staleness::Partly => {
            let mut c = HealthCounts::default();
            let mut stale = 0;
            for inst in b
                .instances
                .iter()
                .filter_map(|id| fx.state.instances.get(id))
            {
                if !fx.fresh(&inst.source) {
                    stale += 1;
                    continue;
                }
                match inst.health {
                    Health::Healthy => c.healthy += 1,
                    Health::Degraded => c.degraded += 1,
                    Health::Unhealthy => c.unhealthy += 1,
                    Health::Unknown => c.unknown += 1,
                }
            }
            (c, stale)
        }
    };
    let total = (counts.total() + stale).max(1) as f32;
    let mut left = bar.left();
    // Problems first (left), so a small red share is never lost at the far end.
    for (n, color) in [
        (counts.unhealthy, theme::BAD),
        (counts.degraded, theme::WARN),
        (counts.unknown, health_style(Health::Unknown).0),
        (stale, theme::STALE.gamma_multiply(0.6)),
        (counts.healthy, theme::GOOD),
    ] {
        if n == 0 {
            continue;
        }
        // At least a pixel, so one unhealthy instance in a thousand still shows.
        let w = (bar.width() * n as f32 / total)
            .max(1.0)
            .min(bar.right() - left);
        mesh.add_colored_rect(
            Rect::from_min_max(
                Pos2::new(left, bar.top()),
                Pos2::new(left + w, bar.bottom()),
            ),
            color,
        );
        left += w;
    }
}

/// One square or glyph per visible instance. Plain squares go into the shared mesh;
/// glyphs (anti-aliased shapes) to the painter; outlines are collected in `marks`.
pub(super) fn instances_ui(
    mesh: &mut egui::Mesh,
    marks: &mut Vec<(Rect, Stroke)>,
    painter: &egui::Painter,
    fx: &Frame<'_>,
    b: &ServiceBox,
) {
    let (canvas, visuals) = (fx.canvas, fx.visuals);
    let px = SQUARE * fx.zoom;
    let glyphs = px >= MIN_GLYPH_PX;
    // Only the rows that intersect the canvas.
    let pitch = PITCH * fx.zoom;
    let top = fx.pos(Pos2::new(0.0, b.grid_top())).y;
    let first_row = ((canvas.top() - top) / pitch).floor().max(0.0) as usize;
    let last_row = ((canvas.bottom() - top) / pitch).ceil().max(0.0) as usize;
    let from = (first_row * PER_ROW).min(b.instances.len());
    let to = ((last_row + 1) * PER_ROW).min(b.instances.len());
    let dark = Color32::from_black_alpha(200);
    for (k, id) in b.instances.iter().enumerate().take(to).skip(from) {
        let r = fx.rect(b.square(k));
        if !canvas.intersects(r) {
            continue;
        }
        let Some(inst) = fx.state.instances.get(id) else {
            continue;
        };
        let fresh = fx.fresh(&inst.source);
        let (color, glyph, _) = health_style(inst.health);
        let color = if fresh { color } else { theme::STALE };
        if glyphs {
            // Big enough for a shape: the glyph is the non-colour cue.
            theme::paint_glyph(painter, r.center(), px * 0.5, glyph, color);
        } else {
            match inst.health {
                // Small shape cues: unknown is hollow, unhealthy has a dark core.
                Health::Unknown if px >= 5.0 => {
                    let t = (px * 0.25).max(1.0);
                    for side in [
                        r.with_max_y(r.top() + t),
                        r.with_min_y(r.bottom() - t),
                        r.with_max_x(r.left() + t),
                        r.with_min_x(r.right() - t),
                    ] {
                        mesh.add_colored_rect(side, color);
                    }
                }
                Health::Unhealthy if px >= 5.0 => {
                    mesh.add_colored_rect(r, color);
                    mesh.add_colored_rect(r.shrink(px * 0.3), dark);
                }
                _ => mesh.add_colored_rect(r, color),
            }
        }
        if inst.flapping {
            marks.push((r.expand(1.5), Stroke::new(1.5, theme::SPLIT)));
        }
        if fx.selected == Some(id.as_str()) {
            marks.push((
                r.expand(2.5),
                Stroke::new(2.0, visuals.selection.stroke.color),
            ));
        }
    }
}

/// A breaker badge: the state's glyph on a disc, and its word in a pill above it,
/// right-aligned to the box the route leads into.
pub(super) fn paint_badge(
    painter: &egui::Painter,
    fx: &Frame<'_>,
    pos: Pos2,
    breaker: Option<&Breaker>,
    target_left: f32,
    highlighted: bool,
) {
    let (r, visuals) = (fx.badge_r, fx.visuals);
    let Some(b) = breaker else {
        // Configured on the route but never reported: say so rather than guess.
        painter.circle_filled(pos, r + 1.5, visuals.extreme_bg_color);
        theme::paint_glyph(painter, pos, r, Glyph::Ring, theme::STALE);
        return;
    };
    let fresh = fx.fresh(&b.source);
    let (color, glyph, word) = breaker_style(b.state);
    let color = if fresh { color } else { theme::STALE };
    painter.circle_filled(pos, r + 2.0, visuals.extreme_bg_color);
    if highlighted {
        painter.circle_stroke(
            pos,
            r + 3.0,
            Stroke::new(2.0, visuals.selection.stroke.color),
        );
    }
    theme::paint_glyph(painter, pos, r, glyph, color);
    let show_word = fx.text && (b.state != BreakerState::Closed || fx.zoom >= CLOSED_WORD_ZOOM);
    if !show_word {
        return;
    }
    let word = if fresh {
        word.to_owned()
    } else {
        format!("{word} (stale)")
    };
    let text_color = match (b.state, fresh) {
        (BreakerState::Closed, _) | (_, false) => visuals.weak_text_color(),
        _ => color,
    };
    let galley = painter.layout_no_wrap(word, FontId::proportional(SMALL_FONT), text_color);
    let size = galley.size() + Vec2::new(6.0, 2.0);
    let right = (pos.x + size.x * 0.5).min(target_left - 3.0);
    let pill = Rect::from_min_size(Pos2::new(right - size.x, pos.y - r - 3.0 - size.y), size);
    painter.rect_filled(pill, 3.0, visuals.extreme_bg_color.gamma_multiply(0.9));
    if b.state == BreakerState::Open && fresh {
        painter.rect_stroke(pill, 3.0, Stroke::new(1.0, theme::BAD), StrokeKind::Inside);
    }
    painter.galley(pill.min + Vec2::new(3.0, 1.0), galley, text_color);
}

/// The topology's entry: over the box of each service a public name leads to, the
/// name with an arrow into the box (right-aligned, so a box's own name tag at its left
/// stays readable).
pub(super) fn entry_tags(painter: &egui::Painter, fx: &Frame<'_>, layout: &Layout) {
    if fx.state.dns.is_empty() {
        return;
    }
    let font = FontId::proportional(SMALL_FONT);
    for b in &layout.boxes {
        let names: Vec<&str> = fx
            .state
            .dns
            .values()
            .filter(|e| e.record.service.as_ref() == Some(&b.id))
            .map(|e| e.record.name.as_str())
            .collect();
        if names.is_empty() {
            continue;
        }
        let screen = fx.rect(b.rect);
        if !fx.canvas.intersects(screen.expand(20.0)) {
            continue;
        }
        // A small triangle pointing into the box, then the names before it.
        let tip = Pos2::new(screen.right() - 6.0, screen.top() - 1.0);
        painter.add(egui::Shape::convex_polygon(
            vec![tip, tip + Vec2::new(4.0, -6.0), tip + Vec2::new(-4.0, -6.0)],
            theme::INFO,
            Stroke::NONE,
        ));
        painter.text(
            Pos2::new(screen.right() - 13.0, screen.top() - 1.0),
            Align2::RIGHT_BOTTOM,
            names.join(", "),
            font.clone(),
            theme::INFO,
        );
    }
}

/// When box text is too small: a floating tag (glyph and name) over each unhealthy,
/// degraded or selected service, unhealthy first; tags that would overlap are skipped.
pub(super) fn name_tags(
    painter: &egui::Painter,
    fx: &Frame<'_>,
    layout: &Layout,
    tags: &mut [(usize, Rect)],
) {
    let (canvas, visuals) = (fx.canvas, fx.visuals);
    let rank = |i: usize| {
        let b = &layout.boxes[i];
        let h = shown_service(fx.state, &b.id).map_or(Health::Unknown, |s| s.health);
        let selected = fx.selected == Some(b.id.as_str());
        (!selected, h != Health::Unhealthy, i)
    };
    tags.sort_unstable_by_key(|t| rank(t.0));
    let font = FontId::proportional(SMALL_FONT);
    for t in 0..tags.len() {
        let b = &layout.boxes[tags[t].0];
        let Some(svc) = shown_service(fx.state, &b.id) else {
            continue;
        };
        let stale = fx.staleness(b) == Staleness::Stale;
        let (hc, glyph, _) = health_style(svc.health);
        let hc = if stale { theme::STALE } else { hc };
        let galley =
            painter.layout_no_wrap(b.id.to_string(), font.clone(), visuals.strong_text_color());
        let h = galley.size().y + 2.0;
        let size = Vec2::new(galley.size().x + h + 6.0, h);
        let anchor = fx.pos(b.rect.left_top());
        let rect = Rect::from_min_size(Pos2::new(anchor.x, anchor.y - size.y - 1.0), size);
        if !canvas.intersects(rect) || tags[..t].iter().any(|(_, placed)| placed.intersects(rect)) {
            continue;
        }
        tags[t].1 = rect;
        painter.rect_filled(rect, 3.0, visuals.extreme_bg_color);
        painter.rect_stroke(rect, 3.0, Stroke::new(1.0, hc), StrokeKind::Inside);
        theme::paint_glyph(
            painter,
            rect.left_center() + Vec2::new(h * 0.5 + 1.0, 0.0),
            h * 0.28,
            glyph,
            hc,
        );
        painter.galley(
            rect.min + Vec2::new(h + 3.0, 1.0),
            galley,
            visuals.strong_text_color(),
        );
    }
}
