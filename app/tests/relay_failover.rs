//! Two relays of one configuration (processes of the binary) elect a leader on the
//! rig's etcd; twenty headless consoles (the engine and link the window uses) and a
//! wall admitted by a token (no certificate) follow the leader. The leader is killed with SIGKILL: every console follows the other
//! relay within the lease's TTL and a little, and a note written during the failover
//! reaches every console. With the rig's TLS PostgreSQL (`patronitls`), both relays
//! keep notes in the team's record there: a console that connects after the failover
//! gets, from the new leader, a note written on the old one. Runs when
//! `SWITCHBOARD_RIG` names `etcd` and `haproxy`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_core::protocol::SharedNote;
use switchboard_core::sources::TlsSettings;
use switchboard_core::{
    Config, EngineHandle, EngineOptions, Environment, RelayClient, RelayNews, Timestamp,
};

#[path = "../../core/tests/common/mod.rs"]
mod common;

use common::rig_has;

/// The rig's PKI directory (made unless it is there).
fn pki() -> PathBuf {
    common::rig_pki()
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A relay process, killed when dropped.
struct RelayProcess(Child);

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

const TTL_SECS: u64 = 5;

/// The variable holding the team's record's connection string (the relays' `team`
/// source's `dsn_env`).
const TEAM_DSN: &str = "SWITCHBOARD_TEAM_RECORD";

/// The team's record on the rig's TLS cluster: its primary wherever it is, verified
/// TLS, the password from libpq's password file.
fn team_dsn() -> String {
    let rig = PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()));
    format!(
        "host=127.0.0.1,127.0.0.1,127.0.0.1 port=44711,44712,44713 dbname=switchboard user=sbpass sslmode=verify-full sslrootcert={} passfile={} target_session_attrs=read-write",
        rig.join("tls/ca.pem").display(),
        rig.join("pgtls/pgpass").display()
    )
}

fn start_relay(dir: &Path, pki: &Path, name: &str, port: u16, record: bool) -> RelayProcess {
    let p = |f: &str| pki.join(f).display().to_string();
    let token = dir.join("wall.token").display().to_string();
    let cfg = dir.join(format!("{name}.toml"));
    let (team_source, team_record) = if record {
        (
            format!(
                "[[environment.source]]\nkind = \"postgres\"\nname = \"team\"\ndsn_env = \"{TEAM_DSN}\"\n\n"
            ),
            "record = \"team\"\n",
        )
    } else {
        (String::new(), "")
    };
    std::fs::write(
        &cfg,
        format!(
            "[[environment]]\nname = \"rig-failover\"\n\n\
             [[environment.source]]\nkind = \"etcd\"\nname = \"etcd\"\nendpoints = [\"127.0.0.1:12379\", \"127.0.0.1:22379\", \"127.0.0.1:32379\"]\n\n\
             [[environment.source]]\nkind = \"haproxy\"\nname = \"haproxy\"\nstats_url = \"http://127.0.0.1:8404/stats;csv\"\n\n\
             {team_source}\
             [environment.serve]\nlisten = \"127.0.0.1:{port}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\nclient_ca_file = \"{}\"\noperators = [\"alice\", \"bob\"]\n{team_record}\
             elect = {{ advertise = \"https://127.0.0.1:{port}\", ttl_secs = {TTL_SECS} }}\n\n\
             [[environment.serve.token]]\nname = \"wall-ops-room\"\ntoken_file = \"{token}\"\n",
            p("server.pem"),
            p("server-key.pem"),
            p("ca.pem")
        ),
    )
    .expect("config");
    RelayProcess(
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .env("XDG_CONFIG_HOME", "/nonexistent-switchboard-config")
            .env(TEAM_DSN, team_dsn())
            .args(["--config", cfg.to_str().unwrap_or_default()])
            .args([
                "--data-dir",
                dir.join(name).to_str().unwrap_or_default(),
                "serve",
            ])
            .stderr(Stdio::null())
            .spawn()
            .expect("serve"),
    )
}

