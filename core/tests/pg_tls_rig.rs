//! PostgreSQL over TLS on the rig's `patronitls` cluster (PostgreSQL 15, `ssl = on`,
//! `pg_hba` `hostssl` only, a login by password and one by client certificate, a private
//! CA): every `sslmode` as libpq has it, a wrong server name and a wrong CA each refused
//! in their own words, an expired server certificate (the rig's `pgexpired`) too, the two
//! logins, libpq's variables alone (`PGSSLMODE`, `PGPASSFILE`, `PGSERVICE`), the
//! `postgres` source's connection and the Patroni members' connections verified, and the
//! Sev-0 runbook's `terminate_sessions` over TLS. No message may hold a password.
//!
//! Runs when `SWITCHBOARD_RIG` names `patronitls` (and `etcdtls`, its DCS, for the
//! runbook's lock); `prefer` against the plaintext rig is checked when it names
//! `patroni` too.

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::rig_has;
use switchboard_core::sources::libpq::{Env, Params};
use switchboard_core::sources::pg::PgConn;
use switchboard_core::sources::pg_tls::{self, Connected, PgTlsMode};
use switchboard_core::{Clock as _, SystemClock};

/// The members' PostgreSQL ports.
const PORTS: [u16; 3] = [44711, 44712, 44713];

fn rig_dir() -> PathBuf {
    PathBuf::from(std::env::var("RIG").unwrap_or_else(|_| "/tmp/switchboard-rig".into()))
}

/// A file of the rig's PKI.
fn tls(name: &str) -> String {
    rig_dir().join("tls").join(name).display().to_string()
}

/// A file of the cluster's secrets and settings.
fn pgtls(name: &str) -> String {
    rig_dir().join("pgtls").join(name).display().to_string()
}

/// `sbpass`'s password, as the rig wrote it.
fn password() -> String {
    std::fs::read_to_string(pgtls("sbpass.password"))
        .expect("the rig's password file")
        .trim()
        .to_owned()
}

/// The variables the sources' `dsn_env` name (set once, before any test here dials):
/// the primary of the cluster by its certificate login, wherever it is (every member,
/// `target_session_attrs=read-write`), and the same by password with the wrong CA.
const PRIMARY_BY_CERT: &str = "SWITCHBOARD_RIG_PGTLS_PRIMARY";
const PRIMARY_WRONG_CA: &str = "SWITCHBOARD_RIG_PGTLS_WRONG_CA";
/// The primary by its certificate login with `sslmode=require` and no root
/// certificate: TLS that checks no server.
const PRIMARY_UNCHECKED: &str = "SWITCHBOARD_RIG_PGTLS_UNCHECKED";
/// A Patroni source's `dsn_env`: member 1 by the certificate login, verify-full; the
/// source dials every member with it.
const MEMBERS_BY_CERT: &str = "SWITCHBOARD_RIG_PGTLS_MEMBERS";

fn skipped() -> bool {
    static SET: std::sync::Once = std::sync::Once::new();
    if !rig_has("patronitls") {
        eprintln!("skipped: SWITCHBOARD_RIG does not name patronitls");
        return true;
    }
    SET.call_once(|| {
        let every = "host=127.0.0.1,127.0.0.1,127.0.0.1 port=44711,44712,44713 dbname=postgres target_session_attrs=read-write";
        set_env(
            PRIMARY_BY_CERT,
            &format!(
                "{every} user=sbcert sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
                tls("ca.pem"),
                tls("pgcert.pem"),
                tls("pgcert-key.pem")
            ),
        );
        set_env(
            MEMBERS_BY_CERT,
            &format!(
                "host=127.0.0.1 port=44711 dbname=postgres user=sbcert sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
                tls("ca.pem"),
                tls("pgcert.pem"),
                tls("pgcert-key.pem")
            ),
        );
        set_env(
            PRIMARY_UNCHECKED,
            &format!(
                "{every} user=sbcert sslmode=require sslcert={} sslkey={}",
                tls("pgcert.pem"),
                tls("pgcert-key.pem")
            ),
        );
        set_env(
            PRIMARY_WRONG_CA,
            &format!(
                "{every} user=sbpass password={} sslmode=verify-full sslrootcert={}",
                password(),
                tls("other-ca.pem")
            ),
        );
    });
    false
}

