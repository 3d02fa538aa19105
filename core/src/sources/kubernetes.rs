//! Kubernetes (the kube crate): pods, deployments, nodes and warning events, watched.
//!
//! The client comes from a kubeconfig (`kubeconfig`, else `KUBECONFIG`, else
//! `~/.kube/config`) and one of its contexts (`context`, else the current one), with
//! whatever auth it names. Each resource kind is a list followed by a watch
//! (kube-runtime's watcher): when the API server expires the watch (410 Gone, "too old
//! resource version") the watcher lists again and goes on; state is not dropped, and
//! pods missing from the new list are removed.
//!
//! - Pods become instances (`namespace/pod`) of their service: the label
//!   `app.kubernetes.io/name`, else `app`, else `k8s-app`, else the owning `ReplicaSet`'s
//!   name without its template hash (the Deployment), else the pod's name. Healthy when
//!   running and ready; unhealthy when not ready, failed, or a container waits in
//!   `CrashLoopBackOff`/`ImagePullBackOff`; unknown while pending. A restart (the
//!   restart count going up) is reported as a down-then-up, so a crash-looping pod
//!   trips the flapping detector like any other instance.
//! - Deployments: desired, ready and available replicas, on their service.
//! - Nodes: ready and cordoned (`spec.unschedulable`).
//! - Events of type `Warning` go to the event log.
//!
//! With `namespaces` empty every namespace is watched (cluster-wide list/watch rights
//! needed); otherwise one watcher per namespace and kind.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Node, Pod};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt as _};
use serde::{Deserialize, Serialize};

use super::connection::{ProxySetting, redact_url};
use super::http::ProxyEnv;
use super::{Emitter, transport};
use crate::event::EventBody;
use crate::model::{Health, InstanceId, ServiceId, SourceStatus, TlsMode, Transport};

/// Configuration of one Kubernetes cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    /// Source name.
    pub name: String,
    /// The kubeconfig context (default: the current one).
    #[serde(default)]
    pub context: Option<String>,
    /// Namespaces to watch (default: all).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// A kubeconfig file (default: `KUBECONFIG`, else `~/.kube/config`).
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// `false` to go direct; a URL for this cluster's own proxy; by default the
    /// kubeconfig's `proxy-url`, else `HTTPS_PROXY` as curl reads it (`NO_PROXY`
    /// honoured, which kube alone does not).
    #[serde(default, skip_serializing_if = "ProxySetting::is_default")]
    pub proxy: ProxySetting,
    /// The most one list answer, or one watch line, may hold, in bytes; the kind's
    /// default when left out (`AnswerLimit::of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_answer_bytes: Option<u64>,
}

impl crate::sources::Settings for KubernetesConfig {}

/// kube's client on `config`, with every answer bounded as `cfg` says (`kube_bounds.rs`).
fn bounded_client(cfg: &KubernetesConfig, config: kube::Config) -> Result<Client, String> {
    let limit = super::AnswerLimit::of(crate::model::SourceKind::Kubernetes, cfg.max_answer_bytes);
    Ok(kube::client::ClientBuilder::try_from(config)
        .map_err(|e| format!("Kubernetes client: {e}"))?
        .with_layer(&super::kube_bounds::BoundLayer { limit })
        .build())
}

/// The service a pod belongs to.
pub fn service_of(pod: &Pod) -> String {
    let labels = pod.labels();
    for key in ["app.kubernetes.io/name", "app", "k8s-app"] {
        if let Some(v) = labels.get(key) {
            return v.clone();
        }
    }
    if let Some(rs) = pod
        .owner_references()
        .iter()
        .find(|o| o.kind == "ReplicaSet")
    {
        let hash = labels.get("pod-template-hash");
        return match hash.and_then(|h| rs.name.strip_suffix(&format!("-{h}"))) {
            Some(deployment) => deployment.to_owned(),
            None => rs.name.clone(),
        };
    }
    if let Some(o) = pod.owner_references().first() {
        return o.name.clone();
    }
    pod.name_any()
}

