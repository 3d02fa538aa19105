//! Notes being saved: `switchboard notes add` killed at a random moment of its run
//! (starting, opening the database, writing, printing). A note is acknowledged once the
//! console printed `note #ID saved`; every acknowledged note must be in the database
//! after every kill, and the database must open as it is (not moved aside as corrupt).

use std::io::Read as _;
use std::process::Stdio;
use std::time::Duration;

use switchboard_core::store::Store;

use super::{Rng, Tally, kill_after, switchboard, trials};

#[test]
fn notes_acknowledged_survive_sigkill() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("notes.sqlite");
    let mut rng = Rng::new("notes");
    let mut tally = Tally::new("notes");
    let mut acknowledged: Vec<(i64, String)> = Vec::new();
    for trial in 0..trials() {
        let body = format!("crash trial {trial}: the primary is fenced");
        let mut child = switchboard()
            .arg("--data-dir")
            .arg(dir.path())
            .args(["notes", "add", &body])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // A debug build takes about 20-60 ms to save a note: the kill lands anywhere
        // from before `main` to after the answer.
        let killed = kill_after(&mut child, Duration::from_millis(rng.below(70)));
        tally.trials += 1;
        tally.killed_mid_run += u32::from(killed);
        let mut out = String::new();
        child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .ok();
        if let Some(id) = out
            .trim()
            .strip_prefix("note #")
            .and_then(|r| r.strip_suffix(" saved"))
            .and_then(|id| id.parse::<i64>().ok())
        {
            acknowledged.push((id, body));
        }
        if !db.exists() {
            continue;
        }
        let opened = match Store::open(&db) {
            Ok(o) => o,
            Err(e) => {
                tally.fail(trial, format!("the notes database does not open: {e}"));
                continue;
            }
        };
        if let Some(aside) = &opened.recovered {
            tally.fail(
                trial,
                format!(
                    "the notes database was moved aside as corrupt to {}",
                    aside.display()
                ),
            );
        }
        match opened.store.integrity() {
            Ok(ok) if ok == "ok" => {}
            other => tally.fail(trial, format!("integrity_check: {other:?}")),
        }
        let saved = opened.store.notes(None).expect("notes");
        let missing = acknowledged
            .iter()
            .filter(|(id, body)| !saved.iter().any(|n| n.id == *id && &n.body == body))
            .count() as u64;
        if missing > 0 {
            tally.fail(trial, format!("{missing} acknowledged note(s) missing"));
            tally.losses = tally.losses.max(missing);
        }
    }
    tally.count("acknowledged notes", acknowledged.len() as u64);
    tally.finish();
}
