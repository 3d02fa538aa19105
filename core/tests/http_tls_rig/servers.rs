//! Prometheus, HAProxy's stats and Traefik's API over TLS with basic auth: the right CA
//! and password bring real data; a wrong CA, a wrong password, a wrong server name and
//! (HAProxy's mutual-TLS port) a missing client certificate are each refused in their
//! own words; `insecure_skip_verify` gets through a certificate nobody vouches for.

use switchboard_core::model::{Health, TlsMode};
use switchboard_core::sources::haproxy::HaproxyConfig;
use switchboard_core::sources::prometheus::{PrometheusConfig, QueryConfig};
use switchboard_core::sources::traefik::TraefikConfig;
use switchboard_core::sources::{AuthSettings, ProxySetting, TlsSettings};
use switchboard_core::{SourceConfig, State};

use super::{basic, no_secret_in, outcome, pki, refused, right_ca, skip_unless, wrong_password};

pub(super) fn prometheus(name: &str, tls: TlsSettings, auth: Option<AuthSettings>) -> SourceConfig {
    SourceConfig::Prometheus(PrometheusConfig {
        name: name.into(),
        url: "https://127.0.0.1:44690".into(),
        interval_secs: 0.3,
        timeout_secs: 2.0,
        // The share of its self-scrapes that failed: 0 while it runs.
        query: vec![QueryConfig {
            breaker: format!("{name}/self-down"),
            service: "promtls".into(),
            expr: r#"1 - up{job="self"}"#.into(),
            threshold: Some(0.5),
            cooldown_secs: None,
        }],
        series: Vec::new(),
        tls: Some(tls),
        auth,
        proxy: ProxySetting::Env(false),
        max_answer_bytes: None,
    })
}

/// Prometheus answered a query: the breaker has a sample.
pub(super) fn sampled(name: &str) -> impl Fn(&State) -> bool {
    let id = format!("{name}/self-down");
    move |s: &State| {
        s.breakers
            .get(id.as_str())
            .is_some_and(|b| b.sampled_at.is_some())
    }
}

/// Up with real data, or a failure naming what `outcome` saw.
pub(super) fn up_with(source: SourceConfig, name: &str, data: impl Fn(&State) -> bool) {
    // Both: a poll's readings may be folded a moment before its source's status.
    let (status, detail, s) = outcome(source, name, &|s: &State| {
        data(s)
            && s.sources
                .get(name)
                .is_some_and(|i| i.status == switchboard_core::model::SourceStatus::Up)
    });
    assert!(data(&s), "{name}: no data; status {status:?}: {detail}");
    assert_eq!(
        status,
        Some(switchboard_core::model::SourceStatus::Up),
        "{name}: {detail}"
    );
    no_secret_in(&format!("{:?} {detail}", s.sources));
}

/// The transport watcher's report on `name`: mode and the server certificate's subject.
fn transport(s: &State, name: &str) -> Option<(TlsMode, Option<String>)> {
    s.transports
        .get(name)
        .filter(|t| t.server_cert_not_after.is_some())
        .map(|t| (t.tls, t.server_cert_subject.clone()))
}

#[test]
fn an_http_source_reports_its_transport_verified_or_insecure() {
    if skip_unless("prometheustls") {
        return;
    }
    let auth = || Some(basic("prom", "prometheus"));
    for (name, tls, mode) in [
        ("prom-tr-ok", right_ca(), TlsMode::Verified),
        (
            "prom-tr-insecure",
            TlsSettings {
                insecure_skip_verify: true,
                ..TlsSettings::default()
            },
            TlsMode::Insecure,
        ),
    ] {
        let (_, detail, s) = outcome(prometheus(name, tls, auth()), name, &|s| {
            transport(s, name).is_some()
        });
        let seen = transport(&s, name);
        assert_eq!(seen.as_ref().map(|t| t.0), Some(mode), "{name}: {detail}");
        assert!(
            seen.and_then(|t| t.1)
                .is_some_and(|subject| subject.contains("etcd.rig.test")),
            "{name}: {:?}",
            s.transports.get(name)
        );
    }
}

