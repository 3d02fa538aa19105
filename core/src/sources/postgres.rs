//! PostgreSQL: one server's sessions and role, read over one kept-open connection
//! (see [`super::pg`]).
//!
//! Every `interval_millis`: `pg_is_in_recovery()`, connections against
//! `max_connections`, sessions by state (active, idle, idle in transaction, waiting on
//! a lock) and the oldest open transaction. This is the Sev-0 connection-leak signal
//! (domain.md §8): with `service` set, the connections also feed that service's pool
//! bar, so saturation shows on the service as well as on the database.
//!
//! The connection string comes from the environment variable named by `dsn_env`, never
//! from the config file, and is never logged or recorded: messages name `host:port`. It
//! is read as libpq reads it (`sslmode` up to `verify-full`, `sslrootcert`, client
//! certificates, `service`, the password file and the `PG*` variables: see
//! [`super::libpq`]), and the connection says whether it ended in verified TLS,
//! unverified TLS or plaintext ([`PgConn::tls_mode`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::pg::PgConn;
use super::poll::{Pace, Poll, Polled, Report, drive};
use super::{Backoff, Emitter};
use crate::event::{EventBody, PgSessions};
use crate::model::{ClusterId, MemberId, ServiceId, SourceStatus, Transport};

/// Configuration of one PostgreSQL server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// Source name.
    pub name: String,
    /// The environment variable holding the connection string; without it, libpq's
    /// environment alone (`PGSERVICE`, `PGHOST`, `PGSSLMODE`..., the service and
    /// password files).
    #[serde(default)]
    pub dsn_env: Option<String>,
    /// The database cluster it belongs to (default: the source name).
    #[serde(default)]
    pub cluster: Option<String>,
    /// Its member name in that cluster (default: `host:port`).
    #[serde(default)]
    pub member: Option<String>,
    /// A service whose pool bar shows this server's connections.
    #[serde(default)]
    pub service: Option<String>,
    /// Time between polls, in milliseconds.
    #[serde(default = "default_interval")]
    pub interval_millis: u64,
    /// Bound on each poll (connect included), in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_millis: u64,
}

impl crate::sources::Settings for PostgresConfig {}

impl PostgresConfig {
    /// A source named `name` on libpq's environment alone (the no-config-file case).
    pub fn from_libpq_env(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            dsn_env: None,
            cluster: None,
            member: None,
            service: None,
            interval_millis: default_interval(),
            timeout_millis: default_timeout(),
        }
    }

    /// The connection string and where it came from, in words for messages (never the
    /// string itself, which may hold a password): the variable `dsn_env` names, or
    /// libpq's environment alone (an empty string) without one.
    pub fn dsn(&self) -> Result<(String, String), String> {
        match &self.dsn_env {
            Some(var) => std::env::var(var)
                .map(|dsn| (dsn, format!("from {var}")))
                .map_err(|_| format!("the environment variable {var} (dsn_env) is not set")),
            None => Ok((String::new(), "from libpq's environment".to_owned())),
        }
    }
}

const fn default_interval() -> u64 {
    2000
}

const fn default_timeout() -> u64 {
    2000
}

/// The events of one successful poll.
pub fn status_events(
    cluster: &ClusterId,
    member: &MemberId,
    service: Option<&ServiceId>,
    s: &super::pg::PgStatus,
) -> Vec<EventBody> {
    let mut out = vec![EventBody::PgServer {
        cluster: cluster.clone(),
        member: member.clone(),
        reachable: true,
        in_recovery: Some(s.in_recovery),
        sessions: Some(PgSessions {
            connections: s.connections,
            max_connections: s.max_connections,
            active: s.active,
            idle: s.idle,
            idle_in_transaction: s.idle_in_transaction,
            waiting: s.waiting,
            oldest_xact_secs: s.oldest_xact_secs,
        }),
        detail: None,
    }];
    out.push(EventBody::Integrity {
        finding: checksum_finding(cluster, member, s),
    });
    if let Some(service) = service {
        out.push(EventBody::Pool {
            service: service.clone(),
            size: s.max_connections,
            in_use: s.connections,
            queued: s.waiting,
        });
    }
    out
}

