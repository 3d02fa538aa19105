//! Topology panel: gateways, services and instances, coloured *and shaped* by health,
//! with the routes' breakers shown by state.
//!
//! Services are laid out in columns: gateways first, then each service one column after
//! the furthest caller that reaches it (longest path; a cycle is cut, never followed),
//! databases last. Within a column, boxes are ordered by name and then swept a few times
//! towards the mean position of their neighbours, which removes most edge crossings while
//! staying deterministic. Each service is a box with a header (glyph, name,
//! healthy/total), a pool bar when its pool is sampled, and one square per instance. The
//! layout is computed once per `State::topology_version` (and when a pool first
//! appears); health is read from the snapshot every frame.
//!
//! Drawing is custom painting, culled to the visible rectangle, with a level of detail
//! ([`detail`]): instance glyphs when a square is at least [`MIN_GLYPH_PX`] on screen,
//! plain squares down to [`MIN_SQUARE_PX`], and below that one stacked health bar per
//! service. Text smaller than [`MIN_TEXT_PX`] is not drawn; unhealthy and degraded
//! services then keep a floating name tag so the overview still says *which* service is
//! sick. Whatever comes from a source that is not up is drawn grey and marked stale.
//!
//! Drag to pan, wheel or pinch to zoom around the pointer, double-click the background
//! or press Fit to see everything. Until the user pans or zooms, the view keeps fitting
//! the layout as services arrive and the panel resizes.

use std::collections::{BTreeMap, HashMap, HashSet};

use egui::epaint::CubicBezierShape;
use egui::{Align2, Color32, FontId, Pos2, Rect, RichText, Stroke, StrokeKind, Vec2};
use switchboard_core::model::{
    BreakerId, BreakerState, Health, InstanceId, ServiceId, ServiceRole, SourceId, SourceStatus,
};
use switchboard_core::{Breaker, HealthCounts, Instance, Service, State};

use super::{PanelCtx, UiCommand};
use crate::theme::{self, Glyph, breaker_style, format_age, health_style};

/// Instance square size, world units.
const SQUARE: f32 = 10.0;
/// Distance between squares.
const PITCH: f32 = 13.0;
/// Squares per row in a box.
const PER_ROW: usize = 14;
/// Inner padding of a box.
const PAD: f32 = 6.0;
/// Box width: exactly a row of squares plus the padding.
const BOX_W: f32 = PAD * 2.0 + PITCH * (PER_ROW - 1) as f32 + SQUARE;
/// Header height.
const HEADER_H: f32 = 22.0;
/// Height the pool bar takes under the header (bar plus gap).
const POOL_H: f32 = 8.0;
/// Gap between boxes in a column.
const GAP_Y: f32 = 18.0;
/// Gap between columns: room for the curves and the breaker badges.
const GAP_X: f32 = 96.0;
/// Gap between the sub-columns of one tall tier.
const GAP_SUB_X: f32 = 28.0;
/// Breaker badges sit this far in front of the box the route leads into.
const BADGE_INSET: f32 = 18.0;
/// Zoom range (screen pixels per world unit); fitting never zooms in past `FIT_MAX_ZOOM`.
const MIN_ZOOM: f32 = 0.02;
const MAX_ZOOM: f32 = 8.0;
const FIT_MAX_ZOOM: f32 = 1.5;
/// Header font at zoom 1, world units.
const HEADER_FONT: f32 = 12.0;
/// Font of badges, tags and the legend, screen points (they do not scale).
const SMALL_FONT: f32 = 10.5;

/// Below this on-screen size, squares give way to one health bar per service.
pub const MIN_SQUARE_PX: f32 = 3.0;
/// From this on-screen size up, instances are drawn as their health glyph (shape cue).
pub const MIN_GLYPH_PX: f32 = 7.0;
/// Below this on-screen font size, box text is not drawn.
pub const MIN_TEXT_PX: f32 = 6.5;
/// The closed breaker's word is only written from this zoom up (open and half-open are
/// written whenever text is legible): a dozen "CLOSED" labels would drown the one "OPEN".
const CLOSED_WORD_ZOOM: f32 = 1.6;

/// How much of each instance is drawn at a zoom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// One stacked health bar per service.
    Bars,
    /// One plain square per instance (with small shape cues for problems).
    Squares,
    /// One health glyph per instance.
    Glyphs,
}

/// The level of detail at `zoom` (screen pixels per world unit).
pub fn detail(zoom: f32) -> Detail {
    let px = SQUARE * zoom;
    if px >= MIN_GLYPH_PX {
        Detail::Glyphs
    } else if px >= MIN_SQUARE_PX {
        Detail::Squares
    } else {
        Detail::Bars
    }
}

/// Whether box text is drawn at `zoom`.
fn text_visible(zoom: f32) -> bool {
    HEADER_FONT * zoom >= MIN_TEXT_PX
}

/// One service's place in the layout.
#[derive(Clone, Debug)]
struct ServiceBox {
    id: ServiceId,
    /// World rectangle.
    rect: Rect,
    /// Instances in a stable order (sorted by name).
    instances: Vec<InstanceId>,
    /// The distinct sources reporting its instances, sorted.
    sources: Vec<SourceId>,
    /// Room was made for the pool bar.
    has_pool: bool,
}

