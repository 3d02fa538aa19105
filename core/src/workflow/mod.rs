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

pub mod backup;
pub mod canary;
pub mod desk;
pub mod drill;
pub mod etcd;
pub mod fence;
pub mod journal;
pub mod k8s;
pub mod lock;
pub mod patroni;
pub mod route;
pub mod runbook;
pub mod server;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::config::{Environment, SourceConfig};
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
    /// HAProxy server: back in rotation through a canary ramp (10, 50, 100 %).
    Reintegrate,
    /// Traefik router: to its configured fallback service (file provider); HAProxy
    /// backend: to its backup servers.
    Fallback,
    /// Traefik router: back to its primary service; HAProxy backend: its servers back.
    Restore,
    /// Patroni: hand the primary role to a named healthy replica.
    Switchover,
    /// Patroni: promote a named replica when the leader is not healthy.
    Failover,
    /// A node: power it off through its fence devices (STONITH), level by level.
    Fence,
    /// A node: power it on again through its fence devices.
    Unfence,
    /// A Kubernetes node: no new pods scheduled on it.
    Cordon,
    /// A Kubernetes node: schedulable again.
    Uncordon,
    /// A Kubernetes pod: deleted, its controller replaces it.
    DeletePod,
    /// An etcd member: removed from the cluster's membership.
    EtcdRemove,
    /// A runbook: its steps in order (target: the runbook's name).
    Runbook,
}

impl Kind {
    /// Every workflow.
    pub const ALL: [Self; 15] = [
        Self::Drain,
        Self::Maint,
        Self::Ready,
        Self::Reintegrate,
        Self::Fallback,
        Self::Restore,
        Self::Switchover,
        Self::Failover,
        Self::Fence,
        Self::Unfence,
        Self::Cordon,
        Self::Uncordon,
        Self::DeletePod,
        Self::EtcdRemove,
        Self::Runbook,
    ];

    /// Its name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Drain => "drain",
            Self::Maint => "maint",
            Self::Ready => "ready",
            Self::Reintegrate => "reintegrate",
            Self::Fallback => "fallback",
            Self::Restore => "restore",
            Self::Switchover => "switchover",
            Self::Failover => "failover",
            Self::Fence => "fence",
            Self::Unfence => "unfence",
            Self::Cordon => "cordon",
            Self::Uncordon => "uncordon",
            Self::DeletePod => "delete-pod",
            Self::EtcdRemove => "etcd-remove",
            Self::Runbook => "runbook",
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
            Self::Reintegrate => {
                "HAProxy server back through a canary ramp 10 -> 50 -> 100 %, rolled back when it errs (target gateway/backend/server); or a database member verified back as a replica (target patroni-source/member)"
            }
            Self::Fallback => {
                "Traefik router to its fallback service (file provider; target traefik-source/router), or HAProxy backend to its backup servers (target gateway/backend)"
            }
            Self::Restore => {
                "Traefik router back to its primary service, or HAProxy backend's servers back in rotation (target as for fallback)"
            }
            Self::Switchover => {
                "Patroni: make a healthy replica the primary (target patroni-source/candidate)"
            }
            Self::Failover => {
                "Patroni: promote a named replica when the leader is not healthy (target patroni-source/candidate)"
            }
            Self::Fence => {
                "Node: power it off through its fence devices, level by level (target node)"
            }
            Self::Unfence => "Node: power it on through its fence devices (target node)",
            Self::Cordon => {
                "Kubernetes node: no new pods scheduled on it (target kubernetes-source/node)"
            }
            Self::Uncordon => "Kubernetes node: schedulable again (target kubernetes-source/node)",
            Self::DeletePod => {
                "Kubernetes pod: delete it, its controller replaces it (target kubernetes-source/namespace/pod)"
            }
            Self::EtcdRemove => {
                "etcd: remove a dead member from the cluster's membership (target etcd-source/member)"
            }
            Self::Runbook => {
                "Runbook: its steps in order, one confirmation (target: the runbook's name)"
            }
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, WorkflowError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                WorkflowError::Usage(format!(
                    "no workflow {s:?}; known: {}",
                    Self::ALL.map(Self::as_str).join(", ")
                ))
            })
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
    /// Target, as the operator names it.
    pub target: String,
    /// What the operator types to confirm.
    pub confirm_as: String,
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
    /// Guards a human decided to go past, with why (journaled with the run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
    /// The second person who approved the run, where the environment requires one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// What the run acts on, as read when planned.
    #[serde(skip)]
    pub detail: Detail,
}

