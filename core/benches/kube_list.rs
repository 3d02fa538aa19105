//! The Kubernetes source on a large cluster (a bench binary; `cargo bench -p
//! switchboard-core --bench kube_list`).
//!
//! A FAKE API server on loopback (no kube-apiserver runs on our machines) serves a pod
//! list made from a pod recorded on a real v1.36 cluster: copies with their own names
//! spread over 50 services, in the pages the watcher asks for (`limit`, `continue`),
//! then quiet watches. The real source (kube's client, its watcher, the answer bounds)
//! runs in the real engine, and the bench reports the time from the engine's start to
//! a state holding every pod with the source up, and the process's peak RSS growth
//! over that time per pod.
//!
//! 100,000 pods with `--bench` (`KUBE_PODS` sets another size); 2,000 without it (as
//! `cargo test --all-targets` runs it), so the bench cannot rot unnoticed.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use switchboard_core::model::SourceStatus;
use switchboard_core::sources::kubernetes::KubernetesConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let pods: usize = std::env::var("KUBE_PODS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 100_000 } else { 2_000 });
    let t = Instant::now();
    let items = Arc::new(pod_items(pods));
    let json_mb = items.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    println!(
        "kubernetes source: {pods} pods ({json_mb:.0} MB of JSON) made in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let pages = Arc::new(AtomicUsize::new(0));
    let addr = serve(Arc::clone(&items), Arc::clone(&pages));
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
             clusters:\n- name: fake\n  cluster:\n    server: http://{addr}\n\
             users:\n- name: u\n  user:\n    token: not-a-real-token\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: u\n"
        ),
    )
    .expect("kubeconfig");
    let cfg = Config {
        environment: vec![Environment::new(
            "bench",
            vec![SourceConfig::Kubernetes(KubernetesConfig {
                name: "k8s".into(),
                context: None,
                namespaces: vec!["bench".into()],
                kubeconfig: Some(kubeconfig.display().to_string()),
                proxy: switchboard_core::sources::ProxySetting::default(),
                max_answer_bytes: None,
            })],
        )],
    };
    let rss_before = peak_rss_kb();
    let t = Instant::now();
    let engine = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine");
    let state = engine.wait_for(Duration::from_mins(5), |s| {
        s.instances.len() >= pods
            && s.sources
                .get("k8s")
                .is_some_and(|x| x.status == SourceStatus::Up)
    });
    let took = t.elapsed();
    let grown = peak_rss_kb().saturating_sub(rss_before);
    assert_eq!(state.instances.len(), pods, "every pod became an instance");
    println!(
        "  first complete state: {pods} instances in {:.2} s ({} pages asked for); peak RSS grew {} MB, {:.0} bytes per pod",
        took.as_secs_f64(),
        pages.load(Ordering::Relaxed),
        grown / 1024,
        grown as f64 * 1024.0 / pods as f64
    );
}

/// The pods, each as its JSON: copies of the first recorded pod with their own names
/// and 50 services.
fn pod_items(n: usize) -> Vec<String> {
    let list: serde_json::Value = serde_json::from_str(include_str!(
        "../tests/fixtures/kubernetes/podlist-kube-system-v1.36.json"
    ))
    .expect("recorded pod list");
    let pod = list["items"][0].clone();
    (0..n)
        .map(|i| {
            let mut p = pod.clone();
            p["metadata"]["namespace"] = "bench".into();
            p["metadata"]["name"] = format!("pod-{i:06}").into();
            p["metadata"]["uid"] = format!("uid-{i:06}").into();
            p["metadata"]["labels"] = serde_json::json!({ "app": format!("svc-{:02}", i % 50) });
            p.to_string()
        })
        .collect()
}

/// Serves the pods' list in pages, empty lists of everything else, quiet watches.
fn serve(items: Arc<Vec<String>>, pages: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(s) = conn else { continue };
            let (items, pages) = (Arc::clone(&items), Arc::clone(&pages));
            std::thread::spawn(move || answer(s, &items, &pages));
        }
    });
    addr
}

fn answer(mut s: TcpStream, items: &[String], pages: &AtomicUsize) {
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 64 * 1024 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let req = String::from_utf8_lossy(&req);
    let target = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
            .map(str::to_owned)
    };
    if param("watch").as_deref() == Some("true") {
        s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
        )
        .ok();
        std::thread::sleep(Duration::from_mins(10));
        return;
    }
    let body = if path == "/api/v1/namespaces/bench/pods" {
        pages.fetch_add(1, Ordering::Relaxed);
        let limit: usize = param("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(items.len());
        let from: usize = param("continue")
            .and_then(|c| c.strip_prefix('p')?.parse().ok())
            .unwrap_or(0);
        let to = (from + limit.max(1)).min(items.len());
        let next = if to < items.len() {
            format!(r#","continue":"p{to}""#)
        } else {
            String::new()
        };
        format!(
            r#"{{"kind":"PodList","apiVersion":"v1","metadata":{{"resourceVersion":"1"{next}}},"items":[{}]}}"#,
            items[from..to].join(",")
        )
    } else {
        let kind = if path.contains("deployments") {
            "DeploymentList"
        } else if path.contains("events") {
            "EventList"
        } else {
            "NodeList"
        };
        format!(r#"{{"kind":"{kind}","metadata":{{"resourceVersion":"1"}},"items":[]}}"#)
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok();
    s.write_all(body.as_bytes()).ok();
}

/// The process's peak resident set (`VmHWM`), in KB; 0 where `/proc` has no such line.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
