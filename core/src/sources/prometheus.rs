//! Prometheus: instant queries that drive breakers the console computes, and series
//! (latency quantiles, rates) drawn as plots.
//!
//! Each configured query is a PromQL expression whose value is a failure ratio (0..=1),
//! such as a 5xx ratio over a minute. Every `interval_secs` the source asks
//! `/api/v1/query` and feeds the ratio to the query's breaker, which runs the console's
//! own state machine (thresholds from the query, else domain.md §3's defaults): the
//! ratio counts as 100 calls at that ratio per sample, so `min_calls` is met and the
//! window averages the last samples. The breaker's near-trip warning, its flips and its
//! plot all follow from there.
//!
//! A vector with several series is reduced to its highest value (the worst), and says
//! so; no series or `NaN` (no traffic) is no sample, not a healthy one. An error from
//! Prometheus (bad PromQL, a timeout inside Prometheus) makes the source down with
//! Prometheus' own message.
//!
//! A `[[environment.source.series]]` is sampled the same way (worst series, no sample
//! for no data) and becomes a metric series of its service, such as p50 and p99
//! latency from `histogram_quantile`, plotted beside the service's breakers. At start,
//! a range query (`/api/v1/query_range`) fills each series with the last ten minutes,
//! so a console opened mid-incident shows how things got there. Breakers are not
//! back-filled: replaying history through the machine would date flips and incidents
//! in the past as if just seen.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::poll::{Pace, Poll, Polled, Report, drive};
use super::{Backoff, Emitter};
use crate::event::EventBody;
use crate::model::{BreakerConfig, BreakerId, MetricUnit, ServiceId, SourceStatus};
use crate::time::Timestamp;

/// Calls a ratio sample stands for in the breaker machine.
const CALLS_PER_SAMPLE: f64 = 100.0;

/// Configuration of one Prometheus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Source name.
    pub name: String,
    /// Base URL (`http://127.0.0.1:9090`).
    pub url: String,
    /// Time between evaluations, in seconds.
    #[serde(default = "default_interval")]
    pub interval_secs: f64,
    /// Bound on each query, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// The queries.
    #[serde(default)]
    pub query: Vec<QueryConfig>,
    /// Series sampled for plots.
    #[serde(default)]
    pub series: Vec<SeriesConfig>,
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

impl crate::sources::Settings for PrometheusConfig {
    fn reach(&self) -> Option<crate::sources::ReachSettings<'_>> {
        Some(crate::sources::ReachSettings {
            urls: vec![self.url.as_str()],
            tls: self.tls.as_ref(),
            auth: self.auth.as_ref(),
            proxy: &self.proxy,
            timeout: std::time::Duration::from_secs_f64(self.timeout_secs.clamp(0.1, 600.0)),
            max_answer: crate::sources::AnswerLimit::of(
                crate::model::SourceKind::Prometheus,
                self.max_answer_bytes,
            ),
        })
    }
}

/// One named query sampled as a metric series of a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesConfig {
    /// Its name (`p99 latency`).
    pub name: String,
    /// The service it describes.
    pub service: String,
    /// PromQL giving one number (the highest series is taken).
    pub expr: String,
    /// `seconds`, `ratio` or `count` (default).
    #[serde(default)]
    pub unit: MetricUnit,
}

/// One named query driving one breaker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// The breaker it drives (`checkout-5xx`).
    pub breaker: String,
    /// The service that breaker protects.
    pub service: String,
    /// PromQL giving a failure ratio in 0..=1.
    pub expr: String,
    /// Ratio at which the breaker opens (default 0.5).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Seconds open before trial samples (default 30).
    #[serde(default)]
    pub cooldown_secs: Option<f64>,
}

const fn default_interval() -> f64 {
    5.0
}

const fn default_timeout() -> f64 {
    3.0
}

/// Errors reading a query answer.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Not JSON.
    #[error("not JSON from Prometheus: {0}")]
    NotJson(String),
    /// Prometheus refused the query.
    #[error("Prometheus says {kind}: {message}")]
    Refused {
        /// `errorType`.
        kind: String,
        /// `error`.
        message: String,
    },
    /// A shape this source does not read.
    #[error("unexpected answer from Prometheus: {0}")]
    Shape(&'static str),
}

/// The most of Prometheus' own error message repeated to the operator, in characters:
/// enough for any message Prometheus writes, and a server that sends megabytes of
/// "error" cannot fill the window with it.
const MESSAGE_CHARS: usize = 300;

