//! The AWS calls against moto, an EMULATOR of AWS run by the rig (`moto_server` from
//! PyPI, with IAM enforced: every call must carry a valid signature of a key moto
//! issued; Route53 on a second moto without IAM, see `tests/rig/lib/aws.sh`). Not AWS:
//! moto answers as AWS's API documents, and applies a Route53 change at once. The
//! rig's seed (`$RIG/aws/seed.json`) made a hosted zone `switchboard.test` with `www`
//! and `stale` CNAMEs (TTL 15), three EC2 instances, and an access key; the tests move
//! `www` twice, are refused a move from a stale read, stop and start an instance, and
//! are refused in words with a wrong secret.
//!
//! Runs when `SWITCHBOARD_RIG` names `aws`.

mod common;

use std::time::Duration;

use common::rig_has;
use switchboard_core::sources::aws::call::Api;
use switchboard_core::sources::aws::credentials::{self, Resolved};
use switchboard_core::sources::aws::route53::{self, RecordSet};
use switchboard_core::sources::aws::{AwsRef, ec2};

/// moto's address on the rig, IAM enforced (EC2).
const ENDPOINT: &str = "http://127.0.0.1:5400";
/// A second moto without IAM, for Route53: moto's own check refuses the signature of
/// a Route53 read with a query string, boto3's as well as ours (both compute the same
/// signature), so Route53 cannot run where IAM is enforced.
const ROUTE53_ENDPOINT: &str = "http://127.0.0.1:5402";

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

/// A home with `~/.aws/credentials` holding the seed's key id and `secret` as profile
/// `rig` (as an engineer's own), and what the console finds there for `service`.
fn found(home: &std::path::Path, seed: &Seed, secret: &str, service: &str) -> Resolved {
    let endpoint = if service == "ROUTE_53" {
        ROUTE53_ENDPOINT
    } else {
        ENDPOINT
    };
    std::fs::create_dir_all(home.join(".aws")).expect("mkdir");
    std::fs::write(
        home.join(".aws/credentials"),
        format!(
            "[rig]\naws_access_key_id = {}\naws_secret_access_key = {secret}\n",
            seed.key_id
        ),
    )
    .expect("write credentials");
    let aws = AwsRef {
        profile: Some("rig".into()),
        region: Some("eu-west-1".into()),
        endpoint: Some(endpoint.into()),
    };
    credentials::resolve_with(&aws, service, &|_| None, Some(home)).expect("credentials")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The seed and an API for `service` (`ROUTE_53`, `EC2`) with the seed's key and
/// `secret` (the seed's own when `None`); `None` when the rig has no `aws`.
fn api(service: &str, secret: Option<&str>) -> Option<(Seed, Api)> {
    if !rig_has("aws") {
        return None;
    }
    let seed = seed();
    let home = tempfile::tempdir().expect("dir");
    let found = found(home.path(), &seed, secret.unwrap_or(&seed.secret), service);
    let timeout = Duration::from_secs(5);
    let api = if service == "EC2" {
        Api::ec2_as(found, timeout)
    } else {
        Api::route53_as(found, timeout)
    }
    .expect("api");
    Some((seed, api))
}

#[test]
fn a_record_moves_in_one_change_followed_to_insync() {
    let Some((seed, api)) = api("ROUTE_53", None) else {
        return;
    };
    runtime().block_on(async {
        let name = "www.switchboard.test";
        let read = route53::read(&api, &seed.zone, name, "CNAME")
            .await
            .expect("read")
            .expect("www exists");
        assert_eq!(read.ttl, 15);
        // Two moves in a row, each a compare-and-swap from the value read. To values
        // never written before: moto refuses a CREATE equal to one in its journal while
        // the record exists (before the batch's DELETE), which AWS does not.
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut from = read;
        for step in ["standby", "primary"] {
            let value = format!("{step}-{run}.switchboard.test");
            let to = RecordSet {
                values: vec![value.clone()],
                ..from.clone()
            };
            let t = std::time::Instant::now();
            let change = route53::replace(&api, &seed.zone, Some(&from), &to, "aws_rig")
                .await
                .expect("replace");
            let status = route53::change_status(&api, &change).await.expect("status");
            eprintln!(
                "aws rig: {name} -> {value}: change {change} {status} after {} ms",
                t.elapsed().as_millis()
            );
            assert!(status == "INSYNC" || status == "PENDING", "{status}");
            let now = route53::read(&api, &seed.zone, name, "CNAME")
                .await
                .expect("read again")
                .expect("www");
            assert_eq!(now.values, [value]);
            from = now;
        }
    });
}

/// A move planned from a read that is no longer true (someone changed the record
/// since) is refused by Route53 and changes nothing (on the record `stale`).
#[test]
fn a_move_from_a_stale_read_is_refused_and_changes_nothing() {
    let Some((seed, api)) = api("ROUTE_53", None) else {
        return;
    };
    runtime().block_on(async {
        let name = "stale.switchboard.test";
        let before = route53::read(&api, &seed.zone, name, "CNAME")
            .await
            .expect("read")
            .expect("stale exists");
        let planned = RecordSet {
            values: vec!["elsewhere.switchboard.test".to_owned()],
            ..before.clone()
        };
        let to = RecordSet {
            values: vec!["standby-region.switchboard.test".to_owned()],
            ..before.clone()
        };
        let e = route53::replace(&api, &seed.zone, Some(&planned), &to, "aws_rig")
            .await
            .expect_err("the record is not what the plan read");
        eprintln!("aws rig: a change from a stale read: {e}");
        // AWS says InvalidChangeBatch (the values do not match); moto InvalidInput.
        assert!(
            e.contains("AWS refused (InvalidChangeBatch")
                || e.contains("AWS refused (InvalidInput"),
            "{e}"
        );
        let after = route53::read(&api, &seed.zone, name, "CNAME")
            .await
            .expect("read again");
        assert_eq!(after.as_ref(), Some(&before), "nothing was overwritten");
    });
}

#[test]
fn an_instance_stops_and_starts() {
    let Some((seed, api)) = api("EC2", None) else {
        return;
    };
    let id = seed.instances.last().expect("an instance").clone();
    runtime().block_on(async {
        let state = |s: Vec<ec2::InstanceState>| s.into_iter().next().expect("one").state;
        ec2::stop(&api, &id, true).await.expect("stop");
        let s = state(ec2::describe(&api, &[&id]).await.expect("describe"));
        assert!(s == "stopped" || s == "stopping", "{s}");
        ec2::start(&api, &id).await.expect("start");
        let s = state(ec2::describe(&api, &[&id]).await.expect("describe"));
        assert!(s == "running" || s == "pending", "{s}");
    });
}

#[test]
fn a_wrong_secret_is_refused_in_words() {
    let Some((seed, api)) = api("EC2", Some("not-the-secret")) else {
        return;
    };
    let e = runtime()
        .block_on(ec2::describe(&api, &[&seed.instances[0]]))
        .expect_err("refused");
    eprintln!("aws rig: wrong secret: {e}");
    assert!(
        e.contains("AWS does not accept the credentials from profile rig"),
        "{e}"
    );
    assert!(!e.contains("not-the-secret"), "the secret is never said");
}
