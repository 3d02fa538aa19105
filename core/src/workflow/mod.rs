//! Guarded workflows: plan -> typed confirmation -> journaled execution -> verification,
//! rolled back or handed to a human when verification fails.
//!
//! A plan is a preview of exactly what will change on which target, with every guard's
//! result and reason, made from a fresh read of the target (not from a cached view). A
//! run refuses when a guard refuses, when the confirmation is not the target's name,
//! when the plan is older than [`PLAN_TTL_MILLIS`], or when the target changed since the
//! plan. Each step is journaled before it runs and again with its outcome.
//!
//! This first set of workflows acts on HAProxy servers through the runtime API:
//! `drain` (no new sessions; existing ones finish), `maint` (out of rotation) and
//! `ready` (back in). Guards:
//! - read-only: a read-only environment cannot start anything (no override);
//! - last healthy: never drain or take down the last server of a backend still taking
//!   traffic (backups aside);
//! - dampening: the same target acted on 3 times within 60 s is handed to a human;
//! - stale data: the plan's read of the target must be fresh when the run starts;
//! - quorum and lock: one workflow per target across all consoles, through an etcd
//!   lease lock ([`lock`]); etcd refusing a lease (no quorum) refuses the run, so a
//!   console on the minority side of a partition cannot act.

pub mod journal;
pub mod lock;

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::config::{Environment, SourceConfig};
use crate::sources::haproxy::{RowKind, StatRow, parse_stat_csv, runtime_command};
use crate::time::{Clock, Timestamp};

pub use self::journal::{Journal, RunRow, StepRow};

/// A plan older than this is not run: the world may have moved.
pub const PLAN_TTL_MILLIS: i64 = 30_000;
/// Dampening: this many runs on one target...
pub const DAMPENING_RUNS: usize = 3;
/// ...within this window hand the target to a human.
pub const DAMPENING_WINDOW_MILLIS: i64 = 60_000;

/// A workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// HAProxy server: no new sessions; existing ones finish.
    Drain,
    /// HAProxy server: out of rotation (maintenance).
    Maint,
    /// HAProxy server: back in rotation.
    Ready,
}

impl Kind {
    /// Every workflow.
    pub const ALL: [Self; 3] = [Self::Drain, Self::Maint, Self::Ready];

    /// Its name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Drain => "drain",
            Self::Maint => "maint",
            Self::Ready => "ready",
        }
    }

    /// What it does, one line.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Drain => {
                "HAProxy server: stop new sessions, let current ones finish (target gateway/backend/server)"
            }
            Self::Maint => {
                "HAProxy server: take it out of rotation for maintenance (target gateway/backend/server)"
            }
            Self::Ready => {
                "HAProxy server: put it back in rotation (target gateway/backend/server)"
            }
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, WorkflowError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                WorkflowError::Usage(format!("no workflow {s:?}; known: drain, maint, ready"))
            })
    }

    /// The server status HAProxy shows once it took effect.
    fn effect(self) -> &'static str {
        match self {
            Self::Drain => "DRAIN",
            Self::Maint => "MAINT",
            Self::Ready => "UP",
        }
    }
}

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

/// One guard's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GuardResult {
    /// Guard name.
    pub name: &'static str,
    /// Passed.
    pub ok: bool,
    /// Why, in words.
    pub reason: String,
}

/// A preview of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Workflow.
    pub kind: Kind,
    /// Target.
    pub target: Target,
    /// Environment.
    pub environment: String,
    /// The target's status when planned (`UP`, `DRAIN`...).
    pub before: String,
    /// Exactly what will be done.
    pub steps: Vec<String>,
    /// Every guard's verdict.
    pub guards: Vec<GuardResult>,
    /// When the plan read the target.
    pub made_at: Timestamp,
}

impl Plan {
    /// Every guard passed.
    pub fn allowed(&self) -> bool {
        self.guards.iter().all(|g| g.ok)
    }

    /// The refusing guards' reasons.
    pub fn refusals(&self) -> Vec<String> {
        self.guards
            .iter()
            .filter(|g| !g.ok)
            .map(|g| format!("{}: {}", g.name, g.reason))
            .collect()
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Journal id.
    pub run: i64,
    /// `done`, `rolled_back`, `needs_human`.
    pub outcome: String,
    /// From confirmation to the change seen on the target, in milliseconds.
    pub effect_millis: Option<i64>,
    /// What happened, step by step.
    pub lines: Vec<String>,
}

/// Why a workflow could not be planned or run.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// A guard, the confirmation or the plan's age refused the run.
    #[error("refused: {0}")]
    Refused(String),
    /// The target could not be read or acted on.
    #[error("{0}")]
    Target(String),
}

