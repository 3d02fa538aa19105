//! etcd member removal (`etcd-remove`, target `etcd-source/member`): take a dead member
//! out of the cluster's membership, so the quorum is counted on the members that are
//! left (a 3-member cluster with one dead member tolerates no further loss; once it is
//! removed, the two that are left form a 2-member cluster until a replacement is added).
//!
//! Guards besides the common ones: the member is down (it does not answer; a human may
//! override this to decommission a live one), and quorum after: the members that are
//! left and answer are a majority of the membership without it. The removal goes to a
//! member that answers; it is verified when the member list no longer has it.

use std::time::Duration;

use etcd_client::Client;

use super::target::{self, BoxFuture, Found, OnDrill, Reach, TargetKind};
use super::{Context, Detail, GuardResult, Kind, Plan, Report, WorkflowError};
use crate::config::{Environment, SourceConfig};
use crate::sources::etcd::{EtcdConfig, normalize_endpoint, options};
use crate::time::Timestamp;

/// A removal as planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removal {
    /// The etcd source.
    pub source: String,
    /// The member's name.
    pub member: String,
    /// Its id.
    pub id: u64,
}

fn config<'a>(ctx: &'a Context<'_>, name: &str) -> Result<&'a EtcdConfig, WorkflowError> {
    super::source(ctx, "etcd", name, |s| match s {
        SourceConfig::Etcd(e) if e.name == name => Some(e),
        _ => None,
    })
}

/// Whether the member at `url` answers a status request within `timeout`.
async fn answers(cfg: &EtcdConfig, url: &str, timeout: Duration) -> bool {
    let ask = async {
        let mut c = Client::connect([normalize_endpoint(url)], Some(options(cfg)?))
            .await
            .map_err(|e| e.to_string())?;
        c.status().await.map_err(|e| e.to_string())
    };
    matches!(tokio::time::timeout(timeout, ask).await, Ok(Ok(_)))
}

/// A client on the endpoints that answer.
async fn client(cfg: &EtcdConfig, timeout: Duration) -> Result<Client, WorkflowError> {
    let eps: Vec<String> = cfg
        .endpoints
        .iter()
        .map(|e| normalize_endpoint(e))
        .collect();
    let opts = options(cfg).map_err(WorkflowError::Target)?;
    tokio::time::timeout(timeout, Client::connect(eps, Some(opts)))
        .await
        .map_err(|_| WorkflowError::Target("etcd: no endpoint answers".into()))?
        .map_err(|e| WorkflowError::Target(format!("etcd: {e}")))
}

