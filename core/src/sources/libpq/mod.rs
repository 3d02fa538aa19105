//! A PostgreSQL connection string read as libpq reads it, so that an engineer's
//! existing DSNs, `PG*` variables, `~/.pgpass` and `pg_service.conf` work unchanged.
//!
//! tokio-postgres parses only part of what libpq accepts (no `verify-full`, no
//! `sslrootcert`, no service files, no password file), so the whole string is parsed
//! here, in both forms (`key=value ...` and `postgresql://` URIs), and completed in
//! libpq's order: the string's own options, then the service's (`service` or
//! `PGSERVICE`, looked up in `PGSERVICEFILE` or `~/.pg_service.conf`, then
//! `PGSYSCONFDIR/pg_service.conf`), then the environment (`PGHOST`, `PGPORT`, `PGUSER`,
//! `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, ...), then libpq's defaults. The password,
//! when none is given, comes from the password file (`passfile`, `PGPASSFILE` or
//! `~/.pgpass`) at each connection, for the host and port actually dialled.
//!
//! The environment is passed in as a snapshot ([`Env`]), never read behind the
//! caller's back, so tests need not change the process's environment. No error and no
//! `Debug` output carries the password; every file read is bounded in size.

mod conninfo;
mod files;

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use self::conninfo::PASSED;
pub use self::conninfo::parse;

/// The environment as libpq would see it: variable name to value.
pub type Env = BTreeMap<String, String>;

/// The process's environment, reduced to what libpq reads (`PG*`, `HOME`, `USER`,
/// `LOGNAME`).
pub fn process_env() -> Env {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("PG") || matches!(k.as_str(), "HOME" | "USER" | "LOGNAME"))
        .collect()
}

/// libpq's `sslmode`: whether TLS is tried, required, and what of the server's
/// certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Plaintext only.
    Disable,
    /// Plaintext first; TLS if the server refuses it.
    Allow,
    /// TLS first; plaintext if the server does not offer TLS or the TLS attempt fails.
    Prefer,
    /// TLS only; the certificate is checked against `sslrootcert` when there is one.
    Require,
    /// TLS only; the certificate must chain to `sslrootcert`.
    VerifyCa,
    /// TLS only; the certificate must chain to `sslrootcert` and hold the host's name.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(format!(
                    "invalid sslmode {other:?}: expected disable, allow, prefer, require, verify-ca or verify-full"
                ));
            }
        })
    }

    /// The mode as libpq spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// Whether the server's certificate must chain to a trusted root whatever files exist.
    pub const fn verifies(self) -> bool {
        matches!(self, Self::VerifyCa | Self::VerifyFull)
    }
}

/// libpq's environment variables and the options they stand for.
const ENV_VARS: &[(&str, &str)] = &[
    ("PGHOST", "host"),
    ("PGHOSTADDR", "hostaddr"),
    ("PGPORT", "port"),
    ("PGDATABASE", "dbname"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
    ("PGPASSFILE", "passfile"),
    ("PGOPTIONS", "options"),
    ("PGAPPNAME", "application_name"),
    ("PGSSLMODE", "sslmode"),
    ("PGSSLROOTCERT", "sslrootcert"),
    ("PGSSLCERT", "sslcert"),
    ("PGSSLKEY", "sslkey"),
    ("PGSSLSNI", "sslsni"),
    ("PGCONNECT_TIMEOUT", "connect_timeout"),
    ("PGTARGETSESSIONATTRS", "target_session_attrs"),
    ("PGCHANNELBINDING", "channel_binding"),
    ("PGLOADBALANCEHOSTS", "load_balance_hosts"),
    ("PGGSSENCMODE", "gssencmode"),
];

/// Where libpq (as Debian builds it) looks for Unix sockets and system-wide files.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// A connection string completed as libpq completes it.
#[derive(Clone, PartialEq, Eq)]
pub struct Params {
    /// Option name to value, every option libpq would use (password included).
    opts: BTreeMap<String, String>,
    /// The home directory, for `~/.pgpass` and `~/.postgresql/*`.
    home: Option<String>,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: BTreeMap<&str, &str> = self
            .opts
            .iter()
            .map(|(k, v)| {
                let v = if k == "password" { "<redacted>" } else { v };
                (k.as_str(), v)
            })
            .collect();
        f.debug_struct("Params")
            .field("opts", &shown)
            .finish_non_exhaustive()
    }
}

