//! Runbooks as data: TOML files whose steps are the console's own step kinds, run as one
//! guarded workflow with one typed confirmation (the runbook's name).
//!
//! Step kinds:
//! - `workflow`: any workflow (`fallback`, `drain`, `fence`...) on a target; planned
//!   when its turn comes, with every guard: a refusing guard stops the runbook;
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
//! (the Sev-0 connection-pool leak of the domain notes) are built in; a runbook file
//! named in the configuration is read from disk. Every step is journaled before and
//! after, with a cancel checkpoint between steps; a failing step stops the runbook as
//! `needs_human`, naming what ran and what did not.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Context, Detail, Kind, Plan, Report, WorkflowError};
use crate::config::SourceConfig;
use crate::time::Timestamp;

/// The runbooks shipped with the console: (name, TOML).
pub const SHIPPED: [(&str, &str); 1] = [(
    "sev0-connection-leak",
    include_str!("../../../assets/runbooks/sev0-connection-leak.toml"),
)];

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
    toml::from_str(text).map_err(|e| format!("runbook: {}", e.message().trim()))
}

fn bind(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
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
                "{{{name}}} has no value: bind it in the environment's [[environment.runbook]] vars"
            )
        })?;
        out.push_str(v);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn number(n: &Num, vars: &BTreeMap<String, String>) -> Result<u64, String> {
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
    }
}

/// The runbook text and bindings `env` enables under `name`.
fn enabled(
    ctx: &Context<'_>,
    name: &str,
) -> Result<(Runbook, BTreeMap<String, String>), WorkflowError> {
    let cfg = ctx
        .environment
        .runbook
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| {
            WorkflowError::Usage(format!(
                "no runbook {name:?} in environment {:?} (enabled: {}; shipped: {})",
                ctx.environment.name,
                ctx.environment
                    .runbook
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                SHIPPED.map(|(n, _)| n).join(", ")
            ))
        })?;
    let text = match &cfg.file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| WorkflowError::Usage(format!("cannot read the runbook {path}: {e}")))?,
        None => SHIPPED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| (*t).to_owned())
            .ok_or_else(|| {
                WorkflowError::Usage(format!(
                    "{name:?} is not a shipped runbook; give its `file`"
                ))
            })?,
    };
    let book = parse(&text).map_err(WorkflowError::Usage)?;
    Ok((book, cfg.vars.clone()))
}

