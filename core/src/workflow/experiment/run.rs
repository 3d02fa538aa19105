//! Planning and running an experiment.
//!
//! The plan reads the console's view now: the hypothesis must hold (a steady state to
//! depart from), the checks outside the scope too, the fault's own workflow is planned
//! with every one of its guards (the last healthy node is never fenced), and the blast
//! radius is counted. The run injects the fault, then watches the view every
//! [`SAMPLE`]: the first sample where the hypothesis does not hold is the detection; a
//! recovery runbook starts by itself after a [`COUNTDOWN`] where allowed (any operator
//! stops the countdown by acknowledging it), or waits for an operator to run it, or the
//! system is left to heal; the hypothesis holding for [`HOLD`] again is the verified
//! recovery. Then the fault is undone. Cancel, STOP ALL, a check outside the scope
//! breaking, or the hypothesis broken longer than the abort bound end it early, and the
//! fault is undone all the same: the undoing runs past the safety valve, which is there
//! to stop changes, and undoing the experiment's own is what stopping means.

use std::sync::Mutex;
use std::time::Duration;

use super::hypothesis::{Bound as Check, first_broken, judge_all};
use super::report::{ExperimentReport, Mark};
use super::{BoundFault, Observed, Resolved};
use crate::config::SourceConfig;
use crate::state::State;
use crate::time::Timestamp;
use crate::workflow::{
    Context, Control, Detail, GuardResult, Journaled, Kind, Plan, Report, WorkflowError,
    common_guards,
};

/// How often the view is judged.
pub const SAMPLE: Duration = Duration::from_millis(50);
/// How long the hypothesis must hold again to count as recovered.
pub const HOLD: Duration = Duration::from_secs(1);
/// How long an automatic recovery waits for an operator to stop it.
pub const COUNTDOWN: Duration = Duration::from_secs(5);

fn observed(ctx: &Context<'_>) -> Result<Observed, WorkflowError> {
    ctx.observed.clone().ok_or_else(|| {
        WorkflowError::Usage(
            "an experiment is judged on the console's live view: run it from the window or with `switchboard experiment run`".to_owned(),
        )
    })
}

/// What the fault takes of what, by the estate's own counts: `(taken, of, words)`.
fn scope(ctx: &Context<'_>, r: &Resolved, state: &State) -> (u32, Option<u32>, String) {
    match &r.fault {
        BoundFault::Workflow { kind, target, .. } => match kind {
            Kind::Fence | Kind::Unfence => {
                let group = ctx
                    .environment
                    .fence
                    .iter()
                    .find(|d| d.node == *target)
                    .map(|d| d.group.clone());
                let peers: std::collections::BTreeSet<&str> = ctx
                    .environment
                    .fence
                    .iter()
                    .filter(|d| Some(&d.group) == group.as_ref())
                    .map(|d| d.node.as_str())
                    .collect();
                let of = u32::try_from(peers.len()).ok().filter(|n| *n > 0);
                (
                    1,
                    of,
                    format!(
                        "node {target} of fence group {}",
                        group.as_deref().unwrap_or("?")
                    ),
                )
            }
            _ => {
                // gateway/backend/server, source/member, source/router: the instance is
                // the last part, its service the one the console files it under.
                let name = target.rsplit('/').next().unwrap_or(target);
                let service = state
                    .instances
                    .iter()
                    .find(|(id, _)| {
                        id.as_str() == name || id.as_str().ends_with(&format!("/{name}"))
                    })
                    .map(|(_, i)| i.service.clone());
                let of = service.as_ref().and_then(|s| {
                    let n = state.instances.values().filter(|i| &i.service == s).count();
                    u32::try_from(n).ok().filter(|n| *n > 0)
                });
                (
                    1,
                    of,
                    service.map_or_else(|| target.clone(), |s| format!("{target} of service {s}")),
                )
            }
        },
        BoundFault::Leak { database, sessions } => (
            1,
            None,
            format!("{sessions} sessions on the primary of {database}"),
        ),
        BoundFault::Toxic { proxy, .. } => (1, None, format!("the path through proxy {proxy}")),
    }
}

