//! The Quorum panel on a real etcd whose members stop agreeing: a throwaway cluster
//! (`rig.sh etcd-scratch`) compared every second says so in weak words, then one member
//! restored from an older snapshot is named in red on its cluster's card. Runs when
//! `SWITCHBOARD_RIG` names `etcd`.

use std::time::Duration;

use switchboard::{Console, ConsoleOptions};
use switchboard_core::sources::etcd::EtcdConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig};

use crate::common::{rig, rig_has};
use crate::helpers::{harness, wait_for};

/// Stops the scratch cluster however the test ends.
struct Scratch;

impl Drop for Scratch {
    fn drop(&mut self) {
        rig(&["etcd-scratch", "stop"]);
    }
}

#[test]
fn members_that_hold_different_data_are_named_on_the_quorum_card() {
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
    let mut h = harness(Console::new(engine, ConsoleOptions::default()));
    wait_for(
        &mut h,
        "data compared: 3 members agree at revision",
        Duration::from_secs(20),
    );
    rig(&["etcd-scratch", "diverge", "3"]);
    wait_for(
        &mut h,
        "INTEGRITY etcd hashkv: x3 differs from x1, x2 at revision",
        Duration::from_secs(20),
    );
}
