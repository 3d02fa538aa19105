//! Traefik: the read-only API (`/api/rawdata`): routers -> middlewares -> services.
//!
//! Each router (Traefik's own `@internal` ones aside) becomes a route from the Traefik
//! gateway (named after the source) to its service. A load-balancer service's servers
//! become instances keyed by `host:port`, with the `serverStatus` Traefik's health check
//! reports (UP healthy, DOWN unhealthy; no health check configured: unknown, saying so).
//! Weighted, mirroring and failover services are composed services ([`compose`]):
//! their parts (also drawn as edges, so the topology shows how traffic is split), the
//! load balancers a router reaches through them, and where each failover sends its
//! traffic now.
//!
//! Traefik's circuit-breaker *state* is in neither this API nor its metrics: the
//! middlewares and their expressions are read (`circuit_breakers`), and [`infer`]
//! follows each breaker from Traefik's own response counters (`/metrics`), labelled
//! "inferred".

pub mod compose;
pub mod infer;
#[cfg(test)]
mod recorded;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::poll::{Pace, Poll, Polled, Report, drive};
use super::{Backoff, Emitter};
use crate::event::EventBody;
use crate::model::{BreakerId, Health, InstanceId, RouteId, ServiceId, ServiceRole, SourceStatus};

/// Configuration of one Traefik.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraefikConfig {
    /// Source name; also the gateway's name in the topology.
    pub name: String,
    /// API base URL (`http://127.0.0.1:8080`; the `traefik` entry point).
    pub api: String,
    /// Time between polls, in milliseconds.
    #[serde(default = "default_interval")]
    pub interval_millis: u64,
    /// Bound on each request, in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_millis: u64,
    /// Traefik's Prometheus endpoint, read to infer its circuit breakers' state
    /// (default: `/metrics` on the API's address; `""` turns inference off).
    #[serde(default)]
    pub metrics: Option<String>,
    /// The file-provider file (YAML or TOML) the console may rewrite to move a router
    /// to its fallback and back (the `fallback` and `restore` workflows).
    #[serde(default)]
    pub dynamic_file: Option<String>,
    /// Routers that have a fallback service.
    #[serde(default)]
    pub routes: Vec<TraefikRoute>,
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

impl crate::sources::Settings for TraefikConfig {
    fn reach(&self) -> Option<crate::sources::ReachSettings<'_>> {
        Some(crate::sources::ReachSettings {
            urls: std::iter::once(self.api.as_str())
                .chain(self.metrics.as_deref().filter(|m| !m.is_empty()))
                .collect(),
            tls: self.tls.as_ref(),
            auth: self.auth.as_ref(),
            proxy: &self.proxy,
            timeout: std::time::Duration::from_millis(self.timeout_millis.max(10)),
            max_answer: crate::sources::AnswerLimit::of(
                crate::model::SourceKind::Traefik,
                self.max_answer_bytes,
            ),
        })
    }
}

/// A router with a fallback: `fallback` sends it to `fallback`, `restore` back to
/// `primary`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraefikRoute {
    /// The router's name in the file.
    pub router: String,
    /// Its service in normal times.
    pub primary: String,
    /// The service to send it to in a failover.
    pub fallback: String,
}

const fn default_interval() -> u64 {
    500
}

const fn default_timeout() -> u64 {
    1000
}

/// What `/api/rawdata` says, reduced to what the console shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawData {
    /// Router name -> (service it sends to, middlewares).
    pub routers: BTreeMap<String, (String, Vec<String>)>,
    /// Service name -> servers (`host:port`, status if health-checked).
    pub servers: BTreeMap<String, Vec<(String, Option<String>)>>,
    /// Service name -> how it combines other services (weighted, mirroring, failover)
    /// and which, in Traefik's order (a failover's main first, a mirroring's main
    /// before its mirrors).
    pub composed: BTreeMap<String, compose::Composed>,
    /// Circuit-breaker middlewares by name.
    pub circuit_breakers: BTreeMap<String, CircuitBreaker>,
}

