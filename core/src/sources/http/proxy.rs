//! Which forward proxy an HTTP client uses, read from the environment as curl reads it.
//!
//! curl: `https_proxy` or `HTTPS_PROXY` for `https://` URLs; only the lowercase
//! `http_proxy` for `http://` URLs (the uppercase one can be set by a CGI request's
//! `Proxy:` header, so curl ignores it, and so does the console); `all_proxy` or
//! `ALL_PROXY` for either when the specific one is unset; `no_proxy` or `NO_PROXY`: a
//! comma-separated list of hosts, domains (matching their subdomains), IP addresses or
//! networks, or `*` for all, that go direct. Loopback is not special: like curl, a
//! loopback target goes through the proxy unless `NO_PROXY` lists it.
//!
//! A source may instead go direct (`proxy = false`) or name its own proxy (`proxy =
//! "http://host:port"`).
//!
//! The variables are read once into a [`ProxyEnv`] when a client is built and handed to
//! reqwest explicitly (reqwest's own reading of the environment is turned off), so
//! tests can pass a snapshot instead of changing the process's environment. A proxy URL
//! may hold `user:password@`; it is only ever shown through `redact_url`.

use crate::sources::connection::{ProxySetting, redact_url};

/// The proxy variables of one environment.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// The proxy for `https://` URLs.
    pub https: Option<String>,
    /// The proxy for `http://` URLs.
    pub http: Option<String>,
    /// The `NO_PROXY` list.
    pub no_proxy: Option<String>,
}

impl std::fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyEnv")
            .field("https", &self.https.as_deref().map(redact_url))
            .field("http", &self.http.as_deref().map(redact_url))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl ProxyEnv {
    /// The process's proxy variables, now.
    pub fn from_process() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The proxy variables as `var` gives them (see the module's docs for curl's rules).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let first = |names: &[&str]| {
            names
                .iter()
                .filter_map(|n| var(n))
                .map(|v| v.trim().to_owned())
                .find(|v| !v.is_empty())
        };
        let all = first(&["all_proxy", "ALL_PROXY"]);
        Self {
            https: first(&["https_proxy", "HTTPS_PROXY"]).or_else(|| all.clone()),
            http: first(&["http_proxy"]).or(all),
            no_proxy: first(&["no_proxy", "NO_PROXY"]),
        }
    }

    /// The proxy a request to `url` goes through under `setting`, as curl picks it
    /// (`NO_PROXY` honoured for the environment's proxies); `None` to go direct. For
    /// the clients that reqwest does not build: kube's, and the transport watcher's
    /// handshake.
    pub fn proxy_for(&self, setting: &ProxySetting, url: &str) -> Option<String> {
        match setting {
            ProxySetting::Env(false) => None,
            ProxySetting::Url(u) => Some(with_scheme(u)),
            ProxySetting::Env(true) => {
                let uri: http::Uri = url.parse().ok()?;
                let mut m = hyper_util::client::proxy::matcher::Matcher::builder();
                if let Some(p) = &self.https {
                    m = m.https(with_scheme(p));
                }
                if let Some(p) = &self.http {
                    m = m.http(with_scheme(p));
                }
                if let Some(no) = &self.no_proxy {
                    m = m.no(no.clone());
                }
                m.build().intercept(&uri).map(|i| i.uri().to_string())
            }
        }
    }

    /// `builder` with the proxies `setting` picks: this environment's, none, or the
    /// source's own (for every URL, `NO_PROXY` aside: it was named for this source).
    pub(super) fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
        setting: &ProxySetting,
    ) -> Result<reqwest::ClientBuilder, String> {
        // Clears reqwest's own reading of the environment: only this snapshot counts.
        builder = builder.no_proxy();
        match setting {
            ProxySetting::Env(true) => {}
            ProxySetting::Env(false) => return Ok(builder),
            ProxySetting::Url(url) => {
                let p = reqwest::Proxy::all(with_scheme(url))
                    .map_err(|_| format!("the proxy is not a URL ({})", redact_url(url)))?;
                return Ok(builder.proxy(p));
            }
        }
        let no = || reqwest::NoProxy::from_string(self.no_proxy.as_deref().unwrap_or_default());
        if let Some(url) = &self.https {
            let p = reqwest::Proxy::https(with_scheme(url))
                .map_err(|_| format!("the HTTPS proxy is not a URL ({})", redact_url(url)))?;
            builder = builder.proxy(p.no_proxy(no()));
        }
        if let Some(url) = &self.http {
            let p = reqwest::Proxy::http(with_scheme(url))
                .map_err(|_| format!("the HTTP proxy is not a URL ({})", redact_url(url)))?;
            builder = builder.proxy(p.no_proxy(no()));
        }
        Ok(builder)
    }
}

/// A proxy given as `host:port` is an HTTP proxy, as curl takes it.
fn with_scheme(url: &str) -> String {
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> ProxyEnv {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProxyEnv::from_vars(|n| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
    }

    #[test]
    fn variables_are_read_as_curl_reads_them() {
        let e = env(&[("HTTPS_PROXY", "http://p:1"), ("HTTP_PROXY", "http://p:2")]);
        assert_eq!(e.https.as_deref(), Some("http://p:1"));
        // Uppercase HTTP_PROXY is ignored, as curl does.
        assert_eq!(e.http, None);
        let e = env(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:1"),
        ]);
        assert_eq!(e.https.as_deref(), Some("http://lower:1"));
        let e = env(&[("ALL_PROXY", "http://all:1"), ("http_proxy", "http://h:1")]);
        assert_eq!(
            (e.https.as_deref(), e.http.as_deref()),
            (Some("http://all:1"), Some("http://h:1"))
        );
    }

    #[test]
    fn the_proxy_for_a_url_honours_no_proxy_and_the_setting() {
        let e = env(&[
            ("https_proxy", "http://p:3128"),
            ("NO_PROXY", "10.0.0.0/8,.internal"),
        ]);
        let on = ProxySetting::Env(true);
        assert_eq!(
            e.proxy_for(&on, "https://api.example.com:6443").as_deref(),
            Some("http://p:3128/")
        );
        assert_eq!(e.proxy_for(&on, "https://10.1.2.3:6443"), None);
        assert_eq!(e.proxy_for(&on, "https://k8s.prod.internal"), None);
        assert_eq!(
            e.proxy_for(&on, "http://api.example.com"),
            None,
            "no http_proxy"
        );
        assert_eq!(
            e.proxy_for(&ProxySetting::Env(false), "https://api.example.com"),
            None
        );
        assert_eq!(
            e.proxy_for(&ProxySetting::Url("q:8080".into()), "https://10.1.2.3")
                .as_deref(),
            Some("http://q:8080")
        );
    }

    #[test]
    fn debug_hides_the_proxy_password() {
        let e = env(&[("https_proxy", "http://user:hunter2@proxy:3128")]);
        let shown = format!("{e:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***@proxy:3128"), "{shown}");
    }
}
