//! Experiments as data (game days): a TOML file names a steady-state hypothesis the
//! console already evaluates, one fault injected through a guarded workflow, the blast
//! radius it may have, when to abort, and the recovery expected (a runbook, or none when
//! the system heals itself). Run as one workflow with one typed confirmation (the
//! experiment's name), under the same guards, lock, journal and safety valve as every
//! other: STOP ALL ends the experiment and undoes its fault.
//!
//! The console measures the run itself, from its own view of the estate: when the
//! fault went in, when the hypothesis first broke (detection, MTTD), when recovery
//! started and by whom, when the hypothesis held again (verified recovery, MTTR), and
//! whether anything outside the experiment's scope broke. The report is kept in the
//! journal beside the run (`report.rs`), so each experiment has a history.
//!
//! - `hypothesis.rs`: the checks and their verdict on a [`State`];
//! - `run.rs`: plan and run;
//! - `report.rs`: what a run measured, as JSON and Markdown;
//! - `toxic.rs`: a network fault through a fault proxy's API (Toxiproxy's).
//!
//! ```toml
//! name = "backend-lost"
//! title = "A backend lost behind the gateway"
//! [[hypothesis]]
//! kind = "healthy"
//! service = "{service}"
//! [fault]
//! kind = "workflow"
//! workflow = "fence"
//! target = "{node}"
//! [blast_radius]
//! max_instances = 1
//! [abort]
//! broken_for_secs = 30
//! [recovery]
//! goal_secs = 3
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::runbook::{Num, bind, number};
use super::{Context, Kind, WorkflowError};
use crate::state::State;

pub mod hypothesis;
pub mod report;
mod run;
mod target;
pub mod toxic;

pub use self::hypothesis::{Check, Verdict};
pub use self::report::{ExperimentReport, Mark};
pub use self::run::{COUNTDOWN, HOLD, SAMPLE};
pub use self::target::ExperimentTarget;
pub use crate::config::ExperimentConfig;

/// The experiments shipped with the console: (name, TOML).
pub const SHIPPED: [(&str, &str); 3] = [
    (
        "backend-lost",
        include_str!("../../../../assets/experiments/backend-lost.toml"),
    ),
    (
        "primary-crash",
        include_str!("../../../../assets/experiments/primary-crash.toml"),
    ),
    (
        "connection-leak",
        include_str!("../../../../assets/experiments/connection-leak.toml"),
    ),
];

/// What the console sees now, for experiments: the engine's latest state. The window
/// and `switchboard experiment` give it; without it an experiment cannot be planned.
pub type Observed = Arc<dyn Fn() -> Arc<State> + Send + Sync>;

/// The fault an experiment injects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// A workflow on a target (`fence` a node, `maint` a server, `switchover`...),
    /// planned with all its guards; undone by `undo` (default: its inverse).
    Workflow {
        /// The workflow.
        workflow: String,
        /// Its target.
        #[serde(default)]
        target: Option<String>,
        /// Instead of a target: the node of whatever member of this database is the
        /// primary when the experiment is planned.
        #[serde(default)]
        primary_of: Option<String>,
        /// The workflow that undoes it (`unfence`, `ready`), or `none` where the system
        /// replaces what the fault took (a deleted pod, a switchover's new primary).
        #[serde(default)]
        undo: Option<String>,
    },
    /// A toxic on a fault proxy the environment names (Toxiproxy's HTTP API): every
    /// byte late, or nothing passing; undone by deleting it.
    Toxic {
        /// The proxy's API (`http://toxiproxy:8474`).
        api: String,
        /// The proxy's name there.
        proxy: String,
        /// `latency` or `timeout`.
        toxic: String,
        /// For `latency`: how late, in milliseconds.
        #[serde(default)]
        latency_millis: Option<Num>,
    },
    /// Sessions opened on a `postgres` source's database and left idle in a
    /// transaction, as a leaking pool leaves them; undone by closing them.
    Leak {
        /// The `postgres` source.
        database: String,
        /// How many sessions.
        sessions: Num,
    },
}

/// How much of the estate the fault may touch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlastRadius {
    /// At most this many instances (or members) out at once.
    #[serde(default = "one")]
    pub max_instances: u32,
    /// At most this share of their service, in percent.
    #[serde(default = "half")]
    pub max_percent: u32,
}

impl Default for BlastRadius {
    fn default() -> Self {
        Self {
            max_instances: one(),
            max_percent: half(),
        }
    }
}

const fn one() -> u32 {
    1
}

