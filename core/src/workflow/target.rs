//! The target registry: every kind of thing a workflow acts on, one module each, and
//! one table (the `registry!` invocation at the bottom) that lists them.
//!
//! A target kind (an HAProxy server, a Traefik router, a Patroni member, a node with
//! fence devices...) implements [`TargetKind`]: which workflows it takes, how its
//! targets are written, whether an environment owns a given target string (by the
//! owning source's name and kind, a fence device's node, a runbook's name), what it
//! offers for the palette, how it plans and runs, and the workflow that undoes each of
//! its workflows. The table generates [`Detail`] (what a plan acts on, one variant per
//! target kind), the dispatch of planning, running, offers and inverses, and
//! [`TARGETS`], which the registry test walks.
//!
//! A target string is parsed once, by [`resolve`]: the one target kind whose workflows
//! include the asked one and whose environment owns the string. Adding a target kind is
//! one module plus one line in the table; the compiler checks the rest.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::{Context, Kind, Plan, Report, WorkflowError};
use crate::config::Environment;
use crate::sources::drill::DrillHandle;
use crate::time::Timestamp;

/// A boxed, sendable future: what a target kind's async steps return, so the table can
/// dispatch to them and a runbook can run workflows recursively.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something the operator can start here.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Offer {
    /// The workflow.
    pub kind: Kind,
    /// Its target, as the workflow names it.
    pub target: String,
    /// One line for a menu (`drain be_web/web1 (UP) on edge`).
    pub label: String,
    /// The instance it acts on, as the topology names it (a server's address).
    pub instance: Option<String>,
}

/// What reading the offers found: the offers, and the targets that could not be read,
/// in words.
pub type Found = (Vec<Offer>, Vec<String>);

/// Where offers are read from.
pub struct Reach<'a> {
    /// The environment.
    pub environment: &'a Environment,
    /// Bound on each read.
    pub timeout: Duration,
    /// The running drill, when the environment is the drill.
    pub drill: Option<&'a DrillHandle>,
}

/// Whether a target kind has a counterpart on the drill's simulated fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDrill {
    /// Its workflows are practised on the drill (the drill target takes them).
    Practised,
    /// Not practised, and why.
    No(&'static str),
}

/// One kind of workflow target. Implemented by a unit struct in the target's module.
pub trait TargetKind {
    /// What it is, for messages (`HAProxy server`).
    const NAME: &'static str;
    /// How its targets are written (`gateway/backend/server`).
    const SYNTAX: &'static str;
    /// The workflows it takes.
    const KINDS: &'static [Kind];
    /// Whether the drill practises it.
    const DRILL: OnDrill;
    /// What a plan of it acts on, as read when planned.
    type Detail: Clone + std::fmt::Debug + PartialEq + Eq + Send + Sync;

    /// Whether `target` names one of its targets in `env`.
    fn owns(env: &Environment, target: &str) -> bool;

    /// The plan of `kind` on `target`: a fresh read of the target and every guard.
    fn plan<'a>(
        ctx: &'a Context<'_>,
        kind: Kind,
        target: &'a str,
    ) -> BoxFuture<'a, Result<Plan, WorkflowError>>;

    /// Runs `plan` (its checks passed and it was confirmed at `confirmed`).
    fn run<'a>(
        ctx: &'a Context<'_>,
        plan: &'a Plan,
        detail: &'a Self::Detail,
        confirmed: Timestamp,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<Report, WorkflowError>>;

    /// The workflow that undoes `kind` on a target that was `before` when planned, or
    /// why there is none.
    fn inverse(kind: Kind, before: &str) -> Result<Kind, String>;

    /// What can be done here, read fresh from the targets.
    fn offers<'a>(at: &'a Reach<'a>) -> BoxFuture<'a, Found>;
}

/// What the registry knows of a target kind without running anything: for the registry
/// test, listings and messages.
#[derive(Clone, Copy, Debug)]
pub struct TargetInfo {
    /// [`TargetKind::NAME`].
    pub name: &'static str,
    /// [`TargetKind::SYNTAX`].
    pub syntax: &'static str,
    /// [`TargetKind::KINDS`].
    pub kinds: &'static [Kind],
    /// [`TargetKind::DRILL`].
    pub drill: OnDrill,
    /// [`TargetKind::inverse`].
    pub inverse: fn(Kind, &str) -> Result<Kind, String>,
    /// [`TargetKind::owns`].
    pub owns: fn(&Environment, &str) -> bool,
}

/// The registry's entry for `T`.
const fn info_of<T: TargetKind>() -> TargetInfo {
    TargetInfo {
        name: T::NAME,
        syntax: T::SYNTAX,
        kinds: T::KINDS,
        drill: T::DRILL,
        inverse: T::inverse,
        owns: T::owns,
    }
}

