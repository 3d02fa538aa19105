//! DNS on the rig's real BIND9 (a primary and a secondary of `switchboard.test`, dynamic
//! updates signed with a TSIG key made at rig start): the `dns` source reports each
//! server's answer and serial; `dns-failover` moves `www` to the standby region in one
//! signed update and is verified on both servers (and by `dig`); `dns-restore` moves it
//! back; a wrong key and a record changed since the plan are refused in words.
//!
//! Runs when `SWITCHBOARD_RIG` names `bind9`.

mod common;

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::rig_has;
use switchboard_core::sources::dns::{DnsConfig, DnsRecord, TsigRef};
use switchboard_core::workflow::{self, Kind};
use switchboard_core::{Environment, SourceConfig};

const PRIMARY: &str = "127.0.0.1:5301";
const SECONDARY: &str = "127.0.0.1:5302";

fn rig_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
}

fn source(secret_file: &str) -> DnsConfig {
    DnsConfig {
        name: "public".into(),
        zone: "switchboard.test".into(),
        servers: vec![PRIMARY.into(), SECONDARY.into()],
        route53: None,
        records: vec![DnsRecord {
            name: "www".into(),
            rtype: "CNAME".into(),
            primary: Some("primary-region.switchboard.test".into()),
            standby: Some("standby-region.switchboard.test".into()),
            ttl_secs: 15,
            standby_check: None,
            primary_service: Some("edge-primary".into()),
            standby_service: Some("edge-standby".into()),
        }],
        tsig: Some(TsigRef {
            key_name: "switchboard-key".into(),
            algorithm: "hmac-sha256".into(),
            secret_file: Some(secret_file.to_owned()),
            secret_env: None,
        }),
        interval_millis: 200,
        timeout_millis: 1000,
    }
}

fn env(secret_file: &str) -> Environment {
    let mut source = vec![SourceConfig::Dns(source(secret_file))];
    if rig_has("etcd") {
        source.push(common::rig_etcd());
    }
    Environment::new("rig", source)
}

/// What `dig` says `www` is on the server at `port` (the CNAME, without its dot).
fn dig(port: &str) -> String {
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            port,
            "+tcp",
            "+short",
            "www.switchboard.test",
            "CNAME",
        ])
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_end_matches('.')
        .to_owned()
}

