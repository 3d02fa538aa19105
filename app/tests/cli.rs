//! The CLI, run as a process: `status`, `watch`, and bad configuration.

use std::process::Command;

fn switchboard() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    c.env_remove("ETCDCTL_ENDPOINTS")
        .env("XDG_CONFIG_HOME", "/nonexistent-switchboard-config");
    c
}

/// Runs `switchboard ARGS` and insists that it succeeds.
fn run_ok(args: &[&str]) -> std::process::Output {
    let out = switchboard().args(args).output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn status_json_on_the_drill_has_the_documented_shape() {
    let out = run_ok(&["status", "--json", "--drill", "--wait", "10"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["drill"], true);
    let clusters = v["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 2);
    for c in clusters {
        assert_eq!(c["state"], "healthy", "{c}");
        for key in ["name", "kind", "leader", "members", "quorum"] {
            assert!(c.get(key).is_some(), "cluster lacks {key}");
        }
        for key in ["size", "voters", "reachable", "tolerance"] {
            assert!(c["quorum"][key].is_u64(), "quorum lacks {key}");
        }
        let m = &c["members"][0];
        assert!(m["name"].is_string() && m["reachable"].is_boolean() && m["leader"].is_boolean());
    }
    let b = &v["breakers"][0];
    assert!(b["id"].is_string() && b["state"].is_string() && b["failure_rate"].is_f64());
    assert_eq!(v["instances"]["total"], 300);
    let backends = v["backends"].as_array().expect("backends");
    assert!(
        backends
            .iter()
            .any(|b| b["service"] == "checkout" && b["gateways"][0] == "edge-gateway")
    );
    for b in backends {
        assert!(b["name"].is_string() && b["health"].is_string(), "{b}");
    }
    let s = &v["sources"][0];
    assert_eq!(
        (s["name"].as_str(), s["kind"].as_str(), s["status"].as_str()),
        (Some("drill"), Some("drill"), Some("up"))
    );
    assert!(s["age_secs"].as_f64().is_some_and(|a| a < 5.0));
}

#[test]
fn watch_json_prints_every_event_as_a_line() {
    let out = run_ok(&["watch", "--json", "--drill", "--for", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(
        lines.len() > 300,
        "inventory and first steps, got {}",
        lines.len()
    );
    assert_eq!(
        lines[0]["kind"], "source_status",
        "nothing before the first event is lost"
    );
    for l in &lines {
        assert!(
            l["at"]
                .as_str()
                .is_some_and(|a| a.ends_with('Z') && a.contains('T')),
            "{l}"
        );
        assert_eq!(l["source"], "drill");
        assert!(l["subjects"].is_array());
        assert_eq!(l["drill"], true);
    }
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "member_status" && l["subjects"][0] == "drill-etcd")
    );
}

#[test]
fn bad_config_names_file_line_and_problem_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[[environment]]\nname = \"lab\"\n[[environment.source]]\nkind = \"etcd\"\nname = \"e\"\nendpoint = [\"x\"]\n")
        .expect("write");
    let out = switchboard()
        .args(["status", "--json", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:1", path.display())), "{err}");
    assert!(err.contains("unknown field `endpoint`"), "{err}");

    let out = switchboard()
        .args(["status", "--config", "/nonexistent/switchboard.toml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/switchboard.toml"));
}

#[test]
fn etcdctl_endpoints_convention_and_a_dead_cluster() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let out = switchboard()
        .env("ETCDCTL_ENDPOINTS", format!("127.0.0.1:{port}"))
        .args(["status", "--json", "--wait", "8"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["drill"], false);
    assert_eq!(v["sources"][0]["name"], "etcd");
    assert_eq!(v["sources"][0]["status"], "down");
    assert_eq!(v["clusters"][0]["state"], "lost");
}

#[test]
fn unknown_environment_is_a_clear_error() {
    let out = switchboard()
        .args(["status", "--drill", "--environment", "prod"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no environment named \"prod\""));
}

/// `workflow` against the rig's real HAProxy: a run, a refusal (exit 3 with the
/// guard's reason), the journal listed. Runs when `SWITCHBOARD_RIG` names `haproxy`.
#[test]
fn workflow_run_refuse_and_list_on_the_rig() {
    if !std::env::var("SWITCHBOARD_RIG").is_ok_and(|v| v.split([' ', ',']).any(|c| c == "haproxy"))
    {
        eprintln!("skipped: the real HAProxy rig is not running");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[[environment]]\nname = \"rig\"\n\n[[environment.source]]\nkind = \"haproxy\"\nname = \"edge\"\nsocket = \"tcp://127.0.0.1:9999\"\n",
    )
    .expect("config");
    let data = dir.path().join("data");
    let wf = |args: &[&str]| {
        switchboard()
            .args(["--config", cfg.to_str().unwrap_or_default()])
            .args(["--data-dir", data.to_str().unwrap_or_default(), "workflow"])
            .args(args)
            .output()
            .expect("run")
    };
    let out = wf(&[
        "run",
        "maint",
        "--target",
        "edge/be_web/web2",
        "--confirm",
        "be_web/web2",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("guard last healthy") && text.contains(": done"),
        "{text}"
    );

    let out = wf(&["plan", "drain", "--target", "edge/be_web/web1"]);
    assert_eq!(out.status.code(), Some(3), "a guard refuses: exit 3");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("last healthy: 0 other server(s) of be_web take traffic"),
        "{err}"
    );

    let out = wf(&[
        "run",
        "ready",
        "--target",
        "edge/be_web/web2",
        "--confirm",
        "web2",
    ]);
    assert_eq!(out.status.code(), Some(3), "a wrong confirmation refuses");
    let out = wf(&[
        "run",
        "ready",
        "--target",
        "edge/be_web/web2",
        "--confirm",
        "be_web/web2",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["report"]["outcome"], "done");

    let out = wf(&["list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("maint edge/be_web/web2") && text.contains("ready edge/be_web/web2"),
        "{text}"
    );
}

/// A run cut short (the process killed between its journal rows) is shown as
/// interrupted, with the last step it journaled.
#[test]
fn workflow_list_shows_an_interrupted_run() {
    use switchboard_core::Timestamp;
    use switchboard_core::workflow::{Journal, StepRow};
    let dir = tempfile::tempdir().expect("dir");
    let journal = Journal::open(&dir.path().join("journal.sqlite")).expect("journal");
    let run = journal
        .start("drain", "edge/be_web/web1", "prod", "ana", Timestamp(1_000))
        .expect("start");
    journal
        .step(
            run,
            &StepRow {
                seq: 0,
                phase: "before".into(),
                action: "set server be_web/web1 state drain".into(),
                outcome: "pending".into(),
                detail: String::new(),
                at: Timestamp(1_001),
            },
        )
        .expect("step");
    drop(journal);
    let out = run_ok(&[
        "--drill",
        "--data-dir",
        dir.path().to_str().unwrap_or_default(),
        "workflow",
        "list",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "INTERRUPTED after the `before` row of `set server be_web/web1 state drain` (pending)"
        ),
        "{text}"
    );
}