/// At most `max_chars` of `text`, with an ellipsis when some were left out.
fn clipped(text: &str, max_chars: usize) -> String {
    let mut out: String = text.chars().take(max_chars).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// The value of an instant query: the highest sample of a vector or the scalar, with
/// the number of series; `None` when there is no sample or it is `NaN`.
pub fn parse_instant(text: &str) -> Result<(Option<f64>, usize), QueryError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|_| QueryError::NotJson(crate::sources::excerpt::excerpt(text)))?;
    if v.get("status").and_then(Value::as_str) != Some("success") {
        return Err(QueryError::Refused {
            kind: clipped(
                v.get("errorType")
                    .and_then(Value::as_str)
                    .unwrap_or("error"),
                60,
            ),
            message: clipped(
                v.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("no message"),
                MESSAGE_CHARS,
            ),
        });
    }
    let data = v.get("data").ok_or(QueryError::Shape("no data"))?;
    let sample = |pair: &Value| -> Option<f64> {
        pair.get(1)?
            .as_str()?
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
    };
    match data.get("resultType").and_then(Value::as_str) {
        Some("vector") => {
            let result = data
                .get("result")
                .and_then(Value::as_array)
                .ok_or(QueryError::Shape("no result"))?;
            let values: Vec<f64> = result
                .iter()
                .filter_map(|s| s.get("value").and_then(sample))
                .collect();
            Ok((values.iter().copied().reduce(f64::max), result.len()))
        }
        Some("scalar") => Ok((data.get("result").and_then(sample), 1)),
        _ => Err(QueryError::Shape(
            "only vector and scalar results drive a breaker",
        )),
    }
}

/// The samples of a range query, oldest first: at each time, the highest value among
/// the series (the worst); `NaN` and missing points are left out.
pub fn parse_range(text: &str) -> Result<Vec<(Timestamp, f64)>, QueryError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|_| QueryError::NotJson(crate::sources::excerpt::excerpt(text)))?;
    if v.get("status").and_then(Value::as_str) != Some("success") {
        return parse_instant(text).map(|_| Vec::new());
    }
    let data = v.get("data").ok_or(QueryError::Shape("no data"))?;
    if data.get("resultType").and_then(Value::as_str) != Some("matrix") {
        return Err(QueryError::Shape("a range query answers with a matrix"));
    }
    let mut worst: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for series in data
        .get("result")
        .and_then(Value::as_array)
        .ok_or(QueryError::Shape("no result"))?
    {
        for pair in series
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let t = pair.get(0).and_then(Value::as_f64);
            let x = pair
                .get(1)
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|x| x.is_finite());
            if let (Some(t), Some(x)) = (t, x) {
                let e = worst.entry((t * 1000.0).round() as i64).or_insert(x);
                *e = e.max(x);
            }
        }
    }
    Ok(worst.into_iter().map(|(t, x)| (Timestamp(t), x)).collect())
}

/// The breaker settings of a query.
fn breaker_config(q: &QueryConfig) -> BreakerConfig {
    let mut c = BreakerConfig::default();
    if let Some(t) = q.threshold {
        c.failure_rate_threshold = t.clamp(0.0, 1.0);
    }
    if let Some(s) = q.cooldown_secs {
        c.cooldown_millis = (s.max(0.0) * 1000.0) as i64;
    }
    // A ratio sample is not a run of individual calls.
    c.consecutive_failures = 0;
    c
}

/// The calls a ratio sample stands for: (ok, failed).
pub fn ratio_to_calls(ratio: f64) -> (u32, u32) {
    let failed = (ratio.clamp(0.0, 1.0) * CALLS_PER_SAMPLE).round();
    ((CALLS_PER_SAMPLE - failed) as u32, failed as u32)
}

/// What one query is for.
#[derive(Clone, Copy)]
enum Job<'a> {
    Breaker(&'a QueryConfig),
    Series(&'a SeriesConfig),
}

impl Job<'_> {
    fn name(&self) -> String {
        match self {
            Self::Breaker(q) => format!("query {:?}", q.breaker),
            Self::Series(s) => format!("series {:?} of {}", s.name, s.service),
        }
    }

    /// The event a value makes.
    fn sample(&self, value: f64) -> EventBody {
        match self {
            Self::Breaker(q) => {
                let (ok, failed) = ratio_to_calls(value);
                EventBody::BreakerCalls {
                    breaker: BreakerId::new(&q.breaker),
                    ok,
                    failed,
                }
            }
            Self::Series(s) => EventBody::Metric {
                service: ServiceId::new(&s.service),
                series: s.name.clone(),
                value,
                unit: s.unit,
            },
        }
    }
}

