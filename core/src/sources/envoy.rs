//! Envoy's admin API: `/clusters?format=json` for hosts and their health flags, and
//! `/stats?format=json` for the circuit-breaker gauges.
//!
//! Each upstream cluster becomes a service routed from the Envoy gateway (named after
//! the source) through a breaker `<envoy>/<cluster>`; each host becomes an instance keyed
//! by `address:port`, so a backend also seen through another gateway is one node.
//!
//! Host health: a failed active health check or an outlier ejection -> unhealthy (the
//! flags are named in the detail); EDS `DRAINING`/`DEGRADED` or a failed degraded check
//! -> degraded; a host still waiting for its first check -> unknown; else healthy.
//!
//! Envoy's breaker gauges (`cx_open`, `rq_open`, `rq_pending_open`, `rq_retry_open`) are
//! 1 while a threshold is *reached*: Envoy is at capacity and rejects the excess. That is
//! not a classic open breaker, so the breaker is reported open only while a gauge is 1,
//! and its detail says "at capacity" and which threshold; the overflow counters that
//! persist are shown beside. Stat values are read as `u64` (`remaining_*` gauges can be
//! `u64::MAX`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod priority;

use super::poll::{Pace, Poll, Polled, Report, drive};
use super::{Backoff, Connection, Emitter};
use crate::event::EventBody;
use crate::model::{
    BreakerId, BreakerState, Health, InstanceId, RouteId, ServiceId, ServiceRole, SourceStatus,
};

/// Configuration of one Envoy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvoyConfig {
    /// Source name; also the gateway's name in the topology.
    pub name: String,
    /// Admin base URL (`http://127.0.0.1:9901`).
    pub admin: String,
    /// Time between polls, in milliseconds.
    #[serde(default = "default_interval")]
    pub interval_millis: u64,
    /// Bound on each request, in milliseconds.
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

impl crate::sources::Settings for EnvoyConfig {
    fn reach(&self) -> Option<crate::sources::ReachSettings<'_>> {
        Some(crate::sources::ReachSettings {
            urls: vec![self.admin.as_str()],
            tls: self.tls.as_ref(),
            auth: self.auth.as_ref(),
            proxy: &self.proxy,
            timeout: std::time::Duration::from_millis(self.timeout_millis.max(10)),
            max_answer: crate::sources::AnswerLimit::of(
                crate::model::SourceKind::Envoy,
                self.max_answer_bytes,
            ),
        })
    }
}

const fn default_interval() -> u64 {
    250
}

const fn default_timeout() -> u64 {
    1000
}

/// A host of an upstream cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// `address:port`.
    pub addr: String,
    /// Derived health.
    pub health: Health,
    /// Health flags as Envoy names them.
    pub flags: Vec<String>,
    /// Load-balancing weight.
    pub weight: Option<u64>,
    /// Success rate the outlier detector computed, 0..=100, if any.
    pub success_rate: Option<f64>,
    /// Its priority level (0, the first, when Envoy leaves it out).
    pub priority: u32,
}

/// An upstream cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    /// Its name.
    pub name: String,
    /// DEFAULT-priority thresholds as (name, value), e.g. (`max_connections`, 1024).
    pub thresholds: Vec<(String, u64)>,
    /// Hosts.
    pub hosts: Vec<Host>,
}

