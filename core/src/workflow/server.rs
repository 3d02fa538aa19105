//! The HAProxy server target (`gateway/backend/server`), through the runtime API:
//! `drain`, `maint`, `ready`, and `reintegrate` (a canary ramp, [`super::canary`]).
//! The plan reads the backend fresh (`show stat`); the run re-reads the server, sends
//! one `set server ... state ...`, and verifies it on HAProxy, putting it back when it
//! does not show within 10 s. Offered: what changes each server's state now.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::canary::{self, Ramp};
use super::target::{self, BoxFuture, Found, OnDrill, Reach, TargetKind};
use super::{Context, Detail, GuardResult, Kind, Offer, Plan, Report, WorkflowError};
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
        detail: Detail::Server(Planned::Set(target.clone())),
    })
}

/// The server status HAProxy shows once `kind` took effect.
fn effect(kind: Kind) -> &'static str {
    match kind {
        Kind::Drain => "DRAIN",
        Kind::Maint => "MAINT",
        // `ready`; the other workflows never reach a server.
        _ => "UP",
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
    // Why the last read failed: a socket that stopped answering is said as such, not
    // as a server in no state.
    let mut unread = None;
    let mut effect_at = None;
    while tokio::time::Instant::now() < deadline {
        match backend_rows(socket, &t.backend, ctx.timeout).await {
            Ok(rows) => {
                unread = None;
                if let Some(r) = rows.into_iter().find(|r| r.name == t.server) {
                    seen = r.status;
                    if seen.starts_with(effect(plan.kind))
                        || (plan.kind == Kind::Ready && takes_traffic(&seen))
                    {
                        effect_at = Some(ctx.clock.now());
                        break;
                    }
                }
            }
            Err(e) => unread = Some(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let verified = effect_at.is_some();
    let state = match (&unread, seen.is_empty()) {
        (Some(e), true) => format!("HAProxy does not answer ({e})"),
        (Some(e), false) => format!(
            "HAProxy does not answer ({e}); {} was last seen {seen}",
            t.server
        ),
        (None, _) => format!("{} is {seen}", t.server),
    };
    journaled.step(
        "verify",
        &format!("{} shows {}", t.server, effect(plan.kind)),
        if verified { "ok" } else { "failed" },
        &state,
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
    // Why the rollback failed goes in the journal: the human who takes over needs it.
    let why = match &rolled {
        Ok(a) if a.trim().is_empty() => String::new(),
        Ok(a) => format!("HAProxy answered: {}", a.trim()),
        Err(e) => e.clone(),
    };
    journaled.step("rollback", &back, if ok { "ok" } else { "failed" }, &why)?;
    let outcome = if ok { "rolled_back" } else { "needs_human" };
    journaled.finish(outcome)?;
    lines.push(format!(
        "not verified within 10 s ({state}); {}",
        if ok {
            "rolled back".to_owned()
        } else {
            format!("ROLLBACK FAILED ({why}): a human must look")
        }
    ));
    Ok(Report {
        run: journaled.id,
        outcome: outcome.into(),
        effect_millis: None,
        lines,
    })
}

/// What a server plan acts on: one state change, or a canary ramp back in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Planned {
    /// `set server ... state ...`.
    Set(Target),
    /// A canary ramp (`reintegrate`).
    Ramp(Ramp),
}

/// The HAProxy server target kind.
pub struct ServerTarget;

impl TargetKind for ServerTarget {
    const NAME: &'static str = "HAProxy server";
    const SYNTAX: &'static str = "gateway/backend/server";
    const KINDS: &'static [Kind] = &[Kind::Drain, Kind::Maint, Kind::Ready, Kind::Reintegrate];
    const DRILL: OnDrill = OnDrill::Practised;
    type Detail = Planned;

    fn owns(env: &Environment, target: &str) -> bool {
        target::owned_by_source(env, target, 3..=3, |s| {
            matches!(s, SourceConfig::Haproxy(_))
        })
    }

    fn plan<'a>(
        ctx: &'a Context<'_>,
        kind: Kind,
        target: &'a str,
    ) -> BoxFuture<'a, Result<Plan, WorkflowError>> {
        Box::pin(async move {
            let t = Target::parse(target)?;
            if kind == Kind::Reintegrate {
                canary::plan(ctx, &t).await
            } else {
                plan(ctx, kind, &t).await
            }
        })
    }

    fn run<'a>(
        ctx: &'a Context<'_>,
        plan: &'a Plan,
        detail: &'a Planned,
        confirmed: Timestamp,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<Report, WorkflowError>> {
        match detail {
            Planned::Set(t) => Box::pin(run(ctx, plan, t, confirmed, operator)),
            Planned::Ramp(r) => Box::pin(canary::run(ctx, plan, r, confirmed, operator)),
        }
    }

    fn inverse(kind: Kind, before: &str) -> Result<Kind, String> {
        match kind {
            Kind::Drain | Kind::Maint | Kind::Ready | Kind::Reintegrate => {
                Kind::parse(restore_command(before)).map_err(|e| e.to_string())
            }
            other => Err(format!("{} is not a server workflow", other.as_str())),
        }
    }

    fn offers<'a>(at: &'a Reach<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let mut found = Found::default();
            for (h, rows) in stat_rows(at, &mut found.1).await {
                for r in rows.iter().filter(|r| r.kind == RowKind::Server) {
                    for kind in server_kinds(&r.status) {
                        found.0.push(Offer {
                            kind,
                            target: format!("{h}/{}/{}", r.proxy, r.name),
                            label: format!(
                                "{} {}/{} ({}) on {h}",
                                kind.as_str(),
                                r.proxy,
                                r.name,
                                r.status
                            ),
                            instance: r.addr.clone(),
                        });
                    }
                }
            }
            found
        })
    }
}

