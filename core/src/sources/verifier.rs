//! The one server-certificate check every TLS client here builds (HTTP, PostgreSQL,
//! the transport watcher's handshake): what is asked of the certificate is a
//! [`Check`]; the handshake's signatures are always checked against the certificate
//! presented, so even an unchecked session is encrypted to whoever holds its key. It
//! can keep the certificate it was shown, for its expiry.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// What is asked of the server's certificate.
#[derive(Debug)]
pub(crate) enum Check {
    /// Chained to the roots and holding the name dialled (or `name` when given).
    Full {
        /// The roots' verifier.
        webpki: Arc<WebPkiServerVerifier>,
        /// The name to check instead of the one dialled (`tls.server_name`).
        name: Option<ServerName<'static>>,
    },
    /// Chained to the roots, any name (libpq's `verify-ca`).
    ChainOnly(Arc<WebPkiServerVerifier>),
    /// Nothing (`insecure_skip_verify`, libpq's `require` without a root certificate,
    /// the transport watcher that only reads it).
    Nothing,
    /// Always refused, saying why (no roots to check against).
    Refuse(&'static str),
}

/// [`Check`] with the handshake-signature checks, keeping the last certificate shown
/// in `seen` when given.
#[derive(Debug)]
pub(crate) struct Verifier {
    check: Check,
    algorithms: WebPkiSupportedAlgorithms,
    seen: Option<Arc<Mutex<Option<Vec<u8>>>>>,
}

impl Verifier {
    /// `check`, with `provider`'s signature algorithms.
    pub(crate) fn new(check: Check, provider: &CryptoProvider) -> Self {
        Self {
            check,
            algorithms: provider.signature_verification_algorithms,
            seen: None,
        }
    }

    /// This verifier, also writing each certificate it is shown (DER) into `seen`.
    #[must_use]
    pub(crate) fn keeping(mut self, seen: Arc<Mutex<Option<Vec<u8>>>>) -> Self {
        self.seen = Some(seen);
        self
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(seen) = &self.seen {
            *seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(end_entity.to_vec());
        }
        match &self.check {
            Check::Full { webpki, name } => webpki.verify_server_cert(
                end_entity,
                intermediates,
                name.as_ref().unwrap_or(server_name),
                ocsp,
                now,
            ),
            // webpki checks the name last, after the chain: a name mismatch means the
            // chain was good.
            Check::ChainOnly(webpki) => {
                match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                    Err(rustls::Error::InvalidCertificate(
                        CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. },
                    )) => Ok(ServerCertVerified::assertion()),
                    other => other,
                }
            }
            Check::Nothing => Ok(ServerCertVerified::assertion()),
            Check::Refuse(why) => Err(rustls::Error::General((*why).to_owned())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
