//! The team's record on the rig's real PostgreSQL (`patronitls`: TLS verified against
//! the rig's CA, a password login from the password file, the database `switchboard`):
//! a relay keeps each note there; a note taken while the record cannot be reached is
//! kept in the relay's cache and reaches the record once it can; a second relay with
//! an empty cache (as after a failover) serves every note the first one kept; an
//! acknowledgement given on a leader is carried to the next one.
//!
//! The record is reached through a fault proxy in front of the cluster's primary, so
//! the test can cut it off. Runs when `SWITCHBOARD_RIG` names `patronitls` too.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_core::protocol::SharedNote;
use switchboard_core::sources::libpq::{Params, process_env};
use switchboard_core::sources::postgres::PostgresConfig;
use switchboard_core::{Clock as _, Environment, RelayNews, SourceConfig, SystemClock, Timestamp};
use switchboard_faultproxy::{Fault, FaultProxy};

use crate::common;
use crate::helpers::{RigRelay, client_of, console_in, pki, rig_env, serve_config, wait_connected};

/// The variable holding the record's connection string (the `postgres` source's
/// `dsn_env`), set once.
const RECORD_DSN: &str = "SWITCHBOARD_RIG_TEAM_RECORD";

fn rig_dir() -> PathBuf {
    PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
}

/// The login to `port`'s server, as the relay's source has it (no password in the
/// string: libpq's password file gives it).
fn dsn(port: u16) -> String {
    format!(
        "host=127.0.0.1 port={port} dbname=switchboard user=sbpass sslmode=verify-full sslrootcert={} passfile={}",
        rig_dir().join("tls/ca.pem").display(),
        rig_dir().join("pgtls/pgpass").display()
    )
}

/// The cluster's primary's port (its members are 44711-44713).
fn primary(rt: &tokio::runtime::Runtime) -> u16 {
    for port in [44711, 44712, 44713] {
        let Ok(params) = Params::resolve(&dsn(port), &process_env()) else {
            continue;
        };
        let primary = rt.block_on(async {
            let c = switchboard_core::sources::pg_tls::connect(&params, Duration::from_secs(3))
                .await
                .ok()?;
            let row = c
                .client
                .query_one("SELECT pg_is_in_recovery()", &[])
                .await
                .ok()?;
            Some(!row.get::<_, bool>(0))
        });
        if primary == Some(true) {
            return port;
        }
    }
    panic!("no primary among the patronitls members");
}

/// The bodies the record keeps for notes whose id starts with `prefix`.
fn recorded(rt: &tokio::runtime::Runtime, port: u16, prefix: &str) -> Vec<(String, String)> {
    let params = Params::resolve(&dsn(port), &process_env()).expect("dsn");
    rt.block_on(async {
        let c = switchboard_core::sources::pg_tls::connect(&params, Duration::from_secs(3))
            .await
            .expect("the record");
        c.client
            .query(
                "SELECT body, author FROM switchboard_notes WHERE uid LIKE $1 || '%' ORDER BY created_at",
                &[&prefix],
            )
            .await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            .unwrap_or_default()
    })
}

/// The fault proxy in front of the cluster's primary that every relay here reaches the
/// record through, started once for this binary, with the record's connection string
/// set to it; forwarding plainly.
#[allow(unsafe_code)]
fn record_proxy(rt: &tokio::runtime::Runtime) -> &'static FaultProxy {
    static PROXY: std::sync::OnceLock<FaultProxy> = std::sync::OnceLock::new();
    let proxy = PROXY.get_or_init(|| {
        let proxy = FaultProxy::start(&format!("127.0.0.1:{}", primary(rt))).expect("proxy");
        // SAFETY: set once, under the rig's turn, before any relay that reads it
        // starts; no other thread of this binary reads the environment meanwhile.
        unsafe { std::env::set_var(RECORD_DSN, dsn(proxy.addr().port())) };
        proxy
    });
    proxy.set(Fault::Pass);
    proxy
}

/// The port of the server behind the proxy (the primary when the proxy started).
fn recorded_at(proxy: &FaultProxy) -> u16 {
    proxy
        .upstream()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the upstream's port")
}

