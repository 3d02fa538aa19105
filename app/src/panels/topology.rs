//! Topology panel: gateways, services and instances, coloured *and shaped* by health,
//! with the routes' breakers shown by state.
//!
//! Services are laid out in columns: gateways first, then each service one column after
//! the furthest caller that reaches it, databases last. Each service is a box with a
//! header (glyph, name, healthy/total), a pool bar when its pool is sampled, and one
//! square per instance. The layout is computed once per `State::topology_version`; health
//! is read from the snapshot every frame.
//!
//! Drawing is custom painting, culled to the visible rectangle, with a level of detail:
//! when an instance square would be smaller than [`MIN_SQUARE_PX`] on screen, a service
//! shows one stacked health bar instead of its squares, and text below
//! [`MIN_TEXT_PX`] is not drawn. Drag to pan, wheel or pinch to zoom around the pointer,
//! double-click or Fit to see everything.

use std::collections::{BTreeMap, HashMap};

use egui::{Color32, Pos2, Rect, RichText, Stroke, StrokeKind, Vec2};
use switchboard_core::model::{
    BreakerId, BreakerState, Health, InstanceId, ServiceId, ServiceRole, SourceId, SourceStatus,
};
use switchboard_core::{Instance, Service, State};

use super::{PanelCtx, UiCommand};
use crate::theme::{self, breaker_style, format_age, health_style};

/// Instance square size, world units.
const SQUARE: f32 = 10.0;
/// Distance between squares.
const PITCH: f32 = 13.0;
/// Squares per row in a box.
const PER_ROW: usize = 14;
/// Box width.
const BOX_W: f32 = PITCH * PER_ROW as f32 + 12.0;
/// Header height.
const HEADER_H: f32 = 22.0;
/// Gap between boxes in a column, and between columns.
const GAP_Y: f32 = 18.0;
const GAP_X: f32 = 90.0;
/// Gap between the sub-columns of one tall tier.
const GAP_SUB_X: f32 = 24.0;
/// Below this on-screen size, squares give way to one health bar per service.
pub const MIN_SQUARE_PX: f32 = 3.0;
/// Below this on-screen font size, text is not drawn.
pub const MIN_TEXT_PX: f32 = 6.0;

/// Whether squares are drawn at `zoom` (or one bar per service).
pub fn squares_visible(zoom: f32) -> bool {
    SQUARE * zoom >= MIN_SQUARE_PX
}

/// One service's place in the layout.
#[derive(Clone, Debug)]
struct ServiceBox {
    id: ServiceId,
    /// World rectangle.
    rect: Rect,
    /// Instances in a stable order (sorted by name).
    instances: Vec<InstanceId>,
    /// The source reporting it (of its first instance).
    source: Option<SourceId>,
    has_pool: bool,
}

/// One edge: caller box, callee box, and the breaker guarding it (routes only).
#[derive(Clone, Debug)]
struct EdgeLine {
    from: usize,
    to: usize,
    breaker: Option<BreakerId>,
}

#[derive(Clone, Debug)]
struct Layout {
    version: u64,
    boxes: Vec<ServiceBox>,
    edges: Vec<EdgeLine>,
    index: HashMap<ServiceId, usize>,
    bounds: Rect,
}

/// Pan, zoom and the cached layout.
pub struct TopologyView {
    /// Screen offset of the world origin, relative to the canvas' top-left.
    offset: Vec2,
    /// Screen pixels per world unit.
    zoom: f32,
    /// Fit the whole layout on the next frame.
    fit_pending: bool,
    /// After fitting, zoom to this scale around the canvas centre.
    zoom_after_fit: Option<f32>,
    layout: Option<Layout>,
}

impl TopologyView {
    /// A view that starts at `zoom` (screen pixels per world unit) around the centre of
    /// the fitted layout, e.g. 1.0 to see every instance full size.
    pub fn at_zoom(zoom: f32) -> Self {
        Self {
            zoom_after_fit: Some(zoom),
            ..Self::default()
        }
    }
}

impl Default for TopologyView {
    fn default() -> Self {
        Self {
            offset: Vec2::ZERO,
            zoom: 1.0,
            fit_pending: true,
            zoom_after_fit: None,
            layout: None,
        }
    }
}

