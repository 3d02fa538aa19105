//! The secret scan: the console, run as a process on the rig's TLS estate with every
//! kind of secret an estate has, and then every file it wrote read back for each
//! secret's value. The secrets: the Prometheus, HAProxy-stats and Traefik passwords
//! (by environment variable and by file, right and wrong), the forward proxy's password
//! (inside the environment's `https_proxy` URL), a password pasted into a URL (which the
//! configuration refuses), the client certificate's private key, and, with the rig's
//! TLS Patroni, its REST password and a PostgreSQL password inside a DSN.
//!
//! What runs: a headless recording, `status --json`, `watch --json`, the Traefik
//! `fallback` and `restore` workflows through the TLS API (their journal), an incident
//! with notes and its postmortem exported as Markdown and JSON, the session replayed to
//! an event export and described by `session info`. What is read: every file under the
//! test's directory (the data directory with its sessions, journal and notes
//! databases and their write-ahead logs, the exports, the configuration) and everything
//! the commands printed. Each secret must appear nowhere, plain or as the base64 of a
//! basic-auth header.
//!
//! Runs when `SWITCHBOARD_RIG` names prometheustls, haproxytls, traefiktls, proxy and
//! grpctls.

use std::path::{Path, PathBuf};
use std::process::Command;

fn rig_has(name: &str) -> bool {
    std::env::var("SWITCHBOARD_RIG").is_ok_and(|v| v.split([' ', ',']).any(|c| c == name))
}

fn rig_dir() -> PathBuf {
    PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
}

fn rig_file(path: &str) -> String {
    rig_dir().join(path).display().to_string()
}

fn rig_secret(path: &str) -> String {
    std::fs::read_to_string(rig_dir().join(path))
        .unwrap_or_else(|e| panic!("the rig's {path}: {e}"))
        .trim()
        .to_owned()
}

