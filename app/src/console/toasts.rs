//! Toasts: critical log entries and recovering incidents, shown for a few seconds in
//! the bottom right corner.

use std::time::{Duration, Instant};

use super::Console;
use crate::theme;

impl Console {
    /// Toasts for what matters (critical log entries, incidents recovering), eight
    /// seconds each, at most four, in the bottom right corner.
    pub(super) fn toasts_ui(
        &mut self,
        ctx: &egui::Context,
        state: &switchboard_core::State,
        area: egui::Rect,
    ) {
        // Held, the newest entry seen keeps its address: no later entry can take it.
        let newest = state.log.back().cloned();
        if let Some(seen) = &self.toasted {
            let fresh: Vec<_> = state
                .log
                .iter()
                .rev()
                .take_while(|e| !std::sync::Arc::ptr_eq(e, seen))
                .cloned()
                .collect();
            for e in fresh.into_iter().rev() {
                toast_news(&mut self.toasts, e, Instant::now());
            }
        }
        // The first frame's log is history, not news.
        if newest.is_some() {
            self.toasted = newest;
        }
        self.toasts
            .retain(|(_, at)| at.elapsed() < Duration::from_secs(8));
        let excess = self.toasts.len().saturating_sub(4);
        self.toasts.drain(..excess);
        if self.toasts.is_empty() {
            return;
        }
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -12.0))
            .constrain_to(area)
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                for (e, _) in &self.toasts {
                    let (color, glyph, _) = theme::severity_style(e.severity);
                    egui::Frame::popup(ui.style())
                        .stroke(egui::Stroke::new(2.0, color))
                        .show(ui, |ui| {
                            ui.set_max_width(420.0);
                            ui.horizontal(|ui| {
                                theme::badge(ui, color, glyph, &e.subject);
                                ui.label(&e.message);
                            });
                        });
                }
            });
        ctx.request_repaint_after(Duration::from_secs(1));
    }
}

/// The toasts on screen, each with when it came.
pub(super) type Toasts = Vec<(std::sync::Arc<switchboard_core::LogEntry>, Instant)>;

/// Takes a log entry newer than every toast: news (a critical entry, an incident's
/// recovery) becomes a toast. News or a good turn of a subject ends that subject's
/// toast (a breaker that closed again, a quorum that healed, an incident recovered),
/// so a sped-up drill or a quick flap never leaves a toast saying what is no longer
/// true. Routine entries about it (a replica count, "no leader") do not.
fn toast_news(toasts: &mut Toasts, e: std::sync::Arc<switchboard_core::LogEntry>, now: Instant) {
    use switchboard_core::Severity;
    let good = e.severity == Severity::Good;
    let news = e.severity == Severity::Critical || (good && e.subject.starts_with("incident"));
    if news || good {
        toasts.retain(|(t, _)| t.subject != e.subject);
    }
    if news {
        toasts.push((e, now));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use switchboard_core::{LogEntry, Severity, Timestamp};

    use super::{Instant, Toasts, toast_news};

    pub(super) fn entry(severity: Severity, subject: &str, message: &str) -> Arc<LogEntry> {
        Arc::new(LogEntry {
            at: Timestamp(0),
            source: switchboard_core::model::SourceId::new("test"),
            severity,
            subject: subject.into(),
            message: message.into(),
        })
    }

    pub(super) fn shown(t: &Toasts) -> Vec<&str> {
        t.iter().map(|(e, _)| e.message.as_str()).collect()
    }

    #[test]
    pub(super) fn news_is_a_toast_until_the_subject_turns_good_not_before() {
        let mut t = Toasts::new();
        let now = Instant::now();
        toast_news(
            &mut t,
            entry(Severity::Critical, "pg", "no reachable primary"),
            now,
        );
        // Patroni's next lines about the same cluster in the same poll.
        toast_news(
            &mut t,
            entry(Severity::Info, "pg", "the DCS names no leader"),
            now,
        );
        toast_news(&mut t, entry(Severity::Warn, "pg", "1 of 3 ready"), now);
        assert_eq!(shown(&t), ["no reachable primary"], "routine lines keep it");
        toast_news(
            &mut t,
            entry(Severity::Critical, "incident #4", "opened"),
            now,
        );
        toast_news(&mut t, entry(Severity::Good, "pg", "primary pg-2"), now);
        assert_eq!(shown(&t), ["opened"], "a good turn of pg ends its toast");
        toast_news(
            &mut t,
            entry(Severity::Good, "incident #4", "recovered"),
            now,
        );
        assert_eq!(
            shown(&t),
            ["recovered"],
            "the recovery replaces the opening"
        );
    }
}
