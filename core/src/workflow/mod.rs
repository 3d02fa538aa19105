//! Guarded workflows: plan -> typed confirmation -> journaled execution -> verification,
//! rolled back or handed to a human when verification fails.
//!
//! A plan is a preview of exactly what will change on which target, with every guard's
//! result and reason, made from a fresh read of the target (not from a cached view). A
//! run refuses when a guard refuses, when the confirmation is not the target's name,
//! when the plan is older than [`PLAN_TTL_MILLIS`], or when the target changed since the
//! plan. Each step is journaled before it runs and again with its outcome.
//!
//! What a workflow acts on is a target, and each kind of target is one module listed in
//! the registry ([`target`]): HAProxy servers and backends over the runtime API
//! ([`server`], [`canary`], [`backup`]), Traefik routers through the file provider
//! ([`route`]), Patroni members ([`patroni`]), nodes through their fence devices
//! ([`fence`]), Kubernetes nodes and pods ([`k8s`]), etcd members ([`etcd`]), runbooks
//! ([`runbook`]), DNS records ([`dns`]) and the drill's simulated fleet ([`drill`]). A target string is
//! resolved once to the kind that owns it ([`target::resolve`]).
//!
//! The guards every workflow has (`guards.rs`):
//! - read-only: a read-only environment, a wall or a replay cannot start anything (no
//!   override);
//! - dampening: the same target acted on 3 times within 60 s is handed to a human;
//! - stale data: the plan's read of the target must be fresh when the run starts;
//! - quorum and lock: one workflow per target across all consoles, through an etcd
//!   lease lock ([`lock`]); etcd refusing a lease (no quorum) refuses the run, so a
//!   console on the minority side of a partition cannot act.
//!
//! Each target kind adds its own (last healthy, replication lag, a backup server up...).
//! The console's [`desk`] plans and runs them in the background for the window.

pub mod backup;
pub mod canary;
mod context;
pub mod desk;
pub mod dns;
pub mod drill;
pub mod ec2;
pub mod etcd;
pub mod experiment;
pub mod fence;
mod guards;
pub mod journal;
mod journaled;
pub mod k8s;
mod kind;
pub mod lock;
pub mod patroni;
mod plan;
pub mod route;
pub mod runbook;
pub mod server;
pub mod target;

use std::future::Future;
use std::pin::Pin;

pub use self::context::{Context, Control};
pub(crate) use self::guards::common_guards;
pub use self::journal::{Journal, RunRow, StepRow};
pub(crate) use self::journaled::{Journaled, locked, source};
pub use self::kind::Kind;
pub use self::plan::{GuardResult, OVERRIDABLE, Override, Plan, Report, WorkflowError};
pub use self::target::{Detail, Offer, TargetKind};
use crate::config::Environment;
use crate::time::Timestamp;

/// A plan older than this is not run: the world may have moved.
pub const PLAN_TTL_MILLIS: i64 = 30_000;
/// Dampening: this many runs on one target...
pub const DAMPENING_RUNS: usize = 3;
/// ...within this window hand the target to a human.
pub const DAMPENING_WINDOW_MILLIS: i64 = 60_000;

/// Makes the plan for `kind` on `target` (`gateway/backend/server` for an HAProxy
/// server, `patroni-source/candidate` for a switchover; [`Kind::describe`] says each):
/// the target kind that owns it reads it fresh and checks every guard.
pub async fn plan(ctx: &Context<'_>, kind: Kind, target: &str) -> Result<Plan, WorkflowError> {
    target::resolve(ctx.environment, kind, target)?
        .plan(ctx, kind, target)
        .await
}

