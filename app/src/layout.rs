//! Panel layouts: the presets shipped in `layouts/` and the operator's last layout.
//!
//! Presets are small JSON trees (see `layouts/README.md`) turned into an
//! `egui_tiles::Tree`; the operator's own layouts (the last one, and any saved under a
//! name in the data directory's `layouts/`) are the tree itself, serialized.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A panel the layout can place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pane {
    /// Services and instances.
    Topology,
    /// Breaker tiles.
    Breakers,
    /// Consensus clusters.
    Quorum,
    /// Notable changes.
    Events,
    /// Incidents.
    Incidents,
    /// Instances behind gateway routes.
    Backends,
    /// Metric series (latency quantiles) per service.
    Metrics,
    /// Database clusters (Patroni, PostgreSQL).
    Databases,
    /// Workflows: jobs under way and the journal.
    Workflows,
    /// Public names (DNS records): where each points, on every server.
    Dns,
}

impl Pane {
    /// Every pane, in menu order.
    pub const ALL: [Self; 10] = [
        Self::Topology,
        Self::Breakers,
        Self::Quorum,
        Self::Databases,
        Self::Dns,
        Self::Events,
        Self::Incidents,
        Self::Backends,
        Self::Metrics,
        Self::Workflows,
    ];

    /// Tab title.
    pub const fn title(self) -> &'static str {
        match self {
            Self::Topology => "Topology",
            Self::Breakers => "Breakers",
            Self::Quorum => "Quorum",
            Self::Events => "Event log",
            Self::Incidents => "Incidents",
            Self::Backends => "Backends",
            Self::Metrics => "Metrics",
            Self::Databases => "Databases",
            Self::Workflows => "Workflows",
            Self::Dns => "DNS",
        }
    }
}

/// A preset file.
#[derive(Clone, Debug, Deserialize)]
pub struct Preset {
    /// Name used by `--layout`.
    pub name: String,
    /// One line for the menu.
    #[serde(default)]
    pub description: String,
    /// The tree.
    pub root: Node,
}

/// A node of a preset tree.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// Panes as tabs.
    Tabs(Vec<Pane>),
    /// Children side by side.
    Horizontal(Vec<Child>),
    /// Children stacked.
    Vertical(Vec<Child>),
    /// Children in a grid.
    Grid(Vec<Child>),
}

/// A child node with its share of the space.
#[derive(Clone, Debug, Deserialize)]
pub struct Child {
    /// Relative size (default 1).
    #[serde(default = "one")]
    pub share: f32,
    /// The node.
    #[serde(flatten)]
    pub node: Node,
}

const fn one() -> f32 {
    1.0
}

/// The presets built into the binary, from `layouts/`.
pub const PRESETS: [(&str, &str); 5] = [
    ("oncall", include_str!("../../layouts/oncall.json")),
    ("wall", include_str!("../../layouts/wall.json")),
    ("triage", include_str!("../../layouts/triage.json")),
    ("replay", include_str!("../../layouts/replay.json")),
    ("database", include_str!("../../layouts/database.json")),
];

/// Parses a preset by name.
pub fn preset(name: &str) -> Result<Preset, String> {
    let (_, text) = PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        format!(
            "no layout named {name:?}; known: {}",
            preset_names().join(", ")
        )
    })?;
    serde_json::from_str(text).map_err(|e| format!("layout {name}: {e}"))
}

/// Names of the presets.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// Builds the tiles tree of a preset.
pub fn build_tree(preset: &Preset) -> egui_tiles::Tree<Pane> {
    let mut tiles = egui_tiles::Tiles::default();
    let root = insert(&mut tiles, &preset.root);
    egui_tiles::Tree::new(egui::Id::unique("switchboard-layout"), root, tiles)
}

fn insert(tiles: &mut egui_tiles::Tiles<Pane>, node: &Node) -> egui_tiles::TileId {
    match node {
        Node::Tabs(panes) => {
            let ids: Vec<_> = panes.iter().map(|p| tiles.insert_pane(*p)).collect();
            tiles.insert_tab_tile(ids)
        }
        Node::Grid(children) => {
            let ids: Vec<_> = children.iter().map(|c| insert(tiles, &c.node)).collect();
            tiles.insert_grid_tile(ids)
        }
        Node::Horizontal(children) | Node::Vertical(children) => {
            let ids: Vec<_> = children.iter().map(|c| insert(tiles, &c.node)).collect();
            let mut linear = egui_tiles::Linear::new(
                if matches!(node, Node::Horizontal(_)) {
                    egui_tiles::LinearDir::Horizontal
                } else {
                    egui_tiles::LinearDir::Vertical
                },
                ids.clone(),
            );
            for (id, c) in ids.iter().zip(children) {
                linear.shares.set_share(*id, c.share.max(0.01));
            }
            tiles.insert_container(linear)
        }
    }
}