/// Checks what can be checked before the run: each step's source exists.
fn check_sources(ctx: &Context<'_>, r: &Resolved) -> Result<(), String> {
    let has_pg = |n: &str| {
        ctx.environment
            .source
            .iter()
            .any(|s| matches!(s, SourceConfig::Postgres(p) if p.name == n))
    };
    let has_k8s = |n: &str| {
        ctx.environment
            .source
            .iter()
            .any(|s| matches!(s, SourceConfig::Kubernetes(k) if k.name == n))
    };
    for (title, s) in &r.steps {
        match s {
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
            step if !matches!(step, Bound::Manual(_))
                && ctx.drill.is_some()
                && super::drill::is_drill(ctx) =>
            {
                drill_step(ctx, &journaled, step).await
            }
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

/// A database, deployment or readiness step on the drill's fleet.
async fn drill_step(
    ctx: &Context<'_>,
    journaled: &super::Journaled<'_>,
    step: &Bound,
) -> Result<String, String> {
    use crate::sources::drill::DrillAction;
    let drill = ctx.drill.as_ref().ok_or("no drill")?;
    let settle = |action: DrillAction, secs: u64| async move {
        let words = drill.act(action.clone()).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while tokio::time::Instant::now() < deadline {
            if let Some(seen) = super::drill::took_effect(&action, &drill.view().await?) {
                return Ok(format!("{words}; {seen}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!(
            "{words}, but the fleet did not show it within {secs} s (DRILL)"
        ))
    };
    match step {
        Bound::Sessions(_) => Ok(drill
            .view()
            .await?
            .sessions
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
            + " (DRILL)"),
        Bound::Terminate { .. } => settle(DrillAction::TerminateSessions, 10).await,
        Bound::Scale(service, counts) => {
            let mut said = Vec::new();
            for n in counts {
                let words = settle(
                    DrillAction::Scale {
                        service: service.clone(),
                        replicas: *n as usize,
                    },
                    15,
                )
                .await?;
                journaled
                    .step("verify", &format!("{service} at {n} (DRILL)"), "ok", &words)
                    .map_err(|e| e.to_string())?;
                said.push(words);
            }
            Ok(said.join("; "))
        }
        Bound::Http(url, n) => {
            let service = url.strip_prefix("drill://").unwrap_or(url).to_owned();
            let mut row = 0;
            for _ in 0..n + 15 {
                let v = drill.view().await?;
                let mine: Vec<_> = v
                    .instances
                    .iter()
                    .filter(|i| i.service == service)
                    .collect();
                let on: Vec<_> = mine.iter().filter(|i| i.state != "OUT").collect();
                if !on.is_empty() && on.iter().all(|i| i.health == crate::model::Health::Healthy) {
                    row += 1;
                    if row >= *n {
                        return Ok(format!(
                            "{service}: readiness green {n} times in a row (DRILL)"
                        ));
                    }
                } else {
                    row = 0;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(format!(
                "{service}'s readiness was not green {n} times in a row (DRILL)"
            ))
        }
        Bound::Workflow(..) | Bound::Manual(_) => Err("not a drill step".into()),
    }
}

/// A connection to the `postgres` source `name`.
async fn connect(ctx: &Context<'_>, name: &str) -> Result<tokio_postgres::Client, String> {
    let cfg = ctx
        .environment
        .source
        .iter()
        .find_map(|s| match s {
            SourceConfig::Postgres(p) if p.name == name => Some(p),
            _ => None,
        })
        .ok_or_else(|| format!("no postgres source named {name:?}"))?;
    let dsn = std::env::var(&cfg.dsn_env)
        .map_err(|_| format!("the environment variable {} is not set", cfg.dsn_env))?;
    let (client, conn) = tokio::time::timeout(
        ctx.timeout * 5,
        tokio_postgres::connect(&dsn, tokio_postgres::NoTls),
    )
    .await
    .map_err(|_| format!("{name}: no connection within {:?}", ctx.timeout * 5))?
    .map_err(|e| format!("{name}: {}", crate::sources::pg::words(&e)))?;
    tokio::spawn(conn);
    Ok(client)
}

/// Sessions by state, in words.
async fn sessions(ctx: &Context<'_>, db: &str) -> Result<String, String> {
    let client = connect(ctx, db).await?;
    let rows = client
        .query(
            "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity
             WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 2 DESC",
            &[],
        )
        .await
        .map_err(|e| format!("{db}: {}", crate::sources::pg::words(&e)))?;
    Ok(rows
        .iter()
        .map(|r| format!("{} {}", r.get::<_, i64>(1), r.get::<_, String>(0)))
        .collect::<Vec<_>>()
        .join(", "))
}

/// `pg_terminate_backend` of the matching sessions; how many.
async fn terminate(
    ctx: &Context<'_>,
    db: &str,
    idle: bool,
    older_than: Option<u64>,
) -> Result<String, String> {
    if !idle && older_than.is_none() {
        return Err("terminate_sessions needs idle_in_transaction or older_than_secs".into());
    }
    let client = connect(ctx, db).await?;
    let older = older_than.map_or(-1.0, |s| s as f64);
    let rows = client
        .query(
            "SELECT pid, coalesce(state, ''), pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
               AND (($1::bool AND state LIKE 'idle in transaction%')
                    OR ($2::float8 >= 0 AND state <> 'idle'
                        AND now() - coalesce(xact_start, query_start)
                            > make_interval(secs => $2::float8)))",
            &[&idle, &older],
        )
        .await
        .map_err(|e| format!("{db}: {}", crate::sources::pg::words(&e)))?;
    let ended = rows.iter().filter(|r| r.get::<_, bool>(2)).count();
    Ok(format!(
        "{ended} of {} matching session(s) terminated",
        rows.len()
    ))
}

/// GET `url` until it answered 2xx `n` times in a row (up to `n` + 10 tries, 1 s apart).
async fn http_check(ctx: &Context<'_>, url: &str, n: u32) -> Result<String, String> {
    let client = crate::sources::http::client(ctx.timeout)?;
    let (mut row, mut last) = (0, String::new());
    for _ in 0..n + 10 {
        match crate::sources::http::get_ok(&client, url, ctx.timeout).await {
            Ok(_) => {
                row += 1;
                if row >= n {
                    return Ok(format!("{url} answered 2xx {n} times in a row"));
                }
            }
            Err(e) => {
                row = 0;
                last = e;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(format!(
        "{url} did not answer 2xx {n} times in a row: {last}"
    ))
}

/// Waits until the operator says the manual step is done; a cancel or the safety valve
/// stops the wait.
async fn wait_for_human(ctx: &Context<'_>, text: &str) -> Result<String, String> {
    ctx.control.ask_human(text);
    loop {
        if ctx.control.take_ack() {
            return Ok("done, the operator says".to_owned());
        }
        if let Some(why) = ctx.control.stopped() {
            ctx.control.ask_human("");
            return Err(format!("{why} while waiting for a human: {text}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Scales `source/namespace/name` to each count in turn, each ready before the next.
async fn scale(
    ctx: &Context<'_>,
    journaled: &super::Journaled<'_>,
    deployment: &str,
    counts: &[u32],
) -> Result<String, String> {
    let mut parts = deployment.splitn(3, '/');
    let (source, ns, name) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let cfg = ctx
        .environment
        .source
        .iter()
        .find_map(|s| match s {
            SourceConfig::Kubernetes(k) if k.name == source => Some(k),
            _ => None,
        })
        .ok_or_else(|| format!("no kubernetes source named {source:?}"))?;
    let mut said = Vec::new();
    for n in counts {
        let ready =
            crate::sources::kubernetes::scale(cfg, ns, name, *n, Duration::from_mins(2)).await?;
        journaled
            .step("verify", &format!("{deployment} at {n}"), "ok", &ready)
            .map_err(|e| e.to_string())?;
        said.push(ready);
    }
    Ok(said.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

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
