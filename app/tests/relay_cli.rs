//! `switchboard serve` and `--connect` as processes on the rig's real etcd and HAProxy:
//! the relay serves over TLS with people's certificates (the rig's PKI, `rig.sh pki`);
//! `status --connect` shows the relay's view for alice and for the wall, names a
//! certificate from another CA as refused, and the relay stops on SIGTERM saying what
//! it served; `workflow run --connect` drains an HAProxy server through the relay,
//! journaled there under alice's name. Runs when `SWITCHBOARD_RIG` names `etcd` and
//! `haproxy`.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[path = "../../core/tests/common/mod.rs"]
mod common;

use common::rig_has;

/// The rig's PKI directory (made unless it is there).
fn pki() -> PathBuf {
    common::rig_pki()
}

/// The relay's configuration: the rig's etcd and HAProxy, served on a port the
/// system picks, alice an operator.
fn relay_config(pki: &Path) -> String {
    let p = |f: &str| pki.join(f).display().to_string();
    format!(
        "[[environment]]\nname = \"rig\"\n\n\
         [[environment.source]]\nkind = \"etcd\"\nname = \"etcd\"\nendpoints = [\"127.0.0.1:12379\", \"127.0.0.1:22379\", \"127.0.0.1:32379\"]\n\n\
         [[environment.source]]\nkind = \"haproxy\"\nname = \"haproxy\"\nstats_url = \"http://127.0.0.1:8404/stats;csv\"\n\n\
         [environment.serve]\nlisten = \"127.0.0.1:0\"\ncert_file = \"{}\"\nkey_file = \"{}\"\nclient_ca_file = \"{}\"\noperators = [\"alice\"]\n",
        p("server.pem"),
        p("server-key.pem"),
        p("ca.pem")
    )
}

/// `switchboard status --json --connect URL` as `person` (their certificate from the
/// `SWITCHBOARD_RELAY_*` variables, as an engineer's shell would set them).
fn status_as(url: &str, pki: &Path, cert: &str, key: &str, wait: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env("XDG_CONFIG_HOME", "/nonexistent-switchboard-config")
        .env("SWITCHBOARD_RELAY_CACERT", pki.join("ca.pem"))
        .env("SWITCHBOARD_RELAY_CERT", pki.join(cert))
        .env("SWITCHBOARD_RELAY_KEY", pki.join(key))
        .args([
            "--drill",
            "status",
            "--json",
            "--wait",
            wait,
            "--connect",
            url,
        ])
        .output()
        .expect("status")
}

