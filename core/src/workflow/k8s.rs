//! Kubernetes isolation moves: `cordon` a node (no new pods are scheduled on it),
//! `uncordon` it, and `delete-pod` (its controller replaces it elsewhere).
//!
//! Targets: `kubernetes-source/node` for a node, `kubernetes-source/namespace/pod` for
//! a pod. Guards besides the common ones: last healthy (never cordon the last Ready,
//! schedulable node; never delete the last Ready pod of its service). The change is made
//! with the kube client (a merge patch of `spec.unschedulable`; a pod DELETE) and
//! verified by reading it back (the node unschedulable; the pod gone or terminating).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};

use super::target::{self, BoxFuture, Found, OnDrill, Reach, TargetKind};
use super::{Context, Detail, GuardResult, Kind, Offer, Plan, Report, WorkflowError};
use crate::config::{Environment, SourceConfig};
use crate::model::Health;
use crate::sources::kubernetes::{KubernetesConfig, kube_words, pod_health, service_of};
use crate::time::Timestamp;

/// How long verification waits.
const VERIFY_SECS: u64 = 30;

/// A Kubernetes move as planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    /// The Kubernetes source.
    pub source: String,
    /// The namespace (a pod) or `None` (a node).
    pub namespace: Option<String>,
    /// The node's or pod's name.
    pub name: String,
}

fn config<'a>(ctx: &'a Context<'_>, name: &str) -> Result<&'a KubernetesConfig, WorkflowError> {
    super::source(ctx, "kubernetes", name, |s| match s {
        SourceConfig::Kubernetes(k) if k.name == name => Some(k),
        _ => None,
    })
}

fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

