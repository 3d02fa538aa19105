//! The guards every workflow has, whatever its target: read-only, dampening, quorum
//! and the cross-console lock, stale data. A target kind adds its own after these.

use super::{
    Context, DAMPENING_RUNS, DAMPENING_WINDOW_MILLIS, GuardResult, PLAN_TTL_MILLIS, WorkflowError,
    lock,
};
use crate::time::Timestamp;

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
                reason: format!(
                    "{e}: without a linearizable read no lock can be taken, and acting from what may be the minority side is refused"
                ),
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
