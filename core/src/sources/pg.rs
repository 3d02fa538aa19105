//! One PostgreSQL server, read over a single connection: the smallest pool there is,
//! so the console never adds to a connection storm. The connection is kept open
//! between polls (an already-connected monitor still sees a server that refuses new
//! clients: exactly the connection-leak incident) and reopened, with the caller's
//! backoff, only when it breaks.
//!
//! One query per poll reads `pg_is_in_recovery()`, `max_connections` and
//! `pg_stat_activity`: client sessions by state (active, idle, idle in transaction,
//! waiting on a lock) and the age of the oldest open transaction other than ours; and
//! for the integrity checks, the data-checksum failures counted in
//! `pg_stat_database`, whether data checksums are on, and the WAL position (written on
//! a primary, replayed on a replica).
//! Needs a role with `pg_monitor` (or superuser) to see other users' sessions.
//!
//! The connection string is read as libpq reads it (`sslmode`, `sslrootcert`, service
//! and password files, `PG*` variables: [`super::libpq`]) and the connection made with
//! libpq's TLS rules ([`super::pg_tls`]); [`PgConn::tls_mode`] says what it ended in.

use std::time::Duration;

use super::libpq::Params;
use super::pg_tls::{PgTlsMode, TlsOutcome};

/// What one poll of a server says.
#[derive(Clone, Debug, PartialEq)]
pub struct PgStatus {
    /// In recovery: a replica (or a demoted primary); `false` means it takes writes.
    pub in_recovery: bool,
    /// `max_connections`.
    pub max_connections: u32,
    /// Client sessions, ours included.
    pub connections: u32,
    /// Sessions running a query.
    pub active: u32,
    /// Idle sessions.
    pub idle: u32,
    /// Sessions idle inside an open transaction (the leak's signature).
    pub idle_in_transaction: u32,
    /// Sessions waiting on a lock.
    pub waiting: u32,
    /// Age of the oldest open transaction, seconds.
    pub oldest_xact_secs: Option<f64>,
    /// Pages that failed their checksum when read, over every database.
    pub checksum_failures: u64,
    /// Data checksums are on (`initdb --data-checksums`): without them a corrupt page
    /// is read as if it were good.
    pub data_checksums: bool,
    /// The WAL position: written (a primary) or replayed (a replica).
    pub wal_lsn: Option<u64>,
}

/// A `pg_lsn` as text (`16/B374D848`) as a number.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

const STATUS_SQL: &str = "\
SELECT pg_is_in_recovery(),
       current_setting('max_connections')::int4,
       count(*) FILTER (WHERE backend_type = 'client backend')::int4,
       count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active')::int4,
       count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle')::int4,
       count(*) FILTER (WHERE backend_type = 'client backend'
                          AND state LIKE 'idle in transaction%')::int4,
       count(*) FILTER (WHERE wait_event_type = 'Lock')::int4,
       (max(extract(epoch FROM clock_timestamp() - xact_start))
          FILTER (WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()))::float8,
       (SELECT coalesce(sum(checksum_failures), 0) FROM pg_stat_database)::int8,
       current_setting('data_checksums') = 'on',
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
             ELSE pg_current_wal_lsn() END)::text
FROM pg_stat_activity";

/// A server and its one connection.
pub struct PgConn {
    params: Params,
    client: Option<tokio_postgres::Client>,
    tls: Option<TlsOutcome>,
    what: String,
}

impl PgConn {
    /// A server from a connection string (`postgresql://user@host:port/db?sslmode=...` or
    /// `host=... sslmode=verify-full ...`), completed from the process's `PG*`
    /// variables, service and password files as libpq would (see [`super::libpq`]). The
    /// error never repeats the string: it may hold a password.
    pub fn new(dsn: &str) -> Result<Self, String> {
        Self::with_env(dsn, &super::libpq::process_env())
    }

    /// As [`PgConn::new`], with the environment given (a snapshot, or a test's own).
    pub fn with_env(dsn: &str, env: &super::libpq::Env) -> Result<Self, String> {
        Ok(Self::with_params(Params::resolve(dsn, env)?))
    }

    /// A server from completed parameters.
    pub fn with_params(params: Params) -> Self {
        let what = params.describe();
        Self {
            params,
            client: None,
            tls: None,
            what,
        }
    }

    /// The same credentials, database and TLS settings (sslmode, root and client
    /// certificates) on another host and port: a cluster member's server.
    #[must_use]
    pub fn at(&self, host: &str, port: u16) -> Self {
        Self::with_params(self.params.at(host, port))
    }

    /// `host:port` of the server, for messages (never the password).
    pub fn what(&self) -> &str {
        &self.what
    }

    /// What the current (or last) connection ended in: verified TLS, unverified TLS or
    /// plaintext (a `prefer` that fell back says so here). `None` before the first
    /// connection.
    pub fn tls_mode(&self) -> Option<PgTlsMode> {
        self.tls.as_ref().map(|t| t.mode)
    }

