//! Every member's PostgreSQL, asked by the Patroni source itself: `pg_is_in_recovery()`
//! is the last word on who takes writes, even when Patroni's API is dead.
//!
//! Each member's connection is the `dsn_env` string's at that member's host and port
//! ([`PgConn::at`](crate::sources::pg::PgConn::at)): the same credentials, `sslmode`,
//! root and client certificates, the member's certificate checked against the host
//! `/cluster` gives for it, and the password file's line looked up for that host. Each
//! connection's [`tls_mode`](crate::sources::pg::PgConn::tls_mode) says what it ended in.
//!
//! Two integrity checks ride on the same reads: each server's data-checksum failures
//! (`pg checksums`), and each replica's replay (`pg replay`): a replica whose replayed
//! WAL position has not moved for [`REPLAY_STALL`] while the primary's is ahead has
//! stopped replaying, whatever its walreceiver still says.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::ClusterView;
use crate::event::EventBody;
use crate::model::{ClusterId, MemberId};

/// Every member's PostgreSQL, each over its own kept-open connection.
pub(super) struct Servers {
    /// The connection string's credentials, or why there are none.
    pub(super) base: Option<Result<crate::sources::pg::PgConn, String>>,
    /// Member -> its server's connection (kept when the member leaves `/cluster`).
    conns: BTreeMap<String, Option<crate::sources::pg::PgConn>>,
    /// Replica -> its replayed WAL position, and since when it has not moved.
    replayed: BTreeMap<String, (u64, Instant)>,
}

/// A WAL position as PostgreSQL writes it (`16/B374D848`).
fn lsn_text(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

/// How long a replica's replay may stand still while the primary is ahead.
const REPLAY_STALL: Duration = Duration::from_secs(15);

impl Servers {
    pub(super) fn new(dsn_env: Option<&str>) -> Self {
        let base = dsn_env.map(|var| {
            std::env::var(var)
                .map_err(|_| format!("the environment variable {var} (dsn_env) is not set"))
                .and_then(|dsn| {
                    crate::sources::pg::PgConn::new(&dsn).map_err(|e| format!("{e} (from {var})"))
                })
        });
        Self {
            base,
            conns: BTreeMap::new(),
            replayed: BTreeMap::new(),
        }
    }

    /// Remembers the host and port of every member `/cluster` lists.
    pub(super) fn learn(&mut self, c: &ClusterView) {
        let Some(Ok(base)) = &self.base else {
            return;
        };
        for m in &c.members {
            if let (Some(h), Some(p)) = (&m.host, m.port) {
                let fresh = || base.at(h, p);
                let entry = self
                    .conns
                    .entry(m.name.clone())
                    .or_insert_with(|| Some(fresh()));
                if entry
                    .as_ref()
                    .is_some_and(|c| c.what() != format!("{h}:{p}"))
                {
                    *entry = Some(fresh());
                }
            }
        }
    }

    /// Asks every known server at once; one `PgServer` event each.
    pub(super) async fn poll(&mut self, cluster: &ClusterId, timeout: Duration) -> Vec<EventBody> {
        let mut tasks = tokio::task::JoinSet::new();
        for (name, slot) in &mut self.conns {
            if let Some(mut conn) = slot.take() {
                let name = name.clone();
                tasks.spawn(async move {
                    let r = conn.poll(timeout).await;
                    (name, conn, r)
                });
            }
        }
        let mut out = Vec::new();
        let mut read = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let Ok((name, conn, r)) = done else {
                continue;
            };
            let member = MemberId::new(&name);
            if let Ok(s) = &r {
                read.push((name.clone(), s.in_recovery, s.wal_lsn));
            }
            out.extend(match r {
                Ok(s) => crate::sources::postgres::status_events(cluster, &member, None, &s),
                Err(e) => vec![EventBody::PgServer {
                    cluster: cluster.clone(),
                    member,
                    reachable: false,
                    in_recovery: None,
                    sessions: None,
                    detail: Some(e),
                }],
            });
            self.conns.insert(name, Some(conn));
        }
        out.extend(self.replay_findings(cluster, &read, Instant::now()));
        out
    }

    /// The replay check of every replica read this poll: `read` is (member, in
    /// recovery, WAL position) of each server that answered.
    fn replay_findings(
        &mut self,
        cluster: &ClusterId,
        read: &[(String, bool, Option<u64>)],
        now: Instant,
    ) -> Vec<EventBody> {
        let primary = read
            .iter()
            .filter(|(_, recovering, _)| !recovering)
            .filter_map(|(_, _, lsn)| *lsn)
            .max();
        let mut out = Vec::new();
        for (name, recovering, lsn) in read {
            let (true, Some(lsn)) = (*recovering, *lsn) else {
                self.replayed.remove(name);
                continue;
            };
            // The clock runs while its position stands still with the primary ahead: from
            // the first poll that saw it so.
            let ahead = primary.is_some_and(|p| p > lsn);
            let stalled = if ahead {
                let since = match self.replayed.get(name) {
                    Some((seen, since)) if *seen == lsn => *since,
                    _ => now,
                };
                self.replayed.insert(name.clone(), (lsn, since));
                now.duration_since(since) >= REPLAY_STALL
            } else {
                self.replayed.remove(name);
                false
            };
            out.push(EventBody::Integrity {
                finding: crate::model::IntegrityFinding {
                    check: "pg replay".to_owned(),
                    subject: format!("{cluster}/{name}"),
                    ok: !stalled,
                    // Words that stay the same while it lasts: one event, not one a poll.
                    detail: if stalled {
                        format!(
                            "{name} has replayed no WAL for {} s or more (it stands at {}) while the primary is ahead: its replay stopped, whatever its walreceiver says; it serves old data",
                            REPLAY_STALL.as_secs(),
                            lsn_text(lsn)
                        )
                    } else {
                        "replays the primary's WAL".to_owned()
                    },
                },
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_that_stands_still_while_the_primary_moves_is_stalled() {
        let mut s = Servers::new(None);
        let c = ClusterId::new("pg");
        let t0 = Instant::now();
        let verdict = |out: Vec<EventBody>| match out.as_slice() {
            [EventBody::Integrity { finding }] => (finding.ok, finding.detail.clone()),
            other => panic!("{other:?}"),
        };
        let poll = |s: &mut Servers, primary: u64, replica: u64, secs: u64| {
            s.replay_findings(
                &c,
                &[
                    ("node1".into(), false, Some(primary)),
                    ("node2".into(), true, Some(replica)),
                ],
                t0 + Duration::from_secs(secs),
            )
        };
        assert!(verdict(poll(&mut s, 100, 100, 0)).0);
        // Standing still with the primary level with it: nothing to replay.
        assert!(verdict(poll(&mut s, 100, 100, 60)).0);
        // The primary moves on; the replica's position does not, for 15 s.
        assert!(verdict(poll(&mut s, 200, 100, 70)).0);
        assert!(verdict(poll(&mut s, 250, 100, 84)).0);
        let (ok, words) = verdict(poll(&mut s, 300, 100, 85));
        assert!(!ok, "{words}");
        assert!(words.contains("stands at 0/64"), "{words}");
        // It replays again.
        assert!(verdict(poll(&mut s, 300, 150, 76)).0);
        assert_eq!(lsn_text(0x16_B374_D848), "16/B374D848");
        assert_eq!(
            crate::sources::pg::parse_lsn("16/B374D848"),
            Some(0x16_B374_D848)
        );
    }
}