/// An operator's decision to go past one refusing guard. Only the guards where a human
/// may know better can be overridden ([`OVERRIDABLE`]); the override is journaled with
/// the run, with its reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Override {
    /// The guard's name.
    pub guard: String,
    /// Why, in the operator's words.
    pub reason: String,
}

/// The guards a human may override. Never read-only, quorum, lock, stale data or the
/// typed confirmation: those protect against what one person cannot see from one console
/// (a stale plan is simply made again).
pub const OVERRIDABLE: [&str; 4] = [
    "dampening",
    "last healthy",
    "replication lag",
    "member is down",
];

/// What a plan acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Detail {
    /// Nothing (a plan built by hand).
    #[default]
    None,
    /// An HAProxy server.
    Server(server::Target),
    /// A Patroni switchover.
    Switchover(patroni::Switch),
    /// A node's fence devices.
    Fence(fence::Fencing),
    /// A canary ramp of an HAProxy server.
    Ramp(canary::Ramp),
    /// A Traefik route change.
    Reroute(route::Reroute),
    /// A runbook's bound steps.
    Runbook(runbook::Resolved),
    /// An HAProxy backend to or from its backup servers.
    Backup(backup::Failover),
    /// A Kubernetes node or pod.
    Kube(k8s::Move),
    /// An action on the drill's simulated fleet.
    Drill(drill::Practice),
    /// An etcd member removal.
    EtcdRemove(etcd::Removal),
    /// A database member's return as a replica.
    Rejoin(patroni::Rejoin),
}

impl Plan {
    /// Every guard passed, or was overridden.
    pub fn allowed(&self) -> bool {
        self.guards.iter().all(|g| g.ok || self.overridden(g.name))
    }

    /// The refusing guards' reasons (overridden guards aside).
    pub fn refusals(&self) -> Vec<String> {
        self.guards
            .iter()
            .filter(|g| !g.ok && !self.overridden(g.name))
            .map(|g| format!("{}: {}", g.name, g.reason))
            .collect()
    }

    /// Whether the guard `name` was overridden.
    pub fn overridden(&self, name: &str) -> bool {
        self.overrides.iter().any(|o| o.guard == name)
    }

    /// Goes past the refusing guard `guard`, for `reason`. Refused for a guard no human
    /// may override, for a guard that did not refuse, and without a reason.
    pub fn override_guard(&mut self, guard: &str, reason: &str) -> Result<(), WorkflowError> {
        if !OVERRIDABLE.contains(&guard) {
            return Err(WorkflowError::Refused(format!(
                "the {guard:?} guard cannot be overridden (only: {})",
                OVERRIDABLE.join(", ")
            )));
        }
        if reason.trim().is_empty() {
            return Err(WorkflowError::Usage(format!(
                "an override of {guard:?} needs a reason; it is journaled"
            )));
        }
        if !self.guards.iter().any(|g| g.name == guard && !g.ok) {
            return Err(WorkflowError::Usage(format!(
                "the {guard:?} guard did not refuse this plan; nothing to override"
            )));
        }
        if !self.overridden(guard) {
            self.overrides.push(Override {
                guard: guard.to_owned(),
                reason: reason.trim().to_owned(),
            });
        }
        Ok(())
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
    /// Cancel, the safety valve and progress, shared with whoever watches the run.
    pub control: Control,
    /// The running drill, when the environment is the drill.
    pub drill: Option<crate::sources::drill::DrillHandle>,
}

/// What a watcher shares with a run: its cancel button, the safety valve shared by every
/// run of a console, and the journal rows written so far (progress).
#[derive(Clone, Debug, Default)]
pub struct Control {
    cancel: Arc<AtomicBool>,
    valve: Arc<AtomicBool>,
    rows: Arc<Mutex<Vec<StepRow>>>,
    human: Arc<Mutex<String>>,
    ack: Arc<AtomicBool>,
}

impl Control {
    /// A control tied to `valve`, the safety valve every run of one console shares.
    pub fn with_valve(valve: Arc<AtomicBool>) -> Self {
        Self {
            valve,
            ..Self::default()
        }
    }

    /// Asks the run to stop before its next step (a step under way finishes).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// Why the run must stop, if it must.
    pub fn stopped(&self) -> Option<&'static str> {
        if self.valve.load(Ordering::SeqCst) {
            Some("stopped by the safety valve")
        } else if self.cancel.load(Ordering::SeqCst) {
            Some("cancelled by the operator")
        } else {
            None
        }
    }

