//! The rustls configuration of an HTTP client, from a source's [`TlsSettings`].
//!
//! reqwest takes a CA and a client identity, but it cannot check the server's
//! certificate against another name than the URL's host, so the configuration is made
//! here and handed to reqwest whole: the roots (the CA file, else the system's), the
//! client certificate, a verifier that checks `server_name` when one is set, and, only
//! when a person set `insecure_skip_verify`, one that accepts any certificate (the
//! handshake's signatures are still checked, so the session is at least with the holder
//! of the certificate shown).

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::sources::TlsSettings;
use crate::sources::connection::with_client_identity;
use crate::sources::verifier::{Check, Verifier};

/// The client configuration for `tls` (the system's roots and the URL's host when
/// `None`), speaking HTTP/2 or HTTP/1.1, on the ring provider.
pub(super) fn client_config(tls: Option<&TlsSettings>) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let default = TlsSettings::default();
    let tls = tls.unwrap_or(&default);
    let check = if tls.insecure_skip_verify {
        Check::Nothing
    } else if let Some(roots) = roots(tls)? {
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| format!("cannot set up certificate verification: {e}"))?;
        // reqwest checks the URL's host; tls.server_name names another.
        let name = tls
            .server_name
            .as_ref()
            .map(|name| {
                ServerName::try_from(name.clone()).map_err(|_| {
                    format!("tls.server_name is not a host name or an IP address ({name})")
                })
            })
            .transpose()?;
        Check::Full { webpki, name }
    } else {
        // No CA file and no system CAs: plain http:// still works; https:// says why not.
        Check::Refuse("no system CA certificates found; give the server's CA in tls.ca_file")
    };
    let verifier = Arc::new(Verifier::new(check, &provider));
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = with_client_identity(builder, Some(tls))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The CAs to trust: the CA file's, else the system's; `None` when the system has none
/// (a minimal container without ca-certificates).
fn roots(tls: &TlsSettings) -> Result<Option<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    if let Some(pem) = tls.ca_pem()? {
        let path = tls.ca_file.as_deref().unwrap_or_default();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert =
                cert.map_err(|e| format!("the CA file (tls.ca_file) is not PEM: {e} ({path})"))?;
            roots.add(cert).map_err(|e| {
                format!("the CA file (tls.ca_file) holds a bad certificate: {e} ({path})")
            })?;
        }
        if roots.is_empty() {
            return Err(format!(
                "the CA file (tls.ca_file) holds no certificate ({path})"
            ));
        }
    } else {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Ok(None);
        }
    }
    Ok(Some(roots))
}
