//! The store: migrations from an empty file and from every earlier schema, incidents
//! and their times, notes with edit history, full-text search, a corrupt file, a newer
//! schema, a second console holding the write lock.

use super::*;

fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("dir");
    let opened = Store::open(&dir.path().join("notes.sqlite")).expect("open");
    assert!(opened.recovered.is_none());
    (dir, opened.store)
}

fn note(store: &Store, incident: Option<i64>, body: &str, at: i64) -> i64 {
    store
        .add_note(&NewNote {
            incident,
            author: "ana".into(),
            body: body.into(),
            at: Timestamp(at),
            pinned_at: None,
            entity: None,
        })
        .expect("note")
}

#[test]
fn an_empty_file_is_migrated_to_the_current_schema_and_reopens() {
    let (dir, store) = fresh();
    assert_eq!(store.version().expect("version"), SCHEMA_VERSION);
    note(&store, None, "first", 1);
    drop(store);
    let again = Store::open(&dir.path().join("notes.sqlite"))
        .expect("reopen")
        .store;
    assert_eq!(again.version().expect("version"), SCHEMA_VERSION);
    assert_eq!(again.notes(None).expect("notes").len(), 1);
}

#[test]
fn every_earlier_schema_migrates_keeping_its_rows() {
    // Build each earlier version by applying the migrations up to it, with a row, then
    // open it with the current code.
    for from in 1..=SCHEMA_VERSION {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("notes.sqlite");
        {
            let conn = Connection::open(&path).expect("raw");
            for (i, sql) in MIGRATIONS
                .iter()
                .enumerate()
                .take(usize::try_from(from).unwrap_or(0))
            {
                conn.execute_batch(sql).expect("migration");
                conn.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(0))
                    .expect("version");
            }
            conn.execute(
                "INSERT INTO incidents (title, severity, environment, origin, started_at) VALUES ('old', 1, 'prod', 'manual', 5)",
                [],
            )
            .expect("row");
        }
        let store = Store::open(&path).expect("open").store;
        assert_eq!(
            store.version().expect("version"),
            SCHEMA_VERSION,
            "from {from}"
        );
        assert_eq!(store.incidents().expect("incidents")[0].title, "old");
    }
}

#[test]
fn a_newer_schema_is_refused_and_a_corrupt_file_is_set_aside() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("notes.sqlite");
    {
        let conn = Connection::open(&path).expect("raw");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("version");
    }
    let err = Store::open(&path).err().expect("too new");
    assert!(matches!(err, StoreError::TooNew { .. }), "{err}");

    let bad = dir.path().join("bad.sqlite");
    std::fs::write(&bad, b"this is not a database, it was a disk error").expect("write");
    let opened = Store::open(&bad).expect("a fresh one");
    let aside = opened.recovered.expect("set aside");
    assert!(
        aside.exists(),
        "the corrupt file is kept for a human: {}",
        aside.display()
    );
    assert_eq!(opened.store.integrity().expect("check"), "ok");
}

/// The cost estimate and the RTO countdown, on domain.md §10's own example: 250 tx/s
/// at $75 for 28 minutes is $31.5M.
#[test]
fn cost_and_rto_follow_the_incidents_objectives() {
    let (_dir, store) = fresh();
    let id = store
        .open_incident("pool leak", 1, "prod", "manual", Timestamp(0), None)
        .expect("open");
    assert!(
        store
            .incident(id)
            .expect("row")
            .cost(Timestamp(1))
            .is_none()
    );
    store
        .set_objectives(
            id,
            &Objectives {
                rto_secs: Some(15 * 60),
                rpo_secs: Some(60),
                tx_per_sec: Some(250.0),
                tx_value: Some(75.0),
                currency: None,
            },
        )
        .expect("objectives");
    let i = store.incident(id).expect("row");
    let at = |min: i64| Timestamp(min * 60_000);
    let cost = i.cost(at(28)).expect("cost");
    assert!((cost.amount - 31_500_000.0).abs() < 0.01, "{cost:?}");
    assert_eq!(
        cost.describe(),
        "≈ $31,500,000 (estimate: 1680 s × 250 tx/s × $75.00)"
    );
    assert_eq!(i.rto(at(10)), Some(RtoStatus::Left(300)));
    assert_eq!(i.rto(at(16)), Some(RtoStatus::Overdue(60)));
    assert_eq!(RtoStatus::Left(300).describe(), "05:00 left");
    store.set_status(id, "resolved", at(14)).expect("resolved");
    let i = store.incident(id).expect("row");
    assert_eq!(
        i.rto(at(99)),
        Some(RtoStatus::Met(60)),
        "frozen at resolution"
    );
    assert!((i.cost(at(99)).expect("cost").downtime_secs - 840.0).abs() < 1e-9);
}

