//! Patroni switchover and failover: hand the primary role to a named replica through
//! Patroni's REST API, then verify that exactly one server takes writes and that it is
//! the candidate.
//!
//! A switchover needs a healthy leader and is posted to it (`/switchover`); a failover
//! is for when there is none (the leader's server is down, the cluster is paused so
//! Patroni does not act by itself) and is posted to the candidate (`/failover`). Each
//! refuses where the other is the right tool. Guards besides the common ones: a
//! candidate that is a running replica, and replication lag within [`MAX_LAG_BYTES`]
//! (Patroni's own `maximum_lag_on_failover` default): promoting a lagging replica loses
//! the writes it has not received.
//!
//! Verification asks every member's PostgreSQL (`pg_is_in_recovery()`) when the
//! source has `dsn_env`, else each member's own `/patroni` role; it waits up to 60 s.
//! Nothing is rolled back automatically: a half-done switchover is handed to a human
//! with each member's state.

use std::time::Duration;

use super::target::{self, BoxFuture, Found, OnDrill, Reach, TargetKind};
use super::{Context, Detail, GuardResult, Kind, Offer, Plan, Report, WorkflowError};
use crate::config::{Environment, SourceConfig};
use crate::model::DbRole;
use crate::sources::patroni::{ClusterView, PatroniConfig, get_text, parse_cluster, parse_member};
use crate::time::Timestamp;

/// The most a candidate may lag, in bytes (Patroni's default `maximum_lag_on_failover`).
pub const MAX_LAG_BYTES: u64 = 1_048_576;
/// How long verification waits for exactly one writable server.
const VERIFY_SECS: u64 = 60;

/// A member as planned: its PostgreSQL's `host:port`, and its REST API base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Name.
    pub name: String,
    /// Its PostgreSQL.
    pub server: Option<(String, u16)>,
    /// Its REST API.
    pub api: Option<String>,
}

/// A switchover as planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    /// The Patroni source.
    pub source: String,
    /// The leader when planned.
    pub leader: String,
    /// The replica to promote.
    pub candidate: String,
    /// Where the request goes: the leader's REST API (switchover) or the candidate's
    /// (failover), base URL.
    pub leader_api: String,
    /// A failover (no healthy leader) rather than a switchover.
    pub failover: bool,
    /// Every member.
    pub members: Vec<Member>,
}

fn config<'a>(ctx: &'a Context<'_>, name: &str) -> Result<&'a PatroniConfig, WorkflowError> {
    super::source(ctx, "patroni", name, |s| match s {
        SourceConfig::Patroni(p) if p.name == name => Some(p),
        _ => None,
    })
}

fn base(api_url: &str) -> String {
    api_url
        .trim_end_matches('/')
        .trim_end_matches("/patroni")
        .to_owned()
}

/// "node9 is not a member (members: node1, node2, node3)".
fn not_a_member(name: &str, cluster: &ClusterView) -> String {
    let names: Vec<&str> = cluster.members.iter().map(|m| m.name.as_str()).collect();
    format!("{name} is not a member (members: {})", names.join(", "))
}

/// `/cluster` from the first member that answers.
pub(super) async fn read_cluster(
    cfg: &PatroniConfig,
    client: &crate::sources::HttpClient,
    timeout: Duration,
) -> Result<ClusterView, WorkflowError> {
    let mut last = String::from("no endpoints configured");
    for ep in &cfg.endpoints {
        let url = format!("{}/cluster", ep.trim_end_matches('/'));
        match get_text(client, &url, timeout).await {
            Ok(text) => match parse_cluster(&text) {
                Ok(c) => return Ok(c),
                Err(e) => last = format!("{e} ({url})"),
            },
            Err(e) => last = e,
        }
    }
    Err(WorkflowError::Target(format!(
        "no member answers /cluster: {last}"
    )))
}