/// Column of every service: gateways 0, databases last, the rest one after their
/// furthest caller (bounded relaxation, so a cycle cannot loop forever).
fn columns(state: &State) -> BTreeMap<ServiceId, usize> {
    let mut col: BTreeMap<ServiceId, usize> = BTreeMap::new();
    let mut preds: BTreeMap<&ServiceId, Vec<&ServiceId>> = BTreeMap::new();
    for (a, b) in &state.edges {
        preds.entry(b).or_default().push(a);
    }
    for r in state.routes.values() {
        preds.entry(&r.service).or_default().push(&r.gateway);
    }
    for (id, s) in &state.services {
        let c = match s.role {
            ServiceRole::Gateway => 0,
            _ => 1,
        };
        col.insert(id.clone(), c);
    }
    let n = state.services.len();
    for _ in 0..n.min(32) {
        let mut changed = false;
        for (id, s) in &state.services {
            if s.role != ServiceRole::Service {
                continue;
            }
            let want = preds
                .get(id)
                .map_or(1, |ps| {
                    ps.iter()
                        .filter_map(|p| col.get(*p))
                        .map(|c| c + 1)
                        .max()
                        .unwrap_or(1)
                })
                .max(1);
            if col.get(id) != Some(&want) {
                col.insert(id.clone(), want);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let last = col
        .iter()
        .filter(|(id, _)| {
            state
                .services
                .get(*id)
                .is_some_and(|s| s.role == ServiceRole::Service)
        })
        .map(|(_, c)| *c)
        .max()
        .unwrap_or(0)
        + 1;
    for (id, s) in &state.services {
        if s.role == ServiceRole::Database {
            col.insert(id.clone(), last);
        }
    }
    col
}

fn box_height(instances: usize, has_pool: bool) -> f32 {
    let rows = instances.div_ceil(PER_ROW).max(1);
    HEADER_H + if has_pool { 8.0 } else { 0.0 } + rows as f32 * PITCH + 6.0
}

fn build_layout(state: &State) -> Layout {
    let cols = columns(state);
    let mut members: HashMap<&ServiceId, Vec<(&InstanceId, &Instance)>> = HashMap::new();
    for (id, inst) in &state.instances {
        members.entry(&inst.service).or_default().push((id, inst));
    }
    let mut by_col: BTreeMap<usize, Vec<&ServiceId>> = BTreeMap::new();
    for (id, c) in &cols {
        by_col.entry(*c).or_default().push(id);
    }
    let mut layout = Layout {
        version: state.topology_version,
        boxes: Vec::new(),
        edges: Vec::new(),
        index: HashMap::new(),
        bounds: Rect::NOTHING,
    };
    // Tall tiers wrap into sub-columns so a large fleet fits a landscape screen: the
    // height limit aims at a 3:2 layout, and never goes below 1200 units, so a fleet of a
    // few hundred instances keeps one column per tier.
    let heights: HashMap<&ServiceId, f32> = state
        .services
        .iter()
        .map(|(id, s)| {
            (
                id,
                box_height(members.get(id).map_or(0, Vec::len), s.pool.is_some()),
            )
        })
        .collect();
    let total_h: f32 = heights.values().map(|h| h + GAP_Y).sum();
    let max_h = (total_h * (BOX_W + GAP_X) / 1.5).sqrt().max(1200.0);
    let mut bounds = Rect::NOTHING;
    let mut x = 0.0;
    for ids in by_col.into_values() {
        let mut y = 0.0;
        for id in ids {
            let mut inst = members.remove(id).unwrap_or_default();
            inst.sort_by(|a, b| a.0.cmp(b.0));
            let has_pool = state.services.get(id).is_some_and(|s| s.pool.is_some());
            let h = box_height(inst.len(), has_pool);
            if y > 0.0 && y + h > max_h {
                x += BOX_W + GAP_SUB_X;
                y = 0.0;
            }
            let rect = Rect::from_min_size(Pos2::new(x, y), Vec2::new(BOX_W, h));
            bounds = bounds.union(rect);
            y += h + GAP_Y;
            layout.index.insert(id.clone(), layout.boxes.len());
            layout.boxes.push(ServiceBox {
                id: id.clone(),
                rect,
                source: inst.first().map(|(_, i)| i.source.clone()),
                instances: inst.into_iter().map(|(id, _)| id.clone()).collect(),
                has_pool,
            });
        }
        x += BOX_W + GAP_X;
    }
    let mut seen = std::collections::HashSet::new();
    for r in state.routes.values() {
        if let (Some(&a), Some(&b)) = (layout.index.get(&r.gateway), layout.index.get(&r.service))
            && seen.insert((a, b))
        {
            layout.edges.push(EdgeLine {
                from: a,
                to: b,
                breaker: r.breaker.clone(),
            });
        }
    }
    for (from, to) in &state.edges {
        if let (Some(&a), Some(&b)) = (layout.index.get(from), layout.index.get(to))
            && seen.insert((a, b))
        {
            layout.edges.push(EdgeLine {
                from: a,
                to: b,
                breaker: None,
            });
        }
    }
    layout.bounds = if bounds.is_positive() {
        bounds
    } else {
        Rect::from_min_size(Pos2::ZERO, Vec2::splat(100.0))
    };
    layout
}

/// World position of instance `k` of a box.
fn square_rect(b: &ServiceBox, has_pool: bool, k: usize) -> Rect {
    let top = b.rect.top() + HEADER_H + if has_pool { 8.0 } else { 0.0 };
    let (row, col) = (k / PER_ROW, k % PER_ROW);
    Rect::from_min_size(
        Pos2::new(
            b.rect.left() + 6.0 + col as f32 * PITCH,
            top + row as f32 * PITCH,
        ),
        Vec2::splat(SQUARE),
    )
}

/// What the pointer is over.
enum Hit<'a> {
    Instance(&'a InstanceId),
    Service(&'a ServiceId),
    Breaker(&'a BreakerId),
}

/// Draws the topology.
pub fn topology_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, view: &mut TopologyView) {
    let state = ctx.state;
    if view
        .layout
        .as_ref()
        .is_none_or(|l| l.version != state.topology_version)
    {
        view.layout = Some(build_layout(state));
    }
    let Some(layout) = view.layout.as_ref() else {
        return;
    };

    let counts = state.instance_counts();
    ui.horizontal(|ui| {
        ui.label(RichText::new("Topology").strong());
        ui.weak(format!(
            "{} services · {} instances · {} unhealthy",
            state.services.len(),
            counts.total(),
            counts.unhealthy
        ));
        if ui
            .small_button("Fit")
            .on_hover_text("fit everything (or double-click the background)")
            .clicked()
        {
            view.fit_pending = true;
        }
        legend_ui(ui);
    });

    let (canvas, response) = ui.allocate_exact_size(
        ui.available_size().max(Vec2::splat(50.0)),
        egui::Sense::click_and_drag(),
    );
    if view.fit_pending || response.double_clicked() {
        let b = layout.bounds.expand(20.0);
        view.zoom = (canvas.width() / b.width())
            .min(canvas.height() / b.height())
            .clamp(0.02, 2.0);
        view.offset = (canvas.size() - b.size() * view.zoom) * 0.5 - b.min.to_vec2() * view.zoom;
        view.fit_pending = false;
        if let Some(z) = view.zoom_after_fit.take() {
            let centre = canvas.size() * 0.5;
            let world = (centre - view.offset) / view.zoom;
            view.zoom = z;
            view.offset = centre - world * z;
        }
    }
    if response.dragged() {
        view.offset += response.drag_delta();
    }
    if let Some(pointer) = response.hover_pos() {
        let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta().y, i.zoom_delta()));
        let factor = pinch * (scroll * 0.0015).exp();
        if (factor - 1.0).abs() > 1e-4 {
            let new_zoom = (view.zoom * factor).clamp(0.02, 8.0);
            let local = pointer - canvas.min;
            let world = (local - view.offset) / view.zoom;
            view.offset = local - world * new_zoom;
            view.zoom = new_zoom;
        }
    }

    let zoom = view.zoom;
    let origin = canvas.min + view.offset;
    let to_screen = |p: Pos2| origin + p.to_vec2() * zoom;
    let to_screen_rect = |r: Rect| Rect::from_min_max(to_screen(r.min), to_screen(r.max));
    let painter = ui.painter_at(canvas);
    let visuals = ui.visuals();
    let source_up = |s: &Option<SourceId>| {
        s.as_ref().is_none_or(|s| {
            state
                .sources
                .get(s)
                .is_none_or(|i| i.status == SourceStatus::Up)
        })
    };
    let text_ok = 11.0 * zoom >= MIN_TEXT_PX;
    let mut hit: Option<Hit<'_>> = None;
    let hover = response.hover_pos();

    // Edges under the boxes.
    for e in &layout.edges {
        let (a, b) = (&layout.boxes[e.from], &layout.boxes[e.to]);
        let p0 = to_screen(Pos2::new(a.rect.right(), a.rect.top() + HEADER_H * 0.5));
        let p3 = to_screen(Pos2::new(b.rect.left(), b.rect.top() + HEADER_H * 0.5));
        if !canvas.intersects(Rect::from_two_pos(p0, p3).expand(4.0)) {
            continue;
        }
        let dx = (p3.x - p0.x).abs() * 0.45;
        let pts = [p0, p0 + Vec2::new(dx, 0.0), p3 - Vec2::new(dx, 0.0), p3];
        let breaker = e
            .breaker
            .as_ref()
            .and_then(|id| state.breakers.get(id).map(|b| (id, b)));
        let selected = ctx
            .selected
            .is_some_and(|s| s == a.id.as_str() || s == b.id.as_str());
        let (color, width) = match breaker.map(|(_, b)| b.state) {
            Some(BreakerState::Open) => (theme::BAD, 3.0),
            Some(BreakerState::HalfOpen) => (theme::INFO, 2.0),
            _ if selected => (visuals.strong_text_color(), 1.5),
            _ => (visuals.weak_text_color().gamma_multiply(0.45), 1.0),
        };
        painter.add(egui::epaint::CubicBezierShape::from_points_stroke(
            pts,
            false,
            Color32::TRANSPARENT,
            Stroke::new(width, color),
        ));
        if let Some((id, b)) = breaker {
            // At the service's door (near the end of the curve), not mid-way where it
            // would land on unrelated boxes.
            let mid = bezier_point(&pts, 0.86);
            let (bc, glyph, word) = breaker_style(b.state);
            let r = (5.0 * zoom.sqrt()).clamp(3.0, 7.0);
            let bc = if source_up(&Some(b.source.clone())) {
                bc
            } else {
                theme::STALE
            };
            painter.circle_filled(mid, r + 2.0, visuals.extreme_bg_color);
            theme::paint_glyph(&painter, mid, r, glyph, bc);
            if b.state != BreakerState::Closed && text_ok {
                // The word above the badge, clear of the service box it leads into.
                painter.text(
                    mid - Vec2::new(0.0, r + 3.0),
                    egui::Align2::CENTER_BOTTOM,
                    word,
                    egui::FontId::proportional(10.5),
                    bc,
                );
            }
            if hover.is_some_and(|p| p.distance(mid) <= r + 3.0) {
                hit = Some(Hit::Breaker(id));
            }
        }
    }

    // Boxes. Small squares and health bars go into one mesh, painted after the boxes:
    // ten thousand rectangles as one shape tessellate in a fraction of the time.
    let squares = squares_visible(zoom);
    let mut mesh = egui::Mesh::default();
    let mut marks: Vec<(Rect, Stroke)> = Vec::new();
    for b in &layout.boxes {
        let screen = to_screen_rect(b.rect);
        if !canvas.intersects(screen) {
            continue;
        }
        let Some(svc) = state.services.get(&b.id) else {
            continue;
        };
        let fresh = source_up(&b.source);
        let (hc, glyph, _) = health_style(svc.health);
        let hc = if fresh { hc } else { theme::STALE };
        let selected = ctx.selected == Some(b.id.as_str());
        painter.rect_filled(screen, 4.0 * zoom.min(1.0), visuals.faint_bg_color);
        let stroke = if selected {
            Stroke::new(2.5, visuals.selection.stroke.color)
        } else {
            Stroke::new(1.5, hc)
        };
        painter.rect_stroke(screen, 4.0 * zoom.min(1.0), stroke, StrokeKind::Inside);
        if text_ok {
            let gpos = to_screen(Pos2::new(
                b.rect.left() + 10.0,
                b.rect.top() + HEADER_H * 0.5,
            ));
            theme::paint_glyph(&painter, gpos, 5.0 * zoom.min(1.2), glyph, hc);
            let label = format!("{}  {}/{}", b.id, svc.counts.healthy, svc.counts.total());
            // Names stay legible when fitted: a floor on the size, clipped to the box.
            let font = egui::FontId::proportional((12.0 * zoom).clamp(10.5, 14.0));
            painter.with_clip_rect(screen.intersect(canvas)).text(
                gpos + Vec2::new(9.0 * zoom.min(1.2), 0.0),
                egui::Align2::LEFT_CENTER,
                label,
                font,
                visuals.text_color(),
            );
            if !fresh {
                painter.text(
                    to_screen(Pos2::new(
                        b.rect.right() - 6.0,
                        b.rect.top() + HEADER_H * 0.5,
                    )),
                    egui::Align2::RIGHT_CENTER,
                    "stale",
                    egui::FontId::proportional((10.0 * zoom).min(12.0)),
                    theme::STALE,
                );
            }
        }
        if let Some(pool) = svc.pool {
            pool_bar(
                &painter,
                &to_screen_rect(pool_rect(b)),
                pool.saturation(),
                fresh,
            );
        }
        if squares {
            let mut draw = Draw {
                painter: &painter,
                mesh: &mut mesh,
                marks: &mut marks,
            };
            instances_squares(
                &mut draw,
                state,
                b,
                svc,
                fresh,
                zoom,
                &to_screen_rect,
                ctx.selected,
            );
        } else {
            health_bar(&mut mesh, to_screen_rect(grid_rect(b)), svc, fresh);
        }
        if let Some(p) = hover.filter(|p| screen.contains(*p)) {
            let world = ((p - origin) / zoom).to_pos2();
            hit = Some(
                b.instances
                    .iter()
                    .enumerate()
                    .find(|(k, _)| {
                        squares && square_rect(b, b.has_pool, *k).expand(1.5).contains(world)
                    })
                    .map_or(Hit::Service(&b.id), |(_, id)| Hit::Instance(id)),
            );
        }
    }

    if !mesh.is_empty() {
        painter.add(egui::Shape::mesh(mesh));
    }
    for (r, stroke) in marks {
        painter.rect_stroke(r, 2.0, stroke, StrokeKind::Outside);
    }

    match hit {
        Some(Hit::Instance(id)) => {
            if let Some(inst) = state.instances.get(id) {
                let resp = response
                    .clone()
                    .on_hover_ui_at_pointer(|ui| instance_tooltip_ui(ui, ctx, id, inst));
                if resp.clicked() {
                    ctx.push(UiCommand::Select(Some(id.to_string())));
                }
            }
        }
        Some(Hit::Service(id)) => {
            if let Some(svc) = state.services.get(id) {
                let resp = response
                    .clone()
                    .on_hover_ui_at_pointer(|ui| service_tooltip_ui(ui, id, svc));
                if resp.clicked() {
                    ctx.push(UiCommand::Select(Some(id.to_string())));
                }
            }
        }
        Some(Hit::Breaker(id)) => {
            if let Some(b) = state.breakers.get(id) {
                let resp = response.clone().on_hover_ui_at_pointer(|ui| {
                    ui.label(RichText::new(id.as_str()).strong());
                    ui.label(format!(
                        "{} · {:.1} % failures · {} calls in the window",
                        breaker_style(b.state).2,
                        b.failure_rate * 100.0,
                        b.volume
                    ));
                });
                if resp.clicked() {
                    ctx.push(UiCommand::Select(Some(id.to_string())));
                }
            }
        }
        None => {
            if response.clicked() {
                ctx.push(UiCommand::Select(None));
            }
        }
    }
}

/// Point at `t` (0..=1) on a cubic Bézier curve.
fn bezier_point(p: &[Pos2; 4], t: f32) -> Pos2 {
    let u = 1.0 - t;
    let w = [u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t];
    Pos2::new(
        w[0] * p[0].x + w[1] * p[1].x + w[2] * p[2].x + w[3] * p[3].x,
        w[0] * p[0].y + w[1] * p[1].y + w[2] * p[2].y + w[3] * p[3].y,
    )
}

fn pool_rect(b: &ServiceBox) -> Rect {
    Rect::from_min_size(
        Pos2::new(b.rect.left() + 6.0, b.rect.top() + HEADER_H),
        Vec2::new(BOX_W - 12.0, 4.0),
    )
}

fn grid_rect(b: &ServiceBox) -> Rect {
    let top = b.rect.top() + HEADER_H + if b.has_pool { 8.0 } else { 0.0 };
    Rect::from_min_max(
        Pos2::new(b.rect.left() + 6.0, top),
        Pos2::new(b.rect.right() - 6.0, b.rect.bottom() - 6.0),
    )
}

fn pool_bar(painter: &egui::Painter, r: &Rect, saturation: f64, fresh: bool) {
    painter.rect_filled(*r, 1.0, Color32::from_gray(60));
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

/// The level-of-detail view: one stacked bar of health proportions.
fn health_bar(mesh: &mut egui::Mesh, r: Rect, svc: &Service, fresh: bool) {
    let c = svc.counts;
    let total = c.total().max(1) as f32;
    let mut x = r.left();
    for (n, h) in [
        (c.healthy, Health::Healthy),
        (c.degraded, Health::Degraded),
        (c.unhealthy, Health::Unhealthy),
        (c.unknown, Health::Unknown),
    ] {
        if n == 0 {
            continue;
        }
        let w = r.width() * n as f32 / total;
        let color = if fresh {
            health_style(h).0
        } else {
            theme::STALE
        };
        mesh.add_colored_rect(
            Rect::from_min_max(Pos2::new(x, r.top()), Pos2::new(x + w, r.bottom())),
            color,
        );
        x += w;
    }
}

/// Where instance squares go: glyphs to the painter, plain squares to the shared mesh,
/// outlines (flapping, selection) to be painted on top of both.
struct Draw<'a> {
    painter: &'a egui::Painter,
    mesh: &'a mut egui::Mesh,
    marks: &'a mut Vec<(Rect, Stroke)>,
}

#[allow(clippy::too_many_arguments)]
fn instances_squares(
    draw: &mut Draw<'_>,
    state: &State,
    b: &ServiceBox,
    svc: &Service,
    fresh: bool,
    zoom: f32,
    to_screen_rect: &impl Fn(Rect) -> Rect,
    selected: Option<&str>,
) {
    let px = SQUARE * zoom;
    let clip = draw.painter.clip_rect();
    for (k, id) in b.instances.iter().enumerate() {
        let r = to_screen_rect(square_rect(b, svc.pool.is_some(), k));
        if !clip.intersects(r) {
            continue;
        }
        let Some(inst) = state.instances.get(id) else {
            continue;
        };
        let (color, glyph, _) = health_style(inst.health);
        let color = if fresh { color } else { theme::STALE };
        if px >= 7.0 {
            // Big enough for a shape: the glyph is the non-colour cue.
            theme::paint_glyph(draw.painter, r.center(), px * 0.5, glyph, color);
        } else {
            draw.mesh.add_colored_rect(r, color);
        }
        if inst.flapping {
            draw.marks
                .push((r.expand(1.5), Stroke::new(1.5, theme::SPLIT)));
        }
        if selected == Some(id.as_str()) {
            draw.marks
                .push((r.expand(2.5), Stroke::new(2.0, Color32::WHITE)));
        }
    }
}

fn instance_tooltip_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, id: &InstanceId, inst: &Instance) {
    ui.label(RichText::new(id.as_str()).strong());
    ui.label(format!(
        "{} of {} · {} for {}",
        health_style(inst.health).2,
        inst.service,
        inst.health.as_str(),
        format_age(ctx.age_secs(inst.since))
    ));
    if let Some(d) = &inst.detail {
        ui.label(d.as_ref());
    }
    if inst.flapping {
        ui.colored_label(theme::SPLIT, "flapping: 4 health changes within a minute");
    }
    ui.weak(format!(
        "reported by {} · seen {} ago",
        inst.source,
        format_age(ctx.age_secs(inst.seen_at))
    ));
}

fn service_tooltip_ui(ui: &mut egui::Ui, id: &ServiceId, svc: &Service) {
    ui.label(RichText::new(id.as_str()).strong());
    let c = svc.counts;
    ui.label(format!(
        "{} · {} healthy, {} degraded, {} unhealthy, {} unknown",
        health_style(svc.health).2,
        c.healthy,
        c.degraded,
        c.unhealthy,
        c.unknown
    ));
    if let Some(p) = svc.pool {
        ui.label(format!(
            "pool {}/{} in use, {} queued",
            p.in_use, p.size, p.queued
        ));
    }
}

fn legend_ui(ui: &mut egui::Ui) {
    ui.add_space(8.0);
    for h in [
        Health::Healthy,
        Health::Degraded,
        Health::Unhealthy,
        Health::Unknown,
    ] {
        let (c, g, w) = health_style(h);
        let (r, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
        theme::paint_glyph(ui.painter(), r.center(), 4.5, g, c);
        ui.weak(w);
    }
    let (r, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    ui.painter().rect_stroke(
        r.shrink(1.0),
        2.0,
        Stroke::new(1.5, theme::SPLIT),
        StrokeKind::Outside,
    );
    ui.weak("flapping");
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::sources::drill::simulate;

    fn drill_state() -> State {
        let mut s = State::default();
        s.apply_all(&simulate(7, 300, 2));
        s
    }

    #[test]
    fn gateways_first_databases_last_and_deterministic() {
        let state = drill_state();
        let cols = columns(&state);
        let last = cols.values().max().copied().unwrap_or(0);
        assert_eq!(cols["edge-gateway"], 0);
        assert_eq!(cols["internal-gateway"], 0);
        assert_eq!(cols["orders-db"], last);
        for (a, b) in &state.edges {
            assert!(
                cols[a] < cols[b],
                "caller {a} (column {}) left of callee {b} (column {})",
                cols[a],
                cols[b]
            );
        }
        let a = build_layout(&state);
        let b = build_layout(&state);
        let rects = |l: &Layout| {
            l.boxes
                .iter()
                .map(|b| (b.id.clone(), b.rect))
                .collect::<Vec<_>>()
        };
        assert_eq!(rects(&a), rects(&b));
        assert_eq!(
            a.boxes.iter().map(|b| b.instances.len()).sum::<usize>(),
            state.instances.len()
        );
        assert!(
            a.edges.iter().any(|e| e.breaker.is_some()),
            "routes carry their breakers"
        );
    }

    #[test]
    fn boxes_do_not_overlap() {
        let l = build_layout(&drill_state());
        for (i, a) in l.boxes.iter().enumerate() {
            for b in &l.boxes[i + 1..] {
                assert!(!a.rect.intersects(b.rect), "{} overlaps {}", a.id, b.id);
            }
        }
    }

    #[test]
    fn a_large_fleet_wraps_tall_tiers_into_a_landscape_layout() {
        let mut state = State::default();
        state.apply_all(&simulate(7, 10_000, 1));
        let l = build_layout(&state);
        let aspect = l.bounds.width() / l.bounds.height();
        assert!((1.0..3.0).contains(&aspect), "aspect {aspect}");
        for (i, a) in l.boxes.iter().enumerate() {
            for b in &l.boxes[i + 1..] {
                assert!(!a.rect.intersects(b.rect), "{} overlaps {}", a.id, b.id);
            }
        }
        // The default fleet keeps one column per tier.
        let small = build_layout(&drill_state());
        let lefts: std::collections::BTreeSet<i64> =
            small.boxes.iter().map(|b| b.rect.left() as i64).collect();
        assert_eq!(
            lefts.len(),
            columns(&drill_state())
                .values()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        );
    }

    #[test]
    fn level_of_detail_switches_to_bars_when_small() {
        assert!(squares_visible(1.0));
        assert!(squares_visible(0.3));
        assert!(!squares_visible(0.29));
        assert!(!squares_visible(0.05));
    }

    #[test]
    fn cycles_do_not_hang_the_layout() {
        use switchboard_core::model::SourceId as Src;
        use switchboard_core::{Event, EventBody, Timestamp};
        let edge = |a: &str, b: &str| {
            Event::new(
                Timestamp(0),
                Src::new("t"),
                EventBody::Edge {
                    from: ServiceId::new(a),
                    to: ServiceId::new(b),
                },
            )
        };
        let mut s = State::default();
        s.apply_all(&[edge("a", "b"), edge("b", "c"), edge("c", "a")]);
        let cols = columns(&s);
        assert_eq!(cols.len(), 3);
    }
}
