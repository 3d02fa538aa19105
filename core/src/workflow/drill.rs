//! The drill's workflows: every workflow practised on the simulated fleet, through the
//! same engine (plan, guards, typed confirmation, journal, verification), labelled
//! DRILL in the plan, the journal and the report. Nothing here touches a real system.
//!
//! Targets: an instance (`checkout-03`) for drain, maint, ready, reintegrate, fence
//! and unfence; a database member (`pg-2`) for fence and unfence; `orders-db/pg-2` for a
//! switchover or failover; a route (`edge-gateway/checkout`) for fallback and restore;
//! the public name (`drill/www`) for dns-failover and dns-restore.
//! The plan reads the drill's fleet fresh ([`DrillView`]); the run applies the action
//! to the fleet and verifies it there.

use std::time::Duration;

use super::target::{BoxFuture, Found, OnDrill, Reach, TargetKind};
use super::{Context, Detail, GuardResult, Kind, Offer, Plan, Report, WorkflowError};
use crate::config::{Environment, SourceConfig};
use crate::model::{DbRole, Health};
use crate::sources::drill::{
    DRILL_DATABASE, DRILL_PUBLIC_TARGET, DrillAction, DrillHandle, DrillView, ServerState,
};
use crate::time::Timestamp;

/// A drill action as planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Practice {
    /// What is done to the fleet.
    pub action: DrillAction,
}

/// Whether the environment is the drill.
pub(super) fn is_drill(ctx: &Context<'_>) -> bool {
    is_drill_env(ctx.environment)
}

fn is_drill_env(env: &Environment) -> bool {
    env.source
        .iter()
        .any(|s| matches!(s, SourceConfig::Drill(_)))
}

fn handle<'a>(ctx: &'a Context<'_>) -> Result<&'a DrillHandle, WorkflowError> {
    ctx.drill.as_ref().ok_or_else(|| {
        WorkflowError::Usage(
            "the drill's fleet lives in the window's engine: practise its workflows in the window (Actions, Ctrl+K)"
                .into(),
        )
    })
}

fn guard(name: &'static str, ok: bool, reason: String) -> GuardResult {
    GuardResult { name, ok, reason }
}