/// A severity set by hand is journaled on the timeline and sticks; an invalid one is
/// refused.
#[test]
fn severity_changes_are_on_the_timeline() {
    let (_dir, store) = fresh();
    let id = store
        .open_incident("x", 2, "prod", "manual", Timestamp(0), None)
        .expect("open");
    store
        .set_severity(id, 0, Timestamp(5), Some("ana"), ": orders fail")
        .expect("set");
    let i = store.incident(id).expect("row");
    assert_eq!((i.severity, i.severity_by_hand), (0, true));
    let t = store.timeline(id).expect("timeline");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].text, "Sev2 -> Sev0, set by ana: orders fail");
    assert!(
        store
            .set_severity(id, 4, Timestamp(6), Some("ana"), "")
            .is_err()
    );
}

#[test]
fn incidents_have_their_times_and_time_in_each_status() {
    let (_dir, store) = fresh();
    let id = store
        .open_incident(
            "checkout 503s",
            0,
            "prod",
            "detected",
            Timestamp(1_000),
            Some(Timestamp(21_000)),
        )
        .expect("open");
    store
        .set_status(id, "mitigated", Timestamp(61_000))
        .expect("mitigated");
    store
        .set_status(id, "resolved", Timestamp(181_000))
        .expect("resolved");
    let i = store.incident(id).expect("incident");
    assert_eq!(
        (i.mttd_millis(), i.mttr_millis()),
        (Some(20_000), Some(160_000)),
        "MTTR runs from detection (domain.md §10)"
    );
    assert_eq!(i.status, "resolved");
    assert_eq!(
        store.time_in_status(id, Timestamp(999_000)).expect("times"),
        vec![
            ("triage".to_owned(), 60_000),
            ("mitigated".to_owned(), 120_000),
        ]
    );
    assert!(store.set_status(id, "closed", Timestamp(0)).is_err());
    assert!(store.set_status(99, "resolved", Timestamp(0)).is_err());
    assert!(
        store
            .open_incident("x", 9, "prod", "manual", Timestamp(0), None)
            .map(|id| store.incident(id).expect("row").severity)
            .expect("clamped")
            == 3
    );
}

#[test]
fn notes_keep_their_history_and_are_found_by_full_text_search() {
    let (_dir, store) = fresh();
    let inc = store
        .open_incident("leak", 0, "prod", "manual", Timestamp(0), None)
        .expect("incident");
    let a = note(
        &store,
        Some(inc),
        "Pool **saturated** on checkout: 50/50",
        10,
    );
    let b = note(&store, Some(inc), "Rolled back deploy 4.2.1", 20);
    note(&store, None, "unrelated: rotate the certificate", 30);
    store
        .edit_note(
            a,
            "Pool **saturated** on checkout: 50/50, queue 40",
            Timestamp(15),
        )
        .expect("edit");
    assert_eq!(
        store.history(a).expect("history"),
        vec![(
            "Pool **saturated** on checkout: 50/50".to_owned(),
            Timestamp(15)
        )]
    );
    let found = store.search("saturated checkout", 10).expect("search");
    assert_eq!(found.iter().map(|n| n.id).collect::<Vec<_>>(), [a]);
    assert!(
        found[0].body.ends_with("queue 40"),
        "the edited text is indexed"
    );
    assert!(store.search("50/50", 10).expect("odd characters").len() == 1);
    assert_eq!(store.search("deploy", 10).expect("search")[0].id, b);
    assert!(
        store
            .search("nothing-like-this", 10)
            .expect("search")
            .is_empty()
    );
    assert_eq!(store.notes(Some(inc)).expect("notes").len(), 2);
    assert!(
        store
            .add_note(&NewNote {
                incident: Some(77),
                author: "ana".into(),
                body: "x".into(),
                ..NewNote::default()
            })
            .is_err()
    );
}

#[test]
fn a_second_console_holding_the_write_lock_makes_a_save_wait_then_say_busy() {
    let (dir, store) = fresh();
    let other = Connection::open(dir.path().join("notes.sqlite")).expect("second console");
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("hold the write lock");
    let started = std::time::Instant::now();
    let err = store
        .add_note(&NewNote {
            author: "ana".into(),
            body: "written while another console writes".into(),
            ..NewNote::default()
        })
        .expect_err("busy");
    assert!(matches!(err, StoreError::Busy), "{err}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it waited first"
    );
    other.execute_batch("COMMIT").expect("release");
    note(&store, None, "written once the other console is done", 1);
}

