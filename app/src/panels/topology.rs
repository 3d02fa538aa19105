//! Topology panel (placeholder until the painter lands).

/// Pan, zoom and cached layout.
#[derive(Default)]
pub struct TopologyView;

/// Draws the topology.
pub fn topology_ui(ui: &mut egui::Ui, ctx: &super::PanelCtx<'_>, _view: &mut TopologyView) {
    ui.label("Topology");
    ui.label(format!("{} services", ctx.state.services.len()));
}
