//! The flight recorder's volume on real servers and on the drill (a bench binary;
//! `cargo bench -p switchboard-core --bench recorder`).
//!
//! The real engine records, in real time, what it would record in a console:
//!
//! - `haproxy`: a real HAProxy started here on free ports with `RECORDER_SERVERS`
//!   (2,000) servers in 20 backends, every one health-checked (`option httpchk`,
//!   every `RECORDER_CHECK_INTER`: 5s, a load balancer's usual interval) against three
//!   real HTTP servers (Python's `http.server`), watched through its stats CSV every
//!   100 ms as a console does;
//! - `drill-steady`: the drill at `RECORDER_DRILL` (10,000) instances with no fault
//!   (its background blips only);
//! - `drill-cycle`: the same with its scripted fault cycle (a connection leak, a quorum
//!   loss, a flapping instance, a Consul member lost, every 5 minutes): the
//!   incident-heavy case.
//!
//! Each case records for `RECORDER_SECS` (300; the cycle twice that) after a warm-up
//! (the inventory and HAProxy's first checks are not steady state), and measures the
//! bytes the window adds to the session file: the file with everything, less the
//! file without the window's blocks and keyframes (both copied whole by `VACUUM
//! INTO`), plus the hourly segment's starting state spread over its hour. It prints
//! bytes per second, MB per hour, the hours 2 GB hold, and the events recorded per
//! second by kind. `RECORDER_CASES` picks cases (`haproxy,drill-steady,drill-cycle`);
//! `RECORDER_KEEP=DIR` keeps a copy of each recording there.
//!
//! Run without `--bench` (as `cargo test --all-targets` does), it makes a short pass
//! of each (a few seconds, 200 servers, 1,000 instances), so it cannot rot unnoticed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_core::session::{Row, SessionReader, blocks};
use switchboard_core::sources::ProxySetting;
use switchboard_core::sources::drill::DrillConfig;
use switchboard_core::sources::haproxy::HaproxyConfig;
use switchboard_core::{Config, EngineOptions, Environment, SourceConfig, State, Timestamp};

/// What the retention promises: the last 72 hours within 2 GB.
const BUDGET_BYTES: f64 = 2_000_000_000.0;
const BUDGET_HOURS: f64 = 72.0;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A port free now on loopback.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Processes this bench started: stopped when it ends, whatever happens.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

/// Waits until `url` answers 200, up to `secs`.
fn answers(url: &str, secs: u64) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        let ok = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "--max-time", "1", url])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Starts three HTTP servers and an HAProxy with `servers` health-checked servers
/// over them; returns the processes and the stats CSV's URL.
fn start_haproxy(dir: &Path, servers: usize, inter: &str) -> Option<(Servers, String)> {
    if Command::new("haproxy").arg("-v").output().is_err() {
        eprintln!(
            "recorder bench: haproxy is not installed (tests/rig/rig.sh install haproxy): haproxy case skipped"
        );
        return None;
    }
    let mut procs = Servers(Vec::new());
    let mut backends = Vec::new();
    for i in 0..3 {
        let port = free_port();
        let www = dir.join(format!("www{i}"));
        std::fs::create_dir_all(&www).expect("www");
        std::fs::write(www.join("index.html"), format!("backend {i}\n")).expect("index");
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 http.server");
        procs.0.push(child);
        backends.push(port);
    }
    for p in &backends {
        assert!(
            answers(&format!("http://127.0.0.1:{p}/"), 20),
            "backend {p} answers"
        );
    }
    let stats = free_port();
    let mut cfg = format!(
        "global\n    maxconn 4096\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /stats\n"
    );
    let per = servers.div_ceil(20);
    for s in 0..servers {
        if s % per == 0 {
            write!(
                cfg,
                "backend be_{:02}\n    option httpchk GET /\n    default-server inter {inter} fall 2 rise 2\n",
                s / per
            )
            .ok();
        }
        writeln!(
            cfg,
            "    server srv{s:04} 127.0.0.1:{} check",
            backends[s % backends.len()]
        )
        .ok();
    }
    let cfg_path = dir.join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).expect("haproxy.cfg");
    let log = std::fs::File::create(dir.join("haproxy.log")).expect("log");
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&cfg_path)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("haproxy");
    procs.0.push(child);
    let url = format!("http://127.0.0.1:{stats}/stats;csv");
    assert!(
        answers(&url, 20),
        "HAProxy's stats answer: {}",
        std::fs::read_to_string(dir.join("haproxy.log")).unwrap_or_default()
    );
    Some((procs, url))
}

