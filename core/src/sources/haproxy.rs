//! HAProxy: the runtime API (`show stat` over a unix or TCP socket) or the stats CSV
//! over HTTP (`/stats;csv`); both give the same CSV.
//!
//! Each backend becomes a service behind the HAProxy gateway (named after the source),
//! with a route from the gateway; each server becomes an instance of its backend,
//! identified by its address when HAProxy reports one (so the same backend seen through
//! another gateway is the same instance), else `backend/server`. The runtime socket
//! always gives addresses; the HTTP stats page gives them only with `stats show-legends`.
//!
//! Server status to health:
//! - `UP`, `no check` -> healthy; `UP 1/2` (going down) -> degraded;
//! - `DOWN`, `DOWN 1/2` (going up) -> unhealthy;
//! - `DRAIN`, `NOLB`, `MAINT...` (taken out by an operator) -> degraded, and the detail
//!   says which, so an administrative state is never confused with a failure.
//!
//! The socket is polled every `interval_millis` (100 ms by default, so the console sees a
//! state change at most 100 ms after HAProxy decides it); only changes are sent, with a
//! heartbeat every second so the source is never mistaken for stale. A server's detail
//! says its status and last check, not the check's latency, which moves at every check:
//! each backend has the median and slowest check latency of its servers as series. The CSV is parsed by header name, so columns added by newer versions are
//! ignored and missing optional ones are tolerated.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::poll::{Pace, Poll, Polled, Report, drive};
use super::{Backoff, Connection, Emitter};
use crate::event::EventBody;
use crate::model::{Choice, Health, InstanceId, RouteId, ServiceId, ServiceRole, SourceStatus};

/// Configuration of one HAProxy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaproxyConfig {
    /// Source name; also the gateway's name in the topology.
    pub name: String,
    /// Runtime API socket: a unix path (`/run/haproxy/admin.sock`, `unix:/…`) or `tcp://host:port`.
    #[serde(default)]
    pub socket: Option<String>,
    /// Stats CSV URL (`http://127.0.0.1:8404/stats;csv`), used when no socket is given.
    #[serde(default)]
    pub stats_url: Option<String>,
    /// Time between polls, in milliseconds.
    #[serde(default = "default_interval")]
    pub interval_millis: u64,
    /// Bound on each poll, in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_millis: u64,
    /// TLS to the target: its CA, a client certificate, the name its certificate holds
    /// (`https://` URLs only; verification is on unless `insecure_skip_verify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::sources::TlsSettings>,
    /// Credentials, basic or bearer, by environment variable name or file path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<crate::sources::AuthSettings>,
    /// The forward proxy: `true` (default) the environment's, `false` none, or a URL.
    #[serde(
        default,
        skip_serializing_if = "crate::sources::ProxySetting::is_default"
    )]
    pub proxy: crate::sources::ProxySetting,
    /// The most one answer may hold, in bytes; the kind's default when left out
    /// (`AnswerLimit::of`). A larger answer puts the source down in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_answer_bytes: Option<u64>,
}

impl crate::sources::Settings for HaproxyConfig {
    fn validate(&self) -> Result<(), String> {
        if self.socket.is_none() && self.stats_url.is_none() {
            return Err(format!(
                "haproxy source {:?} needs `socket` or `stats_url`",
                self.name
            ));
        }
        Ok(())
    }

    fn reach(&self) -> Option<crate::sources::ReachSettings<'_>> {
        Some(crate::sources::ReachSettings {
            urls: self.stats_url.iter().map(String::as_str).collect(),
            tls: self.tls.as_ref(),
            auth: self.auth.as_ref(),
            proxy: &self.proxy,
            timeout: std::time::Duration::from_millis(self.timeout_millis.max(10)),
            max_answer: crate::sources::AnswerLimit::of(
                crate::model::SourceKind::Haproxy,
                self.max_answer_bytes,
            ),
        })
    }
}

const fn default_interval() -> u64 {
    100
}

const fn default_timeout() -> u64 {
    1000
}

/// A parse failure of the stats CSV.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// The answer has no `# pxname,svname,…` header (HTML, an error message, nothing).
    #[error("not HAProxy stats CSV (no '# pxname,svname' header); got: {0}")]
    NoHeader(String),
    /// A column every version has is missing.
    #[error("stats CSV lacks the {0:?} column")]
    MissingColumn(&'static str),
}

