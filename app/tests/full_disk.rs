//! A full disk: a 2 MB tmpfs mounted as the data directory (root only; skipped with a
//! message where mounting is not allowed), filled up while the real console records a
//! session (`watch --record`) and notes are added (`notes add`).
//!
//! The console must say so in words ("the disk is full: the session stopped
//! recording... live state goes on"), keep printing live events, refuse new notes in
//! words without moving the notes database aside as corrupt, and lose nothing it had
//! acknowledged: after space is freed, a new start has every note and the recorded
//! session replays.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A tmpfs of `size` mounted on a new directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (and why, on stderr) where this process may not mount.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("dir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { dir }),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs here (needs root): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: no mount command: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the file system refuses: the disk is full.
    fn fill(&self) -> PathBuf {
        let filler = self.path().join("filler");
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 16 * 1024];
        while f.write_all(&chunk).is_ok() {}
        // The last bytes: a page at a time, until not one more fits.
        while f.write_all(&[0u8; 512]).is_ok() {}
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status()
            .ok();
    }
}

fn switchboard(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    c.env_remove("SWITCHBOARD_DATA_DIR")
        .env("RUST_LOG", "warn")
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::null());
    c
}

/// `notes add TEXT`: its exit, and what it said.
fn add_note(data: &Path, text: &str) -> (bool, String) {
    let out = switchboard(data)
        .args(["notes", "add", text])
        .output()
        .expect("notes add");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_full_disk_stops_the_recording_in_words_and_loses_nothing_acknowledged() {
    let Some(disk) = Tmpfs::mount("2m") else {
        return;
    };
    let data = disk.path();
    let session = data.join("sessions").join("session-full.sqlite");
    let mut watch = switchboard(data)
        .args([
            "--drill",
            "--drill-speed",
            "20",
            "watch",
            "--all",
            "--for",
            "60",
            "--record",
        ])
        .arg(&session)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    // Live events, counted as they are printed.
    let lines = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&lines);
    let stdout = watch.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        for _ in BufReader::new(stdout).lines().map_while(Result::ok) {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    let stderr_text = Arc::new(std::sync::Mutex::new(String::new()));
    let said = Arc::clone(&stderr_text);
    let mut stderr = watch.stderr.take().expect("stderr");
    let errs = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut s) = said.lock() {
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let start = Instant::now();
    while lines.load(Ordering::Relaxed) < 200 {
        assert!(start.elapsed() < Duration::from_secs(20), "no live events");
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut acknowledged = Vec::new();
    for k in 0..3 {
        let text = format!("before the disk filled {k}");
        let (ok, said) = add_note(data, &text);
        assert!(ok && said.contains("saved"), "{said}");
        acknowledged.push(text);
    }

    eprintln!(
        "full disk: filling at {:.1} s",
        start.elapsed().as_secs_f64()
    );
    // A session file copied without its shared memory: reading it on the full disk
    // needs a new `-shm`, which the disk refuses.
    let copy = data.join("sessions").join("session-copy.sqlite");
    std::fs::copy(&session, &copy).expect("copy");
    let filler = disk.fill();
    let filled_at = Instant::now();
    // The recorder hits the wall and says so; the events go on being printed.
    let words = "the disk is full: the session stopped recording";
    while !stderr_text.lock().expect("stderr").contains(words) {
        assert!(
            filled_at.elapsed() < Duration::from_secs(15),
            "the console did not say the disk is full: {}",
            stderr_text.lock().expect("stderr")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let said_in = filled_at.elapsed();
    let said_at = lines.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(1500));
    let live_after = lines.load(Ordering::Relaxed) - said_at;
    assert!(
        live_after > 50,
        "live state stopped with the recording: {live_after} events in 1.5 s"
    );
    assert!(
        stderr_text
            .lock()
            .expect("stderr")
            .contains("live state goes on"),
        "{}",
        stderr_text.lock().expect("stderr")
    );
    eprintln!(
        "full disk: status at {:.1} s",
        start.elapsed().as_secs_f64()
    );
    // `status` still answers on the full disk.
    let status = switchboard(data)
        .args(["--drill", "status", "--wait", "5"])
        .output()
        .expect("status");
    assert!(
        status.status.success() && String::from_utf8_lossy(&status.stdout).contains("source drill"),
        "status on a full disk: {}",
        String::from_utf8_lossy(&status.stderr)
    );

    eprintln!(
        "full disk: note while full at {:.1} s",
        start.elapsed().as_secs_f64()
    );
    // A note on the full disk is refused in words; the database is not moved aside.
    let (ok, said) = add_note(data, "while the disk is full");
    assert!(!ok, "a note was saved on a full disk: {said}");
    assert!(said.contains("the disk is full"), "{said}");
    assert!(!said.contains("corrupt"), "{said}");
    let aside: Vec<_> = std::fs::read_dir(data)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .map(|e| e.file_name())
        .collect();
    assert!(
        aside.is_empty(),
        "the notes database was moved aside: {aside:?}"
    );

    eprintln!(
        "full disk: waiting for watch at {:.1} s",
        start.elapsed().as_secs_f64()
    );
    // The operator stops it (Ctrl+C): it ends saying the recording stopped early.
    Command::new("kill")
        .args(["-INT", &watch.id().to_string()])
        .status()
        .expect("kill -INT");
    let out = watch.wait().expect("watch ends");
    reader.join().expect("reader");
    errs.join().expect("stderr");
    let stderr = stderr_text.lock().expect("stderr").clone();
    assert!(
        !out.success(),
        "watch ends saying the recording stopped early"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr
            .lines()
            .last()
            .is_some_and(|l| l.contains("the disk is full: the session stopped recording")),
        "watch's last word: {stderr}"
    );
    eprintln!(
        "full disk: said in {:.1} s after the disk filled; {live_after} live events in the 1.5 s after; console said: {}",
        said_in.as_secs_f64(),
        stderr.lines().last().unwrap_or_default()
    );

    eprintln!(
        "full disk: freeing at {:.1} s",
        start.elapsed().as_secs_f64()
    );
    // Read on the full disk, the recording is not taken for a foreign file: it replays,
    // or the disk's refusal is said.
    let info = switchboard(data)
        .args(["session", "info"])
        .arg(&copy)
        .output()
        .expect("info");
    let said = String::from_utf8_lossy(&info.stderr);
    assert!(!said.contains("not a Switchboard session"), "{said}");
    eprintln!(
        "full disk: session info on the full disk: {}",
        if info.status.success() {
            "replays"
        } else {
            said.trim()
        }
    );

    // Space freed: a new start has every acknowledged note and accepts new ones, and
    // the recording replays what it wrote.
    std::fs::remove_file(filler).expect("free");
    let list = switchboard(data)
        .args(["notes", "list", "--json"])
        .output()
        .expect("list");
    let list = String::from_utf8_lossy(&list.stdout);
    for text in &acknowledged {
        assert!(list.contains(text.as_str()), "{text:?} lost: {list}");
    }
    let (ok, said) = add_note(data, "after the space was freed");
    assert!(ok, "{said}");
    let info = switchboard(data)
        .args(["session", "info"])
        .arg(&session)
        .output()
        .expect("info");
    assert!(
        info.status.success(),
        "the recording does not replay: {}",
        String::from_utf8_lossy(&info.stderr)
    );
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("events"), "{info}");
}