/// Declares the registry: `Variant => module::UnitStruct` per target kind, in the order
/// offers are listed.
macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident => $ty:path ,)*) => {
        /// What a plan acts on, as read when planned: one variant per target kind.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub enum Detail {
            /// Nothing (a plan built by hand).
            #[default]
            None,
            $( $(#[$doc])* $variant(<$ty as TargetKind>::Detail), )*
        }

        /// A target kind of the registry, once a target string is resolved.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Owner {
            $( $(#[$doc])* $variant, )*
        }

        /// Every target kind, in the table's order.
        pub const TARGETS: &[(Owner, TargetInfo)] = &[
            $( (Owner::$variant, info_of::<$ty>()), )*
        ];

        impl Owner {
            /// What the registry knows of it.
            pub const fn info(self) -> TargetInfo {
                match self {
                    $( Self::$variant => info_of::<$ty>(), )*
                }
            }

            /// Its plan of `kind` on `target`.
            pub(crate) fn plan<'a>(
                self,
                ctx: &'a Context<'_>,
                kind: Kind,
                target: &'a str,
            ) -> BoxFuture<'a, Result<Plan, WorkflowError>> {
                match self {
                    $( Self::$variant => <$ty as TargetKind>::plan(ctx, kind, target), )*
                }
            }
        }

        /// Runs `plan` through the target kind its detail belongs to.
        pub(crate) fn run_detail<'a>(
            ctx: &'a Context<'_>,
            plan: &'a Plan,
            confirmed: Timestamp,
            operator: &'a str,
        ) -> BoxFuture<'a, Result<Report, WorkflowError>> {
            match &plan.detail {
                $( Detail::$variant(d) => <$ty as TargetKind>::run(ctx, plan, d, confirmed, operator), )*
                Detail::None => Box::pin(async {
                    Err(WorkflowError::Usage("this plan has nothing to run".into()))
                }),
            }
        }

        /// Every target kind's offers in `at`, in the table's order.
        pub(crate) async fn offers(at: &Reach<'_>) -> Found {
            let mut offers = Vec::new();
            let mut errors = Vec::new();
            $(
                let (mut o, mut e) = <$ty as TargetKind>::offers(at).await;
                offers.append(&mut o);
                errors.append(&mut e);
            )*
            // Two target kinds of one source (an HAProxy's servers and backends) read it
            // once each: its error is said once.
            let mut said = std::collections::BTreeSet::new();
            errors.retain(|e| said.insert(e.clone()));
            (offers, errors)
        }
    };
}

registry! {
    /// The drill's simulated fleet (every practised workflow in a drill environment).
    Drill => super::drill::DrillTarget,
    /// An HAProxy backend, to and from its backup servers.
    Backend => super::backup::BackendTarget,
    /// An HAProxy server.
    Server => super::server::ServerTarget,
    /// A Traefik router (file provider).
    Router => super::route::RouterTarget,
    /// A Kubernetes node or pod.
    Kube => super::k8s::KubeTarget,
    /// A Patroni cluster's member.
    Patroni => super::patroni::PatroniTarget,
    /// An etcd member.
    EtcdMember => super::etcd::EtcdMemberTarget,
    /// A runbook.
    Runbook => super::runbook::RunbookTarget,
    /// An experiment (game day).
    Experiment => super::experiment::ExperimentTarget,
    /// A node with fence devices.
    Node => super::fence::NodeTarget,
    /// A public name in a DNS zone.
    DnsRecord => super::dns::DnsRecordTarget,
}

/// The target kind that owns `target` for `kind` in `env`: the one whose workflows
/// include `kind` and that owns the string. When none owns it and only one target kind
/// takes `kind`, that one is asked anyway, so its plan says what is wrong in its own
/// words ("no fence device for node ..."); when several could, the message lists how
/// each writes its targets.
pub fn resolve(env: &Environment, kind: Kind, target: &str) -> Result<Owner, WorkflowError> {
    let drill = (Owner::Drill.info().owns)(env, target);
    // Outside a drill environment the drill takes nothing.
    let takers: Vec<&(Owner, TargetInfo)> = TARGETS
        .iter()
        .filter(|(o, i)| i.kinds.contains(&kind) && (drill || *o != Owner::Drill))
        .collect();
    let owners: Vec<Owner> = takers
        .iter()
        .filter(|(_, i)| (i.owns)(env, target))
        .map(|(o, _)| *o)
        .collect();
    match (owners.as_slice(), takers.as_slice()) {
        ([one], _) => Ok(*one),
        ([], _) if drill && kind != Kind::Runbook => Err(not_practised(kind)),
        ([], [(only, _)]) => Ok(*only),
        ([], _) => Err(WorkflowError::Usage(format!(
            "nothing in environment {:?} is a {} target {target:?}: {}",
            env.name,
            kind.as_str(),
            takers
                .iter()
                .map(|(_, i)| format!("{} ({})", i.syntax, i.name))
                .collect::<Vec<_>>()
                .join(" or ")
        ))),
        (many, _) => Err(WorkflowError::Usage(format!(
            "{target:?} is ambiguous in environment {:?}: it names a {}",
            env.name,
            many.iter()
                .map(|o| o.info().name)
                .collect::<Vec<_>>()
                .join(" and a ")
        ))),
    }
}

