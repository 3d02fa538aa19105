//! Databases panel: one card per database cluster: its state (one primary, none, or a
//! split with several writable primaries), the primary the servers report against the
//! leader the DCS names, maintenance mode, a planned switchover, each member with role,
//! state, timeline, lag and connections (and, first and in red, an integrity check
//! that fails on it: a page that failed its checksum, replay stopped), and the
//! timeline history.

use egui::RichText;
use switchboard_core::model::{DbRole, MemberId};
use switchboard_core::{DbCluster, DbMemberView};

use super::{PanelCtx, UiCommand};
use crate::theme::{self, Glyph, badge, format_age, format_bytes};

/// A member not heard from for this long (nor vouched for by a database source that is
/// up) is shown stale.
const STALE_AFTER_SECS: f64 = 10.0;

/// Colour, glyph and word of a database cluster's state.
pub fn db_style(db: &DbCluster) -> (egui::Color32, Glyph, &'static str) {
    match db.writable {
        1 => (theme::GOOD, Glyph::Circle, "ONE PRIMARY"),
        0 => (theme::BAD, Glyph::Cross, "NO PRIMARY"),
        _ => (theme::SPLIT, Glyph::Diamond, "SPLIT"),
    }
}

fn role_style(m: &DbMemberView) -> (egui::Color32, Glyph, &'static str) {
    // The server's own word first: it decides who takes writes.
    match (m.writable, m.role) {
        (Some(true), _) => return (theme::GOOD, Glyph::Diamond, "primary"),
        (Some(false), DbRole::Primary) => return (theme::WARN, Glyph::Triangle, "read-only"),
        (Some(false), _) => return (theme::GOOD, Glyph::Circle, "replica"),
        (None, _) => {}
    }
    if !m.reachable {
        return (theme::BAD, Glyph::Cross, "unreachable");
    }
    match m.role {
        DbRole::Primary => (theme::GOOD, Glyph::Diamond, "primary"),
        DbRole::Replica => (theme::GOOD, Glyph::Circle, "replica"),
        DbRole::Unknown => (theme::STALE, Glyph::Ring, "unknown"),
    }
}

/// Draws every database cluster.
pub fn databases_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Databases").strong());
        let n = ctx.state.databases.len();
        ui.weak(format!("{n} cluster{}", if n == 1 { "" } else { "s" }));
    });
    if ctx.state.databases.is_empty() {
        ui.weak("No database cluster reported yet (add a kind = \"patroni\" source).");
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (name, db) in &ctx.state.databases {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    cluster_ui(ui, ctx, name.as_str(), db);
                });
            }
        });
}

fn cluster_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, name: &str, db: &DbCluster) {
    let (color, glyph, word) = db_style(db);
    ui.horizontal_wrapped(|ui| {
        let title = ui.add(
            egui::Label::new(RichText::new(name).strong().size(15.0)).sense(egui::Sense::click()),
        );
        if title.clicked() {
            ctx.push(UiCommand::Select(Some(name.to_owned())));
        }
        badge(ui, color, glyph, word);
        match &db.primary {
            Some(p) => {
                let since = db
                    .primary_since
                    .map(|t| format!(" for {}", format_age(ctx.age_secs(t))))
                    .unwrap_or_default();
                ui.label(format!("primary {p}{since}"));
            }
            None if db.writable > 1 => {
                ui.colored_label(
                    theme::SPLIT,
                    format!("{} members accept writes", db.writable),
                );
            }
            None => {
                ui.colored_label(theme::BAD, "no member accepts writes");
            }
        }
        if db.paused {
            theme::chip(
                ui,
                theme::WARN,
                Glyph::Triangle,
                "paused: no automatic failover",
            );
        }
    });
    if let Some(l) = &db.dcs_leader
        && db.primary.as_ref() != Some(l)
    {
        let says = db.members.get(l).map_or_else(
            || "is not among the members polled".to_owned(),
            |m| format!("reports {}", role_style(m).2),
        );
        ui.colored_label(
            theme::WARN,
            format!("the DCS names {l} leader, but {l} {says}: its leader key may be stale"),
        );
    }
    if let Some(s) = &db.scheduled_switchover {
        ui.weak(format!("switchover scheduled: {s}"));
    }
    egui::Grid::new(("db-members", name))
        .striped(true)
        .num_columns(7)
        .show(ui, |ui| {
            for h in [
                "member",
                "role",
                "state",
                "timeline",
                "lag",
                "connections",
                "",
            ] {
                ui.label(RichText::new(h).weak());
            }
            ui.end_row();
            for (m, v) in &db.members {
                member_row(ui, ctx, (name, db), m, v);
                ui.end_row();
            }
        });
    if !db.history.is_empty() {
        egui::CollapsingHeader::new(format!("timeline history ({} switches)", db.history.len()))
            .id_salt(("db-history", name))
            .show(ui, |ui| {
                for t in db.history.iter().rev().take(10) {
                    let by = t
                        .new_leader
                        .as_ref()
                        .map(|l| format!(" -> {l}"))
                        .unwrap_or_default();
                    ui.label(format!(
                        "timeline {} ended at LSN {} · {} · {}{by}",
                        t.timeline, t.lsn, t.at, t.reason
                    ));
                }
            });
    }
}

