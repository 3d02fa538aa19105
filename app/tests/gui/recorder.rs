//! The recorder's state in the status bar: on a full disk (a 2 MB tmpfs as the data
//! directory, root only; skipped with a message elsewhere) the bar says the session
//! stopped recording and why, and the console goes on applying live events.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use switchboard::{Console, ConsoleOptions};
use switchboard_core::EngineOptions;

use crate::helpers::{drill, harness, wait_for};

/// A 2 MB tmpfs mounted on a new directory, unmounted on drop (a failing test too).
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    /// `None` (and why, on stderr) where this process may not mount.
    fn mount() -> Option<Self> {
        let dir = tempfile::tempdir().expect("dir");
        match Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir.path())
            .output()
        {
            Ok(o) if o.status.success() => Some(Self(dir)),
            other => {
                eprintln!("skipped: cannot mount a tmpfs here (needs root): {other:?}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status()
            .ok();
    }
}

#[test]
fn a_full_disk_shows_in_the_status_bar_and_live_state_goes_on() {
    let Some(dir) = SmallDisk::mount() else {
        return;
    };
    let mut opts = EngineOptions::new(drill(false, 20.0));
    opts.record_to = Some(dir.path().join("sessions").join("session-gui.sqlite"));
    let engine = switchboard_core::start(&opts).expect("engine");
    let mut h = harness(Console::new(engine, ConsoleOptions::default()));
    wait_for(
        &mut h,
        "recording to session-gui.sqlite",
        Duration::from_secs(10),
    );

    // Fill the disk to the last byte.
    let mut f = std::fs::File::create(dir.path().join("filler")).expect("filler");
    let chunk = vec![0u8; 16 * 1024];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    while std::io::Write::write_all(&mut f, &[0u8; 512]).is_ok() {}

    wait_for(
        &mut h,
        "NOT RECORDING: the disk is full",
        Duration::from_secs(15),
    );
    let stopped_at = h.state().engine().snapshot().events_applied;
    std::thread::sleep(Duration::from_millis(1500));
    h.run_steps(2);
    let later = h.state().engine().snapshot().events_applied;
    assert!(
        later > stopped_at,
        "live state stopped with the recorder: {stopped_at} then {later} events"
    );
    drop(h);
}
