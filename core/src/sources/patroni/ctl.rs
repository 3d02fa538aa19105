//! The REST client of a Patroni source, as patronictl would make it: the source's own
//! `tls` and `auth`, and for what they leave out, the Patroni YAML `patroni_yml` names
//! (the `ctl` section's `cacert`, `certfile`, `keyfile` and `insecure`, else
//! `restapi.cafile`; `ctl.authentication`, else `restapi.authentication`, which is
//! where Patroni 3.x's patronictl takes it).
//!
//! The YAML's password is read when the client is built and kept only in the client
//! (its `Debug` hides it); the config holds the file's path, never the password. Every
//! request of the source and of its workflows (switchover, failover, reintegration)
//! goes through this client, so a cluster with `restapi.authentication` and
//! `verify_client` takes the console's POSTs.

use std::time::Duration;

use yaml_serde::Value;

use super::PatroniConfig;
use crate::sources::{HttpClient, TlsSettings, read_small};

/// The most a Patroni YAML may hold.
const MAX_YAML_BYTES: u64 = 1 << 20;

/// What a Patroni YAML says about reaching the REST API.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CtlSettings {
    /// TLS from `ctl` (and `restapi.cafile`), if any of it is set.
    pub(crate) tls: Option<TlsSettings>,
    /// The REST user and its password.
    pub(crate) authentication: Option<(String, crate::sources::http::Secret)>,
}