/// The plan of `kind` on `target` in the drill.
pub(super) async fn plan(
    ctx: &Context<'_>,
    kind: Kind,
    target: &str,
) -> Result<Plan, WorkflowError> {
    let view = handle(ctx)?.view().await.map_err(WorkflowError::Target)?;
    let now = ctx.clock.now();
    let mut guards = super::common_guards(ctx, target, now).await?;
    let instance = view.instances.iter().find(|i| i.id == target);
    let member = view.db.iter().find(|(m, _, _)| m == target);
    let usage = |what: &str| {
        WorkflowError::Usage(format!(
            "DRILL: {} takes {what} (for example {})",
            kind.as_str(),
            match what {
                "an instance" => view
                    .instances
                    .first()
                    .map_or("checkout-01", |i| i.id.as_str()),
                "a route" => view
                    .routes
                    .first()
                    .map_or("edge-gateway/checkout", |r| r.0.as_str()),
                "the public name" => DRILL_PUBLIC_TARGET,
                _ => "orders-db/pg-2",
            }
        ))
    };
    let (action, before, confirm, step) = match kind {
        Kind::Drain | Kind::Maint | Kind::Ready | Kind::Reintegrate => {
            let i = instance.ok_or_else(|| usage("an instance"))?;
            let state = match kind {
                Kind::Drain => ServerState::Drain,
                Kind::Maint => ServerState::Maint,
                _ => ServerState::Ready,
            };
            if state == ServerState::Ready {
                guards.push(guard(
                    "out of traffic",
                    matches!(i.state, "DRAIN" | "MAINT"),
                    format!("{} is {}", i.id, i.state),
                ));
            } else {
                let others = view
                    .instances
                    .iter()
                    .filter(|o| o.service == i.service && o.id != i.id)
                    .filter(|o| o.state == "UP" && o.health == Health::Healthy)
                    .count();
                guards.push(guard(
                    "last healthy",
                    i.state != "UP" || others > 0,
                    format!(
                        "{others} other healthy instance(s) of {} in rotation",
                        i.service
                    ),
                ));
            }
            (
                DrillAction::Server {
                    instance: i.id.clone(),
                    state,
                },
                i.state.to_owned(),
                i.id.clone(),
                format!("set {} to {state:?}", i.id),
            )
        }
        Kind::Fence | Kind::Unfence => {
            let on = kind == Kind::Unfence;
            if let Some(i) = instance {
                if !on {
                    let others = view
                        .instances
                        .iter()
                        .filter(|o| o.service == i.service && o.id != i.id && o.state != "OFF")
                        .count();
                    guards.push(guard(
                        "last healthy",
                        others > 0,
                        format!("{others} other instance(s) of {} powered on", i.service),
                    ));
                }
                (
                    DrillAction::Power {
                        node: i.id.clone(),
                        on,
                    },
                    i.state.to_owned(),
                    i.id.clone(),
                    format!("power {} {}", i.id, if on { "on" } else { "off" }),
                )
            } else if let Some((m, role, powered)) = member {
                if !on {
                    let others = view.db.iter().filter(|(o, _, p)| o != m && *p).count();
                    guards.push(guard(
                        "last healthy",
                        others > 0,
                        format!("{others} other member(s) of {DRILL_DATABASE} powered on"),
                    ));
                }
                (
                    DrillAction::Power {
                        node: m.clone(),
                        on,
                    },
                    format!("{role:?}, {}", if *powered { "on" } else { "off" }),
                    m.clone(),
                    format!("power {m} {}", if on { "on" } else { "off" }),
                )
            } else {
                return Err(usage("an instance or a database member"));
            }
        }
        Kind::Switchover | Kind::Failover => {
            let cand = target
                .strip_prefix(&format!("{DRILL_DATABASE}/"))
                .ok_or_else(|| usage("orders-db/<member>"))?;
            let primary = view
                .db
                .iter()
                .find(|(_, r, on)| *r == DbRole::Primary && *on)
                .map(|(m, _, _)| m.clone());
            let c = view.db.iter().find(|(m, _, _)| m == cand);
            if kind == Kind::Switchover {
                guards.push(guard(
                    "healthy leader",
                    primary.is_some(),
                    primary.as_ref().map_or_else(
                        || "no primary is powered on: use a failover".to_owned(),
                        |p| format!("{p} is the primary"),
                    ),
                ));
            } else {
                guards.push(guard(
                    "no healthy leader",
                    primary.is_none(),
                    primary.as_ref().map_or_else(
                        || "no primary is powered on".to_owned(),
                        |p| format!("{p} is a healthy primary: use a switchover"),
                    ),
                ));
            }
            guards.push(guard(
                "candidate",
                c.is_some_and(|(_, r, on)| *r == DbRole::Replica && *on),
                c.map_or_else(
                    || format!("{cand} is not a member"),
                    |(_, r, on)| format!("{cand} is {r:?}, {}", if *on { "on" } else { "off" }),
                ),
            ));
            (
                DrillAction::Promote {
                    member: cand.to_owned(),
                },
                primary.map_or_else(|| "no primary".to_owned(), |p| format!("primary {p}")),
                cand.to_owned(),
                format!("promote {cand}"),
            )
        }
        Kind::Fallback | Kind::Restore => {
            let (route, on_fallback) = view
                .routes
                .iter()
                .find(|(r, _)| r == target)
                .ok_or_else(|| usage("a route"))?;
            let want = kind == Kind::Fallback;
            guards.push(guard(
                "not there yet",
                *on_fallback != want,
                format!(
                    "{route} is {}",
                    if *on_fallback {
                        "on its fallback"
                    } else {
                        "on its service"
                    }
                ),
            ));
            (
                DrillAction::Fallback {
                    route: route.clone(),
                    on: want,
                },
                if *on_fallback { "fallback" } else { "service" }.to_owned(),
                route.clone(),
                format!(
                    "send {route} to its {}",
                    if want { "fallback" } else { "service" }
                ),
            )
        }
        Kind::DnsFailover | Kind::DnsRestore => {
            let (name, on_standby) = &view.public;
            if target != DRILL_PUBLIC_TARGET && target != name {
                return Err(usage("the public name"));
            }
            let want = kind == Kind::DnsFailover;
            guards.push(guard(
                "not there yet",
                *on_standby != want,
                format!(
                    "{name} points to the {} region",
                    if *on_standby { "standby" } else { "primary" }
                ),
            ));
            guards.push(guard(
                "target healthy",
                true,
                "the standby region is outside the simulation: assumed ready (DRILL)".to_owned(),
            ));
            (
                DrillAction::PublicName { standby: want },
                if *on_standby { "standby" } else { "primary" }.to_owned(),
                name.clone(),
                format!(
                    "point {name} to the {} region (TTL 15 s)",
                    if want { "standby" } else { "primary" }
                ),
            )
        }
        Kind::Cordon
        | Kind::Uncordon
        | Kind::DeletePod
        | Kind::EtcdRemove
        | Kind::Runbook
        | Kind::Experiment => {
            return Err(super::target::not_practised(kind));
        }
    };
    Ok(Plan {
        kind,
        target: target.to_owned(),
        confirm_as: confirm,
        environment: ctx.environment.name.clone(),
        before,
        steps: vec![
            format!("DRILL: {step} on the simulated fleet"),
            "DRILL: verify on the simulated fleet (up to 5 s)".to_owned(),
        ],
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::Drill(Practice { action }),
    })
}

