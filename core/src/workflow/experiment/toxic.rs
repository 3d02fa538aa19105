//! A network fault through a fault proxy the environment names, over Toxiproxy's HTTP
//! API (the fault proxy an estate puts in front of a dependency for chaos tests): a
//! `latency` toxic (every byte that long late) or a `timeout` toxic (nothing passes).
//! The fault is one toxic of a fixed name, so undoing it deletes exactly what the
//! experiment added; a toxic of that name already there is refused, not replaced.

use std::time::Duration;

use crate::sources::http::{HttpClient, client, describe};

/// The toxic's name: the experiment's own, deleted when it is undone.
pub const TOXIC_NAME: &str = "switchboard-game-day";

/// Bound on each call to the proxy's API.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What the toxic does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toxic {
    /// Every chunk this many milliseconds late.
    Latency(u64),
    /// Nothing passes (connections hang).
    Timeout,
}

impl Toxic {
    /// In words.
    pub fn describe(self) -> String {
        match self {
            Self::Latency(ms) => format!("{ms} ms of latency"),
            Self::Timeout => "nothing passing (a timeout toxic)".to_owned(),
        }
    }

    fn body(self) -> serde_json::Value {
        match self {
            Self::Latency(ms) => serde_json::json!({
                "name": TOXIC_NAME, "type": "latency", "stream": "downstream",
                "toxicity": 1.0, "attributes": {"latency": ms, "jitter": 0}
            }),
            Self::Timeout => serde_json::json!({
                "name": TOXIC_NAME, "type": "timeout", "stream": "downstream",
                "toxicity": 1.0, "attributes": {"timeout": 0}
            }),
        }
    }
}

fn http() -> Result<HttpClient, String> {
    client(TIMEOUT)
}

fn url(api: &str, path: &str) -> String {
    format!("{}/{path}", api.trim_end_matches('/'))
}

/// Sends `req`, bounded; the status and (bounded) body.
async fn send(
    http: &HttpClient,
    req: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, String), String> {
    let resp = tokio::time::timeout(TIMEOUT, req.send())
        .await
        .map_err(|_| format!("the fault proxy's API did not answer within {TIMEOUT:?}"))?
        .map_err(|e| describe(&e, TIMEOUT))?;
    let status = resp.status();
    let body = http.body(resp, TIMEOUT).await?;
    Ok((status, body.chars().take(300).collect()))
}

/// Whether the proxy exists (the plan's guard), in words.
pub async fn check(api: &str, proxy: &str) -> Result<String, String> {
    let http = http()?;
    let (status, body) = send(&http, http.get(&url(api, &format!("proxies/{proxy}")))?).await?;
    if !status.is_success() {
        return Err(format!(
            "the fault proxy at {api} has no proxy {proxy:?} (HTTP {status}: {body})"
        ));
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if v["toxics"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == TOXIC_NAME))
    {
        return Err(format!(
            "proxy {proxy} already has a {TOXIC_NAME} toxic: another game day is on it, or one was not undone"
        ));
    }
    Ok(format!(
        "proxy {proxy} at {api} forwards {} to {}",
        v["listen"].as_str().unwrap_or("?"),
        v["upstream"].as_str().unwrap_or("?")
    ))
}

/// Adds the toxic.
pub async fn add(api: &str, proxy: &str, toxic: Toxic) -> Result<String, String> {
    let http = http()?;
    let req = http
        .request(
            reqwest::Method::POST,
            &url(api, &format!("proxies/{proxy}/toxics")),
        )?
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(toxic.body().to_string());
    let (status, body) = send(&http, req).await?;
    if status.is_success() {
        Ok(format!("{} on proxy {proxy}", toxic.describe()))
    } else {
        Err(format!(
            "the fault proxy refused the toxic (HTTP {status}: {body})"
        ))
    }
}

/// Deletes the toxic.
pub async fn remove(api: &str, proxy: &str) -> Result<String, String> {
    let http = http()?;
    let req = http.request(
        reqwest::Method::DELETE,
        &url(api, &format!("proxies/{proxy}/toxics/{TOXIC_NAME}")),
    )?;
    let (status, body) = send(&http, req).await?;
    if status.is_success() {
        Ok(format!("the toxic removed from proxy {proxy}"))
    } else {
        Err(format!(
            "the fault proxy did not remove the toxic (HTTP {status}: {body})"
        ))
    }
}