impl ServiceBox {
    fn grid_top(&self) -> f32 {
        self.rect.top() + HEADER_H + if self.has_pool { POOL_H } else { 0.0 }
    }

    /// World rectangle of instance `k`.
    fn square(&self, k: usize) -> Rect {
        let (row, col) = (k / PER_ROW, k % PER_ROW);
        Rect::from_min_size(
            Pos2::new(
                self.rect.left() + PAD + col as f32 * PITCH,
                self.grid_top() + row as f32 * PITCH,
            ),
            Vec2::splat(SQUARE),
        )
    }

    /// World rectangle of the instance grid (and of the health bar that replaces it).
    fn grid(&self) -> Rect {
        Rect::from_min_max(
            Pos2::new(self.rect.left() + PAD, self.grid_top()),
            Pos2::new(self.rect.right() - PAD, self.rect.bottom() - PAD),
        )
    }

    fn pool_bar(&self) -> Rect {
        Rect::from_min_size(
            Pos2::new(self.rect.left() + PAD, self.rect.top() + HEADER_H - 1.0),
            Vec2::new(BOX_W - 2.0 * PAD, 4.0),
        )
    }

    /// The instance under world point `p`, if any.
    fn instance_at(&self, p: Pos2) -> Option<usize> {
        let local = p - Pos2::new(self.rect.left() + PAD, self.grid_top());
        if local.x < -1.5 || local.y < -1.5 {
            return None;
        }
        let col = ((local.x + 1.5) / PITCH).floor() as usize;
        let row = ((local.y + 1.5) / PITCH).floor() as usize;
        let k = row * PER_ROW + col;
        (col < PER_ROW && k < self.instances.len() && self.square(k).expand(1.5).contains(p))
            .then_some(k)
    }
}

/// One edge: caller box, callee box, and the breaker guarding it (routes only).
#[derive(Clone, Debug)]
struct EdgeLine {
    from: usize,
    to: usize,
    breaker: Option<BreakerId>,
    /// Cubic Bézier control points, world.
    curve: [Pos2; 4],
    /// World bounds of the curve, for culling.
    bounds: Rect,
    /// Where the breaker badge sits, world.
    badge: Pos2,
}

#[derive(Clone, Debug)]
struct Layout {
    version: u64,
    pools: usize,
    boxes: Vec<ServiceBox>,
    edges: Vec<EdgeLine>,
    bounds: Rect,
}

/// Pan, zoom, the cached layout and buffers reused from frame to frame.
#[derive(Default)]
pub struct TopologyView {
    /// Screen offset of the world origin, relative to the canvas' top-left.
    offset: Vec2,
    /// Screen pixels per world unit.
    zoom: f32,
    /// The user panned or zoomed: stop following the fitted view.
    moved: bool,
    /// After the first fit, zoom to this scale around the canvas centre.
    zoom_after_fit: Option<f32>,
    layout: Option<Layout>,
    /// Sources that are not up, this frame.
    stale: Vec<SourceId>,
    /// Outlines painted on top of the squares (flapping, selection).
    marks: Vec<(Rect, Stroke)>,
    /// Name tags shown when box text is too small, and where they landed.
    tags: Vec<(usize, Rect)>,
    /// Vertex and index counts of last frame's mesh, to reserve at once.
    mesh_size: (usize, usize),
    /// Where the map was drawn last frame, screen.
    canvas: Option<Rect>,
    /// What the open context menu is for: an instance or a service, by name.
    menu_for: Option<(bool, String)>,
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

/// Number of services with a sampled pool. Pools are never unset, so a change in this
/// count is exactly "a box needs room for its pool bar".
fn pool_count(state: &State) -> usize {
    state.services.values().filter(|s| s.pool.is_some()).count()
}

/// Column of every service: gateways 0, databases last, the rest one after their
/// furthest caller (gateway routes count as calls). A cycle is cut where the walk
/// enters it, so it never stretches the layout. Empty columns are removed.
fn columns(state: &State) -> BTreeMap<ServiceId, usize> {
    let ids: Vec<&ServiceId> = state.services.keys().collect();
    let index: HashMap<&ServiceId, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let role = |i: usize| {
        state
            .services
            .get(ids[i])
            .map_or(ServiceRole::Service, |s| s.role)
    };
    let n = ids.len();
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let calls = state
        .edges
        .iter()
        .map(|(a, b)| (a, b))
        .chain(state.routes.values().map(|r| (&r.gateway, &r.service)));
    for (a, b) in calls {
        if let (Some(&a), Some(&b)) = (index.get(a), index.get(b))
            && a != b
        {
            succ[a].push(b);
        }
    }
    for s in &mut succ {
        s.sort_unstable();
        s.dedup();
    }
    // Longest path over plain services (gateways are pinned left, databases right),
    // Kahn's order; when only cycles remain, the earliest-named blocked service goes next.
    let plain = |i: usize| role(i) == ServiceRole::Service;
    let mut incoming = vec![0usize; n];
    for (a, s) in succ.iter().enumerate() {
        if plain(a) {
            for &b in s {
                incoming[b] += 1;
            }
        }
    }
    let mut col: Vec<usize> = (0..n)
        .map(|i| usize::from(role(i) != ServiceRole::Gateway))
        .collect();
    let mut done = vec![false; n];
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&i| plain(i) && incoming[i] == 0).collect();
    let mut left = (0..n).filter(|&i| plain(i)).count();
    while left > 0 {
        let v = match ready.pop_first() {
            Some(v) => v,
            None => match (0..n).find(|&i| plain(i) && !done[i]) {
                Some(v) => v,
                None => break,
            },
        };
        if done[v] {
            continue;
        }
        done[v] = true;
        left -= 1;
        for &w in &succ[v] {
            if plain(w) && !done[w] {
                col[w] = col[w].max(col[v] + 1);
                incoming[w] = incoming[w].saturating_sub(1);
                if incoming[w] == 0 {
                    ready.insert(w);
                }
            }
        }
    }
    let last = (0..n)
        .filter(|&i| role(i) != ServiceRole::Database)
        .map(|i| col[i])
        .max()
        .unwrap_or(0)
        + 1;
    for (i, c) in col.iter_mut().enumerate() {
        if role(i) == ServiceRole::Database {
            *c = last;
        }
    }
    // Remove empty columns (no gateways, no plain services...).
    let mut used: Vec<usize> = col.clone();
    used.sort_unstable();
    used.dedup();
    ids.iter()
        .zip(col)
        .map(|(id, c)| ((*id).clone(), used.partition_point(|&u| u < c)))
        .collect()
}