/// Errors reading the admin API.
#[derive(Debug, thiserror::Error)]
pub enum EnvoyError {
    /// Not JSON at all (an HTML page, a proxy's error, a truncated body).
    #[error("not JSON from the Envoy admin API: {0}")]
    NotJson(String),
    /// JSON without the expected shape.
    #[error("unexpected JSON from the Envoy admin API: {0}")]
    Shape(&'static str),
}

fn host_of(h: &Value) -> Option<Host> {
    let sa = h.get("address")?.get("socket_address")?;
    let addr = format!(
        "{}:{}",
        sa.get("address")?.as_str()?,
        sa.get("port_value").and_then(Value::as_u64).unwrap_or(0)
    );
    let hs = h.get("health_status").cloned().unwrap_or(Value::Null);
    let flag = |k: &str| hs.get(k).and_then(Value::as_bool).unwrap_or(false);
    let eds = hs
        .get("eds_health_status")
        .and_then(Value::as_str)
        .unwrap_or("HEALTHY");
    let mut flags = Vec::new();
    for (key, word) in [
        ("failed_active_health_check", "failed active health check"),
        ("failed_outlier_check", "ejected by outlier detection"),
        ("failed_active_degraded_check", "degraded by active check"),
        ("pending_dynamic_removal", "pending removal"),
        ("pending_active_hc", "waiting for first health check"),
        (
            "excluded_via_immediate_hc_fail",
            "excluded: immediate health check fail",
        ),
        ("active_hc_timeout", "health check timed out"),
    ] {
        if flag(key) {
            flags.push(word.to_owned());
        }
    }
    if eds != "HEALTHY" {
        flags.push(format!("EDS {eds}"));
    }
    let health =
        if flag("failed_active_health_check") || flag("failed_outlier_check") || eds == "UNHEALTHY"
        {
            Health::Unhealthy
        } else if eds == "DRAINING" || eds == "DEGRADED" || flag("failed_active_degraded_check") {
            Health::Degraded
        } else if flag("pending_active_hc") {
            Health::Unknown
        } else {
            Health::Healthy
        };
    Some(Host {
        addr,
        health,
        flags,
        weight: h.get("weight").and_then(Value::as_u64),
        success_rate: h
            .get("success_rate")
            .and_then(|s| s.get("value"))
            .and_then(Value::as_f64),
        priority: h
            .get("priority")
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0),
    })
}

/// Parses `/clusters?format=json`.
pub fn parse_clusters(text: &str) -> Result<Vec<Cluster>, EnvoyError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|_| EnvoyError::NotJson(crate::sources::excerpt::excerpt(text)))?;
    let list = v
        .get("cluster_statuses")
        .and_then(Value::as_array)
        .ok_or(EnvoyError::Shape("no cluster_statuses"))?;
    let mut out = Vec::new();
    for c in list {
        let Some(name) = c.get("name").and_then(Value::as_str) else {
            continue;
        };
        let mut thresholds = Vec::new();
        let ts = c
            .get("circuit_breakers")
            .and_then(|b| b.get("thresholds"))
            .and_then(Value::as_array);
        // The DEFAULT priority is the entry without a priority, or priority "DEFAULT".
        if let Some(t) = ts.and_then(|ts| {
            ts.iter().find(|t| {
                t.get("priority")
                    .and_then(Value::as_str)
                    .is_none_or(|p| p == "DEFAULT")
            })
        }) {
            for key in [
                "max_connections",
                "max_pending_requests",
                "max_requests",
                "max_retries",
            ] {
                if let Some(n) = t.get(key).and_then(Value::as_u64) {
                    thresholds.push((key.to_owned(), n));
                }
            }
        }
        let hosts = c
            .get("host_statuses")
            .and_then(Value::as_array)
            .map(|hs| hs.iter().filter_map(host_of).collect())
            .unwrap_or_default();
        out.push(Cluster {
            name: name.to_owned(),
            thresholds,
            hosts,
        });
    }
    Ok(out)
}

/// Parses `/stats?format=json` into name -> value (u64; non-numbers are skipped).
pub fn parse_stats(text: &str) -> Result<BTreeMap<String, u64>, EnvoyError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|_| EnvoyError::NotJson(crate::sources::excerpt::excerpt(text)))?;
    let list = v
        .get("stats")
        .and_then(Value::as_array)
        .ok_or(EnvoyError::Shape("no stats"))?;
    Ok(list
        .iter()
        .filter_map(|s| {
            Some((
                s.get("name")?.as_str()?.to_owned(),
                s.get("value")?.as_u64()?,
            ))
        })
        .collect())
}

