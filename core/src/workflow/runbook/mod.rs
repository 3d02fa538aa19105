//! Runbooks as data: TOML files whose steps are the console's own step kinds, run as one
//! guarded workflow with one typed confirmation (the runbook's name).
//!
//! Step kinds:
//! - `workflow`: any workflow (`fallback`, `drain`, `fence`...) on a target; planned
//!   when its turn comes, with every guard: a refusing guard stops the runbook;
//! - `quorum`: the DCS (an etcd source) must have quorum now, read fresh from every
//!   member: a failover decided from the minority side splits the brain;
//! - `sessions`: a database's sessions by state (read-only, the diagnosis);
//! - `terminate_sessions`: `pg_terminate_backend` of the sessions idle in a
//!   transaction and/or running longer than a limit;
//! - `scale`: a Kubernetes deployment to each replica count in turn, waiting until each
//!   is ready (gradually: `replicas = [1, 2, 3]`);
//! - `http_check`: a URL must answer 2xx N times in a row (deep readiness);
//! - `manual`: a step only a human can do; the runbook waits until the operator says
//!   it is done (or cancels).
//!
//! Strings may use `{var}`: the runbook's `[vars]` defaults, overridden by the
//! environment's `[[environment.runbook]]` entry that enables it. The shipped runbooks
//! (the Sev-0 connection-pool leak and the region failover of the domain notes) are
//! built in; a runbook file
//! named in the configuration is read from disk. Every step is journaled before and
//! after, with a cancel checkpoint between steps; a failing step stops the runbook as
//! `needs_human`, naming what ran and what did not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::target::{self, BoxFuture, Found, OnDrill, Reach, TargetKind};
use super::{Context, Detail, Kind, Offer, Plan, Report, WorkflowError};
use crate::config::{Environment, SourceConfig};
use crate::time::Timestamp;

mod steps;

pub(crate) use self::steps::connect;
use self::steps::{drill_step, http_check, quorum, scale, sessions, terminate, wait_for_human};

/// The runbooks shipped with the console: (name, TOML).
pub const SHIPPED: [(&str, &str); 2] = [
    (
        "sev0-connection-leak",
        include_str!("../../../../assets/runbooks/sev0-connection-leak.toml"),
    ),
    (
        "region-failover",
        include_str!("../../../../assets/runbooks/region-failover.toml"),
    ),
];

pub use crate::config::RunbookConfig;

/// A number, or a `{var}` that names one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Num {
    /// A number.
    N(u64),
    /// Text, `{var}` substituted, then read as a number.
    S(String),
}

/// One step of a runbook file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Any workflow on a target.
    Workflow {
        /// What the step is for.
        title: String,
        /// The workflow (`fallback`, `drain`...).
        workflow: String,
        /// Its target.
        target: String,
    },
    /// The DCS must have quorum now.
    Quorum {
        /// What the step is for.
        title: String,
        /// An `etcd` source.
        source: String,
    },
    /// A database's sessions by state.
    Sessions {
        /// What the step is for.
        title: String,
        /// A `postgres` source.
        database: String,
    },
    /// Terminate hanging sessions.
    TerminateSessions {
        /// What the step is for.
        title: String,
        /// A `postgres` source whose role may terminate sessions.
        database: String,
        /// Sessions idle in a transaction.
        #[serde(default)]
        idle_in_transaction: bool,
        /// Sessions whose current query or transaction is older than this.
        #[serde(default)]
        older_than_secs: Option<Num>,
    },
    /// A Kubernetes deployment to each replica count in turn.
    Scale {
        /// What the step is for.
        title: String,
        /// `kubernetes-source/namespace/name`.
        deployment: String,
        /// Replica counts, in order.
        replicas: Vec<Num>,
    },
    /// A URL must answer 2xx `times` in a row.
    HttpCheck {
        /// What the step is for.
        title: String,
        /// The URL.
        url: String,
        /// How many answers in a row.
        #[serde(default = "three")]
        times: u32,
    },
    /// A step only a human can do.
    Manual {
        /// What the step is for.
        title: String,
        /// What to do.
        text: String,
    },
}

