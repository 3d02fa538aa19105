//! The region failover runbook (`assets/runbooks/region-failover.toml`) end to end on
//! the rig: the DCS's quorum read from the real etcd, the old primary fenced through
//! the EC2 API (moto, an EMULATOR of AWS: its instance stands for the primary's
//! machine; the local Patroni process is not stopped, so the promotion is a
//! switchover), the replica promoted on the real Patroni, the public name moved on the
//! real BIND9 (TSIG-signed, both servers verified), readiness read from the new
//! primary's Patroni (`/primary` answers 200 on the leader only).

use std::time::{Duration, Instant};

use switchboard_core::SourceConfig;
use switchboard_core::sources::aws;
use switchboard_core::sources::dns::{DnsConfig, DnsRecord, TsigRef};
use switchboard_core::workflow::fence::{Ec2Fence, FenceDevice};
use switchboard_core::workflow::runbook::RunbookConfig;
use switchboard_core::workflow::{self, Kind};

use crate::common::{self, rig, rig_has};
use crate::helpers::{begin, leader_and_candidate, members, unsafe_env_named, workflow_env};

fn rig_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
}

/// What `dig` says `www` is on the BIND9 server at `port`.
fn dig(port: &str) -> String {
    let out = std::process::Command::new("dig")
        .args(["@127.0.0.1", "-p", port, "+tcp", "+short"])
        .args(["www.switchboard.test", "CNAME"])
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_end_matches('.')
        .to_owned()
}

/// Puts the rig back when dropped (also after a failed assert): the zone as it
/// started, every seeded instance running.
struct Reset(Vec<String>, aws::AwsRef);

impl Drop for Reset {
    fn drop(&mut self) {
        common::rig(&["bind9-reset"]);
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            if let Ok(api) = aws::call::Api::ec2(&self.1, Duration::from_secs(5)) {
                for id in &self.0 {
                    let _ = aws::ec2::start(&api, id).await;
                }
            }
        });
    }
}

