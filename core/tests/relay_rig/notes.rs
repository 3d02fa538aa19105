//! Notes through a relay: one person's note reaches every console within a second,
//! named by the relay; a note written while the relay is away is kept pending in the
//! console's own store and taken once when it is back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_core::protocol::SharedNote;
use switchboard_core::store::{NewNote, Store};
use switchboard_core::{EngineHandle, RelayNews, Timestamp};

use crate::helpers::{RigRelay, client_of, console, pki, rig_env, serve_config, wait_connected};

/// When each console first heard of each note.
type Heard = Arc<Mutex<HashMap<(usize, String), (Instant, SharedNote)>>>;

fn listen(i: usize, c: &EngineHandle, heard: &Heard) {
    let heard = Arc::clone(heard);
    c.on_relay_news(move |news| {
        if let RelayNews::Note(n) = news
            && let Ok(mut h) = heard.lock()
        {
            h.entry((i, n.uid.clone())).or_insert((Instant::now(), n));
        }
    });
}

fn note(uid: &str, author: &str, body: &str) -> SharedNote {
    SharedNote {
        uid: uid.into(),
        incident_key: None,
        author: author.into(),
        body: body.into(),
        created_at: Timestamp(1_000),
        edited_at: Timestamp(1_000),
        pinned_at: Timestamp(1_000),
        entity: None,
    }
}

/// alice's note reaches all twenty consoles (hers included) within a second, under
/// her certificate's name whatever her console claimed; a second send of it changes
/// nothing; the wall may not write.
#[test]
fn a_note_reaches_every_console_within_a_second_named_by_the_relay() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let dir = tempfile::tempdir().expect("dir");
    let relay = RigRelay::start_with_data(rig_env(), &serve_config(&pki), dir.path());
    let people = ["alice", "bob", "wall"];
    let consoles: Vec<EngineHandle> = (0..20)
        .map(|i| console(&client_of(&relay.url(), &pki, people[i % 3])))
        .collect();
    let heard: Heard = Arc::default();
    for (i, c) in consoles.iter().enumerate() {
        listen(i, c, &heard);
        wait_connected(c, Duration::from_secs(20));
    }
    let sent = Instant::now();
    consoles[0]
        .share_note(note(
            "note-from-alice-1",
            "mallory",
            "db1 is fenced; failing over",
        ))
        .expect("sent");
    let deadline = sent + Duration::from_secs(5);
    while Instant::now() < deadline && heard.lock().expect("heard").len() < 20 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let h = heard.lock().expect("heard").clone();
    assert_eq!(h.len(), 20, "every console heard the note once");
    let slowest = h
        .values()
        .map(|(t, _)| t.duration_since(sent))
        .max()
        .expect("some");
    for (_, n) in h.values() {
        assert_eq!(
            n.author, "alice",
            "the relay names the certificate's person"
        );
        assert_eq!(n.body, "db1 is fenced; failing over");
    }
    println!(
        "a note to 20 consoles through the relay: the last heard it after {} ms",
        slowest.as_millis()
    );
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");

    // The wall is a viewer: its note is refused, and the link says so.
    consoles[2]
        .share_note(note("note-from-wall", "wall", "hello"))
        .expect("queued");
    std::thread::sleep(Duration::from_millis(500));
    let err = consoles[2]
        .relay_link()
        .and_then(|l| l.error)
        .unwrap_or_default();
    assert!(err.contains("cannot write notes"), "{err}");
    assert!(
        !heard
            .lock()
            .expect("heard")
            .keys()
            .any(|(_, u)| u == "note-from-wall")
    );
    drop(consoles);
    relay.stop();
    let team = Store::open(&dir.path().join("notes.sqlite"))
        .expect("record")
        .store;
    let kept = team.shared_notes_since(Timestamp(0)).expect("notes");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].author, "alice");
}

/// bob writes while the relay is away: the note is pending in his console's store;
/// when a relay is back on the same record, it is sent, taken once (sent twice, as a
/// retry would), marked shared, and named as the relay names bob.
#[test]
fn a_note_written_offline_is_pending_then_shared_once() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let dir = tempfile::tempdir().expect("dir");
    let record = dir.path();
    let mut serve = serve_config(&pki);
    let relay = RigRelay::start_with_data(rig_env(), &serve, record);
    let addr = relay.relay.addr;
    let bob = console(&client_of(&relay.url(), &pki, "bob"));
    wait_connected(&bob, Duration::from_secs(15));
    relay.stop();
    bob.wait_for(Duration::from_secs(5), |_| {
        bob.relay_link().is_some_and(|l| !l.connected)
    });

    // The console's own store, as the window's notebook keeps it.
    let local = Arc::new(Mutex::new(
        Store::open(&dir.path().join("bob.sqlite"))
            .expect("local")
            .store,
    ));
    let id = {
        let s = local.lock().expect("store");
        let id = s
            .add_note(&NewNote {
                incident: None,
                author: "bob-laptop".into(),
                body: "written on the train".into(),
                at: Timestamp(5_000),
                pinned_at: None,
                entity: None,
            })
            .expect("add");
        s.share_note(id).expect("pending");
        id
    };
    assert!(
        local
            .lock()
            .expect("store")
            .note(id)
            .expect("note")
            .expect("one")
            .pending
    );

    // What the notebook does with the relay's news: the relay's copies are kept, and
    // pending notes go out on each connection (twice here, as after a lost reply).
    let (l, b) = (
        Arc::clone(&local),
        Arc::new(Mutex::new(None::<std::sync::mpsc::Sender<()>>)),
    );
    let (tx, connected) = std::sync::mpsc::channel();
    *b.lock().expect("tx") = Some(tx);
    bob.on_relay_news(move |news| match news {
        RelayNews::Note(n) => {
            l.lock().expect("store").receive_note(&n).expect("kept");
        }
        RelayNews::Connected => {
            if let Some(tx) = b.lock().expect("tx").as_ref() {
                tx.send(()).ok();
            }
        }
    });
    serve.listen = addr.to_string();
    let again = RigRelay::start_with_data(rig_env(), &serve, record);
    connected
        .recv_timeout(Duration::from_secs(20))
        .expect("reconnected");
    let pending = local
        .lock()
        .expect("store")
        .pending_notes()
        .expect("pending");
    assert_eq!(pending.len(), 1);
    for n in pending.iter().chain(pending.iter()) {
        bob.share_note(n.clone()).expect("sent");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && local
            .lock()
            .expect("store")
            .note(id)
            .expect("n")
            .is_some_and(|n| n.pending)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mine = local
        .lock()
        .expect("store")
        .note(id)
        .expect("n")
        .expect("one");
    assert!(!mine.pending, "the relay took it");
    assert_eq!(mine.author, "bob", "named as the relay names bob");
    drop(bob);
    again.stop();
    let team = Store::open(&record.join("notes.sqlite"))
        .expect("record")
        .store;
    let kept = team.shared_notes_since(Timestamp(0)).expect("notes");
    assert_eq!(kept.len(), 1, "taken once: {kept:?}");
    assert_eq!(kept[0].body, "written on the train");
}
