//! The proxy in front of a local echo server (a stand-in upstream: what matters here
//! is what the proxy does to the bytes, and an echo shows every byte).

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::{Fault, FaultProxy};

/// An echo server on loopback: writes back whatever it reads, per connection.
fn echo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut buf = [0_u8; 4096];
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    if s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn connect(p: &FaultProxy) -> TcpStream {
    let s = TcpStream::connect(p.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    s
}

/// Reads exactly `n` bytes, or what came before the timeout or the end.
fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = vec![0_u8; n];
    let mut got = 0;
    while got < n {
        match s.read(&mut out[got..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    out.truncate(got);
    out
}

/// Everything until the end or the timeout.
fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok();
    out
}

#[test]
fn passes_bytes_and_counts_them_then_adds_latency_both_ways() {
    let p = FaultProxy::start(&echo()).expect("proxy");
    let mut s = connect(&p);
    s.write_all(b"hello").expect("write");
    assert_eq!(read_n(&mut s, 5), b"hello");
    // The counters follow the write that the client just read.
    std::thread::sleep(Duration::from_millis(50));
    let st = p.stats();
    assert_eq!((st.connections, st.upstream_connections), (1, 1));
    assert_eq!((st.bytes_from_clients, st.bytes_to_clients), (5, 5));

    p.set(Fault::Latency(Duration::from_millis(200)));
    let t0 = Instant::now();
    s.write_all(b"again").expect("write");
    assert_eq!(read_n(&mut s, 5), b"again");
    let rtt = t0.elapsed();
    assert!(
        rtt >= Duration::from_millis(400) && rtt < Duration::from_millis(1500),
        "200 ms each way on an established connection: {rtt:?}"
    );
}

#[test]
fn silence_stalls_established_and_new_connections_until_lifted() {
    let p = FaultProxy::start(&echo()).expect("proxy");
    let mut s = connect(&p);
    s.write_all(b"a").expect("write");
    assert_eq!(read_n(&mut s, 1), b"a");
    p.set(Fault::Silence);
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    s.write_all(b"b").expect("write");
    let mut one = [0_u8; 1];
    let err = s
        .read(&mut one)
        .expect_err("nothing comes back while silent");
    assert!(matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    let mut fresh = connect(&p);
    fresh
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    fresh.write_all(b"c").expect("write");
    assert!(
        fresh.read(&mut one).is_err(),
        "a new connection is held too"
    );
    p.set(Fault::Pass);
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    fresh
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    assert_eq!(read_n(&mut s, 1), b"b", "held bytes flow once healed");
    assert_eq!(
        read_n(&mut fresh, 1),
        b"c",
        "the held connection goes through"
    );
}

#[test]
fn forged_answers_replace_the_upstreams() {
    let p = FaultProxy::start(&echo()).expect("proxy");
    let mut kept = connect(&p);
    kept.write_all(b"x").expect("write");
    assert_eq!(read_n(&mut kept, 1), b"x");

    p.set(Fault::Html200);
    assert!(
        read_all(&mut kept).is_empty(),
        "established ones are closed"
    );
    let mut s = connect(&p);
    s.write_all(b"GET /stats;csv HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let page = String::from_utf8(read_all(&mut s)).expect("text");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(
        page.contains("text/html") && page.contains("Sign in"),
        "{page}"
    );

    p.set(Fault::Garbage);
    let mut s = connect(&p);
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
    assert_eq!(read_all(&mut s).len(), crate::forge::GARBAGE_BYTES);

    p.set(Fault::Huge);
    let mut s = connect(&p);
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
    let head = read_n(&mut s, 1 << 20);
    assert_eq!(head.len(), 1 << 20, "a megabyte and counting");
    assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"));

    p.set(Fault::Refuse);
    let mut s = connect(&p);
    s.write_all(b"x").ok();
    assert!(read_all(&mut s).is_empty(), "closed at once");
    assert!(
        p.stats().upstream_connections == 1,
        "forged answers never reach the upstream"
    );
}

#[test]
fn truncate_slowloris_and_half_open_shape_the_answer() {
    let p = FaultProxy::start(&echo()).expect("proxy");
    p.set(Fault::Truncate(3));
    let mut s = connect(&p);
    s.write_all(b"abcdef").expect("write");
    assert_eq!(read_all(&mut s), b"abc", "cut after 3 bytes and closed");

    p.set(Fault::Slowloris(Duration::from_millis(100)));
    let mut s = connect(&p);
    let t0 = Instant::now();
    s.write_all(b"abcde").expect("write");
    assert_eq!(read_n(&mut s, 5), b"abcde");
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "a byte every 100 ms: {:?}",
        t0.elapsed()
    );

    p.set(Fault::Pass);
    let mut s = connect(&p);
    s.write_all(b"a").expect("write");
    assert_eq!(read_n(&mut s, 1), b"a");
    p.set(Fault::HalfOpen);
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    s.write_all(b"b").expect("the write is taken");
    let mut one = [0_u8; 1];
    let err = s.read(&mut one).expect_err("never answered, never closed");
    assert!(matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    p.set(Fault::Pass);
    std::thread::sleep(Duration::from_millis(200));
    assert!(s.read(&mut one).is_err(), "lifting it does not revive it");
}

#[test]
fn an_armed_trigger_switches_after_the_commands_answer() {
    let p = FaultProxy::start(&echo()).expect("proxy");
    p.arm(b"disable server", Fault::Silence);
    let mut s = connect(&p);
    s.write_all(b"show stat\n").expect("write");
    assert_eq!(read_n(&mut s, 10), b"show stat\n");
    assert_eq!(p.fault(), Fault::Pass, "not yet");
    s.write_all(b"disable server be/web1\n").expect("write");
    assert_eq!(read_n(&mut s, 23), b"disable server be/web1\n", "answered");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(p.fault(), Fault::Silence, "silent right after");
    assert_eq!(p.stats().triggered, 1);
}

#[test]
fn faults_parse_from_their_names() {
    for text in [
        "pass",
        "latency:500ms",
        "blackhole",
        "silence",
        "half_open",
        "slowloris:100ms",
        "garbage",
        "html200",
        "truncate:64",
        "huge",
        "refuse",
    ] {
        let f: Fault = text.parse().expect(text);
        assert_eq!(f.to_string(), text);
    }
    assert_eq!(
        "latency:2s".parse::<Fault>(),
        Ok(Fault::Latency(Duration::from_secs(2)))
    );
    let err = "latency".parse::<Fault>().expect_err("needs a delay");
    assert_eq!(
        err.to_string(),
        "latency needs a delay, as in latency:500ms"
    );
    assert!(
        "lag:1s"
            .parse::<Fault>()
            .expect_err("unknown")
            .to_string()
            .starts_with("unknown fault \"lag:1s\"")
    );
}

/// One request to the control API; (status code, body).
fn api_call(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let answer = String::from_utf8(read_all(&mut s)).expect("utf-8");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[test]
fn the_control_api_sets_and_lifts_one_toxic_as_toxiproxy_answers() {
    let p = FaultProxy::start(&echo()).expect("proxy");
    let api = p.serve_api("127.0.0.1:0", "db").expect("api");
    let (code, body) = api_call(api, "GET", "/proxies/db", "");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"toxics\":[]"), "{body}");
    assert_eq!(api_call(api, "GET", "/proxies/other", "").0, 404);
    let latency = r#"{"name":"t","type":"latency","attributes":{"latency":250}}"#;
    assert_eq!(api_call(api, "POST", "/proxies/db/toxics", latency).0, 200);
    assert_eq!(p.fault(), Fault::Latency(Duration::from_millis(250)));
    assert_eq!(
        api_call(api, "POST", "/proxies/db/toxics", latency).0,
        409,
        "one toxic at a time"
    );
    assert_eq!(
        api_call(api, "DELETE", "/proxies/db/toxics/other", "").0,
        404
    );
    assert_eq!(api_call(api, "DELETE", "/proxies/db/toxics/t", "").0, 204);
    assert_eq!(p.fault(), Fault::Pass);
    let timeout = r#"{"name":"t","type":"timeout","attributes":{"timeout":0}}"#;
    assert_eq!(api_call(api, "POST", "/proxies/db/toxics", timeout).0, 200);
    assert_eq!(p.fault(), Fault::Silence);
    let (code, body) = api_call(
        api,
        "POST",
        "/proxies/db/toxics",
        "{\"type\":\"bandwidth\"}",
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("not emulated here"), "{body}");
}
