//! Finding AWS credentials, region and endpoint as the AWS CLI does, so an engineer's
//! existing setup works unchanged:
//!
//! - credentials: the profile named in the configuration, if any; else
//!   `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`); else the
//!   profile `AWS_PROFILE` names (or `default`) in `~/.aws/credentials`
//!   (`AWS_SHARED_CREDENTIALS_FILE`), then in `~/.aws/config` (`AWS_CONFIG_FILE`);
//! - region: the configuration's, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's;
//! - endpoint: the configuration's, `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`,
//!   the profile's `endpoint_url`.
//!
//! A profile that gets its credentials another way (SSO, assuming a role, a
//! `credential_process`, web identity) is named in the error with the command that
//! turns it into variables the console reads; the instance metadata service is not
//! asked (a laptop has none). Nothing read here is logged or kept beyond the call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{AwsRef, Credentials};

/// The most an AWS configuration or credentials file may hold.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// What a call needs, and where the credentials came from (for messages: never the
/// secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The access key.
    pub credentials: Credentials,
    /// `None` when nothing names one (Route53 needs none: it is global).
    pub region: Option<String>,
    /// An endpoint other than AWS's own.
    pub endpoint: Option<String>,
    /// `environment` or `profile NAME (FILE)`.
    pub from: String,
}

/// Resolves `aws` for `service` (`EC2`, `ROUTE_53`: the suffix of its endpoint
/// variable) from the process environment and the user's `~/.aws`.
pub fn resolve(aws: &AwsRef, service: &str) -> Result<Resolved, String> {
    let home = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf());
    resolve_with(aws, service, &|k| std::env::var(k).ok(), home.as_deref())
}

/// [`resolve`] with the environment and home directory given.
pub fn resolve_with(
    aws: &AwsRef,
    service: &str,
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Resolved, String> {
    let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let profile = aws
        .profile
        .clone()
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_owned());
    let file = |var: &str, name: &str| -> Option<PathBuf> {
        env(var)
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".aws").join(name)))
    };
    let creds_file = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config_file = file("AWS_CONFIG_FILE", "config");
    let from_creds = read_section(creds_file.as_deref(), &profile, false)?;
    let from_config = read_section(config_file.as_deref(), &profile, true)?;
    let setting = |k: &str| {
        from_creds
            .as_ref()
            .and_then(|s| s.get(k))
            .or_else(|| from_config.as_ref().and_then(|s| s.get(k)))
            .cloned()
    };
    let env_keys = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) if aws.profile.is_none() => Some(Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: env("AWS_SESSION_TOKEN"),
        }),
        _ => None,
    };
    let (credentials, from) = if let Some(c) = env_keys {
        (c, "environment (AWS_ACCESS_KEY_ID)".to_owned())
    } else if let (Some(id), Some(secret)) = (
        setting("aws_access_key_id"),
        setting("aws_secret_access_key"),
    ) {
        let path = if from_creds
            .as_ref()
            .is_some_and(|s| s.contains_key("aws_access_key_id"))
        {
            &creds_file
        } else {
            &config_file
        };
        (
            Credentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: setting("aws_session_token"),
            },
            format!(
                "profile {profile} ({})",
                path.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
        )
    } else {
        return Err(missing(
            &profile,
            &setting,
            from_creds.is_some() || from_config.is_some(),
        ));
    };
    let region = aws
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| setting("region"));
    let endpoint = aws
        .endpoint
        .clone()
        .or_else(|| env(&format!("AWS_ENDPOINT_URL_{service}")))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .or_else(|| setting("endpoint_url"))
        .map(|e| e.trim_end_matches('/').to_owned());
    Ok(Resolved {
        credentials,
        region,
        endpoint,
        from,
    })
}

/// Why no credentials were found, in words, with what to do.
fn missing(profile: &str, setting: &dyn Fn(&str) -> Option<String>, exists: bool) -> String {
    let other = [
        ("sso_session", "AWS SSO"),
        ("sso_start_url", "AWS SSO"),
        ("role_arn", "assuming a role"),
        ("credential_process", "a credential_process"),
        ("web_identity_token_file", "web identity"),
    ]
    .into_iter()
    .find(|(k, _)| setting(k).is_some());
    match other {
        Some((_, how)) => format!(
            "AWS profile {profile} gets its credentials through {how}, which the console does not do itself: \
             run `eval \"$(aws configure export-credentials --profile {profile} --format env)\"` and start the console from that shell"
        ),
        None if exists => {
            format!("AWS profile {profile} has no aws_access_key_id and aws_secret_access_key")
        }
        None => format!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a profile in ~/.aws/credentials (profile {profile} not found)"
        ),
    }
}

