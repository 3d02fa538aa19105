//! HTTP probes: liveness and deep readiness checks (domain.md §2).
//!
//! One probe per source: a GET of `url` every `interval_secs`, bounded by
//! `timeout_secs`. A result is a success when the answer is 2xx and its body, if it is a
//! deep readiness document, does not say DOWN. The instance turns healthy after
//! `healthy_threshold` successes in a row and unhealthy after `unhealthy_threshold`
//! failures in a row, as load balancers count (defaults 2 and 3).
//!
//! A deep readiness body is JSON with an overall status, components (each with a status,
//! a latency and a detail) and a saturation figure. The common shapes are read: the
//! domain's own (`components` with `latency_ms`), Spring Boot Actuator (`components` with
//! `details`), and the IETF health check draft (`pass`/`warn`/`fail`, `checks`). A
//! component down, or saturation at 90 % or more, makes a passing instance degraded;
//! the saturation also feeds the service's pool bar.
//!
//! A probe target that hangs holds the probe no longer than its timeout. HTML where JSON
//! was promised, or truncated JSON, is a failed check with that reason, never a panic.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Emitter;
use crate::event::EventBody;
use crate::model::{Health, InstanceId, ServiceId, SourceStatus};

/// Configuration of one probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbeConfig {
    /// Source name.
    pub name: String,
    /// What to GET (`http://10.0.0.5:8080/health/ready`).
    pub url: String,
    /// Time between probes, in seconds.
    #[serde(default = "default_interval")]
    pub interval_secs: f64,
    /// Bound on one probe, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// Successes in a row that make the instance healthy.
    #[serde(default = "default_healthy")]
    pub healthy_threshold: u32,
    /// Failures in a row that make it unhealthy.
    #[serde(default = "default_unhealthy")]
    pub unhealthy_threshold: u32,
    /// The service the instance belongs to (default: the source name).
    #[serde(default)]
    pub service: Option<String>,
    /// The instance's name (default: the URL's `host:port`).
    #[serde(default)]
    pub instance: Option<String>,
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

impl crate::sources::Settings for HttpProbeConfig {
    fn reach(&self) -> Option<crate::sources::ReachSettings<'_>> {
        Some(crate::sources::ReachSettings {
            urls: vec![self.url.as_str()],
            tls: self.tls.as_ref(),
            auth: self.auth.as_ref(),
            proxy: &self.proxy,
            timeout: std::time::Duration::from_secs_f64(self.timeout_secs.clamp(0.05, 600.0)),
            max_answer: crate::sources::AnswerLimit::of(
                crate::model::SourceKind::HttpProbe,
                self.max_answer_bytes,
            ),
        })
    }
}

const fn default_interval() -> f64 {
    5.0
}
const fn default_timeout() -> f64 {
    2.0
}
const fn default_healthy() -> u32 {
    2
}
const fn default_unhealthy() -> u32 {
    3
}

/// One component of a deep readiness document.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Its name (`database`).
    pub name: String,
    /// Whether it reports itself up.
    pub up: bool,
    /// Latency it reports, in milliseconds.
    pub latency_millis: Option<f64>,
    /// Its detail or message.
    pub detail: Option<String>,
}

/// A parsed deep readiness document.
#[derive(Clone, Debug, PartialEq)]
pub struct DeepHealth {
    /// The overall status says up (`UP`, `OK`, `pass`, `warn`).
    pub up: bool,
    /// Components, in document order.
    pub components: Vec<Component>,
    /// Saturation in percent (0..=100), if reported.
    pub saturation_pct: Option<f64>,
}