/// `switchboard serve` on the configuration `cfg`, its data in `data`: the process,
/// its stderr's lines, and the first (where it serves).
fn serve(
    cfg: &Path,
    data: &Path,
) -> (
    Relay,
    std::io::Lines<std::io::BufReader<std::process::ChildStderr>>,
    String,
) {
    let mut relay = Relay(
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .env("XDG_CONFIG_HOME", "/nonexistent-switchboard-config")
            .args(["--config", cfg.to_str().unwrap_or_default()])
            .args(["--data-dir", data.to_str().unwrap_or_default(), "serve"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve"),
    );
    let mut lines = std::io::BufReader::new(relay.0.stderr.take().expect("stderr")).lines();
    let first = lines.next().expect("a line").expect("text");
    (relay, lines, first)
}

/// The relay's process, killed if the test ends before it stops it.
struct Relay(std::process::Child);

impl Drop for Relay {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

#[test]
fn a_relay_serves_status_to_people_and_refuses_strangers() {
    if !(rig_has("etcd") && rig_has("haproxy")) {
        eprintln!("skipped: needs the rig's etcd and HAProxy (tests/check.sh)");
        return;
    }
    let pki = pki();
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("relay.toml");
    std::fs::write(&cfg, relay_config(&pki)).expect("config");
    let (mut relay, lines, first) = serve(&cfg, dir.path());
    assert!(
        first.contains("(TLS, client certificates); operators: alice"),
        "{first}"
    );
    let addr = first
        .split(" on ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the address");
    let url = format!("https://{addr}");

    let out = status_as(&url, &pki, "alice.pem", "alice-key.pem", "15");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> = report["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        names.contains(&"etcd") && names.contains(&"haproxy"),
        "{names:?}"
    );
    assert_eq!(report["drill"], false, "the relay's view, not the drill's");

    let out = status_as(&url, &pki, "wall.pem", "wall-key.pem", "15");
    assert!(out.status.success(), "a viewer reads the view too");

    let out = status_as(&url, &pki, "other-ca.pem", "other-ca-key.pem", "2");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not take this console's client certificate"),
        "{err}"
    );

    // SIGTERM: the relay stops and says what it served.
    Command::new("kill")
        .args(["-TERM", &relay.0.id().to_string()])
        .status()
        .expect("kill");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = relay.0.wait().expect("wait");
    assert!(status.success(), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("relay stopped; 2 subscriptions")),
        "{rest:?}"
    );
}

/// `switchboard workflow ... --connect URL` as `person`.
fn workflow_as(url: &str, pki: &Path, person: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env("XDG_CONFIG_HOME", "/nonexistent-switchboard-config")
        .env("SWITCHBOARD_RELAY_CACERT", pki.join("ca.pem"))
        .env("SWITCHBOARD_RELAY_CERT", pki.join(format!("{person}.pem")))
        .env(
            "SWITCHBOARD_RELAY_KEY",
            pki.join(format!("{person}-key.pem")),
        )
        .args(["--connect", url, "workflow"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("workflow")
}

/// A drain from the command line on a relay runs there, journaled under the person
/// the certificate names; the wall cannot plan.
#[test]
fn a_workflow_from_the_command_line_runs_on_the_relay_as_the_person() {
    if !(rig_has("etcd") && rig_has("haproxy")) {
        eprintln!("skipped: needs the rig's etcd and HAProxy (tests/check.sh)");
        return;
    }
    let pki = pki();
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("relay.toml");
    // HAProxy over its runtime API: the target the drain acts on.
    let config = relay_config(&pki).replace(
        "name = \"haproxy\"\nstats_url = \"http://127.0.0.1:8404/stats;csv\"",
        "name = \"edge\"\nsocket = \"tcp://127.0.0.1:9999\"",
    );
    assert!(config.contains("tcp://127.0.0.1:9999"));
    std::fs::write(&cfg, config).expect("config");
    let (_relay, _lines, first) = serve(&cfg, dir.path());
    let addr = first
        .split(" on ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the address");
    let url = format!("https://{addr}");
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    let drain = [
        "run",
        "drain",
        "--target",
        "edge/be_web/web1",
        "--confirm",
        "be_web/web1",
    ];
    let out = workflow_as(&url, &pki, "alice", &drain);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("on the relay as alice"), "{said}");
    assert!(said.contains("guard lock"), "the relay's guards: {said}");
    assert!(said.contains(": done ("), "{said}");

    let out = workflow_as(&url, &pki, "alice", &["list"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("the relay's journal") && said.contains("drain edge/be_web/web1 by alice"),
        "{said}"
    );

    let out = workflow_as(
        &url,
        &pki,
        "wall",
        &["plan", "drain", "--target", "edge/be_web/web1"],
    );
    assert_eq!(out.status.code(), Some(3), "refused: {}", text(&out));
    assert!(text(&out).contains("wall is a viewer"), "{}", text(&out));

    let wrong = [
        "run",
        "ready",
        "--target",
        "edge/be_web/web1",
        "--confirm",
        "web1",
    ];
    let out = workflow_as(&url, &pki, "alice", &wrong);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a wrong confirmation is a refusal: {}",
        text(&out)
    );
    let ready = [
        "run",
        "ready",
        "--target",
        "edge/be_web/web1",
        "--confirm",
        "be_web/web1",
    ];
    let out = workflow_as(&url, &pki, "alice", &ready);
    assert!(out.status.success(), "{}", text(&out));
}
