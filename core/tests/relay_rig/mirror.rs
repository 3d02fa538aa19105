//! Consoles show exactly what the relay sees, and say so when they cannot.

use std::time::Duration;

use switchboard_core::model::SourceStatus;

use crate::helpers::{RigRelay, client_of, console, pki, rig_env, serve_config, wait_connected};

/// A console's state has the relay's fingerprint whenever both have applied the same
/// events (compared only then: both move on every second).
#[test]
fn a_console_holds_the_relays_state_fingerprint_for_fingerprint() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let relay = RigRelay::start(rig_env(), &serve_config(&pki));
    relay.engine.wait_for(Duration::from_secs(15), |s| {
        s.sources.len() == 2 && s.instances.len() >= 3
    });
    let alice = console(&client_of(&relay.url(), &pki, "alice"));
    wait_connected(&alice, Duration::from_secs(15));
    let mut compared = 0;
    for _ in 0..40 {
        let theirs = relay.engine.snapshot();
        let n = theirs.events_applied;
        let ours = alice.wait_for(Duration::from_secs(3), |s| s.events_applied >= n);
        if ours.events_applied == n {
            assert_eq!(
                ours.digest(),
                theirs.digest(),
                "the console's state differs from the relay's after {n} events"
            );
            compared += 1;
            if compared == 5 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(compared >= 3, "only {compared} moments compared");
    let state = alice.snapshot();
    assert!(
        state.instances.len() >= 3,
        "HAProxy's servers, through the relay"
    );
    assert!(
        state.clusters.values().any(|c| c.members.len() == 3),
        "etcd's members"
    );
    drop(alice);
    relay.stop();
}

/// The relay stops: every source on the console turns stale at once (naming the
/// relay), the link says why; a relay on the same address is followed again.
#[test]
fn a_lost_relay_turns_every_tile_stale_and_a_new_one_is_followed() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let mut serve = serve_config(&pki);
    let relay = RigRelay::start(rig_env(), &serve);
    let addr = relay.relay.addr;
    let bob = console(&client_of(&relay.url(), &pki, "bob"));
    wait_connected(&bob, Duration::from_secs(15));
    bob.wait_for(Duration::from_secs(10), |s| {
        s.sources.values().all(|src| src.status == SourceStatus::Up)
    });

    let lost_at = std::time::Instant::now();
    relay.stop();
    let s = bob.wait_for(Duration::from_secs(10), |s| {
        s.sources
            .values()
            .all(|src| src.status == SourceStatus::Stale)
    });
    let took = lost_at.elapsed();
    for (id, src) in &s.sources {
        assert_eq!(src.status, SourceStatus::Stale, "{id}");
        assert!(
            src.detail
                .as_deref()
                .is_some_and(|d| d.contains("relay lost")),
            "{id}: {:?}",
            src.detail
        );
    }
    assert!(took < Duration::from_secs(3), "stale after {took:?}");
    let link = bob.relay_link().expect("a link");
    assert!(!link.connected);
    assert!(link.error.is_some(), "the link says why");

    // The same address again: the console follows the new relay by itself.
    serve.listen = addr.to_string();
    let again = RigRelay::start(rig_env(), &serve);
    let s = bob.wait_for(Duration::from_secs(20), |s| {
        s.sources.len() == 2 && s.sources.values().all(|src| src.status == SourceStatus::Up)
    });
    assert!(
        s.sources.values().all(|src| src.status == SourceStatus::Up),
        "{:?}",
        bob.relay_link()
    );
    println!(
        "relay lost -> every source stale on the console in {} ms",
        took.as_millis()
    );
    drop(bob);
    again.stop();
}

/// A console allowed to fall back polls the rig itself once the relay has been lost
/// for a while (its sources up again, not through any relay), and follows the relay
/// again when it is back.
#[test]
fn a_console_allowed_to_falls_back_to_polling_and_returns_to_the_relay() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let mut serve = serve_config(&pki);
    let relay = RigRelay::start(rig_env(), &serve);
    let addr = relay.relay.addr;
    let mut target = client_of(&relay.url(), &pki, "bob");
    target.fallback_direct = true;
    let bob = console(&target);
    wait_connected(&bob, Duration::from_secs(15));
    relay.stop();
    let lost = std::time::Instant::now();
    let direct = |s: &switchboard_core::State| {
        s.sources.len() == 2
            && s.sources.values().all(|src| {
                src.status == SourceStatus::Up
                    && !src.detail.as_deref().unwrap_or_default().contains("relay")
            })
    };
    let s = bob.wait_for(Duration::from_secs(30), |s| {
        direct(s) && lost.elapsed() > Duration::from_secs(1)
    });
    assert!(direct(&s), "{:?}", s.sources);
    let link = bob.relay_link().expect("link");
    assert!(link.direct && !link.connected, "{link:?}");
    println!(
        "relay lost -> polling directly after {} ms",
        lost.elapsed().as_millis()
    );

    serve.listen = addr.to_string();
    let again = RigRelay::start(rig_env(), &serve);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline
        && !bob.relay_link().is_some_and(|l| l.connected && !l.direct)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let link = bob.relay_link().expect("link");
    assert!(link.connected && !link.direct, "{link:?}");
    drop(bob);
    again.stop();
}