/// A `circuitBreaker` middleware.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// Its expression (`NetworkErrorRatio() > 0.30`).
    pub expression: String,
    /// How long it answers with the fallback once tripped (default 10 s).
    pub fallback_millis: Option<i64>,
    /// The status code it answers with while tripped (`responseCode`, default 503).
    pub response_code: u16,
}

/// One router's instance of a circuit-breaker middleware.
#[derive(Clone, Debug, PartialEq)]
pub struct RouterBreaker {
    /// The console's name for it: `gateway/middleware` (`gateway/middleware/router`
    /// when the middleware serves several routers).
    pub id: BreakerId,
    /// The router.
    pub router: String,
    /// The service the router sends to.
    pub service: String,
    /// The load balancers that service reaches, whose counters are read when the
    /// router's own are not exported (the service itself when it is one).
    pub leaves: Vec<String>,
    /// How it is followed, or why it cannot be.
    pub inference: Result<infer::Inference, String>,
    /// The middleware.
    pub middleware: CircuitBreaker,
    /// Traefik exports the router's own counters (`addRoutersLabels`), which are then
    /// read rather than its load balancers'.
    pub router_counted: bool,
}

impl RouterBreaker {
    /// Which counters follow it, in words.
    pub fn counters_words(&self) -> String {
        if self.router_counted {
            format!(
                "router {}'s response counters ({}; its {}s from {}, as the router also counts the breaker's own)",
                self.router,
                infer::ROUTER_METRIC,
                self.middleware.response_code,
                self.leaves.join(", ")
            )
        } else if self.leaves.len() == 1 && self.leaves[0] == self.service {
            format!("{}'s response counters ({})", self.service, infer::METRIC)
        } else {
            format!(
                "the response counters of {}, the load balancers {} reaches ({})",
                self.leaves.join(", "),
                self.service,
                infer::METRIC
            )
        }
    }
}

/// Errors reading the API.
#[derive(Debug, thiserror::Error)]
pub enum TraefikError {
    /// Not JSON (an HTML page, a truncated body).
    #[error("not JSON from the Traefik API: {0}")]
    NotJson(String),
    /// JSON without routers or services.
    #[error("unexpected JSON from the Traefik API: no routers or services")]
    Shape,
}

/// `name` qualified with `provider` when it has none (routers name services of their own
/// provider without the `@provider` suffix).
fn qualify(name: &str, provider: &str) -> String {
    if name.contains('@') || provider.is_empty() {
        name.to_owned()
    } else {
        format!("{name}@{provider}")
    }
}

fn provider_of(name: &str) -> &str {
    name.rsplit_once('@').map_or("", |(_, p)| p)
}

