//! Guarded workflows against the rig's real HAProxy (runtime API over TCP) and its two
//! real backends: a drain under live traffic loses no request; the last-healthy guard
//! refuses to drain the only server left; the confirmation must be the target's name;
//! a read-only environment cannot start anything; three runs on one target within a
//! minute hand it to a human (dampening). Every run is in the journal.
//!
//! The scenarios share one HAProxy, so they run one at a time. Runs when
//! `SWITCHBOARD_RIG` names `haproxy`.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{rig, rig_has};
use switchboard_core::sources::haproxy::HaproxyConfig;
use switchboard_core::workflow::server::Target;
use switchboard_core::workflow::{self, Journal, Kind, WorkflowError};
use switchboard_core::{Environment, SourceConfig};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn env(read_only: bool) -> Environment {
    Environment {
        second_approver: false,
        objectives: switchboard_core::store::Objectives::default(),
        look: switchboard_core::Look::default(),
        runbook: Vec::new(),
        fence: Vec::new(),
        name: "rig".into(),
        read_only,
        stale_after_millis: 5000,
        source: vec![SourceConfig::Haproxy(HaproxyConfig {
            name: "edge".into(),
            socket: Some("tcp://127.0.0.1:9999".into()),
            stats_url: None,
            interval_millis: 100,
            timeout_millis: 1000,
        })],
    }
}

fn skip() -> bool {
    if rig_has("haproxy") {
        return false;
    }
    eprintln!(
        "skipped: the real HAProxy rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG)"
    );
    true
}

/// One scenario: the rig to itself, a runtime, a fresh journal in a temporary directory.
struct Scenario {
    _one: std::sync::MutexGuard<'static, ()>,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    journal: Journal,
}

/// Starts a scenario with both servers in rotation; `None` when the rig has no HAProxy.
fn begin() -> Option<Scenario> {
    if skip() {
        return None;
    }
    let one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    reset(&rt);
    let (dir, journal) = common::journal();
    Some(Scenario {
        _one: one,
        rt,
        _dir: dir,
        journal,
    })
}

/// Both servers in rotation and UP in HAProxy's own checks (a backend restarted by an
/// earlier test needs its two good checks first).
fn reset(rt: &tokio::runtime::Runtime) {
    for (b, port) in [("backend1", 9001), ("backend2", 9002)] {
        if common::curl(&format!("http://127.0.0.1:{port}/")).is_empty() {
            rig(&["restart", b]);
        }
    }
    let cmd = |c: String| {
        rt.block_on(switchboard_core::sources::haproxy::runtime_command(
            "tcp://127.0.0.1:9999",
            &c,
            Duration::from_secs(2),
        ))
        .expect("runtime API")
    };
    for s in ["web1", "web2"] {
        cmd(format!("set server be_web/{s} state ready"));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let stat = cmd("show stat".into());
        let up = |s: &str| {
            stat.lines()
                .any(|l| l.starts_with(&format!("be_web,{s},")) && l.contains(",UP,"))
        };
        if up("web1") && up("web2") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "web1 and web2 not UP: {stat}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Requests through HAProxy's frontend, one every 10 ms, counted ok (200) or failed.
struct Traffic {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU32>,
    bad: Arc<AtomicU32>,
    thread: std::thread::JoinHandle<()>,
}

impl Traffic {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, bad) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        let thread = {
            let (stop, ok, bad) = (Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&bad));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let out = std::process::Command::new("curl")
                        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                        .args(["--max-time", "2", "http://127.0.0.1:8080/"])
                        .output();
                    let code = out
                        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                        .unwrap_or_default();
                    if code == "200" { &ok } else { &bad }.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        Self {
            stop,
            ok,
            bad,
            thread,
        }
    }

    /// Stops it; (ok, failed).
    fn stop(self) -> (u32, u32) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("traffic");
        (
            self.ok.load(Ordering::Relaxed),
            self.bad.load(Ordering::Relaxed),
        )
    }
}

/// A scenario on the rig's etcd alone: the rig to itself, a runtime, an environment
/// whose only source is the etcd; `None` without the rig's etcd.
fn etcd_only() -> Option<(
    std::sync::MutexGuard<'static, ()>,
    tokio::runtime::Runtime,
    Environment,
)> {
    if !rig_has("etcd") {
        eprintln!("skipped: needs the rig's etcd");
        return None;
    }
    let one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut e = env(false);
    e.source = vec![common::rig_etcd()];
    Some((one, tokio::runtime::Runtime::new().expect("runtime"), e))
}

