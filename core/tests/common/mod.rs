//! Shared by the integration tests that use the real test rig (`tests/rig/rig.sh`).

use std::path::PathBuf;
use std::process::Command;

/// Whether the rig component `name` is up: `SWITCHBOARD_RIG` lists them ("etcd haproxy"),
/// as `tests/check.sh` sets after starting the rig.
#[allow(dead_code)]
pub fn rig_has(name: &str) -> bool {
    std::env::var("SWITCHBOARD_RIG").is_ok_and(|v| v.split([' ', ',']).any(|c| c == name))
}

/// Runs `tests/rig/rig.sh ARGS` and insists that it succeeds.
#[allow(dead_code)]
pub fn rig(args: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/rig/rig.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("run rig.sh");
    assert!(
        out.status.success(),
        "rig.sh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls `seen` every 10 ms on its own thread until it holds or 15 s pass, and returns
/// when it first held: the gateway's own detection time, to compare the console with.
#[allow(dead_code)]
pub fn first_seen(
    seen: impl Fn() -> bool + Send + 'static,
) -> std::thread::JoinHandle<Option<switchboard_core::Timestamp>> {
    use switchboard_core::Clock as _;
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if seen() {
                return Some(switchboard_core::SystemClock.now());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        None
    })
}

/// `curl -sf URL` output, or empty.
#[allow(dead_code)]
pub fn curl(url: &str) -> String {
    Command::new("curl")
        .args(["-sf", url])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// An engine watching just `source`, in an environment named "rig".
#[allow(dead_code)]
pub fn engine_with(source: switchboard_core::SourceConfig) -> switchboard_core::EngineHandle {
    let cfg = switchboard_core::Config {
        environment: vec![switchboard_core::Environment::new("rig", vec![source])],
    };
    switchboard_core::start(&switchboard_core::EngineOptions::new(cfg)).expect("engine")
}

/// The rig's 3-member etcd as a source named `etcd` (for the environments of rig tests).
#[allow(dead_code)]
pub fn rig_etcd() -> switchboard_core::SourceConfig {
    switchboard_core::SourceConfig::Etcd(switchboard_core::sources::etcd::EtcdConfig::new(
        "etcd",
        ["127.0.0.1:12379", "127.0.0.1:22379", "127.0.0.1:32379"]
            .map(String::from)
            .to_vec(),
    ))
}

/// A workflow context on `environment` with `journal`, the system clock and a 2 s bound.
#[allow(dead_code)]
pub fn workflow_ctx<'a>(
    environment: &'a switchboard_core::Environment,
    journal: &'a switchboard_core::workflow::Journal,
) -> switchboard_core::workflow::Context<'a> {
    switchboard_core::workflow::Context {
        environment,
        journal,
        clock: &switchboard_core::SystemClock,
        read_only_mode: false,
        timeout: std::time::Duration::from_secs(2),
        control: switchboard_core::workflow::Control::default(),
        drill: None,
        observed: None,
    }
}

/// A fresh workflow journal in a temporary directory (kept alive by the first value).
#[allow(dead_code)]
pub fn journal() -> (tempfile::TempDir, switchboard_core::workflow::Journal) {
    let dir = tempfile::tempdir().expect("dir");
    let journal = switchboard_core::workflow::Journal::open(&dir.path().join("journal.sqlite"))
        .expect("journal");
    (dir, journal)
}
