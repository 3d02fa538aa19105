//! The Kubernetes source end to end against a FAKE API server: no kube-apiserver can
//! run on our machines (see test-rig.md). A loopback HTTP server answers list and watch
//! requests with responses recorded from a real v1.36 cluster (`tests/fixtures/kubernetes`,
//! see `SOURCES.md`): the pod list, then a watch that reports a restarted pod and
//! ends with `410 Gone` ("too old resource version"), as an API server does when a
//! watch outlives its resource version. The source must re-list without losing state,
//! and drop the pod the second list no longer has. A second fake serves one Deployment
//! from a recorded response for the runbooks' `scale` step (merge patch, then ready).
//! These are recorded responses, not a real cluster; the kube crate's client,
//! kubeconfig reader and watcher are real.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchboard_core::model::{Health, SourceStatus};
use switchboard_core::sources::kubernetes::KubernetesConfig;
use switchboard_core::{SourceConfig, State};

const PODS: &str = include_str!("fixtures/kubernetes/podlist-kube-system-v1.36.json");
const DEPLOYMENTS: &str = include_str!("fixtures/kubernetes/deploymentlist-kube-system-v1.36.json");
/// One node, cordoned (the shape of a v1 Node, trimmed to what the source reads).
const NODES: &str = r#"{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"554"},"items":[{"metadata":{"name":"kind-worker","resourceVersion":"500"},"spec":{"unschedulable":true},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}"#;
const GONE: &str = r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 554 (600)","reason":"Expired","code":410}}"#;

fn empty(kind: &str, api: &str) -> String {
    format!(
        r#"{{"kind":"{kind}","apiVersion":"{api}","metadata":{{"resourceVersion":"554"}},"items":[]}}"#
    )
}

fn send(s: &mut TcpStream, status: u16, body: &str) {
    let resp = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(resp.as_bytes()).ok();
}

/// A watch stream: the lines, then either the end (`close`) or a long quiet hold.
fn stream(s: &mut TcpStream, lines: &[String], close: bool) {
    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
        .ok();
    for l in lines {
        s.write_all(format!("{l}\n").as_bytes()).ok();
        s.flush().ok();
    }
    if !close {
        std::thread::sleep(Duration::from_secs(20));
    }
}

/// The first pod of the recorded list, modified: its first container restarted once.
fn restarted_pod() -> String {
    let list: serde_json::Value = serde_json::from_str(PODS).expect("pods");
    let mut pod = list["items"]
        .as_array()
        .and_then(|i| {
            i.iter().find(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("coredns"))
            })
        })
        .cloned()
        .expect("a coredns pod");
    pod["metadata"]["resourceVersion"] = "560".into();
    pod["status"]["containerStatuses"][0]["restartCount"] = 1.into();
    serde_json::json!({"type": "MODIFIED", "object": pod}).to_string()
}

/// The recorded list without its last pod (deleted while the watch was down).
fn second_list() -> (String, String) {
    let mut list: serde_json::Value = serde_json::from_str(PODS).expect("pods");
    let items = list["items"].as_array_mut().expect("items");
    let gone = items.pop().expect("a pod");
    list["metadata"]["resourceVersion"] = "600".into();
    let name = format!(
        "{}/{}",
        gone["metadata"]["namespace"].as_str().unwrap_or_default(),
        gone["metadata"]["name"].as_str().unwrap_or_default()
    );
    (list.to_string(), name)
}