fn run_one(
    rt: &tokio::runtime::Runtime,
    ctx: &workflow::Context<'_>,
    kind: Kind,
    target: &str,
) -> Result<workflow::Report, WorkflowError> {
    let t = Target::parse(target).expect("target");
    let plan = rt.block_on(workflow::plan(ctx, kind, &t.to_string()))?;
    rt.block_on(workflow::run(ctx, &plan, &t.confirm_name(), "rig-test"))
}

#[test]
fn a_drain_under_traffic_loses_no_request_and_is_journaled() {
    let Some(Scenario {
        _one,
        rt,
        _dir,
        journal,
    }) = begin()
    else {
        return;
    };
    let env = env(false);
    let ctx = common::workflow_ctx(&env, &journal);
    // HAProxy's own minimum, in the same run: the runtime command by hand, then its
    // stats polled until they show it.
    let by_hand = |state: &str, shows: &str| {
        let t0 = std::time::Instant::now();
        rt.block_on(switchboard_core::sources::haproxy::runtime_command(
            "tcp://127.0.0.1:9999",
            &format!("set server be_web/web1 state {state}"),
            Duration::from_secs(2),
        ))
        .expect("runtime API");
        while !server_stat(&rt, "web1").0.starts_with(shows) {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "HAProxy never showed {shows}"
            );
        }
        t0.elapsed()
    };
    let own = by_hand("drain", "DRAIN");
    by_hand("ready", "UP");
    // Live traffic through HAProxy for the whole run.
    let traffic = Traffic::start();
    std::thread::sleep(Duration::from_millis(300));
    let t = Target::parse("edge/be_web/web1").expect("target");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Drain, &t.to_string()))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert_eq!(plan.before, "UP");
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web1", "rig-test"))
        .expect("run");
    std::thread::sleep(Duration::from_millis(500));
    let back = run_one(&rt, &ctx, Kind::Ready, "edge/be_web/web1").expect("ready");
    std::thread::sleep(Duration::from_millis(300));
    let (ok, bad) = traffic.stop();
    eprintln!(
        "workflow rig: drain took effect {} ms after confirmation, ready {} ms (HAProxy's own, by hand: {} ms); {ok} requests ok, {bad} failed",
        report.effect_millis.unwrap_or(-1),
        back.effect_millis.unwrap_or(-1),
        own.as_millis()
    );
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(back.outcome, "done", "{:?}", back.lines);
    assert!(ok > 20, "traffic flowed: {ok}");
    assert_eq!(bad, 0, "no request failed during the drain");
    let steps = journal.steps(report.run).expect("steps");
    let phases: Vec<&str> = steps.iter().map(|s| s.phase.as_str()).collect();
    assert_eq!(
        phases,
        ["guards", "before", "after", "verify"],
        "the guards' verdicts, then before and after"
    );
    assert!(
        steps[0]
            .detail
            .lines()
            .any(|l| l.starts_with("read-only: PASS")),
        "every guard's verdict is journaled: {:?}",
        steps[0].detail
    );
    assert_eq!(journal.recent(5).expect("runs")[1].operator, "rig-test");
}