/// The plan of removing `target` = `etcd-source/member`.
pub(super) async fn plan(ctx: &Context<'_>, target: &str) -> Result<Plan, WorkflowError> {
    let (source, member) = target
        .split_once('/')
        .filter(|(s, m)| !s.is_empty() && !m.is_empty() && !m.contains('/'))
        .ok_or_else(|| {
            WorkflowError::Usage(format!("target {target:?} is not etcd-source/member"))
        })?;
    let cfg = config(ctx, source)?;
    let c = client(cfg, ctx.timeout).await?;
    let list = tokio::time::timeout(
        ctx.timeout * 3,
        super::lock::again(|| {
            let mut c = c.clone();
            async move { c.member_list().await }
        }),
    )
    .await
    .map_err(|_| WorkflowError::Target("etcd: the member list did not come".into()))?
    .map_err(|e| WorkflowError::Target(format!("etcd member list: {e}")))?;
    let members = list.members();
    let me = members.iter().find(|m| m.name() == member).ok_or_else(|| {
        WorkflowError::Target(format!(
            "{member} is not a member of {source} (members: {})",
            members
                .iter()
                .map(etcd_client::Member::name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let mut up = Vec::new();
    for m in members {
        let alive = match m.client_urls().first() {
            Some(url) => answers(cfg, url, ctx.timeout).await,
            None => false,
        };
        up.push((m.name().to_owned(), alive));
    }
    let me_up = up.iter().any(|(n, a)| n == member && *a);
    let left = members.len() - 1;
    let left_up = up.iter().filter(|(n, a)| n != member && *a).count();
    let needed = left / 2 + 1;
    let now = ctx.clock.now();
    let mut guards = super::common_guards(ctx, target, now).await?;
    guards.push(GuardResult {
        name: "member is down",
        ok: !me_up,
        reason: if me_up {
            format!("{member} answers: removing a live member takes a voter away (override to decommission it)")
        } else {
            format!("{member} does not answer")
        },
    });
    guards.push(GuardResult {
        name: "quorum after",
        ok: left > 0 && left_up >= needed,
        reason: format!("without {member}: {left_up} of {left} member(s) answer, {needed} needed"),
    });
    Ok(Plan {
        kind: Kind::EtcdRemove,
        target: target.to_owned(),
        confirm_as: member.to_owned(),
        environment: ctx.environment.name.clone(),
        before: format!(
            "{} members: {}",
            members.len(),
            up.iter()
                .map(|(n, a)| format!("{n} {}", if *a { "up" } else { "down" }))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        steps: vec![
            format!("etcd MemberRemove {member} (id {:x}) through a member that answers", me.id()),
            "verify: the member list no longer has it (up to 10 s); add a replacement with `member add`".to_owned(),
        ],
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::EtcdMember(Removal {
            source: source.to_owned(),
            member: member.to_owned(),
            id: me.id(),
        }),
    })
}

/// The run of a plan whose checks passed, under the target's lock (taken by the caller).
pub(super) async fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    r: &Removal,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let cfg = config(ctx, &r.source)?;
    let c = client(cfg, ctx.timeout).await?;
    let journaled = super::Journaled::start(ctx, plan, operator, confirmed)?;
    let action = format!("member remove {} ({:x})", r.member, r.id);
    let mut lines = Vec::new();
    if let Some(rep) = journaled.checkpoint(&action, &mut lines)? {
        return Ok(rep);
    }
    journaled.step("before", &action, "pending", &plan.before)?;
    let removed = tokio::time::timeout(
        ctx.timeout * 3,
        super::lock::again(|| {
            let mut c = c.clone();
            async move { c.member_remove(r.id).await }
        }),
    )
    .await
    .map_err(|_| "etcd did not answer".to_owned())
    .and_then(|x| x.map_err(|e| e.to_string()));
    journaled.step(
        "after",
        &action,
        if removed.is_ok() { "ok" } else { "failed" },
        removed.as_ref().err().map_or("", String::as_str),
    )?;
    if let Err(e) = removed {
        return journaled.needs_human(lines, format!("{action} failed: {e}"));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut effect = None;
    let mut seen = String::new();
    while tokio::time::Instant::now() < deadline {
        let listed = super::lock::again(|| {
            let mut c = c.clone();
            async move { c.member_list().await }
        });
        if let Ok(Ok(list)) = tokio::time::timeout(ctx.timeout, listed).await {
            let names: Vec<&str> = list
                .members()
                .iter()
                .map(etcd_client::Member::name)
                .collect();
            seen = names.join(", ");
            if !names.contains(&r.member.as_str()) {
                effect = Some(ctx.clock.now());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    journaled.verified(
        &format!("{} not in the member list", r.member),
        &seen,
        effect,
        confirmed,
        lines,
        format!(
            "verified: members now {seen}; add a replacement with `member add` when it is ready"
        ),
        format!("NOT verified within 10 s: members {seen}; a human must look"),
    )
}

/// The etcd member target kind (`etcd-source/member`).
pub struct EtcdMemberTarget;

impl TargetKind for EtcdMemberTarget {
    const NAME: &'static str = "etcd member";
    const SYNTAX: &'static str = "etcd-source/member";
    const KINDS: &'static [Kind] = &[Kind::EtcdRemove];
    const DRILL: OnDrill = OnDrill::No(
        "the drill's etcd members are simulated: losing and regaining them is its scenario, removing one is not practised",
    );
    type Detail = Removal;

    fn owns(env: &Environment, target: &str) -> bool {
        target::owned_by_source(env, target, 2..=2, |s| matches!(s, SourceConfig::Etcd(_)))
    }

    fn plan<'a>(
        ctx: &'a Context<'_>,
        _kind: Kind,
        target: &'a str,
    ) -> BoxFuture<'a, Result<Plan, WorkflowError>> {
        Box::pin(plan(ctx, target))
    }

    fn run<'a>(
        ctx: &'a Context<'_>,
        plan: &'a Plan,
        detail: &'a Removal,
        confirmed: Timestamp,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<Report, WorkflowError>> {
        target::under_lock(
            ctx,
            plan,
            operator,
            execute(ctx, plan, detail, confirmed, operator),
        )
    }

    fn inverse(kind: Kind, _before: &str) -> Result<Kind, String> {
        match kind {
            Kind::EtcdRemove => Err(
                "a removed etcd member comes back with `member add` and an empty data dir"
                    .to_owned(),
            ),
            other => Err(format!("{} is not an etcd workflow", other.as_str())),
        }
    }

    fn offers<'a>(_at: &'a Reach<'a>) -> BoxFuture<'a, Found> {
        // Removing a member is for a dead one the operator names (`status` lists them);
        // nothing is offered unasked.
        Box::pin(async { Found::default() })
    }
}