/// Puts the zone back as the rig started it when dropped (also after a failed assert).
struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        common::rig(&["bind9-reset"]);
    }
}

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The rig's BIND9 to this test alone (the tests move one record), or `None` when it is
/// not running (the test is skipped, and says so).
fn bind9() -> Option<std::sync::MutexGuard<'static, ()>> {
    if !rig_has("bind9") {
        eprintln!("skipped: the rig's BIND9 is not running (tests/check.sh starts it)");
        return None;
    }
    Some(
        ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// The plan of `kind` on the rig's `www`.
fn plan_www(
    rt: &tokio::runtime::Runtime,
    ctx: &workflow::Context<'_>,
    kind: Kind,
) -> workflow::Plan {
    rt.block_on(workflow::plan(ctx, kind, "public/www"))
        .expect("plan")
}

/// Runs `plan`, confirmed with the full name.
fn run_www(
    rt: &tokio::runtime::Runtime,
    ctx: &workflow::Context<'_>,
    plan: &workflow::Plan,
) -> workflow::Report {
    rt.block_on(workflow::run(ctx, plan, "www.switchboard.test", "rig-test"))
        .expect("a report")
}

#[test]
fn the_source_reports_each_servers_answer_and_serial() {
    let Some(_one) = bind9() else { return };
    let secret = rig_dir().join("bind9/tsig.secret");
    let engine = common::engine_with(SourceConfig::Dns(source(&secret.display().to_string())));
    let deadline = Instant::now() + Duration::from_secs(10);
    let (detail, state) = loop {
        let state = engine.snapshot();
        let up = state
            .sources
            .iter()
            .find(|(id, s)| {
                &*id.0 == "public" && s.status == switchboard_core::model::SourceStatus::Up
            })
            .map(|(_, s)| s.detail.clone().unwrap_or_default());
        if let Some(d) = up.filter(|_| state.dns.contains_key("www.switchboard.test")) {
            break (d, state);
        }
        assert!(
            Instant::now() < deadline,
            "the dns source never came up: {:?}",
            state.sources
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        detail.contains("www.switchboard.test -> CNAME primary-region.switchboard.test (TTL 15 s)"),
        "{detail}"
    );
    assert!(
        detail.contains(&format!("{PRIMARY} serial"))
            && detail.contains(&format!("{SECONDARY} serial")),
        "{detail}"
    );
    // The record as state: every server's answer and serial, the side, the service.
    let www = &state.dns["www.switchboard.test"];
    assert_eq!(&*www.source.0, "public");
    let r = &www.record;
    assert_eq!(
        r.reads
            .iter()
            .map(|x| x.server.as_str())
            .collect::<Vec<_>>(),
        [PRIMARY, SECONDARY]
    );
    for x in &r.reads {
        assert_eq!(x.values, ["primary-region.switchboard.test"], "{x:?}");
        assert_eq!(x.ttl_secs, Some(15));
        assert!(x.serial.is_some_and(|s| s > 0), "{x:?}");
    }
    assert_eq!(r.side(), switchboard_core::model::DnsSide::Primary);
    assert_eq!(
        r.service
            .as_ref()
            .map(switchboard_core::model::ServiceId::as_str),
        Some("edge-primary")
    );
    assert!(r.concerns().is_empty(), "{:?}", r.concerns());
    let report = switchboard_core::StatusReport::new(&state, state.now);
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["dns"][0]["name"], "www.switchboard.test");
    assert_eq!(json["dns"][0]["side"], "primary");
    assert_eq!(json["dns"][0]["ttl_secs"], 15);
    assert_eq!(json["dns"][0]["service"], "edge-primary");
    assert_eq!(json["dns"][0]["servers"][1]["server"], SECONDARY);
    assert!(
        !detail.contains(
            &std::fs::read_to_string(&secret)
                .expect("secret")
                .trim()
                .to_owned()
        )
    );
}

#[test]
fn failover_and_restore_of_a_public_name_on_both_servers() {
    let Some(_one) = bind9() else { return };
    let _reset = Reset;
    let secret = rig_dir().join("bind9/tsig.secret");
    let env = env(&secret.display().to_string());
    let (_dir, journal) = common::journal();
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    assert_eq!(dig("5301"), "primary-region.switchboard.test");

    let plan = plan_www(&rt, &ctx, Kind::DnsFailover);
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert_eq!(plan.before, "CNAME primary-region.switchboard.test");
    assert_eq!(plan.confirm_as, "www.switchboard.test");
    let refused = rt
        .block_on(workflow::run(&ctx, &plan, "www", "rig-test"))
        .expect_err("the confirmation is the full name");
    assert!(
        refused.to_string().contains("is not the target's name"),
        "{refused}"
    );

    let t0 = Instant::now();
    let report = run_www(&rt, &ctx, &plan);
    let took = t0.elapsed();
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(dig("5301"), "standby-region.switchboard.test");
    assert_eq!(dig("5302"), "standby-region.switchboard.test");
    let last = report.lines.last().expect("a line");
    assert!(
        last.contains("clients follow within the old record's TTL: 15 s, by"),
        "{last}"
    );
    eprintln!(
        "dns-failover: confirmed -> both authoritative servers answer the standby: {} ms (run {} ms)",
        report.effect_millis.unwrap_or(-1),
        took.as_millis()
    );

    // Changed behind the plan's back: the compare-and-swap refuses, nothing is written.
    let restore = plan_www(&rt, &ctx, Kind::DnsRestore);
    assert!(restore.allowed(), "{:?}", restore.refusals());
    common::rig(&["bind9-reset"]);
    let stale = run_www(&rt, &ctx, &restore);
    assert_eq!(stale.outcome, "needs_human", "{:?}", stale.lines);
    assert!(
        stale.lines.iter().any(|l| l.contains("NXRRSET")),
        "{:?}",
        stale.lines
    );

    // Back to the standby by hand-free means, then restore through the workflow.
    let again = plan_www(&rt, &ctx, Kind::DnsFailover);
    let r = run_www(&rt, &ctx, &again);
    assert_eq!(r.outcome, "done", "{:?}", r.lines);
    let mut back = plan_www(&rt, &ctx, Kind::DnsRestore);
    // The fourth move of one name within a minute is a human's call: dampening refuses
    // it until someone says why, and the why is journaled.
    assert!(!back.allowed(), "dampening holds the fourth run");
    back.override_guard(
        "dampening",
        "rig test: putting www back after the refusal test",
    )
    .expect("override");
    let r = run_www(&rt, &ctx, &back);
    assert_eq!(r.outcome, "done", "{:?}", r.lines);
    assert_eq!(dig("5301"), "primary-region.switchboard.test");
    assert_eq!(dig("5302"), "primary-region.switchboard.test");

    // Nothing to do: refused by its own guard.
    let noop = plan_www(&rt, &ctx, Kind::DnsRestore);
    assert!(
        noop.refusals()
            .iter()
            .any(|r| r.starts_with("not there yet")),
        "{:?}",
        noop.refusals()
    );
}

#[test]
fn a_wrong_key_is_refused_in_words_and_changes_nothing() {
    let Some(_one) = bind9() else { return };
    let _reset = Reset;
    let dir = tempfile::tempdir().expect("dir");
    let wrong = dir.path().join("wrong.secret");
    // A well-formed key the server does not hold.
    std::fs::write(&wrong, "c3dpdGNoYm9hcmQtd3Jvbmcta2V5LXNlY3JldC0zMmI=\n").expect("write");
    let env = env(&wrong.display().to_string());
    let (_jdir, journal) = common::journal();
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let plan = plan_www(&rt, &ctx, Kind::DnsFailover);
    let report = run_www(&rt, &ctx, &plan);
    assert_eq!(report.outcome, "needs_human", "{:?}", report.lines);
    let said = report.lines.join("\n");
    assert!(said.contains("NOTAUTH") && said.contains("TSIG"), "{said}");
    assert_eq!(dig("5301"), "primary-region.switchboard.test");
    assert_eq!(dig("5302"), "primary-region.switchboard.test");
    let rows = journal.steps(report.run).expect("steps");
    assert!(
        rows.iter()
            .any(|r| r.outcome == "failed" && r.detail.contains("NOTAUTH"))
    );
}
