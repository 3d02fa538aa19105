//! The topology panel itself: the view kept between frames (pan, zoom, the cached layout,
//! reused buffers), and the frame: a one-line header, the map, and the legend.

use egui::{Rect, RichText, Stroke, Vec2};
use switchboard_core::model::{BreakerState, SourceId, SourceStatus};

use super::super::PanelCtx;
use super::layout::{self, Layout};
use super::legend::legend_ui;
use super::map::map_ui;
use crate::theme;

/// Pan, zoom, the cached layout and buffers reused from frame to frame.
#[derive(Default)]
pub struct TopologyView {
    /// Screen offset of the world origin, relative to the canvas' top-left.
    pub(super) offset: Vec2,
    /// Screen pixels per world unit.
    pub(super) zoom: f32,
    /// The user panned or zoomed: stop following the fitted view.
    pub(super) moved: bool,
    /// After the first fit, zoom to this scale around the canvas centre.
    pub(super) zoom_after_fit: Option<f32>,
    /// The layout of the last state drawn ([`layout::refresh`]).
    pub(super) layout: Option<Layout>,
    /// Sources that are not up, this frame.
    pub(super) stale: Vec<SourceId>,
    /// Outlines painted on top of the squares (flapping, selection).
    pub(super) marks: Vec<(Rect, Stroke)>,
    /// Name tags shown when box text is too small, and where they landed.
    pub(super) tags: Vec<(usize, Rect)>,
    /// Vertex and index counts of last frame's mesh, to reserve at once.
    pub(super) mesh_size: (usize, usize),
    /// Where the map was drawn last frame, screen.
    pub(super) canvas: Option<Rect>,
    /// What the open context menu is for: an instance or a service, by name.
    pub(super) menu_for: Option<(bool, String)>,
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

/// Draws the topology: a one-line header, the map, and a one-line legend.
pub fn topology_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, view: &mut TopologyView) {
    layout::refresh(&mut view.layout, ctx.state);
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

/// The header line: counts, what is open or stale, Fit, and the zoom.
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use egui::{Pos2, Rect};
    use switchboard_core::State;
    use switchboard_core::sources::drill::simulate;

    use super::super::super::UiCommand;
    use super::super::layout::BOX_W;
    use super::*;

    fn drill_state() -> State {
        let mut s = State::default();
        s.apply_all(&simulate(7, 300, 2));
        s
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
