//! Network faults on the rig's real etcd, made with nftables (`tests/faults/fault.sh`;
//! the machines' kernel has no netem, so drops and random loss, no delay):
//!
//! - one member partitioned from the console only: packets to and from its client port
//!   dropped, its peer port untouched, so the cluster itself stays whole. The console,
//!   which can no longer ask it, says so within its timeout and counts the cluster at
//!   risk; when the fault is lifted it is healthy again by itself;
//! - the whole cluster blackholed (every client port): connections already made go
//!   silent and new ones are never answered; the source goes down in words, and comes
//!   back by itself;
//! - 10 % of packets lost on every client port for 10 s: how often the console changes
//!   its mind, and that it settles healthy once the loss stops.
//!
//! Each scenario prints its figures. The faults are machine-wide, so this binary's
//! scenarios run one at a time, and a guard clears the rules whatever happens. Runs when
//! `SWITCHBOARD_RIG` names `etcd` and `nft` is there (root).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::rig_has;
use switchboard_core::model::{QuorumState, SourceStatus};
use switchboard_core::{EngineHandle, State};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const CLIENT_PORTS: [&str; 3] = ["12379", "22379", "32379"];

fn fault(args: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/faults/fault.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("run fault.sh");
    assert!(
        out.status.success(),
        "fault.sh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Clears every fault when dropped, so a failed scenario leaves the network whole.
struct Lifted;

impl Drop for Lifted {
    fn drop(&mut self) {
        fault(&["clear"]);
    }
}

fn begin() -> Option<(std::sync::MutexGuard<'static, ()>, Lifted, EngineHandle)> {
    if !rig_has("etcd") {
        eprintln!("skipped: the rig's etcd is not running (tests/check.sh starts it)");
        return None;
    }
    if Command::new("nft").arg("--version").output().is_err() {
        eprintln!("skipped: no nft here (tests/faults/fault.sh install)");
        return None;
    }
    let one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    fault(&["clear"]);
    let engine = common::engine_with(common::rig_etcd());
    let s = engine.wait_for(Duration::from_secs(15), |s| {
        quorum(s) == Some(QuorumState::Healthy)
    });
    assert_eq!(
        quorum(&s),
        Some(QuorumState::Healthy),
        "the rig's etcd is healthy first"
    );
    Some((one, Lifted, engine))
}

fn quorum(s: &State) -> Option<QuorumState> {
    s.clusters
        .get("etcd")
        .filter(|c| c.membership_known && c.members.values().all(|m| m.polled))
        .map(|c| c.quorum.state)
}

/// How long until `pred` holds (at most `within`), or `None`.
fn until(e: &EngineHandle, within: Duration, pred: impl Fn(&State) -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    let s = e.wait_for(within, &pred);
    pred(&s).then(|| t0.elapsed())
}

#[test]
fn one_member_partitioned_from_the_console_only_is_at_risk_then_healthy() {
    let Some((_one, _lifted, e)) = begin() else {
        return;
    };
    fault(&["drop", "32379"]);
    let seen = until(&e, Duration::from_secs(10), |s| {
        quorum(s) == Some(QuorumState::AtRisk)
    })
    .expect("the console sees it cannot reach one member");
    let s = e.snapshot();
    let c = s.clusters.get("etcd").expect("cluster");
    let silent: Vec<_> = c.members.values().filter(|m| !m.status.reachable).collect();
    assert_eq!(silent.len(), 1, "{:?}", c.members);
    let why = silent[0].status.error.clone().unwrap_or_default();
    assert!(
        why.contains("timed out after"),
        "the member's error says why: {why}"
    );
    assert_eq!(
        s.sources.get("etcd").map(|x| x.status),
        Some(SourceStatus::Up),
        "two of three endpoints answer: the source is up"
    );
    let lifted = Instant::now();
    fault(&["clear"]);
    let back = until(&e, Duration::from_secs(15), |s| {
        quorum(s) == Some(QuorumState::Healthy)
    })
    .expect("healthy again by itself");
    eprintln!(
        "faults: one etcd member partitioned from the console: at risk after {} ms ({why}); healthy {} ms after the fault was lifted",
        seen.as_millis(),
        back.as_millis().min(lifted.elapsed().as_millis())
    );
}

#[test]
fn the_whole_cluster_blackholed_goes_down_in_words_and_comes_back() {
    let Some((_one, _lifted, e)) = begin() else {
        return;
    };
    fault(&[&["drop"][..], &CLIENT_PORTS[..]].concat());
    let down = until(&e, Duration::from_secs(15), |s| {
        s.sources
            .get("etcd")
            .is_some_and(|x| x.status == SourceStatus::Down)
    })
    .expect("the source goes down");
    let s = e.snapshot();
    let why = s
        .sources
        .get("etcd")
        .and_then(|x| x.detail.clone())
        .unwrap_or_default();
    assert!(why.contains("no endpoint answers"), "{why}");
    assert_ne!(
        quorum(&s),
        Some(QuorumState::Healthy),
        "no tile shows old data as current"
    );
    fault(&["clear"]);
    let up = until(&e, Duration::from_secs(20), |s| {
        quorum(s) == Some(QuorumState::Healthy)
            && s.sources
                .get("etcd")
                .is_some_and(|x| x.status == SourceStatus::Up)
    })
    .expect("back by itself");
    eprintln!(
        "faults: etcd blackholed: source down after {} ms ({}); healthy {} ms after the fault was lifted",
        down.as_millis(),
        why.split(" (").next().unwrap_or(&why),
        up.as_millis()
    );
}

#[test]
fn ten_percent_loss_is_ridden_out_and_settles_healthy() {
    let Some((_one, _lifted, e)) = begin() else {
        return;
    };
    fault(&[&["loss", "10"][..], &CLIENT_PORTS[..]].concat());
    let t0 = Instant::now();
    let mut changes = 0;
    let mut worst = QuorumState::Healthy;
    let mut last = Some(QuorumState::Healthy);
    while t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        let now = quorum(&e.snapshot());
        if now != last {
            changes += 1;
            last = now;
        }
        if let Some(q) = now
            && q != QuorumState::Healthy
            && worst == QuorumState::Healthy
        {
            worst = q;
        }
    }
    fault(&["clear"]);
    let settled = until(&e, Duration::from_secs(15), |s| {
        quorum(s) == Some(QuorumState::Healthy)
    })
    .expect("healthy once the loss stops");
    eprintln!(
        "faults: 10 % loss on etcd's client ports for 10 s: {changes} change(s) of the console's view (worst {worst:?}); healthy {} ms after",
        settled.as_millis()
    );
}

/// Each HTTP and gRPC source kind on its real rig server, its ports blackholed: the
/// console says the source (or its target) failed, in words, and recovers by itself
/// once the fault is lifted. Prints the times as a table.
#[test]
fn every_source_kind_fails_in_words_under_a_blackhole_and_recovers() {
    let needed = [
        "haproxy",
        "traefik",
        "envoy",
        "prometheus",
        "patroni",
        "grpchealth",
    ];
    if !needed.iter().all(|c| rig_has(c)) {
        eprintln!("skipped: needs the rig's {needed:?}");
        return;
    }
    let Some((_one, _lifted, _etcd)) = begin() else {
        return;
    };
    let kinds: [(&str, &str, &[&str]); 7] = [
        (
            "haproxy",
            "stats_url = \"http://127.0.0.1:8404/stats;csv\"",
            &["8404"],
        ),
        ("traefik", "api = \"http://127.0.0.1:8181\"", &["8181"]),
        ("envoy", "admin = \"http://127.0.0.1:9901\"", &["9901"]),
        (
            "prometheus",
            "url = \"http://127.0.0.1:9090\"\ninterval_secs = 1.0\n[[environment.source.query]]\nbreaker = \"b\"\nservice = \"s\"\nexpr = \"up\"",
            &["9090"],
        ),
        (
            "patroni",
            "endpoints = [\"http://127.0.0.1:8001\", \"http://127.0.0.1:8002\", \"http://127.0.0.1:8003\"]",
            &["8001", "8002", "8003"],
        ),
        (
            "grpc_health",
            "endpoint = \"http://127.0.0.1:50051\"",
            &["50051"],
        ),
        (
            "http_probe",
            "url = \"http://127.0.0.1:9001/\"\ninterval_secs = 1.0",
            &["9001"],
        ),
    ];
    let mut table = Vec::new();
    for (kind, fields, ports) in kinds {
        let toml = format!(
            "[[environment]]\nname = \"faults\"\n[[environment.source]]\nkind = \"{kind}\"\nname = \"under-fault\"\n{fields}\n"
        );
        let cfg = switchboard_core::Config::parse(&toml, std::path::Path::new("faults.toml"))
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let e =
            switchboard_core::start(&switchboard_core::EngineOptions::new(cfg)).expect("engine");
        // A probe (gRPC health, HTTP) reports its target's failure on the target;
        // the others go down themselves.
        let probe = matches!(kind, "grpc_health" | "http_probe");
        let failed = |s: &State| {
            s.sources
                .get("under-fault")
                .is_some_and(|x| x.status != SourceStatus::Up)
                || (probe
                    && s.instances.values().any(|i| {
                        i.source.as_str() == "under-fault"
                            && i.health == switchboard_core::model::Health::Unhealthy
                    }))
        };
        let healthy = |s: &State| {
            s.sources
                .get("under-fault")
                .is_some_and(|x| x.status == SourceStatus::Up)
                && !failed(s)
        };
        until(&e, Duration::from_secs(15), healthy)
            .unwrap_or_else(|| panic!("{kind} is up first: {:?}", e.snapshot().sources));
        fault(&[&["drop"][..], ports].concat());
        let seen = until(&e, Duration::from_secs(20), failed)
            .unwrap_or_else(|| panic!("{kind}: the blackhole is never seen"));
        let s = e.snapshot();
        let words = s
            .sources
            .get("under-fault")
            .and_then(|x| x.detail.clone())
            .filter(|d| !d.is_empty())
            .or_else(|| {
                s.instances
                    .values()
                    .find(|i| i.source.as_str() == "under-fault")
                    .and_then(|i| i.detail.as_deref().map(str::to_owned))
            })
            .unwrap_or_default();
        assert!(!words.is_empty(), "{kind}: the failure says why");
        fault(&["clear"]);
        let back = until(&e, Duration::from_secs(30), healthy)
            .unwrap_or_else(|| panic!("{kind} never recovered: {:?}", e.snapshot().sources));
        table.push(format!(
            "| {kind} | {} ms | {} ms | {} |",
            seen.as_millis(),
            back.as_millis(),
            words.split(" (").next().unwrap_or(&words)
        ));
    }
    eprintln!(
        "faults: blackhole by source kind\n| source | failure seen | recovered after lift | words |\n|---|---|---|---|"
    );
    for row in table {
        eprintln!("{row}");
    }
}

/// A run waiting at a manual step, its lock held in the rig's etcd, when the console
/// is cut off from that etcd: the lease cannot be renewed, so the run stops before its
/// next step and says why, rather than acting on while another console may take the
/// lock.
#[test]
fn a_partition_from_the_locks_etcd_stops_the_run_before_its_next_step() {
    use switchboard_core::workflow::runbook::RunbookConfig;
    use switchboard_core::workflow::{self, Kind};
    let Some((_one, _lifted, _etcd)) = begin() else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let book = dir.path().join("hold.toml");
    std::fs::write(
        &book,
        "name = \"hold\"\ntitle = \"Hold\"\ndescription = \"a manual step, then another\"\n\
         [[step]]\nkind = \"manual\"\ntitle = \"Wait\"\ntext = \"hold the lock\"\n\
         [[step]]\nkind = \"manual\"\ntitle = \"Never reached\"\ntext = \"after the partition\"\n",
    )
    .expect("runbook");
    let env = switchboard_core::Environment {
        runbook: vec![RunbookConfig {
            name: "hold".into(),
            file: Some(book.display().to_string()),
            vars: std::collections::BTreeMap::new(),
        }],
        ..switchboard_core::Environment::new("faults", vec![common::rig_etcd()])
    };
    let (_jdir, journal) = common::journal();
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Runbook, "hold"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    let cut = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(2));
        fault(&[&["drop"][..], &CLIENT_PORTS[..]].concat());
        Instant::now()
    });
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "hold", "rig-test"))
        .expect("run");
    let ended = Instant::now();
    let cut_at = cut.join().expect("cut");
    let said = report.lines.join(" | ");
    assert_ne!(report.outcome, "done", "{said}");
    assert!(said.contains("lease"), "the run says why: {said}");
    assert!(!said.contains("Never reached: done"), "{said}");
    eprintln!(
        "faults: lock's etcd cut off during a run: stopped {} ms later ({}): {said}",
        ended.duration_since(cut_at).as_millis(),
        report.outcome
    );
}
