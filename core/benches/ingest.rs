//! Reducer benchmarks (a bench binary; `cargo bench -p switchboard-core --bench ingest`).
//!
//! - ingest: events folded per second by `State::apply`, on the drill's own event mix
//!   (10,000 instances: inventory, then ten simulated minutes with every scripted fault);
//! - snapshot: cost of the `Arc<State>` clone the engine publishes after each batch;
//! - memory: live heap bytes of the state per tracked instance (a counting allocator);
//! - kubernetes: the initial list of 10,000 pods (made from a recorded v1.36 pod)
//!   parsed, turned into events and applied, and what each pod costs in the state;
//! - with `--bench`, the same at 100,000: the drill's state per instance, and 100,000
//!   pods in 200 pages of 500 as the watcher reads them.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it makes one quick pass,
//! so the benchmark cannot rot unnoticed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use switchboard_core::sources::drill::simulate;
use switchboard_core::{Event, State};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PARSE_NANOS: AtomicIsize = AtomicIsize::new(0);

// The one unsafe impl in the workspace: it delegates to the system allocator and counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn drill_events(instances: usize, secs: i64) -> Vec<Event> {
    simulate(7, instances, secs)
}

fn live_bytes_of(events: &[Event]) -> isize {
    let before = LIVE.load(Ordering::Relaxed);
    let mut state = State::default();
    state.apply_all(events);
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(state);
    bytes
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (secs, rounds) = if full { (600, 5) } else { (30, 1) };

    let events = drill_events(10_000, secs);
    let mut best = f64::MAX;
    let mut state = State::default();
    for _ in 0..rounds {
        state = State::default();
        let t = Instant::now();
        state.apply_all(&events);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let rate = events.len() as f64 / best;
    println!(
        "ingest: {} events (10,000-instance drill, {secs} s simulated) in {:.1} ms: {:.2} M events/s",
        events.len(),
        best * 1e3,
        rate / 1e6
    );

    let clone_start = Instant::now();
    let clones = if full { 200 } else { 5 };
    for _ in 0..clones {
        std::hint::black_box(std::sync::Arc::new(state.clone()));
    }
    println!(
        "snapshot: Arc<State> clone at 10,000 instances: {:.1} µs",
        clone_start.elapsed().as_secs_f64() * 1e6 / f64::from(clones)
    );

    // Memory: the state of the fleet after inventory and a minute of drill, at two sizes;
    // the difference per instance is what one more tracked instance costs.
    let small = drill_events(1_000, 60);
    let large = drill_events(10_000, 60);
    let (bytes_small, bytes_large) = (live_bytes_of(&small), live_bytes_of(&large));
    let instances = |ev: &[Event]| {
        let mut s = State::default();
        s.apply_all(ev);
        s.instances.len() as isize
    };
    let (na, nb) = (instances(&small), instances(&large));
    println!(
        "memory: {:.0} bytes per tracked instance ({} B at {na} instances, {} B at {nb})",
        (bytes_large - bytes_small) as f64 / (nb - na) as f64,
        bytes_small,
        bytes_large
    );
    assert!(rate > 0.0 && nb > na);

    // The quick pass (cargo test, a debug build) keeps the list small.
    kubernetes(if full { 3 } else { 1 }, if full { 10_000 } else { 1_000 });
    if full {
        hundred_thousand();
    }
}

/// A production estate's size: the drill at 100,000 instances (state per instance, the
/// time to fold its inventory) and a list of 100,000 pods in pages of 500, as the
/// Kubernetes watcher reads it.
fn hundred_thousand() {
    let events = drill_events(100_000, 60);
    let t = Instant::now();
    let mut state = State::default();
    state.apply_all(&events);
    let folded = t.elapsed();
    let n = state.instances.len() as isize;
    drop(state);
    let small = drill_events(10_000, 60);
    let (bytes_small, bytes_large) = (live_bytes_of(&small), live_bytes_of(&events));
    let n_small = {
        let mut s = State::default();
        s.apply_all(&small);
        s.instances.len() as isize
    };
    println!(
        "100,000: the drill's {} events (inventory and a minute) folded in {:.0} ms; {:.0} bytes per instance ({} B at {n} instances, {} B at {n_small})",
        events.len(),
        folded.as_secs_f64() * 1e3,
        (bytes_large - bytes_small) as f64 / (n - n_small) as f64,
        bytes_large,
        bytes_small
    );
    drop(events);
    let pages: Vec<String> = (0..200).map(|p| pod_page(p * 500, 500)).collect();
    let before = LIVE.load(Ordering::Relaxed);
    PARSE_NANOS.store(0, Ordering::Relaxed);
    let t = Instant::now();
    let state = apply_pages(&pages);
    let took = t.elapsed();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "100,000 pods: 200 pages of 500 ({:.0} MB of JSON) parsed and applied in {:.0} ms ({:.0} ms parsing); state {:.0} bytes per pod",
        pages.iter().map(String::len).sum::<usize>() as f64 / 1e6,
        took.as_secs_f64() * 1e3,
        PARSE_NANOS.load(Ordering::Relaxed) as f64 / 1e6,
        bytes as f64 / state.instances.len() as f64
    );
    assert_eq!(state.instances.len(), 100_000);
}

