//! The tiles behaviour: how each pane of the layout is drawn, its tab title (with the
//! freshness of its sources), and whether the operator edited the layout.

use egui::RichText;
use switchboard_core::Timestamp;
use switchboard_core::workflow::desk::Desk;

use crate::layout::Pane;
use crate::panels::{
    self, BackendsView, BreakersView, EventsView, IncidentsView, MetricsView, PanelCtx,
    TopologyView, WorkflowsView,
};
use crate::{notebook, theme};

/// Draws the panes of one frame.
pub(super) struct Behavior<'a, 'b> {
    pub(super) ctx: &'a PanelCtx<'b>,
    pub(super) freshness: &'a [(Pane, panels::Freshness)],
    pub(super) topology: &'a mut TopologyView,
    pub(super) breakers: &'a mut BreakersView,
    pub(super) backends: &'a mut BackendsView,
    pub(super) metrics: &'a mut MetricsView,
    pub(super) events: &'a mut EventsView,
    pub(super) desk: Option<&'a Desk>,
    /// The desk's clock this frame (ages of journaled runs).
    pub(super) desk_now: Timestamp,
    pub(super) workflows: &'a mut WorkflowsView,
    pub(super) incidents: &'a mut IncidentsView,
    pub(super) notebook: Option<&'a notebook::Notebook>,
    pub(super) edited: bool,
}

impl Behavior<'_, '_> {
    /// The freshness of a pane's sources (none for local panes).
    fn fresh(&self, pane: Pane) -> Option<&panels::Freshness> {
        self.freshness
            .iter()
            .find(|(p, _)| *p == pane)
            .map(|(_, f)| f)
    }
}

impl egui_tiles::Behavior<Pane> for Behavior<'_, '_> {
    fn pane_ui(
        &mut self,
        ui: &mut egui::Ui,
        _tile: egui_tiles::TileId,
        pane: &mut Pane,
    ) -> egui_tiles::UiResponse {
        let stopped = self
            .fresh(*pane)
            .is_some_and(panels::Freshness::all_stopped);
        let frame = egui::Frame::new().inner_margin(4.0);
        // Every source behind this tile stopped: the whole tile is framed grey.
        let frame = if stopped {
            frame.stroke(egui::Stroke::new(2.0, theme::STALE))
        } else {
            frame
        };
        frame.show(ui, |ui| match pane {
                Pane::Topology => panels::topology_ui(ui, self.ctx, self.topology),
                Pane::Breakers => panels::breakers_ui(ui, self.ctx, self.breakers),
                Pane::Quorum => panels::quorum_ui(ui, self.ctx),
                Pane::Events => panels::events_ui(ui, self.ctx, self.events),
                Pane::Incidents => panels::incidents_ui(
                    ui,
                    self.ctx,
                    self.incidents,
                    self.notebook,
                ),
                Pane::Backends => panels::backends_ui(ui, self.ctx, self.backends),
                Pane::Metrics => panels::metrics_ui(ui, self.ctx, self.metrics),
                Pane::Databases => panels::databases_ui(ui, self.ctx),
                Pane::Dns => panels::dns_ui(ui, self.ctx),
                Pane::Workflows => match self.desk {
                    Some(desk) => panels::journal_ui(ui, self.ctx, self.desk_now, desk, self.workflows),
                    None => {
                        ui.weak("This console runs no workflows (replay, or no data directory for the journal).");
                    }
                },
            });
        egui_tiles::UiResponse::None
    }

    fn tab_title_for_pane(&mut self, pane: &Pane) -> egui::WidgetText {
        match self.fresh(*pane) {
            Some(f) if f.stopped > 0 => RichText::new(format!("{} · {}", pane.title(), f.cue()))
                .color(theme::STALE)
                .into(),
            _ => pane.title().into(),
        }
    }

    fn top_bar_right_ui(
        &mut self,
        tiles: &egui_tiles::Tiles<Pane>,
        ui: &mut egui::Ui,
        _tile_id: egui_tiles::TileId,
        tabs: &egui_tiles::Tabs,
        _scroll_offset: &mut f32,
    ) {
        if let Some(egui_tiles::Tile::Pane(pane)) = tabs.active.and_then(|id| tiles.get(id))
            && let Some(f) = self.fresh(*pane)
        {
            ui.add_space(6.0);
            panels::freshness_cue_ui(ui, f);
        }
    }

    fn on_edit(&mut self, _action: egui_tiles::EditAction) {
        self.edited = true;
    }

    fn simplification_options(&self) -> egui_tiles::SimplificationOptions {
        egui_tiles::SimplificationOptions {
            all_panes_must_have_tabs: true,
            ..Default::default()
        }
    }
}
