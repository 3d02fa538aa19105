//! Status bar: each source's status and freshness, its connection's security (INSECURE,
//! a certificate expired or expiring soon), what is being recorded, and the mode.

use switchboard_core::Timestamp;
use switchboard_core::model::{SourceStatus, TlsMode, Transport};

use super::PanelCtx;
use crate::theme::{self, format_age, source_style};

/// Draws the status bar. `recording` is the session file, `stopped` why the recorder
/// stopped (a full disk), `read_only` why actions are off.
///
/// The right end (the mode, what is recorded) is laid out first and keeps its room;
/// the sources take what is left and scroll sideways when there are more than fit, the
/// ones in trouble first, so what matters is on screen and nothing overlaps.
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
            egui::ScrollArea::horizontal()
                .id_salt("status-bar-sources")
                .auto_shrink([false, true])
                .show(ui, |ui| {
                    ui.horizontal(|ui| sources_ui(ui, ctx));
                });
        });
    });
}

/// Each source: its glyph, name, kind, status and age, and its transport's mark.
fn sources_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
    if ctx.state.sources.is_empty() {
        ui.colored_label(theme::STALE, "waiting for the first report…");
    }
    let mut sources: Vec<_> = ctx.state.sources.iter().collect();
    // Down first, then stale, then those whose connection is in error (INSECURE, an
    // expired certificate), then those with a warning (expiring), then the rest.
    sources.sort_by_key(|(name, s)| {
        let concerns = ctx
            .state
            .transport(name.as_str())
            .map(|t| t.concerns(ctx.now))
            .unwrap_or_default();
        let rank = match s.status {
            SourceStatus::Down => 0,
            SourceStatus::Stale => 1,
            SourceStatus::Up if concerns.iter().any(|c| c.error) => 2,
            SourceStatus::Up if !concerns.is_empty() => 3,
            SourceStatus::Up => 4,
        };
        (rank, (*name).clone())
    });
    for (name, s) in sources {
        let (color, glyph, word) = source_style(s.status);
        let age = ctx.age_secs(s.last_event_at);
        let (r, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        theme::paint_glyph(ui.painter(), r.center(), 5.0, glyph, color);
        let text = match s.status {
            SourceStatus::Up => format!(
                "{name} ({}) {word} · {} ago",
                s.kind.as_str(),
                format_age(age)
            ),
            _ => format!("{name} ({}) {word} {}", s.kind.as_str(), format_age(age)),
        };
        let label = ui.colored_label(
            if s.status == SourceStatus::Up {
                ui.visuals().text_color()
            } else {
                color
            },
            text,
        );
        let transport = ctx.state.transport(name.as_str());
        let hover = [
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
        ui.separator();
    }
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