/// A pod's health, restart count and the words for it.
pub fn pod_health(pod: &Pod) -> (Health, u32, String) {
    let empty = k8s_openapi::api::core::v1::PodStatus::default();
    let status = pod.status.as_ref().unwrap_or(&empty);
    let phase = status.phase.clone().unwrap_or_else(|| "Unknown".to_owned());
    let ready = status
        .conditions
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True");
    let containers = status.container_statuses.as_deref().unwrap_or_default();
    let restarts: u32 = containers
        .iter()
        .map(|c| u32::try_from(c.restart_count.max(0)).unwrap_or(0))
        .sum();
    let waiting = containers.iter().find_map(|c| {
        c.state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone())
    });
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .map(|n| format!(" on {n}"))
        .unwrap_or_default();
    let restarts_words = if restarts == 1 {
        "1 restart".to_owned()
    } else {
        format!("{restarts} restarts")
    };
    let (health, words) = match (phase.as_str(), ready, waiting.as_deref()) {
        (
            _,
            _,
            Some(
                w @ ("CrashLoopBackOff"
                | "ImagePullBackOff"
                | "ErrImagePull"
                | "CreateContainerConfigError"),
            ),
        ) => (Health::Unhealthy, w.to_owned()),
        ("Running", true, _) => (Health::Healthy, "Running, ready".to_owned()),
        ("Running", false, w) => (
            Health::Unhealthy,
            format!(
                "Running, not ready{}",
                w.map(|w| format!(" ({w})")).unwrap_or_default()
            ),
        ),
        ("Pending", _, w) => (
            Health::Unknown,
            format!(
                "Pending{}",
                w.map(|w| format!(" ({w})")).unwrap_or_default()
            ),
        ),
        ("Failed", _, _) => (
            Health::Unhealthy,
            format!(
                "Failed{}",
                status
                    .reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        ),
        ("Succeeded", _, _) => (Health::Unknown, "Succeeded (completed)".to_owned()),
        (p, _, _) => (Health::Unknown, p.to_owned()),
    };
    (health, restarts, format!("{words}, {restarts_words}{node}"))
}

/// Turns pod watch events into console events, remembering restart counts.
#[derive(Default)]
pub struct Pods {
    restarts: BTreeMap<String, u32>,
    /// Pods seen since the last `Init`, to remove those a re-list no longer has.
    listing: Option<std::collections::HashSet<String>>,
}

impl Pods {
    /// The events for one watcher event.
    pub fn on_event(&mut self, ev: watcher::Event<Pod>) -> Vec<EventBody> {
        match ev {
            watcher::Event::Init => {
                self.listing = Some(std::collections::HashSet::new());
                Vec::new()
            }
            watcher::Event::InitApply(p) => {
                if let Some(l) = self.listing.as_mut() {
                    l.insert(key(&p));
                }
                self.apply(&p)
            }
            watcher::Event::Apply(p) => self.apply(&p),
            watcher::Event::Delete(p) => {
                self.restarts.remove(&key(&p));
                vec![EventBody::InstanceRemoved {
                    instance: InstanceId::new(key(&p)),
                }]
            }
            watcher::Event::InitDone => {
                let listed = self.listing.take().unwrap_or_default();
                let gone: Vec<String> = self
                    .restarts
                    .keys()
                    .filter(|k| !listed.contains(*k))
                    .cloned()
                    .collect();
                gone.into_iter()
                    .map(|k| {
                        self.restarts.remove(&k);
                        EventBody::InstanceRemoved {
                            instance: InstanceId::new(k),
                        }
                    })
                    .collect()
            }
        }
    }

    fn apply(&mut self, p: &Pod) -> Vec<EventBody> {
        let k = key(p);
        let (health, restarts, detail) = pod_health(p);
        let service = ServiceId::new(service_of(p));
        let before = self.restarts.insert(k.clone(), restarts);
        let mut out = Vec::new();
        if before.is_some_and(|b| restarts > b) && health == Health::Healthy {
            // It went down and came back between two updates: say so.
            out.push(EventBody::InstanceHealth {
                instance: InstanceId::new(&k),
                service: service.clone(),
                health: Health::Unhealthy,
                detail: Some(format!("restarted ({restarts} restarts)")),
            });
        }
        out.push(EventBody::InstanceHealth {
            instance: InstanceId::new(&k),
            service,
            health,
            detail: Some(detail),
        });
        out
    }
}

fn key(p: &Pod) -> String {
    format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any())
}

/// A deployment's replicas as a log-worthy event.
pub fn deployment_event(d: &Deployment) -> EventBody {
    let status = d.status.clone().unwrap_or_default();
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let n = |x: Option<i32>| u32::try_from(x.unwrap_or(0).max(0)).unwrap_or(0);
    EventBody::Replicas {
        service: ServiceId::new(d.name_any()),
        desired: n(Some(desired)),
        ready: n(status.ready_replicas),
        available: n(status.available_replicas),
    }
}

