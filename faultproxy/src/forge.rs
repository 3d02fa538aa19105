//! Forged answers: random bytes, an HTML login page with `200 OK`, and an endless body.

use std::time::{SystemTime, UNIX_EPOCH};

/// How many random bytes [`garbage`] returns.
pub(crate) const GARBAGE_BYTES: usize = 4096;

/// `GARBAGE_BYTES` pseudo-random bytes (xorshift seeded from the clock: no crate for
/// this, and the bytes need only be unlike any protocol).
pub(crate) fn garbage() -> Vec<u8> {
    let mut x = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64)
        | 1;
    let mut out = Vec::with_capacity(GARBAGE_BYTES);
    while out.len() < GARBAGE_BYTES {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(GARBAGE_BYTES);
    out
}

/// A complete `200 OK` answer with an HTML single-sign-on login page, as a captive
/// portal or an authenticating proxy gives to any path.
pub(crate) fn html_login() -> Vec<u8> {
    let body = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body>\
                <h1>Corporate single sign-on</h1>\n<form method=\"post\" action=\"/login\">\
                <input name=\"username\"><input name=\"password\" type=\"password\">\
                <button>Sign in</button></form>\n</body></html>\n";
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The head of an endless answer: valid headers, JSON, neither length nor chunking, so
/// the body ends only when the connection does; then the start of a JSON string.
pub(crate) fn huge_head() -> &'static [u8] {
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"data\":\""
}

/// One block of the endless body (64 KiB), repeated for as long as the client reads.
pub(crate) fn huge_block() -> Vec<u8> {
    b"0123456789abcdef".repeat(4096)
}
