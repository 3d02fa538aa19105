//! HTTP for every HTTP source: the client (built from a [`Connection`]: TLS, credentials
//! and proxy as the source's config says) and the requests the sources share, with
//! failures in words an operator can act on.
//!
//! One file per concern: `tls.rs` (the rustls configuration: CA, client certificate,
//! server name, insecure), `auth.rs` (basic and bearer credentials, token files read
//! again when they rotate), `proxy.rs` (the proxy variables as curl reads them).

pub(crate) mod auth;
mod proxy;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use super::bounds::AnswerLimit;
use super::connection::{Connection, ReachSettings, redact_url, refusal_words};

pub(crate) use self::auth::Secret;
pub use self::proxy::ProxyEnv;

/// A client whose requests give up after `timeout`, with no TLS settings or
/// credentials and the environment's proxy variables (see [`HttpClient::new`]).
pub fn client(timeout: Duration) -> Result<HttpClient, String> {
    HttpClient::new(&Connection::new(timeout))
}

/// A client for a source that reaches its target as `reach` says, bounded by `timeout`.
pub fn client_for(reach: &ReachSettings<'_>, timeout: Duration) -> Result<HttpClient, String> {
    HttpClient::new(&Connection::to(reach, timeout))
}

/// A client for the source configured by `cfg` (its [`Settings::reach`]), bounded by
/// `timeout`: what every HTTP source and every workflow talking to the same target
/// builds its client with.
///
/// [`Settings::reach`]: super::Settings::reach
pub fn client_of(cfg: &impl super::Settings, timeout: Duration) -> Result<HttpClient, String> {
    match cfg.reach() {
        Some(reach) => client_for(&reach, timeout),
        None => client(timeout),
    }
}

/// An HTTP client with one source's TLS, credentials and proxy use. Cheap to clone.
/// Requests are made through [`HttpClient::get`] and [`HttpClient::request`], which add
/// the credentials (reading a rotated token file again).
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    auth: Option<Arc<auth::Credentials>>,
    tls: Option<super::TlsSettings>,
    max_answer: AnswerLimit,
}

