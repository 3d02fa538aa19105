//! A connection-leak runbook on the real servers: diagnose, route to the Traefik
//! fallback, terminate the leaked sessions, a manual step, readiness, restore.

use std::time::{Duration, Instant};

use switchboard_core::SourceConfig;
use switchboard_core::sources::postgres::PostgresConfig;

use crate::common::{self, rig_has};
use crate::helpers::{begin, unsafe_env_named};

/// A runbook on the real servers: sessions leaked on the primary (idle in a
/// transaction), the Sev-0 steps the rig can run: diagnose, route to the fallback
/// (Traefik), terminate the hanging sessions, a manual step the operator acknowledges,
/// deep readiness through the fallback, restore the route. One confirmation; each step
/// journaled; the leaked sessions are gone and the route is back.
#[test]
fn a_connection_leak_runbook_runs_on_the_real_servers() {
    use switchboard_core::sources::traefik::{TraefikConfig, TraefikRoute};
    use switchboard_core::workflow::runbook::RunbookConfig;
    use switchboard_core::workflow::{self, Kind};
    if !rig_has("etcd") || !rig_has("traefik") {
        eprintln!("skipped: needs the rig's etcd and Traefik too");
        return;
    }
    let Some((_one, _e, leader)) = begin() else {
        return;
    };
    let pg_port = 5440 + (leader - 8000);
    unsafe_env_named(
        "SWITCHBOARD_RIG_PG_ADMIN",
        &format!("postgresql://postgres:rigsecret@127.0.0.1:{pg_port}/postgres"),
    );
    let traefik_file = std::path::PathBuf::from(
        std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()),
    )
    .join("traefik-dyn.yml");
    let original = std::fs::read_to_string(&traefik_file).expect("traefik file");
    let dir = tempfile::tempdir().expect("dir");
    let book = dir.path().join("leak.toml");
    std::fs::write(
        &book,
        r#"name = "leak-drill"
title = "Connection leak (rig)"
[[step]]
kind = "sessions"
title = "Diagnose"
database = "{database}"
[[step]]
kind = "workflow"
title = "Route to the fallback"
workflow = "fallback"
target = "{route}"
[[step]]
kind = "terminate_sessions"
title = "Terminate the hanging sessions"
database = "{database}"
idle_in_transaction = true
[[step]]
kind = "manual"
title = "Tighter pool"
text = "Set max pool 20, connection timeout 5 s"
[[step]]
kind = "http_check"
title = "Verify readiness"
url = "{readiness}"
times = 3
[[step]]
kind = "workflow"
title = "Restore the route"
workflow = "restore"
target = "{route}"
"#,
    )
    .expect("runbook file");
    let env = switchboard_core::Environment {
        relay: None,
        relay_tls: None,
        relay_auth: None,
        fallback_direct: false,
        serve: None,
        second_approver: false,
        experiment: Vec::new(),
        objectives: switchboard_core::store::Objectives::default(),
        look: switchboard_core::Look::default(),
        name: "rig".into(),
        read_only: false,
        stale_after_millis: 5000,
        source: vec![
            SourceConfig::Postgres(PostgresConfig {
                name: "orders-db".into(),
                dsn_env: Some("SWITCHBOARD_RIG_PG_ADMIN".into()),
                cluster: None,
                member: None,
                service: None,
                interval_millis: 1000,
                timeout_millis: 1000,
            }),
            SourceConfig::Traefik(TraefikConfig {
                name: "traefik".into(),
                api: "http://127.0.0.1:8181".into(),
                interval_millis: 500,
                timeout_millis: 1000,
                metrics: None,
                dynamic_file: Some(traefik_file.display().to_string()),
                routes: vec![TraefikRoute {
                    router: "web".into(),
                    primary: "websvc".into(),
                    fallback: "fallbacksvc".into(),
                }],
                tls: None,
                auth: None,
                proxy: switchboard_core::sources::ProxySetting::default(),
                max_answer_bytes: None,
            }),
            common::rig_etcd(),
        ],
        fence: Vec::new(),
        runbook: vec![RunbookConfig {
            name: "leak-drill".into(),
            file: Some(book.display().to_string()),
            vars: [
                ("database", "orders-db"),
                ("route", "traefik/web"),
                ("readiness", "http://127.0.0.1:8180/"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        }],
    };
    let journal = switchboard_core::workflow::Journal::open(&dir.path().join("journal.sqlite"))
        .expect("journal");
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // The leak: 20 sessions idle in a transaction on the primary.
    let dsn = format!("postgresql://switchboard:rigwatch@127.0.0.1:{pg_port}/postgres");
    let leaked = rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..20 {
            let (client, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(conn);
            client
                .batch_execute("BEGIN; SELECT 1")
                .await
                .expect("begin");
            held.push(client);
        }
        held
    });
    // The operator, acknowledging the manual step when it is asked.
    let control = ctx.control.clone();
    let operator = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_mins(1);
        while Instant::now() < deadline {
            let asked = control.waiting();
            if !asked.is_empty() {
                control.acknowledge();
                return asked;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        String::new()
    });

    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Runbook, "leak-drill"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert_eq!(plan.steps.len(), 6, "{:?}", plan.steps);
    let report = rt.block_on(workflow::run(&ctx, &plan, "leak-drill", "rig-test"));
    let _ = route_back(&traefik_file, &original);
    let report = report.expect("run");
    eprintln!(
        "patroni rig: runbook {} in {:?} ms: {:#?}",
        report.outcome, report.effect_millis, report.lines
    );
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(
        operator.join().expect("operator"),
        "Set max pool 20, connection timeout 5 s"
    );
    assert!(
        report.lines[0].contains("idle in transaction"),
        "{}",
        report.lines[0]
    );
    assert!(
        report.lines[2].contains("20 of 20 matching session(s) terminated"),
        "{}",
        report.lines[2]
    );
    let gone = rt.block_on(async {
        let mut gone = 0;
        for c in &leaked {
            if c.simple_query("SELECT 1").await.is_err() {
                gone += 1;
            }
        }
        gone
    });
    assert_eq!(gone, 20, "every leaked session was cut");
    let rows = journal.steps(report.run).expect("steps");
    assert_eq!(
        rows.iter()
            .filter(|r| r.phase == "after" && r.outcome == "ok")
            .count(),
        6,
        "{rows:?}"
    );
    assert!(
        std::fs::read_to_string(&traefik_file).is_ok_and(|t| t.contains("service: websvc")),
        "the route is restored"
    );
}

/// Writes the rig's Traefik file back (after a runbook that may have stopped midway).
fn route_back(file: &std::path::Path, original: &str) -> Result<(), String> {
    let now = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    if now.contains("service: websvc") {
        return Ok(());
    }
    switchboard_core::workflow::route::write_atomically(file, original)
}