/// Takes over the interrupted run `id` of `env`: `resume` plans it again as it was (the
/// plan re-reads the target, so a step that did take effect shows in its "before"); a
/// rollback plans the inverse its target kind names (back to the state journaled when it
/// was planned: `ready` after a drain, `unfence` after a fence). The old run is closed
/// as `interrupted` with a row saying what took over. Refused for a run that is not
/// interrupted, and for a rollback its target kind has no inverse for (with why).
pub fn take_over(
    env: &Environment,
    journal: &Journal,
    id: i64,
    rollback: bool,
    operator: &str,
    now: Timestamp,
) -> Result<(Kind, String), WorkflowError> {
    let run = journal
        .run(id)
        .map_err(WorkflowError::Target)?
        .ok_or_else(|| WorkflowError::Usage(format!("no run #{id} in the journal")))?;
    if !run.interrupted(now) {
        return Err(WorkflowError::Refused(if run.outcome == "running" {
            format!(
                "run #{id} is not interrupted: its console ({} pid {}) is still running it",
                run.host, run.pid
            )
        } else {
            format!("run #{id} is not interrupted: it ended ({})", run.outcome)
        }));
    }
    let kind = Kind::parse(&run.kind)?;
    let next = if rollback {
        let owner = target::resolve(env, kind, &run.target)?;
        (owner.info().inverse)(kind, &run.before)
            .map_err(|why| WorkflowError::Usage(format!("{why} (run #{id})")))?
    } else {
        kind
    };
    journal
        .step(
            id,
            &StepRow {
                seq: 0,
                phase: "recovery".into(),
                action: format!(
                    "{} by {operator}: {} {}",
                    if rollback { "rolled back" } else { "resumed" },
                    next.as_str(),
                    run.target
                ),
                outcome: "interrupted".into(),
                detail: format!("the run's console ({}:{}) was gone", run.host, run.pid),
                at: now,
            },
        )
        .map_err(WorkflowError::Target)?;
    journal
        .finish(id, "interrupted")
        .map_err(WorkflowError::Target)?;
    Ok((next, run.target))
}

/// Runs a plan after a typed confirmation (`confirm` must be the plan's `confirm_as`).
///
/// The future is boxed and declared `Send`: a runbook runs workflows through it, and a
/// declared type is what lets the compiler see that recursion through.
pub fn run<'a, 'c: 'a>(
    ctx: &'a Context<'c>,
    plan: &'a Plan,
    confirm: &'a str,
    operator: &'a str,
) -> Pin<Box<dyn Future<Output = Result<Report, WorkflowError>> + Send + 'a>> {
    Box::pin(async move {
        let refusals = plan.refusals();
        if !refusals.is_empty() {
            return Err(WorkflowError::Refused(refusals.join("; ")));
        }
        if ctx.read_only_mode {
            return Err(WorkflowError::Refused("this console is read-only".into()));
        }
        if confirm != plan.confirm_as {
            return Err(WorkflowError::Refused(format!(
                "confirmation {confirm:?} is not the target's name {:?}",
                plan.confirm_as
            )));
        }
        if ctx.environment.second_approver {
            match plan.approver.as_deref().map(str::trim) {
                None | Some("") => {
                    return Err(WorkflowError::Refused(format!(
                        "environment {} needs a second approver: name them (--approver NAME, or the wizard's field)",
                        ctx.environment.name
                    )));
                }
                Some(a) if a == operator => {
                    return Err(WorkflowError::Refused(format!(
                        "the second approver must be another person than the operator ({operator})"
                    )));
                }
                Some(_) => {}
            }
        }
        let confirmed = ctx.clock.now();
        if confirmed.millis_since(plan.made_at) > PLAN_TTL_MILLIS {
            return Err(WorkflowError::Refused(format!(
                "stale data: the plan is {} s old; plan again",
                confirmed.millis_since(plan.made_at) / 1000
            )));
        }
        target::run_detail(ctx, plan, confirmed, operator).await
    })
}

#[cfg(test)]
mod tests {
    use super::server::{Target, restore_command};
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
            target: "g/b/s".into(),
            confirm_as: "b/s".into(),
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
            overrides: Vec::new(),
            approver: None,
            detail: Detail::None,
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
