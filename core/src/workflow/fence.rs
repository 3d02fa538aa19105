//! Fencing (STONITH) through the standard fence-agent interface, and the power-on that
//! undoes it.
//!
//! Every agent of the fence-agents project (`fence_ipmilan`, `fence_redfish`,
//! `fence_aws`, `fence_dummy`...) reads its options as `key=value` lines on stdin, as
//! Pacemaker gives them, with `action=status|off|on`; `status` exits 0 for on, 2 for
//! off and 1 for a failure, every other action 0 for success. A device is configured
//! per node with its agent, its options and the environment variables that hold its
//! secrets (never written to the journal, a log or a plan):
//!
//! ```toml
//! [[environment.fence]]
//! name = "db1-bmc"
//! node = "db1"
//! level = 1
//! agent = "fence_ipmilan"
//! options = { ip = "10.0.0.11", username = "admin", lanplus = "1", cipher = "3" }
//! secret_env = { password = "DB1_BMC_PASSWORD" }
//! ```
//!
//! Fencing levels are tried in ascending order, as Pacemaker's topology: every device
//! of a level must switch the node off (two power supplies are two devices of one
//! level); when one fails, the next level is tried. A node is fenced once its power
//! status reads OFF. Fencing has no automatic rollback: powering a node back on is the
//! `unfence` workflow, a human's decision.
//!
//! A cloud instance fences through its API instead of an agent (`ec2.rs`): `off`
//! stops the instance (`force` an option), `status` describes it (`stopped` is OFF),
//! `on` starts it. Terminate is never offered.
//!
//! ```toml
//! [[environment.fence]]
//! name = "pg1-ec2"
//! node = "pg1"
//! group = "pg"
//! ec2 = { instance_id = "i-0123456789abcdef0", region = "eu-west-1", profile = "oncall" }
//! ```
//!
//! The last-healthy guard asks every other node of the same `group` for its power
//! status and refuses to fence the last one that is on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::target::{self, BoxFuture, Found, OnDrill, Reach, TargetKind};
use super::{Context, Detail, GuardResult, Kind, Offer, Plan, Report, WorkflowError};
use crate::config::Environment;
use crate::time::Timestamp;

pub use crate::config::{Ec2Fence, FenceDevice};

/// How long an EC2 instance may take to read `stopped` (or `running`): AWS's own
/// stop waits up to several minutes; a forced stop is quicker.
const EC2_VERIFY_SECS: u64 = 300;

/// A node's power, as its agents say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Power {
    /// Status exit 0.
    On,
    /// Status exit 2.
    Off,
    /// The agent failed or could not be run; why.
    Unknown(String),
}

impl Power {
    /// `ON`, `OFF` or `unknown`.
    pub const fn word(&self) -> &'static str {
        match self {
            Self::On => "ON",
            Self::Off => "OFF",
            Self::Unknown(_) => "unknown",
        }
    }
}

/// What a fence or unfence plan acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fencing {
    /// The node.
    pub node: String,
    /// Its devices, by level (ascending), as configured when planned.
    pub levels: Vec<(u32, Vec<FenceDevice>)>,
}

/// One agent call's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentResult {
    /// Exit code (`None` when killed or not started).
    pub code: Option<i32>,
    /// The agent's last words (stderr, else stdout), secrets masked, bounded.
    pub said: String,
    /// How long it took.
    pub millis: u128,
}

/// The stdin an agent reads: `action=...` then one `key=value` line per option.
/// Secrets come from `secret` (the process environment) at call time; a missing one is
/// an error.
pub fn stdin_for(
    device: &FenceDevice,
    action: &str,
    secret: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut text = format!("action={action}\n");
    for (k, v) in &device.options {
        if k == "action" {
            continue;
        }
        if v.contains('\n') {
            return Err(format!(
                "fence device {}: option {k} has a line break",
                device.name
            ));
        }
        text.push_str(k);
        text.push('=');
        text.push_str(v);
        text.push('\n');
    }
    for (k, var) in &device.secret_env {
        let v = secret(var).ok_or_else(|| {
            format!(
                "fence device {}: the environment variable {var} (its {k}) is not set",
                device.name
            )
        })?;
        text.push_str(k);
        text.push('=');
        text.push_str(v.trim_end_matches('\n'));
        text.push('\n');
    }
    Ok(text)
}

/// Replaces every secret value of `device` in `text` with `***`.
fn masked(device: &FenceDevice, text: &str, secret: impl Fn(&str) -> Option<String>) -> String {
    let mut out = text.to_owned();
    for var in device.secret_env.values() {
        if let Some(v) = secret(var)
            && !v.is_empty()
        {
            out = out.replace(&v, "***");
        }
    }
    out
}

