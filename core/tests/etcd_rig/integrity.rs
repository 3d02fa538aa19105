//! Members that answer but hold different data, on real servers: a throwaway 3-member
//! etcd (`rig.sh etcd-scratch`, so the shared cluster keeps its data) has one member's
//! data directory restored from a snapshot 50 writes old; it re-applies those writes on
//! top and its key space no longer matches. The console's hash comparison must name it
//! as a Sev-1 and say the revisions apart.

use std::time::{Duration, Instant};

use switchboard_core::sources::etcd::EtcdConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig};

use crate::common::{rig, rig_has};

/// Stops the scratch cluster however the test ends.
struct Scratch;

impl Drop for Scratch {
    fn drop(&mut self) {
        rig(&["etcd-scratch", "stop"]);
    }
}

#[test]
fn a_member_restored_from_an_older_snapshot_is_raised_by_its_hash() {
    if !rig_has("etcd") {
        eprintln!("skipped: the real etcd rig is not running (SWITCHBOARD_RIG names no etcd)");
        return;
    }
    rig(&["etcd-scratch", "start"]);
    let _stop = Scratch;
    let mut etcd = EtcdConfig::new(
        "scratch",
        ["127.0.0.1:12479", "127.0.0.1:22479", "127.0.0.1:32479"]
            .map(String::from)
            .to_vec(),
    );
    etcd.hashkv_interval_millis = 1000;
    let cfg = Config {
        environment: vec![Environment::new("rig", vec![SourceConfig::Etcd(etcd)])],
    };
    let engine = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine");
    let key = "etcd hashkv: scratch";
    let s = engine.wait_for(Duration::from_secs(20), |s| {
        s.integrity
            .get(key)
            .is_some_and(|e| e.finding.detail.starts_with("3 members agree"))
    });
    let first = &s.integrity.get(key).expect("a first comparison").finding;
    assert!(first.ok, "{first:?}");
    assert!(s.open_incident().is_none());

    rig(&["etcd-scratch", "diverge", "3"]);
    let diverged = Instant::now();
    let s = engine.wait_for(Duration::from_secs(20), |s| {
        s.integrity.get(key).is_some_and(|e| !e.finding.ok)
    });
    let took = diverged.elapsed();
    let found = &s.integrity.get(key).expect("a finding").finding;
    assert!(!found.ok, "the divergence was not raised: {found:?}");
    assert!(
        found
            .detail
            .starts_with("x3 differs from x1, x2 at revision"),
        "{}",
        found.detail
    );
    assert!(found.detail.contains("; revisions x1 "), "{}", found.detail);
    let incident = s.open_incident().expect("an incident");
    assert_eq!(incident.severity(), 1);
    assert!(incident.title.contains(key), "{}", incident.title);
    eprintln!(
        "figure: etcd member restored from an older snapshot raised {} ms after the cluster was back ({})",
        took.as_millis(),
        found.detail
    );
}