/// The plan of a switchover or failover (`kind`) to `target` = `patroni-source/candidate`.
pub(super) async fn plan(
    ctx: &Context<'_>,
    kind: Kind,
    target: &str,
) -> Result<Plan, WorkflowError> {
    let failover = kind == Kind::Failover;
    let (source, candidate) = target
        .split_once('/')
        .filter(|(s, c)| !s.is_empty() && !c.is_empty() && !c.contains('/'))
        .ok_or_else(|| {
            WorkflowError::Usage(format!("target {target:?} is not patroni-source/candidate"))
        })?;
    let cfg = config(ctx, source)?;
    let client =
        crate::sources::patroni::client(cfg, ctx.timeout).map_err(WorkflowError::Target)?;
    let cluster = read_cluster(cfg, &client, ctx.timeout).await?;
    let now = ctx.clock.now();
    let mut guards = super::common_guards(ctx, target, now).await?;
    if let Some(dcs) = &cfg.dcs {
        let etcd = ctx.environment.source.iter().find_map(|s| match s {
            SourceConfig::Etcd(e) if &e.name == dcs => Some(e),
            _ => None,
        });
        guards.push(match etcd {
            None => GuardResult {
                name: "dcs quorum",
                ok: false,
                reason: format!("the DCS {dcs:?} is not an etcd source of this environment"),
            },
            Some(e) => {
                let (holds, words) = super::lock::quorum_of(e, ctx.timeout).await;
                GuardResult {
                    name: "dcs quorum",
                    ok: holds,
                    reason: format!("{dcs} (the cluster's DCS): {words}"),
                }
            }
        });
    }

    let leader = cluster.members.iter().find(|m| m.role == "leader");
    let leader_own = match leader.and_then(|l| l.api_url.as_deref()) {
        Some(api) => get_text(&client, api, ctx.timeout)
            .await
            .ok()
            .and_then(|t| parse_member(&t).ok()),
        None => None,
    };
    let leader_ok = leader.is_some_and(|l| l.state == "running")
        && leader_own
            .as_ref()
            .is_some_and(|m| m.role == DbRole::Primary);
    let leader_words = match (leader, &leader_own) {
        (None, _) => "the DCS names no leader".to_owned(),
        (Some(l), Some(m)) if leader_ok => format!(
            "{} is running and its own Patroni says {}",
            l.name, m.role_word
        ),
        (Some(l), Some(m)) => format!(
            "{} is {} and its own Patroni says {} {}",
            l.name, l.state, m.role_word, m.state
        ),
        (Some(l), None) => format!("{} is {} and its API does not answer", l.name, l.state),
    };
    guards.push(if failover {
        GuardResult {
            name: "no healthy leader",
            ok: !leader_ok,
            reason: if leader_ok {
                format!("{leader_words}: use a switchover, which lets the leader hand over cleanly")
            } else {
                leader_words
            },
        }
    } else {
        GuardResult {
            name: "healthy leader",
            ok: leader_ok,
            reason: if leader_ok || leader.is_none() {
                if leader.is_none() {
                    format!("{leader_words}: this is a failover, not a switchover")
                } else {
                    leader_words
                }
            } else {
                format!("{leader_words}: use a failover")
            },
        }
    });
    let cand = cluster.members.iter().find(|m| m.name == candidate);
    let cand_ok = cand.is_some_and(|c| {
        (c.role == "replica" || c.role == "sync_standby")
            && (c.state == "running" || c.state == "streaming")
    });
    guards.push(GuardResult {
        name: "candidate",
        ok: cand_ok,
        reason: match cand {
            None => not_a_member(candidate, &cluster),
            Some(c) => format!("{candidate} is {} and {}", c.role, c.state),
        },
    });
    let lag = cand.and_then(|c| c.lag_bytes);
    guards.push(GuardResult {
        name: "replication lag",
        ok: lag.is_some_and(|l| l <= MAX_LAG_BYTES),
        reason: match lag {
            Some(l) => format!("{candidate} lags {l} bytes (limit {MAX_LAG_BYTES})"),
            None => format!("{candidate}'s lag is unknown: not promoted blind"),
        },
    });
    let leader_name = leader.map(|l| l.name.clone()).unwrap_or_default();
    let leader_api = if failover {
        cand.and_then(|c| c.api_url.as_deref())
    } else {
        leader.and_then(|l| l.api_url.as_deref())
    }
    .map(base)
    .unwrap_or_default();
    let post = if failover {
        format!("POST {leader_api}/failover {{\"candidate\": \"{candidate}\"}}")
    } else {
        format!(
            "POST {leader_api}/switchover {{\"leader\": \"{leader_name}\", \"candidate\": \"{candidate}\"}}"
        )
    };
    let how = if cfg.dsn_env.is_some() {
        "every member's PostgreSQL (pg_is_in_recovery())"
    } else {
        "every member's own Patroni role (no dsn_env: the servers are not asked)"
    };
    Ok(Plan {
        kind,
        target: target.to_owned(),
        confirm_as: candidate.to_owned(),
        environment: ctx.environment.name.clone(),
        before: if leader_name.is_empty() {
            "no leader".to_owned()
        } else if leader_ok {
            format!("primary {leader_name}")
        } else {
            format!("leader {leader_name}, not healthy")
        },
        steps: vec![
            post,
            format!(
                "verify: exactly one server takes writes and it is {candidate}, asking {how} (up to {VERIFY_SECS} s); else a human takes over"
            ),
        ],
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::Patroni(Planned::Switch(Switch {
            source: source.to_owned(),
            leader: leader_name,
            candidate: candidate.to_owned(),
            leader_api,
            failover,
            members: cluster
                .members
                .iter()
                .map(|m| Member {
                    name: m.name.clone(),
                    server: m.host.clone().zip(m.port),
                    api: m.api_url.as_deref().map(base),
                })
                .collect(),
        })),
    })
}