/// The agent's last meaningful line: the error it printed, without Python noise.
fn last_words(stdout: &[u8], stderr: &[u8]) -> String {
    let pick = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .map(str::trim)
            .rfind(|l| {
                !l.is_empty() && !l.contains("DeprecationWarning") && !l.starts_with("import ")
            })
            .map(str::to_owned)
    };
    let mut s = pick(stderr).or_else(|| pick(stdout)).unwrap_or_default();
    s.truncate(300);
    s
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Runs `action` on `device`, bounded by its timeout (the agent is killed after it).
pub async fn call(device: &FenceDevice, action: &str) -> AgentResult {
    if let Some(ec2) = &device.ec2 {
        return super::ec2::call(ec2, action, Duration::from_secs(device.timeout_secs.max(1)))
            .await;
    }
    let started = Instant::now();
    let fail = |said: String| AgentResult {
        code: None,
        said,
        millis: started.elapsed().as_millis(),
    };
    let input = match stdin_for(device, action, env_var) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let child = tokio::process::Command::new(&device.agent)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot run {}: {e}", device.agent)),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // An agent that exits early closes its stdin; its exit code says why.
        let _ = stdin.write_all(input.as_bytes()).await;
    }
    let limit = Duration::from_secs(device.timeout_secs.max(1));
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Err(_) => fail(format!(
            "{} {action} did not finish within {} s; killed",
            device.agent,
            limit.as_secs()
        )),
        Ok(Err(e)) => fail(format!("{} {action}: {e}", device.agent)),
        Ok(Ok(out)) => AgentResult {
            code: out.status.code(),
            said: masked(device, &last_words(&out.stdout, &out.stderr), env_var),
            millis: started.elapsed().as_millis(),
        },
    }
}

/// The node's power as `device` reads it.
pub async fn status(device: &FenceDevice) -> Power {
    let r = call(device, "status").await;
    match r.code {
        Some(0) => Power::On,
        Some(2) => Power::Off,
        Some(c) => Power::Unknown(format!("{} status exit {c}: {}", device.name, r.said)),
        None => Power::Unknown(format!("{}: {}", device.name, r.said)),
    }
}

/// The node's power by the first device, level by level, that answers.
async fn power_of(levels: &[(u32, Vec<FenceDevice>)]) -> Power {
    let mut why = Vec::new();
    for (_, devices) in levels {
        for d in devices {
            match status(d).await {
                Power::Unknown(w) => why.push(w),
                p => return p,
            }
        }
    }
    Power::Unknown(why.join("; "))
}

fn levels_of(env: &Environment, node: &str) -> Vec<(u32, Vec<FenceDevice>)> {
    let mut by: BTreeMap<u32, Vec<FenceDevice>> = BTreeMap::new();
    for d in env.fence.iter().filter(|d| d.node == node) {
        by.entry(d.level).or_default().push(d.clone());
    }
    by.into_iter().collect()
}

/// The plan to fence (`Kind::Fence`) or power on (`Kind::Unfence`) `node`.
async fn fence_plan(ctx: &Context<'_>, kind: Kind, node: &str) -> Result<Plan, WorkflowError> {
    let levels = levels_of(ctx.environment, node);
    if levels.is_empty() {
        let mut nodes: Vec<&str> = ctx
            .environment
            .fence
            .iter()
            .map(|d| d.node.as_str())
            .collect();
        nodes.dedup();
        return Err(WorkflowError::Usage(format!(
            "no fence device for node {node:?} in environment {:?} (nodes with one: {})",
            ctx.environment.name,
            if nodes.is_empty() {
                "none".to_owned()
            } else {
                nodes.join(", ")
            }
        )));
    }
    let before = power_of(&levels).await;
    let now = ctx.clock.now();
    let mut guards = super::common_guards(ctx, node, now).await?;
    let group = levels[0].1[0].group.clone();
    if kind == Kind::Fence {
        guards.push(last_healthy(ctx.environment, node, &group).await);
    }
    let action = if kind == Kind::Fence { "off" } else { "on" };
    let want = if kind == Kind::Fence { "OFF" } else { "ON" };
    let mut steps = Vec::new();
    for (i, (level, devices)) in levels.iter().enumerate() {
        let names: Vec<String> = devices
            .iter()
            .map(|d| format!("{} ({})", d.name, d.mechanism()))
            .collect();
        steps.push(format!(
            "{}level {level}: `action={action}` on {}, then `status` until {want}",
            if i == 0 { "" } else { "if that fails, " },
            names.join(" and ")
        ));
    }
    if kind == Kind::Fence {
        steps.push("no automatic rollback: powering it on again is `unfence`".to_owned());
    }
    let before_word = match &before {
        Power::Unknown(why) => format!("unknown ({why})"),
        p => p.word().to_owned(),
    };
    Ok(Plan {
        kind,
        target: node.to_owned(),
        confirm_as: node.to_owned(),
        environment: ctx.environment.name.clone(),
        before: before_word,
        steps,
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::Node(Fencing {
            node: node.to_owned(),
            levels,
        }),
    })
}

