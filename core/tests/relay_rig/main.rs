//! The relay on the rig's real servers: one engine on the rig's etcd and HAProxy,
//! served over TLS with people's client certificates, and consoles following it
//! through the link the window uses.
//!
//! `mirror`: every console's state is the relay's, fingerprint for fingerprint; a lost
//! relay turns every tile stale at once, and a new one is followed again.
//! `access`: the journal names the person whose certificate acted; a viewer (the wall)
//! and a stranger (another CA) are refused in words.
//! `notes`: a note reaches every console within a second, named by the relay; one
//! written while the relay is away is pending, then taken once.
//! `record`: notes kept in the team's PostgreSQL (the rig's TLS cluster), through a
//! cut-off and back, and served by a second relay with an empty cache.
//! `workflows`: a drain asked from a console runs on the relay, journaled under the
//! person's name; the second approver and a plan's maker hold there.
//! `load`: twenty consoles on the relay put on the rig's etcd and HAProxy what one
//! console does, read from the servers' own counters.
//!
//! Runs when `SWITCHBOARD_RIG` names `etcd` and `haproxy`; one test at a time (the
//! counters are the rig's).

mod access;
#[path = "../common/mod.rs"]
mod common;
mod helpers;
mod load;
mod mirror;
mod notes;
mod record;
mod workflows;

/// The tests share the rig's counters: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The rig these tests need is up: the turn to use it (`None`: skip).
fn rig_turn() -> Option<std::sync::MutexGuard<'static, ()>> {
    (common::rig_has("etcd") && common::rig_has("haproxy")).then(|| {
        ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    })
}
