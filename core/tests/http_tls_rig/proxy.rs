//! Forward proxies (tinyproxy, whose access log is the proof): a source with its own
//! proxy goes through it; the environment's `https_proxy`, read from a snapshot rather
//! than the process's environment (so the test is hermetic), sends a client through it,
//! unless `NO_PROXY` lists the host or the source says `proxy = false`; a proxy that
//! wants credentials answers 407, said in words, and takes them from the proxy URL,
//! whose password shows nowhere.

use std::time::Duration;

use switchboard_core::SourceConfig;
use switchboard_core::sources::{Connection, HttpClient, ProxyEnv, ProxySetting};

use super::servers::{STATS, prometheus, sampled, up_with};
use super::{basic, no_secret_in, password, refused, rig_dir, right_ca, skip_unless};

/// CONNECTs to 127.0.0.1:`port` in proxy `name`'s access log so far.
fn connects(name: &str, port: u16) -> usize {
    let log = rig_dir().join("httptls").join(format!("{name}-access.log"));
    let needle = format!("CONNECT 127.0.0.1:{port} ");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

fn via(source: SourceConfig, proxy: ProxySetting) -> SourceConfig {
    match source {
        SourceConfig::Prometheus(mut c) => {
            c.proxy = proxy;
            SourceConfig::Prometheus(c)
        }
        other => other,
    }
}

/// GET HAProxy's TLS stats with the environment `vars` and the source's `proxy`: the
/// status, or the error in words.
fn stats_with(vars: &[(&str, String)], proxy: ProxySetting) -> Result<u16, String> {
    let env = ProxyEnv::from_vars(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()));
    let mut connection = Connection::new(Duration::from_secs(3));
    connection.tls = Some(right_ca());
    connection.auth = Some(basic("admin", "haproxy"));
    connection.proxy = proxy;
    let client = HttpClient::with_proxy_env(&connection, &env)?;
    no_secret_in(&format!("{client:?}"));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let resp = client
            .get(STATS)?
            .send()
            .await
            .map_err(|e| client.describe(&e, Duration::from_secs(3)))?;
        Ok(resp.status().as_u16())
    })
}

#[test]
fn sources_go_through_the_proxy_unless_told_not_to() {
    if skip_unless("proxy") || skip_unless("prometheustls") || skip_unless("haproxytls") {
        return;
    }
    // A source's own proxy.
    let before = connects("proxy", 44690);
    let own = via(
        prometheus(
            "prom-proxied",
            right_ca(),
            Some(basic("prom", "prometheus")),
        ),
        ProxySetting::Url("http://127.0.0.1:44628".into()),
    );
    up_with(own, "prom-proxied", sampled("prom-proxied"));
    assert!(
        connects("proxy", 44690) > before,
        "no CONNECT in tinyproxy's log"
    );

    // The environment's https_proxy, from a snapshot.
    let proxy = ("https_proxy", "http://127.0.0.1:44628".to_owned());
    let before = connects("proxy", 44640);
    assert_eq!(
        stats_with(std::slice::from_ref(&proxy), ProxySetting::Env(true)),
        Ok(200)
    );
    assert_eq!(
        connects("proxy", 44640),
        before + 1,
        "one CONNECT for one request"
    );

    // Uppercase HTTPS_PROXY counts too, as for curl.
    let upper = ("HTTPS_PROXY", "http://127.0.0.1:44628".to_owned());
    assert_eq!(stats_with(&[upper], ProxySetting::Env(true)), Ok(200));
    assert_eq!(connects("proxy", 44640), before + 2);

    // NO_PROXY listing the host, and proxy = false: direct, nothing new in the log.
    let no = ("NO_PROXY", "localhost,127.0.0.1".to_owned());
    assert_eq!(
        stats_with(&[proxy.clone(), no], ProxySetting::Env(true)),
        Ok(200)
    );
    assert_eq!(
        stats_with(std::slice::from_ref(&proxy), ProxySetting::Env(false)),
        Ok(200)
    );
    assert_eq!(
        connects("proxy", 44640),
        before + 2,
        "a direct request went through the proxy"
    );
    eprintln!("proxy rig: tinyproxy logged the CONNECTs of proxied requests only");
}

