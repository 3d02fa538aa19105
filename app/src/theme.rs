//! Colours, glyphs and small formatting helpers shared by the panels.
//!
//! The palette is Okabe-Ito, which stays distinct for the common forms of colour
//! blindness, and state is never told by colour alone: every state also has a shape
//! (circle, triangle, square with a cross, ring) and a word. The same colours serve the
//! dark and the light theme: state badges carry black text on their fill.

use egui::{Color32, Pos2, Shape, Stroke, Vec2};
use switchboard_core::Timestamp;
use switchboard_core::model::{BreakerState, Health, QuorumState, SourceStatus};

/// Bluish green: healthy, closed.
pub const GOOD: Color32 = Color32::from_rgb(0, 158, 115);
/// Orange: degraded, at risk, near trip.
pub const WARN: Color32 = Color32::from_rgb(230, 159, 0);
/// Vermillion: unhealthy, lost, open.
pub const BAD: Color32 = Color32::from_rgb(213, 94, 0);
/// Reddish purple: split brain (worse than lost, and distinct from it).
pub const SPLIT: Color32 = Color32::from_rgb(204, 121, 167);
/// Sky blue: half-open, informational.
pub const INFO: Color32 = Color32::from_rgb(86, 180, 233);
/// Grey: unknown or stale.
pub const STALE: Color32 = Color32::from_rgb(128, 128, 128);
/// Yellow of the drill banner.
pub const DRILL: Color32 = Color32::from_rgb(240, 228, 66);

/// The theme last chosen in the window, from the data directory's `theme.txt`.
pub fn load_choice(data_dir: &std::path::Path) -> Option<egui::Theme> {
    match std::fs::read_to_string(data_dir.join("theme.txt"))
        .ok()?
        .trim()
    {
        "light" => Some(egui::Theme::Light),
        "dark" => Some(egui::Theme::Dark),
        _ => None,
    }
}

/// Keeps the theme chosen in the window for the next start.
pub fn save_choice(data_dir: &std::path::Path, theme: egui::Theme) -> Result<(), String> {
    let word = match theme {
        egui::Theme::Light => "light",
        egui::Theme::Dark => "dark",
    };
    std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(data_dir.join("theme.txt"), word))
        .map_err(|e| format!("cannot keep the theme: {e} ({})", data_dir.display()))
}

/// Shape that goes with a state, so colour is never the only cue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Glyph {
    /// Filled circle: fine.
    Circle,
    /// Triangle: warning.
    Triangle,
    /// Square with a cross: failed.
    Cross,
    /// Diamond: split.
    Diamond,
    /// Ring: unknown, stale.
    Ring,
}

/// Colour, glyph and word of an instance or service health.
pub fn health_style(h: Health) -> (Color32, Glyph, &'static str) {
    match h {
        Health::Healthy => (GOOD, Glyph::Circle, "healthy"),
        Health::Degraded => (WARN, Glyph::Triangle, "degraded"),
        Health::Unhealthy => (BAD, Glyph::Cross, "unhealthy"),
        Health::Unknown => (STALE, Glyph::Ring, "unknown"),
    }
}

/// Colour, glyph and word of a quorum state.
pub fn quorum_style(q: QuorumState) -> (Color32, Glyph, &'static str) {
    match q {
        QuorumState::Healthy => (GOOD, Glyph::Circle, "HEALTHY"),
        QuorumState::AtRisk => (WARN, Glyph::Triangle, "AT RISK"),
        QuorumState::Lost => (BAD, Glyph::Cross, "LOST"),
        QuorumState::Split => (SPLIT, Glyph::Diamond, "SPLIT"),
    }
}

/// Colour, glyph and word of a log entry's severity.
pub fn severity_style(s: switchboard_core::Severity) -> (Color32, Glyph, &'static str) {
    use switchboard_core::Severity;
    match s {
        Severity::Good => (GOOD, Glyph::Circle, "ok"),
        Severity::Info => (INFO, Glyph::Ring, "info"),
        Severity::Warn => (WARN, Glyph::Triangle, "warn"),
        Severity::Critical => (BAD, Glyph::Cross, "crit"),
    }
}

/// Colour, glyph and word of a breaker state.
pub fn breaker_style(b: BreakerState) -> (Color32, Glyph, &'static str) {
    match b {
        BreakerState::Closed => (GOOD, Glyph::Circle, "CLOSED"),
        BreakerState::HalfOpen => (INFO, Glyph::Triangle, "HALF-OPEN"),
        BreakerState::Open => (BAD, Glyph::Cross, "OPEN"),
    }
}

/// Colour, glyph and words of where a service that chooses sends its traffic: its first
/// choice calm, another one a warning, nothing at all a failure ("sends to sparesvc@file
/// · not its first choice").
pub fn choice_style(c: &switchboard_core::model::Choice) -> (Color32, Glyph, String) {
    match (&c.chosen, c.primary) {
        (Some(to), true) => (GOOD, Glyph::Circle, format!("sends to {to}")),
        (Some(to), false) => (
            WARN,
            Glyph::Triangle,
            format!("sends to {to} · not its first choice"),
        ),
        (None, _) => (
            BAD,
            Glyph::Cross,
            "sends to nothing: no part can take the traffic".to_owned(),
        ),
    }
}

/// Colour, glyph and word of a source status.
pub fn source_style(s: SourceStatus) -> (Color32, Glyph, &'static str) {
    match s {
        SourceStatus::Up => (GOOD, Glyph::Circle, "up"),
        SourceStatus::Down => (BAD, Glyph::Cross, "down"),
        SourceStatus::Stale => (STALE, Glyph::Ring, "stale"),
    }
}