/// The blast-radius guard's verdict and its words.
fn blast(ctx: &Context<'_>, r: &Resolved, state: &State) -> (bool, String) {
    let (taken, of, what) = scope(ctx, r, state);
    let limit = &r.blast_radius;
    let share = of.map(|n| taken * 100 / n);
    let ok = taken <= limit.max_instances && share.is_none_or(|p| p <= limit.max_percent);
    let words = match (of, share) {
        (Some(n), Some(p)) => format!(
            "{what}: {taken} of {n} ({p} %); at most {} and {} % allowed",
            limit.max_instances, limit.max_percent
        ),
        _ => format!("{what}: {taken}; at most {} allowed", limit.max_instances),
    };
    (ok, words)
}

fn guard(name: &'static str, ok: bool, reason: String) -> GuardResult {
    GuardResult { name, ok, reason }
}

/// The plan of experiment `name`.
pub(super) async fn plan(ctx: &Context<'_>, name: &str) -> Result<Plan, WorkflowError> {
    let mut r = super::enabled(ctx, name)?;
    let observe = observed(ctx)?;
    let state = observe();
    if let BoundFault::Workflow {
        target,
        primary_of: Some(db),
        ..
    } = &mut r.fault
    {
        // No primary now: the target stays empty and the fault's guard says why.
        if let Some(p) = state
            .databases
            .get(db.as_str())
            .and_then(|d| d.primary.as_ref())
        {
            p.as_str().clone_into(target);
        }
    }
    let now = ctx.clock.now();
    let mut guards = common_guards(ctx, &format!("experiment/{name}"), now).await?;
    let (holds, verdicts) = judge_all(&r.hypothesis, &state);
    guards.push(guard(
        "steady state",
        holds,
        first_broken(&verdicts).map_or_else(
            || format!("the hypothesis holds now ({} check(s))", verdicts.len()),
            |b| format!("the hypothesis does not hold now, so nothing could be measured: {b}"),
        ),
    ));
    if !r.keep.is_empty() {
        let (ok, v) = judge_all(&r.keep, &state);
        guards.push(guard(
            "outside the scope",
            ok,
            first_broken(&v).map_or_else(
                || format!("{} check(s) outside the experiment hold", v.len()),
                |b| format!("already broken before the fault: {b}"),
            ),
        ));
    }
    let (ok, words) = blast(ctx, &r, &state);
    guards.push(guard("blast radius", ok, words));
    if let Some(rb) = &r.runbook {
        let enabled = ctx.environment.runbook.iter().any(|x| &x.name == rb);
        guards.push(guard(
            "recovery",
            enabled,
            if enabled {
                format!(
                    "runbook {rb} is enabled here{}",
                    if r.automatic {
                        format!(
                            "; it starts by itself {} s after the hypothesis breaks unless an operator stops the countdown",
                            COUNTDOWN.as_secs()
                        )
                    } else {
                        "; an operator starts it".to_owned()
                    }
                )
            } else {
                format!("runbook {rb} is not enabled in this environment")
            },
        ));
    }
    match &r.fault {
        BoundFault::Workflow {
            target,
            primary_of: Some(db),
            ..
        } if target.is_empty() => {
            guards.push(guard(
                "fault",
                false,
                format!("{db} has no primary now: there is no primary's node to fault"),
            ));
        }
        BoundFault::Workflow { kind, target, .. } => {
            let sub = super::super::plan(ctx, *kind, target).await?;
            let refusals = sub.refusals();
            guards.push(guard(
                "fault",
                refusals.is_empty(),
                if refusals.is_empty() {
                    format!(
                        "{} {target}: its own {} guards pass",
                        kind.as_str(),
                        sub.guards.len()
                    )
                } else {
                    format!(
                        "{} {target} refused: {}",
                        kind.as_str(),
                        refusals.join("; ")
                    )
                },
            ));
        }
        BoundFault::Toxic { api, proxy, .. } => {
            let checked = super::toxic::check(api, proxy).await;
            guards.push(guard(
                "fault",
                checked.is_ok(),
                checked.unwrap_or_else(|e| e),
            ));
        }
        BoundFault::Leak { database, .. } => {
            let found = ctx
                .environment
                .source
                .iter()
                .any(|s| matches!(s, SourceConfig::Postgres(p) if &p.name == database));
            guards.push(guard(
                "fault",
                found,
                if found {
                    format!("sessions opened as the postgres source {database} connects")
                } else {
                    format!("no postgres source named {database:?}")
                },
            ));
        }
    }
    let mut steps = vec![
        format!("GAME DAY: {}", r.title),
        format!(
            "hypothesis: {}",
            r.hypothesis
                .iter()
                .map(Check::describe)
                .collect::<Vec<_>>()
                .join("; ")
        ),
        format!("fault: {}", r.fault.describe()),
        match (&r.runbook, r.automatic) {
            (Some(rb), true) => format!(
                "recovery: runbook {rb}, started by itself {} s after detection (an operator may stop the countdown)",
                COUNTDOWN.as_secs()
            ),
            (Some(rb), false) => format!("recovery: runbook {rb}, started by an operator"),
            (None, _) => "recovery: none; the system should heal itself".to_owned(),
        },
        format!(
            "abort: the hypothesis broken for more than {} s{}, cancel or STOP ALL; the fault is undone in every case",
            r.broken_for_secs,
            if r.keep.is_empty() {
                String::new()
            } else {
                format!(
                    ", or any of: {}",
                    r.keep
                        .iter()
                        .map(Check::describe)
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        ),
    ];
    if let Some(g) = r.goal_secs {
        steps.push(format!("goal: fault to verified recovery within {g} s"));
    }
    Ok(Plan {
        kind: Kind::Experiment,
        target: name.to_owned(),
        confirm_as: name.to_owned(),
        environment: ctx.environment.name.clone(),
        before: r.title.clone(),
        steps,
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::Experiment(r),
    })
}

/// What the sampler has seen so far.
#[derive(Default)]
struct Seen {
    detected: Option<(Timestamp, String)>,
    holding_since: Option<Timestamp>,
    broken_since: Option<Timestamp>,
    outside: Option<(Timestamp, String)>,
    marks: Vec<Mark>,
    /// Whether the hypothesis held at the last sample.
    held: Option<bool>,
    /// A recovery has started (a leak stops leaking).
    recovering: bool,
}

/// Judges the view every [`SAMPLE`] and keeps what it saw.
struct Watch<'a> {
    observe: Observed,
    ctx: &'a Context<'a>,
    r: &'a Resolved,
    seen: Mutex<Seen>,
}

impl Watch<'_> {
    fn sample(&self) {
        let state = (self.observe)();
        let now = self.ctx.clock.now();
        let (holds, verdicts) = judge_all(&self.r.hypothesis, &state);
        let (keep, kept) = judge_all(&self.r.keep, &state);
        let Ok(mut s) = self.seen.lock() else {
            return;
        };
        if s.held != Some(holds) {
            let what = if holds {
                "the hypothesis holds".to_owned()
            } else {
                format!(
                    "the hypothesis broke: {}",
                    first_broken(&verdicts).unwrap_or_default()
                )
            };
            s.marks.push(Mark { at: now, what });
            s.held = Some(holds);
        }
        if holds {
            s.broken_since = None;
            if s.holding_since.is_none() {
                s.holding_since = Some(now);
            }
        } else {
            s.holding_since = None;
            if s.broken_since.is_none() {
                s.broken_since = Some(now);
            }
            if s.detected.is_none() {
                s.detected = Some((now, first_broken(&verdicts).unwrap_or_default()));
            }
        }
        if !keep && s.outside.is_none() {
            let why = first_broken(&kept).unwrap_or_default();
            s.marks.push(Mark {
                at: now,
                what: format!("OUTSIDE THE SCOPE: {why}"),
            });
            s.outside = Some((now, why));
        }
    }

    /// Samples until dropped (raced against the work it watches).
    async fn forever(&self) {
        loop {
            self.sample();
            tokio::time::sleep(SAMPLE).await;
        }
    }

    fn mark(&self, at: Timestamp, what: String) {
        if let Ok(mut s) = self.seen.lock() {
            s.marks.push(Mark { at, what });
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Seen) -> T) -> Option<T> {
        self.seen.lock().ok().map(|s| f(&s))
    }
}