#[test]
fn guards_refuse_with_their_reasons() {
    let Some(Scenario {
        _one,
        rt,
        _dir,
        journal,
    }) = begin()
    else {
        return;
    };
    let writable_env = env(false);
    let ctx = common::workflow_ctx(&writable_env, &journal);

    // Last healthy: web2 in maintenance, web1 is the only server left (web3 is a backup).
    run_one(&rt, &ctx, Kind::Maint, "edge/be_web/web2").expect("maint web2");
    let t1 = Target::parse("edge/be_web/web1").expect("target");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Drain, &t1.to_string()))
        .expect("plan");
    assert!(!plan.allowed());
    let why = plan.refusals().join("; ");
    assert!(why.contains("last healthy: 0 other server(s)"), "{why}");
    let err = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web1", "rig-test"))
        .expect_err("refused");
    assert!(matches!(err, WorkflowError::Refused(_)), "{err}");

    // The confirmation must be the target's name.
    let t2 = Target::parse("edge/be_web/web2").expect("target");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Ready, &t2.to_string()))
        .expect("plan");
    let err = rt
        .block_on(workflow::run(&ctx, &plan, "web2", "rig-test"))
        .expect_err("wrong confirmation");
    assert!(
        err.to_string().contains("is not the target's name"),
        "{err}"
    );
    rt.block_on(workflow::run(&ctx, &plan, "be_web/web2", "rig-test"))
        .expect("ready web2");

    // Dampening: web2 has had 2 runs; a third is allowed, a fourth is not.
    run_one(&rt, &ctx, Kind::Drain, "edge/be_web/web2").expect("third");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Ready, &t2.to_string()))
        .expect("plan");
    assert!(
        plan.refusals()
            .iter()
            .any(|r| r.starts_with("dampening: 3 run(s)")),
        "{:?}",
        plan.refusals()
    );
    // A human may go past dampening, with a reason that is journaled; never past
    // read-only, quorum or the lock.
    let mut plan = plan;
    assert!(plan.override_guard("read-only", "I know").is_err());
    assert!(
        plan.override_guard("dampening", " ").is_err(),
        "needs a reason"
    );
    assert!(
        plan.override_guard("last healthy", "x").is_err(),
        "did not refuse"
    );
    plan.override_guard("dampening", "flapping check, fixed upstream")
        .expect("override");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web2", "rig-test"))
        .expect("overridden run");
    let rows = journal.steps(report.run).expect("steps");
    assert_eq!(rows[0].phase, "override", "{rows:?}");
    assert_eq!(rows[0].action, "dampening");
    assert!(
        rows[0]
            .detail
            .starts_with("rig-test: flapping check, fixed upstream (the guard said: 3 run(s)"),
        "{rows:?}"
    );

    // An environment that needs a second approver: not without one, not oneself.
    let mut four_eyes = env(false);
    four_eyes.second_approver = true;
    let ctx4 = common::workflow_ctx(&four_eyes, &journal);
    let t3 = Target::parse("edge/be_web/web1").expect("target");
    let mut plan = rt
        .block_on(workflow::plan(&ctx4, Kind::Drain, &t3.to_string()))
        .expect("plan");
    let err = rt
        .block_on(workflow::run(&ctx4, &plan, "be_web/web1", "rig-test"))
        .expect_err("no approver");
    assert!(err.to_string().contains("needs a second approver"), "{err}");
    plan.approver = Some("rig-test".into());
    let err = rt
        .block_on(workflow::run(&ctx4, &plan, "be_web/web1", "rig-test"))
        .expect_err("oneself");
    assert!(err.to_string().contains("another person"), "{err}");
    plan.approver = Some("bo".into());
    let report = rt
        .block_on(workflow::run(&ctx4, &plan, "be_web/web1", "rig-test"))
        .expect("approved");
    let rows = journal.steps(report.run).expect("steps");
    assert_eq!(
        (rows[0].phase.as_str(), rows[0].detail.as_str()),
        ("approval", "bo approved; rig-test runs it")
    );
    run_one(&rt, &ctx, Kind::Ready, "edge/be_web/web1").expect("ready web1");

    // Read-only: an environment marked so, and a wall/replay console.
    let read_only_env = env(true);
    let ro = common::workflow_ctx(&read_only_env, &journal);
    let plan = rt
        .block_on(workflow::plan(&ro, Kind::Maint, &t1.to_string()))
        .expect("plan");
    assert!(
        plan.refusals()
            .iter()
            .any(|r| r.contains("environment rig is read-only"))
    );
    let wall = workflow::Context {
        read_only_mode: true,
        ..ctx
    };
    let plan = rt
        .block_on(workflow::plan(&wall, Kind::Ready, &t1.to_string()))
        .expect("plan");
    assert!(plan.refusals().iter().any(|r| r.contains("wall or replay")));
    reset(&rt);
}