impl Params {
    /// `dsn` (either form; empty for "all from the environment") completed from the
    /// service file, `env` and libpq's defaults. Errors never repeat a value but the
    /// option's name (a value may be a password).
    pub fn resolve(dsn: &str, env: &Env) -> Result<Self, String> {
        let mut opts = parse(dsn)?;
        let home = env.get("HOME").cloned();
        let service = opts
            .get("service")
            .cloned()
            .or_else(|| env.get("PGSERVICE").cloned());
        if let Some(name) = service {
            for (k, v) in files::service_options(&name, env, home.as_deref())? {
                opts.entry(k).or_insert(v);
            }
        }
        for (var, key) in ENV_VARS {
            if let Some(v) = env.get(*var) {
                opts.entry((*key).to_owned()).or_insert_with(|| v.clone());
            }
        }
        if !opts.contains_key("user") {
            let user = env
                .get("USER")
                .or_else(|| env.get("LOGNAME"))
                .ok_or("no user name: set user= in the connection string, or PGUSER")?;
            opts.insert("user".into(), user.clone());
        }
        if !opts.contains_key("dbname") {
            let user = opts.get("user").cloned().unwrap_or_default();
            opts.insert("dbname".into(), user);
        }
        if !opts.contains_key("host") && !opts.contains_key("hostaddr") {
            opts.insert("host".into(), DEFAULT_SOCKET_DIR.into());
        }
        let system = opts.get("sslrootcert").map(String::as_str) == Some("system");
        let mode = opts.entry("sslmode".into()).or_insert_with(|| {
            // libpq: the system's roots mean "check the name too" unless told otherwise.
            if system { "verify-full" } else { "prefer" }.into()
        });
        let mode = SslMode::parse(mode)?;
        if system && mode != SslMode::VerifyFull && mode != SslMode::Disable {
            return Err(format!(
                "sslrootcert=system needs sslmode=verify-full, not the weaker sslmode={}: any server with a public certificate would pass",
                mode.as_str()
            ));
        }
        let params = Self { opts, home };
        params.driver_config()?;
        Ok(params)
    }

    /// tokio-postgres' configuration of the options it takes, without a password file.
    fn driver_config(&self) -> Result<tokio_postgres::Config, String> {
        let mut text = String::new();
        for key in PASSED {
            if let Some(v) = self.opts.get(*key) {
                write!(text, "{key}='{}' ", quote(v)).ok();
            }
        }
        text.parse()
            .map_err(|e| format!("the connection string does not parse: {e}"))
    }

    /// The same options with one host and port (a cluster member's), the password
    /// file's line looked up again for it.
    #[must_use]
    pub fn at(&self, host: &str, port: u16) -> Self {
        let mut opts = self.opts.clone();
        opts.remove("hostaddr");
        opts.insert("host".into(), host.into());
        opts.insert("port".into(), port.to_string());
        Self {
            opts,
            home: self.home.clone(),
        }
    }