/// Paints `glyph` centred on `c` with radius `r`.
pub fn paint_glyph(painter: &egui::Painter, c: Pos2, r: f32, glyph: Glyph, color: Color32) {
    match glyph {
        Glyph::Circle => {
            painter.circle_filled(c, r, color);
        }
        Glyph::Ring => {
            painter.circle_stroke(c, r * 0.8, Stroke::new((r * 0.35).max(1.0), color));
        }
        Glyph::Triangle => {
            let pts = vec![
                c + Vec2::new(0.0, -r),
                c + Vec2::new(r * 0.95, r * 0.8),
                c + Vec2::new(-r * 0.95, r * 0.8),
            ];
            painter.add(Shape::convex_polygon(pts, color, Stroke::NONE));
        }
        Glyph::Cross => {
            let rect = egui::Rect::from_center_size(c, Vec2::splat(r * 1.8));
            painter.rect_filled(rect, 1.0, color);
            // The cross contrasts with its square (a black square on a banner: white lines).
            let dark = u16::from(color.r()) + u16::from(color.g()) + u16::from(color.b()) < 200;
            let line = if dark { Color32::WHITE } else { Color32::BLACK };
            let s = Stroke::new((r * 0.3).max(1.0), line);
            let d = r * 0.55;
            painter.line_segment([c + Vec2::new(-d, -d), c + Vec2::new(d, d)], s);
            painter.line_segment([c + Vec2::new(-d, d), c + Vec2::new(d, -d)], s);
        }
        Glyph::Diamond => {
            let pts = vec![
                c + Vec2::new(0.0, -r),
                c + Vec2::new(r, 0.0),
                c + Vec2::new(0.0, r),
                c + Vec2::new(-r, 0.0),
            ];
            painter.add(Shape::convex_polygon(pts, color, Stroke::NONE));
        }
    }
}

/// A full-width strip of strong black text on `fill`: what kind of console this is
/// (DRILL, REPLAY), above everything else.
pub fn strip(ui: &mut egui::Ui, fill: Color32, text: &str) {
    egui::Frame::new()
        .fill(fill)
        .inner_margin(egui::Margin::symmetric(8, 3))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.vertical_centered(|ui| {
                ui.label(egui::RichText::new(text).color(Color32::BLACK).strong());
            });
        });
}

/// A state badge: glyph plus word on a tinted background. Returns its response.
pub fn badge(ui: &mut egui::Ui, color: Color32, glyph: Glyph, word: &str) -> egui::Response {
    let font = egui::TextStyle::Button.resolve(ui.style());
    let galley = ui
        .painter()
        .layout_no_wrap(word.to_owned(), font, Color32::BLACK);
    let h = galley.size().y + 4.0;
    let size = Vec2::new(galley.size().x + h + 10.0, h);
    let (rect, resp) = ui.allocate_exact_size(size, egui::Sense::hover());
    let p = ui.painter();
    p.rect_filled(rect, 3.0, color);
    paint_glyph(
        p,
        rect.left_center() + Vec2::new(h * 0.5 + 2.0, 0.0),
        h * 0.28,
        glyph,
        Color32::BLACK,
    );
    p.galley(
        rect.left_top() + Vec2::new(h + 4.0, 2.0),
        galley,
        Color32::BLACK,
    );
    // Painted text is invisible to screen readers and tests: describe the badge.
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, word));
    resp
}

/// A glyph and a word as one widget, so wrapping rows never split them.
pub fn chip(ui: &mut egui::Ui, color: Color32, glyph: Glyph, text: &str) -> egui::Response {
    let font = egui::TextStyle::Body.resolve(ui.style());
    let galley = ui
        .painter()
        .layout_no_wrap(text.to_owned(), font, ui.visuals().text_color());
    let h = galley.size().y;
    let (rect, resp) = ui.allocate_exact_size(
        Vec2::new(galley.size().x + h + 2.0, h),
        egui::Sense::hover(),
    );
    paint_glyph(
        ui.painter(),
        rect.left_center() + Vec2::new(h * 0.45, 0.0),
        h * 0.3,
        glyph,
        color,
    );
    ui.painter().galley(
        rect.left_top() + Vec2::new(h + 2.0, 0.0),
        galley,
        ui.visuals().text_color(),
    );
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, text));
    resp
}

/// "12 s", "4 min", "3 h".
pub fn format_age(secs: f64) -> String {
    if secs < 10.0 {
        format!("{secs:.1} s")
    } else if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 7200.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

/// `HH:MM:SS` (UTC) of a timestamp.
pub fn clock_time(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    s.get(11..19).unwrap_or(&s).to_owned()
}

/// Bytes as "24.6 MB".
pub fn format_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(format_age(0.42), "0.4 s");
        assert_eq!(format_age(42.0), "42 s");
        assert_eq!(format_age(600.0), "10 min");
        assert_eq!(format_age(36_000.0), "10.0 h");
    }

    #[test]
    fn every_state_has_a_distinct_glyph_or_word() {
        let words: Vec<&str> = [
            QuorumState::Healthy,
            QuorumState::AtRisk,
            QuorumState::Lost,
            QuorumState::Split,
        ]
        .into_iter()
        .map(|q| quorum_style(q).2)
        .collect();
        assert_eq!(words, ["HEALTHY", "AT RISK", "LOST", "SPLIT"]);
        assert_ne!(
            breaker_style(BreakerState::Open).1,
            breaker_style(BreakerState::Closed).1
        );
    }
}