/// A node's condition.
pub fn node_event(n: &Node) -> EventBody {
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True");
    let cordoned = n
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    EventBody::NodeStatus {
        node: n.name_any(),
        ready,
        cordoned,
    }
}

/// A warning event for the log.
pub fn warning_event(e: &KubeEvent) -> Option<EventBody> {
    if e.type_.as_deref() != Some("Warning") {
        return None;
    }
    let obj = &e.involved_object;
    Some(EventBody::Notice {
        subject: format!(
            "{}/{}",
            obj.namespace.clone().unwrap_or_default(),
            obj.name.clone().unwrap_or_default()
        ),
        message: format!(
            "{}: {}",
            e.reason.clone().unwrap_or_default(),
            e.message.clone().unwrap_or_default()
        ),
    })
}

/// Scales deployment `namespace/name` to `replicas` (a merge patch of `spec.replicas`,
/// as `kubectl scale` does) and waits until the controller reports exactly that many
/// replicas, all ready, or `limit` passes. Returns what it saw, in words.
pub async fn scale(
    cfg: &KubernetesConfig,
    namespace: &str,
    name: &str,
    replicas: u32,
    limit: Duration,
) -> Result<String, String> {
    let client = client(cfg).await?;
    let api: Api<Deployment> = Api::namespaced(client, namespace);
    let patch = serde_json::json!({ "spec": { "replicas": replicas } });
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .map_err(|e| format!("scale {namespace}/{name} to {replicas}: {}", kube_words(&e)))?;
    let started = std::time::Instant::now();
    let mut seen = String::new();
    while started.elapsed() < limit {
        match api.get(name).await {
            Ok(d) => {
                let st = d.status.unwrap_or_default();
                let (have, ready) = (st.replicas.unwrap_or(0), st.ready_replicas.unwrap_or(0));
                seen = format!("{have} replica(s), {ready} ready");
                if u32::try_from(have).ok() == Some(replicas)
                    && u32::try_from(ready).ok() == Some(replicas)
                {
                    return Ok(format!(
                        "{namespace}/{name} at {replicas}: {seen} after {} ms",
                        started.elapsed().as_millis()
                    ));
                }
            }
            Err(e) => seen = kube_words(&e),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!(
        "{namespace}/{name} not at {replicas} ready replica(s) within {} s: {seen}",
        limit.as_secs()
    ))
}

/// A kube error in words (the API server's reason and message when it sent one), at
/// most 300 characters of it: an answer that does not decode is quoted by serde, and a
/// hostile or broken server's message can be any length.
pub fn kube_words(e: &kube::Error) -> String {
    const MAX_CHARS: usize = 300;
    let words = match e {
        kube::Error::Api(s) => format!("{} ({}): {}", s.reason, s.code, s.message),
        other => other.to_string(),
    };
    let mut out: String = words.chars().take(MAX_CHARS).collect();
    if out.len() < words.len() {
        out.push('…');
    }
    out
}

/// The most a kubeconfig file may hold: a large one is a few hundred kilobytes.
const MAX_KUBECONFIG_BYTES: u64 = 4 << 20;

/// The client for a config.
pub(crate) async fn client(cfg: &KubernetesConfig) -> Result<Client, String> {
    bounded_client(cfg, config(cfg).await?)
}

/// The kube client's settings from the kubeconfig (`kubeconfig`, else `KUBECONFIG`'s
/// files, else `~/.kube/config`) and context, with its auth: client certificates,
/// tokens, exec plugins (`kubelogin` and cloud CLIs) and OIDC with refresh; its
/// `proxy-url`, else `HTTPS_PROXY`.
async fn config(cfg: &KubernetesConfig) -> Result<kube::Config, String> {
    let options = kube::config::KubeConfigOptions {
        context: cfg.context.clone(),
        ..Default::default()
    };
    // kube reads the files whole; a path pointing at the wrong file must not fill
    // memory, so each is checked first.
    for path in kubeconfig_paths(cfg.kubeconfig.as_deref()) {
        check_size(&path)?;
    }
    let kc = match &cfg.kubeconfig {
        Some(path) => kube::config::Kubeconfig::read_from(path)
            .map_err(|e| format!("cannot read the kubeconfig {path}: {e}"))?,
        None => kube::config::Kubeconfig::read().map_err(|e| format!("kubeconfig: {e}"))?,
    };
    let own_proxy = cluster_proxy_url(&kc, cfg.context.as_deref());
    let mut config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| format!("kubeconfig: {e}"))?;
    // kube takes HTTPS_PROXY when the kubeconfig names no proxy, but not NO_PROXY:
    // the environment's proxy is picked here as for every other source.
    let proxy = match (&cfg.proxy, own_proxy) {
        (ProxySetting::Env(true), Some(own)) => Some(own),
        (setting, _) => {
            ProxyEnv::from_process().proxy_for(setting, &config.cluster_url.to_string())
        }
    };
    config.proxy_url = proxy
        .map(|p| {
            p.parse::<http::Uri>()
                .map_err(|_| format!("the proxy is not a URL ({})", redact_url(&p)))
        })
        .transpose()?;
    Ok(config)
}

