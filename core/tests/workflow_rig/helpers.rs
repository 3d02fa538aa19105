//! What the workflow scenarios share: the rig's HAProxy as an environment, a scenario
//! (the rig to itself, a runtime, a fresh journal), both servers back in rotation,
//! live traffic counted, HAProxy's own `show stat`, and the one lock that runs the
//! scenarios one at a time.

use std::sync::Mutex;
use std::time::Duration;

use switchboard_core::sources::haproxy::HaproxyConfig;
use switchboard_core::workflow::server::Target;
use switchboard_core::workflow::{self, Journal, Kind, WorkflowError};
use switchboard_core::{Environment, SourceConfig};

use crate::common::{self, rig, rig_has};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub(crate) fn env(read_only: bool) -> Environment {
    Environment {
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
        name: "rig".into(),
        read_only,
        stale_after_millis: 5000,
        source: vec![SourceConfig::Haproxy(HaproxyConfig {
            name: "edge".into(),
            socket: Some("tcp://127.0.0.1:9999".into()),
            stats_url: None,
            interval_millis: 100,
            timeout_millis: 1000,
            tls: None,
            auth: None,
            proxy: switchboard_core::sources::ProxySetting::default(),
            max_answer_bytes: None,
        })],
    }
}

fn skip() -> bool {
    if rig_has("haproxy") {
        return false;
    }
    eprintln!(
        "skipped: the real HAProxy rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG)"
    );
    true
}

/// One scenario: the rig to itself, a runtime, a fresh journal in a temporary directory.
pub(crate) struct Scenario {
    pub(crate) _one: std::sync::MutexGuard<'static, ()>,
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) journal: Journal,
}

/// Starts a scenario with both servers in rotation; `None` when the rig has no HAProxy.
pub(crate) fn begin() -> Option<Scenario> {
    if skip() {
        return None;
    }
    let one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    reset(&rt);
    let (dir, journal) = common::journal();
    Some(Scenario {
        _one: one,
        rt,
        _dir: dir,
        journal,
    })
}

/// Both servers in rotation and UP in HAProxy's own checks (a backend restarted by an
/// earlier test needs its two good checks first).
pub(crate) fn reset(rt: &tokio::runtime::Runtime) {
    for (b, port) in [("backend1", 9001), ("backend2", 9002)] {
        if common::curl(&format!("http://127.0.0.1:{port}/")).is_empty() {
            rig(&["restart", b]);
        }
    }
    let cmd = |c: String| {
        rt.block_on(switchboard_core::sources::haproxy::runtime_command(
            "tcp://127.0.0.1:9999",
            &c,
            Duration::from_secs(2),
        ))
        .expect("runtime API")
    };
    for s in ["web1", "web2"] {
        cmd(format!("set server be_web/{s} state ready"));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let stat = cmd("show stat".into());
        let up = |s: &str| {
            stat.lines()
                .any(|l| l.starts_with(&format!("be_web,{s},")) && l.contains(",UP,"))
        };
        if up("web1") && up("web2") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "web1 and web2 not UP: {stat}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scenario on the rig's etcd alone: the rig to itself, a runtime, an environment
/// whose only source is the etcd; `None` without the rig's etcd.
pub(crate) fn etcd_only() -> Option<(
    std::sync::MutexGuard<'static, ()>,
    tokio::runtime::Runtime,
    Environment,
)> {
    if !rig_has("etcd") {
        eprintln!("skipped: needs the rig's etcd");
        return None;
    }
    let one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut e = env(false);
    e.source = vec![common::rig_etcd()];
    Some((one, tokio::runtime::Runtime::new().expect("runtime"), e))
}

pub(crate) fn run_one(
    rt: &tokio::runtime::Runtime,
    ctx: &workflow::Context<'_>,
    kind: Kind,
    target: &str,
) -> Result<workflow::Report, WorkflowError> {
    let t = Target::parse(target).expect("target");
    let plan = rt.block_on(workflow::plan(ctx, kind, &t.to_string()))?;
    rt.block_on(workflow::run(ctx, &plan, &t.confirm_name(), "rig-test"))
}

/// `show stat` row of `server` in `be_web`: (status, user weight, total sessions).
pub(crate) fn server_stat(rt: &tokio::runtime::Runtime, server: &str) -> (String, u32, u64) {
    let text = rt
        .block_on(switchboard_core::sources::haproxy::runtime_command(
            "tcp://127.0.0.1:9999",
            "show stat",
            Duration::from_secs(2),
        ))
        .expect("runtime API");
    let row = switchboard_core::sources::haproxy::parse_stat_csv(&text)
        .expect("csv")
        .into_iter()
        .find(|r| r.proxy == "be_web" && r.name == server)
        .expect("server row");
    (
        row.status,
        row.user_weight.unwrap_or_default(),
        row.total_sessions,
    )
}

/// Requests through the rig's gateway (HAProxy on 8080), counted.
pub(crate) struct Traffic(common::Traffic);

impl Traffic {
    pub(crate) fn start() -> Self {
        Self(common::Traffic::start("http://127.0.0.1:8080/"))
    }

    /// Stops it; (ok, failed).
    pub(crate) fn stop(self) -> (u32, u32) {
        self.0.stop()
    }
}