fn member_row(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    (cluster, db): (&str, &DbCluster),
    m: &MemberId,
    v: &DbMemberView,
) {
    let age = ctx.held_age_secs(v.seen_at, None);
    let stale = age > STALE_AFTER_SECS;
    let (mut color, glyph, role) = role_style(v);
    if db.writable > 1 && v.writable == Some(true) {
        color = theme::SPLIT;
    }
    if stale {
        color = theme::STALE;
    }
    let mut name = m.to_string();
    if db.dcs_leader.as_ref() == Some(m) {
        name.push_str(" (DCS leader)");
    }
    if db.sync_standbys.contains(m) {
        name.push_str(" (sync)");
    }
    let label = ui
        .add(egui::Label::new(name).sense(egui::Sense::click()))
        .on_hover_text("Right-click: workflows on this member");
    label.context_menu(|ui| {
        if ctx.read_only {
            ui.weak("Read-only: nothing can act from here.");
            return;
        }
        let tail = format!("/{m}");
        let mut any = false;
        for o in ctx.offers.iter().filter(|o| o.target.ends_with(&tail)) {
            any = true;
            if ui.button(format!("{}…", o.label)).clicked() {
                ctx.push(UiCommand::Plan(o.kind, o.target.clone()));
                ui.close();
            }
        }
        if !any {
            ui.weak("No workflow for this member (the leader cannot be switched over to).");
        }
    });
    theme::chip(ui, color, glyph, role);
    ui.label(v.state.as_deref().unwrap_or("–"));
    ui.label(v.timeline.map_or_else(|| "–".to_owned(), |t| t.to_string()));
    ui.label(match (v.role, v.lag_bytes) {
        (DbRole::Primary, _) => "–".to_owned(),
        (_, Some(l)) => format_bytes(l),
        (_, None) => "unknown".to_owned(),
    });
    let used = if v.max_connections > 0 {
        f64::from(v.connections) / f64::from(v.max_connections)
    } else {
        0.0
    };
    let conns = if v.max_connections > 0 {
        format!("{} / {}", v.connections, v.max_connections)
    } else {
        "–".to_owned()
    };
    if used >= 0.9 {
        ui.colored_label(theme::WARN, format!("{conns} saturated"));
    } else {
        ui.label(conns);
    }
    let mut notes = Vec::new();
    if stale {
        notes.push(format!("STALE {}", format_age(age)));
    }
    if v.pending_restart {
        notes.push("pending restart".to_owned());
    }
    if let Some(s) = &v.sessions {
        if s.idle_in_transaction > 0 {
            notes.push(format!("{} idle in transaction", s.idle_in_transaction));
        }
        if s.waiting > 0 {
            notes.push(format!("{} waiting on locks", s.waiting));
        }
        if let Some(age) = s.oldest_xact_secs.filter(|a| *a >= 1.0) {
            notes.push(format!("oldest transaction {}", format_age(age)));
        }
    }
    if !v.reachable
        && let Some(d) = &v.detail
    {
        if v.writable == Some(true) {
            notes.push(format!(
                "its Patroni is down ({d}) but its server takes writes"
            ));
        } else {
            notes.push(d.clone());
        }
    }
    if let Some(d) = &v.server_detail {
        notes.push(format!("server: {d}"));
    }
    // Integrity checks on this member that fail: first, they outrank everything.
    let failing: Vec<String> = ["pg checksums", "pg replay"]
        .iter()
        .filter_map(|check| ctx.state.integrity.get(&format!("{check}: {cluster}/{m}")))
        .filter(|e| !e.finding.ok)
        .map(|e| format!("INTEGRITY {}: {}", e.finding.check, e.finding.detail))
        .collect();
    let integrity_failed = !failing.is_empty();
    for (k, f) in failing.into_iter().enumerate() {
        notes.insert(k, f);
    }
    let text = notes.join(" · ");
    let color = if integrity_failed {
        theme::BAD
    } else if stale || !v.reachable {
        theme::STALE
    } else {
        ui.visuals().weak_text_color()
    };
    // Long notes end in an ellipsis; the whole text on hover.
    ui.add(egui::Label::new(RichText::new(&text).color(color)).truncate())
        .on_hover_text(&text);
}
