//! Breaker detail: the failure rate against the threshold over the last ten minutes
//! (`egui_plot`), with the near-trip band and every flip marked, plus the breaker's
//! settings and its flip history; below, the protected service's metric series (p50 and
//! p99 latency) on the same time axis, when a source samples them.

use egui::RichText;
use egui_plot::{HLine, Legend, Line, LineStyle, Plot, PlotPoints, VLine};
use switchboard_core::Breaker;
use switchboard_core::model::BreakerState;

use super::PanelCtx;
use super::breakers::near_trip_words;
use crate::theme::{self, badge, breaker_style, clock_time, format_age};

/// Draws the detail of breaker `id`.
pub fn breaker_detail_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, id: &str, b: &Breaker) {
    let (color, glyph, word) = breaker_style(b.state);
    ui.horizontal(|ui| {
        ui.label(RichText::new(id).strong().size(16.0));
        badge(ui, color, glyph, word);
        if b.near_trip {
            ui.colored_label(theme::WARN, near_trip_words(b));
        }
    });
    let c = &b.config;
    if let Some(how) = &b.inferred {
        ui.label(RichText::new(how).color(theme::WARN));
    }
    if b.computed {
        ui.label(format!(
            "{} by the console: opens at {:.0} % failures over {} s (at least {} calls) or {} failures in a row; \
             cooldown {} s; {} good trial calls close it",
            if b.inferred.is_some() {
                "followed"
            } else {
                "computed"
            },
            c.failure_rate_threshold * 100.0,
            c.window_millis / 1000,
            c.min_calls,
            c.consecutive_failures,
            c.cooldown_millis / 1000,
            c.trial_calls
        ));
    } else if let Some(d) = &b.detail {
        ui.label(format!("reported by {}: {d}", b.source));
    }
    ui.weak(format!(
        "now {:.1} % failures over {} calls · {}",
        b.failure_rate * 100.0,
        b.volume,
        b.last_flip.map_or_else(
            || "never flipped".to_owned(),
            |t| format!("last flip {} ago", format_age(ctx.age_secs(t)))
        )
    ));

    let now = ctx.now;
    let secs = |t: switchboard_core::Timestamp| -(now.millis_since(t) as f64) / 1000.0;
    let points: Vec<[f64; 2]> = b
        .history
        .iter()
        .map(|(t, r)| [secs(*t), f64::from(*r) * 100.0])
        .collect();
    let threshold = c.failure_rate_threshold * 100.0;
    let rate_color = ui.visuals().strong_text_color();
    Plot::new(("breaker-plot", id))
        .height(200.0)
        .legend(Legend::default())
        .include_y(0.0)
        .include_y(100.0)
        .include_x(-600.0)
        .include_x(0.0)
        .x_axis_label("seconds ago")
        .y_axis_label("failures %")
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.line(
                Line::new("failure rate", PlotPoints::from(points))
                    .color(rate_color) // neutral: never the colour of the threshold or a state
                    .width(2.0),
            );
            plot.hline(
                HLine::new("opens at", threshold)
                    .color(theme::BAD)
                    .width(1.5),
            );
            if b.computed {
                plot.hline(
                    HLine::new(
                        "near trip",
                        (threshold - c.near_trip_margin * 100.0).max(0.0),
                    )
                    .color(theme::WARN)
                    .style(LineStyle::dashed_loose()),
                );
            }
            for f in &b.flips {
                let (fc, _, fw) = breaker_style(f.to);
                plot.vline(
                    VLine::new(format!("-> {fw}"), secs(f.at))
                        .color(fc)
                        .style(LineStyle::dotted_dense()),
                );
            }
        });
    let series: Vec<_> = b
        .service
        .as_ref()
        .map(|s| {
            ctx.state
                .metrics
                .get(s)
                .map(|m| m.values().collect())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    if let (Some(service), false) = (&b.service, series.is_empty()) {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(service.as_str()).strong());
            super::metrics::series_labels(ui, ctx, &series);
        });
        // The same ten minutes as the failure-rate plot above, so the two line up.
        super::metrics::series_plot(
            ui,
            ("breaker-series", id),
            ctx.now,
            &series,
            120.0,
            Some(600.0),
        );
    }
    if !b.flips.is_empty() {
        ui.label(RichText::new("Flips").strong());
        for f in b.flips.iter().rev().take(8) {
            let to_open = f.to == BreakerState::Open;
            let line = format!(
                "{} UTC  {} -> {}",
                clock_time(f.at),
                breaker_style(f.from).2,
                breaker_style(f.to).2
            );
            if to_open {
                ui.colored_label(theme::BAD, line);
            } else {
                ui.label(line);
            }
        }
    }
}
