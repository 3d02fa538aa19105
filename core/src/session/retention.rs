//! The flight recorder's retention: which old session files go.
//!
//! A console records all the time, rolling to a new segment (a file of its own) every
//! so often, so the oldest segments can be removed while it runs. [`prune`] runs when
//! the recorder starts and after every roll: it removes `session-*.sqlite` files (with
//! their `-wal` and `-shm`) older than [`Retention::max_age`], then the oldest beyond
//! [`Retention::max_bytes`]. It never removes the segment being written, nor a file
//! written to in the last [`Retention::in_use`] (another console's live segment in the
//! same data directory), and it touches no other file but what a killed console left
//! half-done: the `-wal`/`-shm` of a session already removed, and an old `.partial`
//! segment never renamed into place.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How much of the recorded past to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    /// Sessions last written longer ago than this go.
    pub max_age: Duration,
    /// Beyond this many bytes of sessions, the oldest go first.
    pub max_bytes: u64,
    /// A file written to this recently may be another console's live segment: it stays.
    pub in_use: Duration,
}

impl Retention {
    /// The last `hours` hours and at most `mb` megabytes (the console's `--keep-hours`
    /// and `--keep-mb`).
    pub fn new(hours: f64, mb: u64) -> Self {
        Self {
            max_age: Duration::from_secs_f64(hours.max(0.0) * 3600.0),
            max_bytes: mb.saturating_mul(1_000_000),
            in_use: Duration::from_mins(10),
        }
    }
}

/// Runs [`prune`] on a thread of its own (removing gigabytes can take a while, and the
/// recorder must keep up with the reducer), logging what went.
pub fn prune_in_background(dir: PathBuf, retention: Retention, current: Option<PathBuf>) {
    let spawned = std::thread::Builder::new()
        .name("switchboard-retention".into())
        .spawn(move || {
            for p in prune(&dir, retention, current.as_deref(), SystemTime::now()) {
                tracing::info!("flight recorder: {} removed (retention)", p.display());
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("flight recorder: retention not run: {e}");
    }
}

/// Removes the session files of `dir` that `retention` lets go, as of `now`, never
/// `current` (the segment being written); returns the removed paths.
///
/// Newest first, the byte budget goes to the most recent; a file that cannot be read
/// or removed is left alone.
pub fn prune(
    dir: &Path,
    retention: Retention,
    current: Option<&Path>,
    now: SystemTime,
) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(PathBuf, SystemTime, u64)> = entries
        .filter_map(Result::ok)
        .filter(|e| is_session_file(&e.path()))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            // Its WAL counts towards the budget and says when it was last written.
            let wal = std::fs::metadata(format!("{}-wal", e.path().display())).ok();
            let modified = m.modified().ok()?.max(
                wal.as_ref()
                    .and_then(|w| w.modified().ok())
                    .unwrap_or(SystemTime::UNIX_EPOCH),
            );
            let len = m.len() + wal.map_or(0, |w| w.len());
            Some((e.path(), modified, len))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.1));
    let mut total = 0u64;
    let mut gone = Vec::new();
    for (path, modified, len) in files {
        total = total.saturating_add(len);
        let age = now.duration_since(modified).unwrap_or_default();
        if current.is_some_and(|c| same_file(&path, c)) || age < retention.in_use {
            continue;
        }
        if age > retention.max_age || total > retention.max_bytes {
            if std::fs::remove_file(&path).is_err() {
                continue;
            }
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            gone.push(path);
        }
    }
    sweep_leftovers(dir, retention, now);
    gone
}

/// Removes what a console killed in the middle of a file operation left: the `-wal`
/// and `-shm` of a session file already removed (killed between a removal's
/// `unlink`s), and a `.partial` session never renamed into place (killed while
/// creating a segment) once it is older than [`Retention::in_use`]. Neither is ever
/// read again; left alone, they would pile up outside every budget.
fn sweep_leftovers(dir: &Path, retention: Retention, now: SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        let name = path.to_string_lossy();
        let orphan = name
            .strip_suffix("-wal")
            .or_else(|| name.strip_suffix("-shm"))
            .is_some_and(|main| is_session_file(Path::new(main)) && !Path::new(main).exists());
        let partial = name
            .strip_suffix(".partial")
            .or_else(|| name.strip_suffix(".partial-journal"))
            .is_some_and(|main| is_session_file(Path::new(main)))
            && std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|m| now.duration_since(m).unwrap_or_default() >= retention.in_use);
        if orphan || partial {
            std::fs::remove_file(&path).ok();
        }
    }
}

