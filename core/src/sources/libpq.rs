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

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// The environment as libpq would see it: variable name to value.
pub type Env = BTreeMap<String, String>;

/// The process's environment, reduced to what libpq reads (`PG*`, `HOME`, `USER`,
/// `LOGNAME`).
pub fn process_env() -> Env {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("PG") || matches!(k.as_str(), "HOME" | "USER" | "LOGNAME"))
        .collect()
}

/// The most a service or password file may hold.
const MAX_FILE_BYTES: u64 = 256 * 1024;

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

/// Options handed to tokio-postgres as they are.
const PASSED: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];
/// Options read here.
const OWN: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslsni",
    "service",
    "passfile",
];
/// libpq options accepted and left unused: they change nothing a console relies on
/// (GSSAPI is never tried; rustls speaks TLS 1.2 and 1.3 only and never compresses).
const IGNORED: &[&str] = &[
    "fallback_application_name",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "sslcompression",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "client_encoding",
];

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
const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

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
            for (k, v) in service_options(&name, env, home.as_deref())? {
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
        let text = super::connection::read_small(&path, MAX_FILE_BYTES, "password file")?;
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
        Ok(pgpass_lookup(&text, &want))
    }
}

/// libpq quoting for a `key='value'` pair.
fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\'', "\\'")
}

/// The password of the first line of a password file matching `want` (host, port,
/// database, user); `*` matches anything, `\` escapes `:` and `\`.
fn pgpass_lookup(text: &str, want: &[String; 4]) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_escaped(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = fields[..4]
            .iter()
            .zip(want)
            .all(|((raw, value), w)| raw == "*" || value == w);
        if matches {
            // A password may itself hold ':' (escaped or not): the rest of the line.
            return Some(
                fields[4..]
                    .iter()
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(":"),
            );
        }
    }
    None
}

/// A password-file line's fields, each as written and unescaped.
fn split_escaped(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (mut raw, mut value) = (String::new(), String::new());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                raw.push(c);
                if let Some(n) = chars.next() {
                    raw.push(n);
                    value.push(n);
                }
            }
            ':' => out.push((std::mem::take(&mut raw), std::mem::take(&mut value))),
            c => {
                raw.push(c);
                value.push(c);
            }
        }
    }
    out.push((raw, value));
    out
}

/// A connection string's options, either form, each name checked.
pub fn parse(dsn: &str) -> Result<BTreeMap<String, String>, String> {
    let dsn = dsn.trim();
    let opts = if let Some(rest) = dsn
        .strip_prefix("postgresql://")
        .or_else(|| dsn.strip_prefix("postgres://"))
    {
        parse_uri(rest)?
    } else {
        parse_kv(dsn)?
    };
    for k in opts.keys() {
        check_key(k)?;
    }
    Ok(opts)
}

/// libpq options this console refuses rather than ignores: each would weaken or change
/// what the connection checks, or is not a monitoring connection.
const REFUSED: &[&str] = &[
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslcertmode",
    "requirepeer",
    "require_auth",
    "replication",
    "gssdelegation",
    "sslkeylogfile",
];

/// An option name is one this reader takes. Unknown names are not repeated: a stray
/// word may be part of an unquoted password.
fn check_key(k: &str) -> Result<(), String> {
    if PASSED.contains(&k) || OWN.contains(&k) || IGNORED.contains(&k) {
        Ok(())
    } else if REFUSED.contains(&k) {
        Err(format!("the connection option {k:?} is not supported here"))
    } else {
        Err(
            "the connection string has an option name libpq does not know (a value with a space needs single quotes)"
                .into(),
        )
    }
}

