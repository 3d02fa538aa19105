//! The window under network faults on the rig's real etcd (nftables rules from
//! `tests/faults/fault.sh`): one member partitioned from the console, then the whole
//! cluster blackholed. Frames keep flowing (the UI thread never waits on the network),
//! the quorum card says AT RISK and then LOST with the source down, and once the fault
//! is lifted the window is healthy again by itself.
//!
//! Runs when `SWITCHBOARD_RIG` names `etcd` and `nft` is there (root).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use switchboard::{Console, ConsoleOptions};
use switchboard_core::sources::etcd::EtcdConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig};

use crate::helpers::{harness, has, wait_for};

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

/// Clears every fault when dropped.
struct Lifted;

impl Drop for Lifted {
    fn drop(&mut self) {
        fault(&["clear"]);
    }
}

#[test]
fn frames_keep_flowing_through_a_partition_and_a_blackhole_of_etcd() {
    if !std::env::var("SWITCHBOARD_RIG").is_ok_and(|v| v.split([' ', ',']).any(|c| c == "etcd"))
        || Command::new("nft").arg("--version").output().is_err()
    {
        eprintln!("skipped: needs the rig's etcd and nft (tests/check.sh has both)");
        return;
    }
    let _lifted = Lifted;
    fault(&["clear"]);
    let etcd = EtcdConfig::new(
        "lab-etcd",
        ["127.0.0.1:12379", "127.0.0.1:22379", "127.0.0.1:32379"]
            .map(String::from)
            .to_vec(),
    );
    let cfg = Config {
        environment: vec![Environment::new("lab", vec![SourceConfig::Etcd(etcd)])],
    };
    let engine = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine starts");
    let mut h = harness(Console::new(engine, ConsoleOptions::default()));
    let mut longest = wait_for(&mut h, "HEALTHY", Duration::from_secs(15));

    fault(&["drop", "32379"]);
    longest = longest.max(wait_for(&mut h, "AT RISK", Duration::from_secs(10)));
    fault(&["drop", "12379", "22379"]);
    longest = longest.max(wait_for(
        &mut h,
        "lab-etcd (etcd) down",
        Duration::from_secs(10),
    ));
    longest = longest.max(wait_for(&mut h, "LOST", Duration::from_secs(5)));
    fault(&["clear"]);
    longest = longest.max(wait_for(
        &mut h,
        "lab-etcd (etcd) up",
        Duration::from_secs(15),
    ));
    longest = longest.max(wait_for(&mut h, "HEALTHY", Duration::from_secs(15)));
    assert!(!has(&h, "AT RISK"), "whole again");
    eprintln!(
        "faults, window: longest frame {longest:?} through a partition, a blackhole and the recovery"
    );
    assert!(
        longest < Duration::from_millis(500),
        "a frame took {longest:?} while etcd was cut off"
    );
}