    /// What the run waits for a human to do (empty: nothing).
    pub fn waiting(&self) -> String {
        self.human.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// The operator says the manual step is done.
    pub fn acknowledge(&self) {
        self.ack.store(true, Ordering::SeqCst);
    }

    /// The run asks a human to do `text` (empty: asks nothing any more).
    pub(crate) fn ask_human(&self, text: &str) {
        self.ack.store(false, Ordering::SeqCst);
        if let Ok(mut h) = self.human.lock() {
            text.clone_into(&mut h);
        }
    }

    /// Whether the human said done (once), clearing the question.
    pub(crate) fn take_ack(&self) -> bool {
        let done = self.ack.swap(false, Ordering::SeqCst);
        if done && let Ok(mut h) = self.human.lock() {
            h.clear();
        }
        done
    }

    /// The journal rows the run wrote so far.
    pub fn rows(&self) -> Vec<StepRow> {
        self.rows.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// The guards every workflow has: read-only, dampening, quorum and lock, stale data.
pub(crate) async fn common_guards(
    ctx: &Context<'_>,
    target: &str,
    now: Timestamp,
) -> Result<Vec<GuardResult>, WorkflowError> {
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
    let recent = ctx
        .journal
        .runs_since(target, Timestamp(now.0 - DAMPENING_WINDOW_MILLIS))
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
    if lock::available(ctx.environment) {
        match lock::holder(ctx.environment, target).await {
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
                        || format!("free ({})", lock::key(&ctx.environment.name, target)),
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
            "read just now; the run re-reads the target and refuses if it changed or the plan is older than {} s",
            PLAN_TTL_MILLIS / 1000
        ),
    });
    Ok(guards)
}

/// Makes the plan for `kind` on `target` (`gateway/backend/server` for an HAProxy
/// server, `patroni-source/candidate` for a switchover): a fresh read of the target and
/// every guard.
pub async fn plan(ctx: &Context<'_>, kind: Kind, target: &str) -> Result<Plan, WorkflowError> {
    if drill::is_drill(ctx) && kind != Kind::Runbook {
        return drill::plan(ctx, kind, target).await;
    }
    match kind {
        Kind::Drain | Kind::Maint | Kind::Ready => {
            server::plan(ctx, kind, &server::Target::parse(target)?).await
        }
        Kind::Reintegrate if patroni::is_patroni(ctx, target) => {
            patroni::rejoin_plan(ctx, target).await
        }
        Kind::Reintegrate => canary::plan(ctx, &server::Target::parse(target)?).await,
        Kind::Fallback | Kind::Restore if backup::is_haproxy(ctx, target) => {
            backup::plan(ctx, kind, target).await
        }
        Kind::Fallback | Kind::Restore => route::plan(ctx, kind, target).await,
        Kind::Runbook => runbook::plan(ctx, target).await,
        Kind::Cordon | Kind::Uncordon | Kind::DeletePod => k8s::plan(ctx, kind, target).await,
        Kind::EtcdRemove => etcd::plan(ctx, target).await,
        Kind::Switchover | Kind::Failover => patroni::plan(ctx, kind, target).await,
        Kind::Fence | Kind::Unfence => fence::plan(ctx, kind, target).await,
    }
}

/// Takes over the interrupted run `id`: `resume` plans it again as it was (the plan
/// re-reads the target, so a step that did take effect shows in its "before"); a
/// rollback plans the inverse (back to the state journaled when it was planned: `ready`
/// after a drain, `unfence` after a fence). The old run is closed as `interrupted` with
/// a row saying what took over. Refused for a run that is not interrupted.
pub fn take_over(
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
        match kind {
            Kind::Drain | Kind::Maint | Kind::Ready | Kind::Reintegrate => {
                Kind::parse(server::restore_command(&run.before))?
            }
            Kind::Fence => Kind::Unfence,
            Kind::Unfence => Kind::Fence,
            Kind::Fallback => Kind::Restore,
            Kind::Restore => Kind::Fallback,
            Kind::Cordon => Kind::Uncordon,
            Kind::Uncordon => Kind::Cordon,
            Kind::DeletePod => {
                return Err(WorkflowError::Usage(format!(
                    "a deleted pod has no inverse: its controller replaced it (run #{id})"
                )));
            }
            Kind::EtcdRemove => {
                return Err(WorkflowError::Usage(format!(
                    "a removed etcd member comes back with `member add` and an empty data dir (run #{id})"
                )));
            }
            Kind::Runbook => {
                return Err(WorkflowError::Usage(format!(
                    "a runbook has no single inverse; resume it, or undo its steps one by one (run #{id}'s journal lists them)"
                )));
            }
            Kind::Switchover | Kind::Failover => {
                return Err(WorkflowError::Usage(format!(
                    "a switchover or failover is undone by a switchover back ({}); plan it, run #{id} stays as it is",
                    run.before
                )));
            }
        }
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
        match &plan.detail {
            Detail::Server(t) => Box::pin(server::run(ctx, plan, t, confirmed, operator)).await,
            Detail::Switchover(sw) => {
                Box::pin(patroni::run(ctx, plan, sw, confirmed, operator)).await
            }
            Detail::Fence(f) => {
                let work = fence::execute(ctx, plan, f, confirmed, operator);
                Box::pin(locked(ctx, plan, operator, work)).await
            }
            Detail::Ramp(r) => Box::pin(canary::run(ctx, plan, r, confirmed, operator)).await,
            Detail::Reroute(r) => Box::pin(route::run(ctx, plan, r, confirmed, operator)).await,
            Detail::Runbook(r) => {
                let work = runbook::execute(ctx, plan, r, confirmed, operator);
                Box::pin(locked(ctx, plan, operator, work)).await
            }
            Detail::Backup(f) => Box::pin(backup::run(ctx, plan, f, confirmed, operator)).await,
            Detail::Kube(m) => {
                let work = k8s::execute(ctx, plan, m, confirmed, operator);
                Box::pin(locked(ctx, plan, operator, work)).await
            }
            Detail::Drill(p) => Box::pin(drill::run(ctx, plan, p, confirmed, operator)).await,
            Detail::EtcdRemove(r) => {
                let work = etcd::execute(ctx, plan, r, confirmed, operator);
                Box::pin(locked(ctx, plan, operator, work)).await
            }
            Detail::Rejoin(r) => {
                let work = patroni::rejoin_execute(ctx, plan, r, confirmed, operator);
                Box::pin(locked(ctx, plan, operator, work)).await
            }
            Detail::None => Err(WorkflowError::Usage("this plan has nothing to run".into())),
        }
    })
}

