//! Who acts through a relay is named, and who may not act is told so.

use std::time::Duration;

use switchboard_core::Intent;
use switchboard_core::protocol::pb;

use crate::helpers::{RigRelay, client_of, console, pki, rig_env, serve_config, wait_connected};

/// alice's acknowledgement is recorded by the relay under her certificate's name and
/// reaches bob's console; the wall's console is read-only, and the relay refuses the
/// wall's request even when asked directly.
#[test]
fn the_person_behind_the_certificate_is_named_and_a_viewer_is_refused() {
    let Some(_turn) = crate::rig_turn() else {
        return;
    };
    let pki = pki();
    let relay = RigRelay::start(rig_env(), &serve_config(&pki));
    let alice = console(&client_of(&relay.url(), &pki, "alice"));
    let bob = console(&client_of(&relay.url(), &pki, "bob"));
    let wall = console(&client_of(&relay.url(), &pki, "wall"));
    for c in [&alice, &bob, &wall] {
        wait_connected(c, Duration::from_secs(15));
    }
    let link = alice.relay_link().expect("link");
    assert_eq!(link.person.as_deref(), Some("alice"));

    alice
        .send(Intent::AckIncident { incident: 4242 })
        .expect("alice is an operator");
    let said = |s: &switchboard_core::State| {
        s.log
            .iter()
            .any(|e| e.subject == "incident #4242" && e.message == "acknowledged by alice")
    };
    assert!(
        said(&bob.wait_for(Duration::from_secs(5), said)),
        "bob sees alice's ack"
    );
    assert!(said(&relay.engine.snapshot()), "the relay recorded it");

    let err = wall
        .send(Intent::AckIncident { incident: 4243 })
        .expect_err("the wall is a viewer");
    assert!(err.to_string().contains("wall is a viewer"), "{err}");

    // The relay itself refuses, whatever a console believes.
    let target = client_of(&relay.url(), &pki, "wall");
    let refused = relay
        .engine
        .block_on(async move {
            let mut c = switchboard_core::protocol::connect(&target)
                .await
                .expect("connect");
            c.act(pb::ActRequest {
                intent: serde_json::to_string(&Intent::AckIncident { incident: 4244 })
                    .expect("json"),
            })
            .await
            .expect_err("refused")
        })
        .expect("runtime");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(
        refused.message().contains("wall is a viewer"),
        "{}",
        refused.message()
    );

    // A certificate from another CA never gets a session.
    let mut stranger = client_of(&relay.url(), &pki, "alice");
    if let Some(t) = stranger.tls.as_mut() {
        t.cert_file = Some(pki.join("other-ca.pem").display().to_string());
        t.key_file = Some(pki.join("other-ca-key.pem").display().to_string());
    }
    let failed = relay.engine.block_on(async move {
        match switchboard_core::protocol::connect(&stranger).await {
            Err(e) => e,
            Ok(mut c) => c
                .hello(pb::HelloRequest {})
                .await
                .map_or_else(|s| s.to_string(), |_| String::new()),
        }
    });
    assert!(
        !failed.expect("runtime").is_empty(),
        "a stranger was admitted"
    );
    for c in [alice, bob, wall] {
        drop(c);
    }
    relay.stop();
}