/// The automatic timeline from a drill run: the connection-leak incident is stored at
/// its detection, resolved at recovery, with the console's log and a workflow's steps
/// interleaved; syncing again adds nothing twice; entries can be starred and hidden.
#[test]
fn a_drill_runs_incidents_and_timeline_are_recorded_once() {
    use crate::workflow::{Journal, StepRow};
    let (dir, store) = fresh();
    let mut state = crate::state::State::default();
    state.apply_all(&crate::sources::drill::simulate(7, 300, 300));
    let opened = store
        .sync_state(&state, "drill", &Objectives::default())
        .expect("sync");
    assert!(opened >= 2, "{opened}");
    let leak = store
        .incidents()
        .expect("incidents")
        .into_iter()
        .next_back()
        .expect("first incident");
    assert_eq!(leak.origin, "detected");
    assert!(!leak.impact.is_empty(), "what it hit is recorded");
    let live = &state.incidents.incidents[0];
    assert_eq!(
        (leak.severity, leak.impact.as_str()),
        (live.severity(), live.impact().as_str()),
        "the severity follows what it hit"
    );
    assert!(leak.mttd_millis().is_some_and(|m| m > 0), "{leak:?}");
    assert_eq!(leak.status, "resolved");
    assert!(leak.mttr_millis().is_some());
    let timeline = store.timeline(leak.id).expect("timeline");
    assert!(
        timeline
            .iter()
            .any(|e| e.subject == "edge-gateway/checkout"),
        "the breaker's flips are on it: {timeline:?}"
    );
    // A workflow run during the incident.
    let journal = Journal::open(&dir.path().join("journal.sqlite")).expect("journal");
    let at = Timestamp(leak.detected_at.expect("detected").0 + 1_000);
    let run = journal
        .start(
            "fallback",
            "edge-gateway/checkout",
            "drill",
            "ana",
            at,
            "service",
        )
        .expect("run");
    journal
        .step(
            run,
            &StepRow {
                seq: 0,
                phase: "after".into(),
                action: "DRILL: send edge-gateway/checkout to its fallback".into(),
                outcome: "ok".into(),
                detail: String::new(),
                at,
            },
        )
        .expect("step");
    let runs = vec![(
        journal.run(run).expect("row").expect("run"),
        journal.steps(run).expect("steps"),
    )];
    store.sync_journal(&runs).expect("journal sync");
    let with_run = store.timeline(leak.id).expect("timeline");
    assert!(
        with_run
            .iter()
            .any(|e| e.kind == "workflow" && e.text.contains("fallback by ana"))
    );
    // Idempotent.
    assert_eq!(
        store
            .sync_state(&state, "drill", &Objectives::default())
            .expect("again"),
        0
    );
    store.sync_journal(&runs).expect("again");
    assert_eq!(
        store.timeline(leak.id).expect("timeline").len(),
        with_run.len()
    );
    store.mark(with_run[0].id, true, false).expect("star");
    assert!(store.timeline(leak.id).expect("timeline")[0].starred);
    assert!(store.mark(-1, true, false).is_err());
}

/// The postmortem of a fixed incident, in Markdown and JSON, against golden files
/// (`UPDATE_GOLDEN=1` rewrites them; review the diff).
#[test]
fn postmortem_export_matches_the_golden_files() {
    use crate::workflow::{RunRow, StepRow};
    let (_dir, store) = fresh();
    let t = |s: i64| Timestamp(1_795_400_000_000 + s * 1000);
    let id = store
        .open_incident(
            "checkout 503s: connection pool leak",
            1,
            "prod",
            "manual",
            t(0),
            Some(t(42)),
        )
        .expect("incident");
    store
        .add_note(&NewNote {
            incident: Some(id),
            author: "ana".into(),
            body: "Pool **saturated**: 50/50, queue 40.\nOrders are failing.".into(),
            at: t(60),
            pinned_at: Some(t(50)),
            entity: Some("service:checkout".into()),
        })
        .expect("note");
    let run = RunRow {
        id: 7,
        kind: "fallback".into(),
        target: "ingress/shop".into(),
        environment: "prod".into(),
        operator: "ana".into(),
        started_at: t(90),
        outcome: "done".into(),
        host: "laptop".into(),
        pid: 1,
        before: "websvc".into(),
    };
    store
        .set_objectives(
            id,
            &Objectives {
                rto_secs: Some(900),
                rpo_secs: Some(60),
                tx_per_sec: Some(250.0),
                tx_value: Some(75.0),
                currency: None,
            },
        )
        .expect("objectives");
    store
        .conn
        .execute(
            "UPDATE incidents SET impact = 'service checkout, database orders-db' WHERE id = ?1",
            params![id],
        )
        .expect("impact");
    let steps = vec![
        StepRow {
            seq: 0,
            phase: "guards".into(),
            action: "checked".into(),
            outcome: "passed".into(),
            detail: "read-only: PASS (prod allows changes)\nlast healthy: PASS (websvc keeps 2 healthy instances)".into(),
            at: t(90),
        },
        StepRow {
            seq: 1,
            phase: "verify".into(),
            action: "Traefik runs shop -> fallbacksvc".into(),
            outcome: "ok".into(),
            detail: "fallbacksvc".into(),
            at: t(91),
        },
    ];
    store.sync_journal(&[(run, steps)]).expect("journal");
    store
        .set_severity(id, 0, t(70), Some("ana"), ": every order fails")
        .expect("severity");
    store.set_status(id, "mitigated", t(95)).expect("mitigated");
    store.set_status(id, "resolved", t(600)).expect("resolved");
    let pm = store.postmortem(id, t(700)).expect("postmortem");
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/golden");
    for (file, text) in [
        ("postmortem.md", pm.to_markdown()),
        ("postmortem.json", pm.to_json()),
    ] {
        let path = golden.join(file);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(&golden).expect("dir");
            std::fs::write(&path, &text).expect("write golden");
        }
        let want = std::fs::read_to_string(&path).expect("golden file");
        assert_eq!(text, want, "{file} differs from its golden file");
    }
}

