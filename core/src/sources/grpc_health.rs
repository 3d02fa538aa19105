//! gRPC health (`grpc.health.v1.Health`), through tonic-health's client.
//!
//! The source holds a `Watch` stream: the server pushes every status change, so a
//! change is seen as soon as it is sent, and a dropped stream (the process died, the
//! connection broke) is seen at once and reported with the error, then the source
//! reconnects with capped exponential backoff and full jitter. Servers that do not
//! implement `Watch` are polled with `Check` every `interval_millis` instead.
//!
//! `SERVING` -> healthy; `NOT_SERVING` -> unhealthy; `SERVICE_UNKNOWN` (the named service is
//! not registered) -> unhealthy, saying so; UNKNOWN -> unknown.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::{Backoff, Emitter};
use crate::event::EventBody;
use crate::model::{Health, InstanceId, ServiceId, SourceStatus};

/// Configuration of one gRPC health target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcHealthConfig {
    /// Source name.
    pub name: String,
    /// `host:port`, `http://host:port`, or `https://host:port` for TLS.
    pub endpoint: String,
    /// The gRPC service to ask about ("" = the server as a whole).
    #[serde(default)]
    pub service: String,
    /// Bound on connecting and on `Check`, in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_millis: u64,
    /// `Check` interval when the server has no `Watch`, in milliseconds.
    #[serde(default = "default_interval")]
    pub interval_millis: u64,
    /// The topology service the instance belongs to (default: the source name).
    #[serde(default)]
    pub topology_service: Option<String>,
    /// The instance's name (default: the endpoint's `host:port`).
    #[serde(default)]
    pub instance: Option<String>,
    /// TLS: the CA to trust and the client certificate to present (an `https://`
    /// endpoint without it trusts the system's roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::sources::TlsSettings>,
}

impl crate::sources::Settings for GrpcHealthConfig {
    fn probe(&self) -> Option<crate::sources::transport::Probe> {
        // No transport to watch when the source refuses its settings (gRPC takes no
        // insecure_skip_verify): it reports itself down with the reason instead.
        if self.tls.as_ref().is_some_and(|t| t.insecure_skip_verify) {
            return None;
        }
        Some(crate::sources::transport::Probe {
            endpoints: vec![self.endpoint.clone()],
            tls: self.tls.clone(),
            https: self.endpoint.starts_with("https://"),
            preamble: crate::sources::transport::Preamble::None,
            timeout: Duration::from_millis(self.timeout_millis),
            // gRPC goes direct: tonic takes no proxy.
            proxy: crate::sources::ProxySetting::Env(false),
        })
    }
}

const fn default_timeout() -> u64 {
    1000
}

const fn default_interval() -> u64 {
    1000
}

/// Health of a gRPC serving status, with the words that explain it.
pub fn status_health(status: ServingStatus) -> (Health, &'static str) {
    match status {
        ServingStatus::Serving => (Health::Healthy, "SERVING"),
        ServingStatus::NotServing => (Health::Unhealthy, "NOT_SERVING"),
        ServingStatus::ServiceUnknown => (
            Health::Unhealthy,
            "SERVICE_UNKNOWN: the server does not know this service",
        ),
        ServingStatus::Unknown => (Health::Unknown, "UNKNOWN"),
    }
}

fn url(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("http://{endpoint}")
    }
}

struct Target {
    emitter: Emitter,
    instance: InstanceId,
    service: ServiceId,
    last: Option<(Health, String)>,
}

impl Target {
    /// Sends the instance's health if it changed. Returns `false` once the engine stopped.
    async fn report(&mut self, health: Health, detail: String) -> bool {
        let now = (health, detail);
        if self.last.as_ref() == Some(&now) {
            return true;
        }
        let (health, detail) = now.clone();
        self.last = Some(now);
        self.emitter
            .emit(EventBody::InstanceHealth {
                instance: self.instance.clone(),
                service: self.service.clone(),
                health,
                detail: Some(detail),
            })
            .await
    }

    /// Waits `delay` before the next attempt, saying every second that the source is
    /// alive: it is reporting (the target's failure), not silent, so it must not turn
    /// stale while it backs off. Returns `false` once the engine stopped.
    async fn rest(&self, delay: Duration) -> bool {
        let mut left = delay;
        while !left.is_zero() {
            let step = left.min(Duration::from_secs(1));
            tokio::time::sleep(step).await;
            left = left.saturating_sub(step);
            if !left.is_zero() && !self.emitter.status(SourceStatus::Up, None).await {
                return false;
            }
        }
        true
    }
}

