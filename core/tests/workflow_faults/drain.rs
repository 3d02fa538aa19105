//! An HAProxy drain whose runtime API goes silent once HAProxy answered the change.

use std::time::{Duration, Instant};

use switchboard_core::sources::haproxy::{HaproxyConfig, parse_stat_csv, runtime_command};
use switchboard_core::workflow::server::Target;
use switchboard_core::workflow::{self, Kind};
use switchboard_core::{Environment, SourceConfig};
use switchboard_faultproxy::{Fault, FaultProxy};

use crate::common::{self, rig_has};
use crate::{on_row, phases};

/// The rig's runtime API, asked directly (never through the proxy).
const RUNTIME: &str = "tcp://127.0.0.1:9999";
/// The workflow's bound on each call (`common::workflow_ctx`).
const CALL: Duration = Duration::from_secs(2);
/// How long verification waits for the effect (`workflow::server`).
const VERIFY: Duration = Duration::from_secs(10);

fn env(socket: String) -> Environment {
    Environment::new(
        "faults",
        vec![SourceConfig::Haproxy(HaproxyConfig {
            name: "edge".into(),
            socket: Some(socket),
            stats_url: None,
            interval_millis: 100,
            timeout_millis: 1000,
            tls: None,
            auth: None,
            proxy: switchboard_core::sources::ProxySetting::default(),
            max_answer_bytes: None,
        })],
    )
}

/// web1's status as HAProxy itself says it.
fn web1(rt: &tokio::runtime::Runtime) -> String {
    let text = rt
        .block_on(runtime_command(RUNTIME, "show stat", CALL))
        .expect("runtime API");
    parse_stat_csv(&text)
        .expect("csv")
        .into_iter()
        .find(|r| r.proxy == "be_web" && r.name == "web1")
        .map(|r| r.status)
        .unwrap_or_default()
}

/// web1 back in rotation and UP.
fn ready(rt: &tokio::runtime::Runtime) {
    rt.block_on(runtime_command(
        RUNTIME,
        "set server be_web/web1 state ready",
        CALL,
    ))
    .expect("runtime API");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !web1(rt).starts_with("UP") {
        assert!(Instant::now() < deadline, "web1 never came back UP");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn drain(
    rt: &tokio::runtime::Runtime,
    ctx: &workflow::Context<'_>,
) -> (workflow::Report, Duration) {
    let t = Target::parse("edge/be_web/web1").expect("target");
    let plan = rt
        .block_on(workflow::plan(ctx, Kind::Drain, &t.to_string()))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    let t0 = Instant::now();
    let report = rt
        .block_on(workflow::run(ctx, &plan, &t.confirm_name(), "faults-test"))
        .expect("run");
    (report, t0.elapsed())
}

#[test]
fn a_drain_whose_socket_goes_silent_is_handed_to_a_human_or_rolled_back() {
    if !rig_has("haproxy") {
        eprintln!("skipped: needs the rig's haproxy");
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    ready(&rt);
    let proxy = FaultProxy::start("127.0.0.1:9999").expect("proxy");
    let env = env(format!("tcp://{}", proxy.addr()));
    let (_dir, journal) = common::journal();

    // Silent from the change on: verification and the rollback both meet silence.
    let ctx = common::workflow_ctx(&env, &journal);
    proxy.arm(b"state drain", Fault::Silence);
    let (report, took) = drain(&rt, &ctx);
    let said = report.lines.join(" | ");
    assert_eq!(proxy.stats().triggered, 1, "the fault followed the change");
    assert_eq!(report.outcome, "needs_human", "{said}");
    assert!(said.contains("ROLLBACK FAILED"), "{said}");
    let rows = journal.steps(report.run).expect("steps");
    assert_eq!(
        phases(&rows),
        [
            "guards:passed",
            "before:pending",
            "after:ok",
            "verify:failed",
            "rollback:failed"
        ]
    );
    assert!(
        rows[3].detail.starts_with("HAProxy does not answer (")
            && rows[3].detail.contains("no answer within 2000 ms"),
        "{}",
        rows[3].detail
    );
    assert!(
        rows[4].detail.contains("no answer within 2000 ms"),
        "the rollback's failure is journaled: {:?}",
        rows[4].detail
    );
    // Verification (10 s, its last read a call's bound late) and one rollback call.
    let bound = VERIFY + CALL * 2 + Duration::from_secs(2);
    assert!(took < bound, "the run took {took:?} (bound {bound:?})");
    // Read on HAProxy's own socket while the proxy still holds the rollback: lifting
    // the fault delivers it, and it may land before a read after.
    assert!(
        web1(&rt).starts_with("DRAIN"),
        "the change itself went through"
    );
    proxy.set(Fault::Pass);
    ready(&rt);
    let first = (took, said);

    // Silent through verification only: the rollback, held, goes through once the
    // socket answers again.
    let ctx = common::workflow_ctx(&env, &journal);
    proxy.arm(b"state drain", Fault::Silence);
    let (heal, healed) = {
        let p = std::sync::Arc::new(proxy);
        let q = std::sync::Arc::clone(&p);
        let watch = on_row(
            ctx.control.clone(),
            "verify",
            Duration::from_secs(30),
            move || q.set(Fault::Pass),
        );
        let out = drain(&rt, &ctx);
        watch.0.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(watch.1.join().expect("watcher"), "the verify row was seen");
        (out, p)
    };
    let (report, took) = heal;
    let said = report.lines.join(" | ");
    assert_eq!(healed.stats().triggered, 2);
    assert_eq!(report.outcome, "rolled_back", "{said}");
    let rows = journal.steps(report.run).expect("steps");
    assert_eq!(
        phases(&rows),
        [
            "guards:passed",
            "before:pending",
            "after:ok",
            "verify:failed",
            "rollback:ok"
        ]
    );
    assert!(
        web1(&rt).starts_with("UP"),
        "rolled back: web1 is {}",
        web1(&rt)
    );
    eprintln!(
        "workflow faults: HAProxy drain, runtime API silent after the change: needs_human in {} ms ({}); silent through verification only: {} in {} ms",
        first.0.as_millis(),
        first.1,
        report.outcome,
        took.as_millis()
    );
}
