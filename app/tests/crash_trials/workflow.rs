//! A workflow journaling its steps: `switchboard workflow run fence|unfence` on node
//! db1, through Debian's real `fence_dummy` agent on a status file (the rig's `fence`
//! component installs it; no server is needed), killed at a random moment of its run
//! (planning, journaling the `before` row, the agent powering off, verifying). After
//! every kill the journal opens and passes `integrity_check`, and every run has ended
//! (`done`, `needs_human`...) or, still marked `running` with its console gone, is
//! interrupted and `workflow list` says so.

use std::process::Stdio;
use std::time::Duration;

use switchboard_core::workflow::{DAMPENING_RUNS, DAMPENING_WINDOW_MILLIS, Journal};
use switchboard_core::{Clock as _, SystemClock, Timestamp};

use super::{Rng, Tally, kill_after, run, switchboard, trials};

/// The fence agents are installed by the rig's `fence` component.
fn skip() -> bool {
    if std::env::var("SWITCHBOARD_RIG").is_ok_and(|v| v.split([' ', ',']).any(|c| c == "fence")) {
        return false;
    }
    eprintln!("skipped: needs the rig's fence agents (SWITCHBOARD_RIG=fence; tests/check.sh)");
    true
}

#[test]
fn workflow_runs_killed_mid_run_are_never_left_running() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let status = |n: &str| dir.path().join(format!("{n}.status"));
    std::fs::write(status("db1"), "on").expect("db1");
    std::fs::write(status("db2"), "on").expect("db2");
    let config = dir.path().join("sb.toml");
    std::fs::write(
        &config,
        format!(
            r#"[[environment]]
name = "trial"
[[environment.fence]]
name = "db1-pdu"
node = "db1"
group = "db"
agent = "fence_dummy"
timeout_secs = 10
options = {{ type = "file", status_file = "{}" }}
[[environment.fence]]
name = "db2-pdu"
node = "db2"
group = "db"
agent = "fence_dummy"
timeout_secs = 10
options = {{ type = "file", status_file = "{}" }}
"#,
            status("db1").display(),
            status("db2").display()
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    let journal_path = data.join("journal.sqlite");
    let cfg = config.to_str().expect("utf-8 path");
    let mut rng = Rng::new("workflow");
    let mut tally = Tally::new("workflow");
    for trial in 0..trials() {
        let off = std::fs::read_to_string(status("db1")).is_ok_and(|s| s.trim() == "off");
        let kind = if off { "unfence" } else { "fence" };
        let mut args = vec![
            "--config",
            cfg,
            "workflow",
            "run",
            kind,
            "--target",
            "db1",
            "--confirm",
            "db1",
        ];
        // The trials run far more often than a human would: past the dampening guard's
        // limit, it is overridden as an operator would, with a reason.
        let recent = Journal::open(&journal_path)
            .and_then(|j| {
                j.runs_since(
                    "db1",
                    Timestamp(SystemClock.now().0 - DAMPENING_WINDOW_MILLIS),
                )
            })
            .map_or(0, |r| r.len());
        // (A run ageing out of the window between this count and the console's own
        // ends that trial with "nothing to override" and no run: harmless.)
        if recent >= DAMPENING_RUNS {
            args.extend(["--override", "dampening", "--reason", "crash trials"]);
        }
        let mut child = switchboard()
            .args(&args)
            .arg("--data-dir")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // A run takes about 300-700 ms here (two agent calls): the kill lands in any
        // of its phases, or after it.
        let killed = kill_after(&mut child, Duration::from_millis(rng.below(800)));
        tally.trials += 1;
        tally.killed_mid_run += u32::from(killed);
        if !journal_path.exists() {
            continue;
        }
        check(&mut tally, trial, &journal_path, cfg, &data);
        // An agent the killed console started may still be writing the status file.
        std::thread::sleep(Duration::from_millis(30));
    }
    tally.finish();
}

/// The journal after a kill: it opens, is intact, and no run is stuck `running`; the
/// latest, if cut short, is shown interrupted by `workflow list`.
fn check(
    tally: &mut Tally,
    trial: u32,
    journal_path: &std::path::Path,
    cfg: &str,
    data: &std::path::Path,
) {
    let journal = match Journal::open(journal_path) {
        Ok(j) => j,
        Err(e) => return tally.fail(trial, format!("the journal does not open: {e}")),
    };
    match journal.integrity() {
        Ok(ok) if ok == "ok" => {}
        other => tally.fail(trial, format!("integrity_check: {other:?}")),
    }
    let runs = journal.all_runs().expect("runs");
    let now = SystemClock.now();
    let stuck: Vec<i64> = runs
        .iter()
        .filter(|r| r.outcome == "running" && !r.interrupted(now))
        .map(|r| r.id)
        .collect();
    if !stuck.is_empty() {
        tally.fail(
            trial,
            format!("runs stuck running with no console: {stuck:?}"),
        );
    }
    let Some(latest) = runs.last() else { return };
    if latest.outcome == "running" {
        tally.count("interrupted runs", 1);
        let (ok, out, err) = run(&["--config", cfg, "workflow", "list"], data);
        let shown = out
            .lines()
            .skip_while(|l| !l.starts_with(&format!("#{} ", latest.id)))
            .nth(1)
            .is_some_and(|l| l.trim_start().starts_with("INTERRUPTED"));
        if !ok || !shown {
            tally.fail(
                trial,
                format!(
                    "`workflow list` does not show run #{} interrupted: {out}{err}",
                    latest.id
                ),
            );
        }
    } else {
        tally.count(
            match latest.outcome.as_str() {
                "done" => "runs done",
                _ => "runs ended otherwise",
            },
            1,
        );
    }
}