    /// The server's certificate (DER) of the last TLS connection, for its expiry.
    pub fn server_certificate(&self) -> Option<&[u8]> {
        self.tls.as_ref()?.server_certificate.as_deref()
    }

    /// The client certificate file the connection presents (`sslcert`), if any.
    pub fn client_certificate_path(&self) -> Option<&str> {
        self.params.get("sslcert").filter(|p| !p.is_empty())
    }

    /// The transport of the connection as last made (`None` before the first): its
    /// TLS mode (libpq's `require` or `prefer` without a root certificate is TLS that
    /// does not check the server, so INSECURE), the server's certificate's expiry, and
    /// `client_not_after`, the client certificate's.
    pub fn transport(
        &self,
        client_not_after: Option<crate::time::Timestamp>,
    ) -> Option<crate::model::Transport> {
        use crate::model::{TlsMode, Transport};
        let mode = match self.tls_mode()? {
            PgTlsMode::Verified => TlsMode::Verified,
            PgTlsMode::Unverified => TlsMode::Insecure,
            PgTlsMode::Plaintext => TlsMode::Plaintext,
        };
        let mut t = Transport::new(mode);
        if let Some(der) = self.server_certificate()
            && let Ok(f) = super::transport::cert_facts(der)
        {
            t.server_cert_not_after = Some(f.not_after);
            t.server_cert_subject = Some(format!("{} at {}", f.subject, self.what));
        }
        t.client_cert_not_after = client_not_after;
        Some(t)
    }

    /// When the server's certificate (last TLS connection) stops being valid.
    pub fn server_certificate_not_after(&self) -> Option<crate::time::Timestamp> {
        super::transport::cert_facts(self.server_certificate()?)
            .ok()
            .map(|facts| facts.not_after)
    }

    /// Reads the server's status, connecting first when needed, within `timeout`.
    pub async fn poll(&mut self, timeout: Duration) -> Result<PgStatus, String> {
        let what = self.what.clone();
        let result = tokio::time::timeout(timeout, self.poll_inner(timeout))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer within {} ms ({what})",
                    timeout.as_millis()
                ))
            });
        if result.is_err() {
            self.client = None;
        }
        result
    }

    async fn poll_inner(&mut self, timeout: Duration) -> Result<PgStatus, String> {
        if self
            .client
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            let c = super::pg_tls::connect(&self.params, timeout)
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            self.tls = Some(c.tls);
            self.client = Some(c.client);
        }
        let Some(client) = self.client.as_ref() else {
            return Err(format!("not connected ({})", self.what));
        };
        let row = client
            .query_one(STATUS_SQL, &[])
            .await
            .map_err(|e| format!("{} ({})", words(&e), self.what))?;
        let n = |i: usize| -> u32 { row.get::<_, i32>(i).max(0).unsigned_abs() };
        Ok(PgStatus {
            in_recovery: row.get(0),
            max_connections: n(1),
            connections: n(2),
            active: n(3),
            idle: n(4),
            idle_in_transaction: n(5),
            waiting: n(6),
            oldest_xact_secs: row.get::<_, Option<f64>>(7),
            checksum_failures: row.get::<_, i64>(8).max(0).unsigned_abs(),
            data_checksums: row.get(9),
            wal_lsn: row.get::<_, Option<String>>(10).and_then(|t| parse_lsn(&t)),
        })
    }
}

/// A driver error in operator words: the server's own message when it sent one
/// (`sorry, too many clients already`), else the transport's.
pub(crate) fn words(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        if db.code() == &tokio_postgres::error::SqlState::TOO_MANY_CONNECTIONS {
            // The connection-leak incident itself: say so first.
            return format!(
                "PostgreSQL refuses new clients, its connection slots are full ({}: {})",
                db.code().code(),
                db.message()
            );
        }
        return format!("PostgreSQL says: {} ({})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_dsn_is_an_error_without_the_password() {
        let err = PgConn::new("postgresql://u:hunter2@host:notaport/db")
            .err()
            .unwrap_or_default();
        assert!(err.contains("does not parse"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn the_description_names_host_and_port_only() {
        let c = PgConn::with_env(
            "postgresql://u:hunter2@10.0.0.5:5441/postgres",
            &std::collections::BTreeMap::default(),
        )
        .expect("dsn");
        assert_eq!(c.what(), "10.0.0.5:5441");
        let other = c.at("127.0.0.1", 5443);
        assert_eq!(other.what(), "127.0.0.1:5443");
        let kv = PgConn::with_env(
            "host=db.internal user=u password=p",
            &std::collections::BTreeMap::default(),
        )
        .expect("dsn");
        assert_eq!(kv.what(), "db.internal:5432");
    }

    #[tokio::test]
    async fn nothing_listening_is_cannot_connect_within_the_timeout() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let mut c = PgConn::with_env(
            &format!("postgresql://u:p@127.0.0.1:{port}/db"),
            &std::collections::BTreeMap::default(),
        )
        .expect("dsn");
        let err = c
            .poll(Duration::from_millis(500))
            .await
            .expect_err("refused");
        assert!(err.starts_with("cannot connect"), "{err}");
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    }
}
