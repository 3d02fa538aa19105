//! A Patroni switchover whose REST API goes silent once the POST was answered.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use switchboard_core::sources::patroni::{PatroniConfig, parse_cluster};
use switchboard_core::workflow::{self, Kind};
use switchboard_core::{Environment, SourceConfig};

use crate::common::{self, rig_has};
use crate::{on_row, phases};

/// The members' REST ports.
const REST: [&str; 3] = ["8001", "8002", "8003"];

fn fault(args: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/faults/fault.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("run fault.sh");
    assert!(
        out.status.success(),
        "fault.sh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Cuts this process's connections to `ports` (packets sent by root's sockets: the
/// console's and this test's), leaving Patroni's own (user `postgres`) alone: a
/// partition between the console and the REST API, not between the members. In
/// `fault.sh`'s table, so its `clear` lifts it.
fn cut_from_console(ports: &[&str]) {
    let rules = format!(
        "add table inet switchboard_faults\n\
         add chain inet switchboard_faults out {{ type filter hook output priority 0; policy accept; }}\n\
         add rule inet switchboard_faults out meta skuid 0 tcp dport {{ {} }} drop\n",
        ports.join(", ")
    );
    let mut nft = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nft");
    std::io::Write::write_all(nft.stdin.as_mut().expect("stdin"), rules.as_bytes()).expect("rules");
    assert!(nft.wait().expect("nft").success(), "nft refused: {rules}");
}

/// Clears every fault when dropped, so a failed scenario leaves the network whole.
struct Lifted;

impl Drop for Lifted {
    fn drop(&mut self) {
        fault(&["clear"]);
    }
}

/// The rig's cluster as source `pg`, its members asked through their own REST API only
/// (no `dsn_env`), its DCS the rig's etcd (which also holds the run's lock).
fn env() -> Environment {
    Environment::new(
        "faults",
        vec![
            SourceConfig::Patroni(PatroniConfig {
                name: "pg".into(),
                endpoints: REST
                    .iter()
                    .map(|p| format!("http://127.0.0.1:{p}"))
                    .collect(),
                cluster: None,
                interval_millis: 250,
                timeout_millis: 1000,
                dsn_env: None,
                dcs: Some("etcd".into()),
                patroni_yml: None,
                tls: None,
                auth: None,
                proxy: switchboard_core::sources::ProxySetting::default(),
                max_answer_bytes: None,
            }),
            common::rig_etcd(),
        ],
    )
}

/// A member's REST port, from its name (`/cluster`'s `api_url`).
fn port_of(name: &str) -> Option<String> {
    REST.iter().find_map(|p| {
        let c = parse_cluster(&common::curl(&format!("http://127.0.0.1:{p}/cluster"))).ok()?;
        let m = c.members.into_iter().find(|m| m.name == name)?;
        let url = m.api_url?;
        let port = url
            .rsplit(':')
            .next()?
            .trim_end_matches("/patroni")
            .to_owned();
        Some(port)
    })
}

/// The leader's name and a streaming replica's, once the cluster has both.
fn leader_and_replica(within: Duration) -> Option<(String, String)> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        for p in REST {
            let Ok(c) = parse_cluster(&common::curl(&format!("http://127.0.0.1:{p}/cluster")))
            else {
                continue;
            };
            let leader = c.members.iter().find(|m| m.role == "leader");
            let replica = c.members.iter().find(|m| {
                m.role == "replica"
                    && (m.state == "running" || m.state == "streaming")
                    && m.lag_bytes.is_some_and(|l| l < 1 << 20)
            });
            if let (Some(l), Some(r)) = (leader, replica)
                && c.members.len() == 3
            {
                return Some((l.name.clone(), r.name.clone()));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

#[test]
fn a_switchover_whose_api_goes_silent_after_the_post_is_handed_to_a_human() {
    if !(rig_has("patroni") && rig_has("etcd")) {
        eprintln!("skipped: needs the rig's patroni and etcd");
        return;
    }
    if Command::new("nft").arg("--version").output().is_err() {
        eprintln!("skipped: no nft here (tests/faults/fault.sh install)");
        return;
    }
    let _lifted = Lifted;
    fault(&["clear"]);
    let (leader, candidate) =
        leader_and_replica(Duration::from_mins(1)).expect("the rig's cluster settles");
    let env = env();
    let (_dir, journal) = common::journal();
    let ctx = common::workflow_ctx(&env, &journal);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let plan = rt
        .block_on(workflow::plan(
            &ctx,
            Kind::Switchover,
            &format!("pg/{candidate}"),
        ))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    // The leader's REST API answers the POST; the others' are cut from the console as
    // the run begins (after its fresh read), the leader's once its answer is journaled.
    // Verification, which asks each member's own role, can then never see the
    // candidate take writes, whichever of its first reads beats the second cut.
    let leader_port = port_of(&leader).expect("the leader's port");
    let others: Vec<&str> = REST.iter().copied().filter(|p| *p != leader_port).collect();
    let (stop_before, before) = on_row(
        ctx.control.clone(),
        "before",
        Duration::from_secs(90),
        move || cut_from_console(&others),
    );
    let (stop, watcher) = on_row(
        ctx.control.clone(),
        "after",
        Duration::from_secs(90),
        move || cut_from_console(&[leader_port.as_str()]),
    );
    let t0 = Instant::now();
    let report = rt
        .block_on(workflow::run(&ctx, &plan, &candidate, "faults-test"))
        .expect("run");
    let took = t0.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    stop_before.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        before.join().expect("watcher"),
        "the run's start was journaled"
    );
    assert!(
        watcher.join().expect("watcher"),
        "the POST's answer was journaled"
    );
    fault(&["clear"]);
    let said = report.lines.join(" | ");
    assert_eq!(report.outcome, "needs_human", "{said}");
    let rows = journal.steps(report.run).expect("steps");
    assert_eq!(
        phases(&rows),
        [
            "guards:passed",
            "before:pending",
            "after:ok",
            "verify:failed"
        ],
        "{said}"
    );
    assert!(
        rows[3].detail.contains("unknown (no answer within 2000 ms"),
        "verification says the members went silent: {}",
        rows[3].detail
    );
    assert!(said.contains("NOT verified within 60 s"), "{said}");
    // Verification's 60 s, then one round of three members a call's bound each.
    let bound = Duration::from_secs(60 + 3 * 2 + 5);
    assert!(took < bound, "the run took {took:?} (bound {bound:?})");
    // Patroni itself switched: the cluster settles with the candidate leading.
    let settled = leader_and_replica(Duration::from_mins(1));
    eprintln!(
        "workflow faults: Patroni switchover {leader} -> {candidate}, REST API silent after the POST: {} in {} ms; afterwards Patroni's leader is {:?}",
        report.outcome,
        took.as_millis(),
        settled.as_ref().map(|(l, _)| l)
    );
}