/// `key=value` pairs: values bare or in single quotes, `\` escaping.
fn parse_kv(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut it = s.chars().peekable();
    loop {
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        if it.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = it.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            it.next();
        }
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        if it.next() != Some('=') {
            // The word is not repeated: it may be part of an unquoted password.
            return Err(
                "the connection string does not parse: a word without \"=\" (a value with a space needs single quotes)"
                    .into(),
            );
        }
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        let mut value = String::new();
        if it.peek() == Some(&'\'') {
            it.next();
            loop {
                match it.next() {
                    Some('\\') => value.extend(it.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(format!(
                            "the connection string does not parse: the quoted value of {key:?} is not closed"
                        ));
                    }
                }
            }
        } else {
            while let Some(&c) = it.peek() {
                if c.is_whitespace() {
                    break;
                }
                it.next();
                if c == '\\' {
                    value.extend(it.next());
                } else {
                    value.push(c);
                }
            }
        }
        out.insert(key, value);
    }
}

/// The part of a `postgresql://` URI after the scheme:
/// `[user[:password]@][host[:port][,host[:port]...]][/dbname][?key=value&...]`.
fn parse_uri(rest: &str) -> Result<BTreeMap<String, String>, String> {
    let bad = |what: &str| format!("the connection URI does not parse: {what}");
    let mut out = BTreeMap::new();
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = main.split_once('/').unwrap_or((main, ""));
    let hosts = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                out.insert(
                    "user".into(),
                    decode(user).map_err(|()| bad("bad %-escape in the user"))?,
                );
            }
            if let Some(p) = password {
                out.insert(
                    "password".into(),
                    decode(p).map_err(|()| bad("bad %-escape in the password"))?,
                );
            }
            hosts
        }
        None => authority,
    };
    if !hosts.is_empty() {
        let (mut hs, mut ps) = (Vec::new(), Vec::new());
        for spec in hosts.split(',') {
            let (host, port) = if let Some(v6) = spec.strip_prefix('[') {
                let (h, after) = v6
                    .split_once(']')
                    .ok_or_else(|| bad("unclosed [ in a host"))?;
                (h, after.strip_prefix(':'))
            } else {
                match spec.rsplit_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (spec, None),
                }
            };
            hs.push(decode(host).map_err(|()| bad("bad %-escape in a host"))?);
            ps.push(port.unwrap_or("").to_owned());
        }
        out.insert("host".into(), hs.join(","));
        if ps.iter().any(|p| !p.is_empty()) {
            let ps: Vec<String> = ps
                .into_iter()
                .map(|p| if p.is_empty() { "5432".into() } else { p })
                .collect();
            out.insert("port".into(), ps.join(","));
        }
    }
    if !path.is_empty() {
        out.insert(
            "dbname".into(),
            decode(path).map_err(|()| bad("bad %-escape in the database"))?,
        );
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| bad("a query parameter without \"=\""))?;
        let k = decode(k).map_err(|()| bad("bad %-escape in a parameter name"))?;
        let v = decode(v).map_err(|()| bad("bad %-escape in a parameter value"))?;
        // libpq's JDBC compatibility: ssl=true is sslmode=require.
        if k == "ssl" && v == "true" {
            out.insert("sslmode".into(), "require".into());
        } else {
            out.insert(k, v);
        }
    }
    Ok(out)
}

/// `%XX` decoding.
fn decode(s: &str) -> Result<String, ()> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or(())?;
            let hex = std::str::from_utf8(hex).map_err(|_| ())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// The options of service `name`: from `PGSERVICEFILE` (or `~/.pg_service.conf`),
/// else from `PGSYSCONFDIR/pg_service.conf`.
fn service_options(
    name: &str,
    env: &Env,
    home: Option<&str>,
) -> Result<BTreeMap<String, String>, String> {
    let user_file = env
        .get("PGSERVICEFILE")
        .cloned()
        .or_else(|| home.map(|h| format!("{h}/.pg_service.conf")));
    let sys_file = format!(
        "{}/pg_service.conf",
        env.get("PGSYSCONFDIR")
            .map_or(DEFAULT_SYSCONFDIR, String::as_str)
    );
    for path in user_file.iter().chain(std::iter::once(&sys_file)) {
        if !std::path::Path::new(path).exists() {
            continue;
        }
        let text = super::connection::read_small(path, MAX_FILE_BYTES, "service file")?;
        if let Some(found) = service_section(&String::from_utf8_lossy(&text), name, path)? {
            return Ok(found);
        }
    }
    Err(format!(
        "definition of service {name:?} not found (looked in {}{sys_file})",
        user_file.map(|f| format!("{f}, ")).unwrap_or_default()
    ))
}

