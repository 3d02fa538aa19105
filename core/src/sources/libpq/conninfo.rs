//! A connection string's own options, in both of libpq's forms: `key=value` pairs
//! (values bare or single-quoted, `\` escaping) and `postgresql://` URIs (user,
//! password, several `host:port`, database, `?key=value` parameters, `%XX` escapes);
//! each option name checked against what the console takes, ignores or refuses.

use std::collections::BTreeMap;

/// Options handed to tokio-postgres as they are.
pub(super) const PASSED: &[&str] = &[
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
pub(super) fn check_key(k: &str) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