#[test]
fn the_region_failover_runbook_runs_end_to_end_on_the_rig() {
    if !rig_has("etcd") || !rig_has("bind9") || !rig_has("aws") {
        eprintln!("skipped: needs the rig's etcd, BIND9 and moto too");
        return;
    }
    let Some((_one, e, leader)) = begin() else {
        return;
    };
    let (old, candidate) = leader_and_candidate(leader);
    let candidate_port = members()
        .into_iter()
        .find(|(n, _)| *n == candidate)
        .map(|(_, p)| p)
        .expect("the candidate's port");

    // AWS credentials as an engineer keeps them: a credentials file with a profile.
    let seed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(rig_dir().join("aws/seed.json")).expect("seed"),
    )
    .expect("seed json");
    let instances: Vec<String> = seed["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .filter_map(|i| i.as_str().map(str::to_owned))
        .collect();
    let dir = tempfile::tempdir().expect("dir");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[rig]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            seed["key_id"].as_str().unwrap_or_default(),
            seed["secret"].as_str().unwrap_or_default()
        ),
    )
    .expect("credentials");
    unsafe_env_named(
        "AWS_SHARED_CREDENTIALS_FILE",
        &credentials.display().to_string(),
    );
    let aws_ref = aws::AwsRef {
        profile: Some("rig".into()),
        region: Some("eu-west-1".into()),
        endpoint: Some("http://127.0.0.1:5400".into()),
    };
    let _reset = Reset(instances.clone(), aws_ref.clone());

    let mut env = workflow_env();
    let probe: switchboard_core::sources::http_probe::HttpProbeConfig = toml::from_str(&format!(
        "name = \"standby-ready\"\nurl = \"http://127.0.0.1:{candidate_port}/health\"\n"
    ))
    .expect("probe");
    env.source.push(SourceConfig::HttpProbe(probe));
    env.source.push(SourceConfig::Dns(DnsConfig {
        name: "public".into(),
        zone: "switchboard.test".into(),
        servers: vec!["127.0.0.1:5301".into(), "127.0.0.1:5302".into()],
        route53: None,
        records: vec![DnsRecord {
            name: "www".into(),
            rtype: "CNAME".into(),
            primary: Some("primary-region.switchboard.test".into()),
            standby: Some("standby-region.switchboard.test".into()),
            ttl_secs: 15,
            // The standby region's readiness as a probe the console already runs.
            standby_check: Some("standby-ready".into()),
            primary_service: None,
            standby_service: None,
        }],
        tsig: Some(TsigRef {
            key_name: "switchboard-key".into(),
            algorithm: "hmac-sha256".into(),
            secret_file: Some(rig_dir().join("bind9/tsig.secret").display().to_string()),
            secret_env: None,
        }),
        interval_millis: 500,
        timeout_millis: 1000,
    }));
    // Each member's machine is one of the emulated instances; the group is the cluster.
    let names: Vec<String> = members().into_iter().map(|(n, _)| n).collect();
    for (node, id) in names.iter().zip(&instances) {
        env.fence.push(FenceDevice {
            name: format!("{node}-ec2"),
            node: node.clone(),
            group: "pg".into(),
            level: 1,
            agent: String::new(),
            ec2: Some(Ec2Fence {
                instance_id: id.clone(),
                region: aws_ref.region.clone(),
                profile: aws_ref.profile.clone(),
                endpoint: aws_ref.endpoint.clone(),
                force: true,
            }),
            options: std::collections::BTreeMap::new(),
            secret_env: std::collections::BTreeMap::new(),
            timeout_secs: 10,
        });
    }
    let old_instance = names
        .iter()
        .position(|n| *n == old)
        .map(|i| instances[i].clone())
        .expect("the old primary's instance");
    env.runbook.push(RunbookConfig {
        name: "region-failover".into(),
        file: None,
        vars: [
            ("dcs", "etcd".to_owned()),
            ("old_primary", old.clone()),
            ("database", "pg".to_owned()),
            ("candidate", candidate.clone()),
            // The old primary's Patroni still runs here (only its emulated machine
            // stops): a switchover, which a live leader needs.
            ("promote", "switchover".to_owned()),
            ("public_name", "public/www".to_owned()),
            (
                "readiness",
                format!("http://127.0.0.1:{candidate_port}/primary"),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    });

    let (_jdir, journal) = common::journal();
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Runbook, "region-failover"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert_eq!(plan.steps.len(), 5, "{:?}", plan.steps);
    let started = Instant::now();
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "region-failover", "rig-test"))
        .expect("run");
    let took = started.elapsed();
    eprintln!(
        "region failover on the rig: {} in {} ms (confirmation to done {:?} ms): {:#?}",
        report.outcome,
        took.as_millis(),
        report.effect_millis,
        report.lines
    );
    assert_eq!(report.outcome, "done", "{:#?}", report.lines);
    assert!(
        report.lines[0].contains("3 of 3 members answer, one leader"),
        "{}",
        report.lines[0]
    );
    assert!(
        report.lines[1].contains(&format!("verified: {old} is OFF")),
        "{}",
        report.lines[1]
    );
    assert!(
        report.lines[3].contains("clients follow within"),
        "{}",
        report.lines[3]
    );
    let dns_run = journal
        .recent(10)
        .expect("runs")
        .into_iter()
        .find(|r| r.kind == "dns-failover")
        .expect("the dns-failover run");
    let guard_rows = journal.steps(dns_run.id).expect("steps");
    assert!(
        guard_rows.iter().any(
            |r| r.detail.contains("probe standby-ready: http://127.0.0.1:")
                && r.detail.contains("answers 2xx")
        ),
        "the standby was checked through its probe: {guard_rows:?}"
    );

    // Each system says so itself: the instance, the servers, the cluster.
    let state = rt.block_on(async {
        let api = aws::call::Api::ec2(&aws_ref, Duration::from_secs(5)).expect("api");
        aws::ec2::describe(&api, &[&old_instance])
            .await
            .expect("describe")
            .into_iter()
            .next()
            .map(|s| s.state)
            .unwrap_or_default()
    });
    assert_eq!(state, "stopped");
    assert_eq!(dig("5301"), "standby-region.switchboard.test");
    assert_eq!(dig("5302"), "standby-region.switchboard.test");
    let s = e.wait_for(Duration::from_secs(30), |s| {
        crate::helpers::db(s)
            .and_then(|d| d.primary.as_ref())
            .is_some_and(|p| p.as_str() == candidate)
    });
    assert_eq!(
        crate::helpers::db(&s)
            .and_then(|d| d.primary.as_ref())
            .map(ToString::to_string),
        Some(candidate.clone())
    );
    let steps = journal.steps(report.run).expect("steps");
    assert_eq!(
        steps
            .iter()
            .filter(|r| r.phase == "after" && r.outcome == "ok")
            .count(),
        5,
        "{steps:?}"
    );
    rig(&["bind9-reset"]);
}