/// The breaker of a cluster, from the gauges: (state, detail).
pub fn breaker_of(cluster: &Cluster, stats: &BTreeMap<String, u64>) -> (BreakerState, String) {
    let stat = |s: &str| {
        stats
            .get(&format!("cluster.{}.{s}", cluster.name))
            .copied()
            .unwrap_or(0)
    };
    let open: Vec<&str> = [
        ("cx_open", "max_connections"),
        ("rq_pending_open", "max_pending_requests"),
        ("rq_open", "max_requests"),
        ("rq_retry_open", "max_retries"),
    ]
    .iter()
    .filter(|(g, _)| stat(&format!("circuit_breakers.default.{g}")) == 1)
    .map(|(_, t)| *t)
    .collect();
    let limit = |t: &str| {
        cluster
            .thresholds
            .iter()
            .find(|(k, _)| k == t)
            .map(|(_, v)| *v)
    };
    let mut detail = if open.is_empty() {
        "below every threshold".to_owned()
    } else {
        let reached: Vec<String> = open
            .iter()
            .map(|t| limit(t).map_or((*t).to_owned(), |v| format!("{t} {v}")))
            .collect();
        format!(
            "at capacity: {} reached, Envoy rejects the excess",
            reached.join(", ")
        )
    };
    let overflow = stat("upstream_rq_pending_overflow") + stat("upstream_cx_overflow");
    if overflow > 0 {
        write!(detail, " · {overflow} overflowed so far").ok();
    }
    (
        if open.is_empty() {
            BreakerState::Closed
        } else {
            BreakerState::Open
        },
        detail,
    )
}

/// Events for `clusters` (with `stats` for the breakers).
pub fn to_events(
    gateway: &ServiceId,
    clusters: &[Cluster],
    stats: &BTreeMap<String, u64>,
) -> Vec<EventBody> {
    let mut out = vec![EventBody::Service {
        service: gateway.clone(),
        role: ServiceRole::Gateway,
    }];
    for c in clusters {
        let service = ServiceId::new(&c.name);
        let breaker = BreakerId::new(format!("{gateway}/{}", c.name));
        out.push(EventBody::Service {
            service: service.clone(),
            role: ServiceRole::Service,
        });
        out.push(EventBody::Route {
            route: RouteId::new(format!("{gateway}/{}", c.name)),
            gateway: gateway.clone(),
            service: service.clone(),
            breaker: Some(breaker.clone()),
        });
        let (breaker_state, detail) = breaker_of(c, stats);
        out.push(EventBody::BreakerReported {
            breaker,
            service: service.clone(),
            state: breaker_state,
            failure_rate: 0.0,
            detail: Some(detail),
        });
        for h in &c.hosts {
            let mut detail = if h.flags.is_empty() {
                "healthy".to_owned()
            } else {
                h.flags.join(", ")
            };
            if let Some(w) = h.weight {
                write!(detail, " · weight {w}").ok();
            }
            out.push(EventBody::InstanceHealth {
                instance: InstanceId::new(&h.addr),
                service: service.clone(),
                health: h.health,
                detail: Some(detail),
            });
        }
    }
    out
}

/// Each cluster's lowest outlier-detection success rate among its hosts, as a series of
/// the cluster: it moves at every poll, so it is a reading held while it barely moves
/// (`volatile.rs`), not part of a host's health detail.
pub fn success_rates(clusters: &[Cluster]) -> Vec<EventBody> {
    clusters
        .iter()
        .filter_map(|c| {
            let lowest = c
                .hosts
                .iter()
                .filter_map(|h| h.success_rate.filter(|s| *s >= 0.0))
                .min_by(f64::total_cmp)?;
            Some(EventBody::Metric {
                service: ServiceId::new(&c.name),
                series: "lowest success rate".to_owned(),
                value: lowest / 100.0,
                unit: crate::model::MetricUnit::Ratio,
            })
        })
        .collect()
}

/// Runs the Envoy source until the engine stops.
pub async fn run(cfg: EnvoyConfig, emitter: Emitter) {
    let connection = Connection::new(Duration::from_millis(cfg.timeout_millis.max(10)));
    let client = match super::http::client_of(&cfg, connection.timeout) {
        Ok(c) => c,
        Err(e) => {
            emitter.status(SourceStatus::Down, Some(e)).await;
            return;
        }
    };
    let base = cfg.admin.trim_end_matches('/').to_owned();
    let pace = Pace {
        interval: Duration::from_millis(cfg.interval_millis.max(10)),
        bound: Some((connection.timeout, base.clone())),
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(5), 0xe4),
        report: Report::Changes {
            full_every: None,
            detail_follows: false,
        },
    };
    let config_url = |resource: &str| {
        format!(
            "{base}/config_dump?resource={resource}&mask=cluster.name,cluster.cluster_type,cluster.load_assignment.policy"
        )
    };
    let admin = Admin {
        clusters_url: format!("{base}/clusters?format=json"),
        stats_url: format!("{base}/stats?format=json&filter=circuit_breakers|overflow"),
        config_urls: [
            config_url("static_clusters"),
            config_url("dynamic_active_clusters"),
        ],
        configs: Ok(priority::ClusterConfigs::default()),
        configs_read: None,
        configs_names: Vec::new(),
        base,
        client,
        timeout: connection.timeout,
        gateway: ServiceId::new(&cfg.name),
    };
    drive(admin, pace, &emitter).await;
}

