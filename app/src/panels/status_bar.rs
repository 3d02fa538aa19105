//! Status bar: each source's status and freshness (a sum of them on a large estate),
//! its connection's security (INSECURE, a certificate expired or expiring soon), what is
//! being recorded, and the mode.

use switchboard_core::Timestamp;
use switchboard_core::model::{SourceStatus, TlsMode, Transport};

use super::PanelCtx;
use crate::theme::{self, format_age, source_style};

/// Draws the status bar. `recording` is the session file, `stopped` why the recorder
/// stopped (a full disk), `read_only` why actions are off.
///
/// The right end (the mode, what is recorded) is laid out first and keeps its room;
/// the sources take what is left, the ones in trouble first (past
/// six sources, a sum and only those), and scroll sideways when there are more
/// than fit, so what matters is on screen and nothing overlaps.
pub fn status_bar_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    recording: Option<&str>,
    stopped: Option<&str>,
    read_only: Option<&str>,
) {
    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
        if let Some(why) = read_only {
            ui.colored_label(theme::INFO, format!("READ-ONLY: {why}"));
        }
        match (recording, stopped) {
            // What stopped it, short ("the disk is full"); the whole story on hover.
            (_, Some(why)) => {
                let short = why.split(':').next().unwrap_or(why);
                ui.colored_label(theme::WARN, format!("NOT RECORDING: {short}"))
                    .on_hover_text(why);
            }
            // The file's name; its whole path on hover (a long path would push the
            // sources off the bar).
            (Some(path), None) => {
                let name = std::path::Path::new(path)
                    .file_name()
                    .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned());
                ui.weak(format!("recording to {name}")).on_hover_text(path);
            }
            (None, None) => {
                ui.weak("not recording");
            }
        }
        ui.separator();
        ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
            let width = ui.available_width();
            egui::ScrollArea::horizontal()
                .id_salt("status-bar-sources")
                .auto_shrink([false, true])
                .show(ui, |ui| {
                    ui.horizontal(|ui| sources_ui(ui, ctx, width));
                });
        });
    });
}

/// Up to this many sources are listed one by one. A production estate has dozens: then
/// the bar sums them up ("31 up · 2 stale · 1 down"), names only those in trouble, and
/// lists every source in a popover, so the bar never runs into what is beside it.
pub const LISTED_SOURCES: usize = 6;

/// How much a source needs attention: down first, then stale, then a connection in
/// error (INSECURE, an expired certificate), then one with a warning (expiring), then
/// the rest (4).
fn rank(ctx: &PanelCtx<'_>, name: &str, status: SourceStatus) -> u8 {
    let concerns = ctx
        .state
        .transport(name)
        .map(|t| t.concerns(ctx.now))
        .unwrap_or_default();
    match status {
        SourceStatus::Down => 0,
        SourceStatus::Stale => 1,
        SourceStatus::Up if concerns.iter().any(|c| c.error) => 2,
        SourceStatus::Up if !concerns.is_empty() => 3,
        SourceStatus::Up => 4,
    }
}

/// The sources, those needing attention first (then by name).
fn ranked<'a>(ctx: &'a PanelCtx<'_>) -> Vec<(u8, &'a str, &'a switchboard_core::SourceInfo)> {
    let mut sources: Vec<_> = ctx
        .state
        .sources
        .iter()
        .map(|(name, s)| (rank(ctx, name.as_str(), s.status), name.as_str(), s))
        .collect();
    sources.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    sources
}

/// Each source (or, past [`LISTED_SOURCES`] or `width`, the sum and those in trouble).
fn sources_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, width: f32) {
    if ctx.state.sources.is_empty() {
        ui.colored_label(theme::STALE, "waiting for the first report…");
        return;
    }
    let sources = ranked(ctx);
    if sources.len() <= LISTED_SOURCES && fits(ui, ctx, &sources, width) {
        for (_, name, s) in sources {
            source_ui(ui, ctx, name, s, false);
            ui.separator();
        }
        return;
    }
    summary_ui(ui, ctx, &sources);
    ui.separator();
    for (_, name, s) in sources.into_iter().filter(|(rank, ..)| *rank < 4) {
        source_ui(ui, ctx, name, s, true);
        ui.separator();
    }
}

/// Whether every source, listed one by one, fits the bar's width (else they are summed
/// up rather than scrolled half out of sight).
fn fits(
    ui: &egui::Ui,
    ctx: &PanelCtx<'_>,
    sources: &[(u8, &str, &switchboard_core::SourceInfo)],
    width: f32,
) -> bool {
    let font = egui::TextStyle::Body.resolve(ui.style());
    let gap = ui.spacing().item_spacing.x;
    let text_width = |text: String| {
        ui.ctx()
            .fonts_mut(|f| f.layout_no_wrap(text, font.clone(), egui::Color32::WHITE))
            .size()
            .x
    };
    let needed: f32 = sources
        .iter()
        .map(|(_, name, s)| {
            let mark = ctx
                .state
                .transport(name)
                .map_or(0.0, |_| text_width("INSECURE".to_owned()) + gap);
            // The glyph, the words at their longest age (so the choice does not flip as
            // ages grow), the mark, a separator and the spacing between.
            let (_, _, word) = source_style(s.status);
            let words = format!("{name} ({}) {word} · 59 min ago", s.kind.as_str());
            12.0 + text_width(words) + mark + 3.0 * gap + 8.0
        })
        .sum();
    needed <= width
}

