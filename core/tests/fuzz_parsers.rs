//! Fuzzing every parser the console feeds with what a network, a disk or an operator
//! hands it: each target is run on its recorded upstream samples, then on mutations of
//! them (byte flips, truncation, splicing, huge numbers, deep nesting) and on inputs
//! made from scratch. Each must return (never panic), allocate within a cap that grows
//! only with the input, and refuse garbage in words.
//!
//! `cargo test` runs the short pass (about 10 s a target); `tests/fuzz.sh` runs each
//! target for a million inputs. The engine is in `fuzz/mod.rs`.

mod fuzz;
#[path = "common/session_v2.rs"]
mod session_v2;

use std::path::Path;

use fuzz::{Target, Verdict, databases, dns_server, fuzz, session_file, text, verdict};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Node, Pod};
use kube::runtime::watcher;
use switchboard_core::Config;
use switchboard_core::model::{ClusterId, ServiceId};
use switchboard_core::sources::traefik::infer;
use switchboard_core::sources::{
    consul, envoy, exposition, haproxy, kubernetes, patroni, prometheus, traefik,
};
use switchboard_core::workflow::runbook;

#[global_allocator]
static METER: fuzz::Meter = fuzz::Meter;

/// Several parsers' verdicts on one input as one: accepted when any accepted, else the
/// refusal with the fewest words (the one most likely to say too little).
fn any(verdicts: Vec<Verdict>) -> Verdict {
    let mut worst: Option<String> = None;
    for v in verdicts {
        match v {
            Verdict::Accepted => return Verdict::Accepted,
            Verdict::Refused(w) => {
                if worst.as_ref().is_none_or(|x| w.len() < x.len()) {
                    worst = Some(w);
                }
            }
        }
    }
    worst.map_or(Verdict::Accepted, Verdict::Refused)
}

fn none() -> Vec<Vec<u8>> {
    Vec::new()
}

fn run(t: &Target) {
    let f = fuzz(t);
    assert!(f.inputs > 0, "{}: no input was tried", t.name);
}

fn haproxy_csv(input: &[u8]) -> Verdict {
    let r = haproxy::parse_stat_csv(&text(input));
    if let Ok(rows) = &r {
        haproxy::rows_to_events(&ServiceId::from("edge"), rows);
        for row in rows {
            haproxy::server_health(&row.status);
        }
    }
    verdict(r)
}

#[test]
fn fuzz_haproxy_stat_csv() {
    run(&Target {
        name: "haproxy_stat_csv",
        fixtures: &["haproxy"],
        extra_seeds: none,
        tokens: &[
            "# pxname,svname,",
            ",",
            "\n",
            "UP",
            "DOWN",
            "MAINT",
            "NOLB",
            "DRAIN",
            "UP 1/3",
            "BACKEND",
            "FRONTEND",
            "no check",
            "L4CON",
            "show stat",
            "1\n",
            "-1",
        ],
        run: haproxy_csv,
    });
}

fn envoy_admin(input: &[u8]) -> Verdict {
    let t = text(input);
    let clusters = envoy::parse_clusters(&t);
    let stats = envoy::parse_stats(&t);
    if let (Ok(c), Ok(s)) = (&clusters, &stats) {
        envoy::to_events(&ServiceId::from("mesh"), c, s);
    }
    // The same text as a config dump: aggregates over the clusters read above, or over
    // none.
    let mut configs = envoy::priority::ClusterConfigs::default();
    let config = configs.read(&t);
    if let Ok(c) = &clusters {
        let s = std::collections::BTreeMap::default();
        envoy::to_events(&ServiceId::from("mesh"), c, &s);
        for cl in c {
            envoy::breaker_of(cl, &s);
        }
        envoy::priority::events(c, &configs);
    }
    envoy::priority::events(&[], &configs);
    any(vec![verdict(clusters), verdict(stats), verdict(config)])
}

