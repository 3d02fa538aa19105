//! Metrics panel: each service's series (p50/p99 latency and the like) over the last ten
//! minutes, one small plot per service, slowest first, with the latest values in words.
//!
//! Series are drawn, not judged: a breaker or a health check decides what is wrong.
//! A series whose source is not up, or whose last sample is older than 45 s, is greyed
//! with its age, never shown as current. (Sources hold a reading back while it barely
//! moves and send it at least every 30 s, so an older sample means the series stopped.)

use egui::RichText;
use egui_plot::{Line, Plot, PlotPoints};
use switchboard_core::model::{MetricUnit, ServiceId, SourceStatus};
use switchboard_core::{MetricSeries, State, Timestamp};

use super::{PanelCtx, UiCommand};
use crate::theme::{self, format_age};

/// Samples older than this are shown as stale: a held reading is sent at least every
/// 30 s.
const STALE_AFTER_SECS: f64 = 45.0;

/// How the services are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MetricsSort {
    /// By the highest latest value of a latency series, slowest first.
    #[default]
    Slowest,
    /// By service name.
    Name,
}

/// Filter and order of the panel.
#[derive(Default)]
pub struct MetricsView {
    /// Only services whose name or series contains this.
    pub filter: String,
    /// Order.
    pub sort: MetricsSort,
}

/// The series of each service.
pub fn by_service(state: &State) -> Vec<(&ServiceId, Vec<&MetricSeries>)> {
    state
        .metrics
        .iter()
        .map(|(s, m)| (s, m.values().collect()))
        .collect()
}

/// Whether a series' latest value can be taken as current.
pub fn is_current(ctx: &PanelCtx<'_>, m: &MetricSeries) -> bool {
    ctx.state
        .sources
        .get(&m.source)
        .is_none_or(|s| s.status == SourceStatus::Up)
        && ctx.age_secs(m.at) <= STALE_AFTER_SECS
}

/// Draws the panel.
pub fn metrics_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, view: &mut MetricsView) {
    let groups = by_service(ctx.state);
    ui.horizontal(|ui| {
        ui.label(RichText::new("Metrics").strong());
        ui.weak(format!(
            "{} series of {} services",
            ctx.state.all_metrics().count(),
            groups.len()
        ));
        let label = ui.label("filter");
        ui.add(egui::TextEdit::singleline(&mut view.filter).desired_width(100.0))
            .labelled_by(label.id);
        ui.selectable_value(&mut view.sort, MetricsSort::Slowest, "slowest first");
        ui.selectable_value(&mut view.sort, MetricsSort::Name, "by name");
    });
    if groups.is_empty() {
        ui.weak(
            "No metric series. Add [[environment.source.series]] to a Prometheus source \
             (e.g. p99 latency from histogram_quantile).",
        );
        return;
    }
    let needle = view.filter.to_lowercase();
    let mut list: Vec<(&ServiceId, Vec<&MetricSeries>)> = groups
        .into_iter()
        .filter(|(s, series)| {
            needle.is_empty()
                || s.as_str().to_lowercase().contains(&needle)
                || series
                    .iter()
                    .any(|m| m.name.to_lowercase().contains(&needle))
        })
        .collect();
    if view.sort == MetricsSort::Slowest {
        let worst = |series: &[&MetricSeries]| {
            series
                .iter()
                .filter(|m| m.unit == MetricUnit::Seconds)
                .map(|m| m.value)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        list.sort_by(|a, b| worst(&b.1).total_cmp(&worst(&a.1)));
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (service, series) in list {
                service_row(ui, ctx, service, &series);
                ui.separator();
            }
        });
}

fn service_row(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    service: &ServiceId,
    series: &[&MetricSeries],
) {
    ui.horizontal_wrapped(|ui| {
        let selected = ctx.selected == Some(service.as_str());
        if ui
            .selectable_label(selected, RichText::new(service.as_str()).strong())
            .clicked()
        {
            ctx.push(UiCommand::Select(Some(service.as_str().to_owned())));
        }
        series_labels(ui, ctx, series);
    });
    series_plot(
        ui,
        ("metrics-plot", service.as_str()),
        ctx.now,
        series,
        90.0,
        None,
    );
}

/// The colour of the `i`th series of a plot: never a state colour (green, orange,
/// vermillion, pink), so a line is not read as a verdict.
pub fn series_color(ui: &egui::Ui, i: usize) -> egui::Color32 {
    match i % 3 {
        0 => theme::INFO,
        1 => ui.visuals().strong_text_color(),
        _ => egui::Color32::from_rgb(0, 114, 178),
    }
}

/// Each series' name and latest value, after a dash in its line's colour; greyed with
/// its age when it is not current.
pub fn series_labels(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, series: &[&MetricSeries]) {
    for (i, m) in series.iter().enumerate() {
        let value = m.unit.format(m.value);
        if is_current(ctx, m) {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 10.0), egui::Sense::hover());
            ui.painter().line_segment(
                [rect.left_center(), rect.right_center()],
                egui::Stroke::new(2.0, series_color(ui, i)),
            );
            ui.label(format!("{} {value}", m.name));
        } else {
            ui.colored_label(
                theme::STALE,
                format!(
                    "{} {value} · STALE {}",
                    m.name,
                    format_age(ctx.age_secs(m.at))
                ),
            );
        }
    }
}

/// A plot of `series` (seconds ago on x) over `span` seconds, or, with `None`, as far
/// back as there is data (a minute to the ten kept); one unit per plot, that of the
/// first series.
pub fn series_plot(
    ui: &mut egui::Ui,
    id: impl std::hash::Hash + std::fmt::Debug,
    now: Timestamp,
    series: &[&MetricSeries],
    height: f32,
    span: Option<f64>,
) {
    let unit = series.first().map_or(MetricUnit::Count, |m| m.unit);
    let (scale, label) = unit.plot_scale();
    let secs = |t: Timestamp| -(now.millis_since(t) as f64) / 1000.0;
    let span = span.unwrap_or_else(|| {
        series
            .iter()
            .filter_map(|m| m.history.front())
            .map(|(t, _)| -secs(*t))
            .fold(60.0_f64, f64::max)
            .min(600.0)
    });
    let colors: Vec<egui::Color32> = (0..series.len()).map(|i| series_color(ui, i)).collect();
    Plot::new(id)
        .height(height)
        .include_y(0.0)
        .include_x(-span)
        .include_x(0.0)
        .x_axis_formatter(|mark, _| format!("{:.0} s", mark.value))
        .y_axis_label(label)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .show(ui, |plot| {
            for (m, color) in series.iter().zip(colors).filter(|(m, _)| m.unit == unit) {
                let points: Vec<[f64; 2]> = m
                    .history
                    .iter()
                    .map(|(t, v)| [secs(*t), f64::from(*v) * scale])
                    .collect();
                plot.line(
                    Line::new(m.name.clone(), PlotPoints::from(points))
                        .color(color)
                        .width(1.5),
                );
            }
        });
}
