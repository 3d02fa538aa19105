//! The AWS paths end to end through the `switchboard` binary, on moto: an EMULATOR of
//! AWS that the rig runs (`tests/rig/lib/aws.sh`), not AWS. The credentials are an
//! engineer's own `~/.aws/credentials` profile (a temporary home here), named in the
//! configuration, never written in it.
//!
//! Route53: `status --json` shows the record read through the API (the zone found by
//! its name; target, TTL, side, the topology service); `dns-failover` moves it in one change batch followed to
//! `INSYNC`, `dns-restore` moves it back. EC2: `fence` stops a node's instance and is
//! verified `stopped`, the last-healthy guard refuses the group's last running one,
//! `unfence` starts them; a wrong secret is refused in words. Neither the secret nor
//! the key appears in any output or in the data directory (journal).
//!
//! moto keeps a journal of changes and refuses a `CREATE` equal to one it holds while
//! records exist in the zone (real Route53 does not): each run therefore writes a TTL
//! of its own. Runs when `SWITCHBOARD_RIG` names `aws`.

use std::fmt::Write as _;
use std::process::Command;

/// Route53 on the rig: moto without IAM (see `tests/rig/lib/aws.sh`).
const ROUTE53_ENDPOINT: &str = "http://127.0.0.1:5402";
/// EC2 on the rig: moto with IAM enforced.
const EC2_ENDPOINT: &str = "http://127.0.0.1:5400";

fn rig_has(component: &str) -> bool {
    std::env::var("SWITCHBOARD_RIG").is_ok_and(|v| v.split([' ', ',']).any(|c| c == component))
}

struct Seed {
    key_id: String,
    secret: String,
    zone: String,
    instances: Vec<String>,
}

