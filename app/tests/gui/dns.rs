//! The DNS panel on the rig's real BIND9 (a primary and a secondary of
//! `switchboard.test`) plus one server that does not answer: the public name, where it
//! points (its primary), its TTL, the topology service its target is, every server with
//! its answer and SOA serial, and the dead server said in words. Runs when
//! `SWITCHBOARD_RIG` names `bind9`.

use std::time::Duration;

use egui_kittest::kittest::{NodeT as _, Queryable as _};
use switchboard::{Console, ConsoleOptions};
use switchboard_core::sources::dns::{DnsConfig, DnsRecord};
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig};

use crate::helpers::{harness, has, wait_for};

fn rig_has(component: &str) -> bool {
    std::env::var("SWITCHBOARD_RIG").is_ok_and(|v| v.split([' ', ',']).any(|c| c == component))
}

#[test]
fn a_public_name_with_every_server_its_serial_and_a_dead_one() {
    if !rig_has("bind9") {
        eprintln!("skipped: the rig's BIND9 is not running (tests/check.sh starts it)");
        return;
    }
    // A port nothing listens on: the third "server" refuses every question.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    let cfg = Config {
        environment: vec![Environment::new(
            "rig",
            vec![SourceConfig::Dns(DnsConfig {
                name: "public".into(),
                zone: "switchboard.test".into(),
                servers: vec![
                    "127.0.0.1:5301".into(),
                    "127.0.0.1:5302".into(),
                    dead.clone(),
                ],
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
                tsig: None,
                interval_millis: 300,
                timeout_millis: 500,
            })],
        )],
    };
    let engine = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine starts");
    engine.wait_for(Duration::from_secs(10), |s| !s.dns.is_empty());
    let mut h = harness(Console::new(engine, ConsoleOptions::default()));
    h.get_by_label("DNS").click();
    h.run_steps(2);
    wait_for(&mut h, "Public names", Duration::from_secs(10));
    for text in [
        "PRIMARY",
        "-> CNAME primary-region.switchboard.test",
        "TTL 15 s",
        "edge-primary",
        "(not in the topology)",
        "standby: standby-region.switchboard.test",
        "127.0.0.1:5301",
        "127.0.0.1:5302",
        "SOA serial",
    ] {
        assert!(
            has(&h, text),
            "{text:?} is not shown: {:?}",
            h.query_all_by_label_contains("")
                .filter_map(|n| n.value().or_else(|| n.accesskit_node().label()))
                .collect::<Vec<_>>()
        );
    }
    assert!(
        has(&h, &format!("{dead}: Connection refused")),
        "the dead server's concern is said in words, its address once"
    );
}
