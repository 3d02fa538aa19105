//! A plan and what comes of it: the preview of a run ([`Plan`]) with every guard's
//! verdict ([`GuardResult`]) and the overrides a human decided, the report of a run
//! ([`Report`]), and why a workflow could not be planned or run ([`WorkflowError`]).

use serde::{Deserialize, Serialize};

use super::{Detail, Kind};
use crate::time::Timestamp;

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
    /// The second person who approved the run, where the environment requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// What the run acts on, as read when planned.
    #[serde(skip)]
    pub detail: Detail,
}

/// An operator's decision to go past one refusing guard. Only the guards where a human
/// may know better can be overridden ([`OVERRIDABLE`]); the override is journaled with
/// the run, with its reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// Guard names, each kept once for the life of the process: a plan made on a relay
/// arrives with its guards' names, which the console compares with [`OVERRIDABLE`].
static GUARD_NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
/// Past this many distinct names (a relay sends a few dozen at most) or this length,
/// a name is shown as a generic one rather than kept.
const GUARD_NAMES_KEPT: usize = 256;
const GUARD_NAME_LEN: usize = 64;

/// Reads a guard's name as the `&'static str` a plan holds: one of the registry's
/// names, or one kept once.
fn guard_name(name: String) -> &'static str {
    if let Some(known) = OVERRIDABLE.iter().find(|k| **k == name) {
        return known;
    }
    let Ok(mut kept) = GUARD_NAMES.lock() else {
        return "guard";
    };
    if let Some(k) = kept.iter().find(|k| **k == name) {
        return k;
    }
    if kept.len() >= GUARD_NAMES_KEPT || name.len() > GUARD_NAME_LEN {
        return "guard";
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    kept.push(leaked);
    leaked
}

impl<'de> Deserialize<'de> for GuardResult {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The verdict as it travels, its name owned.
        #[derive(Deserialize)]
        struct Wire {
            name: String,
            ok: bool,
            reason: String,
        }
        let w = Wire::deserialize(d)?;
        Ok(Self {
            name: guard_name(w.name),
            ok: w.ok,
            reason: w.reason,
        })
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
