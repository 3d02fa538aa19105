//! The map's frame: navigation (drag, wheel, pinch, fit), the hit test, drawing the
//! edges and boxes in order (culled to the canvas), and what a click, a right-click or a
//! hover does.

use std::fmt::Write as _;

use egui::{Align2, FontId, Rect, Stroke, StrokeKind};
use switchboard_core::model::{BreakerState, Health, SourceStatus};

use super::super::{PanelCtx, UiCommand};
use super::layout::Layout;
use super::menu::context_menu_ui;
use super::paint::{
    Frame, Staleness, entry_tags, header_text, health_bar, instances_ui, name_tags, paint_badge,
    paint_edge, pool_bar,
};
use super::panel::TopologyView;
use super::tooltip::tooltip_ui;
use super::zoom::{Detail, detail, fit, text_visible, zoom_about};
use crate::theme::{self, health_style};

/// What the pointer is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Hit {
    /// Box `b`, instance `k`.
    Instance(usize, usize),
    Service(usize),
    /// Edge `e`'s breaker badge.
    Breaker(usize),
}

/// The map on `canvas`: navigation, drawing, hover, selection and the context menu.
pub(super) fn map_ui(
    ui: &egui::Ui,
    ctx: &PanelCtx<'_>,
    view: &mut TopologyView,
    canvas: Rect,
    response: &egui::Response,
) {
    let Some(layout) = view.layout.as_ref() else {
        return;
    };
    let state = ctx.state;
    view.canvas = Some(canvas);

    // --- Navigation -----------------------------------------------------------------
    if response.dragged_by(egui::PointerButton::Primary)
        || response.dragged_by(egui::PointerButton::Middle)
    {
        view.offset += response.drag_delta();
        view.moved = true;
    }
    if let Some(pointer) = response.hover_pos() {
        let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
        let factor = pinch * (scroll * 0.002).exp();
        if (factor - 1.0).abs() > 1e-4 && view.zoom > 0.0 {
            (view.offset, view.zoom) =
                zoom_about(view.offset, view.zoom, factor, pointer - canvas.min);
            view.moved = true;
            // The map used the wheel: nothing around it should scroll too.
            ui.ctx().input_mut(|i| i.smooth_scroll_delta.y = 0.0);
        }
    }
    if !view.moved || view.zoom <= 0.0 {
        (view.offset, view.zoom) = fit(layout.bounds, canvas.size());
        if let Some(z) = view.zoom_after_fit.take() {
            let centre = canvas.size() * 0.5;
            (view.offset, view.zoom) = zoom_about(view.offset, view.zoom, z / view.zoom, centre);
            view.moved = true;
        }
    }

    // --- This frame's transform and state ---------------------------------------------
    view.stale.clear();
    view.stale.extend(
        state
            .sources
            .iter()
            .filter(|(_, s)| s.status != SourceStatus::Up)
            .map(|(id, _)| id.clone()),
    );
    let visuals = ui.visuals();
    let fx = Frame {
        state,
        visuals,
        canvas,
        origin: canvas.min + view.offset,
        zoom: view.zoom,
        text: text_visible(view.zoom),
        badge_r: (5.5 * view.zoom.sqrt()).clamp(3.5, 7.0),
        stale: &view.stale,
        selected: ctx.selected,
    };
    let painter = ui.painter_at(canvas);
    let detail = detail(fx.zoom);

    if layout.boxes.is_empty() {
        painter.text(
            canvas.center(),
            Align2::CENTER_CENTER,
            "No services yet: waiting for the sources to report.",
            FontId::proportional(13.0),
            visuals.weak_text_color(),
        );
    }

    // --- Hit test (world space, before drawing, so hover can highlight) ----------------
    let hit = response.hover_pos().and_then(|p| {
        let badge =
            layout.edges.iter().enumerate().find(|(_, e)| {
                e.breaker.is_some() && fx.pos(e.badge).distance(p) <= fx.badge_r + 3.0
            });
        if let Some((e, _)) = badge {
            return Some(Hit::Breaker(e));
        }
        let w = fx.world(p);
        let (i, b) = layout
            .boxes
            .iter()
            .enumerate()
            .find(|(_, b)| b.rect.contains(w))?;
        Some(match b.instance_at(w).filter(|_| detail != Detail::Bars) {
            Some(k) => Hit::Instance(i, k),
            None => Hit::Service(i),
        })
    });
    let focus: Option<usize> = match hit {
        Some(Hit::Instance(i, _) | Hit::Service(i)) => Some(i),
        _ => ctx
            .selected
            .and_then(|s| layout.boxes.iter().position(|b| b.id.as_str() == s)),
    };

    // --- Edges under the boxes; the focused service's edges go on top -----------------
    let base_edge = visuals
        .weak_text_color()
        .gamma_multiply(if layout.edges.len() > 200 { 0.25 } else { 0.45 });
    let mut on_top: Vec<usize> = Vec::new();
    for (e, edge) in layout.edges.iter().enumerate() {
        if !canvas.intersects(fx.rect(edge.bounds).expand(4.0)) {
            continue;
        }
        let breaker = edge.breaker.as_ref().and_then(|id| state.breakers.get(id));
        if focus.is_some_and(|i| edge.from == i || edge.to == i)
            || breaker.is_some_and(|b| b.state != BreakerState::Closed)
        {
            on_top.push(e);
            continue;
        }
        paint_edge(&painter, &fx, edge, Stroke::new(1.0, base_edge));
    }

    // --- Boxes ------------------------------------------------------------------------
    let mut mesh = egui::Mesh::default();
    mesh.reserve_vertices(view.mesh_size.0);
    mesh.reserve_triangles(view.mesh_size.1 / 3);
    view.marks.clear();
    view.tags.clear();
    let radius = (4.0 * fx.zoom).clamp(1.0, 5.0);
    for (i, b) in layout.boxes.iter().enumerate() {
        let screen = fx.rect(b.rect);
        if !canvas.intersects(screen) {
            continue;
        }
        let Some(svc) = super::paint::shown_service(state, &b.id) else {
            continue;
        };
        let svc = svc.as_ref();
        let staleness = fx.staleness(b);
        box_node(ui, response, b, svc, staleness, screen);
        let (hc, glyph, _) = health_style(svc.health);
        let hc = if staleness == Staleness::Stale {
            theme::STALE
        } else {
            hc
        };
        let selected = ctx.selected == Some(b.id.as_str());

        // Fill tinted by health (not for healthy: calm is the default), border by health.
        let tint = match svc.health {
            Health::Unhealthy | Health::Degraded if staleness != Staleness::Stale => {
                visuals.faint_bg_color.lerp_to_gamma(hc, 0.14)
            }
            _ => visuals.faint_bg_color,
        };
        painter.rect_filled(screen, radius, tint);
        let border = match svc.health {
            Health::Healthy => Stroke::new(1.0, hc.gamma_multiply(0.7)),
            Health::Unknown => Stroke::new(1.0, hc),
            _ => Stroke::new(2.0, hc),
        };
        painter.rect_stroke(screen, radius, border, StrokeKind::Inside);
        if selected || focus == Some(i) {
            let s = visuals.selection.stroke;
            painter.rect_stroke(
                screen,
                radius,
                Stroke::new(if selected { 2.5 } else { 1.5 }, s.color),
                StrokeKind::Outside,
            );
        }

        if fx.text {
            header_text(&painter, &fx, b, svc, (glyph, hc), staleness);
        } else if matches!(svc.health, Health::Unhealthy | Health::Degraded) || selected {
            view.tags.push((i, Rect::NOTHING));
        }
        if b.has_pool
            && let Some(pool) = svc.pool
        {
            pool_bar(
                &painter,
                fx.rect(b.pool_bar()),
                pool.saturation(),
                staleness != Staleness::Stale,
                visuals,
            );
        }
        // A composed service has no instances of its own: its bar is its leaves'.
        let composed = b.instances.is_empty() && state.composites.contains_key(&b.id);
        match detail {
            Detail::Bars => health_bar(&mut mesh, &fx, b, svc, staleness),
            Detail::Squares | Detail::Glyphs if composed => {
                health_bar(&mut mesh, &fx, b, svc, staleness);
            }
            Detail::Squares | Detail::Glyphs => {
                instances_ui(&mut mesh, &mut view.marks, &painter, &fx, b);
            }
        }
    }
    view.mesh_size = (mesh.vertices.len(), mesh.indices.len());
    if !mesh.is_empty() {
        // A clip rectangle of its own makes the tessellator give the big mesh its own
        // primitive, copied once, instead of appending it to (and regrowing) the shared
        // one: at 10,000 squares that cut a release frame from about 7 ms to 1.5 ms.
        painter
            .with_clip_rect(canvas.shrink(0.01))
            .add(egui::Shape::mesh(mesh));
    }
    for &(r, stroke) in &view.marks {
        painter.rect_stroke(r, 2.0, stroke, StrokeKind::Outside);
    }

    // --- On top: focused and tripped edges, breaker badges, name tags -----------------
    for &e in &on_top {
        let edge = &layout.edges[e];
        let breaker = edge.breaker.as_ref().and_then(|id| state.breakers.get(id));
        let fresh = breaker.is_none_or(|b| fx.fresh(&b.source));
        let stroke = match breaker.map(|b| b.state) {
            Some(BreakerState::Open) => {
                Stroke::new(3.0, if fresh { theme::BAD } else { theme::STALE })
            }
            Some(BreakerState::HalfOpen) => {
                Stroke::new(2.0, if fresh { theme::INFO } else { theme::STALE })
            }
            _ => Stroke::new(1.5, visuals.strong_text_color().gamma_multiply(0.8)),
        };
        paint_edge(&painter, &fx, edge, stroke);
    }
    for (e, edge) in layout.edges.iter().enumerate() {
        let Some(id) = &edge.breaker else {
            continue;
        };
        let pos = fx.pos(edge.badge);
        if !canvas.expand(40.0).contains(pos) {
            continue;
        }
        let target_left = fx.pos(layout.boxes[edge.to].rect.left_top()).x;
        let highlighted = hit == Some(Hit::Breaker(e)) || ctx.selected == Some(id.as_str());
        paint_badge(
            &painter,
            &fx,
            pos,
            state.breakers.get(id),
            target_left,
            highlighted,
        );
    }
    name_tags(&painter, &fx, layout, &mut view.tags);
    entry_tags(&painter, &fx, layout);

    // --- Tooltip, selection, cursor ---------------------------------------------------
    if response.dragged() {
        ui.ctx().set_cursor_icon(egui::CursorIcon::Grabbing);
    } else if hit.is_some() {
        ui.ctx().set_cursor_icon(egui::CursorIcon::PointingHand);
    }
    if let Some(h) = hit {
        response
            .clone()
            .on_hover_ui_at_pointer(|ui| tooltip_ui(ui, ctx, &fx, layout, h));
    }
    if response.clicked() {
        ctx.push(UiCommand::Select(hit.and_then(|h| hit_name(layout, h))));
    }
    if response.secondary_clicked() {
        view.menu_for = hit.and_then(|h| {
            let instance = matches!(h, Hit::Instance(..));
            hit_name(layout, h).map(|n| (instance, n))
        });
    }
    response.context_menu(|ui| context_menu_ui(ui, ctx, view.menu_for.as_ref()));
    if response.double_clicked() && hit.is_none() {
        view.moved = false;
    }
}

