//! A rotating bearer token (`auth.token_file`, as Consul and Kubernetes projected tokens
//! rotate): after the file is rewritten, the next request carries the new token.
//!
//! The server is a FAKE: a few lines of HTTP/1.1 on a local socket that answer 200 and
//! record each request's Authorization header. What is under test is the client side.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_core::SourceConfig;
use switchboard_core::sources::http_probe::HttpProbeConfig;
use switchboard_core::sources::{AuthSettings, ProxySetting};

/// A fake HTTP server on 127.0.0.1 recording Authorization headers: its address and
/// the headers so far.
fn recording_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            s.set_read_timeout(Some(Duration::from_secs(2))).ok();
            let mut buf = vec![0; 8192];
            let mut len = 0;
            while len < buf.len() {
                match s.read(&mut buf[len..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => len += n,
                }
                if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let head = String::from_utf8_lossy(&buf[..len]).into_owned();
            if let Some(auth) = head.lines().find_map(|l| {
                l.strip_prefix("authorization: ")
                    .or_else(|| l.strip_prefix("Authorization: "))
            }) {
                log.lock().expect("log").push(auth.trim().to_owned());
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .ok();
        }
    });
    (addr, seen)
}

#[test]
fn a_rewritten_token_file_is_sent_from_the_next_request_on() {
    let (addr, seen) = recording_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "first-token-aaaa\n").expect("write");
    let src = SourceConfig::HttpProbe(HttpProbeConfig {
        name: "rotating".into(),
        url: format!("http://{addr}/health"),
        interval_secs: 0.1,
        timeout_secs: 1.0,
        healthy_threshold: 1,
        unhealthy_threshold: 1,
        service: None,
        instance: None,
        tls: None,
        auth: Some(AuthSettings {
            token_file: Some(token.display().to_string()),
            ..AuthSettings::default()
        }),
        proxy: ProxySetting::Env(false),
        max_answer_bytes: None,
    });
    src.validate().expect("valid");
    let engine = super::common::engine_with(src);
    let has = |t: &str| seen.lock().expect("log").iter().any(|h| h.ends_with(t));
    let wait = |t: &str| {
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while !has(t) && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        has(t)
    };
    assert!(wait("first-token-aaaa"), "{:?}", seen.lock().expect("log"));
    std::fs::write(&token, "second-token-bb\n").expect("rewrite");
    assert!(wait("second-token-bb"), "{:?}", seen.lock().expect("log"));
    let headers = seen.lock().expect("log").clone();
    let first_new = headers
        .iter()
        .position(|h| h.ends_with("second-token-bb"))
        .unwrap_or_default();
    assert!(
        headers[first_new..]
            .iter()
            .all(|h| h == "Bearer second-token-bb"),
        "an old token after the new one: {headers:?}"
    );
    let state = format!("{:?}", engine.snapshot().sources);
    assert!(
        !state.contains("token-"),
        "a token shows in the state: {state}"
    );
    eprintln!(
        "token rotation (fake server): {} requests, the new token from the first request after the rewrite",
        headers.len()
    );
}
