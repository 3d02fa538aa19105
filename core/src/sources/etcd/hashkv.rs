//! Do the members hold the same data? Every `hashkv_interval_millis` the source asks
//! each member for its revision, takes the lowest (every member has applied it), and
//! asks each for `HashKV` at that one revision: a hash of its key space up to there.
//! Members that answer but hash differently diverged (a data directory restored from an
//! older backup, a disk that lied): the finding `etcd hashkv` on the cluster fails and
//! names them. Members whose revision stands apart are shown in the finding's words.
//!
//! Hashes compare only between members compacted at the same revision (a hash covers
//! what compaction left). `HashKV` reads the member's whole key space, so it is bounded
//! by its own, longer, timeout and asked of the members at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use tokio::sync::watch;

use super::Membership;
use crate::model::IntegrityFinding;
use crate::sources::Emitter;

/// The check's name in findings.
pub const CHECK: &str = "etcd hashkv";

/// Bound on one member's `HashKV`: it reads the whole key space (seconds on a large one).
const HASH_TIMEOUT: Duration = Duration::from_secs(10);

/// What one member said in one round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sample {
    /// The member's name (or its endpoint when the membership is not known).
    pub member: String,
    /// Its current revision, when it answered.
    pub revision: Option<i64>,
    /// Its hash at the round's revision and the revision it is compacted at.
    pub hash: Option<(u32, i64)>,
}

/// The finding of one round at `revision`, or `None` when fewer than two members
/// hashed (nothing to compare: the last finding stands).
pub(crate) fn judge(cluster: &str, revision: i64, samples: &[Sample]) -> Option<IntegrityFinding> {
    let hashed: Vec<(&str, u32, i64)> = samples
        .iter()
        .filter_map(|s| s.hash.map(|(h, c)| (s.member.as_str(), h, c)))
        .collect();
    if hashed.len() < 2 {
        return None;
    }
    // The compaction most members share; the others' hashes cover other data.
    let mut by_compact: BTreeMap<i64, usize> = BTreeMap::new();
    for (_, _, c) in &hashed {
        *by_compact.entry(*c).or_default() += 1;
    }
    let compact = by_compact
        .iter()
        .max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c)))
        .map(|(c, _)| *c)
        .unwrap_or_default();
    let comparable: Vec<(&str, u32)> = hashed
        .iter()
        .filter(|(_, _, c)| *c == compact)
        .map(|(m, h, _)| (*m, *h))
        .collect();
    let mut groups: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for (m, h) in &comparable {
        groups.entry(*h).or_default().push(m);
    }
    let largest = groups.values().map(Vec::len).max().unwrap_or(0);
    let majority = (largest * 2 > comparable.len())
        .then(|| groups.values().find(|g| g.len() == largest))
        .flatten();
    let verdict = match (groups.len(), majority) {
        (1, _) => format!("{} members agree at revision {revision}", comparable.len()),
        (_, Some(agree)) => {
            let differ: Vec<&str> = comparable
                .iter()
                .filter(|(m, _)| !agree.contains(m))
                .map(|(m, _)| *m)
                .collect();
            format!(
                "{} {} from {} at revision {revision}",
                differ.join(", "),
                if differ.len() == 1 {
                    "differs"
                } else {
                    "differ"
                },
                agree.join(", ")
            )
        }
        (_, None) => {
            let each: Vec<String> = comparable
                .iter()
                .map(|(m, h)| format!("{m} {h:x}"))
                .collect();
            format!(
                "members disagree at revision {revision} with no majority: {}",
                each.join(", ")
            )
        }
    };
    let apart: Vec<&str> = hashed
        .iter()
        .filter(|(_, _, c)| *c != compact)
        .map(|(m, _, _)| *m)
        .collect();
    let mut words = vec![verdict];
    if !apart.is_empty() {
        words.push(format!(
            "{} compacted elsewhere, not compared",
            apart.join(", ")
        ));
    }
    // Revisions apart: one behind is catching up (or lost writes), one ahead applied
    // writes its peers never saw.
    let revisions: Vec<(&str, i64)> = samples
        .iter()
        .filter_map(|s| s.revision.map(|r| (s.member.as_str(), r)))
        .collect();
    if revisions.iter().any(|(_, r)| *r != revisions[0].1) {
        let each: Vec<String> = revisions.iter().map(|(m, r)| format!("{m} {r}")).collect();
        words.push(format!("revisions {}", each.join(", ")));
    }
    let silent: Vec<&str> = samples
        .iter()
        .filter(|s| s.hash.is_none())
        .map(|s| s.member.as_str())
        .collect();
    if !silent.is_empty() {
        words.push(format!("no hash from {}", silent.join(", ")));
    }
    Some(IntegrityFinding {
        check: CHECK.to_owned(),
        subject: cluster.to_owned(),
        ok: groups.len() == 1,
        detail: words.join("; "),
    })
}