/// Leaves reqwest's client out: its `Debug` lists its proxies, and a proxy URL may hold
/// a password.
impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("max_answer", &self.max_answer)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with `connection`'s settings and the process's proxy variables, read now.
    pub fn new(connection: &Connection) -> Result<Self, String> {
        Self::with_proxy_env(connection, &ProxyEnv::from_process())
    }

    /// A client with `connection`'s settings and the proxy variables of `env`: rustls
    /// on the ring provider with the source's CA, client certificate and server name,
    /// bounded connect and request times, the proxy of `env` unless the source goes
    /// direct.
    pub fn with_proxy_env(connection: &Connection, env: &ProxyEnv) -> Result<Self, String> {
        // The process-wide default, for other rustls users in the process (kube, tonic);
        // installing twice is harmless: the first provider stays.
        rustls::crypto::ring::default_provider()
            .install_default()
            .ok();
        let tls = tls::client_config(connection.tls.as_ref())?;
        let builder = reqwest::Client::builder()
            .connect_timeout(connection.timeout)
            .timeout(connection.timeout)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .tls_backend_preconfigured(tls);
        let client = env
            .apply(builder, &connection.proxy)?
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e:#}"))?;
        let auth = connection
            .auth
            .as_ref()
            .map(auth::Credentials::from_settings)
            .transpose()?
            .map(Arc::new);
        Ok(Self {
            client,
            auth,
            tls: connection.tls.clone(),
            max_answer: connection.max_answer,
        })
    }

    /// This client sending `username` and `password` as basic authentication instead of
    /// its own credentials (a Patroni YAML's `restapi.authentication`).
    pub(crate) fn with_basic_auth(mut self, username: String, password: Secret) -> Self {
        self.auth = Some(Arc::new(auth::Credentials::Basic { username, password }));
        self
    }

    /// A `GET url` with the credentials, or why they cannot be had.
    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, String> {
        self.request(reqwest::Method::GET, url)
    }

    /// A `method url` with the credentials, or why they cannot be had.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, String> {
        let req = self.client.request(method, url);
        match &self.auth {
            Some(a) => a.apply(req),
            None => Ok(req),
        }
    }

    /// The body of `resp` as text, at most the source's answer limit: a target that
    /// answers without end (a file server, a log stream) cannot fill memory. The buffer
    /// never grows past the limit, so a hostile answer costs at most that much; valid
    /// UTF-8 (every API read here) is not copied again.
    pub async fn body(
        &self,
        mut resp: reqwest::Response,
        timeout: Duration,
    ) -> Result<String, String> {
        let limit = self.max_answer;
        let cap = usize::try_from(limit.max_bytes).unwrap_or(usize::MAX);
        // A declared length over the limit is refused before reading a byte of it.
        if let Some(len) = resp.content_length() {
            limit.check(len, resp.url().as_str())?;
        }
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.describe(&e, timeout))? {
            let len = bytes.len().saturating_add(chunk.len());
            limit.check(len as u64, resp.url().as_str())?;
            if len > bytes.capacity() {
                // Doubling as `Vec` does, but never past the limit.
                let want = len.max(bytes.capacity().saturating_mul(2)).min(cap);
                bytes.reserve_exact(want - bytes.len());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// A failure of one of this client's requests in words (as `describe` says it), naming
    /// a TLS failure by its cause as the source's TLS settings explain it.
    pub fn describe(&self, e: &reqwest::Error, timeout: Duration) -> String {
        if e.is_timeout() {
            return describe(e, timeout);
        }
        // reqwest's own top line repeats the URL, which is said once, last.
        let cause: &(dyn std::error::Error + 'static) = std::error::Error::source(e).unwrap_or(e);
        match super::tls_words_for(cause, self.tls.as_ref()) {
            Some(words) => match e.url() {
                Some(url) => format!("{words} ({})", redact_url(url.as_str())),
                None => words,
            },
            None => describe(e, timeout),
        }
    }
}

/// A status that refuses the request (401, 403, 407) as an error in words; else `Ok`.
pub fn refused(status: reqwest::StatusCode, url: &str) -> Result<(), String> {
    refusal_words(status.as_u16(), url).map_or(Ok(()), Err)
}

/// `GET url?query` within `timeout`: the body whatever the status (Prometheus and
/// Patroni answer errors and a 503 with a JSON body worth reading) except a refusal
/// (401, 403, 407: no body worth reading), or why not.
pub async fn get_text(
    client: &HttpClient,
    url: &str,
    query: &[(&str, &str)],
    timeout: Duration,
) -> Result<String, String> {
    let answer = async {
        let resp = client
            .get(url)?
            .query(query)
            .send()
            .await
            .map_err(|e| client.describe(&e, timeout))?;
        refused(resp.status(), url)?;
        client.body(resp, timeout).await
    };
    super::bounded(timeout, url, answer).await
}

/// `GET url`: the body of a 2xx answer; any other status is an error naming it and the
/// URL. Unbounded: callers bound the whole poll.
pub async fn get_ok(client: &HttpClient, url: &str, timeout: Duration) -> Result<String, String> {
    let resp = client
        .get(url)?
        .send()
        .await
        .map_err(|e| client.describe(&e, timeout))?;
    let status = resp.status();
    refused(status, url)?;
    let body = client.body(resp, timeout).await?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("HTTP {status} ({})", redact_url(url)))
    }
}

/// An HTTP failure in words an operator can act on: a timeout says so with its bound;
/// anything else names its root cause (connection refused, DNS, TLS) and the URL last.
pub fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        // Which address: a source asks several (Patroni's members, Traefik's API and
        // metrics), and "no answer" three times says nothing.
        return match e.url() {
            Some(url) => format!(
                "no answer within {} ms ({})",
                timeout.as_millis(),
                redact_url(url.as_str())
            ),
            None => format!("no answer within {} ms", timeout.as_millis()),
        };
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
    // A tunnel's failure is the proxy's, in its own words (407 and the rest).
    let chain = super::error_words(std::error::Error::source(e).unwrap_or(e));
    if let Some(words) = chain.contains("tunnel error").then_some(chain) {
        return match e.url() {
            Some(url) => format!("{words} ({})", redact_url(url.as_str())),
            None => words,
        };
    }
    match e.url() {
        Some(url) => format!("{what}: {cause} ({})", redact_url(url.as_str())),
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
                .get(&format!("http://127.0.0.1:{port}/"))
                .expect("request")
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

    #[test]
    fn a_name_that_does_not_resolve_is_said_so_with_the_address() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let timeout = Duration::from_secs(5);
        let http = client(timeout).expect("client");
        let text = rt.block_on(async {
            let err = http
                .get("http://nowhere.invalid:8404/stats")
                .expect("request")
                .send()
                .await
                .expect_err("no such name");
            http.describe(&err, timeout)
        });
        assert!(
            text.starts_with("the name does not resolve: check its spelling"),
            "{text}"
        );
        assert!(
            text.ends_with("(http://nowhere.invalid:8404/stats)"),
            "{text}"
        );
    }
}