/// Order of the services in each column: by name, then swept towards the mean position
/// of their callers (downwards) and callees (upwards) to reduce crossings. Deterministic:
/// ties keep the name order. Column 0 (gateways) stays by name.
fn order_columns(
    cols: &BTreeMap<ServiceId, usize>,
    calls: &[(&ServiceId, &ServiceId)],
) -> Vec<Vec<ServiceId>> {
    // Services as indices in name order (the map's order).
    let ids: Vec<&ServiceId> = cols.keys().collect();
    let col: Vec<usize> = cols.values().copied().collect();
    let index: HashMap<&ServiceId, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let ncols = col.iter().max().map_or(0, |m| m + 1);
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); ncols];
    for (i, &c) in col.iter().enumerate() {
        order[c].push(i);
    }
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    for &(a, b) in calls {
        if let (Some(&a), Some(&b)) = (index.get(a), index.get(b))
            && col[a] < col[b]
        {
            preds[b].push(a);
            succs[a].push(b);
        }
    }
    let mut pos = vec![0.5_f32; ids.len()];
    for column in &order {
        place(column, &mut pos);
    }
    for _ in 0..3 {
        for column in order.iter_mut().skip(1) {
            sweep(column, &mut pos, &preds);
        }
        let inner = ncols.saturating_sub(1);
        for column in order.iter_mut().take(inner).skip(1).rev() {
            sweep(column, &mut pos, &succs);
        }
    }
    order
        .into_iter()
        .map(|column| column.into_iter().map(|i| ids[i].clone()).collect())
        .collect()
}

/// Records the relative position (0..1) of each service of a column.
fn place(column: &[usize], pos: &mut [f32]) {
    let len = column.len() as f32;
    for (k, &i) in column.iter().enumerate() {
        pos[i] = (k as f32 + 0.5) / len;
    }
}

/// Reorders a column by the mean position of each service's neighbours; a service with
/// none keeps its place. Ties keep the current (name) order: the sort is stable.
fn sweep(column: &mut [usize], pos: &mut [f32], nbrs: &[Vec<usize>]) {
    let key = |i: usize| {
        let ns = &nbrs[i];
        if ns.is_empty() {
            pos[i]
        } else {
            ns.iter().map(|&n| pos[n]).sum::<f32>() / ns.len() as f32
        }
    };
    let mut keyed: Vec<(f32, usize)> = column.iter().map(|&i| (key(i), i)).collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (slot, (_, i)) in column.iter_mut().zip(keyed) {
        *slot = i;
    }
    place(column, pos);
}