fn console(urls: &[String], pki: &Path, person: &str) -> EngineHandle {
    let p = |f: String| Some(pki.join(f).display().to_string());
    follow(
        urls,
        TlsSettings {
            ca_file: p("ca.pem".into()),
            cert_file: p(format!("{person}.pem")),
            key_file: p(format!("{person}-key.pem")),
            ..TlsSettings::default()
        },
        None,
    )
}

/// The wall: the relay's CA, no certificate, the token in `token_file`.
fn wall(urls: &[String], pki: &Path, token_file: &Path) -> EngineHandle {
    follow(
        urls,
        TlsSettings {
            ca_file: Some(pki.join("ca.pem").display().to_string()),
            ..TlsSettings::default()
        },
        Some(switchboard_core::sources::AuthSettings {
            token_file: Some(token_file.display().to_string()),
            ..switchboard_core::sources::AuthSettings::default()
        }),
    )
}

fn follow(
    urls: &[String],
    tls: TlsSettings,
    auth: Option<switchboard_core::sources::AuthSettings>,
) -> EngineHandle {
    let mut opts = EngineOptions::new(Config {
        environment: vec![Environment::new("rig-failover", Vec::new())],
    });
    opts.relay = Some(RelayClient {
        url: urls[0].clone(),
        standby: urls[1..].to_vec(),
        tls: Some(tls),
        auth,
        fallback_direct: false,
    });
    switchboard_core::start(&opts).expect("console")
}

/// Where each console follows now (`None`: not connected).
fn following(consoles: &[EngineHandle]) -> Vec<Option<String>> {
    consoles
        .iter()
        .map(|c| c.relay_link().filter(|l| l.connected).map(|l| l.url))
        .collect()
}

