//! A network fault through a fault proxy the environment names: the rig's fault proxy
//! (`switchboard-faultproxy`, serving a control API in Toxiproxy's shape: an emulation
//! of the part the console uses) in front of the rig's backend1, a probe through it.
//! The experiment adds a latency toxic longer than the probe's timeout; the hypothesis
//! breaks, nothing recovers it, and past its abort bound the experiment ends and
//! removes the toxic: the proxy forwards plainly again.

use switchboard_core::sources::http_probe::HttpProbeConfig;
use switchboard_core::workflow::experiment::ExperimentConfig;
use switchboard_core::{Environment, SourceConfig};
use switchboard_faultproxy::{Fault, FaultProxy};

use crate::helpers::{begin, engine, run_experiment};

const EXPERIMENT: &str = r#"
name = "slow-backend"
title = "backend1 answers 1.5 s late"

[[hypothesis]]
kind = "healthy"
service = "via-proxy"

[fault]
kind = "toxic"
api = "{api}"
proxy = "{proxy}"
toxic = "latency"
latency_millis = 1500

[abort]
broken_for_secs = 2
"#;

#[test]
fn a_latency_toxic_breaks_the_hypothesis_and_is_removed_when_the_run_aborts() {
    let Some(_one) = begin(&["haproxy"]) else {
        return;
    };
    let proxy = FaultProxy::start("127.0.0.1:9001").expect("proxy");
    let api = proxy.serve_api("127.0.0.1:0", "web1").expect("api");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("slow-backend.toml");
    std::fs::write(&file, EXPERIMENT).expect("experiment file");
    let mut env = Environment::new(
        "rig",
        vec![SourceConfig::HttpProbe(HttpProbeConfig {
            name: "via-proxy".into(),
            url: format!("http://{}/", proxy.addr()),
            interval_secs: 0.1,
            timeout_secs: 0.5,
            healthy_threshold: 2,
            unhealthy_threshold: 1,
            service: Some("via-proxy".into()),
            instance: Some("backend1".into()),
            tls: None,
            auth: None,
            proxy: switchboard_core::sources::ProxySetting::Env(false),
            max_answer_bytes: None,
        })],
    );
    env.experiment = vec![ExperimentConfig {
        name: "slow-backend".into(),
        file: Some(file.display().to_string()),
        vars: [
            ("api", format!("http://{api}")),
            ("proxy", "web1".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into(),
        automatic_recovery: false,
    }];
    let (_engine, observed) = engine(&env);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let r = run_experiment(&rt, &env, &observed, "slow-backend");
    assert_eq!(r.outcome, "aborted", "{}", r.markdown());
    assert!(
        r.summary.contains("stayed broken for more than 2 s"),
        "{}",
        r.summary
    );
    assert!(
        r.detected_by
            .as_deref()
            .is_some_and(|b| b.starts_with("via-proxy: every instance healthy")),
        "{:?}",
        r.detected_by
    );
    assert!(
        r.timeline
            .iter()
            .any(|m| m.what == "fault undone: the toxic removed from proxy web1"),
        "{}",
        r.markdown()
    );
    assert_eq!(
        proxy.fault(),
        Fault::Pass,
        "the proxy forwards plainly again"
    );
    eprintln!(
        "figure: latency toxic → hypothesis broken in {} ms",
        r.mttd_millis.unwrap_or(-1)
    );
}