fn note(uid: String, body: &str, at: i64) -> SharedNote {
    SharedNote {
        uid,
        incident_key: None,
        author: String::new(),
        body: body.into(),
        created_at: Timestamp(at),
        edited_at: Timestamp(at),
        pinned_at: Timestamp(at),
        entity: None,
    }
}

#[test]
fn notes_are_kept_in_the_teams_postgresql_and_a_new_relay_serves_them() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    if !common::rig_has("patronitls") {
        eprintln!("skipped: SWITCHBOARD_RIG does not name patronitls (the team's record)");
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let proxy = record_proxy(&rt);
    let port = recorded_at(proxy);
    let mut env: Environment = rig_env();
    let mut team = PostgresConfig::from_libpq_env("team");
    team.dsn_env = Some(RECORD_DSN.into());
    env.source.push(SourceConfig::Postgres(team));
    let mut serve = serve_config(&pki());
    serve.record = Some("team".into());
    let pki = pki();
    let prefix = format!("record-{}-{}", std::process::id(), SystemClock.now().0);

    let first = tempfile::tempdir().expect("dir");
    let relay = RigRelay::start_with_data(env.clone(), &serve, first.path());
    let alice = console_in(env.clone(), &client_of(&relay.url(), &pki, "alice"));
    wait_connected(&alice, Duration::from_secs(20));
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    let h = Arc::clone(&heard);
    alice.on_relay_news(move |n| {
        if let RelayNews::Note(n) = n
            && let Ok(mut h) = h.lock()
        {
            h.push(n.body);
        }
    });
    let wait_heard = |body: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !heard.lock().expect("heard").iter().any(|b| b == body) {
            assert!(Instant::now() < deadline, "the relay never kept {body:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let now = SystemClock.now().0;
    alice
        .share_note(note(format!("{prefix}-1"), "db1 fenced", now))
        .expect("sent");
    wait_heard("db1 fenced");
    assert_eq!(
        recorded(&rt, port, &prefix),
        [("db1 fenced".to_owned(), "alice".to_owned())],
        "in the team's record, under alice's name"
    );

    // The record cut off: the relay keeps the note in its cache and says it is kept.
    proxy.set(Fault::Refuse);
    let cut = Instant::now();
    alice
        .share_note(note(format!("{prefix}-2"), "promoting db2", now + 1))
        .expect("sent");
    wait_heard("promoting db2");
    eprintln!(
        "team record: a note taken with the record cut off, kept in the relay's cache in {} ms",
        cut.elapsed().as_millis()
    );
    assert_eq!(
        recorded(&rt, port, &prefix).len(),
        1,
        "not in the record yet"
    );
    proxy.set(Fault::Pass);
    let back = Instant::now();
    let deadline = back + Duration::from_secs(20);
    while recorded(&rt, port, &prefix).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the kept note never reached the record"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "team record: the kept note reached the record {} ms after it was back",
        back.elapsed().as_millis()
    );
    drop(alice);
    relay.stop();

    // Another relay, its cache empty (as a new leader's may be): bob's console gets
    // both notes, alice's name on them.
    let second = tempfile::tempdir().expect("dir");
    let relay = RigRelay::start_with_data(env.clone(), &serve, second.path());
    let bob = console_in(env, &client_of(&relay.url(), &pki, "bob"));
    let got: Arc<Mutex<Vec<SharedNote>>> = Arc::default();
    let g = Arc::clone(&got);
    bob.on_relay_news(move |n| {
        if let RelayNews::Note(n) = n
            && let Ok(mut g) = g.lock()
        {
            g.push(n);
        }
    });
    wait_connected(&bob, Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mine: Vec<SharedNote> = got
            .lock()
            .expect("got")
            .iter()
            .filter(|n| n.uid.starts_with(&prefix))
            .cloned()
            .collect();
        if mine.len() == 2 {
            assert!(mine.iter().all(|n| n.author == "alice"), "{mine:?}");
            break;
        }
        assert!(Instant::now() < deadline, "bob got {mine:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(bob);
    relay.stop();
}

/// Runs `command` on the rig's HAProxy runtime API.
fn haproxy(rt: &tokio::runtime::Runtime, command: &str) {
    rt.block_on(switchboard_core::sources::haproxy::runtime_command(
        "tcp://127.0.0.1:9999",
        command,
        Duration::from_secs(2),
    ))
    .expect("HAProxy's runtime API");
}

/// web2 back under its health checks when the test ends, passed or not.
struct Web2Back;

impl Drop for Web2Back {
    fn drop(&mut self) {
        if let Ok(rt) = tokio::runtime::Runtime::new() {
            rt.block_on(switchboard_core::sources::haproxy::runtime_command(
                "tcp://127.0.0.1:9999",
                "enable health be_web/web2",
                Duration::from_secs(2),
            ))
            .ok();
        }
    }
}

/// Two relays electing a leader on the rig's etcd, the team's record on its TLS
/// PostgreSQL: HAProxy's web2 goes down, both relays open an incident (each its own
/// number), alice acknowledges it on the leader; the leader stops, and the other relay,
/// once it leads, acknowledges its own copy under alice's name.
#[test]
fn an_acknowledgement_is_carried_to_the_next_leader() {
    use switchboard_core::Election;
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    if !common::rig_has("patronitls") {
        eprintln!("skipped: SWITCHBOARD_RIG does not name patronitls (the team's record)");
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    record_proxy(&rt);
    let mut env: Environment = rig_env();
    let mut team = PostgresConfig::from_libpq_env("team");
    team.dsn_env = Some(RECORD_DSN.into());
    env.source.push(SourceConfig::Postgres(team));
    let pki = pki();
    let serve = |port: u16| {
        let mut s = serve_config(&pki);
        s.listen = format!("127.0.0.1:{port}");
        s.record = Some("team".into());
        s.elect = Some(Election {
            advertise: format!("https://127.0.0.1:{port}"),
            ttl_secs: 2,
        });
        s
    };
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a port")
    };
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = RigRelay::start_with_data(env.clone(), &serve(free()), dir_a.path());
    std::thread::sleep(Duration::from_secs(1));
    let b = RigRelay::start_with_data(env.clone(), &serve(free()), dir_b.path());
    let alice = console_in(env, &client_of(&a.url(), &pki, "alice"));
    wait_connected(&alice, Duration::from_secs(20));

    // What was open before the fault is not the fault's.
    let before: Vec<String> = alice
        .snapshot()
        .incidents
        .incidents
        .iter()
        .filter(|i| i.recovered_at.is_none())
        .map(|i| i.title.clone())
        .collect();
    let _back = Web2Back;
    haproxy(&rt, "disable health be_web/web2");
    haproxy(&rt, "set server be_web/web2 health down");
    let open = |engine: &switchboard_core::EngineHandle| {
        engine
            .snapshot()
            .incidents
            .incidents
            .iter()
            .find(|i| i.recovered_at.is_none() && !before.contains(&i.title))
            .cloned()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        if let (Some(on_alice), Some(_)) = (open(&alice), open(&b.engine)) {
            break on_alice;
        }
        assert!(
            Instant::now() < deadline,
            "no incident for web2 on both relays: {:?}",
            alice.snapshot().incidents.incidents
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    alice
        .send(switchboard_core::Intent::AckIncident { incident: seen.id })
        .expect("sent");
    let deadline = Instant::now() + Duration::from_secs(10);
    while open(&alice).and_then(|i| i.acked_by).as_deref() != Some("alice") {
        assert!(
            Instant::now() < deadline,
            "alice's acknowledgement never applied"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        open(&b.engine).and_then(|i| i.acked_by),
        None,
        "the standby does not know"
    );
    std::thread::sleep(Duration::from_millis(500));
    drop(alice);
    let stopped = Instant::now();
    a.stop();
    let deadline = Instant::now() + Duration::from_secs(20);
    while open(&b.engine).and_then(|i| i.acked_by).as_deref() != Some("alice") {
        assert!(
            Instant::now() < deadline,
            "the next leader did not carry the acknowledgement: {:?}",
            open(&b.engine)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "team record: alice's acknowledgement carried to the next leader {} ms after the first stopped",
        stopped.elapsed().as_millis()
    );
    b.stop();
}
