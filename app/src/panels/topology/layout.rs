//! The topology's graph layout, pure geometry (no painting, no egui context): a column
//! per tier, the boxes' order within a column, their positions, the edges' curves and
//! badges, and the cached layout of a state.
//!
//! Services are laid out in columns: gateways first, then each service one column after
//! the furthest caller that reaches it (longest path; a cycle is cut, never followed),
//! databases last. Within a column, boxes are ordered by name and then swept a few times
//! towards the mean position of their neighbours, which removes most edge crossings while
//! staying deterministic. Tall tiers wrap into sub-columns. The layout is built once per
//! `State::topology_version` (and when a pool first appears: [`refresh`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use egui::{Pos2, Rect, Vec2};
use switchboard_core::State;
use switchboard_core::model::{BreakerId, InstanceId, ServiceId, ServiceRole, SourceId};

/// Instance square size, world units.
pub(super) const SQUARE: f32 = 10.0;
/// Distance between squares.
pub(super) const PITCH: f32 = 13.0;
/// Squares per row in a box.
pub(super) const PER_ROW: usize = 14;
/// Inner padding of a box.
pub(super) const PAD: f32 = 6.0;
/// Box width: exactly a row of squares plus the padding.
pub(super) const BOX_W: f32 = PAD * 2.0 + PITCH * (PER_ROW - 1) as f32 + SQUARE;
/// Header height.
pub(super) const HEADER_H: f32 = 22.0;
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

/// One service's place in the layout.
#[derive(Clone, Debug)]
pub(super) struct ServiceBox {
    /// The service.
    pub(super) id: ServiceId,
    /// World rectangle.
    pub(super) rect: Rect,
    /// Instances in a stable order (sorted by name).
    pub(super) instances: Vec<InstanceId>,
    /// The distinct sources reporting its instances, sorted.
    pub(super) sources: Vec<SourceId>,
    /// Room was made for the pool bar.
    pub(super) has_pool: bool,
}

impl ServiceBox {
    /// World y of the first row of squares (under the header and the pool bar).
    pub(super) fn grid_top(&self) -> f32 {
        self.rect.top() + HEADER_H + if self.has_pool { POOL_H } else { 0.0 }
    }

    /// World rectangle of instance `k`.
    pub(super) fn square(&self, k: usize) -> Rect {
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
    pub(super) fn grid(&self) -> Rect {
        Rect::from_min_max(
            Pos2::new(self.rect.left() + PAD, self.grid_top()),
            Pos2::new(self.rect.right() - PAD, self.rect.bottom() - PAD),
        )
    }

    /// World rectangle of the pool bar, under the header.
    pub(super) fn pool_bar(&self) -> Rect {
        Rect::from_min_size(
            Pos2::new(self.rect.left() + PAD, self.rect.top() + HEADER_H - 1.0),
            Vec2::new(BOX_W - 2.0 * PAD, 4.0),
        )
    }

    /// The instance under world point `p`, if any.
    pub(super) fn instance_at(&self, p: Pos2) -> Option<usize> {
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
pub(super) struct EdgeLine {
    /// The caller's box.
    pub(super) from: usize,
    /// The callee's box.
    pub(super) to: usize,
    /// The breaker guarding the route, if it is one and has one.
    pub(super) breaker: Option<BreakerId>,
    /// Cubic Bézier control points, world.
    pub(super) curve: [Pos2; 4],
    /// World bounds of the curve, for culling.
    pub(super) bounds: Rect,
    /// Where the breaker badge sits, world.
    pub(super) badge: Pos2,
}

/// Where everything is, in world units, for one topology.
#[derive(Clone, Debug)]
pub(super) struct Layout {
    /// The `State::topology_version` it was built for.
    pub(super) version: u64,
    /// The services with a sampled pool when it was built ([`pool_count`]).
    pub(super) pools: usize,
    /// One box per service, column by column.
    pub(super) boxes: Vec<ServiceBox>,
    /// One line per caller and callee pair, routes first.
    pub(super) edges: Vec<EdgeLine>,
    /// World bounds of every box (a small square when there is none).
    pub(super) bounds: Rect,
}

/// The layout of `state`, kept in `cache` while the topology (its version) and the pools
/// it made room for stay the same, and built again when either changed.
pub(super) fn refresh(cache: &mut Option<Layout>, state: &State) {
    let pools = pool_count(state);
    if cache
        .as_ref()
        .is_none_or(|l| l.version != state.topology_version || l.pools != pools)
    {
        *cache = Some(build_layout(state));
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

/// World height of a box of `instances` squares (with room for a pool bar or not).
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

/// Lays out every service, instance and call of `state`.
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
            // A gateway is fresh as long as its own source is (its API is what shows it).
            let own = SourceId::new(id.as_str());
            if state
                .services
                .get(id)
                .is_some_and(|s| s.role == switchboard_core::model::ServiceRole::Gateway)
                && state.sources.contains_key(&own)
            {
                sources.push(own);
            }
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

#[cfg(test)]
mod tests {
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
}