#[test]
fn a_proxy_that_wants_credentials_says_407_and_takes_them_from_its_url() {
    if skip_unless("proxy") || skip_unless("prometheustls") || skip_unless("haproxytls") {
        return;
    }
    let src = via(
        prometheus("prom-407", right_ca(), Some(basic("prom", "prometheus"))),
        ProxySetting::Url("http://127.0.0.1:44629".into()),
    );
    let said = refused(src, "prom-407");
    assert!(
        said.starts_with("the proxy refused the CONNECT (407)"),
        "{said}"
    );

    let pw = password("proxy");
    let url = format!("http://proxyuser:{pw}@127.0.0.1:44629");
    let before = connects("proxyauth", 44640);
    let env = ProxyEnv::from_vars(|n| (n == "https_proxy").then(|| url.clone()));
    let shown = format!("{env:?}");
    assert!(
        !shown.contains(&pw) && shown.contains("***@127.0.0.1:44629"),
        "{shown}"
    );
    assert_eq!(
        stats_with(&[("https_proxy", url.clone())], ProxySetting::Env(true)),
        Ok(200)
    );
    assert_eq!(connects("proxyauth", 44640), before + 1);

    // A wrong proxy password: tinyproxy answers the CONNECT with 401 (not 407; curl
    // shows the same), which the client library reports only as a refused tunnel.
    // Refused in words, and neither password shows.
    let bad = format!("http://proxyuser:wrong-{pw}@127.0.0.1:44629");
    let said = stats_with(&[("https_proxy", bad)], ProxySetting::Env(true)).expect_err("refused");
    assert!(said.starts_with("the proxy refused the CONNECT"), "{said}");
    no_secret_in(&said);

    // A proxy URL with credentials in a config is refused: secrets are named, not written.
    let written = via(
        prometheus("prom-written", right_ca(), None),
        ProxySetting::Url(url),
    );
    let err = written.validate().expect_err("refused");
    assert!(err.contains("the proxy URL holds credentials"), "{err}");
    no_secret_in(&err);
}

/// Requests for `http://127.0.0.1:44643/` in the open proxy's access log so far.
fn forwarded() -> usize {
    let log = rig_dir().join("httptls").join("proxy-access.log");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("GET http://127.0.0.1:44643/ "))
        .count()
}

/// GET HAProxy's plain app frontend with the environment `vars`: the status.
fn plain_with(vars: &[(&str, &str)]) -> Result<u16, String> {
    let env = ProxyEnv::from_vars(|n| {
        vars.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| (*v).to_owned())
    });
    let client = HttpClient::with_proxy_env(&Connection::new(Duration::from_secs(3)), &env)?;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let resp = client
            .get("http://127.0.0.1:44643/")?
            .send()
            .await
            .map_err(|e| client.describe(&e, Duration::from_secs(3)))?;
        Ok(resp.status().as_u16())
    })
}

#[test]
fn plain_http_goes_through_http_proxy_but_not_the_uppercase_one() {
    if skip_unless("proxy") || skip_unless("haproxytls") {
        return;
    }
    let before = forwarded();
    assert_eq!(
        plain_with(&[("http_proxy", "http://127.0.0.1:44628")]),
        Ok(200)
    );
    assert_eq!(forwarded(), before + 1, "http_proxy was not used");
    // curl ignores HTTP_PROXY (a CGI request can set it); so does the console.
    assert_eq!(
        plain_with(&[("HTTP_PROXY", "http://127.0.0.1:44628")]),
        Ok(200)
    );
    assert_eq!(forwarded(), before + 1, "HTTP_PROXY was used");
}
