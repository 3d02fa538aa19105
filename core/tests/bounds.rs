//! Bounds against hostile endpoints: every HTTP source kind and the HAProxy runtime
//! socket pointed at a small local server in this test that answers without end (an
//! endless body, an endless line, a body that trickles forever). Each source must go
//! down in words within its timeout, and the process's memory must stay bounded while
//! they keep retrying.
//!
//! The hostile servers are fakes on purpose: no real server answers without end, and
//! the point is what the console does when the address is wrong (a file server, a log
//! stream) or the target is hostile.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use switchboard_core::model::{Health, SourceStatus};
use switchboard_core::{Config, EngineOptions, State};

/// How a hostile server answers every request.
#[derive(Clone, Copy)]
enum Answer {
    /// `200 OK`, no length, then JSON-looking bytes until the client hangs up.
    EndlessBody,
    /// `200 OK` declaring 10 GB, then bytes until the client hangs up.
    DeclaredHuge,
    /// `200 OK`, no length, then one byte every 50 ms forever (a slowloris answer).
    Trickle,
    /// Raw bytes with no newline, forever (a runtime socket that is not HAProxy's).
    EndlessLine,
    /// Raw CSV-looking lines, forever.
    EndlessLines,
}

/// Starts a hostile server on loopback answering `answer` to every connection, and
/// returns its `host:port`.
fn hostile(answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(s) = stream else { continue };
            std::thread::spawn(move || serve(s, answer));
        }
    });
    addr
}

/// Answers one connection until the client hangs up.
fn serve(mut s: TcpStream, answer: Answer) {
    let mut buf = [0_u8; 4096];
    // The request (or the runtime command); what it asks does not matter.
    let _request_bytes = s.read(&mut buf).unwrap_or(0);
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
    let block: Vec<u8> = match answer {
        Answer::EndlessBody => {
            s.write_all(head).ok();
            s.write_all(b"{\"data\":\"").ok();
            b"garbage-".repeat(8192)
        }
        Answer::DeclaredHuge => {
            s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n",
            )
            .ok();
            b"{}".repeat(32 * 1024)
        }
        Answer::Trickle => {
            s.write_all(head).ok();
            while s.write_all(b" ").is_ok() {
                std::thread::sleep(Duration::from_millis(50));
            }
            return;
        }
        Answer::EndlessLine => b"x".repeat(64 * 1024),
        Answer::EndlessLines => {
            b"web,web1,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,0,0,\n".repeat(1024)
        }
    };
    while s.write_all(&block).is_ok() {}
}

/// A line of `/proc/self/status` (`VmRSS`, `VmHWM`), in kB.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What a source shows once it has failed: its own detail when down, else the detail
/// of the instance it probes (a probe's failure is its target's health).
fn failure(s: &State, name: &str) -> Option<String> {
    let info = s.sources.get(name)?;
    if info.status == SourceStatus::Down {
        return info.detail.clone();
    }
    let instance = match name {
        "probe" => "probed",
        "probe-trickle" => "trickled",
        "probe-declared" => "declared",
        _ => return None,
    };
    s.instances
        .get(instance)
        .filter(|i| i.health == Health::Unhealthy)
        .and_then(|i| i.detail.as_deref().map(str::to_owned))
}

/// The five sources of the issue's figure (a probe, Envoy, Traefik, Prometheus and
/// Patroni) at `body`, an endless answer. The Patroni source sends a password from
/// `secret_file`, which must never show.
fn five_sources(body: &str, secret_file: &Path) -> String {
    format!(
        r#"
[[environment.source]]
kind = "http_probe"
name = "probe"
url = "http://{body}/ready"
interval_secs = 0.2
timeout_secs = 5.0
instance = "probed"

[[environment.source]]
kind = "envoy"
name = "envoy"
admin = "http://{body}"
timeout_millis = 5000

[[environment.source]]
kind = "traefik"
name = "traefik"
api = "http://{body}"
timeout_millis = 5000

[[environment.source]]
kind = "prometheus"
name = "prometheus"
url = "http://{body}"
timeout_secs = 5.0
[[environment.source.query]]
breaker = "b"
service = "s"
expr = "up"

[[environment.source]]
kind = "patroni"
name = "patroni"
endpoints = ["http://{body}"]
timeout_millis = 5000
auth = {{ username = "postgres", password_file = "{secret}" }}
"#,
        secret = secret_file.display()
    )
}