/// Every file under `dir`, recursively.
/// What a session file holds once decoded (its events as JSON, its starting state,
/// its attachments); nothing for a file that is not a session.
fn session_contents(path: &Path) -> Vec<u8> {
    use switchboard_core::session::{Row, SessionReader};
    let Ok(reader) = SessionReader::open(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    reader
        .rows(0, i64::MAX, |row| match row {
            Row::Event(_, e) => out.extend(serde_json::to_vec(&e).unwrap_or_default()),
            Row::Raw(r) => out.extend(r.body.into_bytes()),
        })
        .ok();
    if let Ok(Some((_, state))) = reader.base() {
        out.extend(serde_json::to_vec(&state).unwrap_or_default());
    }
    for kind in ["incidents", "notes", "journal"] {
        if let Ok(Some(body)) = reader.attachment(kind) {
            out.extend(body.into_bytes());
        }
    }
    out
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The ways a secret could be written: as it is, and as a basic-auth header's base64.
fn forms(user: &str, secret: &str) -> Vec<String> {
    vec![
        secret.to_owned(),
        data_encoding::BASE64.encode(format!("{user}:{secret}").as_bytes()),
    ]
}

/// Puts the rig's Traefik file back as it was when dropped.
struct Restore(PathBuf, String);

impl Drop for Restore {
    fn drop(&mut self) {
        std::fs::write(&self.0, &self.1).ok();
    }
}

struct Run {
    root: PathBuf,
    config: PathBuf,
    env: Vec<(String, String)>,
    step: usize,
}

impl Run {
    /// `switchboard ARGS` with the estate's environment; its output is kept as files
    /// under the scanned directory. Returns its exit code and what it printed (stdout,
    /// then stderr).
    fn cli(&mut self, args: &[&str]) -> (Option<i32>, String) {
        self.cli_with(&self.config.clone(), args)
    }

    fn cli_with(&mut self, config: &Path, args: &[&str]) -> (Option<i32>, String) {
        let data = self.root.join("data");
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .env_remove("ETCDCTL_ENDPOINTS")
            .env("XDG_CONFIG_HOME", self.root.join("xdg-config"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .expect("run switchboard");
        self.step += 1;
        let logs = self.root.join("printed");
        std::fs::create_dir_all(&logs).expect("logs dir");
        std::fs::write(logs.join(format!("{}.out", self.step)), &out.stdout).expect("stdout");
        std::fs::write(logs.join(format!("{}.err", self.step)), &out.stderr).expect("stderr");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

fn config(root: &Path, wrong_file: &Path) -> String {
    let ca = rig_file("tls/ca.pem");
    let tls = format!("tls = {{ ca_file = \"{ca}\" }}");
    let mtls = format!(
        "tls = {{ ca_file = \"{ca}\", cert_file = \"{}\", key_file = \"{}\" }}",
        rig_file("tls/client.pem"),
        rig_file("tls/client-key.pem")
    );
    let dynamic = rig_file("httptls/traefik-dyn.yml");
    let mut toml = format!(
        r#"[[environment]]
name = "tls-estate"

[[environment.source]]
kind = "prometheus"
name = "metrics"
url = "https://127.0.0.1:44690"
{tls}
auth = {{ username = "prom", password_env = "SB_PROM_PASSWORD" }}
proxy = false
[[environment.source.query]]
breaker = "scrape"
service = "prometheus"
expr = "1 - avg(up)"

[[environment.source]]
kind = "prometheus"
name = "metrics-via-proxy"
url = "https://127.0.0.1:44690"
{tls}
auth = {{ username = "prom", password_file = "{prom_file}" }}
[[environment.source.query]]
breaker = "scrape-via-proxy"
service = "prometheus"
expr = "1 - avg(up)"

[[environment.source]]
kind = "haproxy"
name = "edge"
stats_url = "https://127.0.0.1:44640/stats;csv"
{tls}
auth = {{ username = "admin", password_file = "{haproxy_file}" }}
proxy = false

[[environment.source]]
kind = "haproxy"
name = "edge-wrong-password"
stats_url = "https://127.0.0.1:44640/stats;csv"
{tls}
auth = {{ username = "admin", password_file = "{wrong}" }}
proxy = false

[[environment.source]]
kind = "traefik"
name = "ingress"
api = "https://127.0.0.1:44660"
metrics = ""
dynamic_file = "{dynamic}"
{tls}
auth = {{ username = "admin", password_env = "SB_TRAEFIK_PASSWORD" }}
proxy = false
[[environment.source.routes]]
router = "app"
primary = "appsvc"
fallback = "fallbacksvc"

[[environment.source]]
kind = "grpc_health"
name = "payments-grpc"
endpoint = "https://127.0.0.1:44801"
service = "switchboard.Test"
{mtls}
"#,
        prom_file = rig_file("httptls/prometheus.password"),
        haproxy_file = rig_file("httptls/haproxy.password"),
        wrong = wrong_file.display(),
    );
    if rig_has("patronitls") {
        use std::fmt::Write as _;
        let _ = write!(
            toml,
            r#"
[[environment.source]]
kind = "patroni"
name = "pg"
endpoints = ["https://127.0.0.1:44701", "https://127.0.0.1:44702", "https://127.0.0.1:44703"]
dsn_env = "SB_PG_DSN"
{mtls}
auth = {{ username = "{user}", password_file = "{rest}" }}
proxy = false

[[environment.source]]
kind = "postgres"
name = "pg-primary"
dsn_env = "SB_PG_DSN"
"#,
            user = rig_secret("pgtls/rest.user"),
            rest = rig_file("pgtls/rest.password"),
        );
    }
    std::fs::write(root.join("config.toml"), &toml).expect("config");
    toml
}

#[test]
fn no_secret_lands_in_any_file_the_console_writes_or_anything_it_prints() {
    if ![
        "prometheustls",
        "haproxytls",
        "traefiktls",
        "proxy",
        "grpctls",
    ]
    .iter()
    .all(|c| rig_has(c))
    {
        eprintln!("skipped: the rig's TLS estate is not running (tests/check.sh starts it)");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().to_path_buf();
    // The test's own files holding secrets live apart from the scanned directory.
    let inputs = tempfile::tempdir().expect("dir");
    let wrong = "wrong-password-5e1d9c7a";
    let wrong_file = inputs.path().join("wrong.password");
    std::fs::write(&wrong_file, format!("{wrong}\n")).expect("wrong");
    config(&root, &wrong_file);
    let dynamic = rig_dir().join("httptls/traefik-dyn.yml");
    let _restore = Restore(
        dynamic.clone(),
        std::fs::read_to_string(&dynamic).expect("traefik's file"),
    );

    let prom = rig_secret("httptls/prometheus.password");
    let haproxy = rig_secret("httptls/haproxy.password");
    let traefik = rig_secret("httptls/traefik.password");
    let proxy = rig_secret("httptls/proxy.password");
    let key = rig_secret("tls/client-key.pem");
    let key_body: String = key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let mut secrets: Vec<(&str, Vec<String>)> = vec![
        ("the Prometheus password", forms("prom", &prom)),
        ("the HAProxy password", forms("admin", &haproxy)),
        ("the Traefik password", forms("admin", &traefik)),
        ("the proxy password", forms("proxyuser", &proxy)),
        ("a wrong password", forms("admin", wrong)),
        ("the client key", vec![key_body.clone()]),
    ];
    for l in key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
    {
        secrets.push(("a line of the client key", vec![l.to_owned()]));
    }
    let patroni = rig_has("patronitls");
    let mut extra_env = Vec::new();
    if patroni {
        let rest = rig_secret("pgtls/rest.password");
        let pg = rig_secret("pgtls/sbpass.password");
        secrets.push((
            "the Patroni REST password",
            forms(&rig_secret("pgtls/rest.user"), &rest),
        ));
        secrets.push(("the PostgreSQL password", vec![pg.clone()]));
        extra_env.push((
            "SB_PG_DSN".to_owned(),
            format!(
                "host=127.0.0.1,127.0.0.1,127.0.0.1 port=44711,44712,44713 dbname=postgres user=sbpass password={pg} target_session_attrs=read-write sslmode=verify-full sslrootcert={}",
                rig_file("tls/ca.pem")
            ),
        ));
    }

    let mut run = Run {
        root: root.clone(),
        config: root.join("config.toml"),
        env: vec![
            ("SB_PROM_PASSWORD".into(), prom.clone()),
            ("SB_TRAEFIK_PASSWORD".into(), traefik.clone()),
            (
                "https_proxy".into(),
                format!("http://proxyuser:{proxy}@127.0.0.1:44629"),
            ),
            ("NO_PROXY".into(), String::new()),
            ("no_proxy".into(), String::new()),
        ]
        .into_iter()
        .chain(extra_env)
        .collect(),
        step: 0,
    };

    let session = root.join("data").join("estate.session");
    let session = session.to_str().unwrap_or_default();
    let (code, said) = run.cli(&["record", "--out", session, "--for", "8s"]);
    assert_eq!(code, Some(0), "record: {said}");
    let (code, status) = run.cli(&["status", "--json", "--wait", "10"]);
    assert_eq!(code, Some(0), "status: {status}");
    let printed = std::fs::read_to_string(root.join("printed").join(format!("{}.out", run.step)))
        .expect("status's stdout");
    let v: serde_json::Value = serde_json::from_str(&printed).expect("status --json is JSON");
    let sources = v["sources"].as_array().cloned().unwrap_or_default();
    let state = |name: &str| {
        sources.iter().find(|s| s["name"] == name).map(|s| {
            (
                s["status"].as_str().unwrap_or_default().to_owned(),
                s["detail"].to_string(),
            )
        })
    };
    let mut ups = vec!["metrics", "metrics-via-proxy", "edge", "ingress"];
    if patroni {
        ups.extend(["pg", "pg-primary"]);
    }
    for up in ups {
        assert_eq!(
            state(up).map(|s| s.0).as_deref(),
            Some("up"),
            "{up}: {status}"
        );
    }
    let refused = state("edge-wrong-password").unwrap_or_default();
    assert_eq!(refused.0, "down", "{status}");
    assert!(refused.1.contains("401"), "{refused:?}");
    let proxied =
        std::fs::read_to_string(rig_dir().join("httptls/proxyauth-access.log")).unwrap_or_default();
    assert!(
        proxied.contains("CONNECT 127.0.0.1:44690"),
        "metrics-via-proxy went through the authenticating proxy"
    );

    let (code, said) = run.cli(&["watch", "--json", "--for", "3"]);
    assert_eq!(code, Some(0), "watch: {said}");

    for (kind, confirm) in [("fallback", "app"), ("restore", "app")] {
        let (code, said) = run.cli(&[
            "workflow",
            "run",
            kind,
            "--target",
            "ingress/app",
            "--confirm",
            confirm,
        ]);
        assert_eq!(code, Some(0), "workflow {kind}: {said}");
        assert!(said.contains(": done"), "workflow {kind}: {said}");
    }
    let (code, said) = run.cli(&["workflow", "list"]);
    assert_eq!(code, Some(0), "{said}");

    let (code, said) = run.cli(&[
        "incident",
        "open",
        "--title",
        "TLS estate drill",
        "--severity",
        "2",
    ]);
    assert_eq!(code, Some(0), "{said}");
    let (code, said) = run.cli(&[
        "notes",
        "add",
        "--incident",
        "1",
        "ingress failed over to fallbacksvc",
    ]);
    assert_eq!(code, Some(0), "{said}");
    for (flag, file) in [("--md", "postmortem.md"), ("--json", "postmortem.json")] {
        let out = root.join(file);
        let out = out.to_str().unwrap_or_default();
        let (code, said) = run.cli(&["notes", "export", "1", flag, "--out", out]);
        assert_eq!(code, Some(0), "{said}");
    }
    let events = root.join("events.jsonl");
    let (code, said) = run.cli(&[
        "replay",
        session,
        "--export",
        events.to_str().unwrap_or_default(),
    ]);
    assert_eq!(code, Some(0), "replay: {said}");
    let (code, said) = run.cli(&["session", "info", session, "--json"]);
    assert_eq!(code, Some(0), "session info: {said}");

    // A password pasted into a URL: refused before anything is asked, without saying it.
    let pasted = inputs.path().join("pasted.toml");
    std::fs::write(
        &pasted,
        format!(
            "[[environment]]\nname = \"pasted\"\n[[environment.source]]\nkind = \"haproxy\"\nname = \"edge\"\nstats_url = \"https://admin:{haproxy}@127.0.0.1:44640/stats;csv\"\n"
        ),
    )
    .expect("pasted");
    let (code, said) = run.cli_with(&pasted, &["status", "--json", "--wait", "2"]);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("credentials"), "{said}");

    let written = files(&root);
    assert!(
        written
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "session")),
        "a session was written: {written:?}"
    );
    assert!(
        written.iter().any(|f| f.ends_with("notes.sqlite")),
        "the notes and journal were written: {written:?}"
    );
    let mut found = Vec::new();
    let mut bytes_read = 0usize;
    for f in &written {
        let mut bytes = std::fs::read(f).unwrap_or_default();
        // A session's events and starting state are compressed: read as the console
        // reads them, so what they hold is scanned too.
        bytes.extend(session_contents(f));
        bytes_read += bytes.len();
        for (what, forms) in &secrets {
            for form in forms {
                if bytes.windows(form.len()).any(|w| w == form.as_bytes()) {
                    found.push(format!("{what} in {}", f.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "secrets written: {found:#?}");
    eprintln!(
        "secret scan: {} secrets (each plain and as basic-auth base64) in {} files, {} bytes: none found",
        secrets.len(),
        written.len(),
        bytes_read
    );
}