/// The most a layout file may hold: a tree of a few dozen panes is a few kilobytes.
const MAX_LAYOUT_BYTES: u64 = 1 << 20;

/// Loads a saved tree; `None` when missing or unreadable (the caller falls back to a preset).
pub fn load_saved(path: &Path) -> Option<egui_tiles::Tree<Pane>> {
    let text = switchboard_core::sources::read_text_bounded(path, MAX_LAYOUT_BYTES).ok()?;
    match serde_json::from_str(&text) {
        Ok(tree) => Some(tree),
        Err(e) => {
            tracing::warn!("ignoring saved layout: {e} ({})", path.display());
            None
        }
    }
}

/// Saves a tree (atomically: write then rename).
pub fn save(path: &Path, tree: &egui_tiles::Tree<Pane>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string(tree).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}

/// Where the operator's named layouts live, under the data directory.
pub fn user_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("layouts")
}

/// Checks a name for an own layout: letters, digits, `-` and `_` (it is a file name),
/// and not the name of a preset.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("a layout name has 1 to 64 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "layout name {name:?}: use letters, digits, '-' and '_' only"
        ));
    }
    if PRESETS.iter().any(|(n, _)| *n == name) {
        return Err(format!("{name:?} is a preset; choose another name"));
    }
    Ok(())
}

/// Saves `tree` as the operator's layout `name` in `dir`.
pub fn save_named(dir: &Path, name: &str, tree: &egui_tiles::Tree<Pane>) -> Result<(), String> {
    check_name(name)?;
    let path = dir.join(format!("{name}.json"));
    save(&path, tree).map_err(|e| format!("cannot save layout {name}: {e} ({})", path.display()))
}

/// The operator's layouts in `dir`, by name.
pub fn user_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let stem = n.strip_suffix(".json")?.to_owned();
            check_name(&stem).ok().map(|()| stem)
        })
        .collect();
    names.sort();
    names
}

/// A layout by name: a preset, or one of the operator's in `dir`.
pub fn resolve(name: &str, dir: Option<&Path>) -> Result<egui_tiles::Tree<Pane>, String> {
    if PRESETS.iter().any(|(n, _)| *n == name) {
        return preset(name).map(|p| build_tree(&p));
    }
    let Some(dir) = dir.filter(|_| check_name(name).is_ok()) else {
        return preset(name).map(|p| build_tree(&p));
    };
    let path = dir.join(format!("{name}.json"));
    match switchboard_core::sources::read_text_bounded(&path, MAX_LAYOUT_BYTES) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| format!("layout {name} cannot be read: {e} ({})", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "no layout named {name:?}; presets: {}; yours: {}",
            preset_names().join(", "),
            {
                let mine = user_names(dir);
                if mine.is_empty() {
                    "none".to_owned()
                } else {
                    mine.join(", ")
                }
            }
        )),
        Err(e) => Err(format!("layout {name}: {e} ({})", path.display())),
    }
}

/// Removes the operator's layout `name` from `dir`.
pub fn remove_named(dir: &Path, name: &str) -> Result<(), String> {
    check_name(name)?;
    std::fs::remove_file(dir.join(format!("{name}.json")))
        .map_err(|e| format!("cannot remove layout {name}: {e}"))
}

/// The panes a tree holds, sorted by title (to compare layouts whatever their order).
pub fn panes_of(tree: &egui_tiles::Tree<Pane>) -> Vec<Pane> {
    let mut panes: Vec<Pane> = tree
        .tiles
        .tiles()
        .filter_map(|t| match t {
            egui_tiles::Tile::Pane(p) => Some(*p),
            egui_tiles::Tile::Container(_) => None,
        })
        .collect();
    panes.sort_by_key(|p| p.title());
    panes
}