fn cordoned(n: &Node) -> bool {
    n.spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

/// The plan of `cordon`, `uncordon` or `delete-pod` on `target`.
pub(super) async fn plan(
    ctx: &Context<'_>,
    kind: Kind,
    target: &str,
) -> Result<Plan, WorkflowError> {
    let parts: Vec<&str> = target.split('/').collect();
    let (source, namespace, name) = match (kind, parts.as_slice()) {
        (Kind::DeletePod, [s, ns, p]) if !s.is_empty() && !ns.is_empty() && !p.is_empty() => {
            (*s, Some((*ns).to_owned()), *p)
        }
        (Kind::Cordon | Kind::Uncordon, [s, n]) if !s.is_empty() && !n.is_empty() => (*s, None, *n),
        _ => {
            return Err(WorkflowError::Usage(format!(
                "target {target:?} is not {}",
                if kind == Kind::DeletePod {
                    "kubernetes-source/namespace/pod"
                } else {
                    "kubernetes-source/node"
                }
            )));
        }
    };
    let cfg = config(ctx, source)?;
    let client = crate::sources::kubernetes::client(cfg)
        .await
        .map_err(WorkflowError::Target)?;
    let now = ctx.clock.now();
    let mut guards = super::common_guards(ctx, target, now).await?;
    let (before, steps) = if let Some(ns) = &namespace {
        let pods: Api<Pod> = Api::namespaced(client, ns);
        let pod = pods
            .get(name)
            .await
            .map_err(|e| WorkflowError::Target(format!("pod {ns}/{name}: {}", kube_words(&e))))?;
        let service = service_of(&pod);
        let others = pods
            .list(&ListParams::default())
            .await
            .map_err(|e| WorkflowError::Target(format!("pods of {ns}: {}", kube_words(&e))))?
            .items
            .into_iter()
            .filter(|p| {
                p.name_any() != name
                    && service_of(p) == service
                    && p.metadata.deletion_timestamp.is_none()
                    && pod_health(p).0 == Health::Healthy
            })
            .count();
        guards.push(GuardResult {
            name: "last healthy",
            ok: others > 0,
            reason: format!("{others} other Ready pod(s) of {service} in {ns}"),
        });
        let (health, _, words) = pod_health(&pod);
        (
            format!("{words} ({health:?})"),
            vec![
                format!("DELETE pod {ns}/{name} (its controller starts a replacement)"),
                format!("verify: the pod is gone or terminating (up to {VERIFY_SECS} s)"),
            ],
        )
    } else {
        let nodes: Api<Node> = Api::all(client);
        let all = nodes
            .list(&ListParams::default())
            .await
            .map_err(|e| WorkflowError::Target(format!("nodes: {}", kube_words(&e))))?
            .items;
        let me = all.iter().find(|n| n.name_any() == name).ok_or_else(|| {
            WorkflowError::Target(format!(
                "no node {name} (nodes: {})",
                all.iter()
                    .map(ResourceExt::name_any)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if kind == Kind::Cordon {
            let others = all
                .iter()
                .filter(|n| n.name_any() != name && node_ready(n) && !cordoned(n))
                .count();
            guards.push(GuardResult {
                name: "last healthy",
                ok: others > 0,
                reason: format!("{others} other Ready, schedulable node(s)"),
            });
        }
        let want = kind == Kind::Cordon;
        guards.push(GuardResult {
            name: "not there yet",
            ok: cordoned(me) != want,
            reason: format!(
                "{name} is {}",
                if cordoned(me) {
                    "cordoned"
                } else {
                    "schedulable"
                }
            ),
        });
        (
            format!(
                "{}, {}",
                if node_ready(me) { "Ready" } else { "NotReady" },
                if cordoned(me) {
                    "cordoned"
                } else {
                    "schedulable"
                }
            ),
            vec![
                format!("PATCH node {name} spec.unschedulable = {want}"),
                format!(
                    "verify: the node reads back unschedulable = {want} (up to {VERIFY_SECS} s)"
                ),
            ],
        )
    };
    Ok(Plan {
        kind,
        target: target.to_owned(),
        confirm_as: name.to_owned(),
        environment: ctx.environment.name.clone(),
        before,
        steps,
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::Kube(Move {
            source: source.to_owned(),
            namespace,
            name: name.to_owned(),
        }),
    })
}

/// The run of a plan whose checks passed, under the target's lock (taken by the caller).
pub(super) async fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    m: &Move,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let cfg = config(ctx, &m.source)?;
    let client = crate::sources::kubernetes::client(cfg)
        .await
        .map_err(WorkflowError::Target)?;
    let journaled = super::Journaled::start(ctx, plan, operator, confirmed)?;
    let action = plan.steps.first().cloned().unwrap_or_default();
    let mut lines = Vec::new();
    if let Some(r) = journaled.checkpoint(&action, &mut lines)? {
        return Ok(r);
    }
    journaled.step("before", &action, "pending", &plan.before)?;
    let want = plan.kind == Kind::Cordon;
    let acted = match &m.namespace {
        Some(ns) => Api::<Pod>::namespaced(client.clone(), ns)
            .delete(&m.name, &DeleteParams::default())
            .await
            .map(|_| ()),
        None => Api::<Node>::all(client.clone())
            .patch(
                &m.name,
                &PatchParams::default(),
                &Patch::Merge(&serde_json::json!({ "spec": { "unschedulable": want } })),
            )
            .await
            .map(|_| ()),
    }
    .map_err(|e| kube_words(&e));
    journaled.step(
        "after",
        &action,
        if acted.is_ok() { "ok" } else { "failed" },
        acted.as_ref().err().map_or("", String::as_str),
    )?;
    if let Err(why) = acted {
        return journaled.needs_human(
            lines,
            format!("{action} failed: {why}; nothing was changed as far as the API server said"),
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(VERIFY_SECS);
    let (mut effect, mut seen) = (None, String::new());
    while tokio::time::Instant::now() < deadline {
        let done = match &m.namespace {
            Some(ns) => match Api::<Pod>::namespaced(client.clone(), ns)
                .get_opt(&m.name)
                .await
            {
                Ok(None) => {
                    seen = "gone".into();
                    true
                }
                Ok(Some(p)) if p.metadata.deletion_timestamp.is_some() => {
                    seen = "terminating".into();
                    true
                }
                Ok(Some(_)) => {
                    seen = "still running".into();
                    false
                }
                Err(e) => {
                    seen = kube_words(&e);
                    false
                }
            },
            None => match Api::<Node>::all(client.clone()).get(&m.name).await {
                Ok(n) => {
                    seen = format!("unschedulable = {}", cordoned(&n));
                    cordoned(&n) == want
                }
                Err(e) => {
                    seen = kube_words(&e);
                    false
                }
            },
        };
        if done {
            effect = Some(ctx.clock.now());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    journaled.verified(
        &format!("{} read back", m.name),
        &seen,
        effect,
        confirmed,
        lines,
        format!("verified: {} is {seen}", m.name),
        format!(
            "NOT verified within {VERIFY_SECS} s: {} is {seen}; a human must look",
            m.name
        ),
    )
}

/// The Kubernetes target kind: a node (`kubernetes-source/node`) or a pod (`kubernetes-source/namespace/pod`).
pub struct KubeTarget;

impl TargetKind for KubeTarget {
    const NAME: &'static str = "Kubernetes node or pod";
    const SYNTAX: &'static str = "kubernetes-source/node or kubernetes-source/namespace/pod";
    const KINDS: &'static [Kind] = &[Kind::Cordon, Kind::Uncordon, Kind::DeletePod];
    const DRILL: OnDrill = OnDrill::No(
        "the drill has no Kubernetes cluster; its instances are practised as HAProxy servers and fenced nodes",
    );
    type Detail = Move;

    fn owns(env: &Environment, target: &str) -> bool {
        target::owned_by_source(env, target, 2..=3, |s| {
            matches!(s, SourceConfig::Kubernetes(_))
        })
    }

    fn plan<'a>(
        ctx: &'a Context<'_>,
        kind: Kind,
        target: &'a str,
    ) -> BoxFuture<'a, Result<Plan, WorkflowError>> {
        Box::pin(plan(ctx, kind, target))
    }

    fn run<'a>(
        ctx: &'a Context<'_>,
        plan: &'a Plan,
        detail: &'a Move,
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
            Kind::Cordon => Ok(Kind::Uncordon),
            Kind::Uncordon => Ok(Kind::Cordon),
            Kind::DeletePod => {
                Err("a deleted pod has no inverse: its controller replaced it".to_owned())
            }
            other => Err(format!("{} is not a Kubernetes workflow", other.as_str())),
        }
    }

    fn offers<'a>(at: &'a Reach<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let mut found = Found::default();
            for s in &at.environment.source {
                let SourceConfig::Kubernetes(k) = s else {
                    continue;
                };
                match offers_of(k).await {
                    Ok(mut o) => found.0.append(&mut o),
                    Err(e) => found.1.push(format!("{}: {e}", k.name)),
                }
            }
            found
        })
    }
}

/// Most pods offered per Kubernetes source (a palette of 10,000 pods helps nobody;
/// the CLI takes any pod).
const MAX_POD_OFFERS: usize = 500;

/// Cordon or uncordon each node; delete each pod (up to [`MAX_POD_OFFERS`]).
async fn offers_of(cfg: &KubernetesConfig) -> Result<Vec<Offer>, String> {
    let client = crate::sources::kubernetes::client(cfg).await?;
    let mut offers = Vec::new();
    let nodes: Api<Node> = Api::all(client.clone());
    for n in nodes
        .list(&ListParams::default())
        .await
        .map_err(|e| kube_words(&e))?
        .items
    {
        let name = n.metadata.name.clone().unwrap_or_default();
        let kind = if cordoned(&n) {
            Kind::Uncordon
        } else {
            Kind::Cordon
        };
        offers.push(Offer {
            kind,
            target: format!("{}/{name}", cfg.name),
            label: format!("{} node {name} on {}", kind.as_str(), cfg.name),
            instance: None,
        });
    }
    let namespaces: Vec<Option<&str>> = if cfg.namespaces.is_empty() {
        vec![None]
    } else {
        cfg.namespaces.iter().map(|n| Some(n.as_str())).collect()
    };
    let mut pods = 0;
    for ns in namespaces {
        let api: Api<Pod> = match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let list = api
            .list(&ListParams::default().limit(u32::try_from(MAX_POD_OFFERS).unwrap_or(500)))
            .await
            .map_err(|e| kube_words(&e))?;
        for p in list.items {
            if pods >= MAX_POD_OFFERS {
                break;
            }
            pods += 1;
            let (ns, name) = (
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default(),
            );
            offers.push(Offer {
                kind: Kind::DeletePod,
                target: format!("{}/{ns}/{name}", cfg.name),
                label: format!(
                    "delete-pod {ns}/{name} on {} (its controller replaces it)",
                    cfg.name
                ),
                instance: Some(format!("{ns}/{name}")),
            });
        }
    }
    Ok(offers)
}