/// Why `kind` cannot be asked of the drill: the drill's own list of what it practises.
pub(crate) fn not_practised(kind: Kind) -> WorkflowError {
    WorkflowError::Usage(format!(
        "DRILL: {} is not practised on the drill ({} are)",
        kind.as_str(),
        Owner::Drill
            .info()
            .kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Whether `target` is `source/…` with `parts` parts in all, and `env` has a source of
/// that name for which `is` holds: how a source-owned target kind owns its targets.
pub(crate) fn owned_by_source(
    env: &Environment,
    target: &str,
    parts: std::ops::RangeInclusive<usize>,
    is: impl Fn(&crate::config::SourceConfig) -> bool,
) -> bool {
    let source = target.split('/').next().unwrap_or_default();
    parts.contains(&target.split('/').count())
        && env.source.iter().any(|s| s.name() == source && is(s))
}

/// The other one of a pair of workflows that undo each other (`fence` and `unfence`);
/// `of` names the target kind in the refusal of a workflow outside the pair.
pub(crate) fn opposite(kind: Kind, pair: [Kind; 2], of: &str) -> Result<Kind, String> {
    match pair {
        [a, b] if kind == a => Ok(b),
        [a, b] if kind == b => Ok(a),
        _ => Err(format!("{} is not a {of} workflow", kind.as_str())),
    }
}

/// `work` (a run's journaled steps) while holding the target's cross-console lock,
/// boxed for the registry.
pub(crate) fn under_lock<'a>(
    ctx: &'a Context<'_>,
    plan: &'a Plan,
    operator: &'a str,
    work: impl Future<Output = Result<Report, WorkflowError>> + Send + 'a,
) -> BoxFuture<'a, Result<Report, WorkflowError>> {
    Box::pin(super::locked(ctx, plan, operator, work))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks the registry: every workflow parses back from its name, is described and
    /// is taken by a target kind; every target kind says how its targets are written,
    /// names an inverse (or why none) for each of its workflows that stays among its
    /// own, and is practised on the drill or says why not.
    #[test]
    fn every_workflow_and_target_kind_is_complete() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Ok(k), "{k:?} parses back");
            assert!(!k.describe().is_empty(), "{k:?} is described");
            assert!(
                TARGETS.iter().any(|(_, i)| i.kinds.contains(&k)),
                "{k:?} is taken by a target kind"
            );
        }
        let drill = Owner::Drill.info();
        for (owner, info) in TARGETS {
            assert_eq!(owner.info().name, info.name);
            assert!(
                !info.name.is_empty() && !info.syntax.is_empty(),
                "{owner:?}"
            );
            assert!(!info.kinds.is_empty(), "{owner:?} takes a workflow");
            for k in info.kinds {
                for before in ["UP", "MAINT", "DRAIN"] {
                    match (info.inverse)(*k, before) {
                        Ok(back) => assert!(
                            info.kinds.contains(&back),
                            "{owner:?}: the inverse of {k:?} ({back:?}) is one of its own"
                        ),
                        Err(why) => assert!(!why.is_empty(), "{owner:?}: {k:?} says why"),
                    }
                }
            }
            match info.drill {
                OnDrill::Practised => {
                    for k in info.kinds {
                        assert!(
                            *owner == Owner::Runbook || drill.kinds.contains(k),
                            "{owner:?}'s {k:?} is practised on the drill"
                        );
                    }
                }
                OnDrill::No(why) => assert!(!why.is_empty(), "{owner:?} says why"),
            }
        }
    }

    /// A target string is owned by exactly the target kind its source is: the same
    /// name under two workflows that two target kinds take goes to the right one.
    #[test]
    fn a_target_is_owned_by_its_source_kind() {
        let env: crate::config::Config = toml::from_str(
            r#"
[[environment]]
name = "t"
[[environment.source]]
kind = "haproxy"
name = "edge"
socket = "/nowhere"
[[environment.source]]
kind = "traefik"
name = "web"
api = "http://127.0.0.1:1"
[[environment.source]]
kind = "patroni"
name = "pg"
endpoints = ["http://127.0.0.1:1"]
"#,
        )
        .expect("config");
        let env = &env.environment[0];
        assert_eq!(resolve(env, Kind::Fallback, "edge/be"), Ok(Owner::Backend));
        assert_eq!(resolve(env, Kind::Fallback, "web/r"), Ok(Owner::Router));
        assert_eq!(
            resolve(env, Kind::Reintegrate, "edge/be/s1"),
            Ok(Owner::Server)
        );
        assert_eq!(resolve(env, Kind::Reintegrate, "pg/m1"), Ok(Owner::Patroni));
        assert_eq!(resolve(env, Kind::Fence, "db9"), Ok(Owner::Node));
        let err = resolve(env, Kind::Fallback, "nope/r")
            .expect_err("no owner")
            .to_string();
        assert!(
            err.contains("traefik-source/router") && err.contains("gateway/backend"),
            "{err}"
        );
    }
}