/// The `key = value` lines of section `profile` of an INI file (`[name]` in the
/// credentials file; `[profile name]`, or `[default]`, in the config file). `None`
/// when the file or the section is not there.
fn read_section(
    path: Option<&Path>,
    profile: &str,
    config: bool,
) -> Result<Option<BTreeMap<String, String>>, String> {
    let Some(path) = path else { return Ok(None) };
    let text = match crate::sources::read_text_bounded(path, MAX_FILE_BYTES) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let wanted = |header: &str| {
        let h = header.trim();
        if config && profile != "default" {
            h.strip_prefix("profile")
                .is_some_and(|rest| rest.starts_with(char::is_whitespace) && rest.trim() == profile)
        } else {
            h == profile
        }
    };
    let mut inside = false;
    let mut found = None::<BTreeMap<String, String>>;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = wanted(header);
            if inside {
                found.get_or_insert_with(BTreeMap::new);
            }
            continue;
        }
        if inside
            && let Some((k, v)) = line.split_once('=')
            && let Some(section) = found.as_mut()
        {
            section.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home_with(creds: &str, config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join(".aws")).expect("mkdir");
        std::fs::write(dir.path().join(".aws/credentials"), creds).expect("write");
        std::fs::write(dir.path().join(".aws/config"), config).expect("write");
        dir
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    const CREDS: &str = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s0\n\n\
                         [prod]\naws_access_key_id=AKIAPROD\naws_secret_access_key=s1\naws_session_token = t1\n";
    const CONFIG: &str = "[default]\nregion = eu-west-1\n\n[profile prod]\nregion = eu-central-1\n\
                          endpoint_url = http://127.0.0.1:5000/\n\n[profile sso]\nsso_session = corp\n";

    /// The environment's keys come first unless the configuration names a profile;
    /// `AWS_PROFILE` picks the profile otherwise; region and endpoint follow the CLI's
    /// order.
    #[test]
    fn the_cli_order_is_followed() {
        let home = home_with(CREDS, CONFIG);
        let h = Some(home.path());
        let none = AwsRef::default();
        let r = resolve_with(&none, "EC2", &vars(&[]), h).expect("default");
        assert_eq!(r.credentials.access_key_id, "AKIADEFAULT");
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.endpoint, None);
        let env = vars(&[
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "s2"),
            ("AWS_PROFILE", "prod"),
            ("AWS_REGION", "us-west-2"),
            ("AWS_ENDPOINT_URL_EC2", "http://ec2.local"),
        ]);
        let r = resolve_with(&none, "EC2", &env, h).expect("env");
        assert_eq!(r.credentials.access_key_id, "AKIAENV");
        assert_eq!(r.region.as_deref(), Some("us-west-2"));
        assert_eq!(r.endpoint.as_deref(), Some("http://ec2.local"));
        assert!(r.from.starts_with("environment"));
        let named = AwsRef {
            profile: Some("prod".into()),
            ..AwsRef::default()
        };
        let r = resolve_with(&named, "ROUTE_53", &vars(&[]), h).expect("prod");
        assert_eq!(r.credentials.access_key_id, "AKIAPROD");
        assert_eq!(r.credentials.session_token.as_deref(), Some("t1"));
        assert_eq!(r.region.as_deref(), Some("eu-central-1"));
        assert_eq!(r.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert!(r.from.contains("profile prod"), "{}", r.from);
        assert!(
            !format!("{r:?}").contains("s1"),
            "the secret is not in Debug"
        );
    }

    /// What is missing is said in words, with what to run for an SSO profile.
    #[test]
    fn missing_credentials_say_what_to_do() {
        let home = home_with(CREDS, CONFIG);
        let h = Some(home.path());
        let sso = AwsRef {
            profile: Some("sso".into()),
            ..AwsRef::default()
        };
        let e = resolve_with(&sso, "EC2", &vars(&[]), h).expect_err("sso");
        assert!(
            e.contains("AWS SSO") && e.contains("export-credentials --profile sso"),
            "{e}"
        );
        let gone = AwsRef {
            profile: Some("nope".into()),
            ..AwsRef::default()
        };
        let e = resolve_with(&gone, "EC2", &vars(&[]), h).expect_err("missing");
        assert!(
            e.contains("no AWS credentials") && e.contains("nope"),
            "{e}"
        );
        let e = resolve_with(&AwsRef::default(), "EC2", &vars(&[]), None).expect_err("no home");
        assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
    }
}