/// Re-reads the cluster (refusing when the leader changed) and runs the switchover.
pub(super) async fn run(
    ctx: &Context<'_>,
    plan: &Plan,
    sw: &Switch,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let cfg = config(ctx, &sw.source)?;
    let client =
        crate::sources::patroni::client(cfg, ctx.timeout).map_err(WorkflowError::Target)?;
    let now = read_cluster(cfg, &client, ctx.timeout).await?;
    if now.leader().unwrap_or_default() != sw.leader {
        let name = |l: &str| {
            if l.is_empty() {
                "none".to_owned()
            } else {
                l.to_owned()
            }
        };
        return Err(WorkflowError::Refused(format!(
            "the target changed since the plan: the leader was {}, is {}; plan again",
            name(&sw.leader),
            name(now.leader().unwrap_or_default())
        )));
    }
    Box::pin(super::locked(
        ctx,
        plan,
        operator,
        execute(ctx, plan, sw, cfg, &client, confirmed, operator),
    ))
    .await
}

/// How verification asks a member whether it takes writes.
enum Asker {
    /// Its PostgreSQL, over one connection kept for the whole verification.
    Server(Box<crate::sources::pg::PgConn>),
    /// Its own Patroni role (no `dsn_env`).
    Agent(String),
    /// Neither is known.
    Unknown,
}

/// Every member's asker, made once per run.
fn askers(sw: &Switch, cfg: &PatroniConfig) -> Vec<(String, Asker)> {
    let dsn = cfg
        .dsn_env
        .as_ref()
        .and_then(|v| std::env::var(v).ok())
        .and_then(|d| crate::sources::pg::PgConn::new(&d).ok());
    sw.members
        .iter()
        .map(|Member { name, server, api }| {
            let asker = match (&dsn, server, api) {
                (Some(base), Some((host, port)), _) => {
                    Asker::Server(Box::new(base.at(host, *port)))
                }
                (_, _, Some(api)) => Asker::Agent(api.clone()),
                _ => Asker::Unknown,
            };
            (name.clone(), asker)
        })
        .collect()
}

/// Who takes writes now: (member, writable).
async fn writers(
    askers: &mut [(String, Asker)],
    client: &crate::sources::HttpClient,
    timeout: Duration,
) -> Vec<(String, Result<bool, String>)> {
    let mut out = Vec::new();
    for (name, asker) in askers.iter_mut() {
        let answer = match asker {
            Asker::Server(conn) => conn.poll(timeout).await.map(|s| !s.in_recovery),
            Asker::Agent(api) => get_text(client, &format!("{api}/patroni"), timeout)
                .await
                .and_then(|t| parse_member(&t).map_err(|e| e.to_string()))
                .map(|m| m.role == DbRole::Primary),
            Asker::Unknown => Err("neither its server nor its API is known".to_owned()),
        };
        out.push((name.clone(), answer));
    }
    out
}

