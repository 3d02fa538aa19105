//! The console's link to its relay, in the top bar: a badge while it follows one
//! (the relay, the person it is taken for, their role; INSECURE on plain http), and a
//! strip across the window while it is lost, with how long and why, because every
//! tile then shows the relay's last view, aging.

use switchboard_core::protocol::Role;
use switchboard_core::{LinkStatus, Timestamp};

use crate::theme::{self, Glyph};

/// The badge beside the environment's name.
pub fn relay_badge_ui(ui: &mut egui::Ui, link: &LinkStatus) {
    let host = link.url.split("://").nth(1).unwrap_or(&link.url).to_owned();
    if link.insecure {
        theme::badge(ui, theme::BAD, Glyph::Cross, "INSECURE relay").on_hover_text(
            "The relay is plain http://: what it sends can be read and changed on the way",
        );
    }
    if link.connected {
        let who = match (&link.person, link.role) {
            (Some(p), Some(Role::Operator)) => format!(" · {p} (operator)"),
            (Some(p), _) => format!(" · {p} (viewer)"),
            (None, _) => String::new(),
        };
        theme::badge(ui, theme::GOOD, Glyph::Circle, &format!("RELAY {host}{who}"))
            .on_hover_text(
                "This console shows the relay's view and polls nothing itself; requests run on the relay",
            );
    } else {
        theme::badge(ui, theme::BAD, Glyph::Cross, &format!("RELAY LOST {host}"));
    }
    if let Some(e) = link.error.as_deref().filter(|_| link.connected) {
        ui.colored_label(theme::WARN, e);
    }
}

/// The strip across the window while the relay is lost.
pub fn relay_lost_ui(ui: &mut egui::Ui, link: &LinkStatus, now: Timestamp) {
    if link.connected {
        return;
    }
    let secs = now.millis_since(link.since).max(0) / 1000;
    let why = link.error.as_deref().unwrap_or("no answer");
    let meanwhile = if link.direct {
        "polling the sources directly (fallback_direct)"
    } else {
        "every tile shows the relay's last view and its age"
    };
    theme::strip(
        ui,
        theme::BAD,
        &format!("RELAY LOST for {secs} s · {why} · {meanwhile} · reconnecting"),
    );
}