/// What a row of the stats describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// A frontend (type 0).
    Frontend,
    /// A backend (type 1).
    Backend,
    /// A server (type 2).
    Server,
    /// A listener (type 3).
    Listener,
}

/// One row of `show stat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatRow {
    /// Proxy (frontend or backend) name.
    pub proxy: String,
    /// Server name, or FRONTEND / BACKEND.
    pub name: String,
    /// Row type.
    pub kind: RowKind,
    /// `UP`, `DOWN`, `DRAIN`, `MAINT`, `UP 1/2`, `no check`…
    pub status: String,
    /// Effective weight.
    pub weight: Option<u32>,
    /// A backup server.
    pub backup: bool,
    /// Last check result (`L7OK`, `L4CON`, `L7STS`, `INI`…), as HAProxy writes it.
    pub check_status: String,
    /// A check is running now (HAProxy writes `* L7OK`: the last result, while the
    /// next check is in progress, with no code).
    pub check_running: bool,
    /// Last check's HTTP code, if any.
    pub check_code: Option<u32>,
    /// Last check's duration, in milliseconds.
    pub check_millis: Option<u64>,
    /// Current sessions.
    pub sessions: u64,
    /// Connection errors so far.
    pub connect_errors: u64,
    /// Response errors so far.
    pub response_errors: u64,
    /// Sessions so far.
    pub total_sessions: u64,
    /// HTTP 5xx responses so far.
    pub http_5xx: u64,
    /// The weight the operator configured or set (`uweight`), before state and
    /// slow-start adjustments.
    pub user_weight: Option<u32>,
    /// `host:port` of a server, when reported.
    pub addr: Option<String>,
}