/// Whether `action` shows in `view`, in words.
pub(super) fn took_effect(action: &DrillAction, view: &DrillView) -> Option<String> {
    match action {
        DrillAction::Server { instance, state } => {
            let i = view.instances.iter().find(|i| &i.id == instance)?;
            let want = match state {
                ServerState::Drain => "DRAIN",
                ServerState::Maint => "MAINT",
                ServerState::Ready => "UP",
            };
            (i.state == want).then(|| format!("{instance} is {want}"))
        }
        DrillAction::Power { node, on } => {
            if let Some((_, _, powered)) = view.db.iter().find(|(m, _, _)| m == node) {
                return (powered == on)
                    .then(|| format!("{node} is powered {}", if *on { "on" } else { "off" }));
            }
            let i = view.instances.iter().find(|i| &i.id == node)?;
            ((i.state == "OFF") != *on).then(|| format!("{node} is {}", i.state))
        }
        DrillAction::Promote { member } => {
            let primaries: Vec<&str> = view
                .db
                .iter()
                .filter(|(_, r, on)| *r == DbRole::Primary && *on)
                .map(|(m, _, _)| m.as_str())
                .collect();
            (primaries == [member.as_str()]).then(|| format!("exactly one primary: {member}"))
        }
        DrillAction::TerminateSessions => view
            .sessions
            .iter()
            .any(|(s, n)| *s == "idle in transaction" && *n == 0)
            .then(|| "no session idle in a transaction".to_owned()),
        DrillAction::Scale { service, replicas } => {
            let mine: Vec<_> = view
                .instances
                .iter()
                .filter(|i| &i.service == service)
                .collect();
            let on = mine.iter().filter(|i| i.state != "OUT").count();
            let ready = mine
                .iter()
                .filter(|i| i.state == "UP" && i.health == Health::Healthy)
                .count();
            let want = (*replicas).min(mine.len());
            (on == want && ready == want).then(|| format!("{service}: {ready} ready of {want}"))
        }
        DrillAction::PublicName { standby } => (view.public.1 == *standby).then(|| {
            format!(
                "both name servers answer the {} region for {}",
                if *standby { "standby" } else { "primary" },
                view.public.0
            )
        }),
        DrillAction::Fallback { route, on } => view
            .routes
            .iter()
            .find(|(r, f)| r == route && f == on)
            .map(|_| {
                format!(
                    "{route} is on its {}",
                    if *on { "fallback" } else { "service" }
                )
            }),
    }
}