fn status_up(v: &Value) -> Option<bool> {
    let s = v.as_str()?.to_ascii_lowercase();
    Some(matches!(
        s.as_str(),
        "up" | "ok" | "pass" | "passing" | "healthy" | "serving" | "warn"
    ))
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn component(name: &str, v: &Value) -> Component {
    let first = |keys: &[&str]| keys.iter().find_map(|k| v.get(*k));
    Component {
        name: v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_owned(),
        up: first(&["status"]).and_then(status_up).unwrap_or(false),
        latency_millis: first(&[
            "latency_ms",
            "latencyMs",
            "latency",
            "observedValue",
            "responseTime",
        ])
        .and_then(Value::as_f64),
        detail: text(first(&["detail", "details", "message", "output", "error"])),
    }
}

/// Reads a deep readiness document; `None` when the JSON has no overall status.
pub fn parse_deep_health(v: &Value) -> Option<DeepHealth> {
    let up = status_up(v.get("status")?)?;
    let mut components = Vec::new();
    for key in ["components", "checks"] {
        match v.get(key) {
            Some(Value::Object(map)) => {
                for (name, c) in map {
                    // The IETF draft keys each check to a list of observations.
                    match c {
                        Value::Array(items) => {
                            components.extend(items.iter().map(|i| component(name, i)));
                        }
                        other => components.push(component(name, other)),
                    }
                }
            }
            Some(Value::Array(items)) => {
                components.extend(items.iter().map(|i| component("component", i)));
            }
            _ => {}
        }
    }
    let saturation_pct = ["saturation", "saturation_pct", "saturationPct"]
        .iter()
        .find_map(|k| v.get(*k))
        .and_then(Value::as_f64)
        .map(|s| if s <= 1.0 { s * 100.0 } else { s });
    Some(DeepHealth {
        up,
        components,
        saturation_pct,
    })
}

/// The outcome of one probe.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeResult {
    /// Counts as a success.
    pub ok: bool,
    /// Degraded although passing (a component down, saturation >= 90 %).
    pub degraded: bool,
    /// One line for the operator, without numbers that move at every probe (latency,
    /// saturation), so it changes only when the verdict does.
    pub detail: String,
    /// Saturation, percent.
    pub saturation_pct: Option<f64>,
}

/// Judges an HTTP answer.
pub fn judge(status: u16, content_type: Option<&str>, body: &str) -> ProbeResult {
    let claims_json = content_type.is_some_and(|c| c.contains("json"));
    let parsed: Option<Value> = serde_json::from_str(body.trim()).ok();
    let deep = parsed.as_ref().and_then(parse_deep_health);
    let http_ok = (200..300).contains(&status);
    let mut detail = format!("HTTP {status}");
    if claims_json && parsed.is_none() {
        let head: String = body.chars().take(40).collect();
        return ProbeResult {
            ok: false,
            degraded: false,
            detail: format!("{detail} · malformed JSON body: {head:?}"),
            saturation_pct: None,
        };
    }
    if http_ok && super::excerpt::is_login_page(body) {
        // A health URL never asks for a password: something in front of the target (a
        // sign-in proxy, a captive portal) answered for it, so the target is not seen.
        return ProbeResult {
            ok: false,
            degraded: false,
            detail: format!(
                "{detail} · a login page answered, not the target (a sign-in proxy or captive portal in front of it?)"
            ),
            saturation_pct: None,
        };
    }
    let Some(deep) = deep else {
        if !http_ok || parsed.is_none() {
            let head: String = body.chars().take(40).collect();
            if !head.trim().is_empty() && !claims_json {
                write!(detail, " · {head:?}").ok();
            }
        }
        return ProbeResult {
            ok: http_ok,
            degraded: false,
            detail,
            saturation_pct: None,
        };
    };
    let down: Vec<String> = deep
        .components
        .iter()
        .filter(|c| !c.up)
        .map(|c| {
            // Its latency moves at every probe: not part of the verdict's words.
            let mut s = format!("{} DOWN", c.name);
            if let Some(d) = &c.detail {
                write!(s, " ({d})").ok();
            }
            s
        })
        .collect();
    if !down.is_empty() {
        write!(detail, " · {}", down.join(", ")).ok();
    }
    // The figure itself is the pool bar's reading; the words say only what decides.
    if deep.saturation_pct.is_some_and(|s| s >= 90.0) {
        detail.push_str(" · saturated (90 % or more)");
    }
    let ok = http_ok && deep.up;
    let degraded = ok && (!down.is_empty() || deep.saturation_pct.is_some_and(|s| s >= 90.0));
    ProbeResult {
        ok,
        degraded,
        detail,
        saturation_pct: deep.saturation_pct,
    }
}

/// Counts results in a row and decides the health, as a load balancer would.
#[derive(Clone, Debug)]
pub struct Thresholds {
    healthy: u32,
    unhealthy: u32,
    successes: u32,
    failures: u32,
    /// The current verdict.
    pub health: Health,
}

impl Thresholds {
    /// Starts unknown.
    pub fn new(healthy: u32, unhealthy: u32) -> Self {
        Self {
            healthy: healthy.max(1),
            unhealthy: unhealthy.max(1),
            successes: 0,
            failures: 0,
            health: Health::Unknown,
        }
    }