/// An environment with nothing of libpq's in it: no home (so no `~/.pgpass` or
/// `~/.postgresql/root.crt`), and `extra`.
fn env(extra: &[(&str, &str)]) -> Env {
    let mut e: Env = [("HOME", "/nonexistent"), ("USER", "nobody")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    e.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    e
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

/// Connects as libpq would with `dsn` and `env`; the error as the console words it.
fn connect(rt: &tokio::runtime::Runtime, dsn: &str, env: &Env) -> Result<Connected, String> {
    let params = Params::resolve(dsn, env)?;
    rt.block_on(pg_tls::connect(&params, Duration::from_secs(5)))
}

/// `sbpass` on member 1 with `opts`.
fn sbpass(opts: &str) -> String {
    format!(
        "host=127.0.0.1 port={} dbname=postgres user=sbpass password={} {opts}",
        PORTS[0],
        password()
    )
}

/// The session's user and whether the server sees it over TLS.
fn who(rt: &tokio::runtime::Runtime, c: &Connected) -> (String, bool) {
    let row = rt
        .block_on(c.client.query_one(
            "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        ))
        .expect("query");
    (row.get(0), row.get(1))
}

/// Asserts `err` holds `words` and no password.
fn refused(err: &str, words: &str) {
    eprintln!("pg tls rig: refused: {err}");
    assert!(err.contains(words), "expected {words:?} in: {err}");
    assert!(!err.contains(&password()), "the password leaked: {err}");
}

#[test]
fn every_sslmode_against_a_hostssl_only_server() {
    if skipped() {
        return;
    }
    let rt = runtime();
    let e = env(&[]);
    let ca = format!("sslrootcert={}", tls("ca.pem"));
    let err = connect(&rt, &sbpass("sslmode=disable"), &e)
        .err()
        .unwrap_or_default();
    refused(&err, "the server requires TLS (hostssl only): set sslmode");
    assert!(err.ends_with(&format!("(127.0.0.1:{})", PORTS[0])), "{err}");
    let cases = [
        ("sslmode=allow".to_owned(), PgTlsMode::Unverified),
        ("sslmode=prefer".to_owned(), PgTlsMode::Unverified),
        (format!("sslmode=prefer {ca}"), PgTlsMode::Verified),
        ("sslmode=require".to_owned(), PgTlsMode::Unverified),
        // libpq: require with a root certificate behaves as verify-ca.
        (format!("sslmode=require {ca}"), PgTlsMode::Verified),
        (format!("sslmode=verify-ca {ca}"), PgTlsMode::Verified),
        (format!("sslmode=verify-full {ca}"), PgTlsMode::Verified),
        // SCRAM-SHA-256-PLUS: the login bound to the server's certificate.
        (
            format!("sslmode=verify-full {ca} channel_binding=require"),
            PgTlsMode::Verified,
        ),
        (
            "sslmode=require channel_binding=require".to_owned(),
            PgTlsMode::Unverified,
        ),
    ];
    for (opts, want) in cases {
        let c = connect(&rt, &sbpass(&opts), &e).unwrap_or_else(|e| panic!("{opts}: {e}"));
        assert_eq!(c.tls.mode, want, "{opts}");
        assert!(c.tls.server_certificate.is_some(), "{opts}");
        assert_eq!(who(&rt, &c), ("sbpass".to_owned(), true), "{opts}");
    }
    // The URI form, as operators paste it.
    let uri = format!(
        "postgresql://sbpass:{}@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}",
        password(),
        PORTS[1],
        tls("ca.pem")
    );
    let c = connect(&rt, &uri, &e).expect("uri");
    assert_eq!(c.tls.mode, PgTlsMode::Verified);
}

#[test]
fn a_wrong_name_and_a_wrong_ca_are_refused_in_their_words() {
    if skipped() {
        return;
    }
    let rt = runtime();
    let e = env(&[]);
    // Dialled at 127.0.0.1, checked against a name the certificate does not hold.
    let wrong_name = format!(
        "hostaddr=127.0.0.1 host=db.wrong.test sslrootcert={} ",
        tls("ca.pem")
    );
    let err = connect(
        &rt,
        &sbpass(&format!("{wrong_name}sslmode=verify-full")),
        &e,
    )
    .err()
    .unwrap_or_default();
    refused(
        &err,
        "the server's certificate is for 127.0.0.1, localhost, etcd.rig.test, not db.wrong.test",
    );
    // verify-ca checks the chain only.
    let c =
        connect(&rt, &sbpass(&format!("{wrong_name}sslmode=verify-ca")), &e).expect("verify-ca");
    assert_eq!(c.tls.mode, PgTlsMode::Verified);

    let other = format!("sslrootcert={}", tls("other-ca.pem"));
    for mode in ["verify-ca", "verify-full", "require"] {
        let err = connect(&rt, &sbpass(&format!("sslmode={mode} {other}")), &e)
            .err()
            .unwrap_or_default();
        refused(&err, "certificate not trusted");
        refused(&err, &tls("other-ca.pem"));
    }
    // prefer tries plaintext next, which the server refuses too: both said.
    let err = connect(&rt, &sbpass(&format!("sslmode=prefer {other}")), &e)
        .err()
        .unwrap_or_default();
    refused(&err, "certificate not trusted");
    refused(
        &err,
        "then without TLS: the server requires TLS (hostssl only)",
    );
    // A verifying mode without a root certificate is refused before dialling.
    let err = connect(&rt, &sbpass("sslmode=verify-full"), &e)
        .err()
        .unwrap_or_default();
    refused(&err, "root certificate file");
}

#[test]
fn an_expired_server_certificate_is_refused_in_words() {
    if skipped() {
        return;
    }
    let rt = runtime();
    let e = env(&[]);
    // pgexpired: a lone PostgreSQL whose certificate, from the rig's CA, expired
    // yesterday.
    let base = "host=127.0.0.1 port=44720 dbname=postgres user=postgres";
    let ca = format!("sslrootcert={}", tls("ca.pem"));
    for mode in ["verify-full", "verify-ca"] {
        let err = connect(&rt, &format!("{base} sslmode={mode} {ca}"), &e)
            .err()
            .unwrap_or_default();
        refused(
            &err,
            "the server's certificate has expired: it was valid until 20",
        );
    }
    // Without a root certificate nothing is checked: up, and said to be unverified;
    // its notAfter is in the past.
    let c = connect(&rt, &format!("{base} sslmode=require"), &e).expect("require");
    assert_eq!(c.tls.mode, PgTlsMode::Unverified);
    let not_after = c
        .tls
        .server_certificate
        .as_deref()
        .and_then(|der| switchboard_core::sources::transport::cert_facts(der).ok())
        .map(|facts| facts.not_after);
    assert!(
        not_after.is_some_and(|t| t < SystemClock.now()),
        "{not_after:?}"
    );
}

#[test]
fn the_password_login_and_the_certificate_login() {
    if skipped() {
        return;
    }
    let rt = runtime();
    let e = env(&[]);
    let full = format!("sslmode=verify-full sslrootcert={}", tls("ca.pem"));
    let wrong = format!(
        "host=127.0.0.1 port={} dbname=postgres user=sbpass password=not-the-password {full}",
        PORTS[0]
    );
    let err = connect(&rt, &wrong, &e).err().unwrap_or_default();
    refused(&err, "password authentication failed for user \"sbpass\"");
    assert!(!err.contains("not-the-password"), "{err}");

    let cert = format!(
        "host=127.0.0.1 port={} dbname=postgres user=sbcert {full} sslcert={} sslkey={}",
        PORTS[2],
        tls("pgcert.pem"),
        tls("pgcert-key.pem")
    );
    let c = connect(&rt, &cert, &e).expect("certificate login");
    assert_eq!(c.tls.mode, PgTlsMode::Verified);
    assert_eq!(who(&rt, &c), ("sbcert".to_owned(), true));

    let no_cert = format!(
        "host=127.0.0.1 port={} dbname=postgres user=sbcert {full}",
        PORTS[2]
    );
    let err = connect(&rt, &no_cert, &e).err().unwrap_or_default();
    refused(&err, "connection requires a valid client certificate");

    // A key others can read is refused before dialling, as libpq does.
    let dir = tempfile::tempdir().expect("dir");
    let open_key = dir.path().join("open-key.pem");
    std::fs::copy(tls("pgcert-key.pem"), &open_key).expect("copy");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let open = format!(
        "host=127.0.0.1 port={} dbname=postgres user=sbcert {full} sslcert={} sslkey={}",
        PORTS[2],
        tls("pgcert.pem"),
        open_key.display()
    );
    let err = connect(&rt, &open, &e).err().unwrap_or_default();
    refused(&err, "has group or world access");
}

#[test]
fn libpq_variables_alone_are_enough() {
    if skipped() {
        return;
    }
    let rt = runtime();
    let port = PORTS[1].to_string();
    let (ca, passfile) = (tls("ca.pem"), pgtls("pgpass"));
    // PGSSLMODE, PGSSLROOTCERT and PGPASSFILE with the rest: an empty connection string.
    let e = env(&[
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", &port),
        ("PGUSER", "sbpass"),
        ("PGDATABASE", "postgres"),
        ("PGSSLMODE", "verify-full"),
        ("PGSSLROOTCERT", &ca),
        ("PGPASSFILE", &passfile),
    ]);
    let c = connect(&rt, "", &e).expect("PG* variables");
    assert_eq!(c.tls.mode, PgTlsMode::Verified);
    assert_eq!(who(&rt, &c), ("sbpass".to_owned(), true));
    // PGSSLMODE alone decides: disable is refused by the hostssl-only server.
    let mut plain = e.clone();
    plain.insert("PGSSLMODE".into(), "disable".into());
    let err = connect(&rt, "", &plain).err().unwrap_or_default();
    refused(&err, "the server requires TLS (hostssl only)");
    // Without the password file there is no password, in words.
    let mut no_pass = e.clone();
    no_pass.remove("PGPASSFILE");
    let err = connect(&rt, "", &no_pass).err().unwrap_or_default();
    refused(&err, "the server asks for a password and none is set");

    // PGSERVICE with PGSERVICEFILE (and the password file): the service's verify-full
    // wins over PGSSLMODE, as in libpq.
    let (svc, passfile) = (pgtls("pg_service.conf"), pgtls("pgpass"));
    let s = env(&[
        ("PGSERVICE", "pgtls"),
        ("PGSERVICEFILE", &svc),
        ("PGPASSFILE", &passfile),
        ("PGSSLMODE", "disable"),
    ]);
    let c = connect(&rt, "", &s).expect("PGSERVICE");
    assert_eq!(c.tls.mode, PgTlsMode::Verified);
    assert_eq!(who(&rt, &c).0, "sbpass");
}

#[test]
fn prefer_against_the_plaintext_rig_reports_plaintext() {
    if skipped() {
        return;
    }
    if !rig_has("patroni") {
        eprintln!("skipped: the plaintext rig (patroni) is not named in SWITCHBOARD_RIG");
        return;
    }
    let rt = runtime();
    let c = connect(
        &rt,
        "postgresql://switchboard:rigwatch@127.0.0.1:5441/postgres?sslmode=prefer",
        &env(&[]),
    )
    .expect("plaintext rig");
    assert_eq!(c.tls.mode, PgTlsMode::Plaintext);
    assert!(c.tls.server_certificate.is_none());
    let err = connect(
        &rt,
        "postgresql://switchboard:rigwatch@127.0.0.1:5441/postgres?sslmode=require",
        &env(&[]),
    )
    .err()
    .unwrap_or_default();
    refused(
        &err,
        "the server does not offer TLS (its ssl setting is off), and sslmode=require requires it",
    );
}

#[test]
fn the_source_and_every_members_connection_come_up_verified() {
    if skipped() {
        return;
    }
    let rt = runtime();
    // One DSN, as a Patroni source's dsn_env holds it; each member's connection is the
    // same settings at that member's host and port.
    let dsn = format!(
        "postgresql://sbcert@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
        PORTS[0],
        tls("ca.pem"),
        tls("pgcert.pem"),
        tls("pgcert-key.pem")
    );
    let base = PgConn::with_env(&dsn, &env(&[])).expect("dsn");
    let mut primaries = 0;
    for port in PORTS {
        let mut member = base.at("127.0.0.1", port);
        assert_eq!(member.tls_mode(), None);
        let status = rt
            .block_on(member.poll(Duration::from_secs(5)))
            .unwrap_or_else(|e| panic!("{}: {e}", member.what()));
        assert_eq!(
            member.tls_mode(),
            Some(PgTlsMode::Verified),
            "{}",
            member.what()
        );
        // The rig's server certificate is valid for 825 days from its start.
        let left_days = member
            .server_certificate_not_after()
            .map(|t| t.millis_since(SystemClock.now()) / 86_400_000);
        assert!(
            left_days.is_some_and(|d| (820..=825).contains(&d)),
            "{left_days:?}"
        );
        if !status.in_recovery {
            primaries += 1;
        }
    }
    assert_eq!(primaries, 1, "one primary among the members");
}

#[test]
fn terminate_sessions_runs_over_tls() {
    use switchboard_core::SourceConfig;
    use switchboard_core::sources::etcd::EtcdConfig;
    use switchboard_core::sources::postgres::PostgresConfig;
    use switchboard_core::workflow::runbook::RunbookConfig;
    use switchboard_core::workflow::{self, Kind};
    if skipped() {
        return;
    }
    if !rig_has("etcdtls") {
        eprintln!("skipped: the runbook's lock needs etcdtls");
        return;
    }
    let rt = runtime();
    let e = env(&[]);
    let full = format!("sslmode=verify-full sslrootcert={}", tls("ca.pem"));
    let primary = PORTS
        .into_iter()
        .find(|p| {
            let dsn = format!(
                "host=127.0.0.1 port={p} dbname=postgres user=sbpass password={} {full}",
                password()
            );
            connect(&rt, &dsn, &e).is_ok_and(|c| {
                rt.block_on(c.client.query_one("SELECT pg_is_in_recovery()", &[]))
                    .is_ok_and(|r| !r.get::<_, bool>(0))
            })
        })
        .expect("a primary");
    // The leak: sessions idle in a transaction, over TLS.
    let leak = format!(
        "host=127.0.0.1 port={primary} dbname=postgres user=sbpass password={} {full} application_name=leak",
        password()
    );
    let leaked: Vec<Connected> = (0..5)
        .map(|_| {
            let c = connect(&rt, &leak, &e).expect("leak");
            rt.block_on(c.client.batch_execute("BEGIN; SELECT 1"))
                .expect("begin");
            c
        })
        .collect();
    // The runbook reaches the primary by the certificate login, verify-full.
    let var = PRIMARY_BY_CERT;
    let dir = tempfile::tempdir().expect("dir");
    let book = dir.path().join("leak.toml");
    std::fs::write(
        &book,
        r#"name = "tls-leak"
title = "Connection leak over TLS (rig)"
[[step]]
kind = "sessions"
title = "Diagnose"
database = "{database}"
[[step]]
kind = "terminate_sessions"
title = "Terminate the hanging sessions"
database = "{database}"
idle_in_transaction = true
"#,
    )
    .expect("runbook file");
    let mut etcd = EtcdConfig::new(
        "etcd",
        [
            "https://127.0.0.1:42379",
            "https://127.0.0.1:52379",
            "https://127.0.0.1:62379",
        ]
        .map(String::from)
        .to_vec(),
    );
    etcd.tls = Some(switchboard_core::sources::TlsSettings {
        ca_file: Some(tls("ca.pem")),
        cert_file: Some(tls("client.pem")),
        key_file: Some(tls("client-key.pem")),
        ..Default::default()
    });
    let mut environment = switchboard_core::Environment::new(
        "rig",
        vec![
            SourceConfig::Postgres(PostgresConfig {
                name: "orders-db".into(),
                dsn_env: Some(var.into()),
                cluster: None,
                member: None,
                service: None,
                interval_millis: 1000,
                timeout_millis: 1000,
            }),
            SourceConfig::Etcd(etcd),
        ],
    );
    environment.runbook = vec![RunbookConfig {
        name: "tls-leak".into(),
        file: Some(book.display().to_string()),
        vars: [("database".to_owned(), "orders-db".to_owned())].into(),
    }];
    let (_jdir, journal) = common::journal();
    let ctx = common::workflow_ctx(&environment, &journal);
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Runbook, "tls-leak"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "tls-leak", "rig-test"))
        .expect("run");
    eprintln!(
        "pg tls rig: runbook {}: {:#?}",
        report.outcome, report.lines
    );
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    assert!(
        report.lines[0].contains("5 idle in transaction"),
        "{}",
        report.lines[0]
    );
    assert!(
        report.lines[1].contains("5 of 5 matching session(s) terminated"),
        "{}",
        report.lines[1]
    );
    let gone = leaked
        .iter()
        .filter(|c| rt.block_on(c.client.simple_query("SELECT 1")).is_err())
        .count();
    assert_eq!(gone, 5, "every leaked session was cut");
}

#[test]
fn a_postgres_source_watches_the_primary_over_tls_and_says_how() {
    use switchboard_core::SourceConfig;
    use switchboard_core::sources::postgres::PostgresConfig;
    if skipped() {
        return;
    }
    let source = |name: &str, var: &str| {
        SourceConfig::Postgres(PostgresConfig {
            name: name.into(),
            dsn_env: Some(var.into()),
            cluster: Some(name.into()),
            member: Some("primary".into()),
            service: None,
            interval_millis: 250,
            timeout_millis: 3000,
        })
    };
    let good = common::engine_with(source("pgtls", PRIMARY_BY_CERT));
    let s = good.wait_for(Duration::from_secs(15), |s| {
        s.databases.get("pgtls").is_some_and(|d| {
            d.members
                .values()
                .any(|m| m.sessions.is_some() && m.writable == Some(true))
        })
    });
    let m = s
        .databases
        .get("pgtls")
        .and_then(|d| d.members.values().next());
    assert!(
        m.is_some_and(|m| m.sessions.is_some() && m.writable == Some(true)),
        "{m:?}"
    );
    // The source says its connection: verified TLS, with both certificates' dates.
    let s = good.wait_for(Duration::from_secs(15), |s| s.transport("pgtls").is_some());
    let t = s
        .transport("pgtls")
        .cloned()
        .expect("the source's transport");
    assert_eq!(t.tls, switchboard_core::model::TlsMode::Verified, "{t:?}");
    assert!(t.server_cert_days(s.now).is_some_and(|d| d > 800), "{t:?}");
    assert!(t.client_cert_days(s.now).is_some_and(|d| d > 800), "{t:?}");
    let subject = t.server_cert_subject.clone().unwrap_or_default();
    assert!(subject.contains("127.0.0.1:4471"), "{subject}");
    // sslmode=require with no root certificate: TLS that checks nothing, INSECURE.
    let unchecked = common::engine_with(source("pgtls-unchecked", PRIMARY_UNCHECKED));
    let s = unchecked.wait_for(Duration::from_secs(15), |s| {
        s.transport("pgtls-unchecked").is_some()
    });
    assert_eq!(
        s.transport("pgtls-unchecked").map(|t| t.tls),
        Some(switchboard_core::model::TlsMode::Insecure)
    );
    let bad = common::engine_with(source("pgtls-wrong-ca", PRIMARY_WRONG_CA));
    let s = bad.wait_for(Duration::from_secs(15), |s| {
        s.databases
            .get("pgtls-wrong-ca")
            .is_some_and(|d| d.members.values().any(|m| m.server_detail.is_some()))
    });
    let detail = s
        .databases
        .get("pgtls-wrong-ca")
        .and_then(|d| d.members.values().find_map(|m| m.server_detail.clone()))
        .unwrap_or_default();
    refused(&detail, "certificate not trusted");
    let everything = format!("{s:?}");
    assert!(
        !everything.contains(&password()),
        "the password is in the state"
    );
}

#[test]
fn a_patroni_source_asks_every_members_postgresql_over_verified_tls() {
    use switchboard_core::SourceConfig;
    use switchboard_core::sources::patroni::PatroniConfig;
    if skipped() {
        return;
    }
    // The REST API over TLS (GETs need no password), the members' PostgreSQL by the
    // certificate login, each checked against the host /cluster gives for it.
    let engine = common::engine_with(SourceConfig::Patroni(PatroniConfig {
        name: "pgtls-patroni".into(),
        endpoints: (1..=3)
            .map(|n| format!("https://127.0.0.1:4470{n}"))
            .collect(),
        cluster: Some("pgtls-patroni".into()),
        interval_millis: 250,
        timeout_millis: 3000,
        dsn_env: Some(MEMBERS_BY_CERT.into()),
        dcs: None,
        patroni_yml: None,
        tls: Some(switchboard_core::sources::TlsSettings {
            ca_file: Some(tls("ca.pem")),
            ..Default::default()
        }),
        auth: None,
        proxy: switchboard_core::sources::ProxySetting::default(),
        max_answer_bytes: None,
    }));
    let asked = |s: &switchboard_core::State| {
        s.databases.get("pgtls-patroni").map(|d| {
            let writable: Vec<Option<bool>> = d.members.values().map(|m| m.writable).collect();
            (
                d.members.len(),
                d.members.values().filter(|m| m.sessions.is_some()).count(),
                writable.iter().filter(|w| **w == Some(true)).count(),
                writable.iter().filter(|w| **w == Some(false)).count(),
            )
        })
    };
    let s = engine.wait_for(Duration::from_secs(20), |s| asked(s) == Some((3, 3, 1, 2)));
    let details: Vec<_> = s
        .databases
        .get("pgtls-patroni")
        .map(|d| {
            d.members
                .values()
                .map(|m| m.server_detail.clone())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        asked(&s),
        Some((3, 3, 1, 2)),
        "members, asked, writable, in recovery; server details: {details:?}"
    );
}

#[allow(unsafe_code)]
fn set_env(name: &str, value: &str) {
    // SAFETY: called once, under a Once that every test here passes before it dials;
    // no other thread of this binary reads the environment meanwhile.
    unsafe { std::env::set_var(name, value) };
}
