//! Topology panel: gateways, services and instances, coloured *and shaped* by health,
//! with the routes' breakers shown by state.
//!
//! Each service is a box with a header (glyph, name, healthy/total), a pool bar when its
//! pool is sampled, and one square per instance. The geometry is pure and cached per
//! topology version ([`layout`]); health is read from the snapshot every frame.
//!
//! Drawing is custom painting ([`paint`]), culled to the visible rectangle, with a level
//! of detail set by the zoom ([`zoom`]): instance glyphs when a square is large enough,
//! plain squares below that, and one stacked health bar per service when smaller still.
//! Text too small to read is not drawn; unhealthy and degraded services then keep a
//! floating name tag so the overview still says *which* service is sick. Whatever comes
//! from a source that is not up is drawn grey and marked stale.
//!
//! Drag to pan, wheel or pinch to zoom around the pointer, double-click the background
//! or press Fit to see everything ([`map`]). Until the user pans or zooms, the view keeps
//! fitting the layout as services arrive and the panel resizes. Hovering shows a tooltip
//! ([`tooltip`]), a right-click the workflows on offer ([`menu`]); a legend sits under
//! the map ([`legend`]). [`panel`] holds the view kept between frames and the frame.

mod layout;
mod legend;
mod map;
mod menu;
mod paint;
mod panel;
mod tooltip;
mod zoom;

pub use self::panel::{TopologyView, topology_ui};
