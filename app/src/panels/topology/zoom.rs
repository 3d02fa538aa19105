//! Zoom, pure arithmetic: the view that fits the layout into the canvas, zooming about
//! the pointer, and how much detail (glyphs, squares, bars; text or none) a zoom allows.

use egui::{Rect, Vec2};

use super::layout::SQUARE;

/// Zoom range (screen pixels per world unit); fitting never zooms in past `FIT_MAX_ZOOM`.
const MIN_ZOOM: f32 = 0.02;
const MAX_ZOOM: f32 = 8.0;
const FIT_MAX_ZOOM: f32 = 1.5;
/// Header font at zoom 1, world units.
pub(super) const HEADER_FONT: f32 = 12.0;

/// Below this on-screen size, squares give way to one health bar per service.
pub const MIN_SQUARE_PX: f32 = 3.0;
/// From this on-screen size up, instances are drawn as their health glyph (shape cue).
pub const MIN_GLYPH_PX: f32 = 7.0;
/// Below this on-screen font size, box text is not drawn.
pub const MIN_TEXT_PX: f32 = 6.5;

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
pub(super) fn text_visible(zoom: f32) -> bool {
    HEADER_FONT * zoom >= MIN_TEXT_PX
}

/// Offset and zoom that show all of `bounds` centred in a canvas of `size`.
pub(super) fn fit(bounds: Rect, size: Vec2) -> (Vec2, f32) {
    let b = bounds.expand(24.0);
    let zoom = (size.x / b.width())
        .min(size.y / b.height())
        .clamp(MIN_ZOOM, FIT_MAX_ZOOM);
    let offset = (size - b.size() * zoom) * 0.5 - b.min.to_vec2() * zoom;
    (offset, zoom)
}

/// Offset and zoom after zooming by `factor` about the canvas-local point `at`: the
/// world point under `at` stays under it.
pub(super) fn zoom_about(offset: Vec2, zoom: f32, factor: f32, at: Vec2) -> (Vec2, f32) {
    let new_zoom = (zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
    let world = (at - offset) / zoom;
    (at - world * new_zoom, new_zoom)
}

#[cfg(test)]
mod tests {
    use egui::Pos2;

    use super::*;

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
}
