//! gRPC health against real servers: tonic-health's reference server on loopback, whose
//! status this test flips and then kills (a dropped stream), and, with the rig, etcd's
//! own `grpc.health.v1` service.

mod common;

use common::rig_has;

use std::sync::mpsc;
use std::time::Duration;

use switchboard_core::model::Health;
use switchboard_core::sources::grpc_health::GrpcHealthConfig;
use switchboard_core::{
    Clock as _, Config, EngineHandle, EngineOptions, Environment, SourceConfig, State, SystemClock,
    Timestamp,
};
use tonic_health::ServingStatus;

const SERVICE: &str = "switchboard.Test";

enum Cmd {
    Set(ServingStatus),
    Stop,
}

/// Runs a health server on its own thread and runtime; returns its address and controls.
fn server() -> (String, mpsc::Sender<Cmd>) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (cmd_tx, cmd_rx) = mpsc::channel::<Cmd>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let (reporter, service) = tonic_health::server::health_reporter();
            reporter
                .set_service_status(SERVICE, ServingStatus::Serving)
                .await;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr").to_string())
                .expect("send");
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let serving = tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(service)
                    .serve_with_incoming_shutdown(
                        tonic::transport::server::TcpIncoming::from(listener),
                        async {
                            stop_rx.await.ok();
                        },
                    ),
            );
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            std::thread::spawn(move || {
                while let Ok(c) = cmd_rx.recv() {
                    if tx.send(c).is_err() {
                        break;
                    }
                }
            });
            while let Some(cmd) = rx.recv().await {
                match cmd {
                    Cmd::Set(s) => reporter.set_service_status(SERVICE, s).await,
                    Cmd::Stop => {
                        stop_tx.send(()).ok();
                        serving.abort();
                        break;
                    }
                }
            }
        });
    });
    (addr_rx.recv().expect("server address"), cmd_tx)
}

fn engine(name: &str, endpoint: &str, service: &str) -> EngineHandle {
    engine_on(grpc_config(name, endpoint, service))
}

fn grpc_config(name: &str, endpoint: &str, service: &str) -> GrpcHealthConfig {
    GrpcHealthConfig {
        name: name.into(),
        endpoint: endpoint.into(),
        service: service.into(),
        timeout_millis: 1000,
        interval_millis: 1000,
        topology_service: None,
        instance: Some(name.into()),
        tls: None,
    }
}

fn engine_on(source: GrpcHealthConfig) -> EngineHandle {
    let cfg = Config {
        environment: vec![Environment {
            relay: None,
            relay_tls: None,
            relay_auth: None,
            fallback_direct: false,
            serve: None,
            second_approver: false,
            experiment: Vec::new(),
            objectives: switchboard_core::store::Objectives::default(),
            look: switchboard_core::Look::default(),
            runbook: Vec::new(),
            fence: Vec::new(),
            name: "t".into(),
            read_only: false,
            stale_after_millis: 5000,
            source: vec![SourceConfig::GrpcHealth(source)],
        }],
    };
    switchboard_core::start(&EngineOptions::new(cfg)).expect("engine")
}

fn health(s: &State, instance: &str) -> Option<(Health, String, Timestamp)> {
    s.instances.get(instance).map(|i| {
        (
            i.health,
            i.detail.as_deref().unwrap_or_default().to_owned(),
            i.since,
        )
    })
}

/// Waits for `want` with `needle`; returns the time the console saw it.
fn wait(e: &EngineHandle, instance: &str, want: Health, needle: &str) -> Timestamp {
    let ok =
        |s: &State| health(s, instance).is_some_and(|(h, d, _)| h == want && d.contains(needle));
    let s = e.wait_for(Duration::from_secs(10), ok);
    assert!(
        ok(&s),
        "{instance}: wanted {want:?} {needle:?}, got {:?}",
        health(&s, instance)
    );
    health(&s, instance)
        .map(|(_, _, at)| at)
        .unwrap_or_default()
}

#[test]
fn watch_sees_each_change_and_a_dropped_stream_at_once() {
    let (addr, control) = server();
    let e = engine("grpc", &addr, SERVICE);
    wait(&e, "grpc", Health::Healthy, "SERVING (Watch)");

    let set_at = SystemClock.now();
    control
        .send(Cmd::Set(ServingStatus::NotServing))
        .expect("send");
    let seen = wait(&e, "grpc", Health::Unhealthy, "NOT_SERVING");
    let to_not_serving = seen.millis_since(set_at);

    let set_at = SystemClock.now();
    control
        .send(Cmd::Set(ServingStatus::Serving))
        .expect("send");
    let to_serving = wait(&e, "grpc", Health::Healthy, "SERVING").millis_since(set_at);

    let stop_at = SystemClock.now();
    control.send(Cmd::Stop).expect("send");
    let dropped = wait(&e, "grpc", Health::Unhealthy, "").millis_since(stop_at);
    let s = e.snapshot();
    let detail = health(&s, "grpc").map(|(_, d, _)| d).unwrap_or_default();
    assert!(
        detail.contains("stream") || detail.contains("connect"),
        "says why: {detail}"
    );

    eprintln!(
        "grpc health: NOT_SERVING seen after {to_not_serving} ms, SERVING after {to_serving} ms, dropped stream after {dropped} ms"
    );
    assert!(
        to_not_serving <= 100 && to_serving <= 100,
        "Watch within 100 ms: {to_not_serving} / {to_serving}"
    );
    assert!(
        dropped <= 1000,
        "a dropped stream is seen at once: {dropped} ms"
    );
}

