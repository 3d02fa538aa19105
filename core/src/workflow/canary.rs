//! Reintegration of an HAProxy server: back into rotation through a canary ramp.
//!
//! A server out of traffic (MAINT or DRAIN) is put back at 10 % of its weight, held
//! while HAProxy's own check and the server's error counters are watched, then 50 %,
//! then 100 %. At each hold the step fails when the server is not `UP` (its health
//! check fails) or when its errors (HTTP 5xx, connection and response errors) exceed
//! [`MAX_ERROR_SHARE`] of the sessions it took during the hold; the server then goes
//! back where it was, at its full weight, and the run ends `rolled_back`. Each step is
//! journaled before and after, with a cancel checkpoint between steps.
//!
//! The weights are absolute: 10 % of the server's user weight (`uweight`), at least 1.
//! A server weighted 1 cannot take less than everything it is given, so its plan says
//! the ramp collapses to fewer steps.

use std::time::Duration;

use super::server::{Target, backend_rows, socket_of};
use super::{Context, Detail, GuardResult, Kind, Plan, Report, WorkflowError};
use crate::sources::haproxy::{StatRow, runtime_command};
use crate::time::Timestamp;

/// The ramp, in percent of the server's weight.
pub const RAMP: [u32; 3] = [10, 50, 100];
/// How long each step is watched.
pub const HOLD: Duration = Duration::from_secs(5);
/// A step fails above this share of errors among the sessions of its hold.
pub const MAX_ERROR_SHARE: f64 = 0.01;

/// A reintegration as planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ramp {
    /// The server.
    pub target: Target,
    /// Its full weight.
    pub weight: u32,
    /// The weights of the steps, ascending, without repeats.
    pub steps: Vec<u32>,
    /// Where it was (`maint` or `drain`), to go back to.
    pub back_to: &'static str,
}

/// The absolute weights of the ramp for a server of weight `full`.
pub fn weights(full: u32) -> Vec<u32> {
    let mut out: Vec<u32> = RAMP
        .iter()
        .map(|p| (full * p).div_ceil(100).max(1))
        .collect();
    out.dedup();
    out
}

/// Errors and sessions of a server so far.
fn counters(r: &StatRow) -> (u64, u64) {
    (
        r.http_5xx + r.connect_errors + r.response_errors,
        r.total_sessions,
    )
}

/// The plan: the server must be out of traffic; its full weight is read now.
pub(super) async fn plan(ctx: &Context<'_>, target: &Target) -> Result<Plan, WorkflowError> {
    let socket = socket_of(ctx.environment, &target.gateway)?;
    let rows = backend_rows(&socket, &target.backend, ctx.timeout).await?;
    let me = rows
        .iter()
        .find(|r| r.name == target.server)
        .ok_or_else(|| {
            WorkflowError::Target(format!(
                "no server {} in backend {} of {}",
                target.server, target.backend, target.gateway
            ))
        })?;
    let now = ctx.clock.now();
    let mut guards = super::common_guards(ctx, &target.to_string(), now).await?;
    let back_to = if me.status.starts_with("MAINT") {
        Some("maint")
    } else if me.status.starts_with("DRAIN") {
        Some("drain")
    } else {
        None
    };
    guards.push(GuardResult {
        name: "out of traffic",
        ok: back_to.is_some(),
        reason: if back_to.is_some() {
            format!(
                "{} is {}: it takes no new sessions now",
                target.server, me.status
            )
        } else {
            format!(
                "{} is {}: it is not out of traffic; nothing to reintegrate",
                target.server, me.status
            )
        },
    });
    let weight = me.user_weight.or(me.weight).unwrap_or(1).max(1);
    let steps = weights(weight);
    let mut lines: Vec<String> = steps
        .iter()
        .enumerate()
        .map(|(i, w)| {
            format!(
                "{}`set weight {}/{} {w}`{}, hold {} s: {} must stay UP with errors under {} % of its sessions, else back to {} at weight {weight}",
                if i == 0 { "" } else { "then " },
                target.backend,
                target.server,
                if i == 0 { " and `state ready`" } else { "" },
                HOLD.as_secs(),
                target.server,
                MAX_ERROR_SHARE * 100.0,
                back_to.unwrap_or("where it was")
            )
        })
        .collect();
    if steps.len() < RAMP.len() {
        lines.push(format!(
            "weight {weight} cannot be split into {} steps: {} step(s)",
            RAMP.len(),
            steps.len()
        ));
    }
    Ok(Plan {
        kind: Kind::Reintegrate,
        target: target.to_string(),
        confirm_as: target.confirm_name(),
        environment: ctx.environment.name.clone(),
        before: me.status.clone(),
        steps: lines,
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::Server(super::server::Planned::Ramp(Ramp {
            target: target.clone(),
            weight,
            steps,
            back_to: back_to.unwrap_or("maint"),
        })),
    })
}

/// Re-reads the server (refusing when it changed) and ramps it up.
pub(super) async fn run(
    ctx: &Context<'_>,
    plan: &Plan,
    ramp: &Ramp,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let t = &ramp.target;
    let socket = super::server::unchanged(ctx, t, &plan.before).await?;
    Box::pin(super::locked(
        ctx,
        plan,
        operator,
        execute(ctx, plan, ramp, &socket, confirmed, operator),
    ))
    .await
}