#[test]
fn prometheus_over_tls_with_basic_auth() {
    if skip_unless("prometheustls") {
        return;
    }
    let auth = || Some(basic("prom", "prometheus"));
    up_with(
        prometheus("prom-ok", right_ca(), auth()),
        "prom-ok",
        sampled("prom-ok"),
    );

    // The certificate holds etcd.rig.test: checked against that name instead of the IP.
    let named = TlsSettings {
        server_name: Some("etcd.rig.test".into()),
        ..right_ca()
    };
    up_with(
        prometheus("prom-named", named, auth()),
        "prom-named",
        sampled("prom-named"),
    );

    let wrong_ca = TlsSettings {
        ca_file: Some(pki("other-ca.pem")),
        ..TlsSettings::default()
    };
    let said = refused(prometheus("prom-ca", wrong_ca.clone(), auth()), "prom-ca");
    assert!(said.starts_with("certificate not trusted"), "{said}");

    let (wrong, _dir) = wrong_password("prom");
    let said = refused(prometheus("prom-pw", right_ca(), Some(wrong)), "prom-pw");
    assert!(said.starts_with("authentication refused (401)"), "{said}");
    assert!(
        said.ends_with("(https://127.0.0.1:44690/api/v1/query)"),
        "{said}"
    );

    let said = refused(prometheus("prom-noauth", right_ca(), None), "prom-noauth");
    assert!(said.starts_with("authentication refused (401)"), "{said}");

    let wrong_name = TlsSettings {
        server_name: Some("db1.internal".into()),
        ..right_ca()
    };
    let said = refused(prometheus("prom-name", wrong_name, auth()), "prom-name");
    assert!(
        said.starts_with(
            "the server's certificate is for 127.0.0.1, localhost, etcd.rig.test, not db1.internal"
        ),
        "{said}"
    );

    let insecure = TlsSettings {
        insecure_skip_verify: true,
        ..wrong_ca
    };
    up_with(
        prometheus("prom-insecure", insecure, auth()),
        "prom-insecure",
        sampled("prom-insecure"),
    );
}

fn haproxy(name: &str, url: &str, tls: TlsSettings, auth: Option<AuthSettings>) -> SourceConfig {
    SourceConfig::Haproxy(HaproxyConfig {
        name: name.into(),
        socket: None,
        stats_url: Some(url.into()),
        interval_millis: 200,
        timeout_millis: 2000,
        tls: Some(tls),
        auth,
        proxy: ProxySetting::Env(false),
        max_answer_bytes: None,
    })
}

pub(super) const STATS: &str = "https://127.0.0.1:44640/stats;csv";
const MTLS_STATS: &str = "https://127.0.0.1:44641/stats;csv";

/// Both of `be_app`'s servers are in, checked.
fn rows(s: &State) -> bool {
    ["127.0.0.1:44643", "127.0.0.1:44644"].iter().all(|a| {
        s.instances.get(*a).is_some_and(|i| {
            i.health == Health::Healthy && i.detail.as_deref().is_some_and(|d| d.contains("L7OK"))
        })
    })
}

