//! A run as the journal sees it ([`Journaled`]): started once its checks passed, a row
//! per step phase, cancel checkpoints between steps, and the end (done, needs a human,
//! cancelled); and a run held under the target's cross-console lock ([`locked`]).

use super::{Context, Control, Journal, Plan, Report, StepRow, WorkflowError, lock};
use crate::config::SourceConfig;
use crate::time::{Clock, Timestamp};

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
        self.control.push_row(row);
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
    // A lease that cannot be renewed stops the run before its next step: the lock may
    // already be another console's.
    let mut result = match &held {
        Some(h) => {
            tokio::pin!(work);
            tokio::select! {
                r = &mut work => r,
                () = h.lost_wait() => {
                    ctx.control.lose_lease();
                    work.await
                }
            }
        }
        None => work.await,
    };
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