#[test]
fn fuzz_envoy_clusters_and_stats() {
    run(&Target {
        name: "envoy_admin",
        fixtures: &["envoy"],
        extra_seeds: || {
            vec![
                br#"{"stats":[{"name":"cluster.web.circuit_breakers.default.rq_open","value":1},{"name":"cluster.web.upstream_rq_pending_overflow","value":3},{"name":"x","value":"text"}]}"#.to_vec(),
            ]
        },
        tokens: &[
            "\"cluster_statuses\"",
            "\"host_statuses\"",
            "\"circuit_breakers\"",
            "\"thresholds\"",
            "\"priority\"",
            "\"DEFAULT\"",
            "\"max_connections\"",
            "\"health_status\"",
            "\"eds_health_status\"",
            "\"HEALTHY\"",
            "\"UNHEALTHY\"",
            "\"stats\"",
            "\"name\"",
            "\"value\"",
            "\"success_rate\"",
            "\"configs\"",
            "\"cluster\"",
            "\"cluster_type\"",
            "\"envoy.clusters.aggregate\"",
            "\"overprovisioning_factor\"",
            "null",
            "true",
        ],
        run: envoy_admin,
    });
}

fn traefik_api(input: &[u8]) -> Verdict {
    let t = text(input);
    let raw = traefik::parse_rawdata(&t);
    if let Ok(raw) = &raw {
        let gw = ServiceId::from("ingress");
        let breakers = traefik::router_breakers(&gw, raw);
        traefik::to_events(&gw, raw, &breakers);
    }
    verdict(raw)
}

#[test]
fn fuzz_traefik_rawdata() {
    run(&Target {
        name: "traefik_rawdata",
        fixtures: &["traefik"],
        extra_seeds: none,
        tokens: &[
            "\"routers\"",
            "\"services\"",
            "\"middlewares\"",
            "\"serverStatus\"",
            "\"circuitBreaker\"",
            "\"expression\"",
            "\"NetworkErrorRatio() > 0.5\"",
            "\"ResponseCodeRatio(500, 600, 0, 600) > 0.25\"",
            "\"UP\"",
            "\"DOWN\"",
            "\"loadBalancer\"",
            "\"servers\"",
            "\"url\"",
            "\"status\"",
            "\"enabled\"",
            "\"weighted\"",
            "\"failover\"",
            "\"mirroring\"",
            "\"fallback\"",
            "\"mirrors\"",
            "\"healthCheck\"",
            "\"responseCode\"",
            "@file",
            "\"checkPeriod\"",
            "\"100ms\"",
        ],
        run: traefik_api,
    });
}

fn traefik_metrics(input: &[u8]) -> Verdict {
    let t = text(input);
    let codes = verdict(infer::read_codes(&t));
    if let Ok(c) = infer::read_counters(&t) {
        c.seen_by("web@file", &["websvc@file".to_owned()], 503);
        infer::Deltas::default().next(c);
    }
    // The same bytes as a circuit breaker's expression and a Go duration: both are
    // read from the dynamic configuration Traefik reports.
    let expr = verdict(infer::parse_expression(&t));
    infer::go_duration_millis(&t);
    any(vec![codes, expr])
}

#[test]
fn fuzz_traefik_metrics_and_expressions() {
    run(&Target {
        name: "traefik_metrics",
        fixtures: &["traefik"],
        extra_seeds: || {
            vec![
                b"NetworkErrorRatio() > 0.30 || ResponseCodeRatio(500, 600, 0, 600) > 0.25"
                    .to_vec(),
                b"LatencyAtQuantileMS(50.0) > 100 && NetworkErrorRatio() > 0.5".to_vec(),
                b"1h2m3.5s".to_vec(),
            ]
        },
        tokens: &[
            "traefik_service_requests_total",
            "{code=\"503\",method=\"GET\",protocol=\"http\",service=\"web@file\"}",
            " 1e3",
            " +Inf",
            " NaN",
            "NetworkErrorRatio()",
            "ResponseCodeRatio(",
            ")",
            " > ",
            " && ",
            " || ",
            "LatencyAtQuantileMS(",
            "# TYPE ",
            "# HELP ",
            "ms",
            "h",
            "s",
        ],
        run: traefik_metrics,
    });
}

fn consul_api(input: &[u8]) -> Verdict {
    let t = text(input);
    let leader = consul::parse_leader(&t);
    let raft = consul::parse_raft(&t);
    let autopilot = consul::parse_autopilot(&t);
    let checks = consul::parse_checks(&t);
    if let Ok(r) = &raft {
        let l = leader.as_ref().ok().and_then(|l| l.as_deref());
        consul::raft_events(&ClusterId::from("dc1"), r, autopilot.as_ref().ok(), l);
    }
    if let Ok(c) = &checks {
        consul::check_events(c);
    }
    any(vec![
        verdict(leader),
        verdict(raft),
        verdict(autopilot),
        verdict(checks),
    ])
}

