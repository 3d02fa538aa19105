//! Guarded workflows against the rig's real HAProxy (runtime API over TCP) and its two
//! real backends: a drain under live traffic loses no request; the last-healthy guard
//! refuses to drain the only server left; the confirmation must be the target's name;
//! a read-only environment cannot start anything; three runs on one target within a
//! minute hand it to a human (dampening). Every run is in the journal.
//!
//! The scenarios share one HAProxy, so they run one at a time. Runs when
//! `SWITCHBOARD_RIG` names `haproxy`.
//!
//! One test binary; `drain`, `etcd`, `canary` and `fallback` hold the scenarios by
//! job, `helpers` what they share.

mod canary;
#[path = "../common/mod.rs"]
mod common;
mod drain;
mod etcd;
mod fallback;
mod helpers;
mod tls;