/// Runs `work` while the view is sampled.
async fn watched<T>(watch: &Watch<'_>, work: impl std::future::Future<Output = T>) -> T {
    tokio::select! {
        r = work => r,
        () = watch.forever() => unreachable!("sampling never ends"),
    }
}

/// A fault in place, to be undone.
enum Held {
    /// A workflow ran; its undoing is due.
    Workflow { undo: Option<Kind>, target: String },
    /// Sessions held idle in a transaction (dropping them closes them), topped up
    /// while the leak goes on.
    Sessions(Mutex<Vec<tokio_postgres::Client>>),
    /// A toxic on a fault proxy (its API and proxy).
    Toxic(String, String),
    /// Nothing to undo.
    Nothing,
}

/// Plans and runs `kind` on `target` with the experiment's confirmation standing for
/// it; the words of how it went.
async fn sub_run(
    ctx: &Context<'_>,
    kind: Kind,
    target: &str,
    operator: &str,
) -> Result<String, String> {
    let sub = super::super::plan(ctx, kind, target)
        .await
        .map_err(|e| e.to_string())?;
    if !sub.allowed() {
        return Err(format!(
            "{} {target} refused: {}",
            kind.as_str(),
            sub.refusals().join("; ")
        ));
    }
    match super::super::run(ctx, &sub, &sub.confirm_as, operator).await {
        Ok(rep) if rep.outcome == "done" => Ok(format!(
            "{} {target}: run #{} done{}",
            kind.as_str(),
            rep.run,
            rep.lines
                .last()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default()
        )),
        Ok(rep) => Err(format!(
            "{} {target}: run #{} {} ({})",
            kind.as_str(),
            rep.run,
            rep.outcome,
            rep.lines.join("; ")
        )),
        Err(e) => Err(format!("{} {target}: {e}", kind.as_str())),
    }
}

