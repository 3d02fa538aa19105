//! A drain under live traffic in an environment whose etcd is the rig's TLS-only one
//! (`etcdtls`, client certificates required): the cross-console lock is taken, seen and
//! released over mutual TLS with verification on, no request fails; without the client
//! certificate the lock cannot be taken and the run is refused before it touches
//! anything, in words.
//!
//! Runs when `SWITCHBOARD_RIG` names `haproxy` and `etcdtls`.

use std::time::Duration;

use switchboard_core::SourceConfig;
use switchboard_core::sources::TlsSettings;
use switchboard_core::sources::etcd::EtcdConfig;
use switchboard_core::workflow::{self, Kind, WorkflowError, lock};

use crate::common::{self, rig_has};
use crate::helpers::{Scenario, Traffic, begin, env, server_stat};

fn tls_file(name: &str) -> String {
    std::path::PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
        .join("tls")
        .join(name)
        .display()
        .to_string()
}

/// The rig's HAProxy environment with the TLS etcd as its etcd (the lock's home).
fn with_tls_etcd(tls: TlsSettings) -> switchboard_core::Environment {
    let mut e = env(false);
    let mut etcd = EtcdConfig::new(
        "etcd-tls",
        [
            "https://127.0.0.1:42379",
            "https://127.0.0.1:52379",
            "https://127.0.0.1:62379",
        ]
        .map(String::from)
        .to_vec(),
    );
    etcd.tls = Some(tls);
    e.source.push(SourceConfig::Etcd(etcd));
    e
}

fn right() -> TlsSettings {
    TlsSettings {
        ca_file: Some(tls_file("ca.pem")),
        cert_file: Some(tls_file("client.pem")),
        key_file: Some(tls_file("client-key.pem")),
        ..TlsSettings::default()
    }
}

#[test]
fn a_drain_under_traffic_holds_its_lock_on_tls_etcd() {
    if !rig_has("etcdtls") {
        eprintln!("skipped: the rig's TLS etcd is not running (tests/check.sh starts it)");
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
    let env = with_tls_etcd(right());
    assert!(
        lock::available(&env),
        "the environment's lock lives in the TLS etcd"
    );
    let ctx = common::workflow_ctx(&env, &journal);
    let target = "edge/be_web/web1";

    // A watch on the locks' keys, over mutual TLS, opened before the run: it sees the
    // lock's value however briefly the run holds it (polling missed it on a loaded
    // machine: a fresh TLS connection each time outlasted the run).
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let seen = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            let read = |n: &str| std::fs::read(tls_file(n)).expect("a rig TLS file");
            let tls = etcd_client::TlsOptions::new()
                .ca_certificate(etcd_client::Certificate::from_pem(read("ca.pem")))
                .identity(etcd_client::Identity::from_pem(
                    read("client.pem"),
                    read("client-key.pem"),
                ));
            let mut client = etcd_client::Client::connect(
                ["https://127.0.0.1:42379"],
                Some(etcd_client::ConnectOptions::new().with_tls(tls)),
            )
            .await
            .expect("connect over TLS");
            let mut stream = client
                .watch(
                    "switchboard/locks/",
                    Some(etcd_client::WatchOptions::new().with_prefix()),
                )
                .await
                .expect("watch");
            let _ = ready_tx.send(());
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while let Ok(Ok(Some(resp))) = tokio::time::timeout_at(deadline, stream.message()).await
            {
                for ev in resp.events() {
                    if let Some(kv) = ev.kv().filter(|kv| !kv.value().is_empty()) {
                        return Some(String::from_utf8_lossy(kv.value()).into_owned());
                    }
                }
            }
            None
        })
    });
    ready_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the watch is open");
    let traffic = Traffic::start();
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Drain, target))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web1", "rig-test"))
        .expect("run");
    let back = rt
        .block_on(async {
            let plan = workflow::plan(&ctx, Kind::Ready, target).await?;
            workflow::run(&ctx, &plan, "be_web/web1", "rig-test").await
        })
        .expect("ready");
    let (ok, bad) = traffic.stop();
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert_eq!(back.outcome, "done", "{:?}", back.lines);
    // The run takes tens of milliseconds; curl, spawned per request, gets through a
    // few hundred milliseconds of traffic around it (fewer on a loaded machine).
    assert!(ok >= 3, "traffic flowed: {ok}");
    assert_eq!(bad, 0, "no request failed during the drain");
    let by = seen.join().expect("watcher").unwrap_or_default();
    assert!(
        by.contains("rig-test@") && by.contains(target),
        "the lock was held over TLS by the run: {by:?}"
    );
    assert_eq!(
        rt.block_on(lock::holder(&env, target))
            .expect("read over TLS"),
        None,
        "and released"
    );
    assert!(server_stat(&rt, "web1").0.starts_with("UP"));
    eprintln!(
        "workflow rig over TLS etcd: drain {} ms after confirmation, lock seen held ({by}); {ok} requests ok, {bad} failed",
        report.effect_millis.unwrap_or(-1)
    );

    // Without the client certificate the lock cannot be taken: refused, nothing done.
    let no_cert = with_tls_etcd(TlsSettings {
        cert_file: None,
        key_file: None,
        ..right()
    });
    let ctx = common::workflow_ctx(&no_cert, &journal);
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Drain, target))
        .expect("plan");
    let err = rt
        .block_on(workflow::run(&ctx, &plan, "be_web/web1", "rig-test"))
        .expect_err("no lock, no run");
    assert!(matches!(err, WorkflowError::Refused(_)), "{err}");
    assert!(err.to_string().contains("client certificate"), "{err}");
    assert!(server_stat(&rt, "web1").0.starts_with("UP"), "untouched");
    eprintln!("workflow rig over TLS etcd, no client certificate: {err}");
}