/// Reads the REST client settings from the Patroni YAML at `path`, in words when it
/// cannot (the path last; never the file's content).
pub(crate) fn read(path: &str) -> Result<CtlSettings, String> {
    let bytes = read_small(path, MAX_YAML_BYTES, "Patroni YAML (patroni_yml)")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("the Patroni YAML (patroni_yml) is not text ({path})"))?;
    // The parser's message can quote the file: say only where it failed.
    let v: Value = yaml_serde::from_str(&text).map_err(|e| {
        let at = e
            .location()
            .map_or_else(String::new, |l| format!(" at line {}", l.line()));
        format!("the Patroni YAML (patroni_yml) is not YAML{at} ({path})")
    })?;
    let text_at = |section: &str, key: &str| {
        v.get(section)
            .and_then(|s| s.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let tls = TlsSettings {
        ca_file: text_at("ctl", "cacert").or_else(|| text_at("restapi", "cafile")),
        cert_file: text_at("ctl", "certfile"),
        key_file: text_at("ctl", "keyfile"),
        server_name: None,
        insecure_skip_verify: v
            .get("ctl")
            .and_then(|c| c.get("insecure"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let auth_of = |section: &str| {
        let a = v.get(section)?.get("authentication")?;
        let user = a.get("username")?.as_str()?;
        let password = a.get("password")?.as_str()?;
        Some((
            user.to_owned(),
            crate::sources::http::Secret::new(password.to_owned()),
        ))
    };
    Ok(CtlSettings {
        tls: (tls != TlsSettings::default()).then_some(tls),
        authentication: auth_of("ctl").or_else(|| auth_of("restapi")),
    })
}

/// The source's config with the YAML's TLS where its own `tls` is left out, and the
/// YAML's REST credentials when its own `auth` is left out.
fn completed(cfg: &PatroniConfig) -> Result<(PatroniConfig, Option<CtlSettings>), String> {
    let Some(path) = &cfg.patroni_yml else {
        return Ok((cfg.clone(), None));
    };
    let mut ctl = read(path)?;
    let mut cfg = cfg.clone();
    if cfg.tls.is_none() {
        cfg.tls = ctl.tls.take();
    }
    if cfg.auth.is_some() {
        ctl.authentication = None;
    }
    Ok((cfg, Some(ctl)))
}

/// The source's TLS settings as its client uses them (its own, else its YAML's).
pub(crate) fn effective_tls(cfg: &PatroniConfig) -> Option<TlsSettings> {
    match completed(cfg) {
        Ok((c, _)) => c.tls,
        Err(_) => cfg.tls.clone(),
    }
}

/// The REST client of the Patroni source `cfg`, bounded by `timeout`: for the source
/// and every workflow on its cluster.
pub fn client(cfg: &PatroniConfig, timeout: Duration) -> Result<HttpClient, String> {
    let (cfg, ctl) = completed(cfg)?;
    let client = crate::sources::http::client_of(&cfg, timeout)?;
    Ok(match ctl.and_then(|c| c.authentication) {
        Some((user, password)) => client.with_basic_auth(user, password),
        None => client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "scope: tlsr
restapi:
  listen: 127.0.0.1:45108
  cafile: /etc/patroni/rest-ca.crt
  authentication: {username: patroni, password: restpw-7c1}
ctl: {certfile: /etc/patroni/client.crt, keyfile: /etc/patroni/client.key, cacert: /etc/patroni/ca.crt}
";

    #[test]
    fn ctl_and_restapi_sections_give_tls_and_the_rest_credentials() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("patroni.yml");
        std::fs::write(&path, YAML).expect("write");
        let ctl = read(&path.display().to_string()).expect("read");
        let tls = ctl.tls.clone().expect("tls");
        assert_eq!(tls.ca_file.as_deref(), Some("/etc/patroni/ca.crt"));
        assert_eq!(tls.cert_file.as_deref(), Some("/etc/patroni/client.crt"));
        assert_eq!(tls.key_file.as_deref(), Some("/etc/patroni/client.key"));
        let (user, _) = ctl.authentication.as_ref().expect("authentication");
        assert_eq!(user, "patroni");
        let shown = format!("{ctl:?}");
        assert!(!shown.contains("restpw-7c1"), "{shown}");

        // Patroni 4.x's ctl.authentication wins over restapi's.
        std::fs::write(
            &path,
            YAML.replace(
                "ctl: {",
                "ctl: {authentication: {username: ctl4, password: p4}, ",
            ),
        )
        .expect("write");
        let ctl = read(&path.display().to_string()).expect("read");
        assert_eq!(ctl.authentication.map(|a| a.0).as_deref(), Some("ctl4"));
    }

    #[test]
    fn an_unreadable_yaml_says_where_not_what() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("patroni.yml");
        std::fs::write(&path, "restapi: {authentication: {password: s3cr3t\n").expect("write");
        let err = read(&path.display().to_string()).expect_err("not YAML");
        assert!(
            err.starts_with("the Patroni YAML (patroni_yml) is not YAML"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
        let err = read("/nonexistent/patroni.yml").expect_err("missing");
        assert!(err.starts_with("cannot read the Patroni YAML"), "{err}");
    }

    #[test]
    fn the_yaml_s_password_goes_out_as_basic_auth() {
        use std::io::{Read as _, Write as _};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("patroni.yml");
        std::fs::write(
            &path,
            "restapi: {authentication: {username: patroni, password: restpw}}\n",
        )
        .expect("write");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        // A FAKE REST API: records the request head, answers 200.
        let served = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = vec![0; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .ok();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        let cfg = PatroniConfig {
            name: "pg".into(),
            endpoints: vec![format!("http://{addr}")],
            cluster: None,
            interval_millis: 1000,
            timeout_millis: 1000,
            dsn_env: None,
            dcs: None,
            patroni_yml: Some(path.display().to_string()),
            tls: None,
            auth: None,
            proxy: crate::sources::ProxySetting::Env(false),
            max_answer_bytes: None,
        };
        let client = client(&cfg, Duration::from_secs(2)).expect("client");
        assert!(!format!("{client:?}").contains("restpw"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let status = rt.block_on(async {
            client
                .request(reqwest::Method::POST, &format!("http://{addr}/switchover"))
                .expect("request")
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        assert_eq!(status.ok(), Some(200));
        let head = served.join().expect("server");
        // base64("patroni:restpw")
        assert!(
            head.to_ascii_lowercase()
                .contains("authorization: basic cgf0cm9uatpyzxn0chc="),
            "{head}"
        );
    }
}
