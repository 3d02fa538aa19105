//! A session recording rolling segments, and retention pruning old ones:
//! `switchboard --drill watch --record FILE --segment-secs S` (the drill's simulated
//! fleet, about a thousand events a second) killed at a random moment.
//!
//! - `segments`: a new segment every 100 ms; after every kill each segment opens,
//!   passes `integrity_check` and replays its readable prefix with every keyframe it
//!   reaches matching, and `session info` and `replay --export` work on the last one
//!   (the one cut short).
//! - `retention`: a directory of hundreds of old segments and `--keep-mb 1`, so every
//!   start and every roll prunes; after every kill every session file there opens, no
//!   segment of the killed recording was removed (they were all written within the
//!   last minutes), and a `-wal`/`-shm` left by a kill in the middle of a removal is
//!   gone after the next start.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use switchboard_core::session::SessionReader;
use switchboard_core::session::replay::Replay;
use switchboard_core::session::retention::is_session_file;

use super::{Rng, Tally, kill_after, run, switchboard, trials};

/// The session files (`session-*.sqlite`) of `dir`.
fn sessions(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| is_session_file(p))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Starts `watch --record first` on the drill, rolling every `segment_secs`.
fn record(first: &Path, segment_secs: &str, keep_mb: &str) -> std::process::Child {
    switchboard()
        .args(["--drill", "--drill-speed", "20", "--keep-mb", keep_mb])
        .arg("--data-dir")
        .arg(first.parent().expect("dir"))
        .args([
            "watch",
            "--for",
            "30",
            "--segment-secs",
            segment_secs,
            "--record",
        ])
        .arg(first)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Replays `path` whole: it must open, pass `integrity_check` and match every keyframe
/// its readable prefix reaches. Returns (keyframes checked, whether the replay warned of
/// a damaged tail).
fn replay_segment(path: &Path) -> Result<(usize, bool), String> {
    let reader = SessionReader::open(path).map_err(|e| format!("does not open: {e}"))?;
    match reader.integrity() {
        Ok(ok) if ok == "ok" => {}
        other => return Err(format!("integrity_check: {other:?}")),
    }
    drop(reader);
    let mut r = Replay::open(path).map_err(|e| format!("does not open for replay: {e}"))?;
    r.index(&mut |_, _| {});
    let v = r.verification();
    if let Some((k, hash)) = &v.first_mismatch {
        return Err(format!(
            "keyframe at event {} does not match: {} ≠ {hash}",
            k.seq, k.hash
        ));
    }
    Ok((v.checked, !r.warnings().is_empty()))
}

#[test]
fn segments_of_a_killed_recording_all_replay() {
    let dir = tempfile::tempdir().expect("dir");
    let mut rng = Rng::new("segments");
    let mut tally = Tally::new("segments");
    for trial in 0..trials() {
        let here = dir.path().join(format!("t{trial}"));
        std::fs::create_dir_all(&here).expect("dir");
        let first = here.join("session-first.sqlite");
        let mut child = record(&first, "0.1", "2048");
        let killed = kill_after(&mut child, Duration::from_millis(100 + rng.below(1400)));
        tally.trials += 1;
        tally.killed_mid_run += u32::from(killed);
        let segments = sessions(&here);
        let mut last: Option<(u32, PathBuf)> = None;
        for seg in &segments {
            match replay_segment(seg) {
                Ok((keyframes, damaged)) => {
                    tally.count("segments replayed", 1);
                    tally.count("keyframes matched", keyframes as u64);
                    tally.count("segments with a damaged tail", u64::from(damaged));
                }
                Err(e) => tally.fail(trial, format!("{}: {e}", seg.display())),
            }
            if let Ok(meta) = SessionReader::open(seg).and_then(|r| r.meta())
                && last.as_ref().is_none_or(|(n, _)| meta.segment >= *n)
            {
                last = Some((meta.segment, seg.clone()));
            }
        }
        // The segment being written when the console died, through the CLI.
        if let Some((_, cut)) = last {
            let cut = cut.to_str().expect("utf-8 path");
            let (ok, _, err) = run(&["session", "info", cut], &here);
            if !ok {
                tally.fail(trial, format!("`session info` on the cut segment: {err}"));
            }
            let export = here.join("export.jsonl");
            let (ok, _, err) = run(
                &["replay", cut, "--export", export.to_str().expect("utf-8")],
                &here,
            );
            if ok {
                tally.count("cut segments read by the CLI", 1);
            } else {
                tally.fail(
                    trial,
                    format!("`replay --export` on the cut segment: {err}"),
                );
            }
        }
        std::fs::remove_dir_all(&here).ok();
    }
    tally.finish();
}

/// A session file that opens, passes `integrity_check` and has its metadata.
fn sound(p: &Path) -> Result<switchboard_core::session::SessionMeta, String> {
    let r = SessionReader::open(p).map_err(|e| e.to_string())?;
    match r.integrity() {
        Ok(ok) if ok == "ok" => r.meta().map_err(|e| e.to_string()),
        other => Err(format!("integrity_check: {other:?}")),
    }
}

/// How many of the old segments are left.
fn old_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.starts_with("session-old-") && n.ends_with(".sqlite")
            })
            .count()
    })
}

/// Old segments beside the recording: `count` copies of `template`, last written two
/// days ago (within `--keep-hours`' 72, so only the byte budget removes them).
fn fill_old(dir: &Path, template: &Path, count: usize) {
    let two_days_ago = SystemTime::now() - Duration::from_hours(48);
    let have = sessions(dir)
        .iter()
        .filter(|p| p.to_string_lossy().contains("session-old-"))
        .count();
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    for n in have..count {
        let p = dir.join(format!("session-old-{stamp:x}-{n}.sqlite"));
        std::fs::copy(template, &p).expect("copy");
        set_old(&p, two_days_ago);
    }
}