/// The other kinds and bounds: Consul and HAProxy's stats page at `body`, the HAProxy
/// runtime socket at `line` (one endless line) and `lines` (endless CSV), a probe at
/// `trickle` (a slowloris answer: the time bound, not the size, stops it), a probe at
/// `declared` (a length over the limit, refused before reading the body), and an
/// Envoy whose limit is set lower by `max_answer_bytes`.
fn other_sources(body: &str, line: &str, lines: &str, trickle: &str, declared: &str) -> String {
    format!(
        r#"
[[environment.source]]
kind = "http_probe"
name = "probe-declared"
url = "http://{declared}/ready"
interval_secs = 0.2
timeout_secs = 5.0
instance = "declared"

[[environment.source]]
kind = "http_probe"
name = "probe-trickle"
url = "http://{trickle}/ready"
interval_secs = 0.2
timeout_secs = 1.0
instance = "trickled"

[[environment.source]]
kind = "envoy"
name = "envoy-small"
admin = "http://{body}"
timeout_millis = 5000
max_answer_bytes = 65536

[[environment.source]]
kind = "consul"
name = "consul"
address = "http://{body}"
timeout_millis = 5000
wait_secs = 1

[[environment.source]]
kind = "haproxy"
name = "haproxy-stats"
stats_url = "http://{body}/stats;csv"
timeout_millis = 5000

[[environment.source]]
kind = "haproxy"
name = "haproxy-line"
socket = "tcp://{line}"
timeout_millis = 5000

[[environment.source]]
kind = "haproxy"
name = "haproxy-lines"
socket = "tcp://{lines}"
timeout_millis = 5000
"#
    )
}

/// A Kubernetes source whose kubeconfig names `body` as its API server.
fn kubernetes_source(body: &str, dir: &Path) -> String {
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://{body}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .expect("kubeconfig");
    format!(
        r#"
[[environment.source]]
kind = "kubernetes"
name = "kubernetes"
kubeconfig = "{}"
proxy = false
"#,
        kubeconfig.display()
    )
}

