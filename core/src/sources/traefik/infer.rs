//! Traefik's circuit breakers, inferred from its own metrics.
//!
//! Traefik runs a breaker per router for each `circuitBreaker` middleware but exposes
//! neither its state nor the ratio it computes. Its expression is a condition over the
//! responses of the last 10 s (checked every `checkPeriod`); while tripped, Traefik
//! answers with the fallback (503) for `fallbackDuration`, then lets traffic back in
//! over `recoveryDuration`.
//!
//! The console runs its own breaker machine on the same inputs: the response counters of
//! Traefik's Prometheus endpoint, by `code`, differenced between polls. Traefik counts
//! per service only on load balancers, so a router whose service is composed (weighted,
//! failover, mirroring) is followed on the sum over every load balancer its service
//! reaches (`traefik_service_requests_total`). When Traefik also exports per-router
//! counters (`--metrics.prometheus.addRoutersLabels`, `traefik_router_requests_total`),
//! those are the router's own traffic even where its load balancers serve other routers
//! too, and they are read instead, with one correction: the router counts the answers
//! the tripped breaker gives itself (its `responseCode`, 503 by default), which Traefik's
//! breaker never sees, so that one code is taken from the load balancers. The fallback's
//! answers never reach a load balancer, so they are not counted there either. Each such
//! breaker is labelled "inferred", with the expression and the counters it reads.
//!
//! Read: one condition, `NetworkErrorRatio() > X` (502 and 504 are the proxy's network
//! errors) or `ResponseCodeRatio(A, B, C, D) > X` (codes in `[A, B)` over codes in
//! `[C, D)`). Not inferred, and said so: `LatencyAtQuantileMS` (the counters hold no
//! per-request latency) and conditions joined with `&&` or `||`.

use std::collections::BTreeMap;

use crate::model::BreakerConfig;

/// Counters read: service -> HTTP code -> requests.
pub type Codes = BTreeMap<String, BTreeMap<u16, f64>>;

/// The metric holding per-service response counts (load balancers only).
pub const METRIC: &str = "traefik_service_requests_total";

/// The metric holding per-router response counts (with `addRoutersLabels`).
pub const ROUTER_METRIC: &str = "traefik_router_requests_total";

/// One reading of the counters, or the requests between two.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    /// Per service (load balancers).
    pub services: Codes,
    /// Per router, when Traefik exports them; every router exported has an entry, if
    /// only an empty one.
    pub routers: Codes,
}

impl Counters {
    /// The responses the breaker of `router` saw, as its counters tell them: the
    /// router's own when exported, with `response_code` (the breaker's own answer)
    /// taken from `leaves`; else the sum over `leaves`. None when none of them was
    /// counted at all.
    pub fn seen_by(
        &self,
        router: &str,
        leaves: &[String],
        response_code: u16,
    ) -> Option<BTreeMap<u16, f64>> {
        let mut from_leaves: Option<BTreeMap<u16, f64>> = None;
        for l in leaves {
            if let Some(codes) = self.services.get(l) {
                let sum = from_leaves.get_or_insert_with(BTreeMap::new);
                for (code, n) in codes {
                    *sum.entry(*code).or_default() += n;
                }
            }
        }
        let Some(own) = self.routers.get(router) else {
            return from_leaves;
        };
        let mut out: BTreeMap<u16, f64> = own
            .iter()
            .filter(|(c, _)| **c != response_code)
            .map(|(c, n)| (*c, *n))
            .collect();
        if let Some(n) = from_leaves.and_then(|l| l.get(&response_code).copied()) {
            out.insert(response_code, n);
        }
        Some(out)
    }
}

/// What a breaker's expression counts as failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `NetworkErrorRatio()`: 502 and 504 over all responses.
    NetworkErrors,
    /// `ResponseCodeRatio(A, B, C, D)`: codes in `[A, B)` over codes in `[C, D)`.
    Codes {
        /// Counted as failures.
        failed: (u16, u16),
        /// Counted at all.
        of: (u16, u16),
    },
}

/// An expression the console can follow.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Inference {
    /// What fails.
    pub rule: Rule,
    /// The ratio above which Traefik trips.
    pub threshold: f64,
}