fn serve(unauthorized: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let pod_lists = Arc::new(AtomicUsize::new(0));
    let lists = Arc::clone(&pod_lists);
    std::thread::spawn(move || {
        let pod_watches = Arc::new(AtomicUsize::new(0));
        for stream_ in listener.incoming() {
            let Ok(mut s) = stream_ else { continue };
            let (lists, watches) = (Arc::clone(&lists), Arc::clone(&pod_watches));
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
                if unauthorized {
                    send(
                        &mut s,
                        401,
                        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#,
                    );
                    return;
                }
                let watch = path.contains("watch=true");
                if path.starts_with("/api/v1/namespaces/kube-system/pods") {
                    if watch {
                        if watches.fetch_add(1, Ordering::SeqCst) == 0 {
                            stream(&mut s, &[restarted_pod(), GONE.to_owned()], true);
                        } else {
                            stream(&mut s, &[], false);
                        }
                    } else if lists.fetch_add(1, Ordering::SeqCst) == 0 {
                        send(&mut s, 200, PODS);
                    } else {
                        send(&mut s, 200, &second_list().0);
                    }
                } else if path.starts_with("/apis/apps/v1/namespaces/kube-system/deployments") {
                    if watch {
                        stream(&mut s, &[], false);
                    } else {
                        send(&mut s, 200, DEPLOYMENTS);
                    }
                } else if path.starts_with("/api/v1/namespaces/kube-system/events") {
                    if watch {
                        stream(&mut s, &[], false);
                    } else {
                        send(&mut s, 200, &empty("EventList", "v1"));
                    }
                } else if path.starts_with("/api/v1/nodes") {
                    if watch {
                        stream(&mut s, &[], false);
                    } else {
                        send(&mut s, 200, NODES);
                    }
                } else {
                    send(
                        &mut s,
                        404,
                        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#,
                    );
                }
            });
        }
    });
    (addr, pod_lists)
}

fn kubeconfig(dir: &std::path::Path, addr: &str) -> String {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: other\n\
             clusters:\n- name: fake\n  cluster:\n    server: http://{addr}\n\
             - name: elsewhere\n  cluster:\n    server: http://127.0.0.1:1\n\
             users:\n- name: u\n  user:\n    token: not-a-real-token\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: u\n\
             - name: other\n  context:\n    cluster: elsewhere\n    user: u\n"
        ),
    )
    .expect("kubeconfig");
    path.display().to_string()
}

fn engine(path: String) -> switchboard_core::EngineHandle {
    common::engine_with(SourceConfig::Kubernetes(KubernetesConfig {
        name: "k8s".into(),
        context: Some("fake".into()),
        namespaces: vec!["kube-system".into()],
        kubeconfig: Some(path),
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    }))
}

