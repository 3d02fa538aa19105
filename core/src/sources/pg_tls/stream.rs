//! tokio-postgres' TLS hook over tokio-rustls: the handshake with the server name
//! tokio-postgres dials, what it did (tried, the server's certificate, rustls' own
//! error) told back to the attempt, and the session's channel binding data
//! (`tls-server-end-point`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// What one handshake did, shared with the attempt that started it.
#[derive(Clone, Default)]
pub(super) struct Handshake {
    /// The server said yes to TLS and the handshake began.
    pub(super) tried: bool,
    /// The server's leaf certificate (DER), once the handshake is done.
    pub(super) leaf: Option<Vec<u8>>,
    /// rustls' error, when the handshake failed.
    pub(super) failure: Option<rustls::Error>,
}

/// tokio-postgres' TLS hook over tokio-rustls.
pub(super) struct MakeRustls {
    pub(super) config: Arc<ClientConfig>,
    pub(super) state: Arc<Mutex<Handshake>>,
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name = ServerName::try_from(domain.to_owned()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{domain:?} is neither a host name nor an IP address"),
            )
        })?;
        Ok(RustlsConnect {
            connector: tokio_rustls::TlsConnector::from(Arc::clone(&self.config)),
            name,
            state: Arc::clone(&self.state),
        })
    }
}

/// One handshake to come.
pub(super) struct RustlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
    state: Arc<Mutex<Handshake>>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let record = |f: &mut dyn FnMut(&mut Handshake)| {
                f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
            };
            record(&mut |h| h.tried = true);
            match self.connector.connect(self.name, stream).await {
                Ok(s) => {
                    let leaf = s
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| c.as_ref().to_vec());
                    record(&mut |h| h.leaf.clone_from(&leaf));
                    let binding = leaf.as_deref().and_then(end_point);
                    Ok(RustlsStream(Box::new(s), binding))
                }
                Err(e) => {
                    let tls = e
                        .get_ref()
                        .and_then(|i| i.downcast_ref::<rustls::Error>())
                        .cloned();
                    record(&mut |h| h.failure.clone_from(&tls));
                    Err(e)
                }
            }
        })
    }
}

/// `tls-server-end-point` of a certificate (RFC 5929): the certificate hashed with its
/// signature's hash, MD5 and SHA-1 raised to SHA-256; `None` (no binding offered) when
/// the signature names no hash ring has (Ed25519, RSA-PSS, SHA-224).
fn end_point(der: &[u8]) -> Option<Vec<u8>> {
    use x509_cert::der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let alg = match cert.signature_algorithm.oid.to_string().as_str() {
        // md5, sha1, sha256 WithRSAEncryption; ecdsa-with-SHA1, ecdsa-with-SHA256.
        "1.2.840.113549.1.1.4"
        | "1.2.840.113549.1.1.5"
        | "1.2.840.113549.1.1.11"
        | "1.2.840.10045.4.1"
        | "1.2.840.10045.4.3.2" => &ring::digest::SHA256,
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => &ring::digest::SHA384,
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => &ring::digest::SHA512,
        _ => return None,
    };
    Some(ring::digest::digest(alg, der).as_ref().to_vec())
}

/// A TLS session to the server, and its channel binding data when there is one.
pub(super) struct RustlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>, Option<Vec<u8>>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.1
            .clone()
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}