/// Runs the gRPC health source until the engine stops.
pub async fn run(cfg: GrpcHealthConfig, emitter: Emitter) {
    let timeout = Duration::from_millis(cfg.timeout_millis.max(10));
    let endpoint = match tonic::transport::Endpoint::from_shared(url(&cfg.endpoint)) {
        Ok(e) => e.connect_timeout(timeout).tcp_nodelay(true),
        Err(e) => {
            emitter
                .status(
                    SourceStatus::Down,
                    Some(format!("bad endpoint {:?}: {e}", cfg.endpoint)),
                )
                .await;
            return;
        }
    };
    let https = url(&cfg.endpoint).starts_with("https://");
    let endpoint =
        match crate::sources::tonic_tls_for(https, cfg.tls.as_ref()).and_then(|t| match t {
            Some(t) => endpoint
                .tls_config(t)
                .map_err(|e| crate::sources::error_words(&e)),
            None => Ok(endpoint),
        }) {
            Ok(e) => e,
            Err(e) => {
                emitter
                    .status(SourceStatus::Down, Some(format!("{e} ({})", cfg.endpoint)))
                    .await;
                return;
            }
        };
    let what = if cfg.service.is_empty() {
        "the server".to_owned()
    } else {
        format!("service {:?}", cfg.service)
    };
    if !emitter
        .status(
            SourceStatus::Up,
            Some(format!("watching {what} at {}", cfg.endpoint)),
        )
        .await
    {
        return;
    }
    let host_port = cfg
        .endpoint
        .split("://")
        .last()
        .unwrap_or(&cfg.endpoint)
        .to_owned();
    let mut target = Target {
        instance: InstanceId::new(cfg.instance.clone().unwrap_or(host_port)),
        service: ServiceId::new(cfg.topology_service.as_deref().unwrap_or(&cfg.name)),
        emitter,
        last: None,
    };
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5), 0x6e1);
    let request = || HealthCheckRequest {
        service: cfg.service.clone(),
    };
    loop {
        // connect_timeout bounds the TCP connect only; the TLS and HTTP/2 handshakes are
        // bounded here, so a server that accepts and then stalls cannot hang the source.
        let connected = match tokio::time::timeout(timeout, endpoint.connect()).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(format!(
                "cannot connect: {}",
                crate::sources::error_words_for(&e, cfg.tls.as_ref())
            )),
            Err(_) => Err(format!(
                "cannot connect: no handshake within {} ms",
                timeout.as_millis()
            )),
        };
        let channel = match connected {
            Ok(c) => c,
            Err(why) => {
                if !target
                    .report(Health::Unhealthy, format!("{why} ({})", cfg.endpoint))
                    .await
                {
                    return;
                }
                if !target.rest(backoff.next_delay()).await {
                    return;
                }
                continue;
            }
        };
        let mut client = HealthClient::new(channel);
        let answered = tokio::time::timeout(timeout, client.watch(request()))
            .await
            .unwrap_or_else(|_| {
                Err(tonic::Status::deadline_exceeded(format!(
                    "no answer to Watch within {} ms",
                    timeout.as_millis()
                )))
            });
        let outcome = match answered {
            Ok(resp) => {
                backoff.reset();
                let liveness = Liveness {
                    client: client.clone(),
                    request: request(),
                    timeout,
                    every: Duration::from_millis(cfg.interval_millis.max(50)),
                };
                watch(&mut target, resp.into_inner(), liveness).await
            }
            Err(s) if s.code() == tonic::Code::Unimplemented => {
                poll_check(
                    &mut target,
                    &mut client,
                    request(),
                    timeout,
                    cfg.interval_millis,
                )
                .await
            }
            // The protocol streams SERVICE_UNKNOWN; some servers (tonic-health) refuse with
            // NotFound instead. Both mean the same to the operator.
            Err(s) if s.code() == tonic::Code::NotFound => Some(format!(
                "SERVICE_UNKNOWN: the server does not know this service ({})",
                s.message()
            )),
            Err(s) => Some(format!(
                "Watch refused: {}",
                crate::sources::tls_words_for(&s, cfg.tls.as_ref())
                    .or_else(|| crate::sources::transport_words_for(&s))
                    .unwrap_or_else(|| format!("{} {}", s.code(), s.message()))
            )),
        };
        let Some(error) = outcome else { return };
        // The endpoint last: an instance named for its role does not say where it is.
        if !target
            .report(Health::Unhealthy, format!("{error} ({})", cfg.endpoint))
            .await
        {
            return;
        }
        if !target.rest(backoff.next_delay()).await {
            return;
        }
    }
}

