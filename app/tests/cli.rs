//! The CLI, run as a process: `status`, `watch`, workflows, notes, sessions, bad
//! configuration, and what each subcommand's help offers.

use std::process::Command;

fn switchboard() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    c.env_remove("ETCDCTL_ENDPOINTS")
        .env("XDG_CONFIG_HOME", "/nonexistent-switchboard-config");
    c
}

/// Runs `switchboard ARGS` and insists that it fails with `code`, saying `what`.
fn fails_with(args: &[&str], code: i32, what: &str) {
    let out = switchboard().args(args).output().expect("run");
    assert_eq!(out.status.code(), Some(code), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(what), "{args:?}: {err}");
}

/// Runs `switchboard ARGS` and insists that it succeeds.
fn run_ok(args: &[&str]) -> std::process::Output {
    succeeds(switchboard().args(args))
}

/// Runs `cmd` and insists that it succeeds (its stderr is the failure message).
fn succeeds(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("run");
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
fn watch_json_prints_what_changes_as_lines_and_all_of_it_with_all() {
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
    // The drill sends its inventory (services first), then says it is up: the very
    // first event it sent is there, so nothing before the first line is lost.
    assert_eq!(
        lines[0]["kind"], "service",
        "nothing before the first event is lost"
    );
    assert!(lines.iter().any(|l| l["kind"] == "source_status"));
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
    // What changes, by default: no readings of series, no heartbeats; `--all` adds them.
    let readings = |lines: &[serde_json::Value]| {
        lines
            .iter()
            .filter(|l| {
                ["metric", "breaker_calls", "pool", "heartbeat"]
                    .contains(&l["kind"].as_str().unwrap_or(""))
            })
            .count()
    };
    assert_eq!(readings(&lines), 0);
    let out = run_ok(&["watch", "--json", "--all", "--drill", "--for", "2"]);
    let all: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(readings(&all) > 20, "{} readings", readings(&all));
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

    fails_with(
        &["status", "--config", "/nonexistent/switchboard.toml"],
        2,
        "/nonexistent/switchboard.toml",
    );
}

#[test]
fn etcdctl_endpoints_convention_and_a_dead_cluster() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let out = succeeds(
        switchboard()
            .env("ETCDCTL_ENDPOINTS", format!("127.0.0.1:{port}"))
            .args(["status", "--json", "--wait", "8"]),
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

/// kill -9 of the console in the middle of a fence: the journal shows the step it was
/// in, `workflow list` calls the run interrupted and offers resume or rollback, and a
/// rollback (unfence) takes it over and closes it. Uses the rig's real `fence_dummy`:
/// level 1 is its always-failing type (4 s), so the kill lands while its agent runs.
#[test]
fn a_workflow_killed_mid_run_is_shown_interrupted_and_can_be_rolled_back() {
    use switchboard_core::workflow::Journal;
    if !std::env::var("SWITCHBOARD_RIG").is_ok_and(|v| v.split([' ', ',']).any(|c| c == "fence")) {
        eprintln!("skipped: needs the rig's fence agents (tests/check.sh)");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let file = |n: &str| dir.path().join(format!("{n}.status"));
    std::fs::write(file("db1"), "on").expect("db1");
    std::fs::write(file("db2"), "on").expect("db2");
    let config = dir.path().join("sb.toml");
    std::fs::write(
        &config,
        format!(
            r#"[[environment]]
name = "rig"
[[environment.fence]]
name = "db1-broken-pdu"
node = "db1"
agent = "fence_dummy"
options = {{ type = "fail", plug = "db1", power_timeout = "4" }}
[[environment.fence]]
name = "db1-pdu"
node = "db1"
level = 2
agent = "fence_dummy"
options = {{ type = "file", status_file = "{}" }}
[[environment.fence]]
name = "db2-pdu"
node = "db2"
agent = "fence_dummy"
options = {{ type = "file", status_file = "{}" }}
"#,
            file("db1").display(),
            file("db2").display()
        ),
    )
    .expect("config");
    let data = dir.path().to_str().unwrap_or_default();
    let cfg = config.to_str().unwrap_or_default();
    let mut child = switchboard()
        .args([
            "--config",
            cfg,
            "--data-dir",
            data,
            "workflow",
            "run",
            "fence",
        ])
        .args(["--target", "db1", "--confirm", "db1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until level 1's agent is running (its `before` row is journaled), then kill.
    let journal_path = dir.path().join("journal.sqlite");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let started = Journal::open(&journal_path)
            .ok()
            .and_then(|j| j.recent(1).ok()?.first().map(|r| j.steps(r.id)))
            .and_then(Result::ok)
            .is_some_and(|s| s.iter().any(|r| r.phase == "before"));
        if started {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reaped");

    let out = run_ok(&["--config", cfg, "--data-dir", data, "workflow", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "INTERRUPTED after the `before` row of `level 1: db1-broken-pdu action=off` (pending): the target may be half-changed (it was ON)"
        ) && text.contains("`workflow resume 1` or `workflow rollback 1`"),
        "{text}"
    );
    let out = run_ok(&[
        "--config",
        cfg,
        "--data-dir",
        data,
        "workflow",
        "rollback",
        "1",
        "--confirm",
        "db1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("run #1 closed as interrupted; unfence db1") && text.contains("run #2: done"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(file("db1")).expect("read"), "on");
    let journal = Journal::open(&journal_path).expect("journal");
    let first = journal.run(1).expect("run").expect("#1");
    assert_eq!(first.outcome, "interrupted");
    let last = journal.steps(1).expect("steps").pop().expect("row");
    assert!(last.action.starts_with("rolled back by "), "{last:?}");
    // Taken over once: a second rollback is refused (exit 3).
    let out = switchboard()
        .args([
            "--config",
            cfg,
            "--data-dir",
            data,
            "workflow",
            "rollback",
            "1",
        ])
        .args(["--confirm", "db1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("run #1 is not interrupted: it ended (interrupted)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `notes` and `incident` on the command line: open an incident, add notes to it, list
/// and search them (JSON), resolve it; `notes --where` names the file.
#[test]
fn notes_and_incidents_on_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_str().unwrap_or_default();
    let run = |args: &[&str]| {
        let mut all = vec!["--drill", "--data-dir", data];
        all.extend_from_slice(args);
        String::from_utf8_lossy(&run_ok(&all).stdout).into_owned()
    };
    assert_eq!(
        run(&["notes", "--where"]).trim(),
        dir.path().join("notes.sqlite").display().to_string()
    );
    assert!(
        run(&[
            "incident",
            "open",
            "--title",
            "checkout 503s",
            "--severity",
            "0"
        ])
        .contains("incident #1 opened (Sev0) in drill")
    );
    run(&[
        "notes",
        "add",
        "--incident",
        "1",
        "--entity",
        "service:checkout",
        "pool saturated 50/50",
    ]);
    run(&[
        "notes",
        "add",
        "--incident",
        "1",
        "rolled back deploy 4.2.1",
    ]);
    let listed: serde_json::Value =
        serde_json::from_str(&run(&["notes", "list", "--incident", "1", "--json"])).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    assert_eq!(listed[0]["entity"], "service:checkout");
    let found: serde_json::Value =
        serde_json::from_str(&run(&["notes", "search", "deploy", "--json"])).expect("json");
    assert_eq!(found[0]["body"], "rolled back deploy 4.2.1");
    let timeline = run(&["incident", "timeline", "1"]);
    assert!(
        timeline.contains("note by") && timeline.contains("pool saturated 50/50"),
        "{timeline}"
    );
    // Severity by hand, then star and hide entries of the timeline (ids in brackets).
    assert!(run(&["incident", "severity", "1", "1", "--reason", "only EU"]).contains("is Sev1"));
    let timeline = run(&["incident", "timeline", "1"]);
    assert!(
        timeline.contains("Sev0 -> Sev1, set by") && timeline.contains(": only EU"),
        "{timeline}"
    );
    let entry = timeline
        .lines()
        .find(|l| l.contains("Sev0 -> Sev1"))
        .and_then(|l| l.split('[').nth(1))
        .and_then(|t| t.split(']').next())
        .expect("the entry's id")
        .to_owned();
    assert!(run(&["incident", "star", &entry]).contains("starred"));
    assert!(run(&["incident", "resolve", "1"]).contains("incident #1 resolved"));
    let md = run(&["notes", "export", "1", "--md"]);
    assert!(
        md.starts_with("# Postmortem: checkout 503s (incident #1)")
            && md.contains("pool saturated 50/50")
            && md.contains("★ severity"),
        "{md}"
    );
    // The drill's objectives came with the incident: the RTO and the cost estimate.
    assert!(md.contains("- RTO 15:00: met"), "{md}");
    assert!(
        md.contains("- Cost: ≈ $") && md.contains("(estimate:"),
        "{md}"
    );
    run(&["incident", "hide", &entry]);
    let md = run(&["notes", "export", "1", "--md"]);
    assert!(
        !md.contains("Sev0 -> Sev1"),
        "a hidden entry is left out: {md}"
    );
    let out = dir.path().join("pm.json");
    run(&[
        "notes",
        "export",
        "1",
        "--json",
        "--out",
        out.to_str().unwrap_or_default(),
    ]);
    let pm: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("written")).expect("json");
    assert_eq!(pm["incident"]["status"], "resolved");
    let incidents: serde_json::Value =
        serde_json::from_str(&run(&["incident", "list", "--json"])).expect("json");
    assert_eq!(incidents[0]["status"], "resolved");
    let out = switchboard()
        .args([
            "--drill",
            "--data-dir",
            data,
            "notes",
            "add",
            "--incident",
            "9",
            "x",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no incident #9"));
}

/// `notes add` without `--incident`: on the one open incident; with two open, refused
/// naming both (nothing saved); `--no-incident` saves it on none; with none open it is
/// saved on none.
#[test]
fn a_note_without_incident_goes_to_the_one_open_or_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_str().unwrap_or_default();
    let cli = |args: &[&str]| {
        let mut all = vec!["--drill", "--data-dir", data];
        all.extend_from_slice(args);
        let out = switchboard().args(&all).output().expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, said, _) = cli(&["notes", "add", "before anything"]);
    assert_eq!((code, said.trim()), (Some(0), "note #1 saved"));
    cli(&["incident", "open", "--title", "checkout 503s"]);
    let (code, said, _) = cli(&["notes", "add", "pool saturated"]);
    assert_eq!(
        (code, said.trim()),
        (Some(0), "note #2 saved to incident #1")
    );
    cli(&["incident", "open", "--title", "eu dns", "--severity", "1"]);
    let (code, said, err) = cli(&["notes", "add", "which one?"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        err.contains("2 incidents are open")
            && err.contains("#1 Sev2 checkout 503s in drill")
            && err.contains("#2 Sev1 eu dns in drill")
            && err.contains("--incident ID"),
        "{err}"
    );
    let (code, said, _) = cli(&["notes", "add", "--no-incident", "on none"]);
    assert_eq!((code, said.trim()), (Some(0), "note #3 saved"));
    let (_, listed, _) = cli(&["notes", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("json");
    let on = |body: &str| {
        listed
            .as_array()
            .and_then(|a| a.iter().find(|n| n["body"] == body))
            .map(|n| n["incident"].clone())
    };
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    assert_eq!(on("pool saturated"), Some(serde_json::json!(1)));
    assert_eq!(on("on none"), Some(serde_json::Value::Null));
}

/// A drill run recorded by the real engine (quorum loss injected, then recovered), read
/// back headless: `session info` (every keyframe matches), `replay --at` before,
/// during and after the fault (healthy, at risk, healthy; the schema of
/// `status --json`), and `replay --export` (one JSON line per event).
#[test]
fn replay_at_shows_healthy_at_risk_healthy_and_session_info_checks_out() {
    use std::time::Duration;
    use switchboard_core::model::QuorumState;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("drill.session");
    let mut opts = switchboard_core::EngineOptions::new(switchboard_core::Config::drill(
        switchboard_core::sources::drill::DrillConfig {
            scripted: false,
            speed: 20.0,
            seed: 3,
            instances: 60,
            ..Default::default()
        },
    ));
    opts.record_to = Some(file.clone());
    let engine = switchboard_core::start(&opts).expect("engine");
    let etcd = |s: &switchboard_core::State| {
        s.clusters
            .get("drill-etcd")
            .filter(|c| c.members.values().all(|m| m.polled))
            .map(|c| c.quorum.state)
    };
    let before = engine
        .wait_for(Duration::from_secs(10), |s| {
            etcd(s) == Some(QuorumState::Healthy)
        })
        .now;
    engine
        .send(switchboard_core::Intent::DrillInject {
            fault: switchboard_core::DrillFault::QuorumLoss,
        })
        .expect("inject");
    let during = engine
        .wait_for(Duration::from_secs(20), |s| {
            etcd(s) == Some(QuorumState::AtRisk)
        })
        .now;
    engine.wait_for(Duration::from_secs(30), |s| {
        etcd(s) == Some(QuorumState::Lost)
    });
    let after = engine.wait_for(Duration::from_mins(1), |s| {
        etcd(s) == Some(QuorumState::Healthy) && s.open_incident().is_none()
    });
    assert_eq!(
        etcd(&after),
        Some(QuorumState::Healthy),
        "the drill recovered"
    );
    let end = after.events_applied;
    assert!(engine.shutdown().is_none());
    let f = file.to_str().unwrap_or_default();

    let info: serde_json::Value =
        serde_json::from_slice(&run_ok(&["session", "info", f, "--json"]).stdout).expect("json");
    assert!(
        info["events"]
            .as_i64()
            .is_some_and(|n| n >= i64::try_from(end).unwrap_or(0))
    );
    let k = &info["keyframes"];
    assert!(k["checked"].as_u64().is_some_and(|n| n >= 2), "{info}");
    assert_eq!(k["checked"], k["matched"], "{info}");
    assert_eq!(info["drill"], true);
    assert!(
        info["incidents"]
            .as_array()
            .is_some_and(|a| a.iter().any(|i| i["title"]
                .as_str()
                .is_some_and(|t| t.contains("drill-etcd")))),
        "{info}"
    );

    let state_at = |t: switchboard_core::Timestamp| {
        let at = t.to_rfc3339();
        let v: serde_json::Value =
            serde_json::from_slice(&run_ok(&["replay", f, "--at", &at, "--json"]).stdout)
                .expect("json");
        let c = v["clusters"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == "drill-etcd").cloned())
            .expect("drill-etcd");
        c["state"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(state_at(before), "healthy");
    assert_eq!(state_at(during), "at_risk");
    assert_eq!(state_at(after.now), "healthy");
    // An offset from the first event works too, and a bad moment is a clear error.
    run_ok(&["replay", f, "--at", "+1s", "--json"]);
    fails_with(&["replay", f, "--at", "soon"], 1, "expected RFC 3339");

    let jsonl = dir.path().join("events.jsonl");
    run_ok(&["replay", f, "--export", jsonl.to_str().unwrap_or_default()]);
    let text = std::fs::read_to_string(&jsonl).expect("export");
    assert_eq!(Some(text.lines().count() as i64), info["events"].as_i64());
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().unwrap_or_default()).expect("a JSON line");
    assert!(first["kind"].is_string() && first["at"].is_string());

    fails_with(
        &["session", "info", "/etc/hostname"],
        1,
        "not a Switchboard session",
    );
}

/// `record` on an unattended box: headless, for a duration, then a session that
/// `session info` reads and checks.
#[test]
fn record_for_a_duration_writes_a_session_that_checks_out() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("box.session");
    let f = file.to_str().unwrap_or_default();
    let out = run_ok(&["--drill", "record", "--out", f, "--for", "2s"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("events recorded to"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value =
        serde_json::from_slice(&run_ok(&["session", "info", f, "--json"]).stdout).expect("json");
    assert!(info["events"].as_i64().is_some_and(|n| n > 100), "{info}");
    assert!(
        info["keyframes"]["checked"]
            .as_u64()
            .is_some_and(|n| n >= 2),
        "{info}"
    );
    assert_eq!(info["keyframes"]["checked"], info["keyframes"]["matched"]);
    fails_with(
        &["--drill", "record", "--out", f, "--for", "2 fortnights"],
        1,
        "expected a duration",
    );
}

/// A session file never holds a secret: the configuration it keeps names the
/// environment variables, and their values appear nowhere in the file.
#[test]
fn a_recorded_session_holds_no_secret() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        r#"[[environment]]
name = "lab"

[[environment.source]]
kind = "etcd"
name = "control-plane"
endpoints = ["http://127.0.0.1:9"]
username_env = "SB_TEST_ETCD_USER"
password_env = "SB_TEST_ETCD_PASSWORD"
"#,
    )
    .expect("config");
    let file = dir.path().join("lab.session");
    let secret = "hunter2-correct-horse-7f3a";
    succeeds(
        switchboard()
            .env("SB_TEST_ETCD_USER", "root")
            .env("SB_TEST_ETCD_PASSWORD", secret)
            .args([
                "--config",
                cfg.to_str().unwrap_or_default(),
                "record",
                "--out",
            ])
            .arg(&file)
            .args(["--for", "1500ms"]),
    );
    let mut bytes = std::fs::read(&file).expect("session");
    if let Ok(wal) = std::fs::read(format!("{}-wal", file.display())) {
        bytes.extend(wal);
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("SB_TEST_ETCD_PASSWORD"),
        "the variable is named"
    );
    assert!(
        !text.contains(secret),
        "the password is nowhere in the file"
    );
    let info = run_ok(&[
        "session",
        "info",
        file.to_str().unwrap_or_default(),
        "--json",
    ]);
    assert!(!String::from_utf8_lossy(&info.stdout).contains(secret));
}

/// Options that only the window means (the bare command); `replay` opens a window too,
/// and has the first four.
const WINDOW_ONLY: [&str; 10] = [
    "--layout",
    "--renderer",
    "--theme",
    "--exit-after",
    "--wall",
    "--rotate",
    "--no-record",
    "--keep-hours",
    "--keep-mb",
    "--segment-minutes",
];

/// `switchboard ARGS --help`.
fn help(args: &[&str]) -> String {
    let out = run_ok(&[args, &["--help"]].concat());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The subcommands a help text lists (under `Commands:`), but `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// Whether `help` offers the option `flag` (the whole name: `--record` is not
/// `--record-to`).
fn offers(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(at, _)| {
        let before = help[..at].chars().next_back();
        let after = help[at + flag.len()..].chars().next();
        before.is_none_or(char::is_whitespace)
            && after.is_none_or(|c| !(c.is_alphanumeric() || c == '-'))
    })
}

#[test]
fn each_subcommand_shows_only_its_own_options() {
    let top = help(&[]);
    for flag in WINDOW_ONLY {
        assert!(offers(&top, flag), "the window lacks {flag}:\n{top}");
    }
    let mut walk: Vec<Vec<String>> = subcommands(&top).into_iter().map(|c| vec![c]).collect();
    let mut seen = 0;
    while let Some(path) = walk.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let text = help(&args);
        seen += 1;
        for c in subcommands(&text) {
            walk.push([path.clone(), vec![c]].concat());
        }
        // `replay FILE` without --at or --export is the replay window.
        let window_too = args == ["replay"];
        for (k, flag) in WINDOW_ONLY.iter().enumerate() {
            let expected = window_too && k < 4;
            assert_eq!(
                offers(&text, flag),
                expected,
                "`switchboard {} --help` and {flag}:\n{text}",
                args.join(" ")
            );
        }
        // What every command reads stays on every command.
        for flag in ["--config", "--data-dir", "--drill", "--environment"] {
            assert!(offers(&text, flag), "`{}` lacks {flag}", args.join(" "));
        }
    }
    assert!(seen > 20, "walked only {seen} subcommands");
    // Given before a subcommand, window options are still taken (and mean nothing there),
    // as scripts wrote them; after it, they are an error of usage.
    fails_with(
        &[
            "--layout",
            "wall",
            "--theme",
            "dark",
            "--no-record",
            "session",
            "info",
            "/nonexistent",
        ],
        1,
        "/nonexistent",
    );
    fails_with(
        &["status", "--layout", "wall"],
        2,
        "unexpected argument '--layout'",
    );
}