/// Parses `show stat` / `;csv` output.
pub fn parse_stat_csv(text: &str) -> Result<Vec<StatRow>, CsvError> {
    let mut lines = text.lines();
    let header = lines
        .by_ref()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| l.strip_prefix("# "))
        .filter(|h| h.starts_with("pxname,svname"))
        .ok_or_else(|| CsvError::NoHeader(crate::sources::excerpt::excerpt(text)))?;
    let cols: HashMap<&str, usize> = header.split(',').enumerate().map(|(i, c)| (c, i)).collect();
    let col = |name: &'static str| cols.get(name).copied().ok_or(CsvError::MissingColumn(name));
    let (px, sv, status, kind) = (col("pxname")?, col("svname")?, col("status")?, col("type")?);
    let opt = |name: &str| cols.get(name).copied();
    let (stot, h5xx, uweight) = (opt("stot"), opt("hrsp_5xx"), opt("uweight"));
    let (weight, bck, chk, code, dur, scur, econ, eresp, addr) = (
        opt("weight"),
        opt("bck"),
        opt("check_status"),
        opt("check_code"),
        opt("check_duration"),
        opt("scur"),
        opt("econ"),
        opt("eresp"),
        opt("addr"),
    );
    let mut rows = Vec::new();
    for line in lines {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let get = |i: Option<usize>| {
            i.and_then(|i| f.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let num = |i: Option<usize>| get(i).and_then(|s| s.parse::<u64>().ok());
        let Some(kind) = get(Some(kind)).and_then(|k| match k {
            "0" => Some(RowKind::Frontend),
            "1" => Some(RowKind::Backend),
            "2" => Some(RowKind::Server),
            "3" => Some(RowKind::Listener),
            _ => None,
        }) else {
            continue;
        };
        rows.push(StatRow {
            proxy: get(Some(px)).unwrap_or_default().to_owned(),
            name: get(Some(sv)).unwrap_or_default().to_owned(),
            kind,
            status: get(Some(status)).unwrap_or_default().to_owned(),
            weight: num(weight).and_then(|w| u32::try_from(w).ok()),
            backup: num(bck) == Some(1),
            check_status: get(chk)
                .unwrap_or_default()
                .trim_start_matches('*')
                .trim()
                .to_owned(),
            check_running: get(chk).is_some_and(|c| c.starts_with('*')),
            check_code: num(code).and_then(|c| u32::try_from(c).ok()),
            check_millis: num(dur),
            sessions: num(scur).unwrap_or(0),
            connect_errors: num(econ).unwrap_or(0),
            response_errors: num(eresp).unwrap_or(0),
            total_sessions: num(stot).unwrap_or(0),
            http_5xx: num(h5xx).unwrap_or(0),
            user_weight: num(uweight).and_then(|w| u32::try_from(w).ok()),
            addr: get(addr).map(str::to_owned),
        });
    }
    Ok(rows)
}

/// Health of a server from its status, and the words that explain it.
pub fn server_health(status: &str) -> (Health, Option<&'static str>) {
    let s = status.trim();
    let word = s.split_whitespace().next().unwrap_or("");
    let transitional = s.contains('/');
    match word {
        "UP" if transitional => (Health::Degraded, Some("going down")),
        "UP" | "no" | "OPEN" => (Health::Healthy, None),
        "DOWN" if transitional => (Health::Unhealthy, Some("going up")),
        "DOWN" => (Health::Unhealthy, None),
        "DRAIN" => (
            Health::Degraded,
            Some("drained by an operator: no new sessions"),
        ),
        "NOLB" => (
            Health::Degraded,
            Some("NOLB: takes no new load-balanced traffic"),
        ),
        "MAINT" => (
            Health::Degraded,
            Some("in maintenance (taken out by an operator)"),
        ),
        _ => (Health::Unknown, None),
    }
}

/// The instance id of a server: its address if known, else `backend/server`.
fn instance_id(row: &StatRow) -> InstanceId {
    match &row.addr {
        Some(a) => InstanceId::new(a),
        None => InstanceId::new(format!("{}/{}", row.proxy, row.name)),
    }
}

/// One line for the operator: status, last check, weight, backup.
fn server_detail(row: &StatRow) -> String {
    let (_, why) = server_health(&row.status);
    let mut d = format!("{} {}/{}", row.status, row.proxy, row.name);
    if let Some(why) = why {
        write!(d, " ({why})").ok();
    }
    // The check's latency moves at every check: it is a series of the backend
    // (`check_latency`), not part of a server's health.
    if !row.check_status.is_empty() {
        write!(d, " · check {}", row.check_status).ok();
        if let Some(c) = row.check_code {
            write!(d, " {c}").ok();
        }
    }
    if let Some(w) = row.weight {
        write!(d, " · weight {w}").ok();
    }
    if row.backup {
        d.push_str(" · backup");
    }
    d
}

/// Each backend's health-check latency over its servers: the median and the slowest,
/// as series of the backend (held while they barely move, see `volatile.rs`): what an
/// operator reads of the checks' latency, at a cost that does not grow with the
/// servers.
pub fn check_latency(rows: &[StatRow]) -> Vec<EventBody> {
    let mut by_backend: std::collections::BTreeMap<&str, Vec<u64>> =
        std::collections::BTreeMap::new();
    for r in rows.iter().filter(|r| r.kind == RowKind::Server) {
        if let Some(ms) = r.check_millis {
            by_backend.entry(r.proxy.as_str()).or_default().push(ms);
        }
    }
    let mut out = Vec::new();
    for (backend, mut ms) in by_backend {
        ms.sort_unstable();
        let median = ms[ms.len() / 2];
        let slowest = ms[ms.len() - 1];
        for (series, v) in [
            ("check latency p50", median),
            ("check latency max", slowest),
        ] {
            out.push(EventBody::Metric {
                service: ServiceId::new(backend),
                series: series.to_owned(),
                value: v as f64 / 1000.0,
                unit: crate::model::MetricUnit::Seconds,
            });
        }
    }
    out
}

/// Events describing `rows`: backends as services with a route from the gateway, servers
/// as instances, frontends as the gateway's own instances. Deterministic order (as
/// HAProxy lists them).
pub fn rows_to_events(gateway: &ServiceId, rows: &[StatRow]) -> Vec<EventBody> {
    let mut out = vec![EventBody::Service {
        service: gateway.clone(),
        role: ServiceRole::Gateway,
    }];
    for r in rows.iter().filter(|r| r.kind == RowKind::Backend) {
        let service = ServiceId::new(&r.proxy);
        out.push(EventBody::Service {
            service: service.clone(),
            role: ServiceRole::Service,
        });
        out.push(EventBody::Route {
            route: RouteId::new(format!("{gateway}/{}", r.proxy)),
            gateway: gateway.clone(),
            service,
            breaker: None,
        });
    }
    for r in rows.iter().filter(|r| r.kind == RowKind::Server) {
        let (health, _) = server_health(&r.status);
        out.push(EventBody::InstanceHealth {
            instance: instance_id(r),
            service: ServiceId::new(&r.proxy),
            health,
            detail: Some(server_detail(r)),
        });
    }
    // The frontends are the gateway's own instances: what it listens on. A stopped one
    // is an outage at the door, whatever its backends say.
    for r in rows.iter().filter(|r| r.kind == RowKind::Frontend) {
        let (health, why) = frontend_health(&r.status);
        out.push(EventBody::InstanceHealth {
            instance: InstanceId::new(format!("{gateway}/{}", r.proxy)),
            service: gateway.clone(),
            health,
            detail: Some(format!("frontend {} {}{why}", r.proxy, r.status)),
        });
    }
    out.extend(backup_choices(rows));
    out
}

/// A frontend's health from its `status` (OPEN, FULL, STOP, PAUSED) and why, for the
/// operator.
fn frontend_health(status: &str) -> (Health, &'static str) {
    match status.trim() {
        "OPEN" => (Health::Healthy, ""),
        "FULL" => (Health::Degraded, " (at its maxconn: new connections wait)"),
        "PAUSED" => (Health::Degraded, " (paused: accepts no new connections)"),
        "STOP" => (Health::Unhealthy, " (stopped: takes no connections)"),
        _ => (Health::Unknown, ""),
    }
}

/// Where each backend with backup servers sends its traffic: its active servers while
/// one is UP, else its backup servers (the first UP one, or all of them with `option
/// allbackups`, which the stats do not show), else nothing (HAProxy answers 503).
///
/// The stats say nothing of the frontends' `use_backend` rules (a frontend row names no
/// backend), so which frontend sends to which backend is not shown; each backend is a
/// route of its own.
fn backup_choices(rows: &[StatRow]) -> Vec<EventBody> {
    let mut backends: Vec<&str> = rows
        .iter()
        .filter(|r| r.kind == RowKind::Server && r.backup)
        .map(|r| r.proxy.as_str())
        .collect();
    backends.dedup();
    let serving = |r: &StatRow| {
        let s = r.status.trim();
        s.starts_with("UP") || s == "no check"
    };
    backends
        .into_iter()
        .map(|backend| {
            let servers = || {
                rows.iter()
                    .filter(move |r| r.kind == RowKind::Server && r.proxy == backend)
            };
            let active = servers().filter(|r| !r.backup && serving(r)).count();
            let backups: Vec<&str> = servers()
                .filter(|r| r.backup && serving(r))
                .map(|r| r.name.as_str())
                .collect();
            let choice = if active > 0 {
                Choice {
                    chosen: Some("active servers".into()),
                    primary: true,
                    detail: format!("{active} active server(s) UP"),
                }
            } else if let Some(first) = backups.first() {
                Choice {
                    chosen: Some("backup servers".into()),
                    primary: false,
                    detail: format!(
                        "no active server is UP; HAProxy sends to the backup {first} (to every UP backup, {}, with option allbackups)",
                        backups.join(", ")
                    ),
                }
            } else {
                Choice {
                    chosen: None,
                    primary: false,
                    detail: "neither an active nor a backup server is UP: HAProxy answers 503"
                        .into(),
                }
            };
            EventBody::Chose {
                service: ServiceId::new(backend),
                choice,
            }
        })
        .collect()
}

enum Endpoint {
    Unix(String),
    Tcp(String),
    Http(String),
}

fn endpoint(cfg: &HaproxyConfig) -> Result<Endpoint, String> {
    if let Some(s) = &cfg.socket {
        if let Some(addr) = s.strip_prefix("tcp://") {
            return Ok(Endpoint::Tcp(addr.to_owned()));
        }
        return Ok(Endpoint::Unix(
            s.strip_prefix("unix:").unwrap_or(s).to_owned(),
        ));
    }
    cfg.stats_url
        .clone()
        .map(Endpoint::Http)
        .ok_or_else(|| "haproxy source needs `socket` or `stats_url`".to_owned())
}

/// The longest line the runtime API may send: a `show stat` row is a few hundred bytes
/// (about a hundred fields), so anything near this is not HAProxy talking.
pub const MAX_LINE_BYTES: usize = 64 << 10;

/// One command over the runtime API: send it, read until HAProxy closes (it does after
/// one command in non-interactive mode). The answer is bounded by `limit` and each
/// line by [`MAX_LINE_BYTES`], so a socket that is not HAProxy's (or a hostile one)
/// sending without end costs at most that much memory; `what` names it in the error.
async fn runtime_exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    command: &str,
    limit: super::AnswerLimit,
    what: &str,
) -> Result<String, String> {
    s.write_all(format!("{command}\n").as_bytes())
        .await
        .map_err(|e| format!("{e} ({what})"))?;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0_u8; 16 * 1024];
    // Bytes since the last newline.
    let mut line_bytes = 0_usize;
    loop {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("{e} ({what})"))?;
        let Some(read) = chunk.get(..n).filter(|r| !r.is_empty()) else {
            break;
        };
        limit.check((buf.len() + n) as u64, what)?;
        line_bytes = match read.iter().rposition(|b| *b == b'\n') {
            Some(last) => n - last - 1,
            None => line_bytes + n,
        };
        if line_bytes > MAX_LINE_BYTES {
            return Err(format!(
                "a line longer than {}: is this HAProxy's runtime API? ({what})",
                super::size_words(MAX_LINE_BYTES as u64)
            ));
        }
        buf.extend_from_slice(read);
    }
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Sends one runtime API command to `socket` (a unix path, `unix:/…` or `tcp://host:port`)
/// within `timeout`, and returns HAProxy's answer (at most the HAProxy source's default
/// answer limit).
pub async fn runtime_command(
    socket: &str,
    command: &str,
    timeout: Duration,
) -> Result<String, String> {
    let limit = super::AnswerLimit::of(crate::model::SourceKind::Haproxy, None);
    runtime_command_within(socket, command, timeout, limit).await
}

