//! HTTP for every HTTP source: the client (built from [`Connection`]) and the
//! requests the sources share, with failures in words an operator can act on.

use std::time::Duration;

use super::connection::Connection;

/// A client whose requests give up after `timeout` (see [`Connection::http_client`]).
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    Connection::new(timeout).http_client()
}

/// `GET url?query` within `timeout`: the body whatever the status (Prometheus and
/// Patroni answer errors and a 503 with a JSON body worth reading), or why not.
pub async fn get_text(
    client: &reqwest::Client,
    url: &str,
    query: &[(&str, &str)],
    timeout: Duration,
) -> Result<String, String> {
    let answer = async {
        let resp = client
            .get(url)
            .query(query)
            .send()
            .await
            .map_err(|e| describe(&e, timeout))?;
        resp.text().await.map_err(|e| describe(&e, timeout))
    };
    super::bounded(timeout, url, answer).await
}

/// `GET url`: the body of a 2xx answer; any other status is an error naming it and the
/// URL. Unbounded: callers bound the whole poll.
pub async fn get_ok(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<String, String> {
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| describe(&e, timeout))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| describe(&e, timeout))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("HTTP {status} ({url})"))
    }
}

/// An HTTP failure in words an operator can act on: a timeout says so with its bound;
/// anything else names its root cause (connection refused, DNS, TLS) and the URL last.
pub fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_decode() {
        "unreadable answer"
    } else {
        "request failed"
    };
    match e.url() {
        Some(url) => format!("{what}: {cause} ({url})"),
        None => format!("{what}: {cause}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_connections_name_the_cause() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_or(1, |a| a.port());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let timeout = Duration::from_millis(500);
        let text = rt.block_on(async {
            let client = client(timeout).expect("client");
            let err = client
                .get(format!("http://127.0.0.1:{port}/"))
                .send()
                .await
                .expect_err("refused");
            describe(&err, timeout)
        });
        assert!(text.starts_with("cannot connect: "), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");
        assert!(
            text.ends_with(&format!("(http://127.0.0.1:{port}/)")),
            "{text}"
        );
    }
}
