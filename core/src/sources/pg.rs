//! One PostgreSQL server, read over a single connection: the smallest pool there is,
//! so the console never adds to a connection storm. The connection is kept open
//! between polls (an already-connected monitor still sees a server that refuses new
//! clients: exactly the connection-leak incident) and reopened, with the caller's
//! backoff, only when it breaks.
//!
//! One query per poll reads `pg_is_in_recovery()`, `max_connections` and
//! `pg_stat_activity`: client sessions by state (active, idle, idle in transaction,
//! waiting on a lock) and the age of the oldest open transaction other than ours.
//! Needs a role with `pg_monitor` (or superuser) to see other users' sessions.

use std::time::Duration;

use tokio_postgres::NoTls;

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
          FILTER (WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()))::float8
FROM pg_stat_activity";

/// A server and its one connection.
pub struct PgConn {
    config: tokio_postgres::Config,
    client: Option<tokio_postgres::Client>,
    what: String,
}

impl PgConn {
    /// A server from a connection string (`postgresql://user:pass@host:port/db` or
    /// `host=... port=...`). The error never repeats the string: it may hold a password.
    pub fn new(dsn: &str) -> Result<Self, String> {
        let config: tokio_postgres::Config = dsn
            .parse()
            .map_err(|e| format!("the connection string does not parse: {e}"))?;
        Ok(Self::with_config(config))
    }

    /// A server from a parsed config.
    pub fn with_config(mut config: tokio_postgres::Config) -> Self {
        config.application_name("switchboard");
        let what = describe(&config);
        Self {
            config,
            client: None,
            what,
        }
    }

    /// The same credentials and database on another host and port.
    #[must_use]
    pub fn at(&self, host: &str, port: u16) -> Self {
        let mut c = tokio_postgres::Config::new();
        if let Some(u) = self.config.get_user() {
            c.user(u);
        }
        if let Some(p) = self.config.get_password() {
            c.password(p);
        }
        if let Some(d) = self.config.get_dbname() {
            c.dbname(d);
        }
        c.host(host).port(port);
        Self::with_config(c)
    }

    /// `host:port` of the server, for messages (never the password).
    pub fn what(&self) -> &str {
        &self.what
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
            let mut config = self.config.clone();
            config.connect_timeout(timeout);
            let (client, connection) = config
                .connect(NoTls)
                .await
                .map_err(|e| format!("cannot connect: {} ({})", words(&e), self.what))?;
            tokio::spawn(async move {
                // Ends when the client is dropped or the server goes away.
                let _ = connection.await;
            });
            self.client = Some(client);
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
        })
    }
}

/// `host:port` of a config.
fn describe(c: &tokio_postgres::Config) -> String {
    let host = c.get_hosts().first().map_or_else(
        || "localhost".to_owned(),
        |h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        },
    );
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
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
        let c = PgConn::new("postgresql://u:hunter2@10.0.0.5:5441/postgres").expect("dsn");
        assert_eq!(c.what(), "10.0.0.5:5441");
        let other = c.at("127.0.0.1", 5443);
        assert_eq!(other.what(), "127.0.0.1:5443");
        let kv = PgConn::new("host=db.internal user=u password=p").expect("dsn");
        assert_eq!(kv.what(), "db.internal:5432");
    }

    #[tokio::test]
    async fn nothing_listening_is_cannot_connect_within_the_timeout() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let mut c = PgConn::new(&format!("postgresql://u:p@127.0.0.1:{port}/db")).expect("dsn");
        let err = c
            .poll(Duration::from_millis(500))
            .await
            .expect_err("refused");
        assert!(err.starts_with("cannot connect"), "{err}");
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    }
}