/// "34 sources: 31 up · 2 stale · 1 down", a button opening the list of them all.
fn summary_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    sources: &[(u8, &str, &switchboard_core::SourceInfo)],
) {
    let count = |st: SourceStatus| sources.iter().filter(|(_, _, s)| s.status == st).count();
    let (up, stale, down) = (
        count(SourceStatus::Up),
        count(SourceStatus::Stale),
        count(SourceStatus::Down),
    );
    let mut parts = vec![format!("{up} up")];
    if stale > 0 {
        parts.push(format!("{stale} stale"));
    }
    if down > 0 {
        parts.push(format!("{down} down"));
    }
    let color = if down > 0 {
        theme::BAD
    } else if stale > 0 {
        theme::STALE
    } else {
        ui.visuals().text_color()
    };
    let title = egui::RichText::new(format!("{} sources: {}", sources.len(), parts.join(" · ")))
        .color(color);
    ui.menu_button(title, |ui| {
        ui.set_min_width(420.0);
        ui.label(egui::RichText::new("Sources").strong());
        egui::ScrollArea::vertical()
            .id_salt("status-bar-all-sources")
            .max_height(420.0)
            .show(ui, |ui| {
                egui::Grid::new("status-bar-all-sources-grid")
                    .striped(true)
                    .spacing([10.0, 3.0])
                    .show(ui, |ui| {
                        for (_, name, s) in sources {
                            source_ui(ui, ctx, name, s, false);
                            ui.end_row();
                        }
                    });
            });
    });
}

/// A source's words in the bar: name, kind, status and age ("edge (haproxy) down
/// 3.2 s"); `compact` leaves the kind to the hover, beside a sum where room is short.
fn entry_text(
    ctx: &PanelCtx<'_>,
    name: &str,
    s: &switchboard_core::SourceInfo,
    compact: bool,
) -> String {
    let (_, _, word) = source_style(s.status);
    let age = format_age(ctx.age_secs(s.last_event_at));
    let kind = if compact {
        String::new()
    } else {
        format!(" ({})", s.kind.as_str())
    };
    match s.status {
        SourceStatus::Up => format!("{name}{kind} {word} · {age} ago"),
        _ => format!("{name}{kind} {word} {age}"),
    }
}

/// One source: its glyph, its words ([`entry_text`]) and its transport's mark; its kind,
/// error and connection on hover.
fn source_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    name: &str,
    s: &switchboard_core::SourceInfo,
    compact: bool,
) {
    let (color, glyph, _) = source_style(s.status);
    ui.horizontal(|ui| {
        let (r, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        theme::paint_glyph(ui.painter(), r.center(), 5.0, glyph, color);
        let text = entry_text(ctx, name, s, compact);
        let label = ui.colored_label(
            if s.status == SourceStatus::Up {
                ui.visuals().text_color()
            } else {
                color
            },
            text,
        );
        let transport = ctx.state.transport(name);
        let hover = [
            compact.then(|| format!("{name} ({})", s.kind.as_str())),
            s.detail.clone(),
            transport.map(|t| transport_words(t, ctx.now)),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n");
        if !hover.is_empty() {
            label.on_hover_text(&hover);
        }
        if let Some(t) = transport {
            transport_mark_ui(ui, t, ctx.now).on_hover_text(hover);
        }
    });
}

/// The source's transport in a few words beside its name: INSECURE, a certificate
/// expired or expiring within two weeks, or `plaintext`; nothing for verified TLS with
/// distant expiry (the hover says it).
fn transport_mark_ui(ui: &mut egui::Ui, t: &Transport, now: Timestamp) -> egui::Response {
    let concerns = t.concerns(now);
    let expired = concerns
        .iter()
        .any(|c| c.error && c.words.contains("expired"));
    let soonest = [t.server_cert_days(now), t.client_cert_days(now)]
        .into_iter()
        .flatten()
        .min();
    let (color, word) = if t.tls == TlsMode::Insecure {
        (theme::BAD, "INSECURE".to_owned())
    } else if expired {
        (theme::BAD, "CERT EXPIRED".to_owned())
    } else if let (false, Some(days)) = (concerns.is_empty(), soonest) {
        (theme::WARN, format!("cert {days} d"))
    } else if t.tls == TlsMode::Plaintext {
        (theme::STALE, "plaintext".to_owned())
    } else {
        return ui.weak("TLS");
    };
    ui.label(egui::RichText::new(word).color(color).strong())
}

/// The hover text for a source's transport: the mode, then each certificate's date.
fn transport_words(t: &Transport, now: Timestamp) -> String {
    let mut lines = vec![match t.tls {
        TlsMode::Verified => "TLS, server verified".to_owned(),
        TlsMode::Insecure => "INSECURE: TLS without checking the server's certificate".to_owned(),
        TlsMode::Plaintext => "plaintext: no TLS".to_owned(),
    }];
    let date = |at: Timestamp| at.to_rfc3339().get(..10).unwrap_or_default().to_owned();
    if let (Some(at), Some(days)) = (t.server_cert_not_after, t.server_cert_days(now)) {
        lines.push(format!(
            "server certificate expires {} ({days} days){}",
            date(at),
            t.server_cert_subject
                .as_ref()
                .map(|s| format!(": {s}"))
                .unwrap_or_default()
        ));
    }
    if let (Some(at), Some(days)) = (t.client_cert_not_after, t.client_cert_days(now)) {
        lines.push(format!(
            "client certificate expires {} ({days} days)",
            date(at)
        ));
    }
    lines.extend(t.concerns(now).into_iter().map(|c| c.words));
    lines.join("\n")
}