/// The most a runbook file may hold: a long one is a few kilobytes of TOML.
pub(crate) const MAX_RUNBOOK_BYTES: u64 = 1 << 20;

const fn three() -> u32 {
    3
}

/// A runbook file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// Its name (what the operator types to confirm).
    pub name: String,
    /// One line.
    pub title: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Default values of its `{var}`s.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Its steps, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// A step with its variables bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bound {
    /// A workflow.
    Workflow(Kind, String),
    /// Quorum of an `etcd` source, read fresh.
    Quorum(String),
    /// Sessions by state of a `postgres` source.
    Sessions(String),
    /// Terminate sessions of a `postgres` source.
    Terminate {
        /// The source.
        database: String,
        /// Idle in transaction.
        idle: bool,
        /// Older than, in seconds.
        older_than: Option<u64>,
    },
    /// Scale `source/namespace/name` to each count.
    Scale(String, Vec<u32>),
    /// GET a URL `n` times.
    Http(String, u32),
    /// A human's step.
    Manual(String),
    /// A step whose subject is bound to nothing (an estate without that system): it
    /// is said and skipped.
    Skip(String),
}

/// A runbook ready to run: each step's title and bound action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Its name.
    pub name: String,
    /// (title, step).
    pub steps: Vec<(String, Bound)>,
}

/// Parses a runbook file.
pub fn parse(text: &str) -> Result<Runbook, String> {
    toml::from_str(text).map_err(|e| {
        // The message may quote the file (an unknown key): 300 characters name it.
        let message = e.message().trim();
        let mut clipped: String = message.chars().take(300).collect();
        if clipped.len() < message.len() {
            clipped.push('…');
        }
        format!("runbook: {clipped}")
    })
}

pub(crate) fn bind(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("unclosed {{ in {s:?}"))?;
        let name = &rest[open + 1..open + close];
        let v = vars.get(name).ok_or_else(|| {
            format!(
                "{{{name}}} has no value: bind it in the environment's vars for it ([[environment.runbook]] or [[environment.experiment]])"
            )
        })?;
        out.push_str(v);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

pub(crate) fn number(n: &Num, vars: &BTreeMap<String, String>) -> Result<u64, String> {
    match n {
        Num::N(v) => Ok(*v),
        Num::S(s) => {
            let t = bind(s, vars)?;
            t.trim()
                .parse()
                .map_err(|_| format!("{s:?} is {t:?}, not a number"))
        }
    }
}