/// Fills each series with the last ten minutes from a range query. Returns `false` once
/// the engine stopped. A failure only leaves the plot to fill as it goes; the live
/// queries report Prometheus' state.
async fn backfill(
    cfg: &PrometheusConfig,
    client: &super::HttpClient,
    timeout: Duration,
    emitter: &Emitter,
) -> bool {
    const HISTORY_SECS: f64 = 600.0;
    let url = format!("{}/api/v1/query_range", cfg.url.trim_end_matches('/'));
    let end = emitter.now();
    let step = cfg.interval_secs.clamp(1.0, 60.0);
    let mut loaded = Vec::new();
    for s in &cfg.series {
        let params = [
            ("query", s.expr.clone()),
            (
                "start",
                format!("{:.3}", end.0 as f64 / 1000.0 - HISTORY_SECS),
            ),
            ("end", format!("{:.3}", end.0 as f64 / 1000.0)),
            ("step", format!("{step}")),
        ];
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = super::http::get_text(client, &url, &params, timeout)
            .await
            .and_then(|body| parse_range(&body).map_err(|e| e.to_string()));
        match answer {
            Ok(points) => loaded.push((s, points)),
            Err(e) => tracing::debug!("no history for series {:?}: {e}", s.name),
        }
    }
    let points: usize = loaded.iter().map(|(_, p)| p.len()).sum();
    if points == 0 {
        return true;
    }
    if !emitter
        .status(
            SourceStatus::Up,
            Some(format!(
                "loaded {points} samples of history for {} series",
                loaded.len()
            )),
        )
        .await
    {
        return false;
    }
    for (s, series) in loaded {
        for (at, value) in series {
            let body = EventBody::Metric {
                service: ServiceId::new(&s.service),
                series: s.name.clone(),
                value,
                unit: s.unit,
            };
            if !emitter.emit_at(at, body).await {
                return false;
            }
        }
    }
    true
}

/// Runs the Prometheus source until the engine stops.
pub async fn run(cfg: PrometheusConfig, emitter: Emitter) {
    let timeout = Duration::from_secs_f64(cfg.timeout_secs.clamp(0.1, 600.0));
    let client = match super::http::client_of(&cfg, timeout) {
        Ok(c) => c,
        Err(e) => {
            emitter.status(SourceStatus::Down, Some(e)).await;
            return;
        }
    };
    if cfg.query.is_empty() && cfg.series.is_empty() {
        emitter
            .status(
                SourceStatus::Down,
                Some(
                    "no [[environment.source.query]] or [[environment.source.series]] configured"
                        .to_owned(),
                ),
            )
            .await;
        return;
    }
    for q in &cfg.query {
        let body = EventBody::BreakerConfigured {
            breaker: BreakerId::new(&q.breaker),
            service: ServiceId::new(&q.service),
            config: breaker_config(q),
            inferred: None,
        };
        if !emitter.emit(body).await {
            return;
        }
    }
    if !backfill(&cfg, &client, timeout, &emitter).await {
        return;
    }
    let pace = Pace {
        interval: Duration::from_secs_f64(cfg.interval_secs.clamp(0.1, 3600.0)),
        // Each query is bounded by `timeout` on its own.
        bound: None,
        backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(10), 0x9a),
        report: Report::Queries,
    };
    let queries = Queries {
        url: format!("{}/api/v1/query", cfg.url.trim_end_matches('/')),
        cfg,
        client,
        timeout,
    };
    drive(queries, pace, &emitter).await;
}

/// A Prometheus' instant queries, polled.
struct Queries {
    cfg: PrometheusConfig,
    url: String,
    client: super::HttpClient,
    timeout: Duration,
}

impl Queries {
    /// Every query: the breakers' first, then the series'.
    fn jobs(&self) -> impl Iterator<Item = (&str, Job<'_>)> {
        self.cfg
            .query
            .iter()
            .map(|q| (q.expr.as_str(), Job::Breaker(q)))
            .chain(
                self.cfg
                    .series
                    .iter()
                    .map(|s| (s.expr.as_str(), Job::Series(s))),
            )
    }
}

impl Poll for Queries {
    /// Each job's value (none when the query matched nothing), or why not, in order.
    type Answer = Vec<Result<Option<f64>, String>>;

    async fn fetch(&mut self) -> Result<Self::Answer, String> {
        let mut answers = Vec::new();
        for (expr, job) in self.jobs() {
            let answer =
                super::http::get_text(&self.client, &self.url, &[("query", expr)], self.timeout)
                    .await
                    .and_then(|body| {
                        parse_instant(&body).map_err(|e| format!("{e} ({})", job.name()))
                    });
            answers.push(answer.map(|(value, _)| value));
        }
        Ok(answers)
    }