const fn half() -> u32 {
    50
}

/// When the experiment stops early and undoes its fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    /// The hypothesis broken longer than this.
    #[serde(default = "default_broken_for")]
    pub broken_for_secs: Num,
    /// Checks outside the experiment's scope: one that breaks aborts at once.
    #[serde(default)]
    pub keep: Vec<Check>,
}

impl Default for Abort {
    fn default() -> Self {
        Self {
            broken_for_secs: default_broken_for(),
            keep: Vec::new(),
        }
    }
}

const fn default_broken_for() -> Num {
    Num::N(60)
}

/// The recovery expected once the hypothesis breaks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recovery {
    /// A runbook the environment enables; none: the system should heal itself.
    #[serde(default)]
    pub runbook: Option<String>,
    /// The runbook may start by itself once the hypothesis breaks (after a countdown
    /// any operator can cancel), if the environment allows automatic recovery too.
    #[serde(default)]
    pub automatic: bool,
    /// Fault to verified recovery, the goal, in seconds.
    #[serde(default)]
    pub goal_secs: Option<Num>,
    /// How long the fault is given to break the hypothesis; past it, the system held.
    #[serde(default = "default_detect_within")]
    pub detect_within_secs: Num,
}

const fn default_detect_within() -> Num {
    Num::N(30)
}

impl Default for Recovery {
    fn default() -> Self {
        Self {
            runbook: None,
            automatic: false,
            goal_secs: None,
            detect_within_secs: default_detect_within(),
        }
    }
}

/// An experiment file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Its name (what the operator types to confirm).
    pub name: String,
    /// One line.
    pub title: String,
    /// What it tests and why.
    #[serde(default)]
    pub description: String,
    /// Default values of its `{var}`s.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// The steady state: every check holds before the fault and again after recovery.
    pub hypothesis: Vec<Check>,
    /// The fault.
    pub fault: Fault,
    /// How much it may touch.
    #[serde(default)]
    pub blast_radius: BlastRadius,
    /// When to stop early.
    #[serde(default)]
    pub abort: Abort,
    /// What recovers it.
    #[serde(default)]
    pub recovery: Recovery,
}

/// A fault with its variables bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoundFault {
    /// A workflow, its target and its undoing.
    Workflow {
        /// The workflow.
        kind: Kind,
        /// Its target (empty until planned when it is `primary_of`).
        target: String,
        /// The database whose primary's node is the target, found when planned.
        primary_of: Option<String>,
        /// The undoing (none: the system replaces what the fault took).
        undo: Option<Kind>,
    },
    /// A toxic on a fault proxy.
    Toxic {
        /// The proxy's API.
        api: String,
        /// The proxy's name.
        proxy: String,
        /// What it does.
        toxic: toxic::Toxic,
    },
    /// Sessions left idle in a transaction.
    Leak {
        /// The `postgres` source.
        database: String,
        /// How many.
        sessions: u32,
    },
}

impl BoundFault {
    /// The fault in words.
    pub fn describe(&self) -> String {
        match self {
            Self::Workflow {
                kind,
                target,
                primary_of,
                undo,
            } => format!(
                "{} {} (its own plan and guards; {})",
                kind.as_str(),
                match primary_of {
                    Some(db) if target.is_empty() => format!("the node of {db}'s primary"),
                    Some(db) => format!("{target} ({db}'s primary)"),
                    None => target.clone(),
                },
                undo.map_or_else(
                    || "nothing to undo: the system replaces what it takes".to_owned(),
                    |u| format!("undone by {}", u.as_str())
                )
            ),
            Self::Leak { database, sessions } => format!(
                "open {sessions} sessions on {database} and leave them idle in a transaction (undone by closing them)"
            ),
            Self::Toxic { api, proxy, toxic } => format!(
                "{} on proxy {proxy} of the fault proxy at {api} (undone by removing it)",
                toxic.describe()
            ),
        }
    }
}

/// An experiment ready to plan: every `{var}` bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Its name.
    pub name: String,
    /// One line.
    pub title: String,
    /// The hypothesis.
    pub hypothesis: Vec<hypothesis::Bound>,
    /// The fault.
    pub fault: BoundFault,
    /// The blast radius.
    pub blast_radius: BlastRadius,
    /// Abort after the hypothesis has been broken this long, in seconds.
    pub broken_for_secs: u64,
    /// Checks outside the scope.
    pub keep: Vec<hypothesis::Bound>,
    /// The recovery runbook, if any.
    pub runbook: Option<String>,
    /// The runbook may start by itself (the experiment and the environment both allow it).
    pub automatic: bool,
    /// The goal, fault to verified recovery, in seconds.
    pub goal_secs: Option<u64>,
    /// How long the fault is given to break the hypothesis, in seconds.
    pub detect_within_secs: u64,
}

