//! The rig's TLS-only etcd (client certificates required, peer TLS, a private CA made at
//! rig start): the right CA and client certificate bring the cluster up; a wrong CA, a
//! missing client certificate and a wrong server name are each refused in their own
//! words; etcdctl's variables alone are enough; the workflows' lock takes its lease over
//! the same TLS settings.
//!
//! Runs when `SWITCHBOARD_RIG` names `etcdtls`.

use std::path::PathBuf;
use std::time::Duration;

use super::common::rig_has;
use switchboard_core::model::QuorumState;
use switchboard_core::sources::TlsSettings;
use switchboard_core::sources::etcd::EtcdConfig;
use switchboard_core::{Config, EngineHandle, EngineOptions, Environment, SourceConfig, State};

const ENDPOINTS: [&str; 3] = [
    "https://127.0.0.1:42379",
    "https://127.0.0.1:52379",
    "https://127.0.0.1:62379",
];

fn tls_dir() -> PathBuf {
    PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
        .join("tls")
}

fn file(name: &str) -> String {
    tls_dir().join(name).display().to_string()
}

/// The rig's CA, and its client certificate.
fn right() -> TlsSettings {
    TlsSettings {
        ca_file: Some(file("ca.pem")),
        cert_file: Some(file("client.pem")),
        key_file: Some(file("client-key.pem")),
        ..TlsSettings::default()
    }
}

fn source(tls: TlsSettings) -> EtcdConfig {
    let mut etcd = EtcdConfig::new("tls-etcd", ENDPOINTS.map(String::from).to_vec());
    etcd.tls = Some(tls);
    etcd
}

fn engine(cfg: Config) -> EngineHandle {
    switchboard_core::start(&EngineOptions::new(cfg)).expect("engine")
}

fn cluster_state(s: &State, name: &str) -> Option<QuorumState> {
    s.clusters
        .get(name)
        .filter(|c| c.membership_known && c.members.values().all(|m| m.polled))
        .map(|c| c.quorum.state)
}

/// Every member's latest error, once each has one.
fn member_errors(s: &State, name: &str) -> Option<Vec<String>> {
    let c = s.clusters.get(name)?;
    let errors: Vec<String> = c
        .members
        .values()
        .filter_map(|m| m.status.error.clone())
        .collect();
    (!errors.is_empty()).then_some(errors)
}

/// The words an engine on `tls` ends up with for its members.
fn refused_with(tls: TlsSettings) -> String {
    let engine = engine(Config {
        environment: vec![Environment::new(
            "rig",
            vec![SourceConfig::Etcd(source(tls))],
        )],
    });
    let s = engine.wait_for(Duration::from_secs(10), |s| {
        member_errors(s, "tls-etcd").is_some()
    });
    let errors = member_errors(&s, "tls-etcd").unwrap_or_default();
    assert_ne!(
        cluster_state(&s, "tls-etcd"),
        Some(QuorumState::Healthy),
        "refused, yet healthy: {errors:?}"
    );
    errors.join(" | ")
}

#[test]
fn the_right_ca_and_client_certificate_bring_the_cluster_up() {
    if !rig_has("etcdtls") {
        eprintln!("skipped: the rig's TLS etcd is not running (tests/check.sh starts it)");
        return;
    }
    let engine = engine(Config {
        environment: vec![Environment::new(
            "rig",
            vec![SourceConfig::Etcd(source(right()))],
        )],
    });
    let s = engine.wait_for(Duration::from_secs(15), |s| {
        cluster_state(s, "tls-etcd") == Some(QuorumState::Healthy)
    });
    let c = s.clusters.get("tls-etcd").expect("the cluster");
    assert_eq!(
        cluster_state(&s, "tls-etcd"),
        Some(QuorumState::Healthy),
        "{}",
        c.quorum.reason
    );
    assert_eq!(c.members.len(), 3);
}

#[test]
fn a_wrong_ca_a_missing_client_certificate_and_a_wrong_name_each_say_so() {
    if !rig_has("etcdtls") {
        eprintln!("skipped: the rig's TLS etcd is not running (tests/check.sh starts it)");
        return;
    }
    let wrong_ca = refused_with(TlsSettings {
        ca_file: Some(file("other-ca.pem")),
        ..right()
    });
    assert!(wrong_ca.contains("certificate not trusted"), "{wrong_ca}");

    let no_client = refused_with(TlsSettings {
        cert_file: None,
        key_file: None,
        ..right()
    });
    assert!(
        no_client.contains("requires a client certificate"),
        "{no_client}"
    );
    assert!(no_client.contains("tls.cert_file"), "{no_client}");

    let wrong_name = refused_with(TlsSettings {
        server_name: Some("db1.internal".into()),
        ..right()
    });
    assert!(
        wrong_name.contains("not db1.internal") || wrong_name.contains("not for this name"),
        "{wrong_name}"
    );
    for (case, said) in [
        ("wrong CA", &wrong_ca),
        ("no client certificate", &no_client),
        ("wrong server name", &wrong_name),
    ] {
        let first = said.split(" | ").next().unwrap_or_default();
        eprintln!(
            "etcd TLS, {case}: {}",
            first.split(" (").next().unwrap_or(first)
        );
    }
}