/// The config dump (aggregates, overprovisioning) is read again this often, and
/// whenever the set of clusters changed.
const CONFIG_EVERY: Duration = Duration::from_secs(30);

/// One Envoy's admin API, polled.
struct Admin {
    base: String,
    clusters_url: String,
    stats_url: String,
    /// The config dump's static and dynamic clusters, masked to what [`priority`] reads.
    config_urls: [String; 2],
    /// What the config dump said last, or why it could not be read.
    configs: Result<priority::ClusterConfigs, String>,
    configs_read: Option<tokio::time::Instant>,
    /// The clusters' names when the config dump was last read.
    configs_names: Vec<String>,
    client: super::HttpClient,
    timeout: Duration,
    gateway: ServiceId,
}

impl Admin {
    /// Reads both halves of the config dump.
    async fn read_configs(&self) -> Result<priority::ClusterConfigs, String> {
        let (client, timeout) = (&self.client, self.timeout);
        let [a, b] = &self.config_urls;
        let (sa, sb) = tokio::join!(
            super::http::get_ok(client, a, timeout),
            super::http::get_ok(client, b, timeout)
        );
        let mut configs = priority::ClusterConfigs::default();
        configs.read(&sa?).map_err(|e| format!("{e} ({a})"))?;
        configs.read(&sb?).map_err(|e| format!("{e} ({b})"))?;
        Ok(configs)
    }
}

impl Poll for Admin {
    type Answer = (Vec<Cluster>, BTreeMap<String, u64>);

    async fn fetch(&mut self) -> Result<Self::Answer, String> {
        let started = tokio::time::Instant::now();
        let (client, timeout) = (&self.client, self.timeout);
        // Both at once: the poll is bounded by one timeout, so asking one after the
        // other would halve it (an admin 500 ms away, 1 s a round trip, went down
        // under a 2 s timeout).
        let (clusters, stats) = tokio::join!(
            super::http::get_ok(client, &self.clusters_url, timeout),
            super::http::get_ok(client, &self.stats_url, timeout)
        );
        let clusters =
            parse_clusters(&clusters?).map_err(|e| format!("{e} ({})", self.clusters_url))?;
        let stats = parse_stats(&stats?).map_err(|e| format!("{e} ({})", self.stats_url))?;
        // The config dump only from an admin that answered as Envoy (a hostile address
        // is not asked twice as much), and only in the time the poll has left: when it
        // does not fit, the next poll asks again.
        let names: Vec<String> = clusters.iter().map(|c| c.name.clone()).collect();
        let due = self
            .configs_read
            .is_none_or(|t| t.elapsed() >= CONFIG_EVERY)
            || names != self.configs_names;
        let left = timeout
            .saturating_sub(started.elapsed())
            .saturating_sub(Duration::from_millis(50));
        if due
            && !left.is_zero()
            && let Ok(configs) = tokio::time::timeout(left, self.read_configs()).await
        {
            self.configs = configs;
            self.configs_read = Some(tokio::time::Instant::now());
            self.configs_names = names;
        }
        Ok((clusters, stats))
    }