/// Sessions a leak opens at once: a pool leaks a few at a time, and a hundred
/// handshakes at once would measure the handshakes.
const LEAK_WAVE: u32 = 10;

/// Opens `n` sessions on `database` and leaves each idle in a transaction, a wave at a
/// time, until `n` are held or the server refuses more (the leak has filled it).
async fn leak(ctx: &Context<'_>, database: &str, n: u32) -> (Vec<tokio_postgres::Client>, String) {
    let mut held = Vec::new();
    let mut refused = None;
    let mut left = n;
    while left > 0 && refused.is_none() {
        let wave = left.min(LEAK_WAVE);
        left -= wave;
        let opened = futures_util::future::join_all((0..wave).map(|_| async {
            let client = super::super::runbook::connect(ctx, database).await?;
            client
                .batch_execute("BEGIN; SELECT 1")
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(client)
        }))
        .await;
        for o in opened {
            match o {
                Ok(c) => held.push(c),
                Err(e) => refused = Some(e),
            }
        }
    }
    let words = match refused {
        // A full server refusing more is the leak doing what a leak does.
        Some(e) => format!(
            "{} of {n} sessions held idle in a transaction; the server refused the rest ({e})",
            held.len()
        ),
        None => format!("{n} sessions held idle in a transaction"),
    };
    (held, words)
}

/// How often a leak tries to take a slot the server freed.
const TOP_UP: Duration = Duration::from_millis(100);

/// Keeps a leak going: every [`TOP_UP`], one more session while fewer than `n` are held,
/// until a recovery has started (the runbook stops the leaking application). Never
/// returns; raced against the run.
async fn top_up(
    ctx: &Context<'_>,
    database: &str,
    n: u32,
    clients: &Mutex<Vec<tokio_postgres::Client>>,
    watch: &Watch<'_>,
) {
    loop {
        tokio::time::sleep(TOP_UP).await;
        let held = clients.lock().map_or(usize::MAX, |c| c.len());
        let recovering = watch.with(|s| s.recovering).unwrap_or(true);
        if recovering || held >= n as usize {
            continue;
        }
        if let Ok(client) = super::super::runbook::connect(ctx, database).await
            && client.batch_execute("BEGIN; SELECT 1").await.is_ok()
            && let Ok(mut c) = clients.lock()
        {
            c.push(client);
        }
    }
}

/// Everything a run needs besides the context.
pub(super) struct Run<'a> {
    pub plan: &'a Plan,
    pub r: &'a Resolved,
    pub confirmed: Timestamp,
    pub operator: &'a str,
}

