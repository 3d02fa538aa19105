//! The experiment target kind: an experiment the environment enables, by name, run as
//! one workflow (`experiment NAME`) so the window's palette, the desk, the journal, the
//! lock and the safety valve treat it as any other.

use super::Resolved;
use super::run::{Run, execute, plan};
use crate::config::Environment;
use crate::time::Timestamp;
use crate::workflow::target::{self, BoxFuture, Found, OnDrill, Reach, TargetKind};
use crate::workflow::{Context, Kind, Offer, Plan, Report, WorkflowError};

/// Experiments the environment enables.
pub struct ExperimentTarget;

impl TargetKind for ExperimentTarget {
    const NAME: &'static str = "experiment";
    const SYNTAX: &'static str = "experiment-name";
    const KINDS: &'static [Kind] = &[Kind::Experiment];
    const DRILL: OnDrill = OnDrill::No(
        "a game day measures real systems; the drill practises faults with its own Inject menu",
    );
    type Detail = Resolved;

    fn owns(env: &Environment, target: &str) -> bool {
        env.experiment.iter().any(|e| e.name == target)
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
        detail: &'a Resolved,
        confirmed: Timestamp,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<Report, WorkflowError>> {
        target::under_lock(
            ctx,
            plan,
            operator,
            execute(
                ctx,
                Run {
                    plan,
                    r: detail,
                    confirmed,
                    operator,
                },
            ),
        )
    }

    fn inverse(kind: Kind, _before: &str) -> Result<Kind, String> {
        match kind {
            Kind::Experiment => Err(
                "an experiment undoes its own fault when it ends; its run's journal says how"
                    .to_owned(),
            ),
            other => Err(format!("{} is not an experiment", other.as_str())),
        }
    }

    fn offers<'a>(at: &'a Reach<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let offers = at
                .environment
                .experiment
                .iter()
                .map(|e| Offer {
                    kind: Kind::Experiment,
                    target: e.name.clone(),
                    label: format!(
                        "GAME DAY experiment {} (inject its fault, measure the recovery, undo it)",
                        e.name
                    ),
                    instance: None,
                })
                .collect();
            (offers, Vec::new())
        })
    }
}