#[test]
fn etcdctl_variables_alone_reach_the_tls_cluster_and_its_lock() {
    if !rig_has("etcdtls") {
        eprintln!("skipped: the rig's TLS etcd is not running (tests/check.sh starts it)");
        return;
    }
    let vars = |name: &str| match name {
        "ETCDCTL_ENDPOINTS" => Some("127.0.0.1:42379,127.0.0.1:52379,127.0.0.1:62379".into()),
        "ETCDCTL_CACERT" => Some(file("ca.pem")),
        "ETCDCTL_CERT" => Some(file("client.pem")),
        "ETCDCTL_KEY" => Some(file("client-key.pem")),
        _ => None,
    };
    let cfg = Config::from_cli_vars(vars).expect("a config from the variables");
    let env = cfg.environment[0].clone();
    let engine = engine(cfg);
    let s = engine.wait_for(Duration::from_secs(15), |s| {
        cluster_state(s, "etcd") == Some(QuorumState::Healthy)
    });
    assert_eq!(
        cluster_state(&s, "etcd"),
        Some(QuorumState::Healthy),
        "{:?}",
        member_errors(&s, "etcd")
    );

    // The workflows' cross-console lock: a lease over the same TLS settings.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    assert!(switchboard_core::workflow::lock::available(&env));
    let held = rt
        .block_on(switchboard_core::workflow::lock::acquire(
            &env,
            "tls-test/target",
            "rig-test: TLS lock",
        ))
        .expect("the lock over TLS")
        .expect("a lease");
    let by = rt
        .block_on(switchboard_core::workflow::lock::holder(
            &env,
            "tls-test/target",
        ))
        .expect("read over TLS");
    assert_eq!(by.as_deref(), Some("rig-test: TLS lock"));
    rt.block_on(held.release());
    let by = rt
        .block_on(switchboard_core::workflow::lock::holder(
            &env,
            "tls-test/target",
        ))
        .expect("read over TLS");
    assert_eq!(by, None, "released");
}

/// The source says its connection is verified TLS, and the certificate that expires
/// first among the members (mt3's, three days) with its endpoint; `status --json` says
/// the same; the log warns once.
#[test]
fn the_transport_is_verified_and_the_member_certificate_expiring_first_is_shown() {
    if !rig_has("etcdtls") {
        eprintln!("skipped: the rig's TLS etcd is not running (tests/check.sh starts it)");
        return;
    }
    let engine = engine(Config {
        environment: vec![Environment::new(
            "rig",
            vec![SourceConfig::Etcd(source(right()))],
        )],
    });
    // The watcher's report may come before the source's first status: wait for both.
    let s = engine.wait_for(Duration::from_secs(15), |s| {
        s.sources.contains_key("tls-etcd")
            && s.transport("tls-etcd")
                .is_some_and(|t| t.server_cert_not_after.is_some())
    });
    let t = s
        .transport("tls-etcd")
        .expect("the source said its transport");
    assert_eq!(t.tls, switchboard_core::model::TlsMode::Verified);
    let subject = t.server_cert_subject.clone().unwrap_or_default();
    assert!(
        subject.contains("CN=etcd.rig.test") && subject.ends_with("https://127.0.0.1:62379"),
        "{subject}"
    );
    let report =
        serde_json::to_value(switchboard_core::StatusReport::new(&s, s.now)).expect("json");
    let src = report["sources"]
        .as_array()
        .and_then(|all| all.iter().find(|x| x["name"] == "tls-etcd"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(src["tls"], "verified", "{src}");
    assert_eq!(src["cert_expires_in_days"], 2, "{src}");
    assert!(
        src["client_cert_expires_in_days"].as_i64().unwrap_or(0) > 800,
        "{src}"
    );
    let concerns = src["tls_concerns"].to_string();
    assert!(
        concerns.contains("the server certificate expires in 2 days"),
        "{concerns}"
    );
    let warned = s
        .log
        .iter()
        .filter(|e| e.message.contains("certificate expires in"))
        .count();
    assert_eq!(warned, 1, "{:?}", s.log);
    eprintln!("etcd TLS transport: {concerns}");
}
