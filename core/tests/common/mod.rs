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

/// An engine watching `env`.
#[allow(dead_code)]
pub fn engine_with_env(env: switchboard_core::Environment) -> switchboard_core::EngineHandle {
    let cfg = switchboard_core::Config {
        environment: vec![env],
    };
    switchboard_core::start(&switchboard_core::EngineOptions::new(cfg)).expect("engine")
}

/// The rig's etcd and its HAProxy (stats over HTTP, polled every `haproxy_millis`, so
/// HAProxy's own counter sees every poll), in an environment named `rig`: what the
/// relay tests serve.
#[allow(dead_code)]
pub fn rig_relay_env(haproxy_millis: u64) -> switchboard_core::Environment {
    rig_with_haproxy(
        "haproxy",
        None,
        Some("http://127.0.0.1:8404/stats;csv"),
        haproxy_millis,
    )
}

/// The rig's etcd (the workflows' lock) and its HAProxy over the runtime API as a
/// source named `edge` (the target a drain acts on), in an environment named `rig`.
#[allow(dead_code)]
pub fn rig_edge_env() -> switchboard_core::Environment {
    rig_with_haproxy("edge", Some("tcp://127.0.0.1:9999"), None, 250)
}

/// The rig's etcd and its HAProxy as a source `name` (over the runtime API `socket`
/// or the stats page `stats_url`, polled every `millis`), in an environment `rig`.
fn rig_with_haproxy(
    name: &str,
    socket: Option<&str>,
    stats_url: Option<&str>,
    millis: u64,
) -> switchboard_core::Environment {
    let haproxy = switchboard_core::sources::haproxy::HaproxyConfig {
        name: name.into(),
        socket: socket.map(str::to_owned),
        stats_url: stats_url.map(str::to_owned),
        interval_millis: millis,
        timeout_millis: 1000,
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    };
    switchboard_core::Environment::new(
        "rig",
        vec![rig_etcd(), switchboard_core::SourceConfig::Haproxy(haproxy)],
    )
}

/// The rig's private PKI directory (people's certificates among it), made unless it is
/// there.
#[allow(dead_code)]
pub fn rig_pki() -> PathBuf {
    rig(&["pki"]);
    PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
        .join("tls")
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

/// Requests to `url` every 10 ms on a thread of their own, counted; started 300 ms
/// before it returns, so traffic flows before whatever the test does next.
#[allow(dead_code)]
pub struct Traffic {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ok: std::sync::Arc<std::sync::atomic::AtomicU32>,
    bad: std::sync::Arc<std::sync::atomic::AtomicU32>,
    thread: std::thread::JoinHandle<()>,
}

#[allow(dead_code)]
impl Traffic {
    /// Starts it (`curl`, 2 s per request; anything but 200 counts as failed).
    pub fn start(url: &'static str) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, bad) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        let thread = {
            let (stop, ok, bad) = (Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&bad));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let out = Command::new("curl")
                        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                        .args(["--max-time", "2", url])
                        .output();
                    let code = out
                        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                        .unwrap_or_default();
                    if code == "200" { &ok } else { &bad }.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        Self {
            stop,
            ok,
            bad,
            thread,
        }
    }

    /// Stops it; (ok, failed).
    pub fn stop(self) -> (u32, u32) {
        use std::sync::atomic::Ordering;
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("traffic");
        (
            self.ok.load(Ordering::Relaxed),
            self.bad.load(Ordering::Relaxed),
        )
    }
}

/// Which of the rig's Patroni members answers 200 on `/primary` (its REST port), but
/// `except`: Patroni's own role probe.
#[allow(dead_code)]
pub fn patroni_primary(except: Option<u16>) -> Option<u16> {
    (8001..=8003).filter(|p| Some(*p) != except).find(|p| {
        Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "--max-time", "1"])
            .arg(format!("http://127.0.0.1:{p}/primary"))
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// A fence device powering `node` (of fence group `group`) through the rig's agent
/// (`tests/rig/fence_rig_node`): its power is the rig processes `processes`.
#[allow(dead_code)]
pub fn rig_node(
    node: &str,
    group: &str,
    processes: &str,
) -> switchboard_core::workflow::fence::FenceDevice {
    let agent = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/rig/fence_rig_node");
    switchboard_core::workflow::fence::FenceDevice {
        name: format!("{node}-power"),
        node: node.into(),
        group: group.into(),
        level: 1,
        agent: agent.display().to_string(),
        ec2: None,
        options: std::collections::BTreeMap::from([
            (
                "rig".to_owned(),
                std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".to_owned()),
            ),
            ("processes".to_owned(), processes.to_owned()),
        ]),
        secret_env: std::collections::BTreeMap::new(),
        timeout_secs: 120,
    }
}