/// The name a hit selects.
fn hit_name(layout: &Layout, hit: Hit) -> Option<String> {
    match hit {
        Hit::Instance(i, k) => layout
            .boxes
            .get(i)?
            .instances
            .get(k)
            .map(ToString::to_string),
        Hit::Service(i) => layout.boxes.get(i).map(|b| b.id.to_string()),
        Hit::Breaker(e) => layout
            .edges
            .get(e)?
            .breaker
            .as_ref()
            .map(ToString::to_string),
    }
}

/// The box as a node of the accessibility tree: its name, health and counts in words,
/// where it is drawn (a screen reader, or a test, reads the map box by box).
fn box_node(
    ui: &egui::Ui,
    response: &egui::Response,
    b: &super::layout::ServiceBox,
    svc: &switchboard_core::Service,
    staleness: Staleness,
    screen: Rect,
) {
    // Words only when something reads the tree (a screen reader, a test).
    let label = || {
        let c = svc.counts;
        let (_, _, word) = health_style(svc.health);
        let mut label = format!("{}: {word}", b.id);
        if c.total() > 0 {
            write!(label, ", {} of {} healthy", c.healthy, c.total()).ok();
        } else if svc.role == switchboard_core::model::ServiceRole::Gateway {
            label.push_str(", seen through its API");
        }
        match staleness {
            Staleness::Stale => label.push_str(", stale"),
            Staleness::Partly => label.push_str(", partly stale"),
            Staleness::Fresh => {}
        }
        egui::WidgetInfo::labeled(egui::Role::Label, true, label)
    };
    // A widget that senses nothing: the map under it keeps its hover, clicks and drags.
    let id = response.id.with(("box", b.id.as_str()));
    ui.interact(screen.intersect(response.rect), id, egui::Sense::hover())
        .widget_info(label);
}