/// A full disk (SQLite's own limit on the file's pages stands in for it) and a
/// directory that cannot hold the database: a clear error, and nothing half-written.
#[test]
fn a_full_disk_or_an_unusable_directory_is_a_clear_error() {
    let (_dir, store) = fresh();
    note(&store, None, "before the disk filled", 1);
    let pages: i64 = store
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("pages");
    store
        .conn
        .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
        .expect("limit");
    let err = store
        .add_note(&NewNote {
            author: "ana".into(),
            body: "x".repeat(64 * 1024),
            ..NewNote::default()
        })
        .expect_err("full");
    assert!(
        matches!(&err, StoreError::Unwritable(why) if why.contains("disk is full")),
        "{err}"
    );
    assert!(err.to_string().contains("the text is kept"), "{err}");
    assert_eq!(
        store.notes(None).expect("notes").len(),
        1,
        "nothing half-written"
    );
    assert_eq!(store.integrity().expect("check"), "ok");

    // A directory that cannot exist: its parent is a file.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("file");
    let Err(e) = Store::open(&file.join("notes.sqlite")) else {
        panic!("a store under a file opened");
    };
    assert!(e.to_string().contains("a-file"), "the path is named: {e}");
}

/// An incident a person opened gets the console's log of its span as its timeline,
/// as a detected one does: once, only its own environment's, nothing after its end.
#[test]
fn a_manual_incident_gets_the_log_of_its_span() {
    let (_dir, store) = fresh();
    let mut state = crate::state::State::default();
    state.apply_all(&crate::sources::drill::simulate(7, 300, 300));
    let times: Vec<i64> = state.log.iter().map(|e| e.at.0).collect();
    assert!(times.len() > 10, "the drill logged {} entries", times.len());
    let (start, end) = (times[times.len() / 3], times[2 * times.len() / 3]);
    let id = store
        .open_incident(
            "checkout slow",
            2,
            "drill",
            "manual",
            Timestamp(start),
            None,
        )
        .expect("open");
    store
        .set_status(id, "resolved", Timestamp(end))
        .expect("resolve");
    let other = store
        .open_incident("elsewhere", 2, "prod", "manual", Timestamp(start), None)
        .expect("open");
    store
        .sync_state(&state, "drill", &Objectives::default())
        .expect("sync");
    let timeline = store.timeline(id).expect("timeline");
    let expected = times
        .iter()
        .filter(|&&t| (start - 60_000..=end).contains(&t))
        .count();
    let events: Vec<_> = timeline.iter().filter(|e| e.kind == "event").collect();
    assert!(!events.is_empty(), "{timeline:?}");
    assert!(events.len() <= expected, "{} > {expected}", events.len());
    assert!(
        events
            .iter()
            .all(|e| (start - 60_000..=end).contains(&e.at.0)),
        "{events:?}"
    );
    store
        .sync_state(&state, "drill", &Objectives::default())
        .expect("again");
    assert_eq!(store.timeline(id).expect("timeline").len(), timeline.len());
    assert!(
        store.timeline(other).expect("timeline").is_empty(),
        "another environment's incident"
    );
    let pm = store.postmortem(id, Timestamp(end)).expect("postmortem");
    assert_eq!(pm.timeline.len(), timeline.len());
}