/// Refuses to fence the last node of `group` whose power is on.
async fn last_healthy(env: &Environment, node: &str, group: &str) -> GuardResult {
    let mut peers: Vec<&str> = env
        .fence
        .iter()
        .filter(|d| d.group == group && d.node != node)
        .map(|d| d.node.as_str())
        .collect();
    peers.sort_unstable();
    peers.dedup();
    let answers = futures_util::future::join_all(peers.iter().map(|p| power_of_node(env, p))).await;
    let on: Vec<&str> = peers
        .iter()
        .zip(&answers)
        .filter(|(_, p)| **p == Power::On)
        .map(|(n, _)| *n)
        .collect();
    let unknown = answers
        .iter()
        .filter(|p| matches!(p, Power::Unknown(_)))
        .count();
    GuardResult {
        name: "last healthy",
        ok: !on.is_empty(),
        reason: if on.is_empty() {
            format!(
                "no other node of group {group} is powered on ({} peer(s){}): {node} may be the last one serving",
                peers.len(),
                if unknown > 0 {
                    format!(", {unknown} not answering")
                } else {
                    String::new()
                }
            )
        } else {
            format!(
                "{} other node(s) of group {group} are on: {}",
                on.len(),
                on.join(", ")
            )
        },
    }
}

async fn power_of_node(env: &Environment, node: &str) -> Power {
    power_of(&levels_of(env, node)).await
}

