//! HTTP sources over TLS, mutual TLS, basic auth and forward proxies, on the rig's real
//! servers of production's shape (`tests/rig/lib/{prometheustls,haproxytls,traefiktls,
//! proxy}.sh`): Prometheus behind TLS and basic auth, HAProxy's stats over TLS with
//! `stats auth` (and mutual TLS on a second port), Traefik's API on a TLS entry point
//! behind `basicAuth`, and tinyproxy (open, and with `BasicAuth`). Each case asserts the
//! source's outcome and its words, and that no password shows in any of them.
//!
//! Runs when `SWITCHBOARD_RIG` names the component; `token.rs` needs no rig (a local
//! fake server records the Authorization header).

#[path = "../common/mod.rs"]
mod common;
mod proxy;
mod route;
mod secrets;
mod servers;
mod token;

use std::path::PathBuf;
use std::time::Duration;

use switchboard_core::model::SourceStatus;
use switchboard_core::sources::{AuthSettings, TlsSettings};
use switchboard_core::{SourceConfig, State};

/// The rig's directory.
fn rig_dir() -> PathBuf {
    PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
}

/// A file of the rig's PKI.
fn pki(name: &str) -> String {
    rig_dir().join("tls").join(name).display().to_string()
}

/// The path of a rig server's password file (`prometheus`, `haproxy`, `traefik`, `proxy`).
fn password_file(server: &str) -> String {
    rig_dir()
        .join("httptls")
        .join(format!("{server}.password"))
        .display()
        .to_string()
}

/// A rig server's password, to check that it shows nowhere.
fn password(server: &str) -> String {
    std::fs::read_to_string(password_file(server))
        .expect("the rig's password file")
        .trim()
        .to_owned()
}

/// Trust the rig's CA.
fn right_ca() -> TlsSettings {
    TlsSettings {
        ca_file: Some(pki("ca.pem")),
        ..TlsSettings::default()
    }
}

/// Basic auth as `user` with the password file of `server`.
fn basic(user: &str, server: &str) -> AuthSettings {
    AuthSettings {
        username: Some(user.into()),
        password_file: Some(password_file(server)),
        ..AuthSettings::default()
    }
}

/// A wrong password, by file.
fn wrong_password(user: &str) -> (AuthSettings, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wrong.password");
    std::fs::write(&path, "not-the-password\n").expect("write");
    (
        AuthSettings {
            username: Some(user.into()),
            password_file: Some(path.display().to_string()),
            ..AuthSettings::default()
        },
        dir,
    )
}

/// The source `name`'s status and detail, once `done` holds for the state or 10 s pass.
fn outcome(
    source: SourceConfig,
    name: &str,
    done: &dyn Fn(&State) -> bool,
) -> (Option<SourceStatus>, String, std::sync::Arc<State>) {
    source.validate().expect("a valid source");
    let engine = common::engine_with(source);
    let s = engine.wait_for(Duration::from_secs(10), done);
    let info = s.sources.get(name);
    (
        info.map(|i| i.status),
        info.and_then(|i| i.detail.clone()).unwrap_or_default(),
        s,
    )
}

/// Down, with its words: waits for the source to be down.
fn refused(source: SourceConfig, name: &str) -> String {
    let (status, detail, s) = outcome(source, name, &|s| {
        s.sources
            .get(name)
            .is_some_and(|i| i.status == SourceStatus::Down)
    });
    assert_eq!(status, Some(SourceStatus::Down), "{name}: {detail}");
    no_secret_in(&format!("{:?} {detail}", s.sources));
    eprintln!("http tls rig, {name}: {detail}");
    detail
}

/// Asserts that no rig password shows in `text`.
fn no_secret_in(text: &str) {
    for server in ["prometheus", "haproxy", "traefik", "proxy"] {
        if let Ok(pw) = std::fs::read_to_string(password_file(server)) {
            let pw = pw.trim();
            assert!(
                pw.is_empty() || !text.contains(pw),
                "the {server} password shows: {text}"
            );
        }
    }
}

/// Skips (with a line saying why) unless the rig runs `component`.
fn skip_unless(component: &str) -> bool {
    if common::rig_has(component) {
        return false;
    }
    eprintln!(
        "skipped: the rig's {component} is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG)"
    );
    true
}
