//! etcd over gRPC (the etcd-client crate).
//!
//! One task per configured endpoint, each its own bulkhead: it polls
//! `Maintenance/Status` every `poll_interval_millis` (member id, leader, raft term and
//! index, db size, errors) and `Maintenance/Alarm` every few polls, each call bounded by
//! `timeout_millis`. Beside the poll it holds a watch stream on the member: when the
//! process dies the stream breaks at once and the endpoint is polled immediately, so a
//! dead member is seen in milliseconds, not at the next poll. On failure it reports the
//! member unreachable and reconnects with capped exponential backoff and full jitter.
//!
//! A membership task lists members (names, voter flags, client URLs) every few
//! seconds through any endpoint and declares them with `ClusterMembers`. Until it
//! succeeds, members are named by their endpoint. The source is `up` while any endpoint
//! answers and `down`, with the last error, when none does.
//!
//! An integrity task compares the members' key-value hashes at one revision
//! (`hashkv.rs`).

mod hashkv;

pub use hashkv::CHECK as HASHKV_CHECK;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{AlarmAction, AlarmType, Client, ConnectOptions};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use super::{Backoff, Emitter};
use crate::event::{EventBody, MemberSpec, MemberStatus};
use crate::model::{ClusterId, ClusterKind, MemberId, SourceStatus};

/// Configuration of one etcd cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdConfig {
    /// Source name; also the cluster's name in the console.
    pub name: String,
    /// Client URLs of the members (`http://127.0.0.1:2379`); a bare `host:port` gets `http://`.
    pub endpoints: Vec<String>,
    /// Time between status polls of each endpoint, in milliseconds.
    #[serde(default = "default_poll")]
    pub poll_interval_millis: u64,
    /// Bound on connecting and on each call, in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_millis: u64,
    /// Time between comparisons of the members' data (`HashKV` at one revision), in
    /// milliseconds; 0 turns the check off. Each reads every member's whole key space.
    #[serde(default = "default_hashkv")]
    pub hashkv_interval_millis: u64,
    /// Name of the environment variable holding the user name, if auth is on.
    #[serde(default)]
    pub username_env: Option<String>,
    /// Name of the environment variable holding the password (never the password itself).
    #[serde(default)]
    pub password_env: Option<String>,
    /// Name of one environment variable holding `user:password`, as etcdctl's
    /// `ETCDCTL_USER` does (instead of `username_env` and `password_env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_env: Option<String>,
    /// TLS: the CA to trust, the client certificate to present. `https://` endpoints
    /// without it trust the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::sources::TlsSettings>,
}

impl crate::sources::Settings for EtcdConfig {
    fn validate(&self) -> Result<(), String> {
        if self.endpoints.is_empty() {
            return Err(format!("etcd source {:?} has no endpoints", self.name));
        }
        Ok(())
    }

    fn probe(&self) -> Option<crate::sources::transport::Probe> {
        // No transport to watch when the source refuses its settings (gRPC takes no
        // insecure_skip_verify): it reports itself down with the reason instead.
        if self.tls.as_ref().is_some_and(|t| t.insecure_skip_verify) {
            return None;
        }
        Some(crate::sources::transport::Probe {
            endpoints: self.endpoints.clone(),
            tls: self.tls.clone(),
            https: self.endpoints.iter().any(|e| e.starts_with("https://")),
            preamble: crate::sources::transport::Preamble::None,
            timeout: Duration::from_millis(self.timeout_millis),
            // gRPC goes direct: tonic takes no proxy.
            proxy: crate::sources::ProxySetting::Env(false),
        })
    }
}

const fn default_poll() -> u64 {
    250
}

const fn default_timeout() -> u64 {
    1000
}

const fn default_hashkv() -> u64 {
    30_000
}

impl EtcdConfig {
    /// A config for `endpoints` with default timings.
    pub fn new(name: impl Into<String>, endpoints: Vec<String>) -> Self {
        Self {
            name: name.into(),
            endpoints,
            poll_interval_millis: default_poll(),
            timeout_millis: default_timeout(),
            hashkv_interval_millis: default_hashkv(),
            username_env: None,
            password_env: None,
            user_env: None,
            tls: None,
        }
    }
}