#[test]
fn fuzz_consul_json() {
    run(&Target {
        name: "consul_json",
        fixtures: &["consul"],
        extra_seeds: none,
        tokens: &[
            "\"Servers\"",
            "\"Leader\"",
            "\"Voter\"",
            "\"Healthy\"",
            "\"FailureTolerance\"",
            "\"Node\"",
            "\"ID\"",
            "\"Address\"",
            "\"CheckID\"",
            "\"Status\"",
            "\"passing\"",
            "\"critical\"",
            "\"warning\"",
            "\"ServiceName\"",
            "\"127.0.0.1:8300\"",
            "\"\"",
        ],
        run: consul_api,
    });
}

fn patroni_api(input: &[u8]) -> Verdict {
    let t = text(input);
    let member = patroni::parse_member(&t);
    let cluster = patroni::parse_cluster(&t);
    let history = patroni::parse_history(&t);
    let own = vec![
        member
            .as_ref()
            .map(Clone::clone)
            .map_err(ToString::to_string),
    ];
    patroni::to_events(
        &ClusterId::from("orders-db"),
        &["http://10.0.0.5:8008".to_owned()],
        &[],
        &own,
        cluster.as_ref().ok(),
        history.as_deref().unwrap_or(&[]),
    );
    any(vec![verdict(member), verdict(cluster), verdict(history)])
}

#[test]
fn fuzz_patroni_json() {
    run(&Target {
        name: "patroni_json",
        fixtures: &["patroni"],
        extra_seeds: none,
        tokens: &[
            "\"members\"",
            "\"role\"",
            "\"leader\"",
            "\"replica\"",
            "\"master\"",
            "\"primary\"",
            "\"sync_standby\"",
            "\"state\"",
            "\"running\"",
            "\"streaming\"",
            "\"timeline\"",
            "\"lag\"",
            "\"unknown\"",
            "\"pause\"",
            "\"xlog\"",
            "\"postmaster_start_time\"",
            "\"host\"",
            "\"port\"",
            "\"patroni\"",
            "\"scope\"",
            "[1, 25165824, \"no recovery target specified\"]",
        ],
        run: patroni_api,
    });
}

fn prometheus_api(input: &[u8]) -> Verdict {
    let t = text(input);
    let instant = prometheus::parse_instant(&t);
    if let Ok((Some(ratio), _)) = &instant {
        prometheus::ratio_to_calls(*ratio);
    }
    let range = prometheus::parse_range(&t);
    any(vec![verdict(instant), verdict(range)])
}

#[test]
fn fuzz_prometheus_query_json() {
    run(&Target {
        name: "prometheus_query",
        fixtures: &["prometheus"],
        extra_seeds: || {
            vec![
                br#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#
                    .to_vec(),
            ]
        },
        tokens: &[
            "\"status\"",
            "\"success\"",
            "\"error\"",
            "\"data\"",
            "\"resultType\"",
            "\"vector\"",
            "\"matrix\"",
            "\"scalar\"",
            "\"result\"",
            "\"metric\"",
            "\"value\"",
            "\"values\"",
            "[1700000000.5,\"0.25\"]",
            "\"NaN\"",
            "\"+Inf\"",
            "\"1e309\"",
        ],
        run: prometheus_api,
    });
}

fn exposition_text(input: &[u8]) -> Verdict {
    let t = text(input);
    any(vec![
        verdict(exposition::samples(&t, infer::METRIC)),
        verdict(exposition::samples(&t, "patroni_postgres_running")),
    ])
}

#[test]
fn fuzz_exposition_text() {
    run(&Target {
        name: "exposition_text",
        fixtures: &["traefik"],
        extra_seeds: || {
            vec![
                b"# HELP patroni_postgres_running Value is 1 if Postgres is running.\n# TYPE patroni_postgres_running gauge\npatroni_postgres_running{scope=\"batman\",name=\"pg1\"} 1\n".to_vec(),
                b"traefik_service_requests_total{code=\"200\",service=\"a\\\"b\\\\c\\nd\"} 7 1700000000000\n".to_vec(),
            ]
        },
        tokens: &[
            "traefik_service_requests_total",
            "patroni_postgres_running",
            "{",
            "}",
            "=\"",
            "\",",
            "\\\"",
            "\\\\",
            " 1",
            " -Inf",
            " NaN",
            " 1.5e308",
            " 1700000000000",
            "# EOF",
        ],
        run: exposition_text,
    });
}

