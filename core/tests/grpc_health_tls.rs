//! gRPC health over mutual TLS, on the rig's `grpctls`: grpcio's reference health
//! server (Python) requiring a client certificate from the rig's CA, and a second one
//! presenting a certificate that expired yesterday. The right settings are healthy and
//! verified; a wrong CA, a missing client certificate, a wrong server name and the
//! expired certificate each say so in their own words; the expired one's date shows as
//! an error on the source, which, failing, keeps reporting and never turns stale.
//!
//! Runs when `SWITCHBOARD_RIG` names `grpctls`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::rig_has;
use switchboard_core::model::{Health, SourceStatus, TlsMode};
use switchboard_core::sources::TlsSettings;
use switchboard_core::sources::grpc_health::GrpcHealthConfig;
use switchboard_core::{EngineHandle, SourceConfig, State};

const TLS: &str = "https://127.0.0.1:44801";
const EXPIRED: &str = "https://127.0.0.1:44802";

fn file(name: &str) -> String {
    let dir = PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
        .join("tls");
    dir.join(name).display().to_string()
}

fn right() -> TlsSettings {
    TlsSettings {
        ca_file: Some(file("ca.pem")),
        cert_file: Some(file("client.pem")),
        key_file: Some(file("client-key.pem")),
        ..TlsSettings::default()
    }
}

fn engine(name: &str, endpoint: &str, tls: TlsSettings) -> EngineHandle {
    common::engine_with(SourceConfig::GrpcHealth(GrpcHealthConfig {
        name: name.into(),
        endpoint: endpoint.into(),
        service: "switchboard.Test".into(),
        timeout_millis: 1000,
        interval_millis: 1000,
        topology_service: None,
        instance: Some(name.into()),
        tls: Some(tls),
    }))
}

fn health(s: &State, instance: &str) -> Option<(Health, String)> {
    s.instances
        .get(instance)
        .map(|i| (i.health, i.detail.as_deref().unwrap_or_default().to_owned()))
}

/// The instance's words once it is `want`, within 10 s.
fn settled(e: &EngineHandle, instance: &str, want: Health) -> String {
    let s = e.wait_for(Duration::from_secs(10), |s| {
        health(s, instance).is_some_and(|(h, _)| h == want)
    });
    let got = health(&s, instance);
    assert_eq!(got.as_ref().map(|g| g.0), Some(want), "{instance}: {got:?}");
    got.map(|g| g.1).unwrap_or_default()
}

#[test]
fn mutual_tls_is_verified_and_each_wrong_setting_says_why() {
    if !rig_has("grpctls") {
        eprintln!(
            "skipped: the rig's TLS gRPC health servers are not running (tests/check.sh starts them)"
        );
        return;
    }
    let ok = engine("grpc-tls", TLS, right());
    let words = settled(&ok, "grpc-tls", Health::Healthy);
    assert!(words.contains("SERVING"), "{words}");
    let s = ok.wait_for(Duration::from_secs(10), |s| {
        s.transport("grpc-tls")
            .is_some_and(|t| t.server_cert_not_after.is_some())
    });
    let t = s.transport("grpc-tls").expect("transport");
    assert_eq!(t.tls, TlsMode::Verified);
    assert!(t.server_cert_days(s.now).unwrap_or(0) > 800, "{t:?}");
    assert!(t.concerns(s.now).is_empty(), "{:?}", t.concerns(s.now));

    let mut said = Vec::new();
    for (case, tls, needle) in [
        (
            "wrong CA",
            TlsSettings {
                ca_file: Some(file("other-ca.pem")),
                ..right()
            },
            "certificate not trusted",
        ),
        (
            "no client certificate",
            TlsSettings {
                cert_file: None,
                key_file: None,
                ..right()
            },
            "client certificate",
        ),
        (
            "wrong server name",
            TlsSettings {
                server_name: Some("db1.internal".into()),
                ..right()
            },
            "is for 127.0.0.1, localhost, etcd.rig.test, not db1.internal",
        ),
    ] {
        let name = format!("grpc-{}", case.replace(' ', "-"));
        let e = engine(&name, TLS, tls);
        let words = settled(&e, &name, Health::Unhealthy);
        assert!(words.contains(needle), "{case}: {words}");
        said.push(format!(
            "{case}: {}",
            words.split(" (").next().unwrap_or(&words)
        ));
    }

    let expired = engine("grpc-expired", EXPIRED, right());
    let words = settled(&expired, "grpc-expired", Health::Unhealthy);
    // tonic's verifier says only "Expired"; the date is the transport's (below).
    assert!(words.contains("the server's certificate"), "{words}");
    assert!(words.contains("expired"), "{words}");
    said.push(format!(
        "expired: {}",
        words.split(" (").next().unwrap_or(&words)
    ));
    let s = expired.wait_for(Duration::from_secs(10), |s| {
        s.transport("grpc-expired")
            .is_some_and(|t| t.server_cert_not_after.is_some())
    });
    let t = s.transport("grpc-expired").expect("transport");
    // notAfter was a day before the rig made it: whole days rounded down, so -2.
    assert!(t.server_cert_days(s.now).is_some_and(|d| d <= -1), "{t:?}");
    let concerns = t.concerns(s.now);
    assert!(
        concerns
            .iter()
            .any(|c| c.error && c.words.contains("server certificate expired on")),
        "{concerns:?}"
    );
    // Failing and backing off, the source still reports: it never turns stale.
    std::thread::sleep(Duration::from_secs(7));
    let s = expired.snapshot();
    let status = s.sources.get("grpc-expired").map(|src| src.status);
    assert_eq!(status, Some(SourceStatus::Up), "{:?}", s.sources);
    for line in said {
        eprintln!("gRPC health over TLS, {line}");
    }
}