fn set_old(p: &Path, at: SystemTime) {
    if let Ok(f) = std::fs::File::options().write(true).open(p) {
        f.set_modified(at).ok();
    }
}

/// A `-wal` or `-shm` whose session file is gone: what a kill between a removal's
/// `unlink`s leaves.
fn orphans(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let s = p.to_string_lossy();
                    s.strip_suffix("-wal")
                        .or_else(|| s.strip_suffix("-shm"))
                        .is_some_and(|main| {
                            is_session_file(Path::new(main)) && !Path::new(main).exists()
                        })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn pruning_killed_midway_breaks_no_start_and_spares_the_live_segment() {
    let dir = tempfile::tempdir().expect("dir");
    let sessions_dir = dir.path().join("sessions");
    std::fs::create_dir_all(&sessions_dir).expect("dir");
    // The template: a real, short recording (a few dozen kB).
    let template = dir.path().join("template.sqlite");
    let (ok, _, err) = run(
        &[
            "--drill",
            "watch",
            "--for",
            "0.3",
            "--record",
            template.to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    assert!(ok, "the template recording: {err}");
    let template_len =
        usize::try_from(std::fs::metadata(&template).expect("template").len()).expect("size");
    let mut rng = Rng::new("retention");
    let mut tally = Tally::new("retention");
    let mut left_before: BTreeSet<PathBuf> = BTreeSet::new();
    for trial in 0..trials() {
        fill_old(&sessions_dir, &template, 300);
        let old_before = old_count(&sessions_dir);
        let first = sessions_dir.join(format!("session-live-{trial:05}.sqlite"));
        let mut child = record(&first, "0.05", "1");
        // Most kills land while pruning removes files: once the first old segment is
        // seen gone, within the next few milliseconds (a few hundred removals take
        // some); one in five anywhere in the first 400 ms.
        let spawned = std::time::Instant::now();
        let early = rng.below(5) == 0;
        while !early
            && old_count(&sessions_dir) >= old_before
            && spawned.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        let delay = Duration::from_micros(if early {
            rng.below(400_000)
        } else {
            rng.below(4_000)
        });
        let killed = kill_after(&mut child, delay);
        let lived = spawned.elapsed();
        tally.trials += 1;
        tally.killed_mid_run += u32::from(killed);
        if !killed {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut err).ok();
            }
            tally.fail(
                trial,
                format!("the console ended by itself before the kill: {err}"),
            );
        }
        // Every session file here opens; the killed recording's segments are all there.
        let now = sessions(&sessions_dir);
        let old_left = old_count(&sessions_dir);
        let removed = old_before.saturating_sub(old_left);
        tally.count("segments removed by retention", removed as u64);
        // Removed some, but the old ones left are still far over the 1 MB budget.
        if removed > 0 && old_left * template_len > 2_000_000 {
            tally.count("killed while pruning", 1);
        }
        let mut live: Vec<u32> = Vec::new();
        let recording = SessionReader::open(&first)
            .and_then(|r| r.meta())
            .ok()
            .map(|m| m.recording);
        // The old copies are opened once, at the end: a read-only open leaves a fresh
        // `-wal` beside a file, which makes it look in use to retention for minutes.
        for p in now
            .iter()
            .filter(|p| !p.to_string_lossy().contains("session-old-"))
        {
            match sound(p) {
                Ok(meta) => {
                    if recording.as_ref().is_some_and(|r| *r == meta.recording) {
                        live.push(meta.segment);
                    }
                }
                Err(e) => tally.fail(trial, format!("{}: {e}", p.display())),
            }
        }
        live.sort_unstable();
        if live.iter().enumerate().any(|(i, s)| *s as usize != i) {
            tally.fail(
                trial,
                format!("a segment of the live recording was removed: {live:?}"),
            );
            tally.losses += 1;
        }
        // A start that lived long enough to prune cleans what an earlier kill left.
        let left = orphans(&sessions_dir);
        if lived >= Duration::from_millis(300) {
            let kept: Vec<_> = left.intersection(&left_before).collect();
            if !kept.is_empty() {
                tally.fail(trial, format!("half-removed files never cleaned: {kept:?}"));
            }
        }
        tally.count(
            "half-removed files seen",
            left.difference(&left_before).count() as u64,
        );
        left_before = left;
        // The killed recording is old news now: the next start may prune it.
        let long_ago = SystemTime::now() - Duration::from_hours(47);
        for p in sessions(&sessions_dir) {
            if p.to_string_lossy().contains("session-old-") {
                continue;
            }
            set_old(&p, long_ago);
            set_old(Path::new(&format!("{}-wal", p.display())), long_ago);
        }
    }
    // One last start, to the end: it works, and leaves every file sound.
    let last = sessions_dir.join("session-final.sqlite");
    let (ok, _, err) = run(
        &[
            "--drill",
            "--keep-mb",
            "1",
            "watch",
            "--for",
            "1",
            "--segment-secs",
            "0.2",
            "--record",
            last.to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    if !ok {
        tally.fail(trials(), format!("the start after the trials: {err}"));
    }
    // Pruning runs on a thread of its own; give it a moment after the last roll.
    std::thread::sleep(Duration::from_millis(300));
    for p in sessions(&sessions_dir) {
        if let Err(e) = sound(&p) {
            tally.fail(trials(), format!("{}: {e}", p.display()));
        }
    }
    let left = orphans(&sessions_dir);
    if !left.is_empty() {
        tally.fail(
            trials(),
            format!("half-removed files left after a clean start: {left:?}"),
        );
    }
    tally.finish();
}