#[test]
fn haproxy_stats_over_tls_and_mutual_tls_with_stats_auth() {
    if skip_unless("haproxytls") {
        return;
    }
    let auth = || Some(basic("admin", "haproxy"));
    up_with(haproxy("lb-ok", STATS, right_ca(), auth()), "lb-ok", rows);

    let wrong_ca = TlsSettings {
        ca_file: Some(pki("other-ca.pem")),
        ..TlsSettings::default()
    };
    let said = refused(haproxy("lb-ca", STATS, wrong_ca.clone(), auth()), "lb-ca");
    assert!(said.starts_with("certificate not trusted"), "{said}");

    let (wrong, _dir) = wrong_password("admin");
    let said = refused(haproxy("lb-pw", STATS, right_ca(), Some(wrong)), "lb-pw");
    assert!(said.starts_with("authentication refused (401)"), "{said}");

    let wrong_name = TlsSettings {
        server_name: Some("db1.internal".into()),
        ..right_ca()
    };
    let said = refused(haproxy("lb-name", STATS, wrong_name, auth()), "lb-name");
    assert!(
        said.starts_with(
            "the server's certificate is for 127.0.0.1, localhost, etcd.rig.test, not db1.internal"
        ),
        "{said}"
    );

    let insecure = TlsSettings {
        insecure_skip_verify: true,
        ..wrong_ca
    };
    up_with(
        haproxy("lb-insecure", STATS, insecure, auth()),
        "lb-insecure",
        rows,
    );

    // A certificate past its date, signed by the right CA.
    let expired = "https://127.0.0.1:44642/stats;csv";
    let said = refused(
        haproxy("lb-expired", expired, right_ca(), auth()),
        "lb-expired",
    );
    assert!(
        said.starts_with("the server's certificate has expired"),
        "{said}"
    );

    // Mutual TLS: no client certificate, then the rig's.
    let said = refused(
        haproxy("lb-nocert", MTLS_STATS, right_ca(), auth()),
        "lb-nocert",
    );
    assert!(said.contains("requires a client certificate"), "{said}");
    assert!(said.contains("tls.cert_file"), "{said}");
    let mtls = TlsSettings {
        cert_file: Some(pki("client.pem")),
        key_file: Some(pki("client-key.pem")),
        ..right_ca()
    };
    up_with(
        haproxy("lb-mtls", MTLS_STATS, mtls, auth()),
        "lb-mtls",
        rows,
    );
}

fn traefik(name: &str, tls: TlsSettings, auth: Option<AuthSettings>) -> SourceConfig {
    SourceConfig::Traefik(TraefikConfig {
        name: name.into(),
        api: "https://127.0.0.1:44660".into(),
        interval_millis: 200,
        timeout_millis: 2000,
        metrics: None,
        dynamic_file: None,
        routes: Vec::new(),
        tls: Some(tls),
        auth,
        proxy: ProxySetting::Env(false),
        max_answer_bytes: None,
    })
}

/// appsvc's servers are in.
fn app_servers(s: &State) -> bool {
    ["127.0.0.1:44643", "127.0.0.1:44644"]
        .iter()
        .all(|a| s.instances.contains_key(*a))
}

#[test]
fn traefik_api_over_tls_behind_basic_auth() {
    if skip_unless("traefiktls") {
        return;
    }
    let auth = || Some(basic("admin", "traefik"));
    up_with(traefik("tr-ok", right_ca(), auth()), "tr-ok", app_servers);

    let wrong_ca = TlsSettings {
        ca_file: Some(pki("other-ca.pem")),
        ..TlsSettings::default()
    };
    let said = refused(traefik("tr-ca", wrong_ca.clone(), auth()), "tr-ca");
    assert!(said.starts_with("certificate not trusted"), "{said}");

    let (wrong, _dir) = wrong_password("admin");
    let said = refused(traefik("tr-pw", right_ca(), Some(wrong)), "tr-pw");
    assert!(said.starts_with("authentication refused (401)"), "{said}");

    let wrong_name = TlsSettings {
        server_name: Some("db1.internal".into()),
        ..right_ca()
    };
    let said = refused(traefik("tr-name", wrong_name, auth()), "tr-name");
    assert!(
        said.starts_with(
            "the server's certificate is for 127.0.0.1, localhost, etcd.rig.test, not db1.internal"
        ),
        "{said}"
    );

    let insecure = TlsSettings {
        insecure_skip_verify: true,
        ..wrong_ca
    };
    up_with(
        traefik("tr-insecure", insecure, auth()),
        "tr-insecure",
        app_servers,
    );
}