/// The `proxy-url` of the cluster the context (or the current one) names, if any.
fn cluster_proxy_url(kc: &kube::config::Kubeconfig, context: Option<&str>) -> Option<String> {
    let context = context.or(kc.current_context.as_deref())?;
    let cluster = kc
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .cluster
        .clone();
    kc.clusters
        .iter()
        .find(|c| c.name == cluster)?
        .cluster
        .as_ref()?
        .proxy_url
        .clone()
        .filter(|p| !p.is_empty())
}

/// The files the kubeconfig is read from, as kube reads them.
fn kubeconfig_paths(configured: Option<&str>) -> Vec<std::path::PathBuf> {
    if let Some(p) = configured {
        return vec![p.into()];
    }
    if let Some(list) = std::env::var_os("KUBECONFIG") {
        let paths: Vec<_> = std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !paths.is_empty() {
            return paths;
        }
    }
    directories::BaseDirs::new()
        .map(|d| vec![d.home_dir().join(".kube").join("config")])
        .unwrap_or_default()
}

/// A kubeconfig that is there must be a file of at most [`MAX_KUBECONFIG_BYTES`]; one
/// that is not there is kube's to report.
fn check_size(path: &std::path::Path) -> Result<(), String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if !meta.is_file() {
        return Err(format!("the kubeconfig is not a file ({})", path.display()));
    }
    if meta.len() > MAX_KUBECONFIG_BYTES {
        return Err(format!(
            "the kubeconfig is larger than {MAX_KUBECONFIG_BYTES} bytes: is it the right file? ({})",
            path.display()
        ));
    }
    Ok(())
}

/// The transport a kube client on `config` uses: verified TLS, INSECURE
/// (`insecure-skip-tls-verify`) or plaintext, and the client certificate's expiry.
fn transport_of(config: &kube::Config) -> Transport {
    let https = config.cluster_url.scheme_str() == Some("https");
    let mut t = Transport::new(match (https, config.accept_invalid_certs) {
        (false, _) => TlsMode::Plaintext,
        (true, true) => TlsMode::Insecure,
        (true, false) => TlsMode::Verified,
    });
    let what = "client certificate (kubeconfig)";
    let auth = &config.auth_info;
    let facts = if let Some(data) = &auth.client_certificate_data {
        data_encoding::BASE64
            .decode(data.trim().as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|pem| transport::pem_facts(&pem, what))
            .ok()
    } else {
        auth.client_certificate
            .as_deref()
            .and_then(|p| transport::pem_file_facts(p, what).ok())
    };
    t.client_cert_not_after = facts.map(|f| f.not_after);
    t
}

/// An API for `K` in each watched namespace (or cluster-wide).
fn apis<K>(client: &Client, namespaces: &[String]) -> Vec<Api<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    if namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        namespaces
            .iter()
            .map(|n| Api::namespaced(client.clone(), n))
            .collect()
    }
}

/// A watcher error in operator words (401/403 named as such).
fn words(e: &watcher::Error) -> String {
    // The whole chain, TLS failures in an operator's words: kube's own text stops at
    // "client error (Connect)".
    let text = super::connection::error_words(e);
    // A bound's words (kube_bounds.rs) come back once per layer of kube's chain: said
    // once, the innermost.
    if let Some(at) = ["answer larger than", "a watch line longer than"]
        .iter()
        .filter_map(|w| text.rfind(w))
        .max()
    {
        return text.get(at..).unwrap_or(&text).to_owned();
    }
    let inner = match e {
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => Some(k),
        _ => None,
    };
    match inner {
        Some(kube::Error::Api(s)) if s.code == 401 => {
            format!(
                "the API server refused the credentials (401 Unauthorized): {}",
                s.message
            )
        }
        Some(kube::Error::Api(s)) if s.code == 403 => {
            format!("not allowed (403 Forbidden): {}", s.message)
        }
        _ => text,
    }
}