fn host_port(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// Parses `/api/rawdata`.
pub fn parse_rawdata(text: &str) -> Result<RawData, TraefikError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|_| TraefikError::NotJson(crate::sources::excerpt::excerpt(text)))?;
    let routers = v.get("routers").and_then(Value::as_object);
    let services = v.get("services").and_then(Value::as_object);
    if routers.is_none() && services.is_none() {
        return Err(TraefikError::Shape);
    }
    let mut out = RawData::default();
    for (name, r) in routers.into_iter().flatten() {
        if name.ends_with("@internal") {
            continue;
        }
        let provider = provider_of(name);
        let Some(service) = r.get("service").and_then(Value::as_str) else {
            continue;
        };
        let mws = r
            .get("middlewares")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .filter_map(Value::as_str)
                    .map(|m| qualify(m, provider))
                    .collect()
            })
            .unwrap_or_default();
        out.routers
            .insert(name.clone(), (qualify(service, provider), mws));
    }
    for (name, s) in services.into_iter().flatten() {
        if name.ends_with("@internal") {
            continue;
        }
        let provider = provider_of(name);
        if let Some(lb) = s.get("loadBalancer") {
            let status = s.get("serverStatus").and_then(Value::as_object);
            let servers = lb
                .get("servers")
                .and_then(Value::as_array)
                .map(|ss| {
                    ss.iter()
                        .filter_map(|srv| srv.get("url").and_then(Value::as_str))
                        .map(|url| {
                            (
                                host_port(url),
                                status
                                    .and_then(|st| st.get(url))
                                    .and_then(Value::as_str)
                                    .map(str::to_owned),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.servers.insert(name.clone(), servers);
        }
        if let Some(c) = compose::parts_of(s, provider) {
            out.composed.insert(name.clone(), c);
        }
    }
    for (name, m) in v
        .get("middlewares")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let cb = m.get("circuitBreaker");
        if let Some(expr) = cb.and_then(|c| c.get("expression")).and_then(Value::as_str) {
            let fallback_millis =
                cb.and_then(|c| c.get("fallbackDuration"))
                    .and_then(|d| match d {
                        Value::String(s) => infer::go_duration_millis(s),
                        // A bare number is nanoseconds, as Go encodes a time.Duration.
                        Value::Number(n) => n.as_f64().map(|ns| (ns / 1e6).round() as i64),
                        _ => None,
                    });
            let response_code = cb
                .and_then(|c| c.get("responseCode"))
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(503);
            out.circuit_breakers.insert(
                name.clone(),
                CircuitBreaker {
                    expression: expr.to_owned(),
                    fallback_millis,
                    response_code,
                },
            );
        }
    }
    Ok(out)
}

/// Each router's circuit breakers.
pub fn router_breakers(gateway: &ServiceId, raw: &RawData) -> Vec<RouterBreaker> {
    let users = |mw: &str| {
        raw.routers
            .values()
            .filter(|(_, mws)| mws.iter().any(|m| m == mw))
            .count()
    };
    let mut out = Vec::new();
    for (router, (service, mws)) in &raw.routers {
        for mw in mws {
            let Some(cb) = raw.circuit_breakers.get(mw) else {
                continue;
            };
            let id = if users(mw) > 1 {
                format!("{gateway}/{mw}/{router}")
            } else {
                format!("{gateway}/{mw}")
            };
            out.push(RouterBreaker {
                id: BreakerId::new(id),
                router: router.clone(),
                service: service.clone(),
                leaves: compose::leaves(raw, service),
                inference: infer::parse_expression(&cb.expression),
                middleware: cb.clone(),
                router_counted: false,
            });
        }
    }
    out
}

/// Events for a parsed rawdata document; `breakers` are the router breakers the
/// console infers (those it can follow, with counters to follow them by).
pub fn to_events(gateway: &ServiceId, raw: &RawData, breakers: &[RouterBreaker]) -> Vec<EventBody> {
    let mut out = vec![EventBody::Service {
        service: gateway.clone(),
        role: ServiceRole::Gateway,
    }];
    let mut services: Vec<&String> = raw.servers.keys().chain(raw.composed.keys()).collect();
    services.sort();
    services.dedup();
    for s in services {
        out.push(EventBody::Service {
            service: ServiceId::new(s),
            role: ServiceRole::Service,
        });
    }
    let mut followed: Vec<&RouterBreaker> = Vec::new();
    for b in breakers {
        if let Ok(inference) = &b.inference {
            followed.push(b);
            out.push(EventBody::BreakerConfigured {
                breaker: b.id.clone(),
                service: ServiceId::new(&b.service),
                config: inference.breaker_config(b.middleware.fallback_millis),
                inferred: Some(inference.describe(&b.middleware.expression, &b.counters_words())),
            });
        }
    }
    for (router, (service, _middlewares)) in &raw.routers {
        out.push(EventBody::Route {
            route: RouteId::new(format!("{gateway}/{router}")),
            gateway: gateway.clone(),
            service: ServiceId::new(service),
            breaker: followed
                .iter()
                .find(|b| &b.router == router)
                .map(|b| b.id.clone()),
        });
    }
    for (parent, c) in &raw.composed {
        out.push(EventBody::Composed {
            service: ServiceId::new(parent),
            composition: c.composition,
            parts: c.parts.iter().map(ServiceId::new).collect(),
        });
        for k in &c.parts {
            out.push(EventBody::Edge {
                from: ServiceId::new(parent),
                to: ServiceId::new(k),
            });
        }
    }
    for (service, choice) in compose::choices(raw) {
        out.push(EventBody::Chose {
            service: ServiceId::new(service),
            choice,
        });
    }
    for (service, servers) in &raw.servers {
        for (addr, status) in servers {
            let (health, detail) = match status.as_deref() {
                Some("UP") => (Health::Healthy, "UP (Traefik health check)".to_owned()),
                Some("DOWN") => (Health::Unhealthy, "DOWN (Traefik health check)".to_owned()),
                Some(other) => (Health::Unknown, format!("{other} (Traefik health check)")),
                None => (
                    Health::Unknown,
                    "no health check configured in Traefik".to_owned(),
                ),
            };
            out.push(EventBody::InstanceHealth {
                instance: InstanceId::new(addr),
                service: ServiceId::new(service),
                health,
                detail: Some(detail),
            });
        }
    }
    out
}

/// Reads Traefik's response counters.
async fn fetch_codes(
    client: &super::HttpClient,
    url: &str,
    timeout: Duration,
) -> Result<infer::Counters, String> {
    let body = super::http::get_ok(client, url, timeout)
        .await
        .map_err(|e| {
            if e.starts_with("HTTP ") {
                format!("{e}: is Traefik started with --metrics.prometheus=true?")
            } else {
                e
            }
        })?;
    infer::read_counters(&body).map_err(|e| format!("{e} ({url})"))
}

/// The source's one-line detail.
fn detail_line(
    raw: &RawData,
    breakers: &[RouterBreaker],
    metrics: Option<&Result<(), String>>,
) -> String {
    let mut out = format!(
        "{} routers, {} circuit breakers configured",
        raw.routers.len(),
        raw.circuit_breakers.len()
    );
    let followable = breakers.iter().filter(|b| b.inference.is_ok()).count();
    match metrics {
        Some(Ok(())) if followable > 0 => {
            let _ = write!(out, ", {followable} inferred from /metrics");
        }
        Some(Err(e)) if followable > 0 => {
            let _ = write!(out, "; breaker state not inferred: {e}");
        }
        None if followable > 0 => out.push_str("; breaker inference off"),
        _ => {}
    }
    for b in breakers {
        if let Err(why) = &b.inference {
            let _ = write!(out, "; {} not inferred: {why}", b.id);
        }
    }
    out
}

/// Runs the Traefik source until the engine stops.
pub async fn run(cfg: TraefikConfig, emitter: Emitter) {
    let timeout = Duration::from_millis(cfg.timeout_millis.max(10));
    let client = match super::http::client_of(&cfg, timeout) {
        Ok(c) => c,
        Err(e) => {
            emitter.status(SourceStatus::Down, Some(e)).await;
            return;
        }
    };
    let api = cfg.api.trim_end_matches('/');
    let url = format!("{api}/api/rawdata");
    let metrics_url = match cfg.metrics.as_deref() {
        Some("") => None,
        Some(u) => Some(u.to_owned()),
        None => Some(format!("{api}/metrics")),
    };
    let pace = Pace {
        interval: Duration::from_millis(cfg.interval_millis.max(10)),
        // The API and the counters are each bounded by `timeout` on their own.
        bound: None,
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(5), 0x7f),
        report: Report::Changes {
            full_every: None,
            detail_follows: true,
        },
    };
    let polled = Api {
        gateway: ServiceId::new(&cfg.name),
        client,
        timeout,
        url,
        metrics_url,
        deltas: infer::Deltas::default(),
        routers_counted: std::collections::BTreeSet::new(),
        metrics: None,
        metrics_read: None,
        // Counters are read with each poll, but no more than four times a second.
        metrics_every: Duration::from_millis(cfg.interval_millis.max(250)),
    };
    drive(polled, pace, &emitter).await;
}

/// One Traefik's API and response counters, polled.
struct Api {
    gateway: ServiceId,
    client: super::HttpClient,
    timeout: Duration,
    url: String,
    metrics_url: Option<String>,
    /// The counters' last reading, to count calls since.
    deltas: infer::Deltas,
    /// The routers whose own counters the last reading had.
    routers_counted: std::collections::BTreeSet<String>,
    /// Whether the last read of the counters worked (none: not read yet).
    metrics: Option<Result<(), String>>,
    metrics_read: Option<tokio::time::Instant>,
    metrics_every: Duration,
}

/// One poll's answer: the routers, their breakers, and the calls per service (and
/// router) since the last reading of the counters (when they were read).
struct Answer {
    raw: RawData,
    breakers: Vec<RouterBreaker>,
    since: Option<infer::Counters>,
}

impl Poll for Api {
    type Answer = Answer;

    async fn fetch(&mut self) -> Result<Answer, String> {
        let (client, timeout, url) = (&self.client, self.timeout, &self.url);
        let polled = async {
            let body = super::http::get_ok(client, url, timeout).await?;
            parse_rawdata(&body).map_err(|e| format!("{e} ({url})"))
        };
        let raw = super::bounded(timeout, url, polled).await?;
        // The counters behind the inferred breakers.
        let mut breakers = router_breakers(&self.gateway, &raw);
        let mut since = None;
        if let Some(murl) = &self.metrics_url
            && breakers.iter().any(|b| b.inference.is_ok())
            && self
                .metrics_read
                .is_none_or(|t| t.elapsed() >= self.metrics_every)
        {
            self.metrics_read = Some(tokio::time::Instant::now());
            match super::bounded(timeout, murl, fetch_codes(client, murl, timeout)).await {
                Ok(codes) => {
                    self.routers_counted = codes.routers.keys().cloned().collect();
                    since = Some(self.deltas.next(codes));
                    self.metrics = Some(Ok(()));
                }
                Err(e) => {
                    self.deltas = infer::Deltas::default();
                    self.metrics = Some(Err(e));
                }
            }
        }
        for b in &mut breakers {
            b.router_counted = self.routers_counted.contains(&b.router);
        }
        Ok(Answer {
            raw,
            breakers,
            since,
        })
    }

    fn translate(&self, a: Answer) -> Polled {
        let mut samples = Vec::new();
        if let Some(since) = &a.since {
            for b in &a.breakers {
                let seen = since.seen_by(&b.router, &b.leaves, b.middleware.response_code);
                if let (Ok(inference), Some(codes)) = (&b.inference, seen) {
                    let (ok, failed) = inference.calls(&codes);
                    if ok + failed > 0 {
                        samples.push(EventBody::BreakerCalls {
                            breaker: b.id.clone(),
                            ok,
                            failed,
                        });
                    }
                }
            }
        }
        let inferring = matches!(self.metrics, Some(Ok(())));
        let detail = detail_line(&a.raw, &a.breakers, self.metrics.as_ref());
        let shown: &[RouterBreaker] = if inferring { &a.breakers } else { &[] };
        Polled {
            state: to_events(&self.gateway, &a.raw, shown),
            samples,
            detail,
            ..Polled::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_rawdata_with_weighted_and_mirroring() {
        let raw = parse_rawdata(include_str!(
            "../../../tests/fixtures/traefik/rawdata-etcd.json"
        ))
        .expect("parse");
        assert!(
            raw.routers.keys().all(|r| !r.ends_with("@internal")),
            "Traefik's own routers are left out"
        );
        assert_eq!(
            raw.routers["Router0@etcd"].0, "simplesvc@etcd",
            "service names take the router's provider"
        );
        assert!(
            raw.routers["Router0@etcd"]
                .1
                .contains(&"compressor@etcd".to_owned())
        );
        assert_eq!(raw.servers["simplesvc@etcd"].len(), 2);
        assert_eq!(raw.servers["simplesvc@etcd"][0].0, "10.0.1.1:8888");
        assert_eq!(
            raw.composed["Service03@etcd"].parts,
            vec!["srvcA@etcd".to_owned(), "srvcB@etcd".to_owned()]
        );
        assert_eq!(
            raw.composed["Service03@etcd"].composition,
            crate::model::Composition::Weighted
        );
        assert!(
            raw.composed["mirror@etcd"]
                .parts
                .contains(&"simplesvc@etcd".to_owned())
        );
    }

    #[test]
    fn api_golden_rawdata_parses_and_becomes_a_topology() {
        let raw = parse_rawdata(include_str!(
            "../../../tests/fixtures/traefik/api-getrawdata.json"
        ))
        .expect("parse");
        let events = to_events(&ServiceId::new("traefik"), &raw, &[]);
        assert!(events.iter().any(|e| matches!(e, EventBody::Route { service, .. } if service.as_str() == "foo-service@myprovider")));
        let server = events
            .iter()
            .find_map(|e| match e {
                EventBody::InstanceHealth {
                    instance,
                    health,
                    detail,
                    ..
                } => Some((instance.clone(), *health, detail.clone())),
                _ => None,
            })
            .expect("an instance");
        assert_eq!(server.0.as_str(), "127.0.0.1");
        assert_eq!(
            server.1,
            Health::Unknown,
            "no serverStatus: unknown, not healthy"
        );
        assert!(server.2.unwrap_or_default().contains("no health check"));
    }

    #[test]
    fn server_status_and_circuit_breakers() {
        let doc = r#"{"routers":{"web@file":{"service":"websvc","middlewares":["cb"]}},
            "middlewares":{"cb@file":{"circuitBreaker":{"expression":"NetworkErrorRatio() > 0.30"}}},
            "services":{"websvc@file":{"loadBalancer":{"servers":[{"url":"http://127.0.0.1:9001"},{"url":"http://127.0.0.1:9002"}]},
                "serverStatus":{"http://127.0.0.1:9001":"UP","http://127.0.0.1:9002":"DOWN"}}}}"#;
        let raw = parse_rawdata(doc).expect("parse");
        assert_eq!(
            raw.circuit_breakers["cb@file"].expression,
            "NetworkErrorRatio() > 0.30"
        );
        let gateway = ServiceId::new("traefik");
        let breakers = router_breakers(&gateway, &raw);
        assert_eq!(breakers.len(), 1);
        assert_eq!(breakers[0].id.as_str(), "traefik/cb@file");
        assert_eq!(breakers[0].service, "websvc@file");
        let events = to_events(&gateway, &raw, &breakers);
        assert!(events.iter().any(|e| matches!(e,
            EventBody::Route { breaker: Some(b), .. } if b.as_str() == "traefik/cb@file")));
        assert!(events.iter().any(|e| matches!(e,
            EventBody::BreakerConfigured { inferred: Some(how), config, .. }
                if how.starts_with("inferred") && (config.failure_rate_threshold - 0.3).abs() < 1e-9)));
        let health = |addr: &str| {
            events.iter().find_map(|e| match e {
                EventBody::InstanceHealth {
                    instance, health, ..
                } if instance.as_str() == addr => Some(*health),
                _ => None,
            })
        };
        assert_eq!(health("127.0.0.1:9001"), Some(Health::Healthy));
        assert_eq!(health("127.0.0.1:9002"), Some(Health::Unhealthy));
    }

    #[test]
    fn bad_bodies_are_errors() {
        assert!(matches!(
            parse_rawdata("<html>404 page not found</html>"),
            Err(TraefikError::NotJson(_))
        ));
        assert!(matches!(
            parse_rawdata(r#"{"routers": {"#),
            Err(TraefikError::NotJson(_))
        ));
        assert!(matches!(
            parse_rawdata(r#"{"version":"3.7"}"#),
            Err(TraefikError::Shape)
        ));
    }
}