/// Sends `commands` in order; the first answer that is not empty is the failure.
async fn send(socket: &str, commands: &[String], timeout: Duration) -> Result<(), String> {
    for c in commands {
        let a = runtime_command(socket, c, timeout).await?;
        if !a.trim().is_empty() {
            return Err(format!("{c}: HAProxy answered {}", a.trim()));
        }
    }
    Ok(())
}

async fn server_row(socket: &str, t: &Target, timeout: Duration) -> Option<StatRow> {
    backend_rows(socket, &t.backend, timeout)
        .await
        .ok()?
        .into_iter()
        .find(|r| r.name == t.server)
}

async fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    ramp: &Ramp,
    socket: &str,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let t = &ramp.target;
    let journaled = super::Journaled::start(ctx, plan, operator, confirmed)?;
    let mut lines = Vec::new();
    let mut failure = None;
    for (i, w) in ramp.steps.iter().enumerate() {
        let mut commands = vec![format!("set weight {}/{} {w}", t.backend, t.server)];
        if i == 0 {
            commands.push(format!("set server {}/{} state ready", t.backend, t.server));
        }
        let what = commands.join("; ");
        if let Some(r) = journaled.checkpoint(&what, &mut lines)? {
            // Cancelled mid-ramp: the server keeps the weight it has; say so.
            return Ok(r);
        }
        let before = server_row(socket, t, ctx.timeout).await;
        journaled.step("before", &what, "pending", &format!("weight {w}"))?;
        if let Err(e) = send(socket, &commands, ctx.timeout).await {
            journaled.step("after", &what, "failed", &e)?;
            failure = Some(e);
            break;
        }
        journaled.step("after", &what, "ok", "")?;
        tokio::time::sleep(HOLD).await;
        let after = server_row(socket, t, ctx.timeout).await;
        let verdict = match (&before, &after) {
            (_, None) => Err(format!("{} could not be read", t.server)),
            (_, Some(a)) if !a.status.starts_with("UP") => Err(format!(
                "{} is {} (check {})",
                t.server, a.status, a.check_status
            )),
            (Some(b), Some(a)) => {
                let (eb, sb) = counters(b);
                let (ea, sa) = counters(a);
                let (errors, sessions) = (ea.saturating_sub(eb), sa.saturating_sub(sb));
                let share = if sessions == 0 {
                    0.0
                } else {
                    errors as f64 / sessions as f64
                };
                if share > MAX_ERROR_SHARE {
                    Err(format!(
                        "{errors} error(s) in {sessions} session(s) ({:.1} %) at weight {w}",
                        share * 100.0
                    ))
                } else {
                    Ok(format!(
                        "UP, {errors} error(s) in {sessions} session(s) at weight {w}"
                    ))
                }
            }
            (None, Some(a)) => Ok(format!("{} at weight {w}", a.status)),
        };
        let watched = format!("hold {} s at weight {w}", HOLD.as_secs());
        match verdict {
            Ok(words) => {
                journaled.step("verify", &watched, "ok", &words)?;
                lines.push(format!("step {}: {words}", i + 1));
            }
            Err(words) => {
                journaled.step("verify", &watched, "failed", &words)?;
                lines.push(format!("step {}: {words}", i + 1));
                failure = Some(words);
                break;
            }
        }
    }
    let Some(why) = failure else {
        journaled.finish("done")?;
        lines.push(format!(
            "{} is back in rotation at weight {}",
            t.server, ramp.weight
        ));
        return Ok(Report {
            run: journaled.id,
            outcome: "done".into(),
            effect_millis: Some(ctx.clock.now().millis_since(confirmed)),
            lines,
        });
    };
    // Back where it was, at its full weight (so a later `ready` is not left at 10 %).
    let back = [
        format!(
            "set server {}/{} state {}",
            t.backend, t.server, ramp.back_to
        ),
        format!("set weight {}/{} {}", t.backend, t.server, ramp.weight),
    ];
    let rolled = send(socket, &back, ctx.timeout).await;
    journaled.step(
        "rollback",
        &back.join("; "),
        if rolled.is_ok() { "ok" } else { "failed" },
        rolled.as_ref().err().map_or("", String::as_str),
    )?;
    let outcome = if rolled.is_ok() {
        "rolled_back"
    } else {
        "needs_human"
    };
    journaled.finish(outcome)?;
    lines.push(match rolled {
        Ok(()) => format!(
            "rolled back: {why}; {} is {} again at weight {}",
            t.server,
            ramp.back_to.to_uppercase(),
            ramp.weight
        ),
        Err(e) => format!("{why}; ROLLBACK FAILED ({e}): a human must look"),
    });
    Ok(Report {
        run: journaled.id,
        outcome: outcome.into(),
        effect_millis: None,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_is_absolute_and_collapses_for_small_weights() {
        assert_eq!(weights(100), [10, 50, 100]);
        assert_eq!(weights(256), [26, 128, 256]);
        assert_eq!(weights(3), [1, 2, 3]);
        assert_eq!(weights(1), [1]);
        assert_eq!(weights(2), [1, 2]);
    }
}