/// Every HAProxy source's `show stat` over its runtime API (sources without a socket
/// are skipped: the stats page cannot act); a source that cannot be read adds its
/// error in words to `errors`.
pub(super) async fn stat_rows(
    at: &Reach<'_>,
    errors: &mut Vec<String>,
) -> Vec<(String, Vec<StatRow>)> {
    let mut out = Vec::new();
    for s in &at.environment.source {
        let SourceConfig::Haproxy(h) = s else {
            continue;
        };
        let Some(socket) = &h.socket else { continue };
        match runtime_command(socket, "show stat", at.timeout)
            .await
            .and_then(|text| parse_stat_csv(&text).map_err(|e| e.to_string()))
        {
            Ok(rows) => out.push((h.name.clone(), rows)),
            Err(e) => errors.push(format!("{}: {e}", h.name)),
        }
    }
    out
}

/// The server workflows that change something for a server in `status`.
fn server_kinds(status: &str) -> Vec<Kind> {
    if status.starts_with("MAINT") {
        vec![Kind::Reintegrate, Kind::Ready]
    } else if status.starts_with("DRAIN") {
        vec![Kind::Reintegrate, Kind::Ready, Kind::Maint]
    } else if status.starts_with("UP") || status == "no check" {
        vec![Kind::Drain, Kind::Maint]
    } else {
        vec![Kind::Maint, Kind::Ready]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_is_offered_what_changes_it() {
        assert_eq!(server_kinds("UP"), [Kind::Drain, Kind::Maint]);
        assert_eq!(server_kinds("UP 1/2"), [Kind::Drain, Kind::Maint]);
        assert_eq!(server_kinds("MAINT"), [Kind::Reintegrate, Kind::Ready]);
        assert_eq!(
            server_kinds("DRAIN"),
            [Kind::Reintegrate, Kind::Ready, Kind::Maint]
        );
        assert_eq!(server_kinds("DOWN"), [Kind::Maint, Kind::Ready]);
    }
}