/// A decoding error as the Kubernetes source shows it.
fn kube_verdict<T>(r: Result<T, serde_json::Error>) -> Verdict {
    match r {
        Ok(_) => Verdict::Accepted,
        Err(e) => Verdict::Refused(kubernetes::kube_words(&kube::Error::SerdeError(e))),
    }
}

fn kubernetes_objects(input: &[u8]) -> Verdict {
    let pod = serde_json::from_slice::<Pod>(input);
    if let Ok(p) = &pod {
        kubernetes::service_of(p);
        kubernetes::pod_health(p);
        let mut pods = kubernetes::Pods::default();
        pods.on_event(watcher::Event::Init);
        pods.on_event(watcher::Event::InitApply(p.clone()));
        pods.on_event(watcher::Event::InitDone);
        pods.on_event(watcher::Event::Apply(p.clone()));
        pods.on_event(watcher::Event::Delete(p.clone()));
    }
    let list = serde_json::from_slice::<kube::core::ObjectList<Pod>>(input);
    if let Ok(l) = &list {
        let mut pods = kubernetes::Pods::default();
        for p in &l.items {
            pods.on_event(watcher::Event::Apply(p.clone()));
        }
    }
    let deployment = serde_json::from_slice::<Deployment>(input);
    if let Ok(d) = &deployment {
        kubernetes::deployment_event(d);
    }
    let node = serde_json::from_slice::<Node>(input);
    if let Ok(n) = &node {
        kubernetes::node_event(n);
    }
    let event = serde_json::from_slice::<KubeEvent>(input);
    if let Ok(e) = &event {
        kubernetes::warning_event(e);
    }
    any(vec![
        kube_verdict(pod),
        kube_verdict(list),
        kube_verdict(deployment),
        kube_verdict(node),
        kube_verdict(event),
    ])
}

/// Single pods, cut out of the recorded list and watch stream, as seeds.
fn pods() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubernetes");
    let mut out = Vec::new();
    if let Ok(list) = std::fs::read(dir.join("podlist-kube-system-v1.36.json"))
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&list)
    {
        for p in v["items"].as_array().into_iter().flatten().take(8) {
            out.push(serde_json::to_vec(p).unwrap_or_default());
        }
    }
    if let Ok(watch) = std::fs::read_to_string(dir.join("watch-pods-kube-system-v1.36.jsonl")) {
        for line in watch.lines().take(8) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                out.push(serde_json::to_vec(&v["object"]).unwrap_or_default());
            }
        }
    }
    out
}

#[test]
fn fuzz_kubernetes_objects() {
    run(&Target {
        name: "kubernetes_objects",
        fixtures: &["kubernetes"],
        extra_seeds: pods,
        tokens: &[
            "\"metadata\"",
            "\"labels\"",
            "\"app\"",
            "\"ownerReferences\"",
            "\"status\"",
            "\"phase\"",
            "\"Running\"",
            "\"Pending\"",
            "\"containerStatuses\"",
            "\"restartCount\"",
            "\"ready\"",
            "\"state\"",
            "\"waiting\"",
            "\"reason\"",
            "\"CrashLoopBackOff\"",
            "\"conditions\"",
            "\"type\"",
            "\"Ready\"",
            "\"True\"",
            "\"deletionTimestamp\"",
            "\"2026-12-06T07:00:00Z\"",
            "\"nodeName\"",
        ],
        run: kubernetes_objects,
    });
}

#[test]
fn fuzz_dns_answers() {
    run(&Target {
        name: "dns_answer",
        fixtures: &[],
        extra_seeds: dns_server::seeds,
        tokens: &["\u{c0}\u{0c}", "\0\0\0\0", "\u{3f}", "\u{ff}\u{ff}"],
        run: dns_server::answer,
    });
}

fn config_toml(input: &[u8]) -> Verdict {
    verdict(Config::parse(&text(input), Path::new("fuzz.toml")))
}