#[test]
fn an_unknown_service_and_a_dead_endpoint_are_unhealthy_with_the_reason() {
    let (addr, _control) = server();
    let e = engine("grpc-unknown", &addr, "no.such.Service");
    wait(&e, "grpc-unknown", Health::Unhealthy, "SERVICE_UNKNOWN");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let dead = engine("grpc-dead", &format!("127.0.0.1:{port}"), "");
    wait(&dead, "grpc-dead", Health::Unhealthy, "cannot connect");
}

#[test]
fn etcd_serves_grpc_health() {
    if !rig_has("etcd") {
        eprintln!(
            "skipped: the real etcd rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG to the components that are up)"
        );
        return;
    }
    let e = engine("etcd-health", "127.0.0.1:12379", "");
    wait(&e, "etcd-health", Health::Healthy, "SERVING");
}

/// etcd's own `grpc.health.v1` on the rig's TLS-only etcd: with its CA and a client
/// certificate it is healthy; without the client certificate the source says why.
#[test]
fn etcd_over_tls_serves_grpc_health_with_a_client_certificate() {
    if !rig_has("etcdtls") {
        eprintln!("skipped: the rig's TLS etcd is not running (tests/check.sh starts it)");
        return;
    }
    let dir = std::path::PathBuf::from(
        std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()),
    )
    .join("tls");
    let file = |n: &str| Some(dir.join(n).display().to_string());
    let with = |name: &str, tls: switchboard_core::sources::TlsSettings| {
        let mut cfg = grpc_config(name, "https://127.0.0.1:42379", "");
        cfg.tls = Some(tls);
        engine_on(cfg)
    };
    let right = switchboard_core::sources::TlsSettings {
        ca_file: file("ca.pem"),
        cert_file: file("client.pem"),
        key_file: file("client-key.pem"),
        ..Default::default()
    };
    let e = with("etcd-tls-health", right.clone());
    wait(&e, "etcd-tls-health", Health::Healthy, "SERVING");
    let no_client = with(
        "etcd-tls-no-client",
        switchboard_core::sources::TlsSettings {
            cert_file: None,
            key_file: None,
            ..right
        },
    );
    wait(
        &no_client,
        "etcd-tls-no-client",
        Health::Unhealthy,
        "client certificate",
    );
}

/// grpcio's reference `HealthServicer` (the rig's `grpchealth`, a Python server): the
/// status flips by hand, then a SIGTERM, whose graceful shutdown first says
/// `NOT_SERVING` on the open streams and then ends them.
#[test]
fn grpcio_reference_server_flips_and_shuts_down() {
    if !rig_has("grpchealth") {
        eprintln!(
            "skipped: the rig's gRPC health server is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG)"
        );
        return;
    }
    common::rig(&["restart", "grpchealth"]);
    let e = engine("grpcio", "127.0.0.1:50051", SERVICE);
    wait(&e, "grpcio", Health::Healthy, "SERVING (Watch)");

    let set_at = SystemClock.now();
    common::rig(&["grpc-not-serving"]);
    let to_not_serving = wait(&e, "grpcio", Health::Unhealthy, "NOT_SERVING").millis_since(set_at);
    common::rig(&["grpc-serving"]);
    wait(&e, "grpcio", Health::Healthy, "SERVING (Watch)");

    let term_at = SystemClock.now();
    common::rig(&["term", "grpchealth"]);
    let gone = wait(&e, "grpcio", Health::Unhealthy, "").millis_since(term_at);
    let s = e.snapshot();
    let detail = health(&s, "grpcio").map(|(_, d, _)| d).unwrap_or_default();
    let after_term: Vec<String> = s
        .log
        .iter()
        .filter(|l| l.subject == "grpcio" && l.at >= term_at)
        .map(|l| l.message.clone())
        .collect();
    common::rig(&["restart", "grpchealth"]);
    wait(&e, "grpcio", Health::Healthy, "SERVING (Watch)");
    eprintln!(
        "grpcio rig: NOT_SERVING seen {to_not_serving} ms after rig.sh set it (includes its own Check loop); SIGTERM -> NOT_SERVING after {gone} ms, then {detail:?}"
    );
    assert!(
        after_term
            .first()
            .is_some_and(|m| m.contains("NOT_SERVING (Watch)")),
        "graceful shutdown says NOT_SERVING on the stream first: {after_term:?}"
    );
    assert!(
        detail.contains("stream") || detail.contains("connect"),
        "then the stream ends, and the reason is shown: {detail}"
    );
    assert!(
        gone <= 3000,
        "shutdown seen within the 1 s grace: {gone} ms"
    );
}