/// Where a workflow runs: its environment, journal and clock.
pub struct Context<'a> {
    /// The environment holding the target.
    pub environment: &'a Environment,
    /// The journal.
    pub journal: &'a Journal,
    /// The clock.
    pub clock: &'a dyn Clock,
    /// Wall mode and replay: nothing may start (enforced here, not in the window).
    pub read_only_mode: bool,
    /// Bound on each call to the target.
    pub timeout: Duration,
}

fn socket_of(env: &Environment, gateway: &str) -> Result<String, WorkflowError> {
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

async fn backend_rows(
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

fn takes_traffic(status: &str) -> bool {
    status.starts_with("UP") || status == "no check"
}

/// Makes the plan for `kind` on `target`: a fresh read of the target and every guard.
pub async fn plan(ctx: &Context<'_>, kind: Kind, target: &Target) -> Result<Plan, WorkflowError> {
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
    let mut guards = Vec::new();
    let read_only = ctx.read_only_mode || ctx.environment.read_only;
    guards.push(GuardResult {
        name: "read-only",
        ok: !read_only,
        reason: if ctx.read_only_mode {
            "this console is read-only (wall or replay): nothing can start".into()
        } else if ctx.environment.read_only {
            format!("environment {} is read-only", ctx.environment.name)
        } else {
            "the environment accepts actions".into()
        },
    });
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
    let recent = ctx
        .journal
        .runs_since(
            &target.to_string(),
            Timestamp(now.0 - DAMPENING_WINDOW_MILLIS),
        )
        .map_err(WorkflowError::Target)?
        .len();
    guards.push(GuardResult {
        name: "dampening",
        ok: recent < DAMPENING_RUNS,
        reason: format!(
            "{recent} run(s) on this target in the last {} s (a human takes over at {DAMPENING_RUNS})",
            DAMPENING_WINDOW_MILLIS / 1000
        ),
    });
    let target_name = target.to_string();
    if lock::available(ctx.environment) {
        match lock::holder(ctx.environment, &target_name).await {
            Ok(h) => {
                guards.push(GuardResult {
                    name: "quorum",
                    ok: true,
                    reason: "the environment's etcd answers a linearizable read".into(),
                });
                guards.push(GuardResult {
                    name: "lock",
                    ok: h.is_none(),
                    reason: h.map_or_else(
                        || format!("free ({})", lock::key(&ctx.environment.name, &target_name)),
                        |by| format!("held by {by}"),
                    ),
                });
            }
            Err(e) => guards.push(GuardResult {
                name: "quorum",
                ok: false,
                reason: format!("{e}: acting from the minority side is refused"),
            }),
        }
    } else {
        guards.push(GuardResult {
            name: "lock",
            ok: true,
            reason: "no etcd in this environment: no cross-console lock, only this journal".into(),
        });
    }
    guards.push(GuardResult {
        name: "stale data",
        ok: true,
        reason: format!(
            "read from {} just now; the run re-reads it and refuses if it changed or the plan is older than {} s",
            target.gateway,
            PLAN_TTL_MILLIS / 1000
        ),
    });
    Ok(Plan {
        kind,
        target: target.clone(),
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
                kind.effect(),
                me.status
            ),
        ],
        guards,
        made_at: now,
    })
}

fn restore_command(before: &str) -> &'static str {
    if before.starts_with("MAINT") {
        "maint"
    } else if before.starts_with("DRAIN") {
        "drain"
    } else {
        "ready"
    }
}

/// Runs a plan after a typed confirmation (`confirm` must be `backend/server`).
pub async fn run(
    ctx: &Context<'_>,
    plan: &Plan,
    confirm: &str,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let refusals = plan.refusals();
    if !refusals.is_empty() {
        return Err(WorkflowError::Refused(refusals.join("; ")));
    }
    if ctx.read_only_mode {
        return Err(WorkflowError::Refused("this console is read-only".into()));
    }
    let t = &plan.target;
    if confirm != t.confirm_name() {
        return Err(WorkflowError::Refused(format!(
            "confirmation {confirm:?} is not the target's name {:?}",
            t.confirm_name()
        )));
    }
    let confirmed = ctx.clock.now();
    if confirmed.millis_since(plan.made_at) > PLAN_TTL_MILLIS {
        return Err(WorkflowError::Refused(format!(
            "stale data: the plan is {} s old; plan again",
            confirmed.millis_since(plan.made_at) / 1000
        )));
    }
    let socket = socket_of(ctx.environment, &t.gateway)?;
    let now_status = backend_rows(&socket, &t.backend, ctx.timeout)
        .await?
        .into_iter()
        .find(|r| r.name == t.server)
        .map(|r| r.status)
        .unwrap_or_default();
    if now_status != plan.before {
        return Err(WorkflowError::Refused(format!(
            "the target changed since the plan: {} was {}, is {now_status}; plan again",
            t.server, plan.before
        )));
    }

    let purpose = format!(
        "{}@{}: {} {t}",
        operator,
        std::env::var("HOSTNAME").unwrap_or_else(|_| "this host".into()),
        plan.kind.as_str()
    );
    let held = lock::acquire(ctx.environment, &t.to_string(), &purpose)
        .await
        .map_err(WorkflowError::Refused)?;
    let result = execute(ctx, plan, &socket, confirmed, operator).await;
    if let Some(h) = held {
        h.release().await;
    }
    result
}

