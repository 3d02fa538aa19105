//! The credentials an HTTP client sends, from a source's [`AuthSettings`].
//!
//! A password or a token from an environment variable is read once, when the client is
//! built. A token file is read again whenever its modification time or size changes,
//! checked before each request (one `stat`), because Consul and Kubernetes projected
//! tokens rotate under a running process. Values are held in [`Secret`], whose `Debug`
//! hides them; no error here quotes a file's content or a variable's value.

use std::sync::Mutex;
use std::time::SystemTime;

use crate::sources::AuthSettings;
use crate::sources::read_small;

/// The most a password or token file may hold: a JWT is a few kilobytes.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// A secret value: shown as `<hidden>` by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// `value`, hidden from now on.
    pub(crate) const fn new(value: String) -> Self {
        Self(value)
    }
}

impl Secret {
    /// The value, for the one place it is sent or compared.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// The credentials of one client.
#[derive(Debug)]
pub(crate) enum Credentials {
    /// HTTP basic authentication.
    Basic {
        /// The user.
        username: String,
        /// Its password.
        password: Secret,
    },
    /// A bearer token read once (from an environment variable).
    Bearer(Secret),
    /// A bearer token from a file, read again when the file changes.
    TokenFile {
        /// The file's path.
        path: String,
        /// The last token read, with the file's modification time and size then.
        last: Mutex<Option<(Option<SystemTime>, u64, Secret)>>,
    },
}

impl Credentials {
    /// The credentials `auth` names, read now (a token file: at the first request).
    pub(crate) fn from_settings(auth: &AuthSettings) -> Result<Self, String> {
        auth.check()?;
        if let Some(username) = &auth.username {
            let password = match (&auth.password_env, &auth.password_file) {
                (Some(var), _) => env_secret(var, "auth.password_env")?,
                (None, Some(path)) => file_secret(path, "password file (auth.password_file)")?,
                (None, None) => return Err("auth.username needs a password".into()),
            };
            return Ok(Self::Basic {
                username: username.clone(),
                password,
            });
        }
        match (&auth.token_env, &auth.token_file) {
            (Some(var), _) => Ok(Self::Bearer(env_secret(var, "auth.token_env")?)),
            (None, Some(path)) => Ok(Self::TokenFile {
                path: path.clone(),
                last: Mutex::new(None),
            }),
            (None, None) => Err("auth names no password and no token".into()),
        }
    }

    /// The bearer token now (a token file read again when it changed); `None` for basic
    /// authentication. For gRPC clients, which send it as metadata.
    pub(crate) fn bearer(&self) -> Result<Option<Secret>, String> {
        Ok(match self {
            Self::Basic { .. } => None,
            Self::Bearer(token) => Some(token.clone()),
            Self::TokenFile { path, last } => Some(current_token(path, last)?),
        })
    }

    /// `req` with these credentials, or why they cannot be had now (a token file gone).
    pub(crate) fn apply(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, String> {
        Ok(match self {
            Self::Basic { username, password } => req.basic_auth(username, Some(&password.0)),
            Self::Bearer(token) => req.bearer_auth(&token.0),
            Self::TokenFile { path, last } => req.bearer_auth(current_token(path, last)?.0),
        })
    }
}

/// The token in `path`, read again only when its time or size changed since `last`.
fn current_token(
    path: &str,
    last: &Mutex<Option<(Option<SystemTime>, u64, Secret)>>,
) -> Result<Secret, String> {
    let what = "token file (auth.token_file)";
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read the {what}: {e} ({path})"))?;
    let stamp = (meta.modified().ok(), meta.len());
    // A poisoned lock only means another request panicked mid-read: read again.
    let mut last = last
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((modified, len, token)) = last.as_ref()
        && (*modified, *len) == stamp
    {
        return Ok(token.clone());
    }
    let token = file_secret(path, what)?;
    *last = Some((stamp.0, stamp.1, token.clone()));
    Ok(token)
}

/// The value of the environment variable `var`, named by `field`.
fn env_secret(var: &str, field: &str) -> Result<Secret, String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_owned())),
        Ok(_) => Err(format!("the environment variable {var} ({field}) is empty")),
        Err(_) => Err(format!(
            "the environment variable {var} ({field}) is not set"
        )),
    }
}

/// A one-line secret file's content, trimmed.
fn file_secret(path: &str, what: &str) -> Result<Secret, String> {
    let bytes = read_small(path, MAX_SECRET_BYTES, what)?;
    let text = String::from_utf8(bytes).map_err(|_| format!("the {what} is not text ({path})"))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("the {what} is empty ({path})"));
    }
    Ok(Secret(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_every_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cr3t-token\n").expect("write");
        let c = Credentials::from_settings(&AuthSettings {
            token_file: Some(path.display().to_string()),
            ..AuthSettings::default()
        })
        .expect("credentials");
        let client = super::super::client(std::time::Duration::from_secs(1)).expect("client");
        // The first request reads the file.
        let req = c
            .apply(client.client.get("http://127.0.0.1:1/"))
            .expect("token");
        assert!(format!("{req:?}").contains("127.0.0.1"));
        let basic = Credentials::Basic {
            username: "u".into(),
            password: Secret("pa55word".into()),
        };
        let shown = format!("{c:?} {basic:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("pa55word"),
            "{shown}"
        );
        assert!(shown.contains("<hidden>"), "{shown}");
    }

    #[test]
    fn a_rewritten_token_file_is_read_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "one").expect("write");
        let p = path.display().to_string();
        let last = Mutex::new(None);
        assert_eq!(current_token(&p, &last).expect("first").0, "one");
        std::fs::write(&path, "second").expect("rewrite");
        assert_eq!(current_token(&p, &last).expect("second").0, "second");
        std::fs::remove_file(&path).expect("remove");
        let err = current_token(&p, &last).expect_err("gone");
        assert!(
            err.starts_with("cannot read the token file (auth.token_file)"),
            "{err}"
        );
    }
}
