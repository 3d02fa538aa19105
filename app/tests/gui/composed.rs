//! A route to a composed Traefik service, as the window shows it: the Backends panel
//! lists the servers of every load balancer behind the failover, says through which
//! composed service, and says first that the failover sends to its fallback. The
//! Traefik source reads answers recorded from the rig's real Traefik (both apps dead),
//! served by a small HTTP server of the test's own on a free port.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::time::Duration;

use egui_kittest::kittest::Queryable as _;
use switchboard::{Console, ConsoleOptions};
use switchboard_core::sources::traefik::TraefikConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig};

use crate::helpers::{harness, has, wait_for};

const RAWDATA: &str =
    include_str!("../../../core/tests/fixtures/traefik/rawdata-composed-fallback.json");
const METRICS: &str = include_str!("../../../core/tests/fixtures/traefik/metrics-composed.txt");

/// Serves `/api/rawdata` and `/metrics` from the recordings; its address.
fn recorded_traefik() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            let mut reader = BufReader::new(&stream);
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // The rest of the head, up to the blank line.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let body = if line.contains("/api/rawdata") {
                RAWDATA
            } else if line.contains("/metrics") {
                METRICS
            } else {
                "404 page not found\n"
            };
            let mut s = &stream;
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .ok();
        }
    });
    format!("http://{addr}")
}

#[test]
fn backends_of_a_composed_route_and_its_failover_choice() {
    let cfg = Config {
        environment: vec![Environment::new(
            "lab",
            vec![SourceConfig::Traefik(TraefikConfig {
                name: "traefik".into(),
                api: recorded_traefik(),
                interval_millis: 200,
                timeout_millis: 1000,
                metrics: None,
                dynamic_file: None,
                routes: Vec::new(),
                tls: None,
                auth: None,
                proxy: switchboard_core::sources::ProxySetting::Env(false),
                max_answer_bytes: None,
            })],
        )],
    };
    let engine = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine starts");
    let mut h = harness(Console::new(engine, ConsoleOptions::default()));
    h.get_by_label("Backends").click();
    h.run_steps(2);
    wait_for(
        &mut h,
        "appa@file · via traefik · in composedsvc@file",
        Duration::from_secs(10),
    );
    assert!(
        has(&h, "sparesvc@file · via traefik · in composedsvc@file"),
        "the fallback's servers are the route's backends too"
    );
    assert!(has(&h, "127.0.0.1:9004"), "appa's server is listed");
    assert!(
        has(
            &h,
            "traefik/composed@file: composedsvc@file sends to sparesvc@file · not its first choice"
        ),
        "the failover's choice is said on the route"
    );
    assert!(
        has(&h, "its main splitsvc@file has no server up"),
        "and why"
    );
}
