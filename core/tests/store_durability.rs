//! Durability of the notes store: a child process writes notes in a loop and reports
//! each one once `add_note` returned; the parent kills it with SIGKILL at a random
//! moment, 200 times. Every note the child reported as saved must be there, and
//! `PRAGMA integrity_check` must say ok.
//!
//! The child is this test binary again, running the ignored `store_child_writer`.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_core::Timestamp;
use switchboard_core::store::{NewNote, Store};

const CHILD: &str = "SWITCHBOARD_STORE_CHILD";

/// The child: writes notes until killed, printing `saved <id> <body>` after each.
#[test]
#[ignore = "run by notes_reported_saved_survive_sigkill as its child process"]
fn store_child_writer() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let store = Store::open(std::path::Path::new(&path))
        .expect("open")
        .store;
    let pid = std::process::id();
    for k in 0.. {
        let body = format!("note {k} from child {pid}");
        let id = store
            .add_note(&NewNote {
                author: "durability".into(),
                body: body.clone(),
                at: Timestamp(i64::from(k)),
                ..NewNote::default()
            })
            .expect("save");
        println!("saved {id} {body}");
    }
}

#[test]
fn notes_reported_saved_survive_sigkill() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("notes.sqlite");
    let exe = std::env::current_exe().expect("this test binary");
    let mut seed = u64::from(std::process::id()) ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut reported: Vec<(i64, String)> = Vec::new();
    let started = Instant::now();
    for _ in 0..200 {
        let mut child = Command::new(&exe)
            .args(["--ignored", "--exact", "store_child_writer", "--nocapture"])
            .env(CHILD, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("child");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| {
                    let rest = l.strip_prefix("saved ")?;
                    let (id, body) = rest.split_once(' ')?;
                    Some((id.parse::<i64>().ok()?, body.to_owned()))
                })
                .collect::<Vec<_>>()
        });
        // Kill at a random moment: while starting, opening, or in the middle of writes.
        std::thread::sleep(Duration::from_millis(next() % 60));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        reported.extend(reader.join().expect("reader"));
    }
    let store = Store::open(&path).expect("reopen").store;
    assert_eq!(store.integrity().expect("check"), "ok");
    let saved = store.notes(None).expect("notes");
    let missing: Vec<_> = reported
        .iter()
        .filter(|(id, body)| !saved.iter().any(|n| n.id == *id && &n.body == body))
        .collect();
    eprintln!(
        "store durability: 200 SIGKILLs in {:.1} s; {} notes reported saved, {} in the file, {} missing",
        started.elapsed().as_secs_f64(),
        reported.len(),
        saved.len(),
        missing.len()
    );
    assert!(
        reported.len() > 100,
        "the children wrote: {}",
        reported.len()
    );
    assert!(missing.is_empty(), "lost: {missing:?}");
}