/// The member's name and current revision through `client`.
async fn revision(
    client: &mut Client,
    names: &Membership,
    endpoint: &str,
) -> Option<(String, i64)> {
    let status = tokio::time::timeout(Duration::from_secs(2), client.status())
        .await
        .ok()?
        .ok()?;
    let header = status.header()?;
    let name = names
        .by_id
        .get(&header.member_id())
        .map_or_else(|| endpoint.to_owned(), ToString::to_string);
    Some((name, header.revision()))
}

/// Runs rounds every `every` until the engine stops.
pub(crate) async fn run(
    cluster: String,
    endpoints: Vec<String>,
    opts: ConnectOptions,
    every: Duration,
    members: watch::Receiver<Arc<Membership>>,
    emitter: Emitter,
) {
    // A first round soon, once the membership has had a moment to name the members.
    tokio::time::sleep(every.min(Duration::from_secs(2))).await;
    let mut said: Option<IntegrityFinding> = None;
    loop {
        let names = members.borrow().clone();
        let mut clients = Vec::new();
        let mut samples = Vec::new();
        for ep in &endpoints {
            let connected = tokio::time::timeout(
                Duration::from_secs(2),
                Client::connect([ep], Some(opts.clone())),
            )
            .await;
            let mut sample = Sample {
                member: names
                    .by_endpoint
                    .get(ep)
                    .map_or_else(|| ep.clone(), ToString::to_string),
                revision: None,
                hash: None,
            };
            if let Ok(Ok(mut c)) = connected
                && let Some((name, rev)) = revision(&mut c, &names, ep).await
            {
                sample.member = name;
                sample.revision = Some(rev);
                clients.push((samples.len(), c));
            }
            samples.push(sample);
        }
        let at = samples.iter().filter_map(|s| s.revision).min();
        if let Some(at) = at {
            let mut asks = tokio::task::JoinSet::new();
            for (i, mut c) in clients {
                asks.spawn(async move {
                    let r = tokio::time::timeout(HASH_TIMEOUT, c.hash_kv(at)).await;
                    (i, r.ok().and_then(Result::ok))
                });
            }
            while let Some(Ok((i, resp))) = asks.join_next().await {
                samples[i].hash = resp.map(|r| (r.hash(), r.compact_version()));
            }
            if let Some(finding) = judge(&cluster, at, &samples)
                && said.as_ref() != Some(&finding)
            {
                if !emitter
                    .emit(crate::event::EventBody::Integrity {
                        finding: finding.clone(),
                    })
                    .await
                {
                    return;
                }
                said = Some(finding);
            }
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(member: &str, revision: i64, hash: Option<u32>) -> Sample {
        Sample {
            member: member.into(),
            revision: Some(revision),
            hash: hash.map(|h| (h, 0)),
        }
    }

    #[test]
    fn agreeing_members_hold() {
        let f = judge(
            "cp",
            111,
            &[
                s("m1", 111, Some(7)),
                s("m2", 111, Some(7)),
                s("m3", 111, Some(7)),
            ],
        )
        .expect("a finding");
        assert!(f.ok);
        assert_eq!(f.detail, "3 members agree at revision 111");
        assert_eq!(f.key(), "etcd hashkv: cp");
    }

    #[test]
    fn the_odd_member_is_named_with_the_revisions() {
        let f = judge(
            "cp",
            111,
            &[
                s("m1", 111, Some(7)),
                s("m2", 111, Some(7)),
                s("m3", 161, Some(9)),
            ],
        )
        .expect("a finding");
        assert!(!f.ok);
        assert_eq!(
            f.detail,
            "m3 differs from m1, m2 at revision 111; revisions m1 111, m2 111, m3 161"
        );
    }

    #[test]
    fn two_that_disagree_name_no_majority_and_a_silent_member_is_said() {
        let f = judge(
            "cp",
            5,
            &[
                s("m1", 5, Some(0xa)),
                s("m2", 5, Some(0xb)),
                s("m3", 5, None),
            ],
        )
        .expect("a finding");
        assert!(!f.ok);
        assert_eq!(
            f.detail,
            "members disagree at revision 5 with no majority: m1 a, m2 b; no hash from m3"
        );
    }

    #[test]
    fn other_compactions_are_not_compared_and_one_hash_is_no_finding() {
        let mut odd = s("m3", 9, Some(1));
        odd.hash = Some((1, 4));
        let f =
            judge("cp", 9, &[s("m1", 9, Some(7)), s("m2", 9, Some(7)), odd]).expect("a finding");
        assert!(f.ok, "{f:?}");
        assert_eq!(
            f.detail,
            "2 members agree at revision 9; m3 compacted elsewhere, not compared"
        );
        assert_eq!(
            judge("cp", 9, &[s("m1", 9, Some(7)), s("m2", 9, None)]),
            None
        );
    }
}
