//! Every member's PostgreSQL, asked by the Patroni source itself: `pg_is_in_recovery()`
//! is the last word on who takes writes, even when Patroni's API is dead.
//!
//! Each member's connection is the `dsn_env` string's at that member's host and port
//! ([`PgConn::at`](crate::sources::pg::PgConn::at)): the same credentials, `sslmode`,
//! root and client certificates, the member's certificate checked against the host
//! `/cluster` gives for it, and the password file's line looked up for that host. Each
//! connection's [`tls_mode`](crate::sources::pg::PgConn::tls_mode) says what it ended in.

use std::collections::BTreeMap;
use std::time::Duration;

use super::ClusterView;
use crate::event::EventBody;
use crate::model::{ClusterId, MemberId};

/// Every member's PostgreSQL, each over its own kept-open connection.
pub(super) struct Servers {
    /// The connection string's credentials, or why there are none.
    pub(super) base: Option<Result<crate::sources::pg::PgConn, String>>,
    /// Member -> its server's connection (kept when the member leaves `/cluster`).
    conns: BTreeMap<String, Option<crate::sources::pg::PgConn>>,
}

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
        while let Some(done) = tasks.join_next().await {
            let Ok((name, conn, r)) = done else {
                continue;
            };
            let member = MemberId::new(&name);
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
        out
    }
}
