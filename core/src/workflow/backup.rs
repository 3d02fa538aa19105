//! HAProxy backend failover to its backup servers: `fallback` puts every active
//! (non-backup) server of the backend in maintenance, so HAProxy sends the traffic to
//! its backup servers; `restore` puts them back in rotation.
//!
//! Guards besides the common ones: for `fallback`, a backup server HAProxy sees UP
//! (without one the backend would answer 503 to everyone); for `restore`, a server to
//! put back. Each server's command is journaled before and after. `fallback` is verified
//! when every active server shows MAINT; `restore` when at least one is UP within 10 s
//! (its checks must pass first), else the servers go back to maintenance and the
//! backups keep serving.

use std::time::Duration;

use super::server::{backend_rows, socket_of, takes_traffic};
use super::target::{self, BoxFuture, Found, OnDrill, Reach, TargetKind};
use super::{Context, Detail, GuardResult, Kind, Offer, Plan, Report, WorkflowError};
use crate::config::{Environment, SourceConfig};
use crate::sources::haproxy::RowKind;
use crate::time::Timestamp;

/// How long verification waits.
const VERIFY_SECS: u64 = 10;

/// A backend failover as planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failover {
    /// The HAProxy source.
    pub gateway: String,
    /// The backend.
    pub backend: String,
    /// The active servers acted on.
    pub servers: Vec<String>,
}

/// The plan of `fallback` or `restore` on `gateway/backend`.
pub(super) async fn plan(
    ctx: &Context<'_>,
    kind: Kind,
    target: &str,
) -> Result<Plan, WorkflowError> {
    let (gateway, backend) = target
        .split_once('/')
        .filter(|(g, b)| !g.is_empty() && !b.is_empty() && !b.contains('/'))
        .ok_or_else(|| WorkflowError::Usage(format!("target {target:?} is not gateway/backend")))?;
    let socket = socket_of(ctx.environment, gateway)?;
    let rows = backend_rows(&socket, backend, ctx.timeout).await?;
    if rows.is_empty() {
        return Err(WorkflowError::Target(format!(
            "no servers in backend {backend} of {gateway}"
        )));
    }
    let (backups, active): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.backup);
    let now = ctx.clock.now();
    let mut guards = super::common_guards(ctx, target, now).await?;
    let fallback = kind == Kind::Fallback;
    let servers: Vec<String> = active
        .iter()
        .filter(|r| {
            if fallback {
                !r.status.starts_with("MAINT")
            } else {
                r.status.starts_with("MAINT")
            }
        })
        .map(|r| r.name.clone())
        .collect();
    if fallback {
        let up: Vec<&str> = backups
            .iter()
            .filter(|r| takes_traffic(&r.status))
            .map(|r| r.name.as_str())
            .collect();
        guards.push(GuardResult {
            name: "backup healthy",
            ok: !up.is_empty(),
            reason: if up.is_empty() {
                format!(
                    "no backup server of {backend} is UP ({}): everyone would get a 503",
                    if backups.is_empty() {
                        "it has none".to_owned()
                    } else {
                        backups
                            .iter()
                            .map(|r| format!("{} {}", r.name, r.status))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )
            } else {
                format!("backup {} UP", up.join(", "))
            },
        });
    }
    guards.push(GuardResult {
        name: "not there yet",
        ok: !servers.is_empty(),
        reason: if servers.is_empty() {
            if fallback {
                format!("every active server of {backend} is already in maintenance")
            } else {
                format!("no active server of {backend} is in maintenance")
            }
        } else {
            format!(
                "{}: {}",
                if fallback {
                    "to maintenance"
                } else {
                    "back in rotation"
                },
                servers.join(", ")
            )
        },
    });
    let state = if fallback { "maint" } else { "ready" };
    let before = active
        .iter()
        .map(|r| format!("{} {}", r.name, r.status))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Plan {
        kind,
        target: target.to_owned(),
        confirm_as: backend.to_owned(),
        environment: ctx.environment.name.clone(),
        before,
        steps: vec![
            format!(
                "`set server {backend}/<server> state {state}` for {} on {gateway}'s runtime API",
                servers.join(", ")
            ),
            if fallback {
                format!(
                    "verify: every active server shows MAINT (up to {VERIFY_SECS} s): HAProxy serves from the backups"
                )
            } else {
                format!(
                    "verify: at least one is UP (its checks pass) within {VERIFY_SECS} s; else back to maintenance, the backups keep serving"
                )
            },
        ],
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::Backend(Failover {
            gateway: gateway.to_owned(),
            backend: backend.to_owned(),
            servers,
        }),
    })
}

/// Runs a backend failover or restore.
pub(super) async fn run(
    ctx: &Context<'_>,
    plan: &Plan,
    f: &Failover,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let socket = socket_of(ctx.environment, &f.gateway)?;
    Box::pin(super::locked(
        ctx,
        plan,
        operator,
        execute(ctx, plan, f, &socket, confirmed, operator),
    ))
    .await
}

async fn set_all(socket: &str, f: &Failover, state: &str, timeout: Duration) -> Vec<String> {
    let mut failed = Vec::new();
    for s in &f.servers {
        let c = format!("set server {}/{s} state {state}", f.backend);
        match crate::sources::haproxy::runtime_command(socket, &c, timeout).await {
            Ok(a) if a.trim().is_empty() => {}
            Ok(a) => failed.push(format!("{c}: {}", a.trim())),
            Err(e) => failed.push(format!("{c}: {e}")),
        }
    }
    failed
}

async fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    f: &Failover,
    socket: &str,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let journaled = super::Journaled::start(ctx, plan, operator, confirmed)?;
    let fallback = plan.kind == Kind::Fallback;
    let state = if fallback { "maint" } else { "ready" };
    let mut lines = Vec::new();
    for s in &f.servers {
        let c = format!("set server {}/{s} state {state}", f.backend);
        if let Some(r) = journaled.checkpoint(&c, &mut lines)? {
            return Ok(r);
        }
        journaled.step("before", &c, "pending", "")?;
        let answer = crate::sources::haproxy::runtime_command(socket, &c, ctx.timeout).await;
        let failed = match answer {
            Ok(a) if a.trim().is_empty() => None,
            Ok(a) => Some(a.trim().to_owned()),
            Err(e) => Some(e),
        };
        journaled.step(
            "after",
            &c,
            if failed.is_none() { "ok" } else { "failed" },
            failed.as_deref().unwrap_or(""),
        )?;
        if let Some(why) = failed {
            return journaled.needs_human(
                lines,
                format!("{c} failed: {why}; the servers before it were changed"),
            );
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(VERIFY_SECS);
    let (mut effect, mut seen) = (None, String::new());
    while tokio::time::Instant::now() < deadline {
        if let Ok(rows) = backend_rows(socket, &f.backend, ctx.timeout).await {
            let mine: Vec<_> = rows
                .iter()
                .filter(|r| f.servers.contains(&r.name))
                .collect();
            seen = mine
                .iter()
                .map(|r| format!("{} {}", r.name, r.status))
                .collect::<Vec<_>>()
                .join(", ");
            let ok = if fallback {
                mine.iter().all(|r| r.status.starts_with("MAINT"))
            } else {
                mine.iter().any(|r| r.status.starts_with("UP"))
            };
            if ok {
                effect = Some(ctx.clock.now());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    journaled.step(
        "verify",
        if fallback {
            "every active server in maintenance"
        } else {
            "an active server UP"
        },
        if effect.is_some() { "ok" } else { "failed" },
        &seen,
    )?;
    if let Some(at) = effect {
        journaled.finish("done")?;
        lines.push(format!("verified: {seen}"));
        return Ok(Report {
            run: journaled.id,
            outcome: "done".into(),
            effect_millis: Some(at.millis_since(confirmed)),
            lines,
        });
    }
    // Not verified: back where it was.
    let back = if fallback { "ready" } else { "maint" };
    let failed = set_all(socket, f, back, ctx.timeout).await;
    journaled.step(
        "rollback",
        &format!("set the servers back to {back}"),
        if failed.is_empty() { "ok" } else { "failed" },
        &failed.join("; "),
    )?;
    let outcome = if failed.is_empty() {
        "rolled_back"
    } else {
        "needs_human"
    };
    journaled.finish(outcome)?;
    lines.push(format!(
        "not verified within {VERIFY_SECS} s ({seen}); {}",
        if failed.is_empty() {
            format!("the servers are back to {back}")
        } else {
            format!("ROLLBACK FAILED ({}): a human must look", failed.join("; "))
        }
    ));
    Ok(Report {
        run: journaled.id,
        outcome: outcome.into(),
        effect_millis: None,
        lines,
    })
}

/// The HAProxy backend target kind (`gateway/backend`).
pub struct BackendTarget;

impl TargetKind for BackendTarget {
    const NAME: &'static str = "HAProxy backend";
    const SYNTAX: &'static str = "gateway/backend";
    const KINDS: &'static [Kind] = &[Kind::Fallback, Kind::Restore];
    const DRILL: OnDrill = OnDrill::Practised;
    type Detail = Failover;

    fn owns(env: &Environment, target: &str) -> bool {
        target::owned_by_source(env, target, 2..=2, |s| {
            matches!(s, SourceConfig::Haproxy(_))
        })
    }

    fn plan<'a>(
        ctx: &'a Context<'_>,
        kind: Kind,
        target: &'a str,
    ) -> BoxFuture<'a, Result<Plan, WorkflowError>> {
        Box::pin(plan(ctx, kind, target))
    }

    fn run<'a>(
        ctx: &'a Context<'_>,
        plan: &'a Plan,
        detail: &'a Failover,
        confirmed: Timestamp,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<Report, WorkflowError>> {
        Box::pin(run(ctx, plan, detail, confirmed, operator))
    }

    fn inverse(kind: Kind, _before: &str) -> Result<Kind, String> {
        target::opposite(kind, [Kind::Fallback, Kind::Restore], "backend")
    }

    fn offers<'a>(at: &'a Reach<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let mut found = Found::default();
            for (h, rows) in super::server::stat_rows(at, &mut found.1).await {
                let mut with_backup: Vec<&str> = rows
                    .iter()
                    .filter(|r| r.kind == RowKind::Server && r.backup)
                    .map(|r| r.proxy.as_str())
                    .collect();
                with_backup.dedup();
                for b in with_backup {
                    for kind in [Kind::Fallback, Kind::Restore] {
                        found.0.push(Offer {
                            kind,
                            target: format!("{h}/{b}"),
                            label: format!(
                                "{} backend {b} on {h}: {}",
                                kind.as_str(),
                                if kind == Kind::Fallback {
                                    "serve from its backup servers"
                                } else {
                                    "its servers back in rotation"
                                }
                            ),
                            instance: None,
                        });
                    }
                }
            }
            found
        })
    }
}