/// A run in the journal: started when its checks passed, a row per step phase.
pub(crate) struct Journaled<'a> {
    journal: &'a Journal,
    clock: &'a dyn Clock,
    control: Control,
    /// The run's id.
    pub id: i64,
}

impl<'a> Journaled<'a> {
    /// Starts the run of `plan`, confirmed at `confirmed` by `operator`.
    pub fn start(
        ctx: &Context<'a>,
        plan: &Plan,
        operator: &str,
        confirmed: Timestamp,
    ) -> Result<Self, WorkflowError> {
        let id = ctx
            .journal
            .start(
                plan.kind.as_str(),
                &plan.target,
                &plan.environment,
                operator,
                confirmed,
                &plan.before,
            )
            .map_err(WorkflowError::Target)?;
        let run = Self {
            journal: ctx.journal,
            clock: ctx.clock,
            control: ctx.control.clone(),
            id,
        };
        if let Some(a) = &plan.approver {
            run.step(
                "approval",
                "second approver",
                "approved",
                &format!("{a} approved; {operator} runs it"),
            )?;
        }
        for o in &plan.overrides {
            let why = plan
                .guards
                .iter()
                .find(|g| g.name == o.guard)
                .map_or("", |g| g.reason.as_str());
            run.step(
                "override",
                &o.guard,
                "overridden",
                &format!("{operator}: {} (the guard said: {why})", o.reason),
            )?;
        }
        // Every guard's verdict as confirmed, one line each, for the audit and the
        // postmortem.
        let verdicts: Vec<String> = plan
            .guards
            .iter()
            .map(|g| {
                let verdict = if g.ok {
                    "PASS"
                } else if plan.overrides.iter().any(|o| o.guard == g.name) {
                    "OVERRIDDEN"
                } else {
                    "REFUSES"
                };
                format!("{}: {verdict} ({})", g.name, g.reason)
            })
            .collect();
        let outcome = if plan.overrides.is_empty() {
            "passed"
        } else {
            "passed with overrides"
        };
        run.step("guards", "checked", outcome, &verdicts.join("\n"))?;
        Ok(run)
    }

