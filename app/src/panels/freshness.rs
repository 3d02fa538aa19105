//! How fresh each pane is: which sources feed it, how old their newest report is, and
//! whether any of them has stopped. Drawn at the right of every tab bar ("live · 2 s",
//! or "stale 42 s" in grey), so no tile ever shows old data as if it were current.
//!
//! A pane's sources are the ones its data came from: the instances' sources for the
//! topology, the breakers' and routes' for breakers and backends, the clusters' for
//! quorum, the series' for metrics, the database sources for databases and every source
//! for the event log. Incidents and workflows are local and have no freshness.

use std::collections::BTreeSet;

use egui::RichText;
use switchboard_core::model::{SourceId, SourceKind, SourceStatus};

use super::PanelCtx;
use crate::layout::Pane;
use crate::theme::{self, Glyph, format_age};

/// The freshness of one pane.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Freshness {
    /// Sources feeding the pane.
    pub sources: usize,
    /// Of those, the ones down or silent.
    pub stopped: usize,
    /// Seconds since the newest report of a live source (none: no live source).
    pub live_age: Option<f64>,
    /// Seconds since the last report of the longest-stopped source.
    pub stopped_age: f64,
    /// The longest-stopped source and its status.
    pub worst: Option<(SourceId, SourceStatus)>,
}

impl Freshness {
    /// Every source feeding the pane has stopped: the whole tile is old data.
    pub fn all_stopped(&self) -> bool {
        self.sources > 0 && self.stopped == self.sources
    }

    /// The short cue: "live · 2 s", "stale 42 s", "1 of 3 down · 42 s".
    pub fn cue(&self) -> String {
        let word = match self.worst.as_ref().map(|(_, s)| *s) {
            Some(SourceStatus::Down) => "down",
            _ => "stale",
        };
        if self.stopped == 0 {
            format!(
                "live · {}",
                self.live_age
                    .map_or_else(|| "-".to_owned(), |a| format!("{a:.0} s"))
            )
        } else if self.all_stopped() {
            format!("{word} {}", format_age(self.stopped_age))
        } else {
            format!(
                "{} of {} {word} · {}",
                self.stopped,
                self.sources,
                format_age(self.stopped_age)
            )
        }
    }
}

/// The freshness of every pane that has sources, in one pass over the snapshot.
pub fn compute(ctx: &PanelCtx<'_>) -> Vec<(Pane, Freshness)> {
    let state = ctx.state;
    let mut topology = BTreeSet::new();
    for i in state.instances.values() {
        topology.insert(&i.source);
    }
    let mut breakers: BTreeSet<&SourceId> = state.breakers.values().map(|b| &b.source).collect();
    // A route reaches the services a composed one is made of.
    let routed = state.routed_services();
    let backends: BTreeSet<&SourceId> = state
        .instances
        .values()
        .filter(|i| i.services().any(|s| routed.contains_key(s)))
        .map(|i| &i.source)
        .collect();
    // A kind may feed a pane as a kind (a gateway reports its routes' breakers): the
    // sources table says which.
    breakers.extend(
        state
            .sources
            .iter()
            .filter(|(_, s)| s.kind.feeds().breakers.counts(!state.breakers.is_empty()))
            .map(|(id, _)| id),
    );
    let quorum: BTreeSet<&SourceId> = state.clusters.values().map(|c| &c.source).collect();
    let metrics: BTreeSet<&SourceId> = state
        .metrics
        .values()
        .flat_map(|m| m.values().map(|s| &s.source))
        .collect();
    let databases: BTreeSet<&SourceId> = state
        .sources
        .iter()
        .filter(|(_, s)| s.kind.feeds().databases.counts(!state.databases.is_empty()))
        .map(|(id, _)| id)
        .collect();
    let dns: BTreeSet<&SourceId> = state.dns.values().map(|e| &e.source).collect();
    let all: BTreeSet<&SourceId> = state
        .sources
        .iter()
        .filter(|(_, s)| s.kind != SourceKind::Engine)
        .map(|(id, _)| id)
        .collect();
    let of = |set: &BTreeSet<&SourceId>| summarize(ctx, set.iter().copied());
    vec![
        (Pane::Topology, of(&topology)),
        (Pane::Breakers, of(&breakers)),
        (Pane::Backends, of(&backends)),
        (Pane::Quorum, of(&quorum)),
        (Pane::Metrics, of(&metrics)),
        (Pane::Databases, of(&databases)),
        (Pane::Dns, of(&dns)),
        (Pane::Events, of(&all)),
    ]
}

fn summarize<'a>(ctx: &PanelCtx<'_>, ids: impl Iterator<Item = &'a SourceId>) -> Freshness {
    let state = ctx.state;
    let mut f = Freshness::default();
    for id in ids {
        let Some(s) = state.sources.get(id) else {
            continue;
        };
        f.sources += 1;
        let age = ctx.age_secs(s.last_event_at);
        if s.status == SourceStatus::Up {
            f.live_age = Some(f.live_age.map_or(age, |a: f64| a.min(age)));
        } else {
            f.stopped += 1;
            if f.worst.is_none() || age > f.stopped_age {
                f.stopped_age = age;
                f.worst = Some((id.clone(), s.status));
            }
        }
    }
    f
}

/// Draws a pane's cue (right to left, for the tab bar), with the sources on hover.
pub fn cue_ui(ui: &mut egui::Ui, f: &Freshness) {
    if f.sources == 0 {
        return;
    }
    let text = f.cue();
    let resp = if f.stopped > 0 {
        ui.horizontal(|ui| {
            ui.label(RichText::new(text).color(theme::STALE).strong());
            let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::hover());
            theme::paint_glyph(ui.painter(), rect.center(), 5.0, Glyph::Ring, theme::STALE);
        })
        .response
    } else {
        ui.label(RichText::new(text).weak())
    };
    resp.on_hover_text(match &f.worst {
        Some((id, status)) => format!(
            "{} of {} source(s) stopped; {id} is {} (last report {} ago). \
             What this tile shows from it is old (greyed where the panel can tell).",
            f.stopped,
            f.sources,
            status.as_str(),
            format_age(f.stopped_age)
        ),
        None => format!(
            "{} source(s), all reporting; the newest report is {} old.",
            f.sources,
            f.live_age.map_or_else(|| "-".to_owned(), format_age)
        ),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cue_says_live_stale_or_partly_with_the_age() {
        let mut f = Freshness {
            sources: 3,
            live_age: Some(1.6),
            ..Freshness::default()
        };
        assert_eq!(f.cue(), "live · 2 s");
        f.stopped = 1;
        f.stopped_age = 42.0;
        f.worst = Some((SourceId::from("etcd"), SourceStatus::Down));
        assert_eq!(f.cue(), "1 of 3 down · 42 s");
        f.stopped = 3;
        f.worst = Some((SourceId::from("etcd"), SourceStatus::Stale));
        assert!(f.all_stopped());
        assert_eq!(f.cue(), "stale 42 s");
    }
}