/// Binds every step of `book` with `vars` over its defaults.
pub fn resolve(book: &Runbook, vars: &BTreeMap<String, String>) -> Result<Resolved, String> {
    let mut all = book.vars.clone();
    all.extend(vars.clone());
    let b = |s: &str| bind(s, &all);
    let steps = book
        .steps
        .iter()
        .map(|s| {
            Ok(match s {
                Step::Workflow {
                    title,
                    workflow,
                    target,
                } => {
                    let kind = Kind::parse(&b(workflow)?).map_err(|e| e.to_string())?;
                    if kind == Kind::Runbook {
                        return Err("a runbook cannot run a runbook".to_owned());
                    }
                    (b(title)?, Bound::Workflow(kind, b(target)?))
                }
                Step::Quorum { title, source } => (b(title)?, Bound::Quorum(b(source)?)),
                Step::Sessions { title, database } => (b(title)?, Bound::Sessions(b(database)?)),
                Step::TerminateSessions {
                    title,
                    database,
                    idle_in_transaction,
                    older_than_secs,
                } => (
                    b(title)?,
                    Bound::Terminate {
                        database: b(database)?,
                        idle: *idle_in_transaction,
                        older_than: older_than_secs
                            .as_ref()
                            .map(|n| number(n, &all))
                            .transpose()?,
                    },
                ),
                Step::Scale {
                    title,
                    deployment,
                    replicas,
                } => (
                    b(title)?,
                    Bound::Scale(
                        b(deployment)?,
                        replicas
                            .iter()
                            .map(|n| {
                                number(n, &all).and_then(|v| {
                                    u32::try_from(v).map_err(|_| format!("{v} replicas?"))
                                })
                            })
                            .collect::<Result<_, _>>()?,
                    ),
                ),
                Step::HttpCheck { title, url, times } => (b(title)?, Bound::Http(b(url)?, *times)),
                Step::Manual { title, text } => (b(title)?, Bound::Manual(b(text)?)),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    // A step whose subject is bound to the empty string has nothing to act on here
    // (no Kubernetes, no fallback route, no manual step wanted): skipped, and the plan
    // says so, so one runbook serves estates that lack a part.
    let steps = steps
        .into_iter()
        .map(|(title, step)| {
            let subject = match &step {
                Bound::Workflow(_, s)
                | Bound::Quorum(s)
                | Bound::Sessions(s)
                | Bound::Terminate { database: s, .. }
                | Bound::Scale(s, _)
                | Bound::Http(s, _)
                | Bound::Manual(s) => Some(s.trim()),
                Bound::Skip(_) => None,
            };
            match subject {
                Some("") => (
                    title,
                    Bound::Skip("its subject is bound to nothing here".to_owned()),
                ),
                _ => (title, step),
            }
        })
        .collect();
    Ok(Resolved {
        name: book.name.clone(),
        steps,
    })
}

/// What a bound step does, in words (the plan).
fn describe(step: &Bound) -> String {
    match step {
        Bound::Workflow(k, t) => format!(
            "workflow {} {t} (planned with its guards when its turn comes)",
            k.as_str()
        ),
        Bound::Quorum(src) => format!(
            "ask every member of {src} for its status: a majority must answer and name one leader (read-only)"
        ),
        Bound::Sessions(db) => format!("count {db}'s sessions by state (read-only)"),
        Bound::Terminate {
            database,
            idle,
            older_than,
        } => {
            let mut which = Vec::new();
            if *idle {
                which.push("idle in transaction".to_owned());
            }
            if let Some(s) = older_than {
                which.push(format!("running longer than {s} s"));
            }
            format!(
                "pg_terminate_backend on {database}: sessions {}",
                which.join(" or ")
            )
        }
        Bound::Scale(d, counts) => format!(
            "scale {d} to {} replica(s), each ready before the next",
            counts
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" -> ")
        ),
        Bound::Http(url, n) => format!("GET {url}: 2xx {n} times in a row"),
        Bound::Manual(text) => {
            format!("a human: {text} (the runbook waits until you say it is done)")
        }
        Bound::Skip(why) => format!("skipped: {why}"),
    }
}

/// The text of what an environment enables under `name` (a runbook, an experiment):
/// its `file` read (bounded), or the shipped one of that name; `what` names the kind
/// in errors, `enabled` lists the environment's.
pub(crate) fn enabled_text(
    ctx: &Context<'_>,
    what: &str,
    name: &str,
    found: Option<&Option<String>>,
    enabled: &[&str],
    shipped: &[(&str, &str)],
) -> Result<String, WorkflowError> {
    let file = found.ok_or_else(|| {
        WorkflowError::Usage(format!(
            "no {what} {name:?} in environment {:?} (enabled: {}; shipped: {})",
            ctx.environment.name,
            enabled.join(", "),
            shipped
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    match file {
        Some(path) => {
            crate::sources::read_text_bounded(std::path::Path::new(path), MAX_RUNBOOK_BYTES)
                .map_err(|e| WorkflowError::Usage(format!("cannot read the {what} {path}: {e}")))
        }
        None => shipped
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| (*t).to_owned())
            .ok_or_else(|| {
                WorkflowError::Usage(format!("{name:?} is not a shipped {what}; give its `file`"))
            }),
    }
}

/// The runbook text and bindings `env` enables under `name`.
fn enabled(
    ctx: &Context<'_>,
    name: &str,
) -> Result<(Runbook, BTreeMap<String, String>), WorkflowError> {
    let cfg = ctx.environment.runbook.iter().find(|r| r.name == name);
    let names: Vec<&str> = ctx
        .environment
        .runbook
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    let text = enabled_text(ctx, "runbook", name, cfg.map(|c| &c.file), &names, &SHIPPED)?;
    let book = parse(&text).map_err(WorkflowError::Usage)?;
    Ok((book, cfg.map(|c| c.vars.clone()).unwrap_or_default()))
}

/// Checks what can be checked before the run: each step's source exists.
fn check_sources(ctx: &Context<'_>, r: &Resolved) -> Result<(), String> {
    let has_pg = |n: &str| {
        ctx.environment
            .source
            .iter()
            .any(|s| matches!(s, SourceConfig::Postgres(p) if p.name == n))
    };
    let has_etcd = |n: &str| {
        ctx.environment
            .source
            .iter()
            .any(|s| matches!(s, SourceConfig::Etcd(e) if e.name == n))
    };
    let has_k8s = |n: &str| {
        ctx.environment
            .source
            .iter()
            .any(|s| matches!(s, SourceConfig::Kubernetes(k) if k.name == n))
    };
    for (title, s) in &r.steps {
        match s {
            Bound::Quorum(src) if !has_etcd(src) => {
                return Err(format!("step {title:?}: no etcd source named {src:?}"));
            }
            Bound::Sessions(db) | Bound::Terminate { database: db, .. } if !has_pg(db) => {
                return Err(format!("step {title:?}: no postgres source named {db:?}"));
            }
            Bound::Scale(d, _) => {
                let source = d.split('/').next().unwrap_or_default();
                if d.split('/').count() != 3 || !has_k8s(source) {
                    return Err(format!(
                        "step {title:?}: {d:?} is not kubernetes-source/namespace/name of a kubernetes source"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The plan of runbook `name`.
pub(super) async fn plan(ctx: &Context<'_>, name: &str) -> Result<Plan, WorkflowError> {
    let (book, vars) = enabled(ctx, name)?;
    let resolved = resolve(&book, &vars).map_err(WorkflowError::Usage)?;
    let drill = super::drill::is_drill(ctx);
    if !drill {
        check_sources(ctx, &resolved).map_err(WorkflowError::Usage)?;
    }
    let now = ctx.clock.now();
    let guards = super::common_guards(ctx, &format!("runbook/{name}"), now).await?;
    Ok(Plan {
        kind: Kind::Runbook,
        target: name.to_owned(),
        confirm_as: name.to_owned(),
        environment: ctx.environment.name.clone(),
        before: book.title.clone(),
        steps: resolved
            .steps
            .iter()
            .map(|(title, s)| {
                format!(
                    "{}{title}: {}",
                    if drill { "DRILL: " } else { "" },
                    describe(s)
                )
            })
            .collect(),
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::Runbook(resolved),
    })
}

/// The run of a plan whose checks passed, under the target's lock (taken by the caller).
pub(super) async fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    r: &Resolved,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let journaled = super::Journaled::start(ctx, plan, operator, confirmed)?;
    let mut lines = Vec::new();
    for (i, (title, step)) in r.steps.iter().enumerate() {
        let what = format!("{}. {title}", i + 1);
        if let Some(rep) = journaled.checkpoint(&what, &mut lines)? {
            return Ok(rep);
        }
        journaled.step("before", &what, "pending", &describe(step))?;
        let done = match step {
            Bound::Workflow(kind, target) => {
                match super::plan(ctx, *kind, target).await {
                    Err(e) => Err(e.to_string()),
                    Ok(sub) if !sub.allowed() => Err(format!(
                        "{} {target} refused: {}",
                        kind.as_str(),
                        sub.refusals().join("; ")
                    )),
                    Ok(sub) => {
                        // The runbook's confirmation stands for its steps'.
                        match super::run(ctx, &sub, &sub.confirm_as, operator).await {
                            Ok(rep) if rep.outcome == "done" => Ok(format!(
                                "run #{}: done{}",
                                rep.run,
                                rep.lines
                                    .last()
                                    .map(|l| format!(" ({l})"))
                                    .unwrap_or_default()
                            )),
                            Ok(rep) => Err(format!(
                                "run #{}: {} ({})",
                                rep.run,
                                rep.outcome,
                                rep.lines.join("; ")
                            )),
                            Err(e) => Err(e.to_string()),
                        }
                    }
                }
            }
            Bound::Skip(why) => Ok(format!("skipped: {why}")),
            step if !matches!(step, Bound::Manual(_))
                && ctx.drill.is_some()
                && super::drill::is_drill(ctx) =>
            {
                drill_step(ctx, &journaled, step).await
            }
            Bound::Quorum(src) => quorum(ctx, src).await,
            Bound::Sessions(db) => sessions(ctx, db).await,
            Bound::Terminate {
                database,
                idle,
                older_than,
            } => terminate(ctx, database, *idle, *older_than).await,
            Bound::Scale(d, counts) => scale(ctx, &journaled, d, counts).await,
            Bound::Http(url, n) => http_check(ctx, url, *n).await,
            Bound::Manual(text) => wait_for_human(ctx, text).await,
        };
        match done {
            Ok(words) => {
                journaled.step("after", &what, "ok", &words)?;
                lines.push(format!("{what}: {words}"));
            }
            Err(why) => {
                journaled.step("after", &what, "failed", &why)?;
                lines.push(format!("{what}: FAILED: {why}"));
                return journaled.needs_human(
                    lines,
                    format!(
                        "the runbook stopped at step {} of {}: the steps above ran, none after; a human takes over from here",
                        i + 1,
                        r.steps.len()
                    ),
                );
            }
        }
    }
    journaled.finish("done")?;
    Ok(Report {
        run: journaled.id,
        outcome: "done".into(),
        effect_millis: Some(ctx.clock.now().millis_since(confirmed)),
        lines,
    })
}

/// The runbook target kind: a runbook the environment enables, by name.
pub struct RunbookTarget;

impl TargetKind for RunbookTarget {
    const NAME: &'static str = "runbook";
    const SYNTAX: &'static str = "runbook-name";
    const KINDS: &'static [Kind] = &[Kind::Runbook];
    const DRILL: OnDrill = OnDrill::Practised;
    type Detail = Resolved;

    fn owns(env: &Environment, target: &str) -> bool {
        env.runbook.iter().any(|r| r.name == target)
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
            execute(ctx, plan, detail, confirmed, operator),
        )
    }

    fn inverse(kind: Kind, _before: &str) -> Result<Kind, String> {
        match kind {
            Kind::Runbook => Err(
                "a runbook has no single inverse; resume it, or undo its steps one by one (its run's journal lists them)".to_owned(),
            ),
            other => Err(format!("{} is not a runbook", other.as_str())),
        }
    }

    fn offers<'a>(at: &'a Reach<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let drill = at.drill.is_some();
            let offers = at
                .environment
                .runbook
                .iter()
                .map(|r| Offer {
                    kind: Kind::Runbook,
                    target: r.name.clone(),
                    label: format!("{}runbook {}", if drill { "DRILL " } else { "" }, r.name),
                    instance: None,
                })
                .collect();
            (offers, Vec::new())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: an unknown key was quoted whole in the error.
    #[test]
    fn a_huge_unknown_key_is_named_not_printed() {
        let err =
            parse(&format!("name = \"r\"\n{} = 1\n", "k".repeat(40_000))).expect_err("refused");
        assert!(err.starts_with("runbook: unknown field `kkk"), "{err:.100}");
        assert!(err.ends_with('…') || err.contains('…'), "{err:.100}");
        assert!(err.chars().count() < 400, "{} chars", err.chars().count());
    }

    #[test]
    fn the_shipped_runbook_parses_and_binds_its_variables() {
        let book = parse(SHIPPED[0].1).expect("shipped runbook");
        assert_eq!(book.name, "sev0-connection-leak");
        let err = resolve(&book, &BTreeMap::new()).expect_err("unbound");
        assert!(err.contains("{database} has no value"), "{err}");
        let vars = BTreeMap::from(
            [
                ("route", "ingress/shop"),
                ("database", "orders-db"),
                ("deployment", "k8s/shop/orders"),
                ("readiness", "http://orders:8080/ready"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let r = resolve(&book, &vars).expect("bound");
        assert_eq!(r.steps.len(), 8);
        assert_eq!(
            r.steps[1].1,
            Bound::Workflow(Kind::Fallback, "ingress/shop".into())
        );
        assert_eq!(
            r.steps[2].1,
            Bound::Scale("k8s/shop/orders".into(), vec![0])
        );
        assert_eq!(
            r.steps[3].1,
            Bound::Terminate {
                database: "orders-db".into(),
                idle: true,
                older_than: Some(300)
            }
        );
        assert_eq!(
            r.steps[5].1,
            Bound::Scale("k8s/shop/orders".into(), vec![1, 2, 3])
        );
        assert!(
            r.steps[3].0.contains("longer than 300 s"),
            "{}",
            r.steps[3].0
        );
        assert_eq!(
            r.steps[7].1,
            Bound::Workflow(Kind::Restore, "ingress/shop".into())
        );
    }

    #[test]
    fn the_region_failover_binds_its_steps_in_order() {
        let book = parse(SHIPPED[1].1).expect("shipped runbook");
        assert_eq!(book.name, "region-failover");
        let vars = BTreeMap::from(
            [
                ("dcs", "etcd-prod"),
                ("old_primary", "pg-a"),
                ("database", "pg"),
                ("candidate", "pg-b"),
                ("public_name", "public-dns/www"),
                ("readiness", "https://b.example/ready"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let r = resolve(&book, &vars).expect("bound");
        let steps: Vec<&Bound> = r.steps.iter().map(|(_, b)| b).collect();
        assert_eq!(
            steps,
            [
                &Bound::Quorum("etcd-prod".into()),
                &Bound::Workflow(Kind::Fence, "pg-a".into()),
                &Bound::Workflow(Kind::Failover, "pg/pg-b".into()),
                &Bound::Workflow(Kind::DnsFailover, "public-dns/www".into()),
                &Bound::Http("https://b.example/ready".into(), 3),
            ]
        );
        let mut with = vars.clone();
        with.insert("promote".into(), "switchover".into());
        let r = resolve(&book, &with).expect("bound");
        assert_eq!(
            r.steps[2].1,
            Bound::Workflow(Kind::Switchover, "pg/pg-b".into())
        );
    }

    #[test]
    fn bad_runbooks_say_what_is_wrong() {
        assert!(parse("name = \"x\"\ntitle = \"t\"\n[[step]]\nkind = \"reboot_everything\"\ntitle = \"no\"\n")
            .expect_err("unknown kind")
            .contains("reboot_everything"));
        let book = parse("name = \"x\"\ntitle = \"t\"\n[[step]]\nkind = \"workflow\"\ntitle = \"t\"\nworkflow = \"runbook\"\ntarget = \"x\"\n")
            .expect("parses");
        assert!(
            resolve(&book, &BTreeMap::new())
                .expect_err("nested")
                .contains("cannot run a runbook")
        );
    }
}