/// With the rig's etcd in the environment: a lock held by another console refuses the
/// run and names the holder; losing etcd quorum refuses planning and running alike.
#[test]
fn the_etcd_lock_and_quorum_guard() {
    if !rig_has("etcd") {
        eprintln!("skipped: needs the rig's etcd too");
        return;
    }
    let Some(Scenario {
        _one,
        rt,
        _dir,
        journal,
    }) = begin()
    else {
        return;
    };
    let mut with_etcd = env(false);
    with_etcd.source.push(common::rig_etcd());
    let ctx = common::workflow_ctx(&with_etcd, &journal);
    let t = Target::parse("edge/be_web/web1").expect("target");

    // Another console holds the lock.
    let other = rt
        .block_on(workflow::lock::acquire(
            &with_etcd,
            &t.to_string(),
            "bo@other-laptop: maint edge/be_web/web1",
        ))
        .expect("the other console takes the lock")
        .expect("etcd is configured");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Drain, &t.to_string()))
        .expect("plan");
    assert!(
        plan.refusals()
            .iter()
            .any(|r| r.contains("lock: held by bo@other-laptop")),
        "{:?}",
        plan.refusals()
    );
    rt.block_on(other.release());
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Drain, &t.to_string()))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web1", "rig-test"))
        .expect("run");
    assert_eq!(report.outcome, "done");
    assert_eq!(
        rt.block_on(workflow::lock::holder(&with_etcd, &t.to_string()))
            .expect("holder"),
        None,
        "released after the run"
    );
    run_one(&rt, &ctx, Kind::Ready, "edge/be_web/web1").expect("ready");

    // Two of three etcd members gone: no quorum, no action.
    rig(&["kill", "etcd2"]);
    rig(&["kill", "etcd3"]);
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Drain, &t.to_string()))
        .expect("plan");
    let refused = plan.refusals().join("; ");
    rig(&["restart", "etcd2"]);
    rig(&["restart", "etcd3"]);
    eprintln!("workflow rig: without etcd quorum: {refused}");
    assert!(refused.contains("quorum:"), "{refused}");
    reset(&rt);
}

/// Two consoles (two engines, two journals) confirm a drain of the same server at the
/// same moment: exactly one acts; the other is refused by the lock or by the target
/// having changed under it.
#[test]
fn two_consoles_racing_for_one_target_exactly_one_acts() {
    if !rig_has("etcd") {
        eprintln!("skipped: needs the rig's etcd too");
        return;
    }
    let Some(Scenario {
        _one,
        rt,
        _dir,
        journal,
    }) = begin()
    else {
        return;
    };
    let other_dir = tempfile::tempdir().expect("dir");
    let other_journal = Journal::open(&other_dir.path().join("journal.sqlite")).expect("journal");
    let mut with_etcd = env(false);
    with_etcd.source.push(common::rig_etcd());
    let a = common::workflow_ctx(&with_etcd, &journal);
    let b = common::workflow_ctx(&with_etcd, &other_journal);
    let target = "edge/be_web/web1";
    for round in 0..3 {
        let pa = rt
            .block_on(workflow::plan(&a, Kind::Drain, target))
            .expect("plan a");
        let pb = rt
            .block_on(workflow::plan(&b, Kind::Drain, target))
            .expect("plan b");
        assert!(
            pa.allowed() && pb.allowed(),
            "{:?} {:?}",
            pa.refusals(),
            pb.refusals()
        );
        let (ra, rb) = rt.block_on(async {
            tokio::join!(
                workflow::run(&a, &pa, "be_web/web1", "ana"),
                workflow::run(&b, &pb, "be_web/web1", "bo")
            )
        });
        let ((Ok(won), Err(lost)) | (Err(lost), Ok(won))) = (&ra, &rb) else {
            panic!("round {round}: exactly one must act: {ra:?} / {rb:?}")
        };
        assert_eq!(won.outcome, "done");
        let why = lost.to_string();
        eprintln!("workflow rig: race round {round}: the loser was told: {why}");
        assert!(
            matches!(lost, WorkflowError::Refused(_))
                && (why.contains("is locked by") || why.contains("changed since the plan")),
            "{why}"
        );
        let acted =
            journal.recent(10).expect("a").len() + other_journal.recent(10).expect("b").len();
        assert_eq!(acted, round + 1, "only the winner journaled a drain");
        // Back in rotation outside the journals (they would dampen a fourth run).
        reset(&rt);
    }
}

/// A lock outlives its lease while its run goes on (renewed), and a lock whose holder
/// went away without releasing it is freed when the lease runs out.
#[test]
fn the_lock_is_renewed_during_a_run_and_freed_when_its_holder_is_gone() {
    let Some((_one, rt, e)) = etcd_only() else {
        return;
    };
    let target = "edge/be_web/lease-test";
    let held = rt
        .block_on(workflow::lock::acquire_for(
            &e,
            target,
            "ana@laptop: long run",
            3,
        ))
        .expect("lock")
        .expect("etcd");
    std::thread::sleep(Duration::from_secs(7));
    let holder = rt
        .block_on(workflow::lock::holder(&e, target))
        .expect("holder");
    assert_eq!(
        holder.as_deref(),
        Some("ana@laptop: long run"),
        "renewed past 3 s"
    );
    assert_eq!(held.lost(), None);
    drop(held);
    let gone = std::time::Instant::now();
    let deadline = gone + Duration::from_secs(10);
    while rt
        .block_on(workflow::lock::holder(&e, target))
        .expect("holder")
        .is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "not freed 10 s after its holder left"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "workflow rig: an abandoned 3 s lock was free {} ms after its holder left",
        gone.elapsed().as_millis()
    );
}

