//! The rustls client configuration of one PostgreSQL server, from libpq's settings:
//! the roots (`sslrootcert`, `system`, or `~/.postgresql/root.crt`), the check they make
//! (the chain and the name for `verify-full`, the chain alone otherwise, nothing without
//! roots), and the client certificate (`sslcert`/`sslkey` or libpq's default files, the
//! key refused when others can read it). Files are read bounded in size.

use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::sources::libpq::{Params, SslMode};
use crate::sources::verifier::{Check, Verifier};

/// The most a certificate or key file may hold.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// The TLS settings of one server, read from its files.
pub(super) struct PgTls {
    pub(super) config: Arc<ClientConfig>,
    /// The server's certificate is checked (chain, and name under verify-full).
    pub(super) verified: bool,
    /// Where the roots came from, for messages.
    pub(super) roots: String,
    /// The sslmode it was made for.
    pub(super) mode: SslMode,
    /// The last certificate the server presented, kept even when it was refused (an
    /// expired one's date is what the operator needs).
    pub(super) seen: Arc<Mutex<Option<Vec<u8>>>>,
}

impl PgTls {
    pub(super) fn new(params: &Params, mode: SslMode) -> Result<Self, String> {
        rustls::crypto::ring::default_provider()
            .install_default()
            .ok();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let home_file = |f: &str| params.home().map(|h| format!("{h}/.postgresql/{f}"));
        let root_path = params
            .get("sslrootcert")
            .map(str::to_owned)
            .or_else(|| home_file("root.crt"));
        let (roots, from) = match root_path.as_deref() {
            Some("system") => (
                Some(system_roots()?),
                "the system's trusted roots".to_owned(),
            ),
            Some(p) if std::path::Path::new(p).exists() => {
                (Some(file_roots(p)?), format!("sslrootcert {p}"))
            }
            other => {
                if mode.verifies() {
                    return Err(format!(
                        "root certificate file \"{}\" does not exist: give the CA in sslrootcert, use the system's roots with sslrootcert=system, or set an sslmode that does not verify",
                        other.unwrap_or("~/.postgresql/root.crt")
                    ));
                }
                (None, "no sslrootcert".to_owned())
            }
        };
        let verified = roots.is_some();
        let seen = Arc::new(Mutex::new(None));
        let check = match roots {
            Some(roots) => {
                let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|e| format!("cannot use the root certificates ({from}): {e}"))?;
                if mode == SslMode::VerifyFull {
                    Check::Full { webpki, name: None }
                } else {
                    Check::ChainOnly(webpki)
                }
            }
            None => Check::Nothing,
        };
        let checker = Verifier::new(check, &provider).keeping(Arc::clone(&seen));
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(checker));
        let mut config = match identity(params, &home_file)? {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
                format!("the client certificate (sslcert) and key (sslkey) do not go together: {e}")
            })?,
            None => builder.with_no_client_auth(),
        };
        // libpq sends SNI unless sslsni=0; rustls never sends it for an IP address.
        config.enable_sni = params.get("sslsni") != Some("0");
        Ok(Self {
            config: Arc::new(config),
            verified,
            roots: from,
            mode,
            seen,
        })
    }
}

/// The system's trusted roots.
fn system_roots() -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err("sslrootcert=system: the system has no trusted root certificates".into());
    }
    Ok(store)
}

/// The roots in a PEM file.
fn file_roots(path: &str) -> Result<RootCertStore, String> {
    let pem =
        crate::sources::read_small(path, MAX_PEM_BYTES, "root certificate file (sslrootcert)")?;
    let mut store = RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the root certificate file (sslrootcert) is not PEM: {e} ({path})"))?;
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!(
            "the root certificate file (sslrootcert) holds no certificate ({path})"
        ));
    }
    Ok(store)
}

/// The client certificate and key: `sslcert`/`sslkey`, else libpq's default files when
/// they exist. An `sslcert` given but missing is an error (libpq would go on without a
/// certificate, and the server's refusal would then hide the cause).
fn identity(
    params: &Params,
    home_file: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, String> {
    let cert_path = match params.get("sslcert") {
        Some(p) if !std::path::Path::new(p).exists() => {
            return Err(format!(
                "the client certificate file (sslcert) does not exist ({p})"
            ));
        }
        Some(p) => p.to_owned(),
        None => match home_file("postgresql.crt") {
            Some(p) if std::path::Path::new(&p).exists() => p,
            _ => return Ok(None),
        },
    };
    let key_path = params
        .get("sslkey")
        .map(str::to_owned)
        .or_else(|| home_file("postgresql.key"))
        .ok_or("a client certificate (sslcert) is set but no key (sslkey)")?;
    check_key_mode(&key_path)?;
    let pem =
        crate::sources::read_small(&cert_path, MAX_PEM_BYTES, "client certificate (sslcert)")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the client certificate (sslcert) is not PEM: {e} ({cert_path})"))?;
    if chain.is_empty() {
        return Err(format!(
            "the client certificate file holds no certificate ({cert_path})"
        ));
    }
    let pem = crate::sources::read_small(&key_path, MAX_PEM_BYTES, "private key (sslkey)")?;
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|_| format!("the private key (sslkey) is not a PEM private key ({key_path})"))?;
    Ok(Some((chain, key)))
}

/// libpq's rule for a private key file: a plain file, no access for others (0600) if the
/// current user owns it, at most group-read (0640) if root owns it.
fn check_key_mode(path: &str) -> Result<(), String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the private key (sslkey): {e} ({path})"))?;
    if !meta.is_file() {
        return Err(format!(
            "the private key (sslkey) is not a plain file ({path})"
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        // /proc/self belongs to the process's effective user.
        let me = std::fs::metadata("/proc/self").map_or(meta.uid(), |m| m.uid());
        let mode = meta.mode();
        let open = if meta.uid() == me {
            mode & 0o077
        } else {
            mode & 0o137
        };
        if open != 0 {
            return Err(format!(
                "the private key (sslkey) has group or world access: it must be u=rw (0600) or less if owned by the current user, or u=rw,g=r (0640) or less if owned by root ({path})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_is_refused_in_words() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("sb-pgtls-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let key = dir.join("client.key");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").expect("write");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let path = key.to_str().expect("utf8");
        let err = check_key_mode(path).expect_err("world-readable");
        assert!(err.contains("group or world access"), "{err}");
        assert!(err.ends_with(&format!("({path})")), "{err}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        check_key_mode(path).expect("0600 is fine");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn verify_modes_need_a_root_certificate() {
        let env: crate::sources::libpq::Env = [("HOME", "/nonexistent"), ("USER", "u")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let p = Params::resolve("host=h sslmode=verify-ca", &env).expect("params");
        let err = PgTls::new(&p, SslMode::VerifyCa).err().unwrap_or_default();
        assert!(err.contains("root certificate file"), "{err}");
        let p = Params::resolve("host=h sslmode=require", &env).expect("params");
        let t = PgTls::new(&p, SslMode::Require).expect("require without roots");
        assert!(!t.verified);
    }
}