/// The run of a plan whose checks passed, under the target's lock (taken by the caller).
pub(super) async fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    f: &Fencing,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let journaled = super::Journaled::start(ctx, plan, operator, confirmed)?;
    let (action, want) = if plan.kind == Kind::Fence {
        ("off", Power::Off)
    } else {
        ("on", Power::On)
    };
    let mut lines = Vec::new();
    for (level, devices) in &f.levels {
        let mut level_ok = true;
        for d in devices {
            let what = format!("level {level}: {} action={action}", d.name);
            if let Some(r) = journaled.checkpoint(&what, &mut lines)? {
                return Ok(r);
            }
            journaled.step("before", &what, "pending", &d.mechanism())?;
            let r = call(d, action).await;
            let ok = r.code == Some(0);
            let code = r.code.map_or_else(|| "none".to_owned(), |c| c.to_string());
            let said = if r.said.is_empty() {
                format!("exit {code} in {} ms", r.millis)
            } else {
                format!("exit {code} in {} ms: {}", r.millis, r.said)
            };
            journaled.step("after", &what, if ok { "ok" } else { "failed" }, &said)?;
            lines.push(format!("{what}: {said}"));
            if !ok {
                level_ok = false;
                break;
            }
        }
        if !level_ok {
            lines.push(format!("level {level} failed; trying the next level"));
            continue;
        }
        // Verify: every device of the level reads the wanted power (a few tries: some
        // BMCs report the old state for a moment; a cloud instance takes a minute or two
        // to stop).
        let verify_secs = devices
            .iter()
            .map(|d| if d.ec2.is_some() { EC2_VERIFY_SECS } else { 20 })
            .max()
            .unwrap_or(20);
        let deadline = Instant::now() + Duration::from_secs(verify_secs);
        let mut seen = Power::Unknown(String::new());
        let mut all = false;
        while Instant::now() < deadline {
            let mut now_all = true;
            for d in devices {
                seen = status(d).await;
                if seen != want {
                    now_all = false;
                    break;
                }
            }
            if now_all {
                all = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let what = format!("level {level}: status reads {}", want.word());
        let seen_word = match &seen {
            Power::Unknown(w) => format!("unknown: {w}"),
            p => p.word().to_owned(),
        };
        journaled.step(
            "verify",
            &what,
            if all { "ok" } else { "failed" },
            &seen_word,
        )?;
        if all {
            let at = ctx.clock.now();
            lines.push(format!("verified: {} is {}", f.node, want.word()));
            journaled.finish("done")?;
            return Ok(Report {
                run: journaled.id,
                outcome: "done".into(),
                effect_millis: Some(at.millis_since(confirmed)),
                lines,
            });
        }
        lines.push(format!(
            "level {level}: {} still reads {seen_word}; trying the next level",
            f.node
        ));
    }
    journaled.finish("needs_human")?;
    lines.push(format!(
        "EVERY LEVEL FAILED: {} is not verified {}; a human must fence it (or check it is off) before anything takes over its role",
        f.node,
        want.word()
    ));
    Ok(Report {
        run: journaled.id,
        outcome: "needs_human".into(),
        effect_millis: None,
        lines,
    })
}

/// The node target kind: a node named by its fence devices.
pub struct NodeTarget;

impl TargetKind for NodeTarget {
    const NAME: &'static str = "node with fence devices";
    const SYNTAX: &'static str = "node";
    const KINDS: &'static [Kind] = &[Kind::Fence, Kind::Unfence];
    const DRILL: OnDrill = OnDrill::Practised;
    type Detail = Fencing;

    fn owns(env: &Environment, target: &str) -> bool {
        env.fence.iter().any(|d| d.node == target)
    }

    fn plan<'a>(
        ctx: &'a Context<'_>,
        kind: Kind,
        target: &'a str,
    ) -> BoxFuture<'a, Result<Plan, WorkflowError>> {
        Box::pin(fence_plan(ctx, kind, target))
    }

    fn run<'a>(
        ctx: &'a Context<'_>,
        plan: &'a Plan,
        detail: &'a Fencing,
        confirmed: Timestamp,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<Report, WorkflowError>> {
        target::under_lock(
            ctx,
            plan,
            operator,
            execute(ctx, plan, detail, confirmed, operator),
        )
    }

    fn inverse(kind: Kind, _before: &str) -> Result<Kind, String> {
        target::opposite(kind, [Kind::Fence, Kind::Unfence], "node")
    }

    fn offers<'a>(at: &'a Reach<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let mut nodes: Vec<&str> = at
                .environment
                .fence
                .iter()
                .map(|d| d.node.as_str())
                .collect();
            nodes.sort_unstable();
            nodes.dedup();
            let mut found = Found::default();
            for n in nodes {
                for kind in [Kind::Fence, Kind::Unfence] {
                    found.0.push(Offer {
                        kind,
                        target: n.to_owned(),
                        label: format!(
                            "{} node {n} ({})",
                            kind.as_str(),
                            if kind == Kind::Fence {
                                "power off through its fence devices"
                            } else {
                                "power on"
                            }
                        ),
                        instance: None,
                    });
                }
            }
            found
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> FenceDevice {
        FenceDevice {
            name: "db1-bmc".into(),
            node: "db1".into(),
            group: "default".to_owned(),
            level: 1,
            agent: "fence_ipmilan".into(),
            ec2: None,
            options: BTreeMap::from([
                ("ip".to_owned(), "10.0.0.11".to_owned()),
                ("action".to_owned(), "reboot".to_owned()),
            ]),
            secret_env: BTreeMap::from([(
                "password".to_owned(),
                "SWITCHBOARD_TEST_FENCE_PW".to_owned(),
            )]),
            timeout_secs: 5,
        }
    }

    #[test]
    fn stdin_has_the_action_the_options_and_the_secret_from_the_environment() {
        let d = device();
        let err = stdin_for(&d, "status", |_| None).expect_err("unset secret");
        assert!(err.contains("SWITCHBOARD_TEST_FENCE_PW"), "{err}");
        let env = |v: &str| (v == "SWITCHBOARD_TEST_FENCE_PW").then(|| "hunter2".to_owned());
        let text = stdin_for(&d, "off", env).expect("stdin");
        assert_eq!(text, "action=off\nip=10.0.0.11\npassword=hunter2\n");
        assert_eq!(
            masked(&d, "Failed: login hunter2 refused", env),
            "Failed: login *** refused"
        );
    }

    #[test]
    fn last_words_skip_python_noise() {
        let err = b"/usr/sbin/fence_dummy:3: DeprecationWarning: 'pipes' is deprecated\n  import pipes\n2026 ERROR: Unable to obtain correct plug status\n\n";
        assert_eq!(
            last_words(b"", err),
            "2026 ERROR: Unable to obtain correct plug status"
        );
        assert_eq!(last_words(b"Status: ON\n", b""), "Status: ON");
    }

    #[tokio::test]
    async fn an_agent_that_is_not_there_is_a_clear_failure() {
        let mut d = device();
        d.agent = "/nonexistent/fence_nothing".into();
        d.secret_env.clear();
        let p = status(&d).await;
        assert!(
            matches!(&p, Power::Unknown(w) if w.contains("cannot run /nonexistent/fence_nothing")),
            "{p:?}"
        );
    }
}