/// Adds `http://` to a bare `host:port` and drops a trailing slash.
pub fn normalize_endpoint(ep: &str) -> String {
    let ep = ep.trim().trim_end_matches('/');
    if ep.contains("://") {
        ep.to_owned()
    } else {
        format!("http://{ep}")
    }
}

/// What the membership task learned.
#[derive(Clone, Debug, Default)]
struct Membership {
    by_id: HashMap<u64, MemberId>,
    by_endpoint: HashMap<String, MemberId>,
    known: bool,
}

/// One endpoint's latest reachability, for the source's own status.
struct Reach {
    index: usize,
    reachable: bool,
    error: Option<String>,
}

pub(crate) fn options(cfg: &EtcdConfig) -> Result<ConnectOptions, String> {
    options_with(cfg, true)
}

/// [`options`] for a client that holds a long stream (a lease's keep-alive): no bound
/// on each call, since the channel's bound would cut the stream after it; the caller
/// bounds each message itself.
pub(crate) fn stream_options(cfg: &EtcdConfig) -> Result<ConnectOptions, String> {
    options_with(cfg, false)
}

fn options_with(cfg: &EtcdConfig, per_call: bool) -> Result<ConnectOptions, String> {
    let t = Duration::from_millis(cfg.timeout_millis.max(50));
    // HTTP/2 pings find a dead connection under a long stream; etcd closes a
    // connection pinged more often than every 5 s (its --grpc-keepalive-min-time)
    // with "too many pings", which ends every stream on it (a lease's keep-alive, the
    // watch that sees a member die): every 10 s. Calls are bounded by their own time.
    let mut opts = ConnectOptions::new()
        .with_connect_timeout(t)
        .with_keep_alive(Duration::from_secs(10), t.max(Duration::from_secs(2)));
    if per_call {
        opts = opts.with_timeout(t);
    }
    match (&cfg.username_env, &cfg.password_env, &cfg.user_env) {
        (Some(u), Some(p), None) => {
            let user = std::env::var(u)
                .map_err(|_| format!("environment variable {u} (etcd user) is not set"))?;
            let pass = std::env::var(p)
                .map_err(|_| format!("environment variable {p} (etcd password) is not set"))?;
            opts = opts.with_user(user, pass);
        }
        (None, None, Some(v)) => {
            let both = std::env::var(v)
                .map_err(|_| format!("environment variable {v} (etcd user:password) is not set"))?;
            let (user, pass) = both
                .split_once(':')
                .ok_or_else(|| format!("environment variable {v} is not user:password"))?;
            opts = opts.with_user(user, pass);
        }
        (None, None, None) => {}
        (_, _, Some(_)) => {
            return Err(
                "etcd auth: give user_env, or username_env and password_env, not both".to_owned(),
            );
        }
        _ => return Err("etcd auth needs both username_env and password_env".to_owned()),
    }
    let https = cfg
        .endpoints
        .iter()
        .any(|e| normalize_endpoint(e).starts_with("https://"));
    if let Some(t) = crate::sources::tonic_tls_for(https, cfg.tls.as_ref())
        .map_err(|e| format!("etcd source {}: {e}", cfg.name))?
    {
        opts = opts.with_tls(t);
    }
    Ok(opts)
}