/// Whether `answers` (each member: takes writes, or why it could not be asked) show
/// the switch done: exactly one server takes writes, the candidate, and in a
/// switchover the old leader answered read-only. An old leader that cannot be asked
/// may still take writes (a split brain is not excluded), so it does not count as
/// done; after a failover it is the member that was down, and is not waited for.
fn switched(sw: &Switch, answers: &[(String, Result<bool, String>)]) -> bool {
    let writable: Vec<&str> = answers
        .iter()
        .filter(|(_, w)| matches!(w, Ok(true)))
        .map(|(n, _)| n.as_str())
        .collect();
    let old_leader_read_only = sw.failover
        || sw.leader.is_empty()
        || answers
            .iter()
            .any(|(n, w)| *n == sw.leader && matches!(w, Ok(false)));
    writable == [sw.candidate.as_str()] && old_leader_read_only
}

async fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    sw: &Switch,
    cfg: &PatroniConfig,
    client: &crate::sources::HttpClient,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let journaled = super::Journaled::start(ctx, plan, operator, confirmed)?;
    let action = if sw.failover {
        format!("failover to {}", sw.candidate)
    } else {
        format!("switchover {} -> {}", sw.leader, sw.candidate)
    };
    if let Some(r) = journaled.checkpoint(&action, &mut Vec::new())? {
        return Ok(r);
    }
    journaled.step("before", &action, "pending", &plan.before)?;
    let (path, body) = if sw.failover {
        ("failover", serde_json::json!({"candidate": sw.candidate}))
    } else {
        (
            "switchover",
            serde_json::json!({"leader": sw.leader, "candidate": sw.candidate}),
        )
    };
    let asked = std::time::Instant::now();
    let url = format!("{}/{path}", sw.leader_api);
    let posted = client
        .request(reqwest::Method::POST, &url)
        .map_err(WorkflowError::Target)?
        .timeout(Duration::from_secs(VERIFY_SECS))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await;
    let (ok, said) = match posted {
        Ok(r) => {
            let status = r.status();
            let text = client.body(r, ctx.timeout).await.unwrap_or_default();
            let words = crate::sources::refusal_words(status.as_u16(), &url)
                .map_or_else(String::new, |w| format!("{w}; "));
            (
                status.is_success(),
                format!(
                    "{words}HTTP {status} after {} ms: {}",
                    asked.elapsed().as_millis(),
                    text.trim()
                ),
            )
        }
        Err(e) => (false, client.describe(&e, ctx.timeout)),
    };
    journaled.step("after", &action, if ok { "ok" } else { "failed" }, &said)?;
    let mut lines = vec![format!("Patroni: {said}")];
    if !ok {
        journaled.finish("needs_human")?;
        return Ok(Report {
            run: journaled.id,
            outcome: "needs_human".into(),
            effect_millis: None,
            lines,
        });
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(VERIFY_SECS);
    let mut askers = askers(sw, cfg);
    let mut last = Vec::new();
    let mut effect = None;
    while tokio::time::Instant::now() < deadline {
        last = writers(&mut askers, client, ctx.timeout).await;
        if switched(sw, &last) {
            effect = Some(ctx.clock.now());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let states = last
        .iter()
        .map(|(n, w)| match w {
            Ok(true) => format!("{n} takes writes"),
            Ok(false) => format!("{n} read-only"),
            Err(e) => format!("{n} unknown ({e})"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let verified = effect.is_some();
    journaled.step(
        "verify",
        &format!("exactly one writable: {}", sw.candidate),
        if verified { "ok" } else { "failed" },
        &states,
    )?;
    let outcome = if verified { "done" } else { "needs_human" };
    journaled.finish(outcome)?;
    lines.push(if verified {
        format!("verified: {states}")
    } else {
        format!("NOT verified within {VERIFY_SECS} s: {states}; a human must look")
    });
    Ok(Report {
        run: journaled.id,
        outcome: outcome.into(),
        effect_millis: effect.map(|e| e.millis_since(confirmed)),
        lines,
    })
}

/// A database member's reintegration as planned: `member` of the Patroni source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejoin {
    /// The Patroni source.
    pub source: String,
    /// The member that should come back as a replica.
    pub member: String,
}

/// The plan of reintegrating a database member (an old primary after a failover): it
/// must come back as a streaming replica of the current leader, within the lag limit.
/// Patroni does the rejoin (with `pg_rewind`); this verifies it, and says so loudly when
/// it does not happen.
pub(super) async fn rejoin_plan(ctx: &Context<'_>, target: &str) -> Result<Plan, WorkflowError> {
    let (source, member) = target.split_once('/').ok_or_else(|| {
        WorkflowError::Usage(format!("target {target:?} is not patroni-source/member"))
    })?;
    let cfg = config(ctx, source)?;
    let client =
        crate::sources::patroni::client(cfg, ctx.timeout).map_err(WorkflowError::Target)?;
    let cluster = read_cluster(cfg, &client, ctx.timeout).await?;
    let m = cluster
        .members
        .iter()
        .find(|m| m.name == member)
        .ok_or_else(|| WorkflowError::Target(not_a_member(member, &cluster)))?;
    let now = ctx.clock.now();
    let mut guards = super::common_guards(ctx, target, now).await?;
    guards.push(GuardResult {
        name: "not the leader",
        ok: m.role != "leader",
        reason: format!("{member} is {} ({})", m.role, m.state),
    });
    Ok(Plan {
        kind: Kind::Reintegrate,
        target: target.to_owned(),
        confirm_as: member.to_owned(),
        environment: ctx.environment.name.clone(),
        before: format!(
            "{} {}{}",
            m.role,
            m.state,
            m.lag_bytes
                .map(|l| format!(", lag {l} bytes"))
                .unwrap_or_default()
        ),
        steps: vec![format!(
            "verify: {member} is a running replica of {} within {MAX_LAG_BYTES} bytes of lag (up to {VERIFY_SECS} s); else NOT A REPLICA, loudly: a human rewinds or reinitializes it",
            cluster.leader().unwrap_or("the leader")
        )],
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::Patroni(Planned::Rejoin(Rejoin {
            source: source.to_owned(),
            member: member.to_owned(),
        })),
    })
}

/// Waits until the member is a running replica within the lag limit.
pub(super) async fn rejoin_execute(
    ctx: &Context<'_>,
    plan: &Plan,
    rj: &Rejoin,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let cfg = config(ctx, &rj.source)?;
    let client =
        crate::sources::patroni::client(cfg, ctx.timeout).map_err(WorkflowError::Target)?;
    let journaled = super::Journaled::start(ctx, plan, operator, confirmed)?;
    let what = format!("{} rejoins as a replica", rj.member);
    let mut lines = Vec::new();
    if let Some(r) = journaled.checkpoint(&what, &mut lines)? {
        return Ok(r);
    }
    journaled.step("before", &what, "pending", &plan.before)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(VERIFY_SECS);
    let (mut seen, mut effect) = (String::new(), None);
    while tokio::time::Instant::now() < deadline {
        if let Ok(c) = read_cluster(cfg, &client, ctx.timeout).await
            && let Some(m) = c.members.iter().find(|m| m.name == rj.member)
        {
            seen = format!(
                "{} {}{}",
                m.role,
                m.state,
                m.lag_bytes
                    .map(|l| format!(", lag {l} bytes"))
                    .unwrap_or_default()
            );
            let replica = m.role == "replica" || m.role == "sync_standby";
            let running = m.state == "running" || m.state == "streaming";
            if replica && running && m.lag_bytes.is_some_and(|l| l <= MAX_LAG_BYTES) {
                effect = Some(ctx.clock.now());
                break;
            }
        }
        if ctx.control.stopped().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    journaled.verified(
        &what,
        &seen,
        effect,
        confirmed,
        lines,
        format!("verified: {} is back as a replica ({seen})", rj.member),
        format!(
            "NOT A REPLICA: {} is {seen} after {VERIFY_SECS} s; it did not rejoin. A human must look: pg_rewind, or Patroni's POST /reinitialize (rebuilds it from the leader; not done automatically)",
            rj.member
        ),
    )
}

/// What a Patroni plan acts on: a change of primary, or a member's return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Planned {
    /// A switchover or failover.
    Switch(Switch),
    /// A member verified back as a replica (`reintegrate`).
    Rejoin(Rejoin),
}

/// The Patroni member target kind (`patroni-source/member`).
pub struct PatroniTarget;

impl TargetKind for PatroniTarget {
    const NAME: &'static str = "Patroni member";
    const SYNTAX: &'static str = "patroni-source/member";
    const KINDS: &'static [Kind] = &[Kind::Switchover, Kind::Failover, Kind::Reintegrate];
    const DRILL: OnDrill = OnDrill::Practised;
    type Detail = Planned;

    fn owns(env: &Environment, target: &str) -> bool {
        target::owned_by_source(env, target, 2..=2, |s| {
            matches!(s, SourceConfig::Patroni(_))
        })
    }

    fn plan<'a>(
        ctx: &'a Context<'_>,
        kind: Kind,
        target: &'a str,
    ) -> BoxFuture<'a, Result<Plan, WorkflowError>> {
        if kind == Kind::Reintegrate {
            Box::pin(rejoin_plan(ctx, target))
        } else {
            Box::pin(plan(ctx, kind, target))
        }
    }

    fn run<'a>(
        ctx: &'a Context<'_>,
        plan: &'a Plan,
        detail: &'a Planned,
        confirmed: Timestamp,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<Report, WorkflowError>> {
        match detail {
            Planned::Switch(sw) => Box::pin(run(ctx, plan, sw, confirmed, operator)),
            Planned::Rejoin(rj) => Box::pin(super::locked(
                ctx,
                plan,
                operator,
                rejoin_execute(ctx, plan, rj, confirmed, operator),
            )),
        }
    }

    fn inverse(kind: Kind, before: &str) -> Result<Kind, String> {
        match kind {
            Kind::Switchover | Kind::Failover => Err(format!(
                "a switchover or failover is undone by a switchover back ({before}); plan it, the run stays as it is"
            )),
            Kind::Reintegrate => Err(
                "a member's return as a replica has no inverse: it changes nothing on the cluster"
                    .to_owned(),
            ),
            other => Err(format!("{} is not a Patroni workflow", other.as_str())),
        }
    }

    fn offers<'a>(at: &'a Reach<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let mut found = Found::default();
            for s in &at.environment.source {
                let SourceConfig::Patroni(p) = s else {
                    continue;
                };
                let client = match crate::sources::patroni::client(p, at.timeout) {
                    Ok(c) => c,
                    Err(e) => {
                        found.1.push(format!("{}: {e}", p.name));
                        continue;
                    }
                };
                match read_cluster(p, &client, at.timeout).await {
                    Err(e) => found.1.push(format!("{}: {e}", p.name)),
                    Ok(c) => {
                        for m in c.members.iter().filter(|m| m.role != "leader") {
                            found.0.push(Offer {
                                kind: Kind::Switchover,
                                target: format!("{}/{}", p.name, m.name),
                                label: format!(
                                    "switchover {}: make {} ({}) the primary",
                                    p.name, m.name, m.role
                                ),
                                instance: None,
                            });
                            found.0.push(Offer {
                                kind: Kind::Failover,
                                target: format!("{}/{}", p.name, m.name),
                                label: format!(
                                    "failover {}: promote {} ({}); the leader is not healthy",
                                    p.name, m.name, m.role
                                ),
                                instance: None,
                            });
                        }
                    }
                }
            }
            found
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sw(failover: bool) -> Switch {
        Switch {
            source: "pg".into(),
            leader: "node1".into(),
            candidate: "node2".into(),
            leader_api: "http://127.0.0.1:8001".into(),
            failover,
            members: Vec::new(),
        }
    }

    fn answers(node1: Result<bool, String>) -> Vec<(String, Result<bool, String>)> {
        vec![
            ("node1".into(), node1),
            ("node2".into(), Ok(true)),
            ("node3".into(), Err("no answer within 2000 ms".into())),
        ]
    }

    #[test]
    fn a_switchover_is_done_only_once_the_old_leader_is_seen_read_only() {
        assert!(switched(&sw(false), &answers(Ok(false))));
        assert!(
            !switched(&sw(false), &answers(Err("no answer within 2000 ms".into()))),
            "an old leader that cannot be asked may still take writes"
        );
        assert!(!switched(&sw(false), &answers(Ok(true))), "two writers");
        assert!(
            switched(&sw(true), &answers(Err("connection refused".into()))),
            "after a failover the old leader is the member that was down"
        );
    }
}