    /// Folds one result in; returns the health after it.
    pub fn observe(&mut self, r: &ProbeResult) -> Health {
        if r.ok {
            self.successes += 1;
            self.failures = 0;
            if self.successes >= self.healthy
                || self.health == Health::Healthy
                || self.health == Health::Degraded
            {
                self.health = if r.degraded {
                    Health::Degraded
                } else {
                    Health::Healthy
                };
            }
        } else {
            self.failures += 1;
            self.successes = 0;
            if self.failures >= self.unhealthy {
                self.health = Health::Unhealthy;
            }
        }
        self.health
    }
}

fn host_port(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// Runs one probe until the engine stops.
pub async fn run(cfg: HttpProbeConfig, emitter: Emitter) {
    let timeout = Duration::from_secs_f64(cfg.timeout_secs.clamp(0.05, 600.0));
    let client = match super::http::client_of(&cfg, timeout) {
        Ok(c) => c,
        Err(e) => {
            emitter.status(SourceStatus::Down, Some(e)).await;
            return;
        }
    };
    let service = ServiceId::new(cfg.service.as_deref().unwrap_or(&cfg.name));
    let instance = InstanceId::new(cfg.instance.clone().unwrap_or_else(|| host_port(&cfg.url)));
    let detail = format!("GET {} every {} s", cfg.url, cfg.interval_secs);
    if !emitter.status(SourceStatus::Up, Some(detail)).await {
        return;
    }
    let mut thresholds = Thresholds::new(cfg.healthy_threshold, cfg.unhealthy_threshold);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(
        cfg.interval_secs.clamp(0.05, 3600.0),
    ));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<(Health, String)> = None;
    let mut last_sent = tokio::time::Instant::now();
    let mut settle = super::volatile::Settle::default();
    let latency_series = format!("probe latency {instance}");
    loop {
        ticker.tick().await;
        let started = std::time::Instant::now();
        let mut answered = true;
        let result = match tokio::time::timeout(timeout, async {
            let req = match client.get(&cfg.url) {
                Ok(req) => req,
                Err(words) => return Err(words),
            };
            let resp = req.send().await.map_err(|e| client.describe(&e, timeout))?;
            super::http::refused(resp.status(), &cfg.url)?;
            let status = resp.status().as_u16();
            let ct = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = client.body(resp, timeout).await?;
            Ok::<_, String>((status, ct, body))
        })
        .await
        {
            Ok(Ok((status, ct, body))) => judge(status, ct.as_deref(), &body),
            Ok(Err(words)) => {
                answered = false;
                ProbeResult {
                    ok: false,
                    degraded: false,
                    detail: words,
                    saturation_pct: None,
                }
            }
            Err(_) => {
                answered = false;
                ProbeResult {
                    ok: false,
                    degraded: false,
                    detail: format!("no answer within {} ms", timeout.as_millis()),
                    saturation_pct: None,
                }
            }
        };
        let elapsed = started.elapsed();
        let health = thresholds.observe(&result);
        let mut out = Vec::new();
        // A change of health or of what the check says; its numbers are readings.
        let signature = (health, result.detail.clone());
        if last.as_ref() != Some(&signature) {
            last = Some(signature);
            out.push(EventBody::InstanceHealth {
                instance: instance.clone(),
                service: service.clone(),
                health,
                detail: Some(result.detail.clone()),
            });
        }
        let mut readings = Vec::new();
        if let Some(sat) = result.saturation_pct {
            readings.push(EventBody::Pool {
                service: service.clone(),
                size: 100,
                in_use: sat.clamp(0.0, 100.0) as u32,
                queued: 0,
            });
        }
        if answered {
            readings.push(EventBody::Metric {
                service: service.clone(),
                series: latency_series.clone(),
                value: elapsed.as_secs_f64(),
                unit: crate::model::MetricUnit::Seconds,
            });
        }
        out.extend(readings.into_iter().filter(|r| settle.pass(r, true)));
        if out.is_empty() {
            if last_sent.elapsed() >= Duration::from_secs(1) {
                if !emitter.status(SourceStatus::Up, None).await {
                    return;
                }
                last_sent = tokio::time::Instant::now();
            }
            continue;
        }
        for body in out {
            if !emitter.emit(body).await {
                return;
            }
        }
        last_sent = tokio::time::Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_deep_readiness_shape() {
        let body = r#"{"status":"DOWN","timestamp":"2026-11-23T12:00:00Z",
            "components":{"database":{"status":"DOWN","latency_ms":5000,"detail":"connection pool exhausted"},
                          "cache":{"status":"UP","latency_ms":2}},
            "saturation":100}"#;
        let r = judge(503, Some("application/json"), body);
        assert!(!r.ok);
        assert!(r.detail.contains("HTTP 503"), "{}", r.detail);
        assert!(
            r.detail
                .contains("database DOWN (connection pool exhausted)"),
            "{}",
            r.detail
        );
        assert!(
            !r.detail.contains("5000"),
            "no latency in the words: {}",
            r.detail
        );
        assert!(
            r.detail.contains("saturated (90 % or more)"),
            "{}",
            r.detail
        );
        assert_eq!(r.saturation_pct, Some(100.0));
    }

    #[test]
    fn spring_actuator_and_ietf_draft_shapes() {
        let spring = r#"{"status":"UP","components":{"db":{"status":"UP","details":{"database":"PostgreSQL"}},"diskSpace":{"status":"UP"}}}"#;
        let r = judge(
            200,
            Some("application/vnd.spring-boot.actuator.v3+json"),
            spring,
        );
        assert!(r.ok && !r.degraded, "{r:?}");
        let ietf = r#"{"status":"pass","checks":{"postgres:responseTime":[{"status":"fail","observedValue":250,"output":"slow"}]}}"#;
        let r = judge(200, Some("application/health+json"), ietf);
        assert!(
            r.ok && r.degraded,
            "a failing check under a passing status degrades: {r:?}"
        );
        assert!(
            r.detail.contains("postgres:responseTime DOWN (slow)") && !r.detail.contains("250"),
            "{}",
            r.detail
        );
    }

    #[test]
    fn saturation_near_full_degrades_a_passing_instance() {
        let r = judge(
            200,
            Some("application/json"),
            r#"{"status":"UP","saturation":0.93}"#,
        );
        assert!(r.ok && r.degraded);
        assert_eq!(r.saturation_pct.map(f64::round), Some(93.0));
    }

    #[test]
    fn bad_bodies_are_clear_failures_or_plain_answers() {
        let r = judge(200, Some("application/json"), r#"{"status":"UP","compo"#);
        assert!(!r.ok && r.detail.contains("malformed JSON"), "{r:?}");
        let r = judge(200, Some("text/html"), "<html>ok</html>");
        assert!(r.ok, "a plain 200 is a pass");
        let login = "<!DOCTYPE html><html><body><form method=post action=/login>\
                     <input name=user><input name=\"password\" type=\"password\"></form></body></html>";
        let r = judge(200, Some("text/html; charset=utf-8"), login);
        assert!(!r.ok, "a login page is not the target's health: {r:?}");
        assert_eq!(
            r.detail,
            "HTTP 200 · a login page answered, not the target (a sign-in proxy or captive portal in front of it?)"
        );
        let r = judge(500, Some("text/html"), "<html>Internal Server Error</html>");
        assert!(!r.ok && r.detail.contains("Internal Server Error"), "{r:?}");
    }

    #[test]
    fn thresholds_count_in_a_row() {
        let pass = ProbeResult {
            ok: true,
            degraded: false,
            detail: String::new(),
            saturation_pct: None,
        };
        let fail = ProbeResult {
            ok: false,
            ..pass.clone()
        };
        let mut t = Thresholds::new(2, 3);
        assert_eq!(
            t.observe(&pass),
            Health::Unknown,
            "one success is not yet healthy"
        );
        assert_eq!(t.observe(&pass), Health::Healthy);
        assert_eq!(t.observe(&fail), Health::Healthy);
        assert_eq!(t.observe(&fail), Health::Healthy);
        assert_eq!(
            t.observe(&pass),
            Health::Healthy,
            "a success resets the failures"
        );
        for _ in 0..2 {
            t.observe(&fail);
        }
        assert_eq!(
            t.observe(&fail),
            Health::Unhealthy,
            "third failure in a row"
        );
        assert_eq!(t.observe(&pass), Health::Unhealthy);
        assert_eq!(t.observe(&pass), Health::Healthy);
    }

    #[test]
    fn instance_defaults_to_host_and_port() {
        assert_eq!(
            host_port("http://10.0.0.5:8080/health/ready"),
            "10.0.0.5:8080"
        );
        assert_eq!(host_port("https://api.example/health"), "api.example");
    }
}