    fn translate(&self, answers: Self::Answer) -> Polled {
        let mut samples = Vec::new();
        let mut down = None;
        for ((_, job), answer) in self.jobs().zip(answers) {
            match answer {
                Ok(Some(value)) => samples.push(job.sample(value)),
                Ok(None) => {}
                Err(e) => down = Some(e),
            }
        }
        let detail = format!(
            "{} breaker queries, {} series, {} with data",
            self.cfg.query.len(),
            self.cfg.series.len(),
            samples.len()
        );
        Polled {
            samples,
            detail,
            down,
            ..Polled::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: a server's `error` was repeated whole, so a hostile endpoint
    /// could put megabytes of text in the window.
    #[test]
    fn a_huge_error_from_the_server_is_clipped() {
        let body = format!(
            r#"{{"status":"error","errorType":"{}","error":"parse error: {}"}}"#,
            "t".repeat(5_000),
            "x".repeat(100_000)
        );
        let err = parse_instant(&body).expect_err("refused").to_string();
        assert!(err.starts_with("Prometheus says ttt"), "{err:.100}");
        assert!(err.contains("parse error: xxx"), "{err:.100}");
        assert!(err.ends_with('…'), "{err:.100}");
        assert!(err.chars().count() < 400, "{} chars", err.chars().count());
    }

    #[test]
    fn upstream_instant_vector_takes_the_worst_series() {
        let (v, n) = parse_instant(include_str!(
            "../../tests/fixtures/prometheus/query-instant-up.json"
        ))
        .expect("parse");
        assert_eq!((v, n), (Some(1.0), 2));
        let (v, n) = parse_instant(include_str!(
            "../../tests/fixtures/prometheus/codec-query-vector-compact.json"
        ))
        .expect("parse");
        assert_eq!((v, n), (Some(2.0), 2));
    }

    #[test]
    fn no_data_is_no_sample() {
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_instant(empty), Ok((None, 0)));
        let nan = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}"#;
        assert_eq!(parse_instant(nan), Ok((None, 1)));
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"0.25"]}}"#;
        assert_eq!(parse_instant(scalar), Ok((Some(0.25), 1)));
    }

    #[test]
    fn refusals_and_garbage_are_clear() {
        let bad = r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected <EOF>"}"#;
        let err = parse_instant(bad).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "Prometheus says bad_data: 1:5: parse error: unexpected <EOF>"
        );
        assert!(matches!(
            parse_instant("<html>"),
            Err(QueryError::NotJson(_))
        ));
        let matrix =
            include_str!("../../tests/fixtures/prometheus/codec-query-matrix-compact.json");
        assert!(matches!(parse_instant(matrix), Err(QueryError::Shape(_))));
    }

    #[test]
    fn a_range_answer_is_the_worst_value_at_each_time() {
        let matrix =
            include_str!("../../tests/fixtures/prometheus/codec-query-matrix-compact.json");
        assert_eq!(
            parse_range(matrix),
            Ok(vec![(Timestamp(1000), 1.0), (Timestamp(2000), 2.0)])
        );
        let two = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"a":"1"},"values":[[10,"0.1"],[11,"0.5"],[12,"NaN"]]},
            {"metric":{"a":"2"},"values":[[10,"0.3"],[11,"0.2"]]}]}}"#;
        assert_eq!(
            parse_range(two),
            Ok(vec![(Timestamp(10_000), 0.3), (Timestamp(11_000), 0.5)])
        );
        let vector = include_str!("../../tests/fixtures/prometheus/query-instant-up.json");
        assert!(matches!(parse_range(vector), Err(QueryError::Shape(_))));
        let bad =
            r#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution"}"#;
        assert!(matches!(parse_range(bad), Err(QueryError::Refused { .. })));
    }

    #[test]
    fn a_ratio_drives_the_breaker_machine() {
        use crate::state::Breaker;
        use crate::time::Timestamp;
        let q = QueryConfig {
            breaker: "b".into(),
            service: "s".into(),
            expr: "x".into(),
            threshold: Some(0.15),
            cooldown_secs: Some(10.0),
        };
        let mut b = Breaker::new(
            crate::model::SourceId::new("p"),
            None,
            breaker_config(&q),
            true,
        );
        for (t, ratio) in [(0, 0.02), (5, 0.05), (10, 0.4), (15, 0.4)] {
            let (ok, failed) = ratio_to_calls(ratio);
            b.on_calls(Timestamp(t * 1000), ok, failed);
        }
        assert_eq!(
            b.state,
            crate::model::BreakerState::Open,
            "above 15 % over the window"
        );
        for (t, ratio) in [(30, 0.01), (35, 0.0)] {
            let (ok, failed) = ratio_to_calls(ratio);
            b.on_calls(Timestamp(t * 1000), ok, failed);
        }
        assert_eq!(
            b.state,
            crate::model::BreakerState::Closed,
            "recovered after the cooldown"
        );
        assert_eq!(ratio_to_calls(0.123), (88, 12));
    }
}
