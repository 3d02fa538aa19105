//! `switchboard experiment` as a process, on the rig's real HAProxy: a wrong
//! confirmation and a read-only environment are refused (exit 3) and inject nothing;
//! the right one runs the game day end to end and prints its report; `history` and
//! `report --json` read it back from the journal. Runs when `SWITCHBOARD_RIG` names
//! `haproxy` and `etcd`.

use std::process::Command;

fn rig_has(c: &str) -> bool {
    std::env::var("SWITCHBOARD_RIG").is_ok_and(|v| v.split([' ', ',']).any(|x| x == c))
}

/// The rig as a configuration file: its etcd (the lock), HAProxy, a probe through the
/// gateway, web1's and web2's nodes powered through the rig's fence agent, and the
/// shipped `backend-lost` experiment on web1's node.
fn config(read_only: bool) -> String {
    let agent = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/rig/fence_rig_node")
        .display()
        .to_string();
    let rig = std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".to_owned());
    let node = |n: u32| {
        format!(
            "[[environment.fence]]\nname = \"web{n}-power\"\nnode = \"web{n}-node\"\ngroup = \"web\"\nagent = \"{agent}\"\noptions = {{ rig = \"{rig}\", processes = \"backend{n}\" }}\n\n"
        )
    };
    format!(
        "[[environment]]\nname = \"rig\"\nread_only = {read_only}\n\n\
         [[environment.source]]\nkind = \"etcd\"\nname = \"etcd\"\nendpoints = [\"127.0.0.1:12379\", \"127.0.0.1:22379\", \"127.0.0.1:32379\"]\n\n\
         [[environment.source]]\nkind = \"haproxy\"\nname = \"edge\"\nsocket = \"tcp://127.0.0.1:9999\"\ninterval_millis = 100\n\n\
         [[environment.source]]\nkind = \"http_probe\"\nname = \"through-gateway\"\nurl = \"http://127.0.0.1:8080/\"\ninterval_secs = 0.1\ntimeout_secs = 1.0\nunhealthy_threshold = 1\nservice = \"shop\"\ninstance = \"gateway\"\n\n\
         {}{}\
         [[environment.experiment]]\nname = \"backend-lost\"\nvars = {{ node = \"web1-node\", through_gateway = \"shop\" }}\n",
        node(1),
        node(2)
    )
}

#[test]
fn a_game_day_from_the_command_line_refuses_runs_and_reports() {
    if !(rig_has("haproxy") && rig_has("etcd")) {
        eprintln!("skipped: needs the rig's HAProxy and etcd (tests/check.sh)");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let run = |read_only: bool, args: &[&str]| {
        let cfg = dir.path().join(format!("config-{read_only}.toml"));
        std::fs::write(&cfg, config(read_only)).expect("config");
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .env("XDG_CONFIG_HOME", "/nonexistent-switchboard-config")
            .args(["--config", cfg.to_str().unwrap_or_default()])
            .args([
                "--data-dir",
                data.to_str().unwrap_or_default(),
                "experiment",
            ])
            .args(args)
            .output()
            .expect("run")
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    let out = run(false, &["list"]);
    assert!(
        text(&out).contains("backend-lost") && text(&out).contains("never run"),
        "{}",
        text(&out)
    );

    let out = run(
        true,
        &[
            "run",
            "backend-lost",
            "--confirm",
            "backend-lost",
            "--wait",
            "20",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("environment rig is read-only"),
        "{}",
        text(&out)
    );

    let out = run(
        false,
        &[
            "run",
            "backend-lost",
            "--confirm",
            "backend",
            "--wait",
            "20",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("is not the target's name"),
        "{}",
        text(&out)
    );

    let out = run(
        false,
        &[
            "run",
            "backend-lost",
            "--confirm",
            "backend-lost",
            "--wait",
            "20",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("GAME DAY: backend-lost in environment rig"),
        "{said}"
    );
    assert!(said.contains("## GAME DAY: backend-lost (run #"), "{said}");
    assert!(said.contains("**recovered**"), "{said}");

    let out = run(false, &["history", "backend-lost"]);
    assert!(text(&out).contains(": recovered in"), "{}", text(&out));
    let out = run(false, &["report", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["outcome"], "recovered");
    assert!(report["mttr_millis"].as_i64().is_some_and(|m| m > 0));
    assert_eq!(report["blast_radius_held"], true);
}