/// How a quiet `Watch` stream is checked: a `Check` on the same connection every
/// `every`, bounded by `timeout`. A stream says nothing while nothing changes, so a
/// connection that went silent (a partition after connect, a half-open socket) would
/// otherwise show the last status forever. A call, unlike an HTTP/2 ping, carries data,
/// so servers that count pings on a quiet connection as abuse (grpc's default) do not
/// close it.
struct Liveness {
    client: HealthClient<tonic::transport::Channel>,
    request: HealthCheckRequest,
    timeout: Duration,
    every: Duration,
}

impl Liveness {
    /// Why the connection is gone, or `None` while it answers.
    async fn check(&mut self) -> Option<String> {
        match tokio::time::timeout(self.timeout, self.client.check(self.request.clone())).await {
            Err(_) => Some(format!(
                "the connection went silent: no answer to Check within {} ms",
                self.timeout.as_millis()
            )),
            Ok(Err(s)) if s.code() == tonic::Code::Unavailable => {
                Some(format!("the connection was lost: {}", s.message()))
            }
            // Any answer, even a refusal, is the server speaking.
            Ok(_) => None,
        }
    }
}

/// Follows a `Watch` stream; returns why it ended, or `None` when the engine stopped.
async fn watch(
    target: &mut Target,
    mut stream: tonic::Streaming<tonic_health::pb::HealthCheckResponse>,
    mut liveness: Liveness,
) -> Option<String> {
    let mut heartbeat = tokio::time::interval(Duration::from_secs(1));
    let mut checked = tokio::time::Instant::now();
    loop {
        tokio::select! {
            msg = stream.message() => match msg {
                Ok(Some(resp)) => {
                    checked = tokio::time::Instant::now();
                    let (health, words) = status_health(resp.status());
                    if !target.report(health, format!("{words} (Watch)")).await {
                        return None;
                    }
                }
                Ok(None) => return Some("Watch stream ended by the server".to_owned()),
                Err(s) => {
                    let why = crate::sources::transport_words_for(&s)
                        .unwrap_or_else(|| format!("{} {}", s.code(), s.message()));
                    return Some(format!("Watch stream dropped: {why}"));
                }
            },
            _ = heartbeat.tick() => {
                if checked.elapsed() >= liveness.every {
                    checked = tokio::time::Instant::now();
                    if let Some(why) = liveness.check().await {
                        return Some(why);
                    }
                }
                // The stream is quiet while nothing changes: say the source is alive.
                if !target.emitter.status(SourceStatus::Up, None).await {
                    return None;
                }
            }
        }
    }
}

/// Polls `Check` for servers without `Watch`; returns why it stopped, or `None`.
async fn poll_check(
    target: &mut Target,
    client: &mut HealthClient<tonic::transport::Channel>,
    request: HealthCheckRequest,
    timeout: Duration,
    interval_millis: u64,
) -> Option<String> {
    let mut ticker = tokio::time::interval(Duration::from_millis(interval_millis.max(50)));
    loop {
        ticker.tick().await;
        match tokio::time::timeout(timeout, client.check(request.clone())).await {
            Ok(Ok(resp)) => {
                let (health, words) = status_health(resp.into_inner().status());
                if !target.report(health, format!("{words} (Check)")).await {
                    return None;
                }
            }
            Ok(Err(s)) if s.code() == tonic::Code::NotFound => {
                if !target
                    .report(
                        Health::Unhealthy,
                        "SERVICE_UNKNOWN: the server does not know this service".into(),
                    )
                    .await
                {
                    return None;
                }
            }
            Ok(Err(s)) => return Some(format!("Check failed: {} {}", s.code(), s.message())),
            Err(_) => {
                return Some(format!(
                    "Check: no answer within {} ms",
                    timeout.as_millis()
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_health() {
        assert_eq!(status_health(ServingStatus::Serving).0, Health::Healthy);
        assert_eq!(
            status_health(ServingStatus::NotServing).0,
            Health::Unhealthy
        );
        assert_eq!(
            status_health(ServingStatus::ServiceUnknown).0,
            Health::Unhealthy
        );
        assert_eq!(status_health(ServingStatus::Unknown).0, Health::Unknown);
        assert_eq!(url("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(url("https://h:1"), "https://h:1");
    }
}