/// [`runtime_command`] with the answer bounded by `limit`.
pub async fn runtime_command_within(
    socket: &str,
    command: &str,
    timeout: Duration,
    limit: super::AnswerLimit,
) -> Result<String, String> {
    let answer = async {
        if let Some(addr) = socket.strip_prefix("tcp://") {
            let s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("{e} ({addr})"))?;
            runtime_exchange(s, command, limit, addr).await
        } else {
            let path = socket.strip_prefix("unix:").unwrap_or(socket);
            let s = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|e| format!("{e} ({path})"))?;
            runtime_exchange(s, command, limit, path).await
        }
    };
    super::bounded(timeout, socket, answer).await
}

async fn fetch(
    ep: &Endpoint,
    http: &super::HttpClient,
    timeout: Duration,
    limit: super::AnswerLimit,
) -> Result<String, String> {
    let text = match ep {
        Endpoint::Unix(path) => runtime_command_within(path, "show stat", timeout, limit).await,
        Endpoint::Tcp(addr) => {
            runtime_command_within(&format!("tcp://{addr}"), "show stat", timeout, limit).await
        }
        Endpoint::Http(url) => super::http::get_ok(http, url, timeout).await,
    }?;
    // The stats page is bounded as a whole by the HTTP client; its lines as the runtime
    // API's are, so a page that is not HAProxy's CSV says so.
    if text.lines().any(|l| l.len() > MAX_LINE_BYTES) {
        return Err(format!(
            "a line longer than {}: is this HAProxy's stats CSV? ({})",
            super::size_words(MAX_LINE_BYTES as u64),
            match ep {
                Endpoint::Unix(s) | Endpoint::Tcp(s) => s.clone(),
                Endpoint::Http(url) => super::redact_url(url),
            }
        ));
    }
    Ok(text)
}