/// Section `[name]` of a service file, if there is one.
fn service_section(
    text: &str,
    name: &str,
    path: &str,
) -> Result<Option<BTreeMap<String, String>>, String> {
    let mut inside = false;
    let mut found: Option<BTreeMap<String, String>> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if inside {
                break;
            }
            inside = section == name;
            if inside {
                found = Some(BTreeMap::new());
            }
            continue;
        }
        if !inside {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("syntax error in the service file, line {} ({path})", n + 1))?;
        let k = k.trim();
        if k == "service" {
            return Err(format!(
                "nested service specifications are not supported, line {} ({path})",
                n + 1
            ));
        }
        check_key(k).map_err(|e| format!("{e}, line {} ({path})", n + 1))?;
        if let Some(f) = found.as_mut() {
            f.insert(k.to_owned(), v.trim().to_owned());
        }
    }
    Ok(found)
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
    fn key_value_strings_parse_as_libpq_does() {
        let o = parse(r"host=db1 port = 5433 password='it\'s a \\ secret' sslmode=verify-full sslrootcert=/x/ca.pem")
            .expect("parse");
        assert_eq!(o["host"], "db1");
        assert_eq!(o["port"], "5433");
        assert_eq!(o["password"], r"it's a \ secret");
        assert_eq!(o["sslmode"], "verify-full");
        let err = parse("host=db1 sslpassword=hunter2").expect_err("refused");
        assert!(err.contains("sslpassword"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        // An unquoted password with a space: no part of it is repeated.
        for dsn in ["host=db1 password=hun ter2", "host=db1 password=hun ter2=x"] {
            let err = parse(dsn).expect_err("stray word");
            assert!(!err.contains("ter2"), "{err}");
            assert!(err.contains("single quotes"), "{err}");
        }
    }

    #[test]
    fn uris_parse_with_hosts_escapes_and_query() {
        let o = parse(
            "postgresql://u%40x:p%3Aw@h1:5433,[::1]:5434,h3/my%20db?sslmode=verify-ca&sslrootcert=%2Fetc%2Fca.pem",
        )
        .expect("parse");
        assert_eq!(o["user"], "u@x");
        assert_eq!(o["password"], "p:w");
        assert_eq!(o["host"], "h1,::1,h3");
        assert_eq!(o["port"], "5433,5434,5432");
        assert_eq!(o["dbname"], "my db");
        assert_eq!(o["sslmode"], "verify-ca");
        assert_eq!(o["sslrootcert"], "/etc/ca.pem");
        assert_eq!(
            parse("postgres://h?ssl=true").expect("ssl")["sslmode"],
            "require"
        );
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

    #[test]
    fn password_file_lines_match_with_wildcards_and_escapes() {
        let text = "# comment\nother:5432:*:u:nope\ndb\\:1:*:*:u:pa\\:ss:word\n";
        let want = |h: &str| {
            [
                "db:1".to_owned(),
                h.to_owned(),
                "d".to_owned(),
                "u".to_owned(),
            ]
        };
        assert_eq!(
            pgpass_lookup(text, &want("5432")).as_deref(),
            Some("pa:ss:word")
        );
        let none = [
            "x".to_owned(),
            "1".to_owned(),
            "d".to_owned(),
            "u".to_owned(),
        ];
        assert_eq!(pgpass_lookup(text, &none), None);
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