/// Runs the etcd source until the engine stops.
pub async fn run(cfg: EtcdConfig, emitter: Emitter) {
    let endpoints: Vec<String> = cfg
        .endpoints
        .iter()
        .map(|e| normalize_endpoint(e))
        .collect();
    let opts = match options(&cfg) {
        Ok(o) => o,
        Err(e) => {
            emitter.status(SourceStatus::Down, Some(e)).await;
            return;
        }
    };
    if endpoints.is_empty() {
        emitter
            .status(
                SourceStatus::Down,
                Some("no endpoints configured".to_owned()),
            )
            .await;
        return;
    }
    let cluster = ClusterId::new(&cfg.name);
    let (members_tx, members_rx) = watch::channel(Arc::new(Membership::default()));
    let (reach_tx, reach_rx) = mpsc::channel(64);

    let mut tasks = tokio::task::JoinSet::new();
    if cfg.hashkv_interval_millis > 0 {
        tasks.spawn(hashkv::run(
            cfg.name.clone(),
            endpoints.clone(),
            opts.clone(),
            Duration::from_millis(cfg.hashkv_interval_millis.max(500)),
            members_rx.clone(),
            emitter.clone(),
        ));
    }
    tasks.spawn(membership_task(
        cfg.clone(),
        endpoints.clone(),
        opts.clone(),
        cluster.clone(),
        emitter.clone(),
        members_tx,
    ));
    for (index, ep) in endpoints.iter().enumerate() {
        let poller = Poller {
            index,
            endpoint: ep.clone(),
            cluster: cluster.clone(),
            emitter: emitter.clone(),
            members: members_rx.clone(),
            reach: reach_tx.clone(),
            poll: Duration::from_millis(cfg.poll_interval_millis.max(50)),
            timeout: Duration::from_millis(cfg.timeout_millis.max(50)),
            opts: opts.clone(),
            tls: cfg.tls.clone(),
            last_name: None,
            settle: super::volatile::Settle::default(),
            said_at: tokio::time::Instant::now(),
        };
        tasks.spawn(poller.run());
    }
    drop(reach_tx);
    aggregate(endpoints.len(), reach_rx, &emitter).await;
    tasks.shutdown().await;
}

/// Turns per-endpoint reachability into the source's up/down status.
async fn aggregate(n: usize, mut rx: mpsc::Receiver<Reach>, emitter: &Emitter) {
    let mut reach: Vec<Option<bool>> = vec![None; n];
    let mut last_error: Option<String> = None;
    let mut reported: Option<SourceStatus> = None;
    while let Some(r) = rx.recv().await {
        reach[r.index] = Some(r.reachable);
        if let Some(e) = r.error {
            last_error = Some(e);
        }
        let any_up = reach.contains(&Some(true));
        let all_known = reach.iter().all(Option::is_some);
        let status = if any_up {
            SourceStatus::Up
        } else if all_known {
            SourceStatus::Down
        } else {
            continue;
        };
        if reported != Some(status) {
            reported = Some(status);
            let up = reach.iter().filter(|r| **r == Some(true)).count();
            let detail = match status {
                SourceStatus::Up => format!("{up} of {n} endpoints answer"),
                _ => format!(
                    "no endpoint answers: {}",
                    last_error.as_deref().unwrap_or("unknown error")
                ),
            };
            if !emitter.status(status, Some(detail)).await {
                return;
            }
        }
    }
}

async fn membership_task(
    cfg: EtcdConfig,
    endpoints: Vec<String>,
    opts: ConnectOptions,
    cluster: ClusterId,
    emitter: Emitter,
    tx: watch::Sender<Arc<Membership>>,
) {
    let timeout = Duration::from_millis(cfg.timeout_millis.max(50));
    let mut declared: Option<Vec<MemberSpec>> = None;
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5), 0x5eed);
    loop {
        let listed = tokio::time::timeout(timeout * 2, async {
            let mut client = Client::connect(&endpoints, Some(opts.clone())).await?;
            client.member_list().await
        })
        .await;
        let next = match listed {
            Ok(Ok(resp)) => {
                backoff.reset();
                let mut m = Membership {
                    known: true,
                    ..Membership::default()
                };
                let mut specs = Vec::new();
                for mem in resp.members() {
                    let name = if mem.name().is_empty() {
                        format!("{:x}", mem.id())
                    } else {
                        mem.name().to_owned()
                    };
                    let id = MemberId::new(&name);
                    m.by_id.insert(mem.id(), id.clone());
                    for url in mem.client_urls() {
                        m.by_endpoint.insert(normalize_endpoint(url), id.clone());
                    }
                    specs.push(MemberSpec {
                        member: id,
                        voter: !mem.is_learner(),
                    });
                }
                specs.sort_by(|a, b| a.member.cmp(&b.member));
                tx.send_replace(Arc::new(m));
                Some(specs)
            }
            _ if declared.is_none() => {
                // Nobody answers: declare the configured endpoints so the cluster shows as lost.
                let specs = endpoints
                    .iter()
                    .map(|e| MemberSpec {
                        member: MemberId::new(e),
                        voter: true,
                    })
                    .collect();
                Some(specs)
            }
            _ => None,
        };
        if let Some(specs) = next
            && declared.as_ref() != Some(&specs)
        {
            let ok = emitter
                .emit(EventBody::ClusterMembers {
                    cluster: cluster.clone(),
                    cluster_kind: ClusterKind::Etcd,
                    members: specs.clone(),
                })
                .await;
            if !ok {
                return;
            }
            declared = Some(specs);
        }
        let wait = if tx.borrow().known {
            Duration::from_secs(5)
        } else {
            backoff.next_delay().max(Duration::from_millis(100))
        };
        tokio::time::sleep(wait).await;
    }
}