/// Runs the HAProxy source until the engine stops.
pub async fn run(cfg: HaproxyConfig, emitter: Emitter) {
    let ep = match endpoint(&cfg) {
        Ok(ep) => ep,
        Err(e) => {
            emitter.status(SourceStatus::Down, Some(e)).await;
            return;
        }
    };
    let connection = Connection::new(Duration::from_millis(cfg.timeout_millis.max(10)));
    let http = match super::http::client_of(&cfg, connection.timeout) {
        Ok(c) => c,
        Err(e) => {
            emitter.status(SourceStatus::Down, Some(e)).await;
            return;
        }
    };
    let pace = Pace {
        interval: Duration::from_millis(cfg.interval_millis.max(10)),
        bound: Some((connection.timeout, "the HAProxy runtime API".to_owned())),
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(5), 0x4a9),
        report: Report::Changes {
            // No periodic refresh: the engine's channel loses nothing, and a fact said
            // again is no event.
            full_every: None,
            detail_follows: false,
        },
    };
    let limit = super::AnswerLimit::of(crate::model::SourceKind::Haproxy, cfg.max_answer_bytes);
    let stats = Stats {
        ep,
        http,
        limit,
        timeout: connection.timeout,
        gateway: ServiceId::new(&cfg.name),
        codes: HashMap::new(),
    };
    drive(stats, pace, &emitter).await;
}

