//! Find (Ctrl+F): one search across services, instances, breakers, consensus clusters
//! and database clusters. Names that start with the words come first; Enter or a
//! click selects the first (or the clicked) match and shows the panel it lives in.

use egui::RichText;
use switchboard_core::State;

use super::{PanelCtx, UiCommand};
use crate::layout::Pane;
use crate::theme;

/// The find box's state.
#[derive(Default)]
pub struct FindView {
    open: bool,
    query: String,
    focus: bool,
}

impl FindView {
    /// Opens the box (or closes it when open).
    pub fn toggle(&mut self) {
        self.open = !self.open;
        self.focus = self.open;
        if self.open {
            self.query.clear();
        }
    }
}

/// One match.
struct Hit {
    name: String,
    kind: &'static str,
    detail: String,
    pane: Pane,
    rank: u8,
}

fn hits(s: &State, query: &str) -> Vec<Hit> {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    let rank = |name: &str| {
        let n = name.to_lowercase();
        if n == q {
            Some(0)
        } else if n.starts_with(&q) {
            Some(1)
        } else if n.contains(&q) {
            Some(2)
        } else {
            None
        }
    };
    let mut out = Vec::new();
    let mut add = |name: &str, kind: &'static str, pane: Pane, detail: &dyn Fn() -> String| {
        if let Some(r) = rank(name) {
            out.push(Hit {
                name: name.to_owned(),
                kind,
                detail: detail(),
                pane,
                rank: r,
            });
        }
    };
    for (id, svc) in &s.services {
        let c = svc.counts;
        add(id.as_str(), "service", Pane::Topology, &|| {
            let all = c.healthy + c.degraded + c.unhealthy + c.unknown;
            format!("{} healthy of {all}", c.healthy)
        });
    }
    for (id, i) in &s.instances {
        add(id.as_str(), "instance", Pane::Topology, &|| {
            format!("of {} · {}", i.service, i.health.as_str())
        });
    }
    for (id, b) in &s.breakers {
        add(id.as_str(), "breaker", Pane::Breakers, &|| {
            b.state.as_str().to_owned()
        });
    }
    for (id, c) in &s.clusters {
        add(id.as_str(), "cluster", Pane::Quorum, &|| {
            format!("{} quorum {}", c.kind.as_str(), c.quorum.state.as_str())
        });
    }
    for (id, d) in &s.databases {
        add(id.as_str(), "database", Pane::Databases, &|| {
            d.primary
                .as_ref()
                .map_or_else(|| "no primary".to_owned(), |p| format!("primary {p}"))
        });
    }
    out.sort_by(|a, b| (a.rank, &a.name).cmp(&(b.rank, &b.name)));
    out.truncate(30);
    out
}

/// Draws the find box, when open.
pub fn find_ui(ctx: &egui::Context, area: egui::Rect, pctx: &PanelCtx<'_>, view: &mut FindView) {
    if !view.open {
        return;
    }
    let mut open = true;
    let mut chosen = None;
    egui::Window::new("Find")
        .id(egui::Id::unique("find"))
        .open(&mut open)
        .constrain_to(area)
        .collapsible(false)
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 40.0))
        .default_width(520.0)
        .show(ctx, |ui| {
            let label = ui.weak("Services, instances, breakers, clusters, databases");
            let r = ui
                .add(egui::TextEdit::singleline(&mut view.query).desired_width(f32::INFINITY))
                .labelled_by(label.id);
            if view.focus {
                r.request_focus();
                view.focus = false;
            }
            let found = hits(pctx.state, &view.query);
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                chosen = found.first().map(|h| (h.name.clone(), h.pane));
            }
            if !view.query.trim().is_empty() && found.is_empty() {
                ui.weak("Nothing by that name.");
            }
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| {
                    for h in &found {
                        ui.horizontal(|ui| {
                            ui.label(RichText::new(h.kind).color(theme::INFO));
                            if ui.link(&h.name).clicked() {
                                chosen = Some((h.name.clone(), h.pane));
                            }
                            ui.weak(&h.detail);
                        });
                    }
                });
        });
    if let Some((name, pane)) = chosen {
        pctx.push(UiCommand::Show(pane));
        pctx.push(UiCommand::Select(Some(name)));
        view.open = false;
    } else if !open {
        view.open = false;
    }
}