/// Brings `pane` to the front: activates its tab, or, when the layout has none (a layout
/// saved before the pane existed, or one the operator closed), adds it as a tab beside
/// the last tab group and activates it.
pub fn show_pane(tree: &mut egui_tiles::Tree<Pane>, pane: Pane) {
    let is_it = |_: egui_tiles::TileId, t: &egui_tiles::Tile<Pane>| matches!(t, egui_tiles::Tile::Pane(p) if *p == pane);
    if tree.make_active(is_it) {
        return;
    }
    let id = tree.tiles.insert_pane(pane);
    let tabs = tree
        .tiles
        .iter()
        .filter_map(|(tid, t)| match t {
            egui_tiles::Tile::Container(egui_tiles::Container::Tabs(_)) => Some(*tid),
            _ => None,
        })
        .max_by_key(|tid| tid.0);
    if let Some(egui_tiles::Tile::Container(egui_tiles::Container::Tabs(tabs))) =
        tabs.and_then(|tid| tree.tiles.get_mut(tid))
    {
        tabs.add_child(id);
        tabs.set_active(id);
    } else {
        let mut kids = vec![id];
        kids.extend(tree.root);
        let root = tree.tiles.insert_tab_tile(kids);
        tree.root = Some(root);
        tree.make_active(is_it);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_places_every_pane_once_or_more() {
        for name in preset_names() {
            let p = preset(name).expect("preset");
            let panes = panes_of(&build_tree(&p));
            for must in [
                Pane::Topology,
                Pane::Breakers,
                Pane::Quorum,
                Pane::Incidents,
            ] {
                // The wall's banners carry the open incident.
                if name == "wall" && must == Pane::Incidents {
                    continue;
                }
                assert!(panes.contains(&must), "{name} lacks {must:?}");
            }
        }
        assert!(preset("nope").is_err());
    }

    #[test]
    fn a_missing_pane_is_added_once_and_a_present_one_activated() {
        let mut tree = build_tree(&preset("wall").expect("wall"));
        assert!(!panes_of(&tree).contains(&Pane::Metrics));
        show_pane(&mut tree, Pane::Metrics);
        show_pane(&mut tree, Pane::Metrics);
        let count = panes_of(&tree)
            .iter()
            .filter(|p| **p == Pane::Metrics)
            .count();
        assert_eq!(count, 1, "added once");
        let mut empty = egui_tiles::Tree::<Pane>::empty(egui::Id::unique("empty"));
        show_pane(&mut empty, Pane::Events);
        assert_eq!(
            panes_of(&empty),
            vec![Pane::Events],
            "an empty layout gets a tab group"
        );
        assert!(empty.root.is_some());
    }

    #[test]
    fn saved_tree_round_trips_and_garbage_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("layout.json");
        let tree = build_tree(&preset("oncall").expect("oncall"));
        save(&path, &tree).expect("save");
        let back = load_saved(&path).expect("load");
        assert_eq!(back.tiles.len(), tree.tiles.len());
        std::fs::write(&path, "{ not json").expect("write");
        assert!(load_saved(&path).is_none());
    }

    #[test]
    fn own_layouts_save_list_load_and_remove_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let tree = build_tree(&preset("database").expect("preset"));
        save_named(dir.path(), "night-shift", &tree).expect("saved");
        assert_eq!(user_names(dir.path()), vec!["night-shift".to_owned()]);
        let back = resolve("night-shift", Some(dir.path())).expect("loads");
        assert_eq!(panes_of(&back), panes_of(&tree));
        assert_eq!(
            panes_of(&resolve("wall", Some(dir.path())).expect("preset")),
            panes_of(&build_tree(&preset("wall").expect("wall")))
        );
        for bad in ["", "../x", "a/b", "oncall", "x y"] {
            assert!(
                save_named(dir.path(), bad, &tree).is_err(),
                "{bad:?} is refused"
            );
        }
        let missing = resolve("nope", Some(dir.path())).expect_err("missing");
        assert!(
            missing.contains("night-shift"),
            "names what there is: {missing}"
        );
        std::fs::write(dir.path().join("broken.json"), "{not json").expect("write");
        let broken = resolve("broken", Some(dir.path())).expect_err("garbage");
        assert!(broken.contains("cannot be read"), "{broken}");
        remove_named(dir.path(), "night-shift").expect("removed");
        assert!(!user_names(dir.path()).contains(&"night-shift".to_owned()));
    }
}
