//! Each source's connection security on screen: an INSECURE source and a certificate
//! that expires in days are marked beside the source in the status bar, and are wall
//! banners, in a replay of a recorded session as in live use (the replay's clock ages
//! the certificates).

use std::time::Duration;

use egui_kittest::kittest::Queryable as _;
use switchboard::{Console, ConsoleOptions};
use switchboard_core::model::{SourceId, SourceKind, SourceStatus, TlsMode, Transport};
use switchboard_core::session::{Recorder, SessionMeta};
use switchboard_core::{Event, EventBody, Timestamp, player};

use crate::helpers::{harness, has, wait_for};

const DAY_MILLIS: i64 = 86_400_000;

/// A recording of two sources: one INSECURE, one whose server certificate expires two
/// days after the recording.
fn recording(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("tls.sqlite");
    let t0 = Timestamp(1_800_000_000_000);
    let meta = SessionMeta {
        app_version: "test".into(),
        environment: "prod".into(),
        drill: false,
        config: String::new(),
        started_at: t0,
        focus: None,
        recording: "r".into(),
        segment: 0,
    };
    let up = |src: &str, kind: SourceKind| {
        Event::new(
            t0,
            SourceId::from(src),
            EventBody::SourceStatus {
                source_kind: kind,
                status: SourceStatus::Up,
                detail: None,
                drill: false,
            },
        )
    };
    let mut expiring = Transport::new(TlsMode::Verified);
    expiring.server_cert_not_after = Some(t0.plus_millis(2 * DAY_MILLIS + 3_600_000));
    expiring.server_cert_subject = Some("CN=etcd.prod at https://10.0.0.7:2379".into());
    let events = [
        up("metrics", SourceKind::Prometheus),
        up("etcd-prod", SourceKind::Etcd),
        Event::new(
            t0.plus_millis(10),
            SourceId::from("metrics"),
            EventBody::SourceTransport {
                transport: Transport::new(TlsMode::Insecure),
            },
        ),
        Event::new(
            t0.plus_millis(20),
            SourceId::from("etcd-prod"),
            EventBody::SourceTransport {
                transport: expiring,
            },
        ),
    ];
    let mut rec = Recorder::create(&path, &meta).expect("create");
    rec.append(&events).expect("append");
    drop(rec);
    path
}

pub(crate) fn replay(path: &std::path::Path, wall: bool) -> Console {
    let (engine, player) = player::open(path, None).expect("open");
    Console::new(
        engine,
        ConsoleOptions {
            wall,
            layout: wall.then(|| "wall".into()),
            ..ConsoleOptions::default()
        },
    )
    .with_player(player)
}

#[test]
fn an_insecure_source_and_an_expiring_certificate_are_marked_beside_the_source() {
    let dir = tempfile::tempdir().expect("dir");
    let path = recording(dir.path());
    let mut h = harness(replay(&path, false));
    h.get_by_label("End").click();
    wait_for(&mut h, "INSECURE", Duration::from_secs(10));
    assert!(has(&h, "INSECURE"), "the insecure source is marked");
    assert!(has(&h, "cert 2 d"), "the expiring certificate is marked");
}

#[test]
fn on_the_wall_insecure_and_expiring_are_banners() {
    let dir = tempfile::tempdir().expect("dir");
    let path = recording(dir.path());
    let mut h = harness(replay(&path, true));
    if let Some(end) = h.query_by_label("End") {
        end.click();
    }
    wait_for(&mut h, "CERTIFICATE EXPIRING", Duration::from_secs(10));
    assert!(
        has(&h, "CERTIFICATE EXPIRING"),
        "a banner for the certificate"
    );
    assert!(
        has(&h, "etcd-prod: the server certificate expires in 2 days"),
        "naming the source and the days"
    );
    assert!(has(&h, "https://10.0.0.7:2379"), "and the endpoint");
    assert!(
        has(&h, "metrics: INSECURE"),
        "and a banner for the insecure source"
    );
}