fn coredns(s: &State) -> Vec<(String, Health, String)> {
    s.instances
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("kube-system/coredns"))
        .map(|(k, i)| {
            (
                k.to_string(),
                i.health,
                i.detail.as_deref().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn pods_are_listed_watched_and_relisted_after_410() {
    let (addr, lists) = serve(false);
    let dir = tempfile::tempdir().expect("dir");
    let e = engine(kubeconfig(dir.path(), &addr));
    let (_, gone) = second_list();
    let s = e.wait_for(Duration::from_secs(15), |s| {
        lists.load(Ordering::SeqCst) >= 2 && !s.instances.contains_key(gone.as_str())
    });
    assert!(
        lists.load(Ordering::SeqCst) >= 2,
        "the 410 made the watcher list again"
    );
    assert!(
        !s.instances.contains_key(gone.as_str()),
        "{gone} left the second list: removed"
    );
    let pods = coredns(&s);
    assert_eq!(pods.len(), 2, "state kept across the re-list: {pods:?}");
    assert!(pods.iter().all(|p| p.1 == Health::Healthy), "{pods:?}");
    assert_eq!(
        s.services.get("kube-dns").map(|x| x.counts.total()),
        Some(2),
        "pods are instances of their service"
    );
    assert_eq!(
        s.services.get("coredns").and_then(|x| x.replicas),
        Some((2, 2, 2)),
        "the deployment's replicas"
    );
    // The restart came through as a down-then-up.
    let restarted = s
        .log
        .iter()
        .any(|l| l.subject.starts_with("kube-system/coredns") && l.message.contains("unhealthy"));
    assert!(restarted, "the restart shows in the log as a flap");
    assert_eq!(s.sources["k8s"].status, SourceStatus::Up);
    assert_eq!(
        s.nodes.get("kind-worker"),
        Some(&(true, true)),
        "ready and cordoned"
    );
    assert!(
        s.log
            .iter()
            .any(|l| l.subject == "kind-worker" && l.message == "node cordoned")
    );
}

#[test]
fn a_401_is_a_clear_error() {
    let (addr, _) = serve(true);
    let dir = tempfile::tempdir().expect("dir");
    let e = engine(kubeconfig(dir.path(), &addr));
    let s = e.wait_for(Duration::from_secs(15), |s| {
        s.sources
            .get("k8s")
            .is_some_and(|x| x.status == SourceStatus::Down)
    });
    let why = s.sources["k8s"].detail.clone().unwrap_or_default();
    assert!(why.contains("401"), "{why}");
    assert!(
        !why.contains("not-a-real-token"),
        "the token is never shown: {why}"
    );
}

/// A FAKE API server for one Deployment, starting from a response recorded from a real
/// kube-apiserver (`deployment-nginx-recorded.json`, 3/3 replicas): it applies a merge
/// patch of `spec.replicas` and, as a controller would, reports the new count ready
/// after `settle` GETs. Unknown deployments get the recorded 404 Status.
fn serve_deployment(settle: usize) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    const RECORDED: &str = include_str!("fixtures/kubernetes/deployment-nginx-recorded.json");
    const NOT_FOUND: &str = include_str!("fixtures/kubernetes/status-404-notfound.json");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let state = Arc::new(std::sync::Mutex::new((
        serde_json::from_str::<serde_json::Value>(RECORDED).expect("recorded deployment"),
        0usize,
    )));
    std::thread::spawn(move || {
        for stream_ in listener.incoming() {
            let Ok(mut s) = stream_ else { continue };
            let (log, state) = (Arc::clone(&log), Arc::clone(&state));
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let mut words = req.split_whitespace();
                let (method, path) = (
                    words.next().unwrap_or_default().to_owned(),
                    words.next().unwrap_or("/").to_owned(),
                );
                let body = req.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
                log.lock()
                    .expect("log")
                    .push(format!("{method} {path} {body}"));
                if !path.starts_with("/apis/apps/v1/namespaces/edit-test/deployments/nginx") {
                    send(&mut s, 404, NOT_FOUND);
                    return;
                }
                let mut st = state.lock().expect("state");
                if method == "PATCH" {
                    let asked: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    if let Some(r) = asked["spec"]["replicas"].as_u64() {
                        st.0["spec"]["replicas"] = r.into();
                        st.1 = 0;
                    }
                } else {
                    st.1 += 1;
                    if st.1 >= settle {
                        let want = st.0["spec"]["replicas"].clone();
                        st.0["status"]["replicas"] = want.clone();
                        st.0["status"]["readyReplicas"] = want;
                    }
                }
                let text = st.0.to_string();
                drop(st);
                send(&mut s, 200, &text);
            });
        }
    });
    (addr, seen)
}