/// One HAProxy's stats, polled.
struct Stats {
    ep: Endpoint,
    http: super::HttpClient,
    limit: super::AnswerLimit,
    timeout: Duration,
    gateway: ServiceId,
    /// Each server's last completed check code, for the polls that catch a check
    /// running (HAProxy then says code 0).
    codes: HashMap<(String, String), Option<u32>>,
}

/// A running check has no code yet: the last completed one stands for it, so a
/// server's words do not change at every check.
fn fill_running_codes(rows: &mut [StatRow], codes: &mut HashMap<(String, String), Option<u32>>) {
    for r in rows.iter_mut().filter(|r| r.kind == RowKind::Server) {
        let key = (r.proxy.clone(), r.name.clone());
        if r.check_running {
            r.check_code = codes.get(&key).copied().flatten();
        } else {
            codes.insert(key, r.check_code);
        }
    }
}

impl Poll for Stats {
    type Answer = Vec<StatRow>;

    async fn fetch(&mut self) -> Result<Vec<StatRow>, String> {
        let text = fetch(&self.ep, &self.http, self.timeout, self.limit).await?;
        let mut rows = parse_stat_csv(&text).map_err(|e| e.to_string())?;
        fill_running_codes(&mut rows, &mut self.codes);
        Ok(rows)
    }