/// A `PodList` of `n` pods, copies of the first recorded pod with their own names and
/// 50 services.
fn pod_list(n: usize) -> String {
    pod_page(0, n)
}

/// Pods `first..first + n` of such a list, as one page.
fn pod_page(first: usize, n: usize) -> String {
    let list: serde_json::Value = serde_json::from_str(include_str!(
        "../tests/fixtures/kubernetes/podlist-kube-system-v1.36.json"
    ))
    .expect("recorded pod list");
    let pod = list["items"][0].clone();
    let items: Vec<serde_json::Value> = (first..first + n)
        .map(|i| {
            let mut p = pod.clone();
            p["metadata"]["name"] = format!("pod-{i:05}").into();
            p["metadata"]["uid"] = format!("uid-{i:05}").into();
            p["metadata"]["labels"] = serde_json::json!({ "app": format!("svc-{:02}", i % 50) });
            p
        })
        .collect();
    serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items})
        .to_string()
}

/// Parses a pod list as the watcher would and folds it into a state.
fn apply_pods(text: &str) -> State {
    apply_pages(std::slice::from_ref(&text.to_owned()))
}

/// Parses the pages of a pod list as the watcher would and folds them into a state.
fn apply_pages(pages: &[String]) -> State {
    use k8s_openapi::api::core::v1::Pod;
    use switchboard_core::sources::kubernetes::Pods;
    let mut pods = Pods::default();
    let mut state = State::default();
    let source = switchboard_core::model::SourceId::new("k8s");
    let mut apply = |bodies: Vec<switchboard_core::EventBody>| {
        for b in bodies {
            state.apply(&Event::new(
                switchboard_core::Timestamp(1),
                source.clone(),
                b,
            ));
        }
    };
    apply(pods.on_event(kube::runtime::watcher::Event::Init));
    for text in pages {
        let t = Instant::now();
        let list: k8s_openapi::List<Pod> = serde_json::from_str(text).expect("pod list");
        PARSE_NANOS.fetch_add(t.elapsed().as_nanos() as isize, Ordering::Relaxed);
        for p in list.items {
            apply(pods.on_event(kube::runtime::watcher::Event::InitApply(p)));
        }
    }
    apply(pods.on_event(kube::runtime::watcher::Event::InitDone));
    state
}

fn kubernetes(rounds: u32, pods: usize) {
    let (small, large) = (pod_list(pods / 10), pod_list(pods));
    let mut best = (f64::MAX, 0.0);
    for _ in 0..rounds {
        PARSE_NANOS.store(0, Ordering::Relaxed);
        let t = Instant::now();
        std::hint::black_box(apply_pods(&large));
        let total = t.elapsed().as_secs_f64();
        if total < best.0 {
            best = (total, PARSE_NANOS.load(Ordering::Relaxed) as f64 / 1e9);
        }
    }
    let heap = |text: &str| {
        let before = LIVE.load(Ordering::Relaxed);
        let state = apply_pods(text);
        let bytes = LIVE.load(Ordering::Relaxed) - before;
        let n = state.instances.len() as isize;
        drop(state);
        (bytes, n)
    };
    let ((bs, ns), (bl, nl)) = (heap(&small), heap(&large));
    println!(
        "kubernetes: initial list of {nl} pods ({:.1} MB of JSON) parsed and applied in {:.0} ms ({:.0} ms parsing); {:.0} bytes per pod in the state",
        large.len() as f64 / 1e6,
        best.0 * 1e3,
        best.1 * 1e3,
        (bl - bs) as f64 / (nl - ns) as f64
    );
    assert_eq!(nl, pods as isize);
}