/// The data-checksum check of one server: failures counted in `pg_stat_database` are a
/// corrupt page read there; checksums off is said (nothing would be counted).
pub fn checksum_finding(
    cluster: &ClusterId,
    member: &MemberId,
    s: &super::pg::PgStatus,
) -> crate::model::IntegrityFinding {
    let detail = match (s.checksum_failures, s.data_checksums) {
        (0, true) => "no page failed its checksum".to_owned(),
        (0, false) => {
            "data checksums are off (initdb --data-checksums): a corrupt page would be read as good"
                .to_owned()
        }
        (n, _) => format!(
            "{n} page(s) failed their checksum when read on {member} (pg_stat_database.checksum_failures): its data files are damaged; read from another member, then rebuild this one"
        ),
    };
    crate::model::IntegrityFinding {
        check: "pg checksums".to_owned(),
        subject: format!("{cluster}/{member}"),
        ok: s.checksum_failures == 0,
        detail,
    }
}

/// The source's one-line detail for a poll: what the server is, not its counts (which
/// move at every poll and are the sessions' readings, in the Databases pane).
pub fn describe_status(s: &super::pg::PgStatus) -> String {
    let role = if s.in_recovery {
        "in recovery"
    } else {
        "accepts writes"
    };
    format!("{role}; at most {} connections", s.max_connections)
}

/// Runs the PostgreSQL source until the engine stops.
pub async fn run(cfg: PostgresConfig, emitter: Emitter) {
    let (dsn, from) = match cfg.dsn() {
        Ok(d) => d,
        Err(e) => {
            emitter.status(SourceStatus::Down, Some(e)).await;
            return;
        }
    };
    let conn = match PgConn::new(&dsn) {
        Ok(c) => c,
        Err(e) => {
            emitter
                .status(SourceStatus::Down, Some(format!("{e} ({from})")))
                .await;
            return;
        }
    };
    drop(dsn);
    let cluster = ClusterId::new(cfg.cluster.as_deref().unwrap_or(&cfg.name));
    let member = MemberId::new(cfg.member.as_deref().unwrap_or(conn.what()));
    let service = cfg.service.as_deref().map(ServiceId::new);
    let timeout = Duration::from_millis(cfg.timeout_millis.max(10));
    let pace = Pace {
        interval: Duration::from_millis(cfg.interval_millis.max(10)),
        // The connection bounds each poll itself.
        bound: None,
        backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(10), 0x96),
        report: Report::Readings,
    };
    // The client certificate's date is read once: a file that cannot be read fails
    // the connection with its own words.
    let client_not_after = conn.client_certificate_path().and_then(|p| {
        super::transport::pem_file_facts(p, "client certificate (sslcert)")
            .ok()
            .map(|f| f.not_after)
    });
    let server = Server {
        conn,
        timeout,
        cluster,
        member,
        service,
        client_not_after,
        said: None,
        announce: false,
    };
    drive(server, pace, &emitter).await;
}

/// One PostgreSQL server, polled over its kept-open connection.
struct Server {
    conn: PgConn,
    timeout: Duration,
    cluster: ClusterId,
    member: MemberId,
    service: Option<ServiceId>,
    /// When the client certificate expires, if one is presented.
    client_not_after: Option<crate::time::Timestamp>,
    /// The transport last said.
    said: Option<Transport>,
    /// The last fetch changed the transport: say it with this answer.
    announce: bool,
}

impl Poll for Server {
    type Answer = super::pg::PgStatus;

    async fn fetch(&mut self) -> Result<super::pg::PgStatus, String> {
        let answer = self.conn.poll(self.timeout).await;
        // Known once connected; a reconnection may end differently (`prefer` that
        // falls back to plaintext, a renewed certificate).
        let now = self.conn.transport(self.client_not_after);
        self.announce = now.is_some() && now != self.said;
        if self.announce {
            self.said = now;
        }
        answer
    }

    fn translate(&self, s: super::pg::PgStatus) -> Polled {
        let state = match (&self.said, self.announce) {
            (Some(t), true) => vec![EventBody::SourceTransport {
                transport: t.clone(),
            }],
            _ => Vec::new(),
        };
        Polled {
            state,
            // Sessions move at every poll: held while they barely move.
            gauges: status_events(&self.cluster, &self.member, self.service.as_ref(), &s),
            detail: describe_status(&s),
            ..Polled::default()
        }
    }

    /// An unreachable server is an event of its own: the database pane shows it.
    fn failure(&self, why: &str) -> Vec<EventBody> {
        vec![EventBody::PgServer {
            cluster: self.cluster.clone(),
            member: self.member.clone(),
            reachable: false,
            in_recovery: None,
            sessions: None,
            detail: Some(why.to_owned()),
        }]
    }
}