/// A session file the flight recorder names (`session-*.sqlite`), not its `-wal` or
/// `-shm` nor anything else in the directory.
pub fn is_session_file(path: &Path) -> bool {
    path.file_name()
        .map(|n| n.to_string_lossy())
        .is_some_and(|n| n.starts_with("session-") && n.ends_with(".sqlite"))
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session file of `mb` megabytes (and a WAL), last written `age_h` hours ago.
    fn make(dir: &Path, name: &str, age_h: u64, mb: usize) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, vec![0u8; mb * 1_000_000]).expect("write");
        let wal = PathBuf::from(format!("{}-wal", p.display()));
        std::fs::write(&wal, b"w").expect("wal");
        let at = SystemTime::now() - Duration::from_secs(age_h * 3600);
        for f in [&p, &wal] {
            let f = std::fs::File::options().write(true).open(f).expect("open");
            f.set_modified(at).expect("mtime");
        }
        p
    }

    #[test]
    fn old_and_over_budget_sessions_go_with_their_wal_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let current = make(dir.path(), "session-e.sqlite", 100, 1);
        let ancient = make(dir.path(), "session-a.sqlite", 100, 1);
        let old = make(dir.path(), "session-b.sqlite", 3, 2);
        let newer = make(dir.path(), "session-c.sqlite", 2, 2);
        let newest = make(dir.path(), "session-d.sqlite", 1, 2);
        std::fs::write(dir.path().join("notes.txt"), b"not a session").expect("other");
        let gone = prune(
            dir.path(),
            Retention::new(72.0, 5),
            Some(&current),
            SystemTime::now(),
        );
        assert!(
            current.exists(),
            "the segment being written stays, however old"
        );
        assert!(!ancient.exists(), "past 72 h");
        assert!(
            !Path::new(&format!("{}-wal", ancient.display())).exists(),
            "with its WAL"
        );
        assert!(!old.exists(), "the oldest beyond 5 MB");
        assert!(newer.exists() && newest.exists());
        assert!(dir.path().join("notes.txt").exists(), "other files stay");
        assert_eq!(gone.len(), 2);
    }

    #[test]
    fn a_file_written_in_the_last_minutes_stays_whatever_the_budget() {
        let dir = tempfile::tempdir().expect("tempdir");
        let current = dir.path().join("session-z.sqlite");
        let other_console = make(dir.path(), "session-x.sqlite", 0, 2);
        let old = make(dir.path(), "session-y.sqlite", 1, 2);
        let gone = prune(
            dir.path(),
            Retention::new(72.0, 1),
            Some(&current),
            SystemTime::now(),
        );
        assert!(other_console.exists(), "another console's live segment");
        assert_eq!(gone, vec![old]);
    }

    #[test]
    fn what_a_kill_left_half_done_goes_and_a_partial_being_written_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        // Killed between the unlinks of a removal: the WAL and SHM of a gone file.
        for f in ["session-a.sqlite-wal", "session-a.sqlite-shm"] {
            std::fs::write(d.join(f), b"w").expect("orphan");
        }
        // Killed while creating a segment: an old one, and one being written now.
        let old = d.join("session-b.sqlite.partial");
        std::fs::write(&old, b"p").expect("partial");
        let at = SystemTime::now() - Duration::from_hours(1);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .expect("open")
            .set_modified(at)
            .expect("mtime");
        let fresh = d.join("session-c.sqlite.partial");
        std::fs::write(&fresh, b"p").expect("partial");
        // A live session's WAL, and files that are not the recorder's.
        let live = make(d, "session-d.sqlite", 0, 0);
        std::fs::write(d.join("other.sqlite-wal"), b"w").expect("other");
        prune(
            d,
            Retention::new(72.0, 2048),
            Some(&live),
            SystemTime::now(),
        );
        let mut left: Vec<String> = std::fs::read_dir(d)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "other.sqlite-wal",
                "session-c.sqlite.partial",
                "session-d.sqlite",
                "session-d.sqlite-wal"
            ]
        );
    }

    #[test]
    fn a_missing_directory_removes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gone = prune(
            &dir.path().join("absent"),
            Retention::new(0.0, 0),
            None,
            SystemTime::now(),
        );
        assert!(gone.is_empty());
    }
}