/// What one case measured.
struct Figures {
    name: String,
    secs: f64,
    stream_bytes: u64,
    base_bytes: usize,
    events: u64,
    kinds: BTreeMap<String, u64>,
}

impl Figures {
    /// Bytes per second, the hourly segment's starting state included.
    fn rate(&self) -> f64 {
        self.stream_bytes as f64 / self.secs + self.base_bytes as f64 / 3600.0
    }

    fn print(&self) {
        let rate = self.rate();
        println!(
            "{}: {:.0} B/s ({:.1} MB/h; 2 GB hold {:.0} h, the promise needs {:.0} B/s): stream {:.0} B/s + hourly segment start {} KB; {:.1} events/s over {:.0} s",
            self.name,
            rate,
            rate * 3600.0 / 1e6,
            BUDGET_BYTES / rate / 3600.0,
            BUDGET_BYTES / (BUDGET_HOURS * 3600.0),
            self.stream_bytes as f64 / self.secs,
            self.base_bytes / 1000,
            self.events as f64 / self.secs,
            self.secs
        );
        let kinds: Vec<String> = self
            .kinds
            .iter()
            .map(|(k, n)| format!("{k} {:.2}/s", *n as f64 / self.secs))
            .collect();
        println!("  {}", kinds.join(", "));
    }
}

/// The bytes the events after `from` take in `path` (and how many there are, by
/// kind): the file copied whole, less the file copied without them.
fn window_bytes(path: &Path, dir: &Path, from: Timestamp) -> (u64, u64, BTreeMap<String, u64>) {
    let copy = |name: &str, cut: bool| -> u64 {
        let out = dir.join(name);
        std::fs::remove_file(&out).ok();
        let c = rusqlite::Connection::open(path).expect("open");
        c.execute("VACUUM INTO ?1", [out.to_string_lossy()])
            .expect("vacuum into");
        if cut {
            let c = rusqlite::Connection::open(&out).expect("open copy");
            c.execute("DELETE FROM blocks WHERE min_at >= ?1", [from.0])
                .and_then(|_| c.execute("DELETE FROM keyframes WHERE at_millis >= ?1", [from.0]))
                .and_then(|_| c.execute_batch("VACUUM"))
                .expect("cut");
        }
        std::fs::metadata(&out).map_or(0, |m| m.len())
    };
    let payload: i64 = rusqlite::Connection::open(path)
        .and_then(|c| {
            c.query_row(
                "SELECT coalesce(sum(length(body)), 0) FROM blocks WHERE min_at >= ?1",
                [from.0],
                |row| row.get(0),
            )
        })
        .expect("payload");
    eprintln!("  (compressed blocks in the window: {payload} bytes)");
    let whole = copy("whole.session", false);
    let before = copy("before.session", true);
    let r = SessionReader::open(path).expect("open");
    let first: i64 = rusqlite::Connection::open(path)
        .and_then(|c| {
            c.query_row(
                "SELECT coalesce(min(first_seq), 0) FROM blocks WHERE min_at >= ?1",
                [from.0],
                |row| row.get(0),
            )
        })
        .expect("first block");
    let mut kinds = BTreeMap::new();
    let mut n = 0;
    if first > 0 {
        r.rows(first - 1, i64::MAX, |row| {
            let kind = match row {
                Row::Event(_, e) => e.body.kind_name().to_owned(),
                Row::Raw(raw) => raw.kind,
            };
            *kinds.entry(kind).or_insert(0) += 1;
            n += 1;
        })
        .expect("rows");
    }
    (whole.saturating_sub(before), n, kinds)
}