    /// An option's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.opts.get(key).map(String::as_str)
    }

    /// The sslmode in force.
    pub fn sslmode(&self) -> SslMode {
        self.get("sslmode")
            .and_then(|m| SslMode::parse(m).ok())
            .unwrap_or(SslMode::Prefer)
    }

    /// The home directory libpq's default files are under.
    pub fn home(&self) -> Option<&str> {
        self.home.as_deref()
    }

    /// `host:port` of the first host, for messages (never the password).
    pub fn describe(&self) -> String {
        let first = |k: &str| {
            self.get(k)
                .and_then(|v| v.split(',').next())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let host = first("host")
            .or_else(|| first("hostaddr"))
            .unwrap_or_else(|| "localhost".into());
        let port = first("port").unwrap_or_else(|| "5432".into());
        format!("{host}:{port}")
    }

    /// Whether every host is a Unix socket directory (libpq never uses TLS there).
    pub fn local_only(&self) -> bool {
        !self.opts.contains_key("hostaddr")
            && self.get("host").is_some_and(|h| {
                h.split(',')
                    .all(|h| h.starts_with('/') || h.starts_with('@'))
            })
    }

    /// tokio-postgres' configuration (sslmode left to the caller), with the password
    /// from the password file when none was given. `note` gets why a password file was
    /// skipped, to be told if the server then asks for a password.
    pub fn tokio_config(
        &self,
        note: &mut Option<String>,
    ) -> Result<tokio_postgres::Config, String> {
        let mut config = self.driver_config()?;
        if self.get("password").is_none() {
            match self.password_from_file() {
                Ok(Some(pw)) => {
                    config.password(pw);
                }
                Ok(None) => {}
                Err(why) => *note = Some(why),
            }
        }
        Ok(config)
    }

    /// The password file's password for the first host, port, database and user.
    fn password_from_file(&self) -> Result<Option<String>, String> {
        let path = match (self.get("passfile"), &self.home) {
            (Some(p), _) => p.to_owned(),
            (None, Some(h)) => format!("{h}/.pgpass"),
            (None, None) => return Ok(None),
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            return Ok(None);
        };
        if !meta.is_file() {
            return Err(format!("the password file is not a plain file ({path})"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(format!(
                    "the password file was ignored: it has group or world access; permissions should be u=rw (0600) or less ({path})"
                ));
            }
        }
        let text = super::bounds::read_small(&path, files::MAX_FILE_BYTES, "password file")?;
        let text = String::from_utf8_lossy(&text);
        let first = |k: &str, default: &str| {
            self.get(k)
                .and_then(|v| v.split(',').next())
                .filter(|v| !v.is_empty())
                .unwrap_or(default)
                .to_owned()
        };
        // libpq matches the host as given, else the address; a socket is "localhost".
        let mut host = match self.get("host") {
            Some(_) => first("host", "localhost"),
            None => first("hostaddr", "localhost"),
        };
        if host.starts_with('/') || host.starts_with('@') {
            host = "localhost".into();
        }
        let want = [
            host,
            first("port", "5432"),
            first("dbname", ""),
            first("user", ""),
        ];
        Ok(files::pgpass_lookup(&text, &want))
    }
}

/// libpq quoting for a `key='value'` pair.
fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\'', "\\'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_environment_fills_what_the_string_leaves_out() {
        let e = env(&[
            ("PGHOST", "envhost"),
            ("PGPORT", "6000"),
            ("PGSSLMODE", "require"),
            ("USER", "osuser"),
        ]);
        let p = Params::resolve("host=given", &e).expect("resolve");
        assert_eq!(p.get("host"), Some("given"));
        assert_eq!(p.get("port"), Some("6000"));
        assert_eq!(p.sslmode(), SslMode::Require);
        assert_eq!(p.get("user"), Some("osuser"));
        assert_eq!(p.get("dbname"), Some("osuser"));
        let d = Params::resolve("", &env(&[("USER", "u")])).expect("defaults");
        assert_eq!(d.sslmode(), SslMode::Prefer);
        assert!(d.local_only());
    }

    #[test]
    fn sslrootcert_system_means_verify_full() {
        let e = env(&[("USER", "u")]);
        let p = Params::resolve("host=h sslrootcert=system", &e).expect("resolve");
        assert_eq!(p.sslmode(), SslMode::VerifyFull);
        let err =
            Params::resolve("host=h sslrootcert=system sslmode=require", &e).expect_err("weak");
        assert!(err.contains("verify-full"), "{err}");
    }

    #[test]
    fn services_come_before_the_environment() {
        let dir = std::env::temp_dir().join(format!("sb-libpq-svc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("svc.conf");
        std::fs::write(
            &file,
            "# c\n[other]\nhost=nope\n[prod]\nhost=db.prod\nport=6432\nsslmode=verify-full\n",
        )
        .expect("write");
        let e = env(&[
            ("PGSERVICEFILE", file.to_str().expect("utf8")),
            ("PGSERVICE", "prod"),
            ("PGPORT", "7000"),
            ("PGUSER", "app"),
        ]);
        let p = Params::resolve("", &e).expect("resolve");
        assert_eq!(p.get("host"), Some("db.prod"));
        assert_eq!(p.get("port"), Some("6432"));
        assert_eq!(p.sslmode(), SslMode::VerifyFull);
        let err = Params::resolve("service=missing", &e).expect_err("missing");
        assert!(
            err.contains("definition of service \"missing\" not found"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_password_file_is_ignored_with_words() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("sb-libpq-pass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("pgpass");
        std::fs::write(&file, "*:*:*:*:filepw\n").expect("write");
        let path = file.to_str().expect("utf8").to_owned();
        let e = env(&[("PGPASSFILE", &path), ("USER", "u")]);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let p = Params::resolve("host=h", &e).expect("resolve");
        let mut note = None;
        let c = p.tokio_config(&mut note).expect("config");
        assert_eq!(c.get_password(), Some(&b"filepw"[..]));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let c = p.tokio_config(&mut note).expect("config");
        assert_eq!(c.get_password(), None);
        let note = note.unwrap_or_default();
        assert!(note.contains("group or world access"), "{note}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = Params::resolve("host=h user=u password=hunter2", &Env::new()).expect("resolve");
        let shown = format!("{p:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(p.at("10.0.0.5", 5441).describe(), "10.0.0.5:5441");
    }

    #[test]
    fn a_members_connection_keeps_the_tls_settings() {
        let p = Params::resolve(
            "postgresql://u@vip:5000/db?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem&hostaddr=10.0.0.1",
            &Env::new(),
        )
        .expect("resolve");
        let m = p.at("10.0.0.7", 5433);
        assert_eq!(m.sslmode(), SslMode::VerifyFull);
        for k in ["sslrootcert", "sslcert", "sslkey", "user", "dbname"] {
            assert_eq!(m.get(k), p.get(k), "{k}");
        }
        assert_eq!(m.get("host"), Some("10.0.0.7"));
        assert_eq!(m.get("hostaddr"), None);
    }
}
