//! libpq's files: the service file (`[name]` sections of `key=value` lines, looked up
//! in `PGSERVICEFILE` or `~/.pg_service.conf`, then `PGSYSCONFDIR/pg_service.conf`) and
//! the password file's lines (`host:port:db:user:password`, `*` and `\` escapes).
//! Each file is read whole, bounded in size.

use std::collections::BTreeMap;

use super::Env;

/// The most a service or password file may hold.
pub(super) const MAX_FILE_BYTES: u64 = 256 * 1024;

/// Where Debian's libpq looks for the system-wide service file.
const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

/// The password of the first line of a password file matching `want` (host, port,
/// database, user); `*` matches anything, `\` escapes `:` and `\`.
pub(super) fn pgpass_lookup(text: &str, want: &[String; 4]) -> Option<String> {
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

/// The options of service `name`: from `PGSERVICEFILE` (or `~/.pg_service.conf`),
/// else from `PGSYSCONFDIR/pg_service.conf`.
pub(super) fn service_options(
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
        let text = crate::sources::read_small(path, MAX_FILE_BYTES, "service file")?;
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
        super::conninfo::check_key(k).map_err(|e| format!("{e}, line {} ({path})", n + 1))?;
        if let Some(f) = found.as_mut() {
            f.insert(k.to_owned(), v.trim().to_owned());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
