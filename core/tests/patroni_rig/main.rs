//! Against a real 3-member Patroni cluster (Debian's Patroni 3.0.2, PostgreSQL 15) on
//! the rig's real etcd, started by `tests/rig/rig.sh`: a switchover by hand, a crashed
//! leader (its Patroni and its postmaster killed), a split brain (only the leader's
//! Patroni killed, so its postmaster keeps taking writes while a replica is promoted),
//! the DCS losing quorum (Patroni demotes the primary while `/cluster` still names a
//! leader), and a pile of idle-in-transaction sessions. Each is timed against what
//! Patroni itself says, polled every 50 ms from a side thread.
//!
//! The scenarios share one cluster, so they run one at a time. Runs when
//! `SWITCHBOARD_RIG` names `patroni`.
//!
//! One test binary; `observed`, `workflows` and `runbook` hold the scenarios by job,
//! `helpers` what they share.

#[path = "../common/mod.rs"]
mod common;
mod helpers;
mod integrity;
mod observed;
mod region;
mod runbook;
mod workflows;