/// The journaled steps of a run whose checks passed and whose lock is held.
async fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    socket: &str,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let t = &plan.target;
    let j = ctx.journal;
    let id = j
        .start(
            plan.kind.as_str(),
            &t.to_string(),
            &plan.environment,
            operator,
            confirmed,
        )
        .map_err(WorkflowError::Target)?;
    let command = format!(
        "set server {}/{} state {}",
        t.backend,
        t.server,
        plan.kind.as_str()
    );
    let mut lines = Vec::new();
    let row = |phase: &str, action: &str, outcome: &str, detail: &str| StepRow {
        seq: 0,
        phase: phase.to_owned(),
        action: action.to_owned(),
        outcome: outcome.to_owned(),
        detail: detail.to_owned(),
        at: ctx.clock.now(),
    };
    j.step(
        id,
        &row(
            "before",
            &command,
            "pending",
            &format!("{} was {}", t.server, plan.before),
        ),
    )
    .map_err(WorkflowError::Target)?;
    let answer = runtime_command(socket, &command, ctx.timeout).await;
    let failed = match &answer {
        Ok(a) if a.trim().is_empty() => None,
        Ok(a) => Some(format!("HAProxy answered: {}", a.trim())),
        Err(e) => Some(e.clone()),
    };
    j.step(
        id,
        &row(
            "after",
            &command,
            if failed.is_none() { "ok" } else { "failed" },
            failed.as_deref().unwrap_or(""),
        ),
    )
    .map_err(WorkflowError::Target)?;
    if let Some(why) = failed {
        j.finish(id, "needs_human").map_err(WorkflowError::Target)?;
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
            if seen.starts_with(plan.kind.effect())
                || (plan.kind == Kind::Ready && takes_traffic(&seen))
            {
                effect_at = Some(ctx.clock.now());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let verified = effect_at.is_some();
    j.step(
        id,
        &row(
            "verify",
            &format!("{} shows {}", t.server, plan.kind.effect()),
            if verified { "ok" } else { "failed" },
            &format!("{} is {seen}", t.server),
        ),
    )
    .map_err(WorkflowError::Target)?;
    if verified {
        lines.push(format!("verified: {} is {seen}", t.server));
        j.finish(id, "done").map_err(WorkflowError::Target)?;
        return Ok(Report {
            run: id,
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
    j.step(
        id,
        &row("rollback", &back, if ok { "ok" } else { "failed" }, ""),
    )
    .map_err(WorkflowError::Target)?;
    let outcome = if ok { "rolled_back" } else { "needs_human" };
    j.finish(id, outcome).map_err(WorkflowError::Target)?;
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
        run: id,
        outcome: outcome.into(),
        effect_millis: None,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_kinds_parse_and_say_what_is_wrong() {
        let t = Target::parse("edge/be_web/web1").expect("target");
        assert_eq!(t.confirm_name(), "be_web/web1");
        assert_eq!(t.to_string(), "edge/be_web/web1");
        assert!(Target::parse("be_web/web1").is_err());
        assert!(Target::parse("a//b").is_err());
        assert_eq!(Kind::parse("drain"), Ok(Kind::Drain));
        assert!(
            Kind::parse("nuke")
                .expect_err("unknown")
                .to_string()
                .contains("known")
        );
    }

    #[test]
    fn a_plan_with_a_refusing_guard_is_not_allowed() {
        let plan = Plan {
            kind: Kind::Drain,
            target: Target::parse("g/b/s").expect("t"),
            environment: "prod".into(),
            before: "UP".into(),
            steps: vec![],
            guards: vec![
                GuardResult {
                    name: "read-only",
                    ok: true,
                    reason: String::new(),
                },
                GuardResult {
                    name: "last healthy",
                    ok: false,
                    reason: "0 other server(s) of b take traffic".into(),
                },
            ],
            made_at: Timestamp(0),
        };
        assert!(!plan.allowed());
        assert_eq!(
            plan.refusals(),
            vec!["last healthy: 0 other server(s) of b take traffic".to_owned()]
        );
        assert_eq!(restore_command("MAINT"), "maint");
        assert_eq!(restore_command("UP 1/2"), "ready");
    }
}