/// Runs an engine on `sources` until every source of `expected` has failed with its
/// words (each within its timeout, at most 5 s, plus the driver's first backoff), lets
/// them retry against the endless answers for 8 s more, and checks that none came back
/// and that the peak RSS grew by less than 200 MB. `secret` must show nowhere.
fn hostile_phase(what: &str, sources: &str, expected: &[(&str, &str)], secret: &str) {
    let text = format!("[[environment]]\nname = \"hostile\"\n{sources}");
    let cfg = Config::parse(&text, Path::new("hostile.toml")).expect("config");
    // Resets VmHWM, so the peak read below is this phase's.
    std::fs::write("/proc/self/clear_refs", "5").expect("clear_refs");
    let rss_before_kb = status_kb("VmRSS");
    let started = Instant::now();
    let engine = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine");
    let all_failed = |s: &State| {
        expected
            .iter()
            .all(|(name, words)| failure(s, name).is_some_and(|d| d.contains(words)))
    };
    let s = engine.wait_for(Duration::from_secs(15), all_failed);
    let took = started.elapsed();
    for (name, words) in expected {
        let detail = failure(&s, name);
        assert!(
            detail.as_deref().is_some_and(|d| d.contains(words)),
            "{name}: wanted {words:?}, got {detail:?} (status {:?})",
            s.sources.get(*name).map(|i| i.status)
        );
        eprintln!("bounds, {name}: {}", detail.unwrap_or_default());
    }
    // Let them retry against the endless answers for a while: memory must not creep.
    std::thread::sleep(Duration::from_secs(8));
    let s = engine.snapshot();
    for (name, words) in expected {
        let detail = failure(&s, name);
        assert!(
            detail.as_deref().is_some_and(|d| d.contains(words)),
            "{name} came back against a hostile endpoint: {detail:?} (status {:?})",
            s.sources.get(*name).map(|i| i.status)
        );
    }
    let shown = format!("{:?} {:?}", s.sources, s.instances);
    assert!(!shown.contains(secret), "the password shows: {shown}");
    let rss_after_kb = status_kb("VmRSS");
    let peak_kb = status_kb("VmHWM");
    drop(engine);
    eprintln!(
        "bounds, {what}: {} sources down in {} ms; RSS {} MB before, {} MB after 8 s more, peak {} MB",
        expected.len(),
        took.as_millis(),
        rss_before_kb / 1024,
        rss_after_kb / 1024,
        peak_kb / 1024
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(
        peak_kb.saturating_sub(rss_before_kb) < 200 * 1024,
        "{what}: peak RSS {peak_kb} kB, {rss_before_kb} kB before the sources started"
    );
}

#[test]
fn hostile_endpoints_put_sources_down_in_words_with_memory_bounded() {
    let secret = "hunter2-bounds-secret";
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("pw");
    std::fs::write(&secret_file, secret).expect("secret");
    let body = hostile(Answer::EndlessBody);
    hostile_phase(
        "five sources",
        &five_sources(&body, &secret_file),
        &[
            (
                "probe",
                "answer larger than 1 MB: is this the health endpoint?",
            ),
            (
                "envoy",
                "answer larger than 32 MB: is this the admin address?",
            ),
            (
                "traefik",
                "answer larger than 16 MB: is this the API address?",
            ),
            (
                "prometheus",
                "answer larger than 16 MB: is this Prometheus's address",
            ),
            (
                "patroni",
                "answer larger than 4 MB: is this Patroni's REST API address?",
            ),
        ],
        secret,
    );
    hostile_phase(
        "other kinds",
        &other_sources(
            &body,
            &hostile(Answer::EndlessLine),
            &hostile(Answer::EndlessLines),
            &hostile(Answer::Trickle),
            &hostile(Answer::DeclaredHuge),
        ),
        &[
            ("probe-trickle", "no answer within 1000 ms"),
            (
                "probe-declared",
                "answer larger than 1 MB: is this the health endpoint?",
            ),
            (
                "envoy-small",
                "answer larger than 64 kB: is this the admin address?",
            ),
            (
                "consul",
                "answer larger than 32 MB: is this a Consul agent's address?",
            ),
            (
                "haproxy-stats",
                "answer larger than 16 MB: is this the stats address",
            ),
            (
                "haproxy-line",
                "a line longer than 64 kB: is this HAProxy's runtime API?",
            ),
            (
                "haproxy-lines",
                "answer larger than 16 MB: is this the stats address",
            ),
        ],
        secret,
    );
    hostile_phase(
        "kubernetes",
        &kubernetes_source(&body, dir.path()),
        &[(
            "kubernetes",
            "answer larger than 32 MB: is this the API server's address?",
        )],
        secret,
    );
}

#[test]
fn a_file_too_large_is_refused_in_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    // The config bound (4 MB) plus one byte: a log file given as the config.
    let big = vec![b'#'; (4 << 20) + 1];
    std::fs::write(&path, big).expect("write");
    let err = Config::load(&path).expect_err("too large").to_string();
    assert!(
        err.starts_with("cannot read config: larger than 4 MB: is it the right file?"),
        "{err}"
    );
    assert!(err.ends_with(&format!("({})", path.display())), "{err}");
    // /dev/zero never ends: the bound stops the read.
    let err = Config::load(Path::new("/dev/zero"))
        .expect_err("endless")
        .to_string();
    assert!(err.contains("larger than 4 MB"), "{err}");
}

#[test]
fn a_well_behaved_runtime_socket_still_reads_whole() {
    // HAProxy's own `show stat` (recorded from 2.6.12 in the rig), sent in small pieces
    // and then closed, as HAProxy does after one command.
    let csv = include_str!("fixtures/haproxy/show-stat-rig.csv");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0_u8; 256];
            let _command_bytes = s.read(&mut buf).unwrap_or(0);
            for piece in csv.as_bytes().chunks(100) {
                if s.write_all(piece).is_err() {
                    break;
                }
            }
        }
    });
    let text = format!(
        "[[environment]]\nname = \"t\"\n[[environment.source]]\nkind = \"haproxy\"\nname = \"lb\"\nsocket = \"tcp://{addr}\"\n"
    );
    let cfg = Config::parse(&text, Path::new("lb.toml")).expect("config");
    let engine = switchboard_core::start(&EngineOptions::new(cfg)).expect("engine");
    let up = |s: &State| {
        s.sources
            .get("lb")
            .is_some_and(|i| i.status == SourceStatus::Up)
            && !s.instances.is_empty()
    };
    let s = engine.wait_for(Duration::from_secs(10), up);
    assert!(
        up(&s),
        "{:?}",
        s.sources.get("lb").map(|i| (i.status, i.detail.clone()))
    );
}
