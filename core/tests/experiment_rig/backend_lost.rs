//! A backend lost behind the rig's HAProxy under live traffic: web1's node fenced
//! (backend1 killed as a power cut kills it). HAProxy checks every second and takes a
//! server out after two failures; until then its share of requests fails. The
//! hypothesis is readiness through the gateway (a probe every 100 ms that turns on
//! one failure and back on two successes); the console measures from the fence to the
//! gateway serving without errors. Nobody recovers it: the gateway must.

use switchboard_core::sources::haproxy::HaproxyConfig;
use switchboard_core::sources::http_probe::HttpProbeConfig;
use switchboard_core::workflow::experiment::ExperimentConfig;
use switchboard_core::{Environment, SourceConfig};

use crate::helpers::{Traffic, begin, engine, rig_node, run_experiment, runs};

fn env() -> Environment {
    let mut env = Environment::new(
        "rig",
        vec![
            crate::common::rig_etcd(),
            SourceConfig::Haproxy(HaproxyConfig {
                name: "edge".into(),
                socket: Some("tcp://127.0.0.1:9999".into()),
                stats_url: None,
                interval_millis: 100,
                timeout_millis: 1000,
                tls: None,
                auth: None,
                proxy: switchboard_core::sources::ProxySetting::default(),
                max_answer_bytes: None,
            }),
            SourceConfig::HttpProbe(HttpProbeConfig {
                name: "through-gateway".into(),
                url: "http://127.0.0.1:8080/".into(),
                interval_secs: 0.1,
                timeout_secs: 1.0,
                healthy_threshold: 2,
                unhealthy_threshold: 1,
                service: Some("shop".into()),
                instance: Some("gateway".into()),
                tls: None,
                auth: None,
                proxy: switchboard_core::sources::ProxySetting::default(),
                max_answer_bytes: None,
            }),
        ],
    );
    env.fence = vec![
        rig_node("web1-node", "web", "backend1"),
        rig_node("web2-node", "web", "backend2"),
    ];
    env.experiment = vec![ExperimentConfig {
        name: "backend-lost".into(),
        file: None,
        vars: [("node", "web1-node"), ("through_gateway", "shop")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
        automatic_recovery: false,
    }];
    env
}

#[test]
fn a_backend_fenced_under_live_traffic_is_routed_around_within_the_goal() {
    let Some(_one) = begin(&["haproxy", "etcd"]) else {
        return;
    };
    let env = env();
    let (_engine, observed) = engine(&env);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut figures = Vec::new();
    for _ in 0..runs() {
        let traffic = Traffic::start("http://127.0.0.1:8080/");
        let r = run_experiment(&rt, &env, &observed, "backend-lost");
        let (ok, failed) = traffic.stop();
        assert_eq!(r.outcome, "recovered", "{}", r.markdown());
        assert!(r.blast_radius_held);
        assert!(
            r.blast_radius.contains("1 of 2 (50 %)"),
            "{}",
            r.blast_radius
        );
        let (detect, recover) = (
            r.mttd_millis.expect("detected"),
            r.mttr_millis.expect("recovered"),
        );
        assert!(detect <= recover, "{}", r.markdown());
        assert!(r.undone_at.is_some(), "web1's node is powered on again");
        assert!(
            r.detected_by
                .as_deref()
                .is_some_and(|b| b.starts_with("shop: every instance healthy")),
            "{:?}",
            r.detected_by
        );
        figures.push(format!(
            "MTTD {detect} ms, fault to verified recovery {recover} ms (goal 3000), {failed} of {} requests failed",
            ok + failed
        ));
    }
    for f in &figures {
        eprintln!("figure: backend-lost: {f}");
    }
}