fn box_height(instances: usize, has_pool: bool) -> f32 {
    let rows = instances.div_ceil(PER_ROW).max(1);
    HEADER_H + if has_pool { POOL_H } else { 0.0 } + rows as f32 * PITCH - (PITCH - SQUARE) + PAD
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

/// The point of a left-to-right curve at `x` (bisection; x grows with t).
fn bezier_at_x(p: &[Pos2; 4], x: f32) -> Pos2 {
    let (mut lo, mut hi) = (0.0_f32, 1.0_f32);
    for _ in 0..24 {
        let mid = 0.5 * (lo + hi);
        if bezier_point(p, mid).x < x {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    bezier_point(p, 0.5 * (lo + hi))
}

/// `k`-th of `n` ports spread down the side of `r`.
fn port_y(r: Rect, k: usize, n: usize) -> f32 {
    let span = r.height() - 2.0 * PAD;
    r.top() + PAD + span * (k as f32 + 0.5) / n.max(1) as f32
}

fn build_layout(state: &State) -> Layout {
    let cols = columns(state);
    let calls: Vec<(&ServiceId, &ServiceId)> = state
        .routes
        .values()
        .map(|r| (&r.gateway, &r.service))
        .chain(state.edges.iter().map(|(a, b)| (a, b)))
        .collect();
    let order = order_columns(&cols, &calls);

    let mut members: HashMap<&ServiceId, Vec<(&InstanceId, &SourceId)>> = HashMap::new();
    // An instance in several pools (seen by several gateways) is drawn in each.
    for (id, inst) in &state.instances {
        for svc in inst.services() {
            members.entry(svc).or_default().push((id, &inst.source));
        }
    }
    let has_pool = |id: &ServiceId| state.services.get(id).is_some_and(|s| s.pool.is_some());
    let height = |id: &ServiceId| box_height(members.get(id).map_or(0, Vec::len), has_pool(id));

    // Tall tiers wrap into sub-columns so a large fleet fits a landscape screen: the
    // height limit aims at a 3:2 layout, and never goes below 1200 units, so a fleet of a
    // few hundred instances keeps one column per tier.
    let total_h: f32 = cols.keys().map(|id| height(id) + GAP_Y).sum();
    let max_h = (total_h * (BOX_W + GAP_X) / 1.5).sqrt().max(1200.0);

    // Stack each tier into (sub-)columns of boxes, then centre each sub-column vertically.
    let mut stacks: Vec<(f32, Vec<(&ServiceId, f32)>)> = Vec::new();
    let mut x = 0.0;
    for ids in &order {
        let mut stack: Vec<(&ServiceId, f32)> = Vec::new();
        let mut y = 0.0;
        for id in ids {
            let h = height(id);
            if y > 0.0 && y + h > max_h {
                stacks.push((x, std::mem::take(&mut stack)));
                x += BOX_W + GAP_SUB_X;
                y = 0.0;
            }
            stack.push((id, h));
            y += h + GAP_Y;
        }
        stacks.push((x, stack));
        x += BOX_W + GAP_X;
    }
    let stack_h = |s: &[(&ServiceId, f32)]| s.iter().map(|(_, h)| h + GAP_Y).sum::<f32>() - GAP_Y;
    let tallest = stacks.iter().map(|(_, s)| stack_h(s)).fold(0.0, f32::max);

    let mut boxes = Vec::with_capacity(cols.len());
    let mut index: HashMap<&ServiceId, usize> = HashMap::new();
    let mut bounds = Rect::NOTHING;
    for (x, stack) in &stacks {
        let mut y = ((tallest - stack_h(stack)) * 0.5).max(0.0).round();
        for &(id, h) in stack {
            let rect = Rect::from_min_size(Pos2::new(*x, y), Vec2::new(BOX_W, h));
            bounds = bounds.union(rect);
            y += h + GAP_Y;
            let mut inst = members.remove(id).unwrap_or_default();
            inst.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let mut sources: Vec<SourceId> = inst.iter().map(|(_, s)| (*s).clone()).collect();
            sources.sort_unstable();
            sources.dedup();
            index.insert(id, boxes.len());
            boxes.push(ServiceBox {
                id: id.clone(),
                rect,
                instances: inst.into_iter().map(|(i, _)| i.clone()).collect(),
                sources,
                has_pool: has_pool(id),
            });
        }
    }

    // Edges: routes first (they carry the breakers), then calls; one line per pair.
    let mut pairs: Vec<(usize, usize, Option<BreakerId>)> = Vec::new();
    let mut seen = HashSet::new();
    let routes = state
        .routes
        .values()
        .map(|r| (&r.gateway, &r.service, r.breaker.clone()));
    let plain = state.edges.iter().map(|(a, b)| (a, b, None));
    for (a, b, breaker) in routes.chain(plain) {
        if let (Some(&a), Some(&b)) = (index.get(a), index.get(b))
            && a != b
        {
            if seen.insert((a, b)) {
                pairs.push((a, b, breaker));
            } else if breaker.is_some()
                && let Some(p) = pairs
                    .iter_mut()
                    .find(|p| p.0 == a && p.1 == b && p.2.is_none())
            {
                p.2 = breaker;
            }
        }
    }
    // Ports: a forward edge leaves its caller's right side and enters its callee's left
    // side; the edges on one side are spread down it in the order of the far ends, so
    // they fan out instead of meeting in one point.
    let forward = |a: usize, b: usize| boxes[b].rect.left() >= boxes[a].rect.right();
    let mut outs: Vec<Vec<usize>> = vec![Vec::new(); boxes.len()];
    let mut ins: Vec<Vec<usize>> = vec![Vec::new(); boxes.len()];
    for (e, &(a, b, _)) in pairs.iter().enumerate() {
        if forward(a, b) {
            outs[a].push(e);
            ins[b].push(e);
        }
    }
    let cy = |i: usize| boxes[i].rect.center().y;
    let mut out_y = vec![0.0; pairs.len()];
    let mut in_y = vec![0.0; pairs.len()];
    for (i, list) in outs.iter_mut().enumerate() {
        list.sort_by(|&e, &f| cy(pairs[e].1).total_cmp(&cy(pairs[f].1)).then(e.cmp(&f)));
        for (k, &e) in list.iter().enumerate() {
            out_y[e] = port_y(boxes[i].rect, k, list.len());
        }
    }
    for (i, list) in ins.iter_mut().enumerate() {
        list.sort_by(|&e, &f| cy(pairs[e].0).total_cmp(&cy(pairs[f].0)).then(e.cmp(&f)));
        for (k, &e) in list.iter().enumerate() {
            in_y[e] = port_y(boxes[i].rect, k, list.len());
        }
    }
    let edges = pairs
        .into_iter()
        .enumerate()
        .map(|(e, (from, to, breaker))| {
            let (ra, rb) = (boxes[from].rect, boxes[to].rect);
            let curve = if forward(from, to) {
                let p0 = Pos2::new(ra.right(), out_y[e]);
                let p3 = Pos2::new(rb.left(), in_y[e]);
                let dx = ((p3.x - p0.x) * 0.5).max(20.0);
                [p0, p0 + Vec2::new(dx, 0.0), p3 - Vec2::new(dx, 0.0), p3]
            } else if rb.right() <= ra.left() {
                // Backwards (a cut cycle): leave left, come round into the right side.
                let p0 = ra.left_center();
                let p3 = rb.right_center();
                let dx = ((p0.x - p3.x) * 0.5).max(40.0);
                [p0, p0 - Vec2::new(dx, 0.0), p3 + Vec2::new(dx, 0.0), p3]
            } else {
                // Same column: a loop out to the right.
                let p0 = ra.right_center();
                let p3 = rb.right_center();
                let dx = 40.0 + (p3.y - p0.y).abs() * 0.15;
                [p0, p0 + Vec2::new(dx, 0.0), p3 + Vec2::new(dx, 0.0), p3]
            };
            let badge = if forward(from, to) {
                let gap = curve[3].x - curve[0].x;
                bezier_at_x(&curve, curve[3].x - BADGE_INSET.min(gap * 0.4))
            } else {
                bezier_point(&curve, 0.5)
            };
            EdgeLine {
                from,
                to,
                breaker,
                bounds: Rect::from_points(&curve),
                curve,
                badge,
            }
        })
        .collect();
    Layout {
        version: state.topology_version,
        pools: pool_count(state),
        boxes,
        edges,
        bounds: if bounds.is_positive() {
            bounds
        } else {
            Rect::from_min_size(Pos2::ZERO, Vec2::splat(100.0))
        },
    }
}

/// Offset and zoom that show all of `bounds` centred in a canvas of `size`.
fn fit(bounds: Rect, size: Vec2) -> (Vec2, f32) {
    let b = bounds.expand(24.0);
    let zoom = (size.x / b.width())
        .min(size.y / b.height())
        .clamp(MIN_ZOOM, FIT_MAX_ZOOM);
    let offset = (size - b.size() * zoom) * 0.5 - b.min.to_vec2() * zoom;
    (offset, zoom)
}

/// Offset and zoom after zooming by `factor` about the canvas-local point `at`: the
/// world point under `at` stays under it.
fn zoom_about(offset: Vec2, zoom: f32, factor: f32, at: Vec2) -> (Vec2, f32) {
    let new_zoom = (zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
    let world = (at - offset) / zoom;
    (at - world * new_zoom, new_zoom)
}

/// What the pointer is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hit {
    /// Box `b`, instance `k`.
    Instance(usize, usize),
    Service(usize),
    /// Edge `e`'s breaker badge.
    Breaker(usize),
}

/// What a frame draws with: the snapshot, the transform and this frame's stale sources.
struct Frame<'a> {
    state: &'a State,
    visuals: &'a egui::Visuals,
    /// The map's screen rectangle.
    canvas: Rect,
    /// Screen position of the world origin.
    origin: Pos2,
    zoom: f32,
    /// Box text is legible at this zoom.
    text: bool,
    /// Radius of the breaker badges, screen.
    badge_r: f32,
    stale: &'a [SourceId],
    selected: Option<&'a str>,
}

impl Frame<'_> {
    fn pos(&self, p: Pos2) -> Pos2 {
        self.origin + p.to_vec2() * self.zoom
    }

    fn rect(&self, r: Rect) -> Rect {
        Rect::from_min_max(self.pos(r.min), self.pos(r.max))
    }

    fn world(&self, p: Pos2) -> Pos2 {
        ((p - self.origin) / self.zoom).to_pos2()
    }

    fn fresh(&self, source: &SourceId) -> bool {
        !self.stale.contains(source)
    }

    /// How many of a box's sources are stale: none, some or all.
    fn staleness(&self, b: &ServiceBox) -> Staleness {
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Staleness {
    Fresh,
    Partly,
    Stale,
}

/// Draws the topology: a one-line header, the map, and a one-line legend.
pub fn topology_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, view: &mut TopologyView) {
    let state = ctx.state;
    let pools = pool_count(state);
    if view
        .layout
        .as_ref()
        .is_none_or(|l| l.version != state.topology_version || l.pools != pools)
    {
        view.layout = Some(build_layout(state));
    }

    header_ui(ui, ctx, view);
    // The legend wraps on a narrow pane: room is kept for the height it took last
    // frame (one line at first), and a change is drawn again at once.
    let legend_id = ui.scope_id().with("legend-height");
    let one_line = ui.spacing().interact_size.y;
    let legend_h = ui
        .data(|d| d.get_temp::<f32>(legend_id))
        .unwrap_or(one_line);
    let room = legend_h + ui.spacing().item_spacing.y;
    let size = (ui.available_size() - Vec2::new(0.0, room)).max(Vec2::splat(60.0));
    let (canvas, response) = ui.allocate_exact_size(size, egui::Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Topology map"));
    map_ui(ui, ctx, view, canvas, &response);
    let took = legend_ui(ui).max(one_line);
    if (took - legend_h).abs() > 0.5 {
        ui.data_mut(|d| d.insert_temp(legend_id, took));
        ui.ctx().request_repaint();
    }
}

fn header_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, view: &mut TopologyView) {
    let state = ctx.state;
    let counts = state.instance_counts();
    let open = state
        .breakers
        .values()
        .filter(|b| b.state == BreakerState::Open)
        .count();
    let not_up = state
        .sources
        .values()
        .filter(|s| s.status != SourceStatus::Up)
        .count();
    ui.horizontal(|ui| {
        ui.label(RichText::new("Topology").strong());
        ui.label(
            RichText::new(format!(
                "{} services · {} instances · {} unhealthy",
                state.services.len(),
                counts.total(),
                counts.unhealthy
            ))
            .color(ui.visuals().weak_text_color()),
        );
        if open > 0 {
            ui.label(
                RichText::new(format!(
                    "· {open} breaker{} open",
                    if open == 1 { "" } else { "s" }
                ))
                .color(theme::BAD),
            );
        }
        if not_up > 0 {
            ui.label(
                RichText::new(format!(
                    "· {not_up} source{} not up (grey)",
                    if not_up == 1 { "" } else { "s" }
                ))
                .color(theme::WARN),
            );
        }
        if ui
            .small_button("Fit")
            .on_hover_text("Show everything (or double-click the background). Drag to pan, scroll or pinch to zoom.")
            .clicked()
        {
            view.moved = false;
        }
        if view.zoom > 0.0 {
            ui.label(
                RichText::new(format!("{:.0} %", view.zoom * 100.0))
                    .small()
                    .color(ui.visuals().weak_text_color()),
            );
        }
    });
}

fn map_ui(
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
        let Some(svc) = state.services.get(&b.id) else {
            continue;
        };
        let staleness = fx.staleness(b);
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
        match detail {
            Detail::Bars => health_bar(&mut mesh, &fx, b, svc, staleness),
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

/// The workflows for what was right-clicked: an instance's own (by its address), a
/// service's servers' (an HAProxy backend of that name).
fn context_menu_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, what: Option<&(bool, String)>) {
    if ctx.read_only {
        if let Some((_, name)) = what {
            ui.label(egui::RichText::new(name.as_str()).strong());
            if ui.button("Select").clicked() {
                ctx.push(UiCommand::Select(Some(name.clone())));
                ui.close();
            }
        }
        ui.weak("Read-only: nothing can act from here.");
        return;
    }
    let Some((instance, name)) = what else {
        if ui.button("Actions… (Ctrl+K)").clicked() {
            ctx.push(UiCommand::Palette);
            ui.close();
        }
        return;
    };
    ui.label(egui::RichText::new(name.as_str()).strong());
    ui.separator();
    let backend = format!("/{name}/");
    let mut any = false;
    for o in ctx.offers.iter().filter(|o| {
        if *instance {
            o.instance.as_deref() == Some(name.as_str())
        } else {
            o.target.contains(&backend)
        }
    }) {
        any = true;
        if ui
            .button(format!("{}…", o.label))
            .on_hover_text(o.kind.describe())
            .clicked()
        {
            ctx.push(UiCommand::Plan(o.kind, o.target.clone()));
            ui.close();
        }
    }
    if !any {
        ui.weak("No workflow acts on this here.");
    }
    if ui.button("Select").clicked() {
        ctx.push(UiCommand::Select(Some(name.clone())));
        ui.close();
    }
    if ui.button("All actions… (Ctrl+K)").clicked() {
        ctx.push(UiCommand::Palette);
        ui.close();
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

fn paint_edge(painter: &egui::Painter, fx: &Frame<'_>, edge: &EdgeLine, stroke: Stroke) {
    let pts = edge.curve.map(|p| fx.pos(p));
    painter.add(CubicBezierShape::from_points_stroke(
        pts,
        false,
        Color32::TRANSPARENT,
        stroke,
    ));
}

/// Glyph, name and healthy/total in the header; "stale" or the pool use on the right.
fn header_text(
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
    let (tag, tag_color) = match (staleness, svc.pool) {
        (Staleness::Stale, _) => (Some("stale".to_owned()), theme::STALE),
        (Staleness::Partly, _) => (Some("partly stale".to_owned()), theme::STALE),
        (Staleness::Fresh, Some(p)) if fx.zoom >= 0.8 => (
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
    painter.with_clip_rect(clip).text(
        gpos + Vec2::new(gr + 4.0, 0.0),
        Align2::LEFT_CENTER,
        format!("{}  {}/{}", b.id, c.healthy, c.total()),
        font,
        name_color,
    );
}

fn pool_bar(
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
fn health_bar(
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
fn instances_ui(
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
fn paint_badge(
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

/// When box text is too small: a floating tag (glyph and name) over each unhealthy,
/// degraded or selected service, unhealthy first; tags that would overlap are skipped.
fn name_tags(painter: &egui::Painter, fx: &Frame<'_>, layout: &Layout, tags: &mut [(usize, Rect)]) {
    let (canvas, visuals) = (fx.canvas, fx.visuals);
    let rank = |i: usize| {
        let b = &layout.boxes[i];
        let h = fx
            .state
            .services
            .get(&b.id)
            .map_or(Health::Unknown, |s| s.health);
        let selected = fx.selected == Some(b.id.as_str());
        (!selected, h != Health::Unhealthy, i)
    };
    tags.sort_unstable_by_key(|t| rank(t.0));
    let font = FontId::proportional(SMALL_FONT);
    for t in 0..tags.len() {
        let b = &layout.boxes[tags[t].0];
        let Some(svc) = fx.state.services.get(&b.id) else {
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

fn tooltip_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, fx: &Frame<'_>, layout: &Layout, hit: Hit) {
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
                && let Some(svc) = state.services.get(&b.id)
            {
                service_tooltip_ui(ui, ctx, b, svc);
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
            format_age(ctx.age_secs(inst.seen_at))
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

/// Health glyphs and words, the flapping mark, stale, breaker states: one compact line,
/// wrapped when the pane is narrow. Returns the height it took.
fn legend_ui(ui: &mut egui::Ui) -> f32 {
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use switchboard_core::sources::drill::simulate;
    use switchboard_core::{Event, EventBody, Timestamp};

    fn drill_state() -> State {
        let mut s = State::default();
        s.apply_all(&simulate(7, 300, 2));
        s
    }

    fn edge(a: &str, b: &str) -> Event {
        Event::new(
            Timestamp(0),
            SourceId::new("t"),
            EventBody::Edge {
                from: ServiceId::new(a),
                to: ServiceId::new(b),
            },
        )
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
            if state.services[b].role == ServiceRole::Service {
                assert!(
                    cols[a] < cols[b],
                    "caller {a} (column {}) left of callee {b} (column {})",
                    cols[a],
                    cols[b]
                );
            }
        }
        let a = build_layout(&state);
        let b = build_layout(&state);
        let rects = |l: &Layout| {
            l.boxes
                .iter()
                .map(|b| (b.id.clone(), b.rect, b.instances.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(rects(&a), rects(&b));
        assert_eq!(
            a.boxes.iter().map(|b| b.instances.len()).sum::<usize>(),
            state.instances.len()
        );
        for b in &a.boxes {
            assert!(b.instances.is_sorted(), "{} instances sorted", b.id);
        }
        assert!(
            a.edges.iter().any(|e| e.breaker.is_some()),
            "routes carry their breakers"
        );
        // Gateways are the leftmost boxes, the database the rightmost.
        let x = |name: &str| {
            a.boxes
                .iter()
                .find(|b| b.id.as_str() == name)
                .map(|b| b.rect.left())
        };
        let min_x = a
            .boxes
            .iter()
            .map(|b| b.rect.left())
            .fold(f32::MAX, f32::min);
        let max_x = a
            .boxes
            .iter()
            .map(|b| b.rect.left())
            .fold(f32::MIN, f32::max);
        assert_eq!(x("edge-gateway"), Some(min_x));
        assert_eq!(x("orders-db"), Some(max_x));
    }

    #[test]
    fn no_caller_means_column_one_and_a_cycle_does_not_stretch_the_layout() {
        let mut s = State::default();
        s.apply_all(&[
            edge("a", "b"),
            edge("b", "c"),
            edge("c", "a"),
            edge("x", "y"),
        ]);
        s.apply(&Event::new(
            Timestamp(0),
            SourceId::new("t"),
            EventBody::Service {
                service: ServiceId::new("gw"),
                role: ServiceRole::Gateway,
            },
        ));
        let cols = columns(&s);
        assert_eq!(cols.len(), 6);
        assert_eq!(cols["gw"], 0);
        assert_eq!(cols["x"], 1);
        assert_eq!(cols["y"], 2);
        assert!(cols.values().all(|&c| c <= 3), "{cols:?}");
        let l = build_layout(&s);
        assert_eq!(l.edges.len(), 4);
    }

    #[test]
    fn boxes_do_not_overlap_and_hold_their_squares() {
        let state = drill_state();
        let l = build_layout(&state);
        for (i, a) in l.boxes.iter().enumerate() {
            for b in &l.boxes[i + 1..] {
                assert!(!a.rect.intersects(b.rect), "{} overlaps {}", a.id, b.id);
            }
            if let Some(k) = a.instances.len().checked_sub(1) {
                assert!(
                    a.rect.contains_rect(a.square(k)),
                    "{} last square inside",
                    a.id
                );
                assert_eq!(a.instance_at(a.square(k).center()), Some(k));
            }
            assert_eq!(a.instance_at(a.rect.left_top()), None);
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
        let tiers: std::collections::BTreeSet<usize> =
            columns(&drill_state()).into_values().collect();
        assert_eq!(lefts.len(), tiers.len());
    }

    #[test]
    fn level_of_detail_switches_to_bars_when_small() {
        assert_eq!(detail(1.0), Detail::Glyphs);
        assert_eq!(detail(0.7), Detail::Glyphs);
        assert_eq!(detail(0.5), Detail::Squares);
        assert_eq!(detail(0.3), Detail::Squares);
        assert_eq!(detail(0.29), Detail::Bars);
        assert_eq!(detail(0.05), Detail::Bars);
        assert!(text_visible(1.0));
        assert!(!text_visible(0.5));
    }

    #[test]
    fn fit_shows_everything_and_zoom_keeps_the_point_under_the_pointer() {
        let bounds = Rect::from_min_size(Pos2::new(100.0, 50.0), Vec2::new(2000.0, 1000.0));
        let size = Vec2::new(1000.0, 800.0);
        let (offset, zoom) = fit(bounds, size);
        let to_screen = |p: Pos2, o: Vec2, z: f32| o + p.to_vec2() * z;
        for p in [bounds.min, bounds.max] {
            let s = to_screen(p, offset, zoom);
            assert!(
                (0.0..=size.x).contains(&s.x) && (0.0..=size.y).contains(&s.y),
                "{s:?}"
            );
        }
        let at = Vec2::new(300.0, 200.0);
        let world = (at - offset) / zoom;
        let (o2, z2) = zoom_about(offset, zoom, 1.7, at);
        assert!((z2 - zoom * 1.7).abs() < 1e-5);
        assert!((to_screen(world.to_pos2(), o2, z2) - at).length() < 1e-3);
        assert!((zoom_about(offset, zoom, 1e9, at).1 - MAX_ZOOM).abs() < 1e-6);
    }

    #[test]
    fn a_pool_that_appears_later_gets_room() {
        let mut s = drill_state();
        let before = build_layout(&s);
        let id = before
            .boxes
            .iter()
            .find(|b| !b.has_pool)
            .map_or_else(|| ServiceId::new("web"), |b| b.id.clone());
        s.apply(&Event::new(
            s.now,
            SourceId::new("drill"),
            EventBody::Pool {
                service: id.clone(),
                size: 10,
                in_use: 9,
                queued: 0,
            },
        ));
        assert_eq!(
            s.topology_version, before.version,
            "pools do not bump the version"
        );
        assert_ne!(pool_count(&s), before.pools, "but the layout key sees them");
        let after = build_layout(&s);
        let b = after.boxes.iter().find(|b| b.id == id).expect("box");
        assert!(b.has_pool);
    }

    /// Runs one headless frame of the panel with `events` as input.
    fn frame(
        ctx: &egui::Context,
        state: &State,
        view: &mut TopologyView,
        events: Vec<egui::Event>,
    ) -> Vec<UiCommand> {
        let commands = RefCell::new(Vec::new());
        let input = egui::RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, Vec2::new(1200.0, 800.0))),
            events,
            ..Default::default()
        };
        let mut out = ctx.run_ui(input, |ui| {
            let pctx = PanelCtx {
                state,
                now: state.now,
                selected: Some("checkout"),
                commands: &commands,
                offers: &[],
                read_only: false,
                wall: false,
            };
            topology_ui(ui, &pctx, view);
        });
        // Tessellate too, as a renderer would; a headless frame drops the textures.
        let prims = ctx.tessellate(std::mem::take(&mut out.shapes), out.pixels_per_point);
        assert!(!prims.is_empty());
        out.textures_delta.clear();
        commands.into_inner()
    }

    fn click(
        ctx: &egui::Context,
        state: &State,
        view: &mut TopologyView,
        at: Pos2,
    ) -> Vec<UiCommand> {
        let button = |pressed| egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        };
        frame(
            ctx,
            state,
            view,
            vec![egui::Event::PointerMoved(at), button(true)],
        );
        frame(ctx, state, view, vec![button(false)])
    }

    #[test]
    fn headless_frames_select_what_is_clicked() {
        let state = drill_state();
        let ctx = egui::Context::default();
        let mut view = TopologyView::default();
        for _ in 0..3 {
            assert!(frame(&ctx, &state, &mut view, Vec::new()).is_empty());
        }
        assert!(view.zoom > 0.0 && !view.moved);
        let layout = view.layout.as_ref().expect("layout");
        let b = layout
            .boxes
            .iter()
            .find(|b| !b.instances.is_empty())
            .expect("a box");
        let canvas = view.canvas.expect("drawn");
        let at = canvas.min + view.offset + b.square(0).center().to_vec2() * view.zoom;
        let first = b.instances[0].to_string();
        let service = b.id.to_string();
        let header = b.rect.left_top() + Vec2::new(BOX_W * 0.5, 4.0);
        let header = canvas.min + view.offset + header.to_vec2() * view.zoom;
        assert_eq!(
            click(&ctx, &state, &mut view, at),
            vec![UiCommand::Select(Some(first))]
        );
        assert_eq!(
            click(&ctx, &state, &mut view, header),
            vec![UiCommand::Select(Some(service))]
        );
        let empty = click(&ctx, &state, &mut view, Pos2::new(1195.0, 700.0));
        assert_eq!(empty, vec![UiCommand::Select(None)]);
    }
}
