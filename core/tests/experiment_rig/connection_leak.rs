//! The Sev-0 connection leak on the rig's real primary: the experiment opens sessions
//! as the application's login (`switchboard`) and leaves them idle in a transaction
//! until the server refuses more, so the orders service's readiness (a new session
//! as that login) fails. The shipped Sev-0 runbook, bound to what the rig has (no
//! Kubernetes, no fallback route, no manual step), starts by itself after the
//! countdown: it terminates the idle-in-transaction sessions as the database's admin
//! (a superuser's reserved slot) and checks readiness. The console measures from the
//! first leaked session to readiness holding again.

use switchboard_core::sources::postgres::PostgresConfig;
use switchboard_core::workflow::experiment::ExperimentConfig;
use switchboard_core::workflow::runbook::RunbookConfig;
use switchboard_core::{Environment, SourceConfig};

use crate::helpers::{begin, engine, patroni_primary, run_experiment, runs, set_env};
use crate::primary_crash::{PG_DSN_ENV, orders_ready, patroni};

const APP_DSN_ENV: &str = "SWITCHBOARD_RIG_APP_DSN";
const ADMIN_DSN_ENV: &str = "SWITCHBOARD_RIG_ADMIN_DSN";

fn postgres(name: &str, dsn_env: &str) -> SourceConfig {
    SourceConfig::Postgres(PostgresConfig {
        name: name.into(),
        dsn_env: Some(dsn_env.into()),
        cluster: Some(format!("{name}-server")),
        member: None,
        service: None,
        interval_millis: 1000,
        timeout_millis: 1000,
    })
}

fn vars(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn env() -> Environment {
    let mut env = Environment::new(
        "rig",
        vec![
            crate::common::rig_etcd(),
            patroni(),
            orders_ready(),
            postgres("orders-app", APP_DSN_ENV),
            postgres("orders-admin", ADMIN_DSN_ENV),
        ],
    );
    env.runbook = vec![RunbookConfig {
        name: "sev0-connection-leak".into(),
        file: None,
        vars: vars(&[
            ("database", "orders-admin"),
            ("route", ""),
            ("deployment", ""),
            ("pool_settings", ""),
            ("readiness", "http://127.0.0.1:9010/ready"),
        ]),
    }];
    env.experiment = vec![ExperimentConfig {
        name: "connection-leak".into(),
        file: None,
        vars: vars(&[
            ("database", "orders-app"),
            ("sessions", "100"),
            ("readiness", "orders"),
            ("runbook", "sev0-connection-leak"),
        ]),
        automatic_recovery: true,
    }];
    env
}

#[test]
fn a_leak_that_fails_readiness_is_recovered_by_the_runbook_started_by_itself() {
    let Some(_one) = begin(&["patroni", "etcd"]) else {
        return;
    };
    let port = 5440 + (patroni_primary(None).expect("a primary") - 8000);
    set_env(
        PG_DSN_ENV,
        "postgresql://switchboard:rigwatch@127.0.0.1:5441/postgres",
    );
    set_env(
        APP_DSN_ENV,
        &format!("postgresql://switchboard:rigwatch@127.0.0.1:{port}/postgres"),
    );
    set_env(
        ADMIN_DSN_ENV,
        &format!("postgresql://postgres:rigsecret@127.0.0.1:{port}/postgres"),
    );
    let env = env();
    let (_engine, observed) = engine(&env);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut figures = Vec::new();
    for _ in 0..runs() {
        let r = run_experiment(&rt, &env, &observed, "connection-leak");
        assert_eq!(r.outcome, "recovered", "{}", r.markdown());
        assert_eq!(
            r.recovery_by.as_deref(),
            Some("runbook sev0-connection-leak, started automatically"),
            "{}",
            r.markdown()
        );
        assert!(
            r.timeline.iter().any(|m| m
                .what
                .starts_with("runbook sev0-connection-leak: runbook sev0-connection-leak: run #")),
            "{}",
            r.markdown()
        );
        let (detect, recover) = (
            r.mttd_millis.expect("detected"),
            r.mttr_millis.expect("recovered"),
        );
        let started = r
            .recovery_started_at
            .expect("started")
            .millis_since(r.detected_at.expect("detected"));
        figures.push(format!(
            "MTTD {detect} ms, fault to verified recovery {recover} ms (goal 20000), the runbook started {started} ms after detection (the {} s countdown)",
            switchboard_core::workflow::experiment::COUNTDOWN.as_secs()
        ));
    }
    for f in &figures {
        eprintln!("figure: connection-leak: {f}");
    }
}
