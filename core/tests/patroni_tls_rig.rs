//! The switchover workflow on the rig's TLS Patroni (`patronitls`): REST over TLS with
//! `restapi.authentication` and client certificates for its POSTs, its DCS the TLS-only etcd (client certificates), every
//! member's PostgreSQL `hostssl` only. Verification stays on everywhere: the plan's
//! guards read the REST API and the DCS over TLS, the POST carries the REST password,
//! the lock is taken in the TLS etcd, and the result is verified by asking each
//! member's PostgreSQL over verified TLS that exactly one takes writes. A wrong REST
//! password stops the run in words before anything changes. And the split brain seen
//! through the same connections: only the leader's Patroni killed, its postmaster still
//! takes writes while a replica is promoted; the console, asking every member's
//! PostgreSQL over verified TLS, shows two writable servers and opens an incident.
//!
//! The scenarios share one cluster, so they run one at a time.
//!
//! Runs when `SWITCHBOARD_RIG` names `patronitls` (which brings `etcdtls`).

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use switchboard_core::sources::etcd::EtcdConfig;
use switchboard_core::sources::patroni::PatroniConfig;
use switchboard_core::sources::{AuthSettings, ProxySetting, TlsSettings};
use switchboard_core::workflow::{self, Kind};
use switchboard_core::{Environment, SourceConfig};

const DSN_ENV: &str = "SWITCHBOARD_RIG_PGTLS_VERIFY_MEMBERS";

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The scenario's lock and the members' DSN in the environment; `None` without the rig.
fn begin() -> Option<std::sync::MutexGuard<'static, ()>> {
    if !common::rig_has("patronitls") {
        eprintln!("skipped: SWITCHBOARD_RIG does not name patronitls");
        return None;
    }
    let one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dsn = format!(
        "host=127.0.0.1 port=44711 dbname=postgres user=sbcert sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
        rig("tls/ca.pem"),
        rig("tls/pgcert.pem"),
        rig("tls/pgcert-key.pem")
    );
    // SAFETY: the scenarios hold ONE_AT_A_TIME; nothing else reads the environment now.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var(DSN_ENV, dsn);
    }
    Some(one)
}

