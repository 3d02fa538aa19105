//! Workflows on the rig's etcd: the lock and the quorum guard, two consoles racing for
//! one target, the lock's lease renewed and freed, and etcd member removal.

use std::time::Duration;

use switchboard_core::workflow::server::Target;
use switchboard_core::workflow::{self, Journal, Kind, WorkflowError};

use crate::common::{self, rig, rig_has};
use crate::helpers::{Scenario, begin, env, etcd_only, reset, run_one};

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

/// A lease renewed less often than etcd lets a connection be pinged (every 5 s) still
/// holds: the keep-alive stream is not closed under it by "too many pings".
#[test]
fn a_lock_renewed_every_five_seconds_holds_past_its_first_renewal() {
    let Some((_one, rt, e)) = etcd_only() else {
        return;
    };
    let held = rt
        .block_on(workflow::lock::acquire_for(
            &e,
            "edge/be_web/slow-renewal",
            "ana@laptop: long run",
            15,
        ))
        .expect("lock")
        .expect("etcd");
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(held.lost(), None, "renewed at 5 s");
    rt.block_on(held.release());
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