/// Runs the Kubernetes source until the engine stops.
pub async fn run(cfg: KubernetesConfig, emitter: Emitter) {
    let client = match config(&cfg).await.and_then(|config| {
        let transport = transport_of(&config);
        let probe = transport::Probe {
            endpoints: vec![config.cluster_url.to_string()],
            tls: None,
            https: transport.tls != TlsMode::Plaintext,
            preamble: transport::Preamble::None,
            timeout: config.connect_timeout.unwrap_or(Duration::from_secs(10)),
            proxy: config
                .proxy_url
                .as_ref()
                .map_or(ProxySetting::Env(false), |p| {
                    ProxySetting::Url(p.to_string())
                }),
        };
        let reporter = emitter.clone();
        tokio::spawn(async move {
            let read = if probe.https {
                probe.endpoints.clone()
            } else {
                Vec::new()
            };
            transport::report(transport, &read, &probe, &reporter).await;
        });
        bounded_client(&cfg, config)
    }) {
        Ok(c) => c,
        Err(e) => {
            emitter.status(SourceStatus::Down, Some(e)).await;
            return;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<EventBody>, String>>(256);
    let wc = watcher::Config::default;
    let mut tasks = tokio::task::JoinSet::new();
    for api in apis::<Pod>(&client, &cfg.namespaces) {
        let tx = tx.clone();
        tasks.spawn(async move {
            let mut pods = Pods::default();
            let mut s = watcher(api, wc()).default_backoff().boxed();
            while let Some(ev) = s.next().await {
                let out = ev.map(|e| pods.on_event(e)).map_err(|e| words(&e));
                if tx.send(out).await.is_err() {
                    return;
                }
            }
        });
    }
    for api in apis::<Deployment>(&client, &cfg.namespaces) {
        let tx = tx.clone();
        tasks.spawn(forward(
            watcher(api, wc()).default_backoff().boxed(),
            tx,
            |d| vec![deployment_event(d)],
        ));
    }
    for api in apis::<KubeEvent>(&client, &cfg.namespaces) {
        let tx = tx.clone();
        let config = wc().fields("type=Warning");
        tasks.spawn(forward(
            watcher(api, config).default_backoff().boxed(),
            tx,
            |e| warning_event(e).into_iter().collect(),
        ));
    }
    let nodes: Api<Node> = Api::all(client.clone());
    tasks.spawn(forward(
        watcher(nodes, wc()).default_backoff().boxed(),
        tx.clone(),
        |n| vec![node_event(n)],
    ));
    drop(tx);

    let mut up = false;
    let mut applied: u64 = 0;
    let mut quiet = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            got = rx.recv() => {
                let Some(got) = got else { break };
                match got {
                    Ok(events) => {
                        // A watcher that only began a list (no object yet) says nothing
                        // of the cluster's health: it must not put a failing source up.
                        let said = !events.is_empty();
                        for ev in events {
                            applied += 1;
                            if !emitter.emit(ev).await {
                                tasks.abort_all();
                                return;
                            }
                        }
                        if !up && said {
                            up = true;
                            let scope = if cfg.namespaces.is_empty() {
                                "all namespaces".to_owned()
                            } else {
                                cfg.namespaces.join(", ")
                            };
                            if !emitter.status(SourceStatus::Up, Some(format!("watching {scope}"))).await {
                                tasks.abort_all();
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        up = false;
                        if !emitter.status(SourceStatus::Down, Some(e)).await {
                            tasks.abort_all();
                            return;
                        }
                    }
                }
            }
            _ = quiet.tick() => {
                // Watches are quiet when nothing changes: a heartbeat, so quiet is not stale.
                if up && !emitter.status(SourceStatus::Up, None).await {
                    tasks.abort_all();
                    return;
                }
            }
        }
    }
    tracing::debug!("kubernetes watchers ended after {applied} events");
}

/// Forwards a watcher's objects (applied, listed or deleted) through `f`.
async fn forward<K>(
    mut s: futures_util::stream::BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>,
    tx: tokio::sync::mpsc::Sender<Result<Vec<EventBody>, String>>,
    f: impl Fn(&K) -> Vec<EventBody> + Send + 'static,
) where
    K: Send + 'static,
{
    while let Some(ev) = s.next().await {
        let out = match ev {
            Ok(watcher::Event::Apply(k) | watcher::Event::InitApply(k)) => Ok(f(&k)),
            Ok(_) => continue,
            Err(e) => Err(words(&e)),
        };
        if tx.send(out).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: a pod whose labels are a 40 kB string was quoted whole by serde
    /// in the source's error.
    #[test]
    fn an_undecodable_answer_is_quoted_in_part() {
        let body = format!(
            r#"{{"metadata":{{"name":"p","labels":"{}"}}}}"#,
            "[".repeat(40_000)
        );
        let err = serde_json::from_str::<Pod>(&body).expect_err("not a pod");
        let words = kube_words(&kube::Error::SerdeError(err));
        assert!(words.contains("[[["), "{words:.100}");
        assert!(words.ends_with('…'), "{words:.100}");
        assert!(
            words.chars().count() < 400,
            "{} chars",
            words.chars().count()
        );
    }

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/kubernetes/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn pods() -> Vec<Pod> {
        let list: k8s_openapi::List<Pod> =
            serde_json::from_str(&fixture("podlist-kube-system-v1.36.json")).expect("podlist");
        list.items
    }

    #[test]
    fn recorded_pods_become_instances_of_their_service() {
        let pods = pods();
        let coredns = pods
            .iter()
            .find(|p| p.name_any().starts_with("coredns"))
            .expect("coredns");
        assert_eq!(service_of(coredns), "kube-dns", "the k8s-app label");
        let (health, restarts, detail) = pod_health(coredns);
        assert_eq!(health, Health::Healthy, "{detail}");
        assert_eq!(restarts, 0);
        assert!(
            detail.starts_with("Running, ready, 0 restarts on "),
            "{detail}"
        );
    }

    #[test]
    fn a_restart_is_a_flap_and_a_relist_removes_what_is_gone() {
        let mut p = pods()
            .into_iter()
            .find(|p| p.name_any().starts_with("coredns"))
            .expect("coredns");
        let mut w = Pods::default();
        assert_eq!(w.on_event(watcher::Event::Init).len(), 0);
        assert_eq!(w.on_event(watcher::Event::InitApply(p.clone())).len(), 1);
        assert_eq!(w.on_event(watcher::Event::InitDone).len(), 0);
        if let Some(cs) = p
            .status
            .as_mut()
            .and_then(|s| s.container_statuses.as_mut())
        {
            cs[0].restart_count += 1;
        }
        let out = w.on_event(watcher::Event::Apply(p.clone()));
        assert!(
            matches!(
                &out[0],
                EventBody::InstanceHealth {
                    health: Health::Unhealthy,
                    ..
                }
            ),
            "down first"
        );
        assert!(
            matches!(
                &out[1],
                EventBody::InstanceHealth {
                    health: Health::Healthy,
                    ..
                }
            ),
            "then up"
        );
        // A re-list (after a 410) that no longer has it: removed.
        w.on_event(watcher::Event::Init);
        let out = w.on_event(watcher::Event::InitDone);
        assert!(
            matches!(&out[..], [EventBody::InstanceRemoved { instance }] if instance.as_str() == key(&p))
        );
    }

    #[test]
    fn crash_loop_and_not_ready_are_unhealthy() {
        let mut p = pods().into_iter().next().expect("pod");
        if let Some(s) = p.status.as_mut() {
            for c in s.conditions.iter_mut().flatten() {
                if c.type_ == "Ready" {
                    c.status = "False".into();
                }
            }
        }
        assert_eq!(pod_health(&p).0, Health::Unhealthy);
        let text = serde_json::to_string(&p).expect("json").replacen(
            "\"running\":{",
            "\"waiting\":{\"reason\":\"CrashLoopBackOff\"},\"x\":{",
            1,
        );
        let crash: Pod = serde_json::from_str(&text).expect("pod");
        let (h, _, d) = pod_health(&crash);
        assert_eq!(h, Health::Unhealthy);
        assert!(d.starts_with("CrashLoopBackOff"), "{d}");
    }

    #[test]
    fn recorded_deployments_give_replicas() {
        let list: k8s_openapi::List<Deployment> =
            serde_json::from_str(&fixture("deploymentlist-kube-system-v1.36.json")).expect("list");
        assert!(matches!(
            deployment_event(&list.items[0]),
            EventBody::Replicas {
                desired: 2,
                ready: 2,
                available: 2,
                ..
            }
        ));
    }
}
