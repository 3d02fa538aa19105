//! Crash trials: the real console (`switchboard`, this package's binary) killed with
//! SIGKILL at random moments, many times per scenario, and after every kill the data it
//! acknowledged checked:
//! - `notes`: `notes add` killed while saving; every note it said was saved is there;
//! - `workflow`: a fencing run (Debian's `fence_dummy` on a status file, through
//!   `workflow run`) killed mid-run; the journal opens and no run is left `running`
//!   without being shown interrupted by `workflow list`;
//! - `segments`: `watch --record` rolling segments every 100 ms, killed; every segment
//!   opens and replays its readable prefix with every keyframe it reaches matching,
//!   and `session info` and `replay --export` work on the cut one;
//! - `retention`: the same with many old segments and a 1 MB budget, killed while
//!   pruning; no half-removed file breaks the next start, and no segment of the live
//!   recording is ever removed.
//!
//! After every trial every database must answer `PRAGMA integrity_check` with `ok`.
//! `CRASH_TRIALS` sets the trials per scenario (default 40: the suite's short pass;
//! `tests/crash-trials.sh` runs 1,000). Each scenario prints one `crash-trials:` line
//! (trials, losses, what it found, wall time), which the script gathers into a table.

mod notes;
mod recording;
mod workflow;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The console under trial: this package's binary, or `CRASH_TRIALS_BIN` (the long run
/// copies the binary aside, so a build meanwhile does not swap it mid-run).
fn switchboard() -> Command {
    let mut c = Command::new(
        std::env::var_os("CRASH_TRIALS_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_switchboard").into()),
    );
    c.env_remove("SWITCHBOARD_DATA_DIR")
        .env_remove("ETCDCTL_ENDPOINTS")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    c
}

/// Trials per scenario: `CRASH_TRIALS`, or the short pass's 40.
fn trials() -> u32 {
    std::env::var("CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

/// A small xorshift generator: the kill moments, seeded from the clock and printed, so a
/// failing run can be told apart from another (`CRASH_SEED` repeats one).
struct Rng(u64);

impl Rng {
    fn new(scenario: &str) -> Self {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
            | 1;
        eprintln!("crash trials: {scenario}: seed {seed}");
        Self(seed)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Kills `child` with SIGKILL after `after` (at once if it ended before), reaps it, and
/// says whether it was still running when killed.
fn kill_after(child: &mut Child, after: Duration) -> bool {
    let deadline = Instant::now() + after;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2).min(deadline - Instant::now().min(deadline)));
    }
    let running = matches!(child.try_wait(), Ok(None));
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    running
}

/// What one scenario found.
struct Tally {
    scenario: &'static str,
    trials: u32,
    /// Trials whose process was still running when it was killed.
    killed_mid_run: u32,
    /// Acknowledged data not found after a kill (the goal is 0).
    losses: u64,
    /// Everything else that went wrong, in words (the goal is none).
    failures: Vec<String>,
    /// What the scenario counted (`acknowledged notes 812`, `interrupted runs 377`...).
    found: Vec<(&'static str, u64)>,
    started: Instant,
}

impl Tally {
    fn new(scenario: &'static str) -> Self {
        Self {
            scenario,
            trials: 0,
            killed_mid_run: 0,
            losses: 0,
            failures: Vec::new(),
            found: Vec::new(),
            started: Instant::now(),
        }
    }

    fn count(&mut self, what: &'static str, n: u64) {
        match self.found.iter_mut().find(|(w, _)| *w == what) {
            Some((_, m)) => *m += n,
            None => self.found.push((what, n)),
        }
    }

    fn fail(&mut self, trial: u32, what: impl std::fmt::Display) {
        eprintln!("crash trials: {} trial {trial}: {what}", self.scenario);
        self.failures.push(format!("trial {trial}: {what}"));
    }

    /// Prints the scenario's line and fails the test on any loss or failure.
    fn finish(self) {
        let found: Vec<String> = self
            .found
            .iter()
            .map(|(what, n)| format!("{what} {n}"))
            .collect();
        println!(
            "crash-trials: {} | {} trials | {} killed mid-run | {} lost | {} failures | {} | {:.1} s",
            self.scenario,
            self.trials,
            self.killed_mid_run,
            self.losses,
            self.failures.len(),
            found.join(", "),
            self.started.elapsed().as_secs_f64()
        );
        assert!(
            self.trials > 0 && self.killed_mid_run > 0,
            "{}: no trial killed the console mid-run",
            self.scenario
        );
        assert_eq!(
            (self.losses, self.failures.len()),
            (0, 0),
            "{}: {} lost, failures: {:#?}",
            self.scenario,
            self.losses,
            self.failures.iter().take(20).collect::<Vec<_>>()
        );
    }
}

/// Runs the console with `args` to the end (bounded at 60 s); its exit, stdout and
/// stderr.
fn run(args: &[&str], data: &Path) -> (bool, String, String) {
    let child = switchboard()
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn switchboard");
    let out = wait_bounded(child, Duration::from_mins(1));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits for `child` at most `limit`, then kills it: a hang fails the trial, not the run.
fn wait_bounded(child: Child, limit: Duration) -> std::process::Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()).ok());
    if let Ok(out) = rx.recv_timeout(limit) {
        return out.expect("waited");
    }
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .ok();
    let out = rx.recv().expect("killed").expect("waited");
    panic!(
        "switchboard (pid {pid}) hung for {} s; stderr: {}",
        limit.as_secs(),
        String::from_utf8_lossy(&out.stderr)
    );
}