/// The run of a plan whose checks passed, under the experiment's lock (taken by the
/// caller).
pub(super) async fn execute(ctx: &Context<'_>, run: Run<'_>) -> Result<Report, WorkflowError> {
    let Run {
        plan,
        r,
        confirmed,
        operator,
    } = run;
    let observe = observed(ctx)?;
    let journaled = Journaled::start(ctx, plan, operator, confirmed)?;
    let watch = Watch {
        observe,
        ctx,
        r,
        seen: Mutex::new(Seen::default()),
    };
    let mut report = ExperimentReport {
        experiment: r.name.clone(),
        title: r.title.clone(),
        environment: ctx.environment.name.clone(),
        operator: operator.to_owned(),
        run: journaled.id,
        fault: r.fault.describe(),
        goal_millis: r
            .goal_secs
            .map(|s| i64::try_from(s * 1000).unwrap_or(i64::MAX)),
        blast_radius: plan
            .guards
            .iter()
            .find(|g| g.name == "blast radius")
            .map(|g| g.reason.clone())
            .unwrap_or_default(),
        blast_radius_held: true,
        resolution_millis: u64::try_from(SAMPLE.as_millis()).unwrap_or(u64::MAX),
        ..ExperimentReport::default()
    };
    watch.sample();
    if watch.with(|s| s.held) != Some(Some(true)) {
        journaled.step(
            "verify",
            "steady state",
            "failed",
            "the hypothesis no longer holds",
        )?;
        journaled.finish("cancelled")?;
        return Err(WorkflowError::Refused(
            "the hypothesis stopped holding between the plan and the run: nothing was injected"
                .to_owned(),
        ));
    }

    // Inject.
    let injected = ctx.clock.now();
    report.injected_at = Some(injected);
    watch.mark(injected, format!("fault injected: {}", r.fault.describe()));
    journaled.step("before", "inject", "pending", &r.fault.describe())?;
    let (held, injected_words) = match &r.fault {
        BoundFault::Workflow {
            kind, target, undo, ..
        } => {
            match watched(&watch, sub_run(ctx, *kind, target, operator)).await {
                Ok(w) => (
                    Held::Workflow {
                        undo: *undo,
                        target: target.clone(),
                    },
                    Ok(w),
                ),
                // A refused or failed fault may have half-happened: undo it anyway.
                Err(e) => (
                    Held::Workflow {
                        undo: *undo,
                        target: target.clone(),
                    },
                    Err(e),
                ),
            }
        }
        BoundFault::Toxic { api, proxy, toxic } => {
            match watched(&watch, super::toxic::add(api, proxy, *toxic)).await {
                Ok(w) => (Held::Toxic(api.clone(), proxy.clone()), Ok(w)),
                // A refused toxic was not added: nothing to remove.
                Err(e) => (Held::Nothing, Err(e)),
            }
        }
        BoundFault::Leak { database, sessions } => {
            let (clients, words) = watched(&watch, leak(ctx, database, *sessions)).await;
            if clients.is_empty() {
                (Held::Nothing, Err(words))
            } else {
                (Held::Sessions(Mutex::new(clients)), Ok(words))
            }
        }
    };
    let mut abort: Option<String> = None;
    match &injected_words {
        Ok(w) => {
            journaled.step("after", "inject", "ok", w)?;
            let now = ctx.clock.now();
            report.in_place_at = Some(now);
            watch.mark(now, format!("fault in place: {w}"));
            // A recovery counts from here: the hypothesis holding while the fault was
            // still going in (a leak half-open) is not the system recovering from it.
            if let Ok(mut s) = watch.seen.lock() {
                s.holding_since = None;
            }
        }
        Err(e) => {
            journaled.step("after", "inject", "failed", e)?;
            abort = Some(format!("the fault could not be injected: {e}"));
        }
    }

    // Watch: detection, recovery, verified recovery.
    if abort.is_none() {
        // Boxed: the run is long-lived and its states are large.
        let following = Box::pin(follow(ctx, r, &watch, &journaled, &mut report));
        abort = match (&held, &r.fault) {
            // A leak goes on until someone stops the application: each slot the server
            // frees is taken again until a recovery starts.
            (Held::Sessions(clients), BoundFault::Leak { database, sessions }) => {
                let leaking = Box::pin(top_up(ctx, database, *sessions, clients, &watch));
                watched(&watch, async {
                    tokio::select! {
                        a = following => a,
                        () = leaking => unreachable!("the leak goes on until the run stops it"),
                    }
                })
                .await
            }
            _ => watched(&watch, following).await,
        };
    }

    // Undo, whatever happened: past the safety valve (see the module's notes).
    let undo_ctx = Context {
        environment: ctx.environment,
        journal: ctx.journal,
        clock: ctx.clock,
        read_only_mode: ctx.read_only_mode,
        timeout: ctx.timeout,
        control: Control::default(),
        drill: ctx.drill.clone(),
        observed: ctx.observed.clone(),
    };
    let undone = match held {
        Held::Workflow {
            undo: Some(undo),
            target,
        } => {
            journaled.step(
                "before",
                "undo",
                "pending",
                &format!("{} {target}", undo.as_str()),
            )?;
            Some(watched(&watch, sub_run(&undo_ctx, undo, &target, operator)).await)
        }
        Held::Sessions(clients) => {
            let clients = clients.into_inner().unwrap_or_default();
            let n = clients.len();
            journaled.step(
                "before",
                "undo",
                "pending",
                &format!("close the {n} leaked sessions"),
            )?;
            drop(clients);
            Some(Ok(format!("the {n} leaked sessions closed")))
        }
        Held::Toxic(api, proxy) => {
            journaled.step(
                "before",
                "undo",
                "pending",
                &format!("remove the toxic from proxy {proxy}"),
            )?;
            Some(watched(&watch, super::toxic::remove(&api, &proxy)).await)
        }
        Held::Workflow { undo: None, .. } | Held::Nothing => None,
    };
    let mut undo_failed = None;
    if let Some(u) = undone {
        let now = ctx.clock.now();
        match u {
            Ok(w) => {
                journaled.step("after", "undo", "ok", &w)?;
                watch.mark(now, format!("fault undone: {w}"));
                report.undone_at = Some(now);
            }
            Err(e) => {
                journaled.step("after", "undo", "failed", &e)?;
                watch.mark(now, format!("FAULT NOT UNDONE: {e}"));
                undo_failed = Some(e);
            }
        }
    }

    // The figures.
    if let Some((at, by)) = watch.with(|s| s.detected.clone()).flatten() {
        report.detected_at = Some(at);
        report.detected_by = Some(by);
        report.mttd_millis = Some(at.millis_since(injected));
    }
    if let Some(at) = report.recovered_at {
        report.mttr_millis = Some(at.millis_since(injected));
    }
    if let Some((_, why)) = watch.with(|s| s.outside.clone()).flatten() {
        report.blast_radius_held = false;
        abort.get_or_insert_with(|| format!("outside the scope: {why}"));
    }
    let (outcome, summary) = match (&abort, report.recovered_at, report.detected_at) {
        (Some(why), _, _) => ("aborted", why.clone()),
        (None, Some(_), _) => (
            "recovered",
            format!(
                "the hypothesis broke and held again{}",
                match report.met_goal() {
                    Some(true) => ", within the goal",
                    Some(false) => ", but past the goal",
                    None => "",
                }
            ),
        ),
        (None, None, None) => (
            "held",
            format!(
                "the hypothesis held throughout: the fault did not break it within {} s",
                r.detect_within_secs
            ),
        ),
        (None, None, Some(_)) => (
            "not recovered",
            "the hypothesis did not hold again".to_owned(),
        ),
    };
    report.outcome = outcome.to_owned();
    report.summary = match &undo_failed {
        Some(e) => format!("{summary}; THE FAULT WAS NOT UNDONE ({e}): a human takes over"),
        None => summary,
    };
    report.timeline = watch.with(|s| s.marks.clone()).unwrap_or_default();
    let json = serde_json::to_string(&report).map_err(|e| WorkflowError::Target(e.to_string()))?;
    ctx.journal
        .record_experiment(journaled.id, &r.name, &json)
        .map_err(WorkflowError::Target)?;
    // The whole report in the journal's last row: the incident store copies the run's
    // rows into the timeline of the incident it caused, so the report is attached there.
    journaled.step("verify", "measured", &report.outcome, &report.markdown())?;
    let journal_outcome = if undo_failed.is_some() {
        "needs_human"
    } else if outcome == "aborted" {
        "cancelled"
    } else {
        "done"
    };
    journaled.finish(journal_outcome)?;
    let mut lines: Vec<String> = report
        .timeline
        .iter()
        .map(|m| format!("{} {}", m.at.to_rfc3339(), m.what))
        .collect();
    lines.push(report.line());
    Ok(Report {
        run: journaled.id,
        outcome: journal_outcome.to_owned(),
        effect_millis: report.mttr_millis,
        lines,
    })
}