#[test]
fn consoles_follow_the_other_relay_when_the_leader_is_killed() {
    if !(rig_has("etcd") && rig_has("haproxy")) {
        eprintln!("skipped: needs the rig's etcd and HAProxy (tests/check.sh)");
        return;
    }
    let pki = pki();
    let dir = tempfile::tempdir().expect("dir");
    let token = dir.path().join("wall.token");
    std::fs::write(&token, "a-wall-token-of-the-ops-room\n").expect("token");
    let ports = [free_port(), free_port()];
    let urls: Vec<String> = ports
        .iter()
        .map(|p| format!("https://127.0.0.1:{p}"))
        .collect();
    // The team's record, when the rig has its TLS PostgreSQL.
    let record = rig_has("patronitls");
    let mut relays = vec![
        Some(start_relay(dir.path(), &pki, "relay-a", ports[0], record)),
        Some(start_relay(dir.path(), &pki, "relay-b", ports[1], record)),
    ];
    // The record outlives the test: each run's notes have their own ids.
    let run = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    );
    let during = format!("failover-note-{run}");
    let before = format!("before-failover-{run}");
    let people = ["alice", "bob", "wall"];
    let mut consoles: Vec<EngineHandle> = (0..20)
        .map(|i| console(&urls, &pki, people[i % 3]))
        .collect();
    consoles.push(wall(&urls, &pki, &token));
    let heard: Arc<Mutex<HashMap<usize, HashSet<String>>>> = Arc::default();
    let note = SharedNote {
        uid: during.clone(),
        incident_key: None,
        author: "alice".into(),
        body: "relay a died mid-incident".into(),
        created_at: Timestamp(1),
        edited_at: Timestamp(1),
        pinned_at: Timestamp(1),
        entity: None,
    };
    // alice's console does what the window's notebook does: a note the relay has not
    // sent back yet is pending, and goes again on each new connection.
    let written = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for (i, c) in consoles.iter().enumerate() {
        let heard = Arc::clone(&heard);
        let resend = (i == 0).then(|| {
            (
                c.note_sender().expect("on a relay"),
                note.clone(),
                Arc::clone(&written),
            )
        });
        c.on_relay_news(move |news| match news {
            RelayNews::Note(n) => {
                if let Ok(mut h) = heard.lock() {
                    h.entry(i).or_default().insert(n.uid);
                }
            }
            RelayNews::Connected => {
                if let Some((send, note, written)) = &resend {
                    let pending = written.load(std::sync::atomic::Ordering::SeqCst)
                        && !heard
                            .lock()
                            .is_ok_and(|h| h.get(&0).is_some_and(|s| s.contains(&note.uid)));
                    if pending {
                        send(note.clone());
                    }
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    let leader = loop {
        let now = following(&consoles);
        if let Some(Some(first)) = now.first()
            && now.iter().all(|u| u.as_deref() == Some(first.as_str()))
        {
            break first.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the consoles never all followed one relay: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let (killed, survivor) = if leader == urls[0] { (0, 1) } else { (1, 0) };
    // bob writes on the leader before it dies; every console has it.
    consoles[1]
        .share_note(SharedNote {
            uid: before.clone(),
            body: "db1 fenced before relay a died".into(),
            ..note.clone()
        })
        .expect("queued");
    let deadline = Instant::now() + Duration::from_secs(10);
    while heard
        .lock()
        .expect("heard")
        .values()
        .filter(|s| s.contains(&before))
        .count()
        < 21
    {
        assert!(
            Instant::now() < deadline,
            "bob's note did not reach every console"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall_link = consoles[20].relay_link().expect("the wall's link");
    assert_eq!(
        wall_link.person.as_deref(),
        Some("wall-ops-room"),
        "named by its token"
    );
    assert_eq!(
        wall_link.role,
        Some(switchboard_core::protocol::Role::Viewer)
    );

    // SIGKILL: the leader's lease is left to expire.
    let mut dead = relays[killed].take().expect("the leader");
    let t0 = Instant::now();
    dead.0.kill().expect("SIGKILL");
    dead.0.wait().ok();
    // alice writes during the failover.
    written.store(true, std::sync::atomic::Ordering::SeqCst);
    consoles[0].share_note(note.clone()).expect("queued");
    let deadline = t0 + Duration::from_secs(30);
    let back = loop {
        let now = following(&consoles);
        if now
            .iter()
            .all(|u| u.as_deref() == Some(urls[survivor].as_str()))
        {
            break t0.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "not all back after 30 s: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && heard
            .lock()
            .expect("heard")
            .values()
            .filter(|s| s.contains(&during))
            .count()
            < 21
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let with_note = heard
        .lock()
        .expect("heard")
        .values()
        .filter(|s| s.contains(&during))
        .count();
    println!(
        "leader SIGKILLed: all 20 consoles and the wall on the other relay after {} ms (lease TTL {TTL_SECS} s); the note written meanwhile reached {with_note} of 21",
        back.as_millis()
    );
    assert_eq!(with_note, 21, "the note reached every console and the wall");
    assert!(
        back <= Duration::from_secs(TTL_SECS + 2),
        "back after {back:?}, more than the TTL + 2 s"
    );
    // A console opened after the failover: the new leader serves the note written on
    // the old one, from the team's record.
    if record {
        let late = console(&urls, &pki, "bob");
        let got: Arc<Mutex<HashSet<String>>> = Arc::default();
        let g = Arc::clone(&got);
        late.on_relay_news(move |news| {
            if let RelayNews::Note(n) = news
                && let Ok(mut g) = g.lock()
            {
                g.insert(n.uid);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while !got.lock().expect("got").contains(&before) {
            assert!(
                Instant::now() < deadline,
                "the new leader did not serve the note kept by the old one"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        println!(
            "a console opened after the failover got the old leader's note from the team's record"
        );
    } else {
        eprintln!("the team's record part skipped: SWITCHBOARD_RIG does not name patronitls");
    }
    drop(consoles);
    drop(relays);
    let record = dir
        .path()
        .join(if survivor == 0 { "relay-a" } else { "relay-b" })
        .join("notes.sqlite");
    let kept = switchboard_core::store::Store::open(&record)
        .expect("the survivor's record")
        .store
        .shared_notes_since(Timestamp(0))
        .expect("notes");
    assert_eq!(
        kept.iter().filter(|n| n.uid == during).count(),
        1,
        "kept once"
    );
}
