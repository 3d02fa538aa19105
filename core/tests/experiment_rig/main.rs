//! Game days on the rig's real servers, measured by the console itself: each
//! experiment is planned and run as the window and `switchboard experiment run` run it
//! (the `experiment` workflow, its guards, the lock in the rig's etcd, the journal), on
//! an engine watching the real sources, with faults through the rig's fence agent
//! (`tests/rig/fence_rig_node`: a node's power is its processes).
//!
//! `backend_lost`: a backend's node fenced behind the rig's HAProxy under live traffic;
//! `primary_crash`: the node of the Patroni primary fenced, a replica promoted;
//! `connection_leak`: sessions leaked on the primary, the Sev-0 runbook started by itself;
//! `toxic`: a latency toxic through the rig's fault proxy (its API in Toxiproxy's shape).
//!
//! The runs share the rig, so they run one at a time. Runs when `SWITCHBOARD_RIG`
//! names `haproxy` and `etcd`. `SWITCHBOARD_EXPERIMENT_RUNS` sets how many runs each
//! experiment makes (default 1; the README's figures are 5).

mod backend_lost;
#[path = "../common/mod.rs"]
mod common;
mod connection_leak;
mod helpers;
mod primary_crash;
mod toxic;
