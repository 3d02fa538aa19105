//! The secret scan for the HTTP sources: an engine recording a session watches the TLS
//! servers with their passwords (one right, one wrong, a proxy with credentials in the
//! environment snapshot aside), and afterwards no file it wrote holds any of them. The
//! session records the configuration, every event and the sources' words.

use std::time::Duration;

use switchboard_core::model::SourceStatus;
use switchboard_core::sources::ProxySetting;
use switchboard_core::{Config, EngineOptions, Environment};

use super::servers::{STATS, prometheus};
use super::{basic, password, right_ca, skip_unless, wrong_password};

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn no_password_lands_in_a_recorded_session() {
    if skip_unless("prometheustls") || skip_unless("haproxytls") {
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    let (wrong, _dir) = wrong_password("admin");
    let lb = |name: &str, auth| {
        switchboard_core::SourceConfig::Haproxy(switchboard_core::sources::haproxy::HaproxyConfig {
            name: name.into(),
            socket: None,
            stats_url: Some(STATS.into()),
            interval_millis: 200,
            timeout_millis: 2000,
            tls: Some(right_ca()),
            auth: Some(auth),
            proxy: ProxySetting::Env(false),
            max_answer_bytes: None,
        })
    };
    let sources = vec![
        prometheus("prom-rec", right_ca(), Some(basic("prom", "prometheus"))),
        lb("lb-rec", basic("admin", "haproxy")),
        lb("lb-rec-wrong", wrong),
    ];
    let mut opts = EngineOptions::new(Config {
        environment: vec![Environment::new("rig", sources)],
    });
    opts.record_to = Some(data.path().join("session.sqlite"));
    let engine = switchboard_core::start(&opts).expect("engine");
    let s = engine.wait_for(Duration::from_secs(10), |s| {
        ["prom-rec", "lb-rec"].iter().all(|n| {
            s.sources
                .get(*n)
                .is_some_and(|i| i.status == SourceStatus::Up)
        }) && s
            .sources
            .get("lb-rec-wrong")
            .is_some_and(|i| i.status == SourceStatus::Down)
    });
    assert_eq!(
        s.sources.get("lb-rec-wrong").map(|i| i.status),
        Some(SourceStatus::Down)
    );
    assert!(engine.shutdown().is_none(), "the session was written");
    let written = files(data.path());
    assert!(!written.is_empty(), "the engine wrote nothing");
    // The scan can see: the recorded configuration names the password file, as text.
    let named = super::password_file("haproxy");
    assert!(
        written.iter().any(|f| std::fs::read(f)
            .is_ok_and(|b| b.windows(named.len()).any(|w| w == named.as_bytes()))),
        "the password file's path is in no file: the scan would see nothing"
    );
    for f in &written {
        let bytes = std::fs::read(f).expect("read");
        for server in ["prometheus", "haproxy"] {
            let pw = password(server);
            assert!(
                !bytes.windows(pw.len()).any(|w| w == pw.as_bytes()),
                "the {server} password is in {}",
                f.display()
            );
        }
        assert!(
            !bytes.windows(16).any(|w| w == b"not-the-password"),
            "the wrong password is in {}",
            f.display()
        );
    }
    eprintln!(
        "secret scan: {} file(s) the engine wrote hold no password",
        written.len()
    );
}
