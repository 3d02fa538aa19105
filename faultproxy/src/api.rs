//! A control API in Toxiproxy's shape, so what speaks to a real Toxiproxy (the fault
//! proxy estates put in front of a dependency for chaos tests; the console's `toxic`
//! experiment fault) can drive this proxy on the test rig. An emulation of the part of
//! Toxiproxy's HTTP API the console uses, and only that:
//!
//! - `GET /proxies/NAME`: the proxy (`name`, `listen`, `upstream`, `enabled`, `toxics`);
//! - `POST /proxies/NAME/toxics` with `{"name", "type": "latency", "attributes":
//!   {"latency": MS}}` (every chunk delayed) or `"type": "timeout"` (nothing passes:
//!   [`Fault::Silence`]); one toxic at a time, a second is 409 as in Toxiproxy;
//! - `DELETE /proxies/NAME/toxics/TOXIC`: back to plain forwarding (204).
//!
//! One request per connection (`Connection: close`), its head and body bounded.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::{Fault, Shared};

/// The most a request's head and body may hold.
const MAX_REQUEST: usize = 64 * 1024;
/// How long a client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What the API serves: the proxy's name, where it listens, and its one toxic.
pub(crate) struct Api {
    pub(crate) name: String,
    pub(crate) listen: String,
    pub(crate) shared: Arc<Shared>,
    pub(crate) toxic: Mutex<Option<Value>>,
}

/// Serves the API until the runtime stops.
pub(crate) async fn serve(listener: TcpListener, api: Arc<Api>) {
    while let Ok((stream, _)) = listener.accept().await {
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, one(stream, &api)).await;
        });
    }
}

/// Reads one request and answers it.
async fn one(mut stream: TcpStream, api: &Api) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_REQUEST {
            return answer(&mut stream, 413, &json!({"error": "request too large"})).await;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    if length > MAX_REQUEST {
        return answer(&mut stream, 413, &json!({"error": "request too large"})).await;
    }
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = &buf[head_end..buf.len().min(head_end + length)];
    let mut words = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, path) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    let (status, reply) = route(api, method, path, body);
    answer(&mut stream, status, &reply).await
}

fn error(status: u16, text: &str) -> (u16, Value) {
    (status, json!({"error": text, "status": status}))
}

/// What `method path` with `body` answers.
fn route(api: &Api, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let toxic = || {
        api.toxic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    };
    match (method, parts.as_slice()) {
        (_, ["proxies", name, ..]) if *name != api.name => error(404, "proxy not found"),
        ("GET", ["proxies", _]) => (
            200,
            json!({
                "name": api.name,
                "listen": api.listen,
                "upstream": api.shared.upstream,
                "enabled": true,
                "toxics": toxic().into_iter().collect::<Vec<_>>(),
            }),
        ),
        ("POST", ["proxies", _, "toxics"]) => {
            let Ok(t) = serde_json::from_slice::<Value>(body) else {
                return error(400, "bad request body");
            };
            let fault = match t["type"].as_str() {
                Some("latency") => match t["attributes"]["latency"].as_u64() {
                    Some(ms) => Fault::Latency(Duration::from_millis(ms)),
                    None => return error(400, "latency toxic without attributes.latency"),
                },
                Some("timeout") => Fault::Silence,
                _ => return error(400, "toxic type not emulated here (latency, timeout)"),
            };
            let mut held = api.toxic.lock().unwrap_or_else(PoisonError::into_inner);
            if held.is_some() {
                return error(409, "toxic already exists");
            }
            *held = Some(t.clone());
            api.shared.fault.send_replace(fault);
            (200, t)
        }
        ("DELETE", ["proxies", _, "toxics", name]) => {
            let mut held = api.toxic.lock().unwrap_or_else(PoisonError::into_inner);
            if held.as_ref().and_then(|t| t["name"].as_str()) != Some(*name) {
                return error(404, "toxic not found");
            }
            *held = None;
            api.shared.fault.send_replace(Fault::Pass);
            (204, Value::Null)
        }
        _ => error(404, "not found"),
    }
}

async fn answer(stream: &mut TcpStream, status: u16, body: &Value) -> std::io::Result<()> {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        409 => "Conflict",
        413 => "Payload Too Large",
        _ => "Not Found",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await
}