/// The configurations the README documents, as seeds.
fn documented_configs() -> Vec<Vec<u8>> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap_or_default();
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in readme.lines() {
        match (&mut block, line.trim_start()) {
            (None, "```toml") => block = Some(String::new()),
            (Some(b), "```") => {
                out.push(std::mem::take(b).into_bytes());
                block = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    if let Some(first) = out.first().cloned() {
        // The full example with every later snippet appended: one environment, all kinds.
        let mut all = first;
        for b in out.iter().skip(1) {
            all.extend_from_slice(b);
        }
        out.push(all);
    }
    out
}

#[test]
fn fuzz_config_toml() {
    run(&Target {
        name: "config_toml",
        fixtures: &[],
        extra_seeds: documented_configs,
        tokens: &[
            "[[environment]]\n",
            "[[environment.source]]\n",
            "kind = \"etcd\"\n",
            "name = \"x\"\n",
            "endpoints = []\n",
            "tls = { ca_file = \"\" }\n",
            "= ",
            "\"\"\"",
            "'''",
            "inf",
            "nan",
            "1979-05-27T07:32:00Z",
            "[a.b.c]\n",
            "\\u0000",
            "interval_millis = 0\n",
            "timeout_millis = -1\n",
            "\n",
        ],
        run: config_toml,
    });
}

fn runbook_toml(input: &[u8]) -> Verdict {
    verdict(runbook::parse(&text(input)))
}

#[test]
fn fuzz_runbook_files() {
    run(&Target {
        name: "runbook_toml",
        fixtures: &[],
        extra_seeds: || {
            runbook::SHIPPED
                .iter()
                .map(|(_, t)| t.as_bytes().to_vec())
                .collect()
        },
        tokens: &[
            "[[step]]\n",
            "kind = \"workflow\"\n",
            "kind = \"scale\"\n",
            "replicas = [1, 2, 3]\n",
            "kind = \"manual\"\n",
            "kind = \"http_check\"\n",
            "times = 99999999999\n",
            "{route}",
            "{",
            "}",
            "[vars]\n",
            "name = \"\"\n",
            "\n",
        ],
        run: runbook_toml,
    });
}

#[test]
fn fuzz_session_rows() {
    run(&Target {
        name: "session_rows",
        fixtures: &["haproxy", "prometheus"],
        extra_seeds: || {
            vec![
                br#"{"at":1,"source":"haproxy","body":{"kind":"Unknown","data":{}}}"#.to_vec(),
                b"\x00not json".to_vec(),
                b"\x80not json".to_vec(),
                session_file::block_seed(),
            ]
        },
        tokens: &[
            "\"at\"",
            "\"source\"",
            "\"body\"",
            "\"kind\"",
            "\"data\"",
            "\"InstanceHealth\"",
            "\"Service\"",
            "9223372036854775807",
            "-9223372036854775808",
        ],
        run: session_file::rows,
    });
}

#[test]
fn fuzz_session_files() {
    run(&Target {
        name: "session_file",
        fixtures: &[],
        extra_seeds: session_file::bases,
        tokens: &["SQLite format 3\0", "\0\0\0\0", "\u{ff}\u{ff}\u{ff}\u{ff}"],
        run: session_file::whole,
    });
}

/// Row values worth writing into a journal or a store: wrong types, huge numbers,
/// text where a number belongs, bytes that are not UTF-8.
const ROW_TOKENS: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "1e400",
    "running",
    "interrupted",
    "done",
    "triage",
    "resolved",
    "{",
    "\"rto_secs\":",
    "null",
    "\u{0}",
    "\u{ff}",
];

#[test]
fn fuzz_journal_read_back() {
    run(&Target {
        name: "journal_db",
        fixtures: &[],
        extra_seeds: || {
            let mut s = databases::seeds();
            s.truncate(1);
            s.extend([
                b"\x00running".to_vec(),
                b"\x02not a time".to_vec(),
                b"\x08-1".to_vec(),
            ]);
            s
        },
        tokens: ROW_TOKENS,
        run: databases::journal,
    });
}

#[test]
fn fuzz_store_read_back() {
    run(&Target {
        name: "store_db",
        fixtures: &[],
        extra_seeds: || {
            let mut s = databases::seeds().split_off(1);
            s.extend([
                b"\x01\x09".to_vec(),
                b"\x04{\"rto_secs\":1e999}".to_vec(),
                b"\x05".to_vec(),
            ]);
            s
        },
        tokens: ROW_TOKENS,
        run: databases::store,
    });
}