/// Reads a `circuitBreaker` expression, or says why it cannot be followed.
pub fn parse_expression(expr: &str) -> Result<Inference, String> {
    let expr = expr.trim();
    if expr.contains("&&") || expr.contains("||") {
        return Err("combines conditions; only a single ratio condition is inferred".into());
    }
    let (lhs, rhs) = expr
        .split_once(">=")
        .or_else(|| expr.split_once('>'))
        .ok_or_else(|| format!("no `>` comparison in {expr:?}"))?;
    let threshold: f64 = rhs
        .trim()
        .parse()
        .map_err(|_| format!("{:?} is not a number", rhs.trim()))?;
    let lhs = lhs.trim();
    let (func, args) = lhs
        .strip_suffix(')')
        .and_then(|l| l.split_once('('))
        .ok_or_else(|| format!("{lhs:?} is not a function call"))?;
    let rule = match func.trim() {
        "NetworkErrorRatio" => Rule::NetworkErrors,
        "ResponseCodeRatio" => {
            let codes: Vec<u16> = args
                .split(',')
                .map(|a| a.trim().parse())
                .collect::<Result<_, _>>()
                .map_err(|_| format!("ResponseCodeRatio({args}) takes four status codes"))?;
            let [a, b, c, d] = codes[..] else {
                return Err(format!("ResponseCodeRatio({args}) takes four status codes"));
            };
            Rule::Codes {
                failed: (a, b),
                of: (c, d),
            }
        }
        "LatencyAtQuantileMS" => {
            return Err(
                "LatencyAtQuantileMS needs each request's latency, which Traefik's counters do not hold"
                    .into(),
            );
        }
        other => return Err(format!("unknown function {other}()")),
    };
    Ok(Inference { rule, threshold })
}

impl Inference {
    /// (ok, failed) among `codes` (the responses since the previous poll).
    pub fn calls(&self, codes: &BTreeMap<u16, f64>) -> (u32, u32) {
        let count = |lo: u16, hi: u16| -> f64 {
            codes
                .iter()
                .filter(|(c, _)| (lo..hi).contains(*c))
                .map(|(_, n)| *n)
                .sum()
        };
        let (failed, total) = match self.rule {
            Rule::NetworkErrors => (
                codes.get(&502).copied().unwrap_or(0.0) + codes.get(&504).copied().unwrap_or(0.0),
                codes.values().sum(),
            ),
            Rule::Codes { failed, of } => (count(failed.0, failed.1), count(of.0, of.1)),
        };
        let failed = failed.max(0.0).round();
        let ok = (total - failed).max(0.0).round();
        (to_u32(ok), to_u32(failed))
    }

    /// The console's machine set up as Traefik runs its breaker: a 10 s window, no
    /// minimum volume and no run-of-failures rule (Traefik has neither), closed again
    /// after the fallback duration and good trial calls.
    pub fn breaker_config(&self, fallback_millis: Option<i64>) -> BreakerConfig {
        BreakerConfig {
            window_millis: 10_000,
            failure_rate_threshold: self.threshold.clamp(0.0, 1.0),
            min_calls: 1,
            consecutive_failures: 0,
            cooldown_millis: fallback_millis.unwrap_or(10_000).max(0),
            ..BreakerConfig::default()
        }
    }

    /// The label shown on the breaker; `counters` says which counters are read.
    pub fn describe(&self, expression: &str, counters: &str) -> String {
        let counted = match self.rule {
            Rule::NetworkErrors => "502 and 504 over all responses".to_owned(),
            Rule::Codes { failed, of } => format!(
                "codes {}–{} over codes {}–{}",
                failed.0,
                failed.1.saturating_sub(1),
                of.0,
                of.1.saturating_sub(1)
            ),
        };
        format!(
            "inferred: Traefik does not report this breaker's state; the console follows `{expression}` \
             on {counters} ({counted})"
        )
    }
}

fn to_u32(x: f64) -> u32 {
    if x >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        x as u32
    }
}

/// Per-service response counts from Traefik's `/metrics`, summed over method and
/// protocol.
pub fn read_codes(text: &str) -> Result<Codes, crate::sources::exposition::ExpositionError> {
    read_by(text, METRIC, "service")
}

/// Per-service and per-router response counts from Traefik's `/metrics`.
pub fn read_counters(text: &str) -> Result<Counters, crate::sources::exposition::ExpositionError> {
    Ok(Counters {
        services: read_by(text, METRIC, "service")?,
        routers: read_by(text, ROUTER_METRIC, "router")?,
    })
}

/// The samples of `metric` by `label` and `code`, summed over the other labels.
fn read_by(
    text: &str,
    metric: &str,
    label: &str,
) -> Result<Codes, crate::sources::exposition::ExpositionError> {
    let mut out = Codes::new();
    for s in crate::sources::exposition::samples(text, metric)? {
        let (Some(name), Some(code)) = (
            s.labels.get(label),
            s.labels.get("code").and_then(|c| c.parse::<u16>().ok()),
        ) else {
            continue;
        };
        if s.value.is_finite() {
            *out.entry(name.clone())
                .or_default()
                .entry(code)
                .or_default() += s.value;
        }
    }
    Ok(out)
}

/// What changed between two readings of the counters: requests since the previous
/// poll, per service (and router) and code. A counter that went down was reset (Traefik
/// restarted): its new value is all new. The first reading is a baseline and gives
/// nothing but the routers' empty entries.
#[derive(Debug, Default)]
pub struct Deltas {
    prev: Option<Counters>,
}

impl Deltas {
    /// Takes a new reading; returns the requests since the previous one.
    pub fn next(&mut self, now: Counters) -> Counters {
        let prev = self.prev.as_ref();
        let out = Counters {
            services: since(prev.map(|p| &p.services), &now.services, false),
            routers: since(prev.map(|p| &p.routers), &now.routers, true),
        };
        self.prev = Some(now);
        out
    }
}