/// Parses an experiment file.
pub fn parse(text: &str) -> Result<Experiment, String> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().trim();
        let mut clipped: String = message.chars().take(300).collect();
        if clipped.len() < message.len() {
            clipped.push('…');
        }
        format!("experiment: {clipped}")
    })
}

/// Binds `exp` with `vars` over its defaults; `automatic` is the environment's consent
/// to automatic recovery.
pub fn resolve(
    exp: &Experiment,
    vars: &BTreeMap<String, String>,
    automatic: bool,
) -> Result<Resolved, String> {
    let mut all = exp.vars.clone();
    all.extend(vars.clone());
    let b = |s: &str| bind(s, &all);
    let fault = match &exp.fault {
        Fault::Workflow {
            workflow,
            target,
            primary_of,
            undo,
        } => {
            let kind = Kind::parse(&b(workflow)?).map_err(|e| e.to_string())?;
            if matches!(kind, Kind::Runbook | Kind::Experiment) {
                return Err(format!(
                    "a fault is one workflow on one target, not a {}",
                    kind.as_str()
                ));
            }
            let undo = match undo.as_deref().map(&b).transpose()?.as_deref() {
                Some("none") => None,
                Some(u) => Some(Kind::parse(u).map_err(|e| e.to_string())?),
                None => Some(inverse(kind).ok_or_else(|| {
                    format!(
                        "{} has no inverse to undo it: name one with `undo` (or `undo = \"none\"` when the system replaces what it takes)",
                        kind.as_str()
                    )
                })?),
            };
            let (target, primary_of) = match (target, primary_of) {
                (Some(t), None) => (b(t)?, None),
                (None, Some(db)) => (String::new(), Some(b(db)?)),
                _ => {
                    return Err(
                        "a workflow fault names its `target` or `primary_of` (a database), one of them"
                            .to_owned(),
                    );
                }
            };
            BoundFault::Workflow {
                kind,
                target,
                primary_of,
                undo,
            }
        }
        Fault::Toxic {
            api,
            proxy,
            toxic,
            latency_millis,
        } => BoundFault::Toxic {
            api: b(api)?,
            proxy: b(proxy)?,
            toxic: match (b(toxic)?.as_str(), latency_millis) {
                ("latency", Some(ms)) => toxic::Toxic::Latency(number(ms, &all)?),
                ("latency", None) => {
                    return Err("a latency toxic needs latency_millis".to_owned());
                }
                ("timeout", _) => toxic::Toxic::Timeout,
                (other, _) => {
                    return Err(format!(
                        "toxic {other:?}: the console adds `latency` or `timeout`"
                    ));
                }
            },
        },
        Fault::Leak { database, sessions } => BoundFault::Leak {
            database: b(database)?,
            sessions: u32::try_from(number(sessions, &all)?)
                .map_err(|_| "too many sessions".to_owned())?,
        },
    };
    let checks = |list: &[Check]| -> Result<Vec<hypothesis::Bound>, String> {
        list.iter().map(|c| c.bind(&all)).collect()
    };
    let hypothesis = checks(&exp.hypothesis)?;
    if hypothesis.is_empty() {
        return Err("an experiment needs a hypothesis: at least one check".to_owned());
    }
    Ok(Resolved {
        name: exp.name.clone(),
        title: b(&exp.title)?,
        hypothesis,
        fault,
        blast_radius: exp.blast_radius.clone(),
        broken_for_secs: number(&exp.abort.broken_for_secs, &all)?,
        keep: checks(&exp.abort.keep)?,
        runbook: exp.recovery.runbook.as_deref().map(b).transpose()?,
        automatic: exp.recovery.automatic && automatic,
        goal_secs: exp
            .recovery
            .goal_secs
            .as_ref()
            .map(|n| number(n, &all))
            .transpose()?,
        detect_within_secs: number(&exp.recovery.detect_within_secs, &all)?,
    })
}

/// The workflow that undoes `kind`, where there is one.
fn inverse(kind: Kind) -> Option<Kind> {
    Some(match kind {
        Kind::Fence => Kind::Unfence,
        Kind::Unfence => Kind::Fence,
        Kind::Maint | Kind::Drain => Kind::Ready,
        Kind::Fallback => Kind::Restore,
        Kind::Cordon => Kind::Uncordon,
        Kind::DnsFailover => Kind::DnsRestore,
        _ => return None,
    })
}