struct Poller {
    index: usize,
    endpoint: String,
    cluster: ClusterId,
    emitter: Emitter,
    members: watch::Receiver<Arc<Membership>>,
    reach: mpsc::Sender<Reach>,
    poll: Duration,
    timeout: Duration,
    opts: ConnectOptions,
    /// The TLS settings, for words about a refused connection.
    tls: Option<crate::sources::TlsSettings>,
    last_name: Option<MemberId>,
    /// The member's raft index and database size tick with every write: a status that
    /// differs only by them is held (`volatile.rs`).
    settle: super::volatile::Settle,
    /// When this poller last sent anything.
    said_at: tokio::time::Instant,
}

impl Poller {
    fn name_for_endpoint(&self) -> MemberId {
        let m = self.members.borrow();
        m.by_endpoint
            .get(&self.endpoint)
            .cloned()
            .or_else(|| self.last_name.clone())
            .unwrap_or_else(|| MemberId::new(&self.endpoint))
    }

    async fn report_unreachable(&mut self, error: String) -> bool {
        self.settle.clear();
        self.said_at = tokio::time::Instant::now();
        let status = MemberStatus {
            member: self.name_for_endpoint(),
            endpoint: Some(self.endpoint.clone()),
            reachable: false,
            voter: true,
            error: Some(error.clone()),
            ..MemberStatus::default()
        };
        self.reach
            .send(Reach {
                index: self.index,
                reachable: false,
                error: Some(format!("{error} ({})", self.endpoint)),
            })
            .await
            .ok();
        self.emitter
            .emit(EventBody::MemberStatus {
                cluster: self.cluster.clone(),
                cluster_kind: ClusterKind::Etcd,
                status,
            })
            .await
    }