/// Records `config` for `warmup` + `secs` and measures the second part.
fn record(name: &str, config: Config, warmup: Duration, secs: Duration) -> Figures {
    let dir = tempfile::tempdir().expect("dir");
    let path: PathBuf = dir.path().join("bench.session");
    let mut opts = EngineOptions::new(config);
    opts.record_to = Some(path.clone());
    let engine = switchboard_core::start(&opts).expect("engine");
    std::thread::sleep(warmup);
    let from = engine.snapshot().now;
    let started = Instant::now();
    std::thread::sleep(secs);
    let end: std::sync::Arc<State> = engine.snapshot();
    let measured = started.elapsed().as_secs_f64();
    assert!(engine.shutdown().is_none(), "recorded to the end");
    let (stream_bytes, events, kinds) = window_bytes(&path, dir.path(), from);
    if let Ok(keep) = std::env::var("RECORDER_KEEP") {
        let to = Path::new(&keep).join(format!("{}.session", name.replace([' ', ','], "-")));
        std::fs::remove_file(&to).ok();
        rusqlite::Connection::open(&path)
            .and_then(|c| c.execute("VACUUM INTO ?1", [to.to_string_lossy()]))
            .expect("keep a copy");
        eprintln!("  kept {}", to.display());
    }
    let base_bytes = blocks::compress(&end.to_snapshot())
        .expect("compress")
        .len();
    Figures {
        name: format!("{name} ({} instances)", end.instances.len()),
        secs: measured,
        stream_bytes,
        base_bytes,
        events,
        kinds,
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let secs = Duration::from_secs(env_or("RECORDER_SECS", if full { 300 } else { 4 }));
    let warmup = Duration::from_secs(if full { 60 } else { 3 });
    let servers: usize = env_or("RECORDER_SERVERS", if full { 2000 } else { 200 });
    let drill_size: usize = env_or("RECORDER_DRILL", if full { 10_000 } else { 1_000 });
    let inter: String = env_or("RECORDER_CHECK_INTER", "5s".to_owned());
    let cases: String = env_or(
        "RECORDER_CASES",
        "haproxy,drill-steady,drill-cycle".to_owned(),
    );
    let mut out = Vec::new();
    for case in cases.split(',') {
        match case.trim() {
            "haproxy" => {
                let dir = tempfile::tempdir().expect("dir");
                let Some((_servers, url)) = start_haproxy(dir.path(), servers, &inter) else {
                    continue;
                };
                let source = SourceConfig::Haproxy(HaproxyConfig {
                    name: "edge".into(),
                    socket: None,
                    stats_url: Some(url),
                    interval_millis: 100,
                    timeout_millis: 1000,
                    tls: None,
                    auth: None,
                    proxy: ProxySetting::Env(false),
                    max_answer_bytes: None,
                });
                let config = Config {
                    environment: vec![Environment::new("bench", vec![source])],
                };
                // HAProxy's first checks (every server starts at INI) are not steady.
                let warm = warmup.max(Duration::from_secs(if full { 60 } else { 5 }));
                out.push(record(
                    &format!("haproxy, {servers} checked servers"),
                    config,
                    warm,
                    secs,
                ));
            }
            "drill-steady" | "drill-cycle" => {
                let scripted = case.trim() == "drill-cycle";
                let config = Config::drill(DrillConfig {
                    instances: drill_size,
                    scripted,
                    ..DrillConfig::default()
                });
                let span = if scripted && full { secs * 2 } else { secs };
                out.push(record(case.trim(), config, warmup, span));
            }
            other => eprintln!("recorder bench: unknown case {other:?}"),
        }
        if let Some(f) = out.last() {
            f.print();
            std::io::stdout().flush().ok();
        }
    }
}