/// The experiment text and bindings the context's environment enables under `name`.
pub(crate) fn enabled(ctx: &Context<'_>, name: &str) -> Result<Resolved, WorkflowError> {
    let cfg = ctx.environment.experiment.iter().find(|r| r.name == name);
    let names: Vec<&str> = ctx
        .environment
        .experiment
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    let text = super::runbook::enabled_text(
        ctx,
        "experiment",
        name,
        cfg.map(|c| &c.file),
        &names,
        &SHIPPED,
    )?;
    let Some(cfg) = cfg else {
        return Err(WorkflowError::Usage(format!("no experiment {name:?}")));
    };
    let exp = parse(&text).map_err(WorkflowError::Usage)?;
    resolve(&exp, &cfg.vars, cfg.automatic_recovery).map_err(WorkflowError::Usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_shipped_experiments_parse_and_say_what_they_lack() {
        for (name, text) in SHIPPED {
            let exp = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(exp.name, name);
            let err = resolve(&exp, &BTreeMap::new(), false).expect_err("unbound");
            assert!(err.contains("has no value"), "{name}: {err}");
        }
    }

    #[test]
    fn a_fence_fault_is_undone_by_unfence_and_automatic_needs_both_consents() {
        let exp = parse(SHIPPED[2].1).expect("leak");
        let v = vars(&[
            ("database", "orders-pg"),
            ("sessions", "95"),
            ("readiness", "orders-ready"),
            ("runbook", "sev0-connection-leak"),
        ]);
        let r = resolve(&exp, &v, false).expect("bound");
        assert_eq!(
            r.fault,
            BoundFault::Leak {
                database: "orders-pg".into(),
                sessions: 95
            }
        );
        assert!(exp.recovery.automatic, "the experiment asks for it");
        assert!(!r.automatic, "the environment did not consent");
        assert!(resolve(&exp, &v, true).expect("bound").automatic);

        let exp = parse(SHIPPED[1].1).expect("primary crash");
        let r = resolve(
            &exp,
            &vars(&[("database", "pgha"), ("readiness", "orders")]),
            false,
        )
        .expect("bound");
        assert_eq!(
            r.fault,
            BoundFault::Workflow {
                kind: Kind::Fence,
                target: String::new(),
                primary_of: Some("pgha".into()),
                undo: Some(Kind::Unfence)
            }
        );
    }

    #[test]
    fn bad_experiments_say_what_is_wrong() {
        let base = "name = \"x\"\ntitle = \"t\"\n";
        let err = parse(&format!(
            "{base}[fault]\nkind = \"workflow\"\nworkflow = \"switchover\"\ntarget = \"a/b\"\n"
        ))
        .expect_err("no hypothesis");
        assert!(err.contains("missing field `hypothesis`"), "{err}");
        let exp = parse(&format!(
            "{base}hypothesis = []\n[fault]\nkind = \"workflow\"\nworkflow = \"switchover\"\ntarget = \"a/b\"\n"
        ))
        .expect("parses");
        let err = resolve(&exp, &BTreeMap::new(), false).expect_err("no inverse");
        assert!(err.contains("switchover has no inverse"), "{err}");
        let exp = parse(&format!(
            "{base}[[hypothesis]]\nkind = \"one_primary\"\ndatabase = \"a\"\n[fault]\nkind = \"workflow\"\nworkflow = \"switchover\"\ntarget = \"a/b\"\nundo = \"none\"\n"
        ))
        .expect("parses");
        let r = resolve(&exp, &BTreeMap::new(), false).expect("a switchover left in place");
        assert!(matches!(r.fault, BoundFault::Workflow { undo: None, .. }));
        assert!(
            r.fault.describe().contains("nothing to undo"),
            "{}",
            r.fault.describe()
        );
        let exp = parse(&format!(
            "{base}hypothesis = []\n[fault]\nkind = \"workflow\"\nworkflow = \"fence\"\ntarget = \"n\"\n"
        ))
        .expect("parses");
        let err = resolve(&exp, &BTreeMap::new(), false).expect_err("empty");
        assert!(err.contains("needs a hypothesis"), "{err}");
        assert!(
            parse(&format!("{base}[fault]\nkind = \"unplug_the_rack\"\n"))
                .expect_err("unknown")
                .contains("unplug_the_rack")
        );
    }
}
