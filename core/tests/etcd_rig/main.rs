//! Against a real 3-member etcd started by `tests/rig/rig.sh`: kill one member (at
//! risk), kill a second (lost), restart both (healthy), and measure how long the
//! console takes to see each change. The run is recorded; its replay must match every
//! keyframe and show healthy, at risk and healthy again at those moments.
//!
//! Runs when `SWITCHBOARD_RIG` names `etcd` (as `tests/check.sh` sets after starting the
//! rig); otherwise it says it was skipped. Named, a missing server is a failure.

#[path = "../common/mod.rs"]
mod common;
mod integrity;
mod tls;

use common::{rig, rig_has};

use std::path::PathBuf;
use std::time::{Duration, Instant};

use switchboard_core::model::QuorumState;
use switchboard_core::sources::etcd::EtcdConfig;
use switchboard_core::{
    Clock as _, Config, EngineHandle, EngineOptions, Environment, SourceConfig, State, SystemClock,
    Timestamp,
};

const ENDPOINTS: [&str; 3] = [
    "http://127.0.0.1:12379",
    "http://127.0.0.1:22379",
    "http://127.0.0.1:32379",
];

fn state_of(s: &State) -> Option<QuorumState> {
    s.clusters
        .get("rig-etcd")
        .filter(|c| c.membership_known && c.members.values().all(|m| m.polled))
        .map(|c| c.quorum.state)
}

/// Milliseconds from `since` to the first log entry of the cluster containing `what`.
fn logged_after(s: &State, what: &str, since: Timestamp) -> i64 {
    s.log
        .iter()
        .find(|e| e.subject == "rig-etcd" && e.message.contains(what) && e.at >= since)
        .map_or_else(
            || panic!("no {what:?} logged after {since}"),
            |e| e.at.millis_since(since),
        )
}

/// Waits for the cluster to reach `want`; returns how long it took.
fn wait_state(engine: &EngineHandle, want: QuorumState, timeout: Duration) -> Duration {
    let start = Instant::now();
    let s = engine.wait_for(timeout, |s| state_of(s) == Some(want));
    let took = start.elapsed();
    let c = s.clusters.get("rig-etcd");
    assert_eq!(
        state_of(&s),
        Some(want),
        "after {took:?}: {:?}",
        c.map(|c| (
            &c.quorum.reason,
            c.members
                .values()
                .map(|m| (&m.status.member, m.status.reachable))
                .collect::<Vec<_>>()
        ))
    );
    took
}

#[test]
fn member_loss_quorum_loss_and_recovery_on_a_real_etcd() {
    if !rig_has("etcd") {
        eprintln!(
            "skipped: the real etcd rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG to the components that are up)"
        );
        return;
    }
    let mut etcd = EtcdConfig::new(
        "rig-etcd",
        ENDPOINTS.iter().map(ToString::to_string).collect(),
    );
    etcd.poll_interval_millis = 250;
    etcd.timeout_millis = 1000;
    let cfg = Config {
        environment: vec![Environment::new("rig", vec![SourceConfig::Etcd(etcd)])],
    };
    let dir = tempfile::tempdir().expect("dir");
    let session = dir.path().join("rig.session");
    let mut opts = EngineOptions::new(cfg);
    opts.record_to = Some(session.clone());
    let engine = switchboard_core::start(&opts).expect("engine");
    wait_state(&engine, QuorumState::Healthy, Duration::from_secs(20));
    let s = engine.snapshot();
    let c = &s.clusters["rig-etcd"];
    assert_eq!(
        (c.quorum.voters, c.quorum.reachable, c.quorum.tolerance),
        (3, 3, 1)
    );
    let names: Vec<&str> = c
        .members
        .keys()
        .map(switchboard_core::model::MemberId::as_str)
        .collect();
    assert_eq!(
        names,
        ["m1", "m2", "m3"],
        "members are named as etcd names them"
    );
    assert!(c.quorum.leader.is_some());

    // One member dies: at risk. Detection = the logged change's timestamp minus the
    // time just before the kill was sent (rig.sh then waits for the process to be gone).
    let killed_at = SystemClock.now();
    rig(&["kill", "etcd3"]);
    wait_state(&engine, QuorumState::AtRisk, Duration::from_secs(10));
    let detect_one = logged_after(&engine.snapshot(), "quorum at_risk", killed_at);
    let before_fault = killed_at;
    let at_risk_at = Timestamp(killed_at.0 + detect_one);

    // A second dies: quorum lost.
    let killed_at = SystemClock.now();
    rig(&["kill", "etcd2"]);
    wait_state(&engine, QuorumState::Lost, Duration::from_secs(10));
    let detect_two = logged_after(&engine.snapshot(), "quorum lost", killed_at);
    let s = engine.snapshot();
    let incident = s.open_incident().expect("an incident is open");
    assert!(incident.title.contains("rig-etcd"), "{}", incident.title);

    // Both come back: healthy, and the incident recovers with MTTR.
    let restarted_at = SystemClock.now();
    rig(&["restart", "etcd2"]);
    rig(&["restart", "etcd3"]);
    wait_state(&engine, QuorumState::Healthy, Duration::from_secs(30));
    let recover = logged_after(&engine.snapshot(), "quorum healthy", restarted_at);
    let s = engine.snapshot();
    assert!(s.open_incident().is_none(), "the incident recovered");
    let i = s.incidents.incidents.last().expect("incident");
    assert!(i.mttr_millis().is_some());

    let end = engine.snapshot();
    assert!(engine.shutdown().is_none(), "the recording ran to the end");
    replay_matches(&session, &end, before_fault, at_risk_at);

    let line = format!(
        "etcd rig: member death -> at_risk {detect_one} ms; second death -> lost {detect_two} ms; restart -> healthy {recover} ms (includes the restart itself)"
    );
    eprintln!("{line}");
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        std::fs::write(
            PathBuf::from(dir).join("etcd-detection.txt"),
            format!("{line}\n"),
        )
        .ok();
    }
    assert!(detect_one < 5_000 && detect_two < 5_000, "{line}");
}

/// The recorded run replays to the same final state, every keyframe matches, and the
/// quorum was healthy just before the kill, at risk when the console saw it, and
/// healthy at the end.
fn replay_matches(session: &std::path::Path, end: &State, before: Timestamp, at_risk: Timestamp) {
    use switchboard_core::session::replay::Replay;
    let mut r = Replay::open(session).expect("open the session");
    r.index(&mut |_, _| {});
    let v = r.verification();
    assert!(v.ok() && v.checked >= 2, "{v:?} {:?}", r.warnings());
    assert_eq!(v.checked, r.keyframes().len(), "every keyframe was reached");
    // The console's state after its n-th event is the replay's after event n.
    let seq = i64::try_from(end.events_applied).expect("count");
    let at_end = r.state_at_seq(seq).expect("end");
    assert_eq!(
        at_end.digest(),
        end.digest(),
        "the replay is where the console was"
    );
    let quorum = |t: Timestamp| {
        r.state_at(t).expect("state").clusters["rig-etcd"]
            .quorum
            .state
    };
    assert_eq!(quorum(before), QuorumState::Healthy);
    assert_eq!(quorum(at_risk), QuorumState::AtRisk);
    // The end by sequence: a poll observed before the last event's time but applied
    // after the console's snapshot would make "the state at end.now" a moment earlier.
    assert_eq!(
        at_end.clusters["rig-etcd"].quorum.state,
        QuorumState::Healthy
    );
    eprintln!(
        "etcd rig: replay of {} events matched {} of {} keyframes",
        r.last_seq(),
        v.matched,
        v.checked
    );
}
