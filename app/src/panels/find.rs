//! Find (Ctrl+F): one search across services, instances, breakers, consensus clusters
//! and database clusters. Names that start with the words come first; Enter or a
//! click selects the first (or the clicked) match and shows the panel it lives in.

use egui::RichText;
use switchboard_core::State;
use switchboard_core::model::{BreakerId, ClusterId, InstanceId, ServiceId};

use super::text_match::rank;
use super::{PanelCtx, UiCommand};
use crate::layout::Pane;
use crate::theme;

/// The find box's state.
#[derive(Default)]
pub struct FindView {
    open: bool,
    query: String,
    focus: bool,
    /// The last matches, with the query and the snapshot (its event count) they were
    /// found in: a pass over a hundred thousand names is made once per query or
    /// snapshot, not every frame.
    found: Option<(String, u64, Vec<Hit>)>,
}

impl FindView {
    /// The box open on `query` (a benchmark's or a test's starting point).
    pub fn searching(query: &str) -> Self {
        Self {
            open: true,
            query: query.to_owned(),
            focus: false,
            found: None,
        }
    }

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
}

/// The most matches shown.
const SHOWN: usize = 30;

/// Adds each of `names` that matches `q` to `found`, as a `kind` shown in `pane`.
fn add<'a>(
    found: &mut Vec<(u8, &'a str, &'static str, Pane)>,
    q: &str,
    names: impl Iterator<Item = &'a str>,
    kind: &'static str,
    pane: Pane,
) {
    for name in names {
        if let Some(r) = rank(name, q) {
            found.push((r, name, kind, pane));
        }
    }
}

/// The best [`SHOWN`] matches of `query`: ranked and named first, described after, so
/// a query matching most of a hundred thousand names costs one pass and 30 words.
fn hits(s: &State, query: &str) -> Vec<Hit> {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    let f = &mut found;
    add(
        f,
        &q,
        s.services.keys().map(ServiceId::as_str),
        "service",
        Pane::Topology,
    );
    add(
        f,
        &q,
        s.instances.keys().map(InstanceId::as_str),
        "instance",
        Pane::Topology,
    );
    add(
        f,
        &q,
        s.breakers.keys().map(BreakerId::as_str),
        "breaker",
        Pane::Breakers,
    );
    add(
        f,
        &q,
        s.clusters.keys().map(ClusterId::as_str),
        "cluster",
        Pane::Quorum,
    );
    add(
        f,
        &q,
        s.databases.keys().map(ClusterId::as_str),
        "database",
        Pane::Databases,
    );
    add(f, &q, s.dns.keys().map(String::as_str), "name", Pane::Dns);
    let order =
        |a: &(u8, &str, &str, Pane), b: &(u8, &str, &str, Pane)| (a.0, a.1).cmp(&(b.0, b.1));
    if found.len() > SHOWN {
        found.select_nth_unstable_by(SHOWN - 1, order);
        found.truncate(SHOWN);
    }
    found.sort_by(order);
    found
        .into_iter()
        .map(|(_, name, kind, pane)| Hit {
            name: name.to_owned(),
            kind,
            detail: describe(s, kind, name),
            pane,
        })
        .collect()
}

/// A match's few words: a service's health count, an instance's service and health, a
/// breaker's state, a cluster's quorum, a database's primary.
fn describe(s: &State, kind: &str, name: &str) -> String {
    match kind {
        "service" => s.services.get(&ServiceId::new(name)).map(|svc| {
            let c = svc.counts;
            let all = c.healthy + c.degraded + c.unhealthy + c.unknown;
            format!("{} healthy of {all}", c.healthy)
        }),
        "instance" => s
            .instances
            .get(&InstanceId::new(name))
            .map(|i| format!("of {} · {}", i.service, i.health.as_str())),
        "breaker" => s
            .breakers
            .get(&BreakerId::new(name))
            .map(|b| b.state.as_str().to_owned()),
        "cluster" => s
            .clusters
            .get(&ClusterId::new(name))
            .map(|c| format!("{} quorum {}", c.kind.as_str(), c.quorum.state.as_str())),
        "name" => s
            .dns
            .get(name)
            .map(|e| format!("-> {} · {}", e.record.target(), e.record.side().as_str())),
        _ => s.databases.get(&ClusterId::new(name)).map(|d| {
            d.primary
                .as_ref()
                .map_or_else(|| "no primary".to_owned(), |p| format!("primary {p}"))
        }),
    }
    .unwrap_or_default()
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
            let label = ui.weak("Services, instances, breakers, clusters, databases, public names");
            let r = ui
                .add(egui::TextEdit::singleline(&mut view.query).desired_width(f32::INFINITY))
                .labelled_by(label.id);
            if view.focus {
                r.request_focus();
                view.focus = false;
            }
            let seen = pctx.state.events_applied;
            if !matches!(&view.found, Some((q, n, _)) if *q == view.query && *n == seen) {
                let found = hits(pctx.state, &view.query);
                view.found = Some((view.query.clone(), seen, found));
            }
            let found: &[Hit] = view.found.as_ref().map_or(&[], |f| &f.2);
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                chosen = found.first().map(|h| (h.name.clone(), h.pane));
            }
            if !view.query.trim().is_empty() && found.is_empty() {
                ui.weak("Nothing by that name.");
            }
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| {
                    for h in found {
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
