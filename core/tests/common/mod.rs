//! Shared by the integration tests that use the real test rig (`tests/rig/rig.sh`).

use std::path::PathBuf;
use std::process::Command;

/// Whether the rig component `name` is up: `SWITCHBOARD_RIG` lists them ("etcd haproxy"),
/// as `tests/check.sh` sets after starting the rig.
pub fn rig_has(name: &str) -> bool {
    std::env::var("SWITCHBOARD_RIG").is_ok_and(|v| v.split([' ', ',']).any(|c| c == name))
}

/// Runs `tests/rig/rig.sh ARGS` and insists that it succeeds.
#[allow(dead_code)]
pub fn rig(args: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/rig/rig.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("run rig.sh");
    assert!(
        out.status.success(),
        "rig.sh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
