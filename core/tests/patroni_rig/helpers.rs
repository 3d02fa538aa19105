//! What the Patroni scenarios share: the rig's cluster as a source, Patroni's own
//! answers (members, the primary, lag), waiting for the console to agree, and the one
//! lock that runs the scenarios one at a time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use switchboard_core::sources::patroni::{PatroniConfig, parse_cluster};
use switchboard_core::{DbCluster, EngineHandle, SourceConfig, State, Timestamp};

use crate::common::{self, rig_has};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const CLUSTER: &str = "pgha";
const DSN_ENV: &str = "SWITCHBOARD_RIG_PG_DSN";
const DSN: &str = "postgresql://switchboard:rigwatch@127.0.0.1:5441/postgres";

fn skip() -> bool {
    if rig_has("patroni") {
        return false;
    }
    eprintln!(
        "skipped: the real Patroni rig is not running (tests/check.sh starts it and sets SWITCHBOARD_RIG)"
    );
    true
}

/// The rig's three members as a Patroni source that also asks their servers.
fn patroni_source(name: &str) -> SourceConfig {
    SourceConfig::Patroni(PatroniConfig {
        name: name.into(),
        endpoints: (1..=3)
            .map(|n| format!("http://127.0.0.1:800{n}"))
            .collect(),
        cluster: None,
        interval_millis: 250,
        timeout_millis: 1000,
        dsn_env: Some(DSN_ENV.into()),
        dcs: Some("etcd".into()),
        patroni_yml: None,
        tls: None,
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    })
}

fn engine() -> EngineHandle {
    unsafe_env_named(DSN_ENV, DSN);
    common::engine_with(patroni_source("patroni"))
}

/// Patroni's own answer: member name -> REST port, from any member's `/cluster`.
pub(crate) fn members() -> Vec<(String, u16)> {
    for n in 1..=3 {
        let text = common::curl(&format!("http://127.0.0.1:800{n}/cluster"));
        if let Ok(c) = parse_cluster(&text) {
            return c
                .members
                .iter()
                .filter_map(|m| {
                    let port = m.api_url.as_deref()?.rsplit(':').next()?;
                    let port: u16 = port.trim_end_matches("/patroni").parse().ok()?;
                    Some((m.name.clone(), port))
                })
                .collect();
        }
    }
    Vec::new()
}

pub(crate) use crate::common::patroni_primary;

pub(crate) fn db(s: &State) -> Option<&DbCluster> {
    s.databases.get(CLUSTER)
}

pub(crate) fn wait(
    e: &EngineHandle,
    secs: u64,
    what: &str,
    pred: impl Fn(&DbCluster) -> bool,
) -> State {
    let s = e.wait_for(Duration::from_secs(secs), |s| db(s).is_some_and(&pred));
    let s = (*s).clone();
    assert!(
        db(&s).is_some_and(&pred),
        "{what}: {:#?}",
        db(&s).map(|d| (&d.primary, d.writable, &d.dcs_leader, &d.members))
    );
    s
}

pub(crate) fn name_of(port: u16) -> String {
    members()
        .into_iter()
        .find(|(_, p)| *p == port)
        .map(|(n, _)| n)
        .unwrap_or_default()
}

/// The leader's name and a replica's, to promote.
pub(crate) fn leader_and_candidate(leader: u16) -> (String, String) {
    (
        name_of(leader),
        name_of(if leader == 8003 { 8002 } else { 8003 }),
    )
}

/// When the log first says `needle` at or after `since`.
pub(crate) fn logged_at(s: &State, since: Timestamp, needle: &str) -> Option<Timestamp> {
    s.log
        .iter()
        .find(|l| l.at >= since && l.message.contains(needle))
        .map(|l| l.at)
}

/// The cluster to one scenario: `None` when the rig has no Patroni; else the lock held,
/// an engine watching the cluster, and the primary's REST port once all is settled.
pub(crate) fn begin() -> Option<(std::sync::MutexGuard<'static, ()>, EngineHandle, u16)> {
    if skip() {
        return None;
    }
    let one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let e = engine();
    let leader = settled(&e);
    Some((one, e, leader))
}

/// A healthy cluster with one primary, seen by the console; returns its port.
fn settled(e: &EngineHandle) -> u16 {
    let deadline = Instant::now() + Duration::from_mins(1);
    let port = loop {
        if let Some(p) = patroni_primary(None)
            && members().len() == 3
        {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "the rig's Patroni has no primary"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let name = name_of(port);
    wait(e, 30, "one primary, three members", |d| {
        d.primary.as_ref().is_some_and(|p| p.as_str() == name)
            && d.members.len() == 3
            && d.members.values().all(|m| m.writable.is_some())
    });
    port
}

#[allow(unsafe_code)]
pub(crate) fn unsafe_env_named(name: &str, value: &str) {
    // SAFETY: tests here hold ONE_AT_A_TIME; nothing else reads the environment now.
    unsafe { std::env::set_var(name, value) };
}

/// The environment of the workflow tests: the rig's cluster as source `pg`, its etcd
/// for the lock.
pub(crate) fn workflow_env() -> switchboard_core::Environment {
    switchboard_core::Environment {
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
        name: "rig".into(),
        read_only: false,
        stale_after_millis: 5000,
        source: vec![patroni_source("pg"), common::rig_etcd()],
        fence: Vec::new(),
    }
}