/// From the fault in place to the hypothesis holding again (or a reason to stop): the
/// reason to abort, if any.
async fn follow(
    ctx: &Context<'_>,
    r: &Resolved,
    watch: &Watch<'_>,
    journaled: &Journaled<'_>,
    report: &mut ExperimentReport,
) -> Option<String> {
    let injected = report.injected_at.unwrap_or_else(|| ctx.clock.now());
    let hold = i64::try_from(HOLD.as_millis()).unwrap_or(i64::MAX);
    let broken_for = i64::try_from(r.broken_for_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let mut countdown: Option<Timestamp> = None;
    let mut said_detected = false;
    loop {
        tokio::time::sleep(SAMPLE).await;
        let now = ctx.clock.now();
        if let Some(why) = ctx.control.stopped() {
            return Some(why.to_owned());
        }
        let Some((detected, holding_since, broken_since, outside)) = watch.with(|s| {
            (
                s.detected.clone(),
                s.holding_since,
                s.broken_since,
                s.outside.clone(),
            )
        }) else {
            return Some("the run's record was lost".to_owned());
        };
        if let Some((_, why)) = outside {
            return Some(format!("a check outside the scope broke: {why}"));
        }
        let Some((detected_at, by)) = detected else {
            if now.millis_since(injected)
                > i64::try_from(r.detect_within_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
            {
                return None;
            }
            continue;
        };
        if !said_detected {
            said_detected = true;
            journaled.step("verify", "detected", "broken", &by).ok();
            match (&r.runbook, r.automatic) {
                (Some(rb), true) => {
                    let due = Timestamp(
                        detected_at.0 + i64::try_from(COUNTDOWN.as_millis()).unwrap_or(0),
                    );
                    countdown = Some(due);
                    ctx.control.ask_human(&format!(
                        "GAME DAY: runbook {rb} starts by itself in {} s; acknowledge to stop the countdown and recover by hand",
                        COUNTDOWN.as_secs()
                    ));
                    watch.mark(
                        now,
                        format!(
                            "automatic recovery: runbook {rb} due in {} s",
                            COUNTDOWN.as_secs()
                        ),
                    );
                }
                (Some(rb), false) => {
                    ctx.control.ask_human(&format!(
                        "GAME DAY: the hypothesis broke ({by}); run runbook {rb} now. The experiment waits for the hypothesis to hold again"
                    ));
                }
                (None, _) => {
                    report.recovery_by = Some("the system itself, no runbook".to_owned());
                }
            }
        }
        if let (Some(h), None) = (holding_since, report.recovered_at)
            && now.millis_since(h) >= hold
        {
            report.recovered_at = Some(h);
            ctx.control.ask_human("");
            return None;
        }
        if let Some(b) = broken_since
            && now.millis_since(b) > broken_for
        {
            ctx.control.ask_human("");
            return Some(format!(
                "the hypothesis stayed broken for more than {} s",
                r.broken_for_secs
            ));
        }
        if countdown.is_some() && ctx.control.take_ack() {
            countdown = None;
            ctx.control.ask_human("");
            watch.mark(
                now,
                "countdown stopped by an operator: recovery by hand".to_owned(),
            );
        }
        if let (Some(due), Some(rb)) = (countdown, &r.runbook)
            && now >= due
        {
            countdown = None;
            ctx.control.ask_human("");
            report.recovery_started_at = Some(now);
            if let Ok(mut s) = watch.seen.lock() {
                s.recovering = true;
            }
            report.recovery_by = Some(format!("runbook {rb}, started automatically"));
            watch.mark(now, format!("recovery: runbook {rb} started automatically"));
            let done = Box::pin(sub_run(
                ctx,
                Kind::Runbook,
                rb,
                "switchboard (automatic recovery)",
            ))
            .await;
            let words = done.unwrap_or_else(|e| format!("FAILED: {e}"));
            watch.mark(ctx.clock.now(), format!("runbook {rb}: {words}"));
        }
        // A recovery an operator started: the runbook's run in the journal.
        if report.recovery_started_at.is_none()
            && let Some(rb) = &r.runbook
            && let Ok(runs) = ctx.journal.runs_since(rb, detected_at)
            && let Some(first) = runs.iter().map(|x| x.started_at).min()
        {
            report.recovery_started_at = Some(first);
            if let Ok(mut s) = watch.seen.lock() {
                s.recovering = true;
            }
            report.recovery_by = Some(format!("runbook {rb}, started by an operator"));
            watch.mark(
                first,
                format!("recovery: runbook {rb} started by an operator"),
            );
        }
    }
}