fn rig(path: &str) -> String {
    PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
        .join(path)
        .display()
        .to_string()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(rig(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_owned()
}

fn patroni(auth: AuthSettings) -> SourceConfig {
    SourceConfig::Patroni(PatroniConfig {
        name: "pg".into(),
        endpoints: [
            "https://127.0.0.1:44701",
            "https://127.0.0.1:44702",
            "https://127.0.0.1:44703",
        ]
        .map(String::from)
        .to_vec(),
        cluster: None,
        interval_millis: 250,
        timeout_millis: 2000,
        dsn_env: Some(DSN_ENV.into()),
        dcs: Some("etcd-tls".into()),
        patroni_yml: None,
        // The REST API has verify_client: optional, and wants a certificate for POSTs.
        tls: Some(TlsSettings {
            ca_file: Some(rig("tls/ca.pem")),
            cert_file: Some(rig("tls/client.pem")),
            key_file: Some(rig("tls/client-key.pem")),
            ..TlsSettings::default()
        }),
        auth: Some(auth),
        proxy: ProxySetting::Env(false),
        max_answer_bytes: None,
    })
}

fn etcd_tls() -> SourceConfig {
    let mut etcd = EtcdConfig::new(
        "etcd-tls",
        [
            "https://127.0.0.1:42379",
            "https://127.0.0.1:52379",
            "https://127.0.0.1:62379",
        ]
        .map(String::from)
        .to_vec(),
    );
    etcd.tls = Some(TlsSettings {
        ca_file: Some(rig("tls/ca.pem")),
        cert_file: Some(rig("tls/client.pem")),
        key_file: Some(rig("tls/client-key.pem")),
        ..TlsSettings::default()
    });
    SourceConfig::Etcd(etcd)
}

fn env(auth: AuthSettings) -> Environment {
    Environment::new("rig-tls", vec![patroni(auth), etcd_tls()])
}

fn rest_auth(password_file: String) -> AuthSettings {
    AuthSettings {
        username: Some(read("pgtls/rest.user")),
        password_file: Some(password_file),
        ..AuthSettings::default()
    }
}

/// The leader's and a running replica's names, as the cluster's own `/cluster` says
/// (curl with the rig's CA; `/cluster` needs no password), once it has both.
fn leader_and_replica() -> Option<(String, String)> {
    let out = std::process::Command::new("curl")
        .args(["-sf", "--max-time", "2", "--cacert"])
        .arg(rig("tls/ca.pem"))
        .arg("https://127.0.0.1:44701/cluster")
        .output()
        .ok()?;
    let c =
        switchboard_core::sources::patroni::parse_cluster(&String::from_utf8_lossy(&out.stdout))
            .ok()?;
    let leader = c.members.iter().find(|m| m.role == "leader")?.name.clone();
    let replicas: Vec<_> = c
        .members
        .iter()
        .filter(|m| m.role == "replica" && ["running", "streaming"].contains(&m.state.as_str()))
        .collect();
    (replicas.len() == 2).then(|| (leader, replicas[0].name.clone()))
}

/// Waits (at most `secs`) until the cluster names a leader and two running replicas.
fn settled(secs: u64) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(pair) = leader_and_replica() {
            return pair;
        }
        assert!(Instant::now() < deadline, "the TLS cluster did not settle");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn switchover_over_tls_with_rest_authentication_and_a_tls_dcs() {
    let Some(_one) = begin() else {
        return;
    };
    let (old, cand) = settled(60);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (_dir, journal) = common::journal();

    // A wrong REST password: the POST is refused and said so; nothing moves.
    let wrong_dir = tempfile::tempdir().expect("dir");
    let wrong_file = wrong_dir.path().join("wrong.password");
    std::fs::write(&wrong_file, "not-the-rest-password\n").expect("write");
    let wrong = env(rest_auth(wrong_file.display().to_string()));
    let ctx = common::workflow_ctx(&wrong, &journal);
    let outcome = rt.block_on(async {
        let plan = workflow::plan(&ctx, Kind::Switchover, &format!("pg/{cand}")).await?;
        workflow::run(&ctx, &plan, &cand, "rig-test").await
    });
    let said = match &outcome {
        Ok(r) => format!("{}: {:?}", r.outcome, r.lines),
        Err(e) => e.to_string(),
    };
    assert!(
        outcome.as_ref().map_or(true, |r| r.outcome != "done"),
        "a wrong password must not switch over: {said}"
    );
    assert!(said.contains("401"), "{said}");
    assert_eq!(settled(30).0, old, "nothing moved");
    eprintln!("patroni over TLS, wrong REST password: {said}");

    let right = env(rest_auth(rig("pgtls/rest.password")));
    let ctx = common::workflow_ctx(&right, &journal);
    let plan = rt
        .block_on(workflow::plan(
            &ctx,
            Kind::Switchover,
            &format!("pg/{cand}"),
        ))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert!(
        plan.guards
            .iter()
            .any(|g| g.name == "dcs quorum" && g.ok && g.reason.contains("3 of 3 members answer")),
        "the DCS read over TLS: {:?}",
        plan.guards
    );
    let report = rt
        .block_on(workflow::run(&ctx, &plan, &cand, "rig-test"))
        .expect("run");
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    eprintln!(
        "patroni over TLS: switchover {old} -> {cand}: {:?} ms from confirmation to exactly one writable server; {:?}",
        report.effect_millis, report.lines
    );
    let (now_leader, _) = settled(60);
    assert_eq!(now_leader, cand);

    // And back, so the cluster is as the rig made it for the tests after this one.
    let back = rt
        .block_on(async {
            let plan = workflow::plan(&ctx, Kind::Switchover, &format!("pg/{old}")).await?;
            workflow::run(&ctx, &plan, &old, "rig-test").await
        })
        .expect("back");
    assert_eq!(back.outcome, "done", "{:?}", back.lines);
    assert_eq!(settled(60).0, old);
}

#[test]
fn killing_only_the_leaders_patroni_shows_the_split_over_tls() {
    let Some(_one) = begin() else {
        return;
    };
    let (old, _) = settled(60);
    let engine = switchboard_core::start(&switchboard_core::EngineOptions::new(
        switchboard_core::Config {
            environment: vec![env(rest_auth(rig("pgtls/rest.password")))],
        },
    ))
    .expect("engine");
    let db = |s: &switchboard_core::State| s.databases.values().next().cloned();
    let s = engine.wait_for(Duration::from_secs(30), |s| {
        db(s).is_some_and(|d| {
            d.writable == 1
                && d.members.len() == 3
                && d.members.values().all(|m| m.writable.is_some())
        })
    });
    let d = db(&s).expect("the cluster");
    assert_eq!(d.writable, 1, "{:?}", d.members);
    let n = old.trim_start_matches("tnode").to_owned();
    let killed = std::time::Instant::now();
    common::rig(&["kill", &format!("patronitls{n}")]);
    let s = engine.wait_for(Duration::from_mins(1), |s| {
        db(s).is_some_and(|d| d.writable >= 2)
    });
    let seen = killed.elapsed();
    let d = db(&s).expect("the cluster");
    assert!(d.writable >= 2, "a split: {:?}", d.members);
    let old_view = &d.members[old.as_str()];
    assert!(!old_view.reachable, "its Patroni is dead");
    assert_eq!(
        old_view.writable,
        Some(true),
        "its server, asked over TLS, still takes writes"
    );
    assert!(s.open_incident().is_some(), "a split is an incident");
    eprintln!(
        "patroni over TLS: only {old}'s Patroni killed: two writable servers seen after {} ms",
        seen.as_millis()
    );
    common::rig(&["restart", &format!("patronitls{n}")]);
    let s = engine.wait_for(Duration::from_secs(90), |s| {
        db(s).is_some_and(|d| d.writable == 1 && d.members.values().all(|m| m.reachable))
    });
    assert_eq!(db(&s).map(|d| d.writable), Some(1), "one primary again");
    settled(90);
}