    /// Records one row, now.
    pub fn step(
        &self,
        phase: &str,
        action: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<(), WorkflowError> {
        let row = StepRow {
            seq: 0,
            phase: phase.to_owned(),
            action: action.to_owned(),
            outcome: outcome.to_owned(),
            detail: detail.to_owned(),
            at: self.clock.now(),
        };
        self.journal
            .step(self.id, &row)
            .map_err(WorkflowError::Target)?;
        if let Ok(mut rows) = self.control.rows.lock() {
            rows.push(row);
        }
        Ok(())
    }

    /// Ends the run as `needs_human` with `line` added (a step failed; nothing after it
    /// runs).
    pub fn needs_human(
        &self,
        mut lines: Vec<String>,
        line: String,
    ) -> Result<Report, WorkflowError> {
        self.finish("needs_human")?;
        lines.push(line);
        Ok(Report {
            run: self.id,
            outcome: "needs_human".into(),
            effect_millis: None,
            lines,
        })
    }

    /// Ends the run on its verification: journals the `verify` row of `what` with what
    /// was `seen`, and finishes `done` (with `ok_line`) when `effect` is the moment the
    /// change showed, else `needs_human` (with `failed_line`).
    #[allow(clippy::too_many_arguments)]
    pub fn verified(
        &self,
        what: &str,
        seen: &str,
        effect: Option<Timestamp>,
        confirmed: Timestamp,
        lines: Vec<String>,
        ok_line: String,
        failed_line: String,
    ) -> Result<Report, WorkflowError> {
        self.step(
            "verify",
            what,
            if effect.is_some() { "ok" } else { "failed" },
            seen,
        )?;
        let Some(at) = effect else {
            return self.needs_human(lines, failed_line);
        };
        self.finish("done")?;
        let mut lines = lines;
        lines.push(ok_line);
        Ok(Report {
            run: self.id,
            outcome: "done".into(),
            effect_millis: Some(at.millis_since(confirmed)),
            lines,
        })
    }

    /// Between steps: when the run was cancelled or the safety valve pulled, journals
    /// it, ends the run as `cancelled` and returns its report; `next` is the step that
    /// will not run.
    pub fn checkpoint(
        &self,
        next: &str,
        lines: &mut Vec<String>,
    ) -> Result<Option<Report>, WorkflowError> {
        let Some(why) = self.control.stopped() else {
            return Ok(None);
        };
        self.step("cancel", next, "cancelled", why)?;
        self.finish("cancelled")?;
        lines.push(format!(
            "{why} before `{next}`: the steps above ran, nothing after; the target is as they left it"
        ));
        Ok(Some(Report {
            run: self.id,
            outcome: "cancelled".into(),
            effect_millis: None,
            lines: std::mem::take(lines),
        }))
    }

    /// Ends the run.
    pub fn finish(&self, outcome: &str) -> Result<(), WorkflowError> {
        self.journal
            .finish(self.id, outcome)
            .map_err(WorkflowError::Target)
    }
}

/// The `kind` source named `name` in the context's environment, picked by `pick`.
pub(crate) fn source<'a, T>(
    ctx: &'a Context<'_>,
    kind: &str,
    name: &str,
    pick: impl Fn(&'a SourceConfig) -> Option<&'a T>,
) -> Result<&'a T, WorkflowError> {
    ctx.environment.source.iter().find_map(pick).ok_or_else(|| {
        WorkflowError::Usage(format!(
            "no {kind} source named {name:?} in environment {:?}",
            ctx.environment.name
        ))
    })
}

/// Runs `work` while holding the target's lock (taken here, released after).
pub(crate) async fn locked(
    ctx: &Context<'_>,
    plan: &Plan,
    operator: &str,
    work: impl std::future::Future<Output = Result<Report, WorkflowError>>,
) -> Result<Report, WorkflowError> {
    let purpose = format!(
        "{}@{}: {} {}",
        operator,
        crate::identity::host_name(),
        plan.kind.as_str(),
        plan.target
    );
    let held = lock::acquire(ctx.environment, &plan.target, &purpose)
        .await
        .map_err(WorkflowError::Refused)?;
    let mut result = work.await;
    if let Some(h) = held {
        if let Some(why) = h.lost()
            && let Ok(r) = &mut result
        {
            r.lines.push(format!(
                "WARNING: the lock's lease could not be renewed during the run ({why}); \
                 another console may have acted on {} too",
                plan.target
            ));
        }
        h.release().await;
    }
    result
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
