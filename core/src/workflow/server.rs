//! Workflows on an HAProxy server through the runtime API: `drain`, `maint`, `ready`.
//! The plan reads the backend fresh (`show stat`); the run re-reads the server, sends
//! one `set server ... state ...`, and verifies it on HAProxy, putting it back when it
//! does not show within 10 s.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::{Context, Detail, GuardResult, Kind, Plan, Report, WorkflowError};
use crate::config::{Environment, SourceConfig};
use crate::sources::haproxy::{RowKind, StatRow, parse_stat_csv, runtime_command};
use crate::time::Timestamp;

/// `gateway/backend/server`: an HAProxy source's name, a backend, a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The HAProxy source's name.
    pub gateway: String,
    /// Backend.
    pub backend: String,
    /// Server.
    pub server: String,
}

impl Target {
    /// Parses `gateway/backend/server`.
    pub fn parse(s: &str) -> Result<Self, WorkflowError> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts[..] {
            [g, b, srv] if !g.is_empty() && !b.is_empty() && !srv.is_empty() => Ok(Self {
                gateway: g.to_owned(),
                backend: b.to_owned(),
                server: srv.to_owned(),
            }),
            _ => Err(WorkflowError::Usage(format!(
                "target {s:?} is not gateway/backend/server"
            ))),
        }
    }

    /// What the operator types to confirm: `backend/server`.
    pub fn confirm_name(&self) -> String {
        format!("{}/{}", self.backend, self.server)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.gateway, self.backend, self.server)
    }
}

pub(super) fn socket_of(env: &Environment, gateway: &str) -> Result<String, WorkflowError> {
    env.source
        .iter()
        .find_map(|s| match s {
            SourceConfig::Haproxy(h) if h.name == gateway => Some(h.socket.clone()),
            _ => None,
        })
        .ok_or_else(|| {
            WorkflowError::Usage(format!(
                "no haproxy source named {gateway:?} in environment {:?}",
                env.name
            ))
        })?
        .ok_or_else(|| {
            WorkflowError::Usage(format!(
                "the haproxy source {gateway:?} has no runtime socket; workflows need `socket`"
            ))
        })
}

pub(super) async fn backend_rows(
    socket: &str,
    backend: &str,
    timeout: Duration,
) -> Result<Vec<StatRow>, WorkflowError> {
    let text = runtime_command(socket, "show stat", timeout)
        .await
        .map_err(WorkflowError::Target)?;
    let rows = parse_stat_csv(&text).map_err(|e| WorkflowError::Target(e.to_string()))?;
    Ok(rows
        .into_iter()
        .filter(|r| r.proxy == backend && r.kind == RowKind::Server)
        .collect())
}

pub(super) fn takes_traffic(status: &str) -> bool {
    status.starts_with("UP") || status == "no check"
}

