//! The core's top-level modules depend on each other without a circle: config is a leaf
//! the workflow engine reads, the engine wires sources to the state, the session file
//! knows no engine. Read from the sources themselves (`crate::module` paths outside
//! tests), so a new import that closes a circle fails here, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module each `crate::name` path in `text` names (lowercase names only:
/// re-exported types at the crate root are not modules).
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() && rest[name.len()..].starts_with("::") {
            found.insert(name);
        }
    }
    found
}

/// module -> the modules it uses, from the non-test code under `src`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let first = rel
            .components()
            .next()
            .expect("a component")
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if first == "lib" || file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        // Test modules may use anything (a test of the state folds the drill's events).
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let uses = edges.entry(first.clone()).or_default();
        uses.extend(crate_paths(code).into_iter().filter(|d| *d != first));
    }
    edges
}

/// A circle through `from`, if one exists (depth-first).
fn circle(
    edges: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    let here = path.last().expect("a start").clone();
    for next in edges.get(&here).into_iter().flatten() {
        if let Some(i) = path.iter().position(|p| p == next) {
            let mut found = path[i..].to_vec();
            found.push(next.clone());
            return Some(found);
        }
        if seen.insert(next.clone()) {
            path.push(next.clone());
            if let Some(c) = circle(edges, path, seen) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn the_core_modules_form_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = graph(&src);
    assert!(
        edges.get("config").is_some_and(|d| !d.contains("workflow")),
        "config imports workflow: {:?}",
        edges.get("config")
    );
    assert!(edges.contains_key("workflow") && edges.contains_key("engine"));
    for start in edges.keys() {
        let mut seen = BTreeSet::from([start.clone()]);
        if let Some(c) = circle(&edges, &mut vec![start.clone()], &mut seen) {
            panic!("module circle: {}", c.join(" -> "));
        }
    }
}

#[test]
fn a_circle_is_found_when_there_is_one() {
    let edges: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"])]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
            .collect();
    let mut seen = BTreeSet::from(["a".to_owned()]);
    assert_eq!(
        circle(&edges, &mut vec!["a".to_owned()], &mut seen),
        Some(
            vec!["a", "b", "c", "a"]
                .into_iter()
                .map(str::to_owned)
                .collect()
        )
    );
    assert_eq!(
        crate_paths("use crate::config::X; crate::Foo; crate::time::Y"),
        BTreeSet::from(["config".to_owned(), "time".to_owned()])
    );
}