/// The runbooks' `scale` step against the fake: a merge patch of `spec.replicas`,
/// then waiting until the deployment reports that many replicas, all ready; a missing
/// deployment is the API server's 404 in words.
#[test]
fn scale_patches_replicas_and_waits_until_they_are_ready() {
    use switchboard_core::sources::kubernetes::scale;
    let (addr, seen) = serve_deployment(3);
    let dir = tempfile::tempdir().expect("dir");
    let cfg = KubernetesConfig {
        name: "k8s".into(),
        context: Some("fake".into()),
        namespaces: Vec::new(),
        kubeconfig: Some(kubeconfig(dir.path(), &addr)),
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for n in [0, 2, 3] {
        let said = rt
            .block_on(scale(
                &cfg,
                "edit-test",
                "nginx",
                n,
                Duration::from_secs(20),
            ))
            .expect("scaled");
        assert!(
            said.starts_with(&format!(
                "edit-test/nginx at {n}: {n} replica(s), {n} ready"
            )),
            "{said}"
        );
    }
    let log = seen.lock().expect("log").clone();
    let patches: Vec<&String> = log.iter().filter(|l| l.starts_with("PATCH")).collect();
    assert_eq!(patches.len(), 3, "{log:?}");
    assert!(
        patches[0].contains(r#"{"spec":{"replicas":0}}"#),
        "a merge patch of spec.replicas: {}",
        patches[0]
    );
    let err = rt
        .block_on(scale(
            &cfg,
            "edit-test",
            "missing",
            1,
            Duration::from_secs(5),
        ))
        .expect_err("no such deployment");
    assert!(err.contains("NotFound (404)"), "{err}");
}

/// Two nodes in the shape of a v1 Node, trimmed to what is read (no recorded Node with
/// real values is in the fixtures: the k8s.io/api ones hold placeholders).
fn two_nodes() -> serde_json::Value {
    let node = |name: &str| {
        serde_json::json!({"metadata": {"name": name, "resourceVersion": "500"},
            "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    };
    serde_json::json!({"kind": "NodeList", "apiVersion": "v1",
        "metadata": {"resourceVersion": "554"}, "items": [node("node-a"), node("node-b")]})
}

/// A FAKE API server for nodes and the recorded kube-system pods: PATCH of a node's
/// `spec.unschedulable` is applied; DELETE of a pod answers the pod with a
/// `deletionTimestamp` and later GETs answer the recorded 404.
fn serve_cluster() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    const NOT_FOUND: &str = include_str!("fixtures/kubernetes/status-404-notfound.json");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let pods: serde_json::Value = serde_json::from_str(PODS).expect("pods");
    let state = Arc::new(std::sync::Mutex::new((two_nodes(), pods)));
    std::thread::spawn(move || {
        for stream_ in listener.incoming() {
            let Ok(mut s) = stream_ else { continue };
            let (log, state) = (Arc::clone(&log), Arc::clone(&state));
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let mut words = req.split_whitespace();
                let method = words.next().unwrap_or_default().to_owned();
                let path = words
                    .next()
                    .unwrap_or("/")
                    .split('?')
                    .next()
                    .unwrap_or("/")
                    .to_owned();
                let body = req.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
                log.lock()
                    .expect("log")
                    .push(format!("{method} {path} {body}"));
                let mut st = state.lock().expect("state");
                let answer = if path == "/api/v1/nodes" {
                    Some(st.0.to_string())
                } else if let Some(name) = path.strip_prefix("/api/v1/nodes/") {
                    let items = st.0["items"].as_array_mut().expect("items");
                    items
                        .iter_mut()
                        .find(|n| n["metadata"]["name"] == name)
                        .map(|node| {
                            if method == "PATCH" {
                                let asked: serde_json::Value =
                                    serde_json::from_str(&body).unwrap_or_default();
                                node["spec"]["unschedulable"] =
                                    asked["spec"]["unschedulable"].clone();
                            }
                            node.to_string()
                        })
                } else if path == "/api/v1/namespaces/kube-system/pods" {
                    Some(st.1.to_string())
                } else if let Some(name) = path.strip_prefix("/api/v1/namespaces/kube-system/pods/")
                {
                    let items = st.1["items"].as_array_mut().expect("items");
                    let at = items.iter().position(|p| p["metadata"]["name"] == name);
                    match (method.as_str(), at) {
                        ("DELETE", Some(i)) => {
                            let mut pod = items.remove(i);
                            pod["metadata"]["deletionTimestamp"] = "2026-11-23T12:00:00Z".into();
                            Some(pod.to_string())
                        }
                        (_, Some(i)) => Some(items[i].to_string()),
                        _ => None,
                    }
                } else {
                    None
                };
                drop(st);
                match answer {
                    Some(a) => send(&mut s, 200, &a),
                    None => send(&mut s, 404, NOT_FOUND),
                }
            });
        }
    });
    (addr, seen)
}

/// Cordon, uncordon and delete-pod through the workflow engine against the fake: the
/// last schedulable node and the only Ready pod of a service are refused; the rest are
/// changed, read back and journaled.
#[test]
fn cordon_and_delete_pod_workflows_with_their_last_healthy_guards() {
    use switchboard_core::workflow::{self, Journal, Kind};
    let (addr, seen) = serve_cluster();
    let dir = tempfile::tempdir().expect("dir");
    let env = switchboard_core::Environment {
        relay: None,
        relay_tls: None,
        relay_auth: None,
        fallback_direct: false,
        serve: None,
        second_approver: false,
        experiment: Vec::new(),
        objectives: switchboard_core::store::Objectives::default(),
        look: switchboard_core::Look::default(),
        name: "fake".into(),
        read_only: false,
        stale_after_millis: 5000,
        source: vec![SourceConfig::Kubernetes(KubernetesConfig {
            name: "k8s".into(),
            context: Some("fake".into()),
            namespaces: vec!["kube-system".into()],
            kubeconfig: Some(kubeconfig(dir.path(), &addr)),
            proxy: switchboard_core::sources::ProxySetting::default(),
            max_answer_bytes: None,
        })],
        fence: Vec::new(),
        runbook: Vec::new(),
    };
    let journal = Journal::open(&dir.path().join("journal.sqlite")).expect("journal");
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let go = |kind: Kind, target: &str, confirm: &str| {
        let plan = rt
            .block_on(workflow::plan(&ctx, kind, target))
            .expect("plan");
        (
            plan.clone(),
            rt.block_on(workflow::run(&ctx, &plan, confirm, "contract-test")),
        )
    };

    // What the palette and the topology's context menu offer: each node, each pod.
    let (offers, errors) = rt.block_on(switchboard_core::workflow::desk::read_offers(
        &env,
        Duration::from_secs(2),
    ));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        offers
            .iter()
            .any(|o| o.kind == Kind::Cordon && o.target == "k8s/node-a")
    );
    assert!(offers.iter().any(|o| o.kind == Kind::DeletePod
        && o.instance.as_deref() == Some("kube-system/coredns-589f44dc88-4fpns")));

    let (_, r) = go(Kind::Cordon, "k8s/node-a", "node-a");
    assert_eq!(r.expect("cordon").outcome, "done");
    let (plan, r) = go(Kind::Cordon, "k8s/node-b", "node-b");
    assert!(
        plan.refusals()
            .iter()
            .any(|x| x == "last healthy: 0 other Ready, schedulable node(s)"),
        "{:?}",
        plan.refusals()
    );
    assert!(r.is_err(), "refused");
    let (_, r) = go(Kind::Uncordon, "k8s/node-a", "node-a");
    assert_eq!(r.expect("uncordon").outcome, "done");

    let (plan, r) = go(
        Kind::DeletePod,
        "k8s/kube-system/kube-proxy-hsdvx",
        "kube-proxy-hsdvx",
    );
    assert!(
        plan.refusals()
            .iter()
            .any(|x| x.starts_with("last healthy: 0 other Ready pod(s) of kube-proxy")),
        "{:?}",
        plan.refusals()
    );
    assert!(r.is_err());
    let (_, r) = go(
        Kind::DeletePod,
        "k8s/kube-system/coredns-589f44dc88-4fpns",
        "coredns-589f44dc88-4fpns",
    );
    let r = r.expect("delete");
    assert_eq!(r.outcome, "done", "{:?}", r.lines);
    assert!(
        r.lines.iter().any(|l| l.contains("is gone")),
        "{:?}",
        r.lines
    );

    let log = seen.lock().expect("log").clone();
    let writes: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("PATCH") || l.starts_with("DELETE"))
        .collect();
    assert_eq!(writes.len(), 3, "only the allowed moves wrote: {writes:?}");
    assert!(
        writes[0].contains(r#"{"spec":{"unschedulable":true}}"#),
        "{}",
        writes[0]
    );
    assert!(
        writes[1].contains(r#"{"spec":{"unschedulable":false}}"#),
        "{}",
        writes[1]
    );
    assert!(
        writes[2]
            .starts_with("DELETE /api/v1/namespaces/kube-system/pods/coredns-589f44dc88-4fpns"),
        "{}",
        writes[2]
    );
}