    async fn run(mut self) {
        let seed = 0x9e37 ^ self.index as u64;
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5), seed);
        loop {
            let connected = tokio::time::timeout(
                self.timeout,
                Client::connect([&self.endpoint], Some(self.opts.clone())),
            )
            .await;
            let client = match connected {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    if !self
                        .report_unreachable(crate::sources::error_words_for(&e, self.tls.as_ref()))
                        .await
                    {
                        return;
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
                Err(_) => {
                    if !self
                        .report_unreachable(format!(
                            "connect timed out after {} ms",
                            self.timeout.as_millis()
                        ))
                        .await
                    {
                        return;
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            };
            match self.session(client, &mut backoff).await {
                Some(error) => {
                    if !self.report_unreachable(error).await {
                        return;
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                None => return,
            }
        }
    }

    /// Polls over one connection until it fails (returns the error) or the engine stops (`None`).
    async fn session(&mut self, mut client: Client, backoff: &mut Backoff) -> Option<String> {
        let mut stream =
            tokio::time::timeout(self.timeout, client.watch("switchboard/.probe", None))
                .await
                .ok()
                .and_then(Result::ok);
        let mut ticker = tokio::time::interval(self.poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut polls: u64 = 0;
        let mut alarms: Vec<String> = Vec::new();
        loop {
            // Wait for the next tick, or for the watch stream to break (the member died).
            let broke = if let Some(s) = stream.as_mut() {
                tokio::select! {
                    _ = ticker.tick() => false,
                    msg = s.message() => !matches!(msg, Ok(Some(_))),
                }
            } else {
                ticker.tick().await;
                false
            };
            if broke {
                stream = None;
            }
            let status = match tokio::time::timeout(self.timeout, client.status()).await {
                Ok(Ok(s)) => s,
                // The channel's own deadline says only "Timeout expired": the same
                // silence as ours, in the same words.
                Ok(Err(e)) if e.to_string().contains("Timeout expired") => {
                    return Some(format!(
                        "status timed out after {} ms",
                        self.timeout.as_millis()
                    ));
                }
                Ok(Err(e)) => return Some(crate::sources::error_words_for(&e, self.tls.as_ref())),
                Err(_) => {
                    return Some(format!(
                        "status timed out after {} ms",
                        self.timeout.as_millis()
                    ));
                }
            };
            let member_id = status
                .header()
                .map_or(0, etcd_client::ResponseHeader::member_id);
            if polls.is_multiple_of(4)
                && let Ok(Ok(resp)) = tokio::time::timeout(
                    self.timeout,
                    client.alarm(AlarmAction::Get, AlarmType::None, None),
                )
                .await
            {
                alarms = resp
                    .alarms()
                    .iter()
                    .filter(|a| a.member_id() == member_id)
                    .map(|a| format!("{:?}", a.alarm()).to_uppercase())
                    .collect();
            }
            polls += 1;
            backoff.reset();
            let (name, leader) = {
                let m = self.members.borrow();
                let name = m
                    .by_id
                    .get(&member_id)
                    .cloned()
                    .unwrap_or_else(|| self.name_for_endpoint());
                let leader = match status.leader() {
                    0 => None,
                    id => Some(
                        m.by_id
                            .get(&id)
                            .cloned()
                            .unwrap_or_else(|| MemberId::new(format!("{id:x}"))),
                    ),
                };
                (name, leader)
            };
            self.last_name = Some(name.clone());
            let errors = status.errors().join("; ");
            let ms = MemberStatus {
                member: name,
                endpoint: Some(self.endpoint.clone()),
                reachable: true,
                voter: !status.is_learner(),
                // A member that reports "no leader" has none, whatever the field says.
                leader: if errors.contains("no leader") {
                    None
                } else {
                    leader
                },
                term: status.raft_term(),
                index: status.raft_index(),
                db_size_bytes: u64::try_from(status.db_size()).ok(),
                alarms: alarms.clone(),
                error: (!errors.is_empty()).then_some(errors),
            };
            self.reach
                .send(Reach {
                    index: self.index,
                    reachable: true,
                    error: None,
                })
                .await
                .ok();
            let event = EventBody::MemberStatus {
                cluster: self.cluster.clone(),
                cluster_kind: ClusterKind::Etcd,
                status: ms,
            };
            let ok = if self.settle.pass(&event, false) {
                self.said_at = tokio::time::Instant::now();
                self.emitter.emit(event).await
            } else if self.said_at.elapsed() >= Duration::from_secs(1) {
                // Held, but alive: a heartbeat, so the source is not taken for stale.
                self.said_at = tokio::time::Instant::now();
                self.emitter.status(SourceStatus::Up, None).await
            } else {
                true
            };
            if !ok {
                return None;
            }
            if stream.is_none() && polls.is_multiple_of(8) {
                stream =
                    tokio::time::timeout(self.timeout, client.watch("switchboard/.probe", None))
                        .await
                        .ok()
                        .and_then(Result::ok);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_normalized() {
        assert_eq!(
            normalize_endpoint("127.0.0.1:2379"),
            "http://127.0.0.1:2379"
        );
        assert_eq!(normalize_endpoint("https://a:1/"), "https://a:1");
    }

    #[test]
    fn auth_needs_both_variables() {
        let mut cfg = EtcdConfig::new("x", vec!["a:1".into()]);
        cfg.username_env = Some("SWITCHBOARD_TEST_UNSET_USER".into());
        assert!(options(&cfg).is_err());
        cfg.password_env = Some("SWITCHBOARD_TEST_UNSET_PASS".into());
        let err = options(&cfg).err().unwrap_or_default();
        assert!(err.contains("SWITCHBOARD_TEST_UNSET_USER"), "{err}");
    }
}
