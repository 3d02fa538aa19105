//! Quorum panel: one card per consensus cluster with its state, leader, quorum
//! arithmetic and members; below, the Kubernetes nodes (ready, cordoned) when a
//! cluster is watched.

use egui::RichText;
use switchboard_core::model::{QuorumState, SourceStatus};

use super::{PanelCtx, UiCommand};
use crate::theme::{self, badge, format_age, format_bytes, quorum_style};

/// Draws every consensus cluster.
pub fn quorum_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Quorum").strong());
        ui.weak(format!("{} clusters", ctx.state.clusters.len()));
    });
    if ctx.state.clusters.is_empty() && ctx.state.nodes.is_empty() {
        ui.weak("No consensus cluster reported yet.");
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let mut clusters: Vec<_> = ctx.state.clusters.iter().collect();
            // A wall puts the worst first: what is read from across the room is on top.
            if ctx.wall {
                // States order from healthy to split: the worst first.
                clusters
                    .sort_by_key(|(name, c)| (std::cmp::Reverse(c.quorum.state), name.as_str()));
            }
            for (name, c) in clusters {
                let source = ctx.state.sources.get(&c.source);
                let stale = source.filter(|s| s.status != SourceStatus::Up);
                let q = &c.quorum;
                let (color, glyph, word) = quorum_style(q.state);
                let (color, word) = match stale {
                    Some(s) => (
                        theme::STALE,
                        format!("{word} · source {}", s.status.as_str()),
                    ),
                    None => (color, word.to_owned()),
                };
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal(|ui| {
                        let title = ui.add(
                            egui::Label::new(RichText::new(name.as_str()).strong().size(15.0))
                                .sense(egui::Sense::click()),
                        );
                        if title.clicked() {
                            ctx.push(UiCommand::Select(Some(name.to_string())));
                        }
                        ui.weak(c.kind.as_str());
                        badge(ui, color, glyph, &word);
                        let leader = q.leader.as_ref().map_or("none", |l| l.as_str());
                        ui.label(format!("leader {leader}"));
                        ui.weak(format!("term {}", q.term));
                    });
                    ui.label(format!(
                        "quorum {} of {} voters · {} reachable · tolerates {} more",
                        q.quorum, q.voters, q.reachable, q.tolerance
                    ));
                    // A healthy cluster's reason says what the line above says.
                    if q.state != QuorumState::Healthy {
                        ui.weak(&q.reason);
                    }
                    if let Some(s) = stale {
                        ui.colored_label(
                            theme::STALE,
                            format!(
                                "source {} {} for {}: {}",
                                c.source,
                                s.status.as_str(),
                                format_age(ctx.age_secs(s.status_since)),
                                s.detail.as_deref().unwrap_or("no detail")
                            ),
                        );
                    }
                    integrity_line(ui, ctx, name.as_str());
                    // Members as compact chips; the full table on demand.
                    ui.horizontal_wrapped(|ui| {
                        for (m, v) in &c.members {
                            let (mc, mg, role) = member_style(v, q.leader.as_ref() == Some(m));
                            let mc = if stale.is_some() { theme::STALE } else { mc };
                            theme::chip(ui, mc, mg, &format!("{m} {role}"));
                            ui.add_space(6.0);
                        }
                    });
                    if !ctx.wall {
                        egui::CollapsingHeader::new("members in detail")
                            .id_salt(("members", name.as_str()))
                            .show(ui, |ui| {
                                members_table_ui(ui, ctx, name.as_str(), c);
                            });
                    }
                });
                ui.add_space(4.0);
            }
            if !ctx.state.nodes.is_empty() {
                nodes_ui(ui, ctx);
            }
        });
}

/// The members' data compared (`etcd hashkv`): failing in red, first thing under the
/// quorum, holding in weak words with how long it has held.
fn integrity_line(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, cluster: &str) {
    let Some(e) = ctx.state.integrity.get(&format!(
        "{}: {cluster}",
        switchboard_core::sources::etcd::HASHKV_CHECK
    )) else {
        return;
    };
    let f = &e.finding;
    if f.ok {
        ui.weak(format!(
            "data compared: {} · holding for {}",
            f.detail,
            format_age(ctx.age_secs(e.since))
        ));
    } else {
        ui.add(
            egui::Label::new(
                RichText::new(format!("INTEGRITY {}: {}", f.check, f.detail))
                    .color(theme::BAD)
                    .strong(),
            )
            .wrap(),
        );
    }
}

/// The Kubernetes nodes as chips: not ready and cordoned first, said in words.
fn nodes_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
    let nodes = &ctx.state.nodes;
    let not_ready = nodes.values().filter(|(r, _)| !r).count();
    let cordoned = nodes.values().filter(|(_, c)| *c).count();
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal(|ui| {
            ui.label(RichText::new("Kubernetes nodes").strong().size(15.0));
            ui.label(format!(
                "{} nodes · {not_ready} not ready · {cordoned} cordoned",
                nodes.len()
            ));
        });
        ui.horizontal_wrapped(|ui| {
            let mut list: Vec<_> = nodes.iter().collect();
            list.sort_by_key(|(name, (ready, cordoned))| (*ready, !*cordoned, name.as_str()));
            for (name, (ready, cordoned)) in list {
                let (c, g, word) = match (ready, cordoned) {
                    (false, _) => (theme::BAD, theme::Glyph::Cross, "not ready"),
                    (true, true) => (theme::WARN, theme::Glyph::Triangle, "cordoned"),
                    (true, false) => (theme::GOOD, theme::Glyph::Circle, "ready"),
                };
                theme::chip(ui, c, g, &format!("{name} {word}"));
                ui.add_space(6.0);
            }
        });
    });
}

fn member_style(
    v: &switchboard_core::MemberView,
    is_leader: bool,
) -> (egui::Color32, theme::Glyph, &'static str) {
    if !v.status.reachable {
        (theme::BAD, theme::Glyph::Cross, "unreachable")
    } else if !v.status.alarms.is_empty() {
        (theme::WARN, theme::Glyph::Triangle, "alarm")
    } else if is_leader {
        (theme::GOOD, theme::Glyph::Diamond, "leader")
    } else if !v.voter {
        (theme::INFO, theme::Glyph::Ring, "learner")
    } else {
        (theme::GOOD, theme::Glyph::Circle, "follower")
    }
}

fn members_table_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    name: &str,
    c: &switchboard_core::ConsensusCluster,
) {
    egui::Grid::new(("member-grid", name))
        .striped(true)
        .spacing([12.0, 2.0])
        .show(ui, |ui| {
            for h in ["member", "role", "term", "index", "db", "seen", "note"] {
                ui.weak(h);
            }
            ui.end_row();
            for (m, v) in &c.members {
                let (_, _, role) = member_style(v, c.quorum.leader.as_ref() == Some(m));
                ui.label(m.as_str());
                ui.label(role);
                ui.label(if v.status.reachable {
                    v.status.term.to_string()
                } else {
                    "–".into()
                });
                ui.label(if v.status.reachable {
                    v.status.index.to_string()
                } else {
                    "–".into()
                });
                ui.label(v.status.db_size_bytes.map_or("–".into(), format_bytes));
                ui.label(format_age(
                    ctx.held_age_secs(v.seen_at, Some(c.source.as_str())),
                ));
                let note = if v.status.alarms.is_empty() {
                    v.status.error.clone().unwrap_or_default()
                } else {
                    format!("ALARM {}", v.status.alarms.join(","))
                };
                ui.label(note);
                ui.end_row();
            }
        });
}
