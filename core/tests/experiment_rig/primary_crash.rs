//! The primary database's machine crashes: the node holding the rig's Patroni primary
//! now is fenced (its Patroni and PostgreSQL killed at once, as a power cut does). With
//! Patroni's ttl at 10 s the leader key expires, a replica is promoted, and the orders
//! service's readiness (a session on the primary) comes back. The console measures
//! from the fence to exactly one primary and readiness again; a side thread watches
//! Patroni's own `/primary` to say how much of that is Patroni's promotion.

use std::time::{Duration, Instant};

use switchboard_core::sources::http_probe::HttpProbeConfig;
use switchboard_core::sources::patroni::PatroniConfig;
use switchboard_core::workflow::experiment::ExperimentConfig;
use switchboard_core::{Environment, SourceConfig};

use crate::helpers::{begin, engine, patroni_primary, rig_node, run_experiment, runs, set_env};

pub(crate) const PG_DSN_ENV: &str = "SWITCHBOARD_RIG_PG_DSN";

/// The rig's Patroni cluster as source `pgha`, its servers asked too.
pub(crate) fn patroni() -> SourceConfig {
    SourceConfig::Patroni(PatroniConfig {
        name: "pgha".into(),
        endpoints: (1..=3)
            .map(|n| format!("http://127.0.0.1:800{n}"))
            .collect(),
        cluster: None,
        interval_millis: 250,
        timeout_millis: 1000,
        dsn_env: Some(PG_DSN_ENV.into()),
        dcs: Some("etcd".into()),
        patroni_yml: None,
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    })
}

/// The orders service's deep readiness (a session on the primary), every 100 ms.
pub(crate) fn orders_ready() -> SourceConfig {
    SourceConfig::HttpProbe(HttpProbeConfig {
        name: "orders-ready".into(),
        url: "http://127.0.0.1:9010/ready".into(),
        interval_secs: 0.1,
        timeout_secs: 1.5,
        healthy_threshold: 2,
        unhealthy_threshold: 1,
        service: Some("orders".into()),
        instance: Some("orders-1".into()),
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    })
}

fn env() -> Environment {
    let mut env = Environment::new(
        "rig",
        vec![crate::common::rig_etcd(), patroni(), orders_ready()],
    );
    env.fence = (1..=3)
        .map(|n| rig_node(&format!("node{n}"), "pg", &format!("patroni{n}")))
        .collect();
    env.experiment = vec![ExperimentConfig {
        name: "primary-crash".into(),
        file: None,
        vars: [("database", "pgha"), ("readiness", "orders")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
        automatic_recovery: false,
    }];
    env
}

#[test]
fn the_primarys_node_fenced_is_replaced_by_a_promoted_replica_within_the_goal() {
    let Some(_one) = begin(&["patroni", "etcd"]) else {
        return;
    };
    set_env(
        PG_DSN_ENV,
        "postgresql://switchboard:rigwatch@127.0.0.1:5441/postgres",
    );
    let env = env();
    let (_engine, observed) = engine(&env);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut figures = Vec::new();
    for _ in 0..runs() {
        let before = patroni_primary(None).expect("a primary to crash");
        // Patroni's own promotion: a side thread polls `/primary` of the others.
        let watcher = std::thread::spawn(move || {
            let start = Instant::now();
            // Wait for the fence: the old primary stops answering.
            while patroni_primary(None) == Some(before) && start.elapsed() < Duration::from_mins(1)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let gone = Instant::now();
            while patroni_primary(Some(before)).is_none()
                && start.elapsed() < Duration::from_mins(2)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            gone.elapsed()
        });
        let r = run_experiment(&rt, &env, &observed, "primary-crash");
        let promotion = watcher.join().expect("watcher");
        assert_eq!(r.outcome, "recovered", "{}", r.markdown());
        assert!(r.blast_radius_held);
        assert!(
            r.blast_radius.contains("1 of 3 (33 %)"),
            "{}",
            r.blast_radius
        );
        let after = patroni_primary(None).expect("a primary after");
        assert_ne!(after, before, "a replica was promoted");
        let (detect, recover) = (
            r.mttd_millis.expect("detected"),
            r.mttr_millis.expect("recovered"),
        );
        figures.push(format!(
            "MTTD {detect} ms, fault to one primary and readiness {recover} ms (goal 20000); Patroni's own promotion {} ms after the old primary stopped answering",
            promotion.as_millis()
        ));
    }
    for f in &figures {
        eprintln!("figure: primary-crash: {f}");
    }
}