/// The plan for `kind` on an HAProxy server: a fresh read and every guard.
pub(super) async fn plan(
    ctx: &Context<'_>,
    kind: Kind,
    target: &Target,
) -> Result<Plan, WorkflowError> {
    let socket = socket_of(ctx.environment, &target.gateway)?;
    let rows = backend_rows(&socket, &target.backend, ctx.timeout).await?;
    let me = rows
        .iter()
        .find(|r| r.name == target.server)
        .ok_or_else(|| {
            WorkflowError::Target(format!(
                "no server {} in backend {} of {} (servers: {})",
                target.server,
                target.backend,
                target.gateway,
                rows.iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let now = ctx.clock.now();
    let mut guards = super::common_guards(ctx, &target.to_string(), now).await?;
    let others_serving = rows
        .iter()
        .filter(|r| r.name != target.server && !r.backup && takes_traffic(&r.status))
        .count();
    let removes = matches!(kind, Kind::Drain | Kind::Maint) && takes_traffic(&me.status);
    guards.push(GuardResult {
        name: "last healthy",
        ok: !removes || others_serving > 0,
        reason: if removes {
            format!(
                "{others_serving} other server(s) of {} take traffic",
                target.backend
            )
        } else {
            "the server is not taking traffic now; nothing is removed".into()
        },
    });
    Ok(Plan {
        kind,
        target: target.to_string(),
        confirm_as: target.confirm_name(),
        environment: ctx.environment.name.clone(),
        before: me.status.clone(),
        steps: vec![
            format!(
                "`set server {}/{} state {}` on {}'s runtime API",
                target.backend,
                target.server,
                kind.as_str(),
                target.gateway
            ),
            format!(
                "verify: {} shows {} as {} (up to 10 s); else put it back to {}",
                target.gateway,
                target.server,
                effect(kind),
                me.status
            ),
        ],
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::Server(target.clone()),
    })
}

/// The server status HAProxy shows once `kind` took effect.
fn effect(kind: Kind) -> &'static str {
    match kind {
        Kind::Drain => "DRAIN",
        Kind::Maint => "MAINT",
        Kind::Ready
        | Kind::Reintegrate
        | Kind::Fallback
        | Kind::Restore
        | Kind::Switchover
        | Kind::Failover
        | Kind::Fence
        | Kind::Unfence
        | Kind::Cordon
        | Kind::Uncordon
        | Kind::DeletePod
        | Kind::EtcdRemove
        | Kind::Runbook => "UP",
    }
}

pub(crate) fn restore_command(before: &str) -> &'static str {
    if before.starts_with("MAINT") {
        "maint"
    } else if before.starts_with("DRAIN") {
        "drain"
    } else {
        "ready"
    }
}

/// Re-reads the server on its gateway and refuses when its status is no longer
/// `before` (what the plan read); returns the gateway's runtime socket.
pub(super) async fn unchanged(
    ctx: &Context<'_>,
    t: &Target,
    before: &str,
) -> Result<String, WorkflowError> {
    let socket = socket_of(ctx.environment, &t.gateway)?;
    let now_status = backend_rows(&socket, &t.backend, ctx.timeout)
        .await?
        .into_iter()
        .find(|r| r.name == t.server)
        .map(|r| r.status)
        .unwrap_or_default();
    if now_status != before {
        return Err(WorkflowError::Refused(format!(
            "the target changed since the plan: {} was {before}, is {now_status}; plan again",
            t.server
        )));
    }
    Ok(socket)
}

/// Re-reads the server (refusing when it changed since the plan) and runs the step.
pub(super) async fn run(
    ctx: &Context<'_>,
    plan: &Plan,
    t: &Target,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let socket = unchanged(ctx, t, &plan.before).await?;

    Box::pin(super::locked(
        ctx,
        plan,
        operator,
        execute(ctx, plan, t, &socket, confirmed, operator),
    ))
    .await
}

/// The journaled steps of a run whose checks passed and whose lock is held.
async fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    t: &Target,
    socket: &str,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let journaled = super::Journaled::start(ctx, plan, operator, confirmed)?;
    let command = format!(
        "set server {}/{} state {}",
        t.backend,
        t.server,
        plan.kind.as_str()
    );
    let mut lines = Vec::new();
    if let Some(r) = journaled.checkpoint(&command, &mut lines)? {
        return Ok(r);
    }
    journaled.step(
        "before",
        &command,
        "pending",
        &format!("{} was {}", t.server, plan.before),
    )?;
    let answer = runtime_command(socket, &command, ctx.timeout).await;
    let failed = match &answer {
        Ok(a) if a.trim().is_empty() => None,
        Ok(a) => Some(format!("HAProxy answered: {}", a.trim())),
        Err(e) => Some(e.clone()),
    };
    journaled.step(
        "after",
        &command,
        if failed.is_none() { "ok" } else { "failed" },
        failed.as_deref().unwrap_or(""),
    )?;
    if let Some(why) = failed {
        journaled.finish("needs_human")?;
        return Err(WorkflowError::Target(format!(
            "{command} failed: {why}; {} is as it was ({}) as far as HAProxy said",
            t.server, plan.before
        )));
    }
    lines.push(format!("sent: {command}"));

    // Verify: the server shows the new state.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    let mut effect_at = None;
    while tokio::time::Instant::now() < deadline {
        if let Ok(rows) = backend_rows(socket, &t.backend, ctx.timeout).await
            && let Some(r) = rows.into_iter().find(|r| r.name == t.server)
        {
            seen = r.status;
            if seen.starts_with(effect(plan.kind))
                || (plan.kind == Kind::Ready && takes_traffic(&seen))
            {
                effect_at = Some(ctx.clock.now());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let verified = effect_at.is_some();
    journaled.step(
        "verify",
        &format!("{} shows {}", t.server, effect(plan.kind)),
        if verified { "ok" } else { "failed" },
        &format!("{} is {seen}", t.server),
    )?;
    if verified {
        lines.push(format!("verified: {} is {seen}", t.server));
        journaled.finish("done")?;
        return Ok(Report {
            run: journaled.id,
            outcome: "done".into(),
            effect_millis: effect_at.map(|e| e.millis_since(confirmed)),
            lines,
        });
    }
    // Roll back to where it was.
    let back = format!(
        "set server {}/{} state {}",
        t.backend,
        t.server,
        restore_command(&plan.before)
    );
    let rolled = runtime_command(socket, &back, ctx.timeout).await;
    let ok = rolled.as_ref().is_ok_and(|a| a.trim().is_empty());
    journaled.step("rollback", &back, if ok { "ok" } else { "failed" }, "")?;
    let outcome = if ok { "rolled_back" } else { "needs_human" };
    journaled.finish(outcome)?;
    lines.push(format!(
        "not verified within 10 s ({} is {seen}); {}",
        t.server,
        if ok {
            "rolled back"
        } else {
            "ROLLBACK FAILED: a human must look"
        }
    ));
    Ok(Report {
        run: journaled.id,
        outcome: outcome.into(),
        effect_millis: None,
        lines,
    })
}