/// `show stat` row of `server` in `be_web`: (status, user weight, total sessions).
fn server_stat(rt: &tokio::runtime::Runtime, server: &str) -> (String, u32, u64) {
    let text = rt
        .block_on(switchboard_core::sources::haproxy::runtime_command(
            "tcp://127.0.0.1:9999",
            "show stat",
            Duration::from_secs(2),
        ))
        .expect("runtime API");
    let row = switchboard_core::sources::haproxy::parse_stat_csv(&text)
        .expect("csv")
        .into_iter()
        .find(|r| r.proxy == "be_web" && r.name == server)
        .expect("server row");
    (
        row.status,
        row.user_weight.unwrap_or_default(),
        row.total_sessions,
    )
}

/// A server in maintenance comes back through the canary ramp (10 -> 50 -> 100 % of
/// weight 100) under live traffic: no request fails, it takes a growing share, and it
/// ends UP at its full weight.
#[test]
fn a_canary_ramp_reintegrates_a_server_under_traffic() {
    let Some(Scenario {
        _one,
        rt,
        _dir,
        journal,
    }) = begin()
    else {
        return;
    };
    let env = env(false);
    let ctx = common::workflow_ctx(&env, &journal);
    run_one(&rt, &ctx, Kind::Maint, "edge/be_web/web2").expect("maint web2");
    let traffic = Traffic::start();
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Reintegrate, "edge/be_web/web2"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert_eq!(plan.before, "MAINT");
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web2", "rig-test"))
        .expect("run");
    let (ok, bad) = traffic.stop();
    eprintln!(
        "workflow rig: canary ramp of web2: {} in {} ms; {ok} requests ok, {bad} failed; {:?}",
        report.outcome,
        report.effect_millis.unwrap_or(-1),
        report.lines
    );
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(bad, 0, "no request failed during the ramp");
    let (status, weight, _) = server_stat(&rt, "web2");
    assert!(
        status.starts_with("UP") && weight == 100,
        "{status} {weight}"
    );
    let steps = journal.steps(report.run).expect("steps");
    let verified: Vec<&str> = steps
        .iter()
        .filter(|s| s.phase == "verify")
        .map(|s| s.detail.as_str())
        .collect();
    assert_eq!(verified.len(), 3, "{steps:?}");
    for (v, w) in verified
        .iter()
        .zip(["weight 10", "weight 50", "weight 100"])
    {
        assert!(v.starts_with("UP, 0 error(s)") && v.ends_with(w), "{v}");
    }
    // Already in rotation: nothing to reintegrate.
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Reintegrate, "edge/be_web/web2"))
        .expect("plan");
    assert!(
        plan.refusals()
            .iter()
            .any(|r| r.starts_with("out of traffic: web2 is UP")),
        "{:?}",
        plan.refusals()
    );
}

/// A canary whose backend is dead fails its first hold (HAProxy's check marks it DOWN)
/// and goes back to maintenance at its full weight.
#[test]
fn a_canary_that_fails_its_check_is_rolled_back() {
    let Some(Scenario {
        _one,
        rt,
        _dir,
        journal,
    }) = begin()
    else {
        return;
    };
    let env = env(false);
    let ctx = common::workflow_ctx(&env, &journal);
    run_one(&rt, &ctx, Kind::Maint, "edge/be_web/web2").expect("maint web2");
    rig(&["kill", "backend2"]);
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Reintegrate, "edge/be_web/web2"))
        .expect("plan");
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web2", "rig-test"))
        .expect("run");
    eprintln!(
        "workflow rig: canary on a dead backend: {} {:?}",
        report.outcome, report.lines
    );
    assert_eq!(report.outcome, "rolled_back", "{:?}", report.lines);
    assert!(
        report
            .lines
            .iter()
            .any(|l| l.starts_with("rolled back: web2 is DOWN")),
        "{:?}",
        report.lines
    );
    let (status, weight, _) = server_stat(&rt, "web2");
    assert!(
        status.starts_with("MAINT") && weight == 100,
        "{status} {weight}"
    );
    reset(&rt);
}