    fn translate(&self, (clusters, stats): Self::Answer) -> Polled {
        let mut events = to_events(&self.gateway, &clusters, &stats);
        let mut detail = format!("admin {}", self.base);
        match &self.configs {
            Ok(configs) => events.extend(priority::events(&clusters, configs)),
            Err(e) => {
                write!(detail, "; aggregate clusters not read: {e}").ok();
                events.extend(priority::events(
                    &clusters,
                    &priority::ClusterConfigs::default(),
                ));
            }
        }
        Polled {
            state: events,
            gauges: success_rates(&clusters),
            detail,
            ..Polled::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTERS: &str =
        include_str!("../../tests/fixtures/envoy/clusters-format-json-two-clusters.json");

    #[test]
    fn upstream_clusters_fixture_parses() {
        let clusters = parse_clusters(CLUSTERS).expect("parse");
        assert_eq!(clusters.len(), 2);
        let c = &clusters[0];
        assert_eq!(c.name, "test_cluster");
        assert!(
            c.thresholds.contains(&("max_connections".to_owned(), 1024)),
            "DEFAULT priority, not HIGH"
        );
        let h = &c.hosts[0];
        assert_eq!(h.addr, "1.2.3.4:80");
        assert_eq!(
            h.health,
            Health::Unhealthy,
            "failed active check and outlier ejection"
        );
        assert!(h.flags.iter().any(|f| f == "ejected by outlier detection"));
        assert!(h.flags.iter().any(|f| f == "EDS DRAINING"));
        assert_eq!(h.weight, Some(1));
    }

    #[test]
    fn thresholds_without_priority_are_the_default() {
        let frag = include_str!(
            "../../tests/fixtures/envoy/clusters-circuit-breakers-thresholds-fragment.json"
        );
        let doc = format!(
            r#"{{"cluster_statuses":[{{"name":"c","circuit_breakers":{frag},"host_statuses":[]}}]}}"#
        );
        let clusters = parse_clusters(&doc).expect("parse");
        assert!(
            clusters[0]
                .thresholds
                .contains(&("max_connections".to_owned(), 1))
        );
    }

    #[test]
    fn gauges_at_one_mean_at_capacity() {
        let c = Cluster {
            name: "websvc".into(),
            thresholds: vec![("max_connections".into(), 100)],
            hosts: vec![],
        };
        let stats: BTreeMap<String, u64> = [
            (
                "cluster.websvc.circuit_breakers.default.cx_open".to_owned(),
                1,
            ),
            (
                "cluster.websvc.circuit_breakers.default.remaining_cx_pools".to_owned(),
                u64::MAX,
            ),
            ("cluster.websvc.upstream_cx_overflow".to_owned(), 7),
        ]
        .into_iter()
        .collect();
        let (open, detail) = breaker_of(&c, &stats);
        assert_eq!(open, BreakerState::Open);
        assert!(
            detail.contains("at capacity: max_connections 100 reached"),
            "{detail}"
        );
        assert!(detail.contains("7 overflowed"), "{detail}");
        let (closed, detail) = breaker_of(&c, &BTreeMap::new());
        assert_eq!(closed, BreakerState::Closed);
        assert_eq!(detail, "below every threshold");
    }

    #[test]
    fn stats_are_u64_and_bad_bodies_are_errors() {
        let stats = parse_stats(
            r#"{"stats":[{"name":"a","value":18446744073709551615},{"name":"h","histograms":{}}]}"#,
        )
        .expect("parse");
        assert_eq!(stats["a"], u64::MAX);
        assert!(matches!(
            parse_stats("<html>nope</html>"),
            Err(EnvoyError::NotJson(_))
        ));
        assert!(matches!(
            parse_clusters(r#"{"cluster_statuses": "#),
            Err(EnvoyError::NotJson(_))
        ));
        assert!(matches!(
            parse_clusters(r#"{"other":1}"#),
            Err(EnvoyError::Shape(_))
        ));
    }

    #[test]
    fn events_route_the_gateway_through_a_reported_breaker() {
        let clusters = parse_clusters(CLUSTERS).expect("parse");
        let events = to_events(&ServiceId::new("envoy"), &clusters, &BTreeMap::new());
        assert!(events.iter().any(|e| matches!(e, EventBody::Route { breaker: Some(b), .. } if b.as_str() == "envoy/test_cluster")));
        assert!(events.iter().any(|e| matches!(
            e,
            EventBody::BreakerReported {
                state: BreakerState::Closed,
                ..
            }
        )));
        assert!(events.iter().any(|e| matches!(e, EventBody::InstanceHealth { instance, .. } if instance.as_str() == "1.2.3.4:80")));
    }
}