fn seed() -> Seed {
    let rig = std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into());
    let path = format!("{rig}/aws/seed.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: serde_json::Value = serde_json::from_str(&text).expect("seed json");
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    Seed {
        key_id: s("key_id"),
        secret: s("secret"),
        zone: s("route53_zone"),
        instances: v["instances"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A home whose `~/.aws/credentials` has the seed's key as profile `oncall`, and as
/// profile `wrong` with a secret AWS does not accept.
fn home_for(seed: &Seed) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join(".aws")).expect("mkdir");
    std::fs::write(
        home.path().join(".aws/credentials"),
        format!(
            "[oncall]\naws_access_key_id = {id}\naws_secret_access_key = {}\n\n[wrong]\naws_access_key_id = {id}\naws_secret_access_key = not-the-secret\n",
            seed.secret,
            id = seed.key_id
        ),
    )
    .expect("credentials");
    home
}

/// The console with this home (its `~/.aws`) and no AWS variables of the machine's.
fn switchboard(home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("ETCDCTL_") {
            c.env_remove(k);
        }
    }
    c
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn a_route53_name_is_shown_failed_over_and_restored() {
    if !rig_has("aws") {
        eprintln!("skipped: the rig's moto (AWS emulator) is not running");
        return;
    }
    let seed = seed();
    let home = home_for(&seed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let ttl = 16 + nanos % 2000;
    let standby = format!("standby-{nanos}.switchboard.test");
    let cfg = home.path().join("config.toml");
    let write_cfg = |primary: &str| {
        std::fs::write(
            &cfg,
            format!(
                r#"[[environment]]
name = "rig"

[[environment.source]]
kind = "dns"
name = "public"
zone = "switchboard.test"
route53 = {{ profile = "oncall", endpoint = "{ROUTE53_ENDPOINT}" }}
[[environment.source.record]]
name = "app"
primary = "{primary}"
standby = "{standby}"
ttl_secs = {ttl}
primary_service = "edge-primary"
standby_service = "edge-standby"
"#
            ),
        )
        .expect("config");
    };
    write_cfg("primary-region.switchboard.test");
    let data = home.path().join("data");
    let status = || {
        let out = switchboard(home.path())
            .args(["--config", cfg.to_str().unwrap_or_default()])
            .args(["status", "--json", "--wait", "10"])
            .output()
            .expect("status");
        let v = json_of(&out);
        let app = v["dns"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["name"] == "app.switchboard.test"))
            .cloned()
            .unwrap_or_else(|| panic!("no app in {v}"));
        (app, out)
    };
    let (app, _) = status();
    // Where an earlier run left it is where this one starts.
    let primary = app["target"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no target: {app}"))
        .to_owned();
    write_cfg(&primary);
    let (app, _) = status();
    assert_eq!(app["side"], "primary", "{app}");
    assert_eq!(app["service"], "edge-primary", "{app}");
    assert_eq!(app["type"], "CNAME");
    assert_eq!(
        app["servers"][0]["server"],
        format!("Route53 {}", seed.zone.trim_start_matches("/hostedzone/"))
    );
    assert!(
        app["concerns"].as_array().is_some_and(Vec::is_empty),
        "{app}"
    );

    let mut outputs = String::new();
    let run = |kind: &str, outputs: &mut String| {
        let out = switchboard(home.path())
            .args(["--config", cfg.to_str().unwrap_or_default()])
            .args(["--data-dir", data.to_str().unwrap_or_default(), "workflow"])
            .args(["run", kind, "--target", "public/app"])
            .args(["--confirm", "app.switchboard.test"])
            .output()
            .expect("run");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{kind}: {text}");
        assert!(text.contains(": done"), "{kind}: {text}");
        assert!(text.contains("INSYNC after"), "{kind}: {text}");
        assert!(text.contains("clients follow within"), "{kind}: {text}");
        for line in text
            .lines()
            .filter(|l| l.contains("INSYNC after") || l.starts_with("run #"))
        {
            eprintln!("aws (moto, an emulator): {kind}: {line}");
        }
        outputs.push_str(&text);
    };
    run("dns-failover", &mut outputs);
    let (app, _) = status();
    assert_eq!(app["side"], "standby", "{app}");
    assert_eq!(app["target"][0], standby.as_str());
    assert_eq!(app["ttl_secs"], ttl);
    assert_eq!(app["service"], "edge-standby", "{app}");
    run("dns-restore", &mut outputs);
    let (app, out) = status();
    assert_eq!(app["side"], "primary", "{app}");
    assert_eq!(app["target"][0], primary.as_str());
    outputs.push_str(&String::from_utf8_lossy(&out.stdout));

    assert!(outputs.contains("profile oncall") || outputs.contains("oncall"));
    no_secret(&seed, &outputs, &data);
}

/// Neither the secret in `outputs` nor in any file under `data`.
fn no_secret(seed: &Seed, outputs: &str, data: &std::path::Path) {
    assert!(!outputs.contains(&seed.secret), "the secret in an output");
    for entry in walk(data) {
        let bytes = std::fs::read(&entry).expect("read");
        assert!(
            !bytes
                .windows(seed.secret.len())
                .any(|w| w == seed.secret.as_bytes()),
            "the secret in {}",
            entry.display()
        );
    }
}

/// Three database nodes on the seed's three instances, one group; and a node `bad`
/// whose device's profile has a wrong secret.
fn fence_config(seed: &Seed) -> String {
    let mut cfg = String::from("[[environment]]\nname = \"rig\"\n");
    for (i, id) in seed.instances.iter().enumerate() {
        let _ = write!(
            cfg,
            "\n[[environment.fence]]\nname = \"pg{n}-ec2\"\nnode = \"pg{n}\"\ngroup = \"pg\"\nec2 = {{ instance_id = \"{id}\", region = \"eu-west-1\", profile = \"oncall\", endpoint = \"{EC2_ENDPOINT}\" }}\n",
            n = i + 1
        );
    }
    let _ = write!(
        cfg,
        "\n[[environment.fence]]\nname = \"bad-ec2\"\nnode = \"bad\"\ngroup = \"other\"\nec2 = {{ instance_id = \"{}\", region = \"eu-west-1\", profile = \"wrong\", endpoint = \"{EC2_ENDPOINT}\" }}\n",
        seed.instances[0]
    );
    cfg
}

#[test]
fn ec2_instances_are_fenced_verified_stopped_and_started_again() {
    if !rig_has("aws") {
        eprintln!("skipped: the rig's moto (AWS emulator) is not running");
        return;
    }
    let seed = seed();
    assert_eq!(seed.instances.len(), 3, "the rig seeds three instances");
    let home = home_for(&seed);
    let cfg = home.path().join("config.toml");
    std::fs::write(&cfg, fence_config(&seed)).expect("config");
    let data = home.path().join("data");
    let mut outputs = String::new();
    let mut wf = |args: &[&str]| {
        let out = switchboard(home.path())
            .args(["--config", cfg.to_str().unwrap_or_default()])
            .args(["--data-dir", data.to_str().unwrap_or_default(), "workflow"])
            .args(args)
            .output()
            .expect("run");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push_str(&text);
        (out.status.code(), text)
    };
    for n in ["pg1", "pg2"] {
        let (code, text) = wf(&["run", "fence", "--target", n, "--confirm", n]);
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains(&format!("verified: {n} is OFF")), "{text}");
        assert!(text.contains(": done"), "{text}");
        for line in text.lines().filter(|l| l.starts_with("run #")) {
            eprintln!("aws (moto, an emulator): fence {n}: {line}");
        }
    }
    // pg1 and pg2 are stopped: pg3 is the group's last one running.
    let (code, text) = wf(&["plan", "fence", "--target", "pg3"]);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("no other node of group pg is powered on"),
        "{text}"
    );
    let (_, text) = wf(&["plan", "unfence", "--target", "pg1"]);
    assert!(text.contains("(now OFF)"), "{text}");
    for n in ["pg1", "pg2"] {
        let (code, text) = wf(&["run", "unfence", "--target", n, "--confirm", n]);
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains(&format!("verified: {n} is ON")), "{text}");
    }
    let (_, text) = wf(&["plan", "fence", "--target", "bad"]);
    assert!(
        text.contains("AWS does not accept the credentials from profile wrong"),
        "{text}"
    );
    assert!(!text.contains("not-the-secret"), "{text}");
    let text = outputs.clone();
    no_secret(&seed, &text, &data);
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