/// The requests in `now` since `prev` (nothing without a `prev`); `keep_names` keeps an
/// empty entry for every name of `now`.
fn since(prev: Option<&Codes>, now: &Codes, keep_names: bool) -> Codes {
    let mut out = Codes::new();
    for (name, codes) in now {
        if keep_names {
            out.entry(name.clone()).or_default();
        }
        let Some(prev) = prev else {
            continue;
        };
        for (code, n) in codes {
            let before = prev
                .get(name)
                .and_then(|c| c.get(code))
                .copied()
                .unwrap_or(0.0);
            let d = if *n < before { *n } else { n - before };
            if d > 0.0 {
                out.entry(name.clone()).or_default().insert(*code, d);
            }
        }
    }
    out
}

/// A Go duration (`10s`, `100ms`, `1m30s`) in milliseconds.
pub fn go_duration_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&i| i > 0)?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let per_ms = match &rest[..unit_end] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return None,
        };
        total += n * per_ms;
        rest = &rest[unit_end..];
    }
    Some(total.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_from_traefik_docs() {
        let net = parse_expression("NetworkErrorRatio() > 0.30").expect("net");
        assert_eq!(net.rule, Rule::NetworkErrors);
        assert!((net.threshold - 0.30).abs() < 1e-9);
        let codes = parse_expression("ResponseCodeRatio(500, 600, 0, 600) > 0.25").expect("codes");
        assert_eq!(
            codes.rule,
            Rule::Codes {
                failed: (500, 600),
                of: (0, 600)
            }
        );
        let why = parse_expression("LatencyAtQuantileMS(50.0) > 100").expect_err("latency");
        assert!(why.contains("latency"), "{why}");
        let why = parse_expression(
            "NetworkErrorRatio() > 0.5 || ResponseCodeRatio(500, 600, 0, 600) > 0.5",
        )
        .expect_err("compound");
        assert!(why.contains("single"), "{why}");
        assert!(parse_expression("ResponseCodeRatio(500, 600) > 0.5").is_err());
        assert!(parse_expression("NetworkErrorRatio() > lots").is_err());
        assert!(parse_expression("Whatever() > 0.5").is_err());
    }

    #[test]
    fn calls_count_what_the_expression_counts() {
        let codes: BTreeMap<u16, f64> = [
            (200, 60.0),
            (404, 10.0),
            (502, 20.0),
            (504, 5.0),
            (500, 5.0),
        ]
        .into_iter()
        .collect();
        let net = parse_expression("NetworkErrorRatio() > 0.3").expect("net");
        assert_eq!(net.calls(&codes), (75, 25));
        let five = parse_expression("ResponseCodeRatio(500, 600, 0, 600) > 0.3").expect("5xx");
        assert_eq!(five.calls(&codes), (70, 30));
        let of_2xx = parse_expression("ResponseCodeRatio(500, 600, 200, 300) > 0.3").expect("x");
        assert_eq!(
            of_2xx.calls(&codes),
            (30, 30),
            "failures outside the base clamp ok at 0"
        );
    }

    #[test]
    fn deltas_start_from_a_baseline_and_survive_a_reset() {
        let reading = |n: f64| -> Counters {
            Counters {
                services: [("web@file".to_owned(), [(200u16, n)].into_iter().collect())]
                    .into_iter()
                    .collect(),
                routers: Codes::new(),
            }
        };
        let mut d = Deltas::default();
        assert!(
            d.next(reading(100.0)).services.is_empty(),
            "the first reading is a baseline"
        );
        assert_eq!(
            d.next(reading(130.0)).services["web@file"].get(&200),
            Some(&30.0)
        );
        assert!(
            d.next(reading(130.0)).services.is_empty(),
            "no traffic, no sample"
        );
        assert_eq!(
            d.next(reading(4.0)).services["web@file"].get(&200),
            Some(&4.0),
            "counter reset"
        );
    }

    #[test]
    fn rig_metrics_give_per_service_codes() {
        let codes = read_codes(include_str!(
            "../../../tests/fixtures/traefik/metrics-rig.txt"
        ))
        .expect("parse");
        let flaky = &codes["flakysvc@file"];
        assert_eq!(flaky.get(&502), Some(&4.0));
        assert_eq!(flaky.get(&404), Some(&3.0));
        assert!(
            flaky.get(&503).is_none(),
            "the fallback's 503s never reach the service"
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_millis("10s"), Some(10_000));
        assert_eq!(go_duration_millis("100ms"), Some(100));
        assert_eq!(go_duration_millis("1m30s"), Some(90_000));
        assert_eq!(go_duration_millis("1.5s"), Some(1500));
        assert_eq!(go_duration_millis("0"), Some(0));
        assert_eq!(go_duration_millis("ten"), None);
        assert_eq!(go_duration_millis("10 parsecs"), None);
    }
}