    fn translate(&self, rows: Vec<StatRow>) -> Polled {
        let count = |k| rows.iter().filter(|r| r.kind == k).count();
        Polled {
            state: rows_to_events(&self.gateway, &rows),
            gauges: check_latency(&rows),
            detail: format!(
                "{} proxies, {} servers",
                count(RowKind::Backend),
                count(RowKind::Server)
            ),
            ..Polled::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from HAProxy 2.6.12 (Debian 12) in the test rig: `show stat` over the
    /// runtime socket with web1 up, web2's backend killed, and web3 a backup (no backend).
    const SHOW_STAT: &str = include_str!("../../tests/fixtures/haproxy/show-stat-rig.csv");

    #[test]
    fn parses_rows_by_header_name() {
        let rows = parse_stat_csv(SHOW_STAT).expect("parse");
        assert!(rows.len() >= 5, "{rows:?}");
        let web2 = rows.iter().find(|r| r.name == "web2").expect("web2");
        assert_eq!(web2.kind, RowKind::Server);
        assert_eq!(web2.status, "DOWN");
        assert_eq!(web2.check_status, "L4CON");
        assert_eq!(web2.addr.as_deref(), Some("127.0.0.1:9002"));
        let web3 = rows.iter().find(|r| r.name == "web3").expect("web3");
        assert!(web3.backup);
        assert_eq!(rows[0].kind, RowKind::Frontend);
        assert!(
            rows.iter()
                .any(|r| r.proxy == "be_web" && r.kind == RowKind::Backend)
        );
        let web1 = rows.iter().find(|r| r.name == "web1").expect("web1");
        assert_eq!(
            (
                web1.status.as_str(),
                web1.check_status.as_str(),
                web1.check_code
            ),
            ("UP", "L7OK", Some(200))
        );
    }

    #[test]
    fn status_words_map_to_health_and_explain_admin_states() {
        let cases = [
            ("UP", Health::Healthy),
            ("no check", Health::Healthy),
            ("UP 1/2", Health::Degraded),
            ("DOWN", Health::Unhealthy),
            ("DOWN 1/2", Health::Unhealthy),
            ("DRAIN", Health::Degraded),
            ("NOLB", Health::Degraded),
            ("MAINT", Health::Degraded),
            ("MAINT (via be_other/web1)", Health::Degraded),
            ("MAINT (resolution)", Health::Degraded),
            ("weird", Health::Unknown),
        ];
        for (status, health) in cases {
            assert_eq!(server_health(status).0, health, "{status}");
        }
        assert!(
            server_health("DRAIN")
                .1
                .is_some_and(|w| w.contains("operator"))
        );
        assert!(
            server_health("DOWN").1.is_none(),
            "a failure is not an admin state"
        );
    }

    #[test]
    fn events_make_backends_services_and_servers_instances() {
        let rows = parse_stat_csv(SHOW_STAT).expect("parse");
        let events = rows_to_events(&ServiceId::new("haproxy"), &rows);
        assert!(events.contains(&EventBody::Service {
            service: ServiceId::new("haproxy"),
            role: ServiceRole::Gateway
        }));
        assert!(events.iter().any(
            |e| matches!(e, EventBody::Route { service, .. } if service.as_str() == "be_web")
        ));
        let web2 = events
            .iter()
            .find_map(|e| match e {
                EventBody::InstanceHealth {
                    instance,
                    health,
                    detail,
                    ..
                } if instance.as_str() == "127.0.0.1:9002" => {
                    Some((*health, detail.clone().unwrap_or_default()))
                }
                _ => None,
            })
            .expect("web2 instance");
        assert_eq!(web2.0, Health::Unhealthy);
        assert!(web2.1.contains("L4CON"), "{}", web2.1);
        let backup = events.iter().any(|e| matches!(e, EventBody::InstanceHealth { detail: Some(d), .. } if d.contains("backup")));
        assert!(backup);
    }

    /// A check's latency is no part of a server's health: it moves at every check. It
    /// is each backend's median and slowest, as series.
    #[test]
    fn check_latency_is_a_series_of_the_backend_not_a_detail() {
        let rows = parse_stat_csv(SHOW_STAT).expect("parse");
        let events = rows_to_events(&ServiceId::new("haproxy"), &rows);
        for e in &events {
            if let EventBody::InstanceHealth {
                detail: Some(d), ..
            } = e
            {
                assert!(!d.contains(" ms"), "{d}");
            }
        }
        let mut slower = rows.clone();
        for r in &mut slower {
            r.check_millis = r.check_millis.map(|ms| ms + 7);
        }
        assert_eq!(
            rows_to_events(&ServiceId::new("haproxy"), &slower),
            events,
            "a slower check changes no fact"
        );
        let series = check_latency(&rows);
        let names: Vec<(String, String)> = series
            .iter()
            .filter_map(|e| match e {
                EventBody::Metric {
                    service, series, ..
                } => Some((service.to_string(), series.clone())),
                _ => None,
            })
            .collect();
        assert!(
            names.contains(&("be_web".to_owned(), "check latency max".to_owned())),
            "{names:?}"
        );
        assert!(names.contains(&("be_web".to_owned(), "check latency p50".to_owned())));
    }

    /// A poll that catches a check running (`* L7OK`, code 0) says what the last
    /// completed check said: the server's words do not change at every check.
    #[test]
    fn a_running_check_says_the_last_result() {
        let header = "# pxname,svname,status,type,check_status,check_code,check_duration\n";
        let done = format!("{header}be,web1,UP,2,L7OK,200,1\n");
        let running = format!("{header}be,web1,UP,2,* L7OK,0,\n");
        let mut codes = HashMap::new();
        let mut a = parse_stat_csv(&done).expect("done");
        fill_running_codes(&mut a, &mut codes);
        let mut b = parse_stat_csv(&running).expect("running");
        assert!(b[0].check_running);
        assert_eq!(b[0].check_status, "L7OK");
        fill_running_codes(&mut b, &mut codes);
        let gw = ServiceId::new("edge");
        assert_eq!(rows_to_events(&gw, &a), rows_to_events(&gw, &b));
    }

    /// The gateway's own instances are its frontends: an open one healthy, a stopped
    /// one unhealthy, so the gateway's box shows what it listens on, not `0/0`.
    #[test]
    fn frontends_are_the_gateways_own_instances() {
        let mut rows = parse_stat_csv(SHOW_STAT).expect("parse");
        let fe: Vec<_> = rows
            .iter()
            .filter(|r| r.kind == RowKind::Frontend)
            .map(|r| r.proxy.clone())
            .collect();
        assert!(!fe.is_empty(), "the recorded stats have a frontend");
        if let Some(r) = rows.iter_mut().find(|r| r.kind == RowKind::Frontend) {
            r.status = "STOP".into();
        }
        let gateway = ServiceId::new("edge");
        let own: Vec<(String, Health, String)> = rows_to_events(&gateway, &rows)
            .into_iter()
            .filter_map(|e| match e {
                EventBody::InstanceHealth {
                    instance,
                    service,
                    health,
                    detail,
                } if service == gateway => {
                    Some((instance.to_string(), health, detail.unwrap_or_default()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(own.len(), fe.len(), "{own:?}");
        assert_eq!(own[0].0, format!("edge/{}", fe[0]));
        assert_eq!(own[0].1, Health::Unhealthy);
        assert!(own[0].2.contains("stopped"), "{}", own[0].2);
        assert!(own[1..].iter().all(|o| o.1 == Health::Healthy), "{own:?}");
    }

    /// `be_web` has a backup (web3): its choice is the active servers while web1 is UP,
    /// the backup once no active server is, nothing once the backup is down too.
    #[test]
    fn a_backend_with_backups_says_which_servers_take_its_traffic() {
        let rows = parse_stat_csv(SHOW_STAT).expect("parse");
        let choice = |rows: &[StatRow]| {
            rows_to_events(&ServiceId::new("haproxy"), rows)
                .into_iter()
                .find_map(|e| match e {
                    EventBody::Chose { service, choice } if service.as_str() == "be_web" => {
                        Some(choice)
                    }
                    _ => None,
                })
                .expect("be_web chooses")
        };
        let c = choice(&rows);
        assert_eq!(c.chosen.as_deref(), Some("active servers"));
        assert!(c.primary);
        let mut down = rows.clone();
        for r in &mut down {
            if r.name == "web1" {
                r.status = "DOWN".into();
            }
        }
        let c = choice(&down);
        assert_eq!(c.chosen, None, "web3 is down too: {}", c.detail);
        assert!(c.detail.contains("503"));
        for r in &mut down {
            if r.name == "web3" {
                r.status = "UP".into();
            }
        }
        let c = choice(&down);
        assert_eq!(c.chosen.as_deref(), Some("backup servers"));
        assert!(!c.primary);
        assert!(c.detail.contains("web3"), "{}", c.detail);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let html = "<html><body>503 Service Unavailable</body></html>";
        let err = parse_stat_csv(html).expect_err("html");
        assert!(err.to_string().contains("not HAProxy stats CSV"), "{err}");
        assert!(
            err.to_string().contains("503 Service"),
            "shows what came back: {err}"
        );
        assert!(parse_stat_csv("").is_err());
        let no_status = "# pxname,svname,type\nbe,web1,2\n";
        assert_eq!(
            parse_stat_csv(no_status),
            Err(CsvError::MissingColumn("status"))
        );
        // A truncated last line is skipped, not a panic.
        let truncated = &SHOW_STAT[..SHOW_STAT.len() - 30];
        assert!(parse_stat_csv(truncated).is_ok());
    }

    #[test]
    fn upstream_servers_state_doc_example_is_not_stat_csv() {
        // `show servers state` (format 1) from HAProxy's doc: a different command; the
        // parser must refuse it clearly rather than misread it.
        let text = include_str!("../../tests/fixtures/haproxy/servers-state-doc-example.txt");
        assert!(matches!(parse_stat_csv(text), Err(CsvError::NoHeader(_))));
    }
}