#[test]
fn a_password_in_a_url_is_refused_before_anything_is_asked() {
    let src = haproxy(
        "lb-userinfo",
        "https://admin:hunter2@127.0.0.1:44640/stats;csv",
        right_ca(),
        None,
    );
    let err = src.validate().expect_err("refused");
    assert!(
        err.contains("put the password in auth.password_env") || err.contains("auth.password_env"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn the_readme_s_worked_production_config_parses_and_validates() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let section = readme
        .split("## Connecting to production")
        .nth(1)
        .expect("the README has a Connecting to production section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let blocks: Vec<&str> = section
        .split("```toml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert!(
        blocks.len() >= 3,
        "the section's worked configs: {}",
        blocks.len()
    );
    // Every worked config of the section parses and validates.
    for block in &blocks[1..] {
        let text = format!("[[environment]]\nname = \"prod\"\n{block}");
        switchboard_core::Config::parse(&text, std::path::Path::new("README.md"))
            .unwrap_or_else(|e| panic!("the README's example: {e}\n{block}"));
    }
    let block = blocks[0];
    let text = format!("[[environment]]\nname = \"prod\"\n{block}");
    let cfg = switchboard_core::Config::parse(&text, std::path::Path::new("README.md"))
        .unwrap_or_else(|e| panic!("the README's example: {e}"));
    let sources = &cfg.environment[0].source;
    assert_eq!(sources.len(), 3);
    for s in sources {
        let reach = switchboard_core::sources::Settings::reach(match s {
            SourceConfig::Prometheus(c) => c as &dyn switchboard_core::sources::Settings,
            SourceConfig::Haproxy(c) => c,
            SourceConfig::Traefik(c) => c,
            _ => panic!("unexpected kind"),
        })
        .expect("an HTTP source");
        assert!(reach.tls.is_some() && reach.auth.is_some(), "{}", s.name());
    }
}

fn probe(name: &str, auth: Option<AuthSettings>) -> SourceConfig {
    SourceConfig::HttpProbe(switchboard_core::sources::http_probe::HttpProbeConfig {
        name: name.into(),
        url: "https://127.0.0.1:44690/-/healthy".into(),
        interval_secs: 0.2,
        timeout_secs: 2.0,
        healthy_threshold: 1,
        unhealthy_threshold: 1,
        service: Some(name.into()),
        instance: Some(name.into()),
        tls: Some(right_ca()),
        auth,
        proxy: ProxySetting::Env(false),
        max_answer_bytes: None,
    })
}

/// The probed instance's health and detail.
fn probed(s: &State, name: &str) -> Option<(Health, String)> {
    s.instances
        .get(name)
        .map(|i| (i.health, i.detail.as_deref().unwrap_or_default().to_owned()))
}

#[test]
fn an_http_probe_over_tls_with_basic_auth() {
    if skip_unless("prometheustls") {
        return;
    }
    // Prometheus' web config protects every path, /-/healthy included.
    let (_, _, s) = outcome(
        probe("probe-ok", Some(basic("prom", "prometheus"))),
        "probe-ok",
        &|s| probed(s, "probe-ok").is_some_and(|p| p.0 == Health::Healthy),
    );
    assert_eq!(
        probed(&s, "probe-ok").map(|p| p.0),
        Some(Health::Healthy),
        "{:?}",
        probed(&s, "probe-ok")
    );
    let (_, _, s) = outcome(probe("probe-401", None), "probe-401", &|s| {
        probed(s, "probe-401").is_some_and(|p| p.0 == Health::Unhealthy)
    });
    let (health, detail) = probed(&s, "probe-401").unwrap_or((Health::Healthy, String::new()));
    assert_eq!(health, Health::Unhealthy, "{detail}");
    assert!(
        detail.starts_with("authentication refused (401)"),
        "{detail}"
    );
    no_secret_in(&format!("{:?}", s.instances));
}