/// A third backend on :9003 (HAProxy's backup `web3`) while it lives.
struct Backend3 {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Backend3 {
    fn start() -> Self {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:9003").expect("bind :9003");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).ok();
                        s.set_read_timeout(Some(Duration::from_secs(1))).ok();
                        let mut buf = [0u8; 2048];
                        let _ = s.read(&mut buf);
                        let body = "backend3\n";
                        let _ = s.write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                            .as_bytes(),
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Backend3 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The backend fails over to its backup server: refused while the backup is down;
/// with it up, every active server goes to maintenance and HAProxy serves from the
/// backup alone under live traffic; restore puts them back.
#[test]
fn a_backend_falls_back_to_its_backup_server_and_is_restored() {
    let Some(Scenario {
        _one,
        rt,
        _dir,
        journal,
    }) = begin()
    else {
        return;
    };
    let env = env(false);
    let ctx = common::workflow_ctx(&env, &journal);
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fallback, "edge/be_web"))
        .expect("plan");
    assert!(
        plan.refusals()
            .iter()
            .any(|r| r.starts_with("backup healthy: no backup server of be_web is UP (web3 DOWN")),
        "{:?}",
        plan.refusals()
    );
    let backend3 = Backend3::start();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !server_stat(&rt, "web3").0.starts_with("UP") {
        assert!(std::time::Instant::now() < deadline, "web3 never came UP");
        std::thread::sleep(Duration::from_millis(100));
    }
    let traffic = Traffic::start();
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fallback, "edge/be_web"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web", "rig-test"))
        .expect("fallback");
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    std::thread::sleep(Duration::from_millis(300));
    let served: Vec<String> = (0..10)
        .map(|_| common::curl("http://127.0.0.1:8080/").trim().to_owned())
        .collect();
    assert!(served.iter().all(|b| b == "backend3"), "{served:?}");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Restore, "edge/be_web"))
        .expect("plan");
    let back = rt
        .block_on(workflow::run(&ctx, &plan, "be_web", "rig-test"))
        .expect("restore");
    std::thread::sleep(Duration::from_millis(300));
    let (ok, bad) = traffic.stop();
    eprintln!(
        "workflow rig: backend fallback to the backup {} ms after confirmation, restore {} ms; {ok} requests ok, {bad} failed",
        report.effect_millis.unwrap_or(-1),
        back.effect_millis.unwrap_or(-1)
    );
    assert_eq!(back.outcome, "done", "{:?}", back.lines);
    assert_eq!(bad, 0, "no request failed through the fallback and back");
    drop(backend3);
    reset(&rt);
}

/// etcd member removal on the rig's real cluster: a live member is refused ("member is
/// down"), a dead one is removed and the member list shows it; the rig then adds it
/// back as a new member.
#[test]
fn a_dead_etcd_member_is_removed_and_a_live_one_is_refused() {
    let Some((_one, rt, e)) = etcd_only() else {
        return;
    };
    let (_dir, journal) = common::journal();
    let ctx = common::workflow_ctx(&e, &journal);

    let live = rt
        .block_on(workflow::plan(&ctx, Kind::EtcdRemove, "etcd/m1"))
        .expect("plan");
    assert!(
        live.refusals()
            .iter()
            .any(|r| r.starts_with("member is down: m1 answers")),
        "{:?}",
        live.refusals()
    );

    rig(&["kill", "etcd3"]);
    let plan = rt.block_on(workflow::plan(&ctx, Kind::EtcdRemove, "etcd/m3"));
    let report = match &plan {
        Ok(p) if p.allowed() => Some(rt.block_on(workflow::run(&ctx, p, "m3", "rig-test"))),
        _ => None,
    };
    // Whatever happened, the rig gets its third member back before anything is asserted.
    let back = std::panic::catch_unwind(|| rig(&["etcd-readd", "3"]));
    if back.is_err() {
        rig(&["restart", "etcd3"]);
    }
    let plan = plan.expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    assert!(
        plan.guards.iter().any(|g| g.name == "quorum after"
            && g.reason == "without m3: 2 of 2 member(s) answer, 2 needed"),
        "{:?}",
        plan.guards
    );
    let report = report.expect("ran").expect("removed");
    eprintln!(
        "workflow rig: dead etcd member removed {} ms after confirmation: {:?}",
        report.effect_millis.unwrap_or(-1),
        report.lines
    );
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert!(back.is_ok(), "the rig re-added m3");
}