/// Runs a drill plan.
pub(super) async fn run(
    ctx: &Context<'_>,
    plan: &Plan,
    p: &Practice,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let drill = handle(ctx)?.clone();
    let journaled = super::Journaled::start(ctx, plan, operator, confirmed)?;
    let mut lines = Vec::new();
    let what = plan.steps.first().cloned().unwrap_or_default();
    if let Some(r) = journaled.checkpoint(&what, &mut lines)? {
        return Ok(r);
    }
    journaled.step("before", &what, "pending", &plan.before)?;
    let done = drill.act(p.action.clone()).await;
    journaled.step(
        "after",
        &what,
        if done.is_ok() { "ok" } else { "failed" },
        done.as_ref().map_or_else(String::as_str, String::as_str),
    )?;
    if let Err(e) = done {
        return journaled.needs_human(lines, format!("DRILL: {e}"));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut seen = None;
    while tokio::time::Instant::now() < deadline {
        if let Ok(v) = drill.view().await
            && let Some(words) = took_effect(&p.action, &v)
        {
            seen = Some(words);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let at = ctx.clock.now();
    journaled.step(
        "verify",
        "DRILL: the fleet shows it",
        if seen.is_some() { "ok" } else { "failed" },
        seen.as_deref().unwrap_or("not shown within 5 s"),
    )?;
    let outcome = if seen.is_some() {
        "done"
    } else {
        "needs_human"
    };
    journaled.finish(outcome)?;
    lines.push(format!(
        "DRILL: {}",
        seen.unwrap_or_else(|| "not verified within 5 s".to_owned())
    ));
    Ok(Report {
        run: journaled.id,
        outcome: outcome.into(),
        effect_millis: (outcome == "done").then(|| at.millis_since(confirmed)),
        lines,
    })
}

/// What can be practised on the drill, for the palette and context menus.
pub fn offers(view: &DrillView) -> Vec<Offer> {
    let mut out = Vec::new();
    for i in &view.instances {
        let kinds: &[Kind] = match i.state {
            "OUT" => &[],
            "DRAIN" | "MAINT" => &[Kind::Ready, Kind::Fence],
            "OFF" => &[Kind::Unfence],
            _ => &[Kind::Drain, Kind::Maint, Kind::Fence],
        };
        for k in kinds {
            out.push(Offer {
                kind: *k,
                target: i.id.clone(),
                label: format!("DRILL {} {} ({}, {})", k.as_str(), i.id, i.service, i.state),
                instance: Some(i.id.clone()),
            });
        }
    }
    for (m, role, on) in &view.db {
        if *role == DbRole::Replica && *on {
            for k in [Kind::Switchover, Kind::Failover] {
                out.push(Offer {
                    kind: k,
                    target: format!("{DRILL_DATABASE}/{m}"),
                    label: format!("DRILL {} {DRILL_DATABASE}: promote {m}", k.as_str()),
                    instance: None,
                });
            }
        }
        let k = if *on { Kind::Fence } else { Kind::Unfence };
        out.push(Offer {
            kind: k,
            target: m.clone(),
            label: format!("DRILL {} database member {m} ({role:?})", k.as_str()),
            instance: None,
        });
    }
    let (name, on_standby) = &view.public;
    let k = if *on_standby {
        Kind::DnsRestore
    } else {
        Kind::DnsFailover
    };
    out.push(Offer {
        kind: k,
        target: DRILL_PUBLIC_TARGET.to_owned(),
        label: format!(
            "DRILL {} {name} (to the {} region)",
            k.as_str(),
            if *on_standby { "primary" } else { "standby" }
        ),
        instance: None,
    });
    for (r, fallback) in &view.routes {
        let k = if *fallback {
            Kind::Restore
        } else {
            Kind::Fallback
        };
        out.push(Offer {
            kind: k,
            target: r.clone(),
            label: format!("DRILL {} route {r}", k.as_str()),
            instance: None,
        });
    }
    out
}

/// The drill target kind: in a drill environment, every practised workflow acts on the simulated fleet.
pub struct DrillTarget;

impl TargetKind for DrillTarget {
    const NAME: &'static str = "drill fleet";
    const SYNTAX: &'static str = "instance, database member (orders-db/pg-2), route (edge-gateway/checkout) or the public name (drill/www)";
    const KINDS: &'static [Kind] = &[
        Kind::Drain,
        Kind::Maint,
        Kind::Ready,
        Kind::Reintegrate,
        Kind::Fallback,
        Kind::Restore,
        Kind::Switchover,
        Kind::Failover,
        Kind::Fence,
        Kind::Unfence,
        Kind::DnsFailover,
        Kind::DnsRestore,
    ];
    const DRILL: OnDrill = OnDrill::Practised;
    type Detail = Practice;

    fn owns(env: &Environment, _target: &str) -> bool {
        is_drill_env(env)
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
        detail: &'a Practice,
        confirmed: Timestamp,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<Report, WorkflowError>> {
        Box::pin(run(ctx, plan, detail, confirmed, operator))
    }

    fn inverse(kind: Kind, before: &str) -> Result<Kind, String> {
        match kind {
            Kind::Drain | Kind::Maint | Kind::Ready | Kind::Reintegrate => {
                Kind::parse(super::server::restore_command(before)).map_err(|e| e.to_string())
            }
            Kind::Fence => Ok(Kind::Unfence),
            Kind::Unfence => Ok(Kind::Fence),
            Kind::Fallback => Ok(Kind::Restore),
            Kind::Restore => Ok(Kind::Fallback),
            Kind::DnsFailover => Ok(Kind::DnsRestore),
            Kind::DnsRestore => Ok(Kind::DnsFailover),
            Kind::Switchover | Kind::Failover => Err(format!(
                "DRILL: a promotion is undone by promoting another member ({before})"
            )),
            other => Err(super::target::not_practised(other).to_string()),
        }
    }

    fn offers<'a>(at: &'a Reach<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let Some(d) = at.drill else {
                return Found::default();
            };
            match d.view().await {
                Ok(v) => (offers(&v), Vec::new()),
                Err(e) => (Vec::new(), vec![format!("drill: {e}")]),
            }
        })
    }
}
