//! `syslog+tls://` (RFC 5425): the same octet-counted messages inside TLS,
//! with rustls (the TLS stack already in the tree through the client's
//! HTTP). The server's certificate must chain to the CA certificate file
//! the caller names and carry the host name connected to; there is no
//! fallback to the system's roots, since a syslog collector's certificate
//! usually comes from a private CA.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::ForwardError;
use super::syslog::Stream;

/// The trust anchors in `ca` (PEM, one or more certificates).
pub(super) fn roots(ca: &Path) -> Result<RootCertStore, ForwardError> {
    let setup = |reason: String| ForwardError::TlsSetup(format!("{}: {reason}", ca.display()));
    let mut roots = RootCertStore::empty();
    let certificates =
        CertificateDer::pem_file_iter(ca).map_err(|e| setup(format!("cannot read: {e}")))?;
    for certificate in certificates {
        let certificate = certificate.map_err(|e| setup(format!("not PEM certificates: {e}")))?;
        roots
            .add(certificate)
            .map_err(|e| setup(format!("not a usable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(setup("holds no certificate".to_owned()));
    }
    Ok(roots)
}

/// A TLS client over `tcp`, the handshake completed (so that a refused
/// certificate is a connection failure, before anything is sent).
pub(super) fn connect(
    host: &str,
    roots: RootCertStore,
    tcp: TcpStream,
) -> io::Result<Box<dyn Stream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let connection = ClientConnection::new(Arc::new(config), name).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(connection, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(Box::new(Tls(stream)))
}

/// The TLS stream.
struct Tls(StreamOwned<ClientConnection, TcpStream>);

impl Read for Tls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf) {
            // A server that closes the TCP connection without its own
            // close_notify has still read everything before ours.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }
}

impl Write for Tls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Stream for Tls {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.0.conn.send_close_notify();
        self.0.flush()?;
        while self.0.conn.wants_write() {
            self.0.conn.write_tls(&mut self.0.sock)?;
        }
        self.0.sock.shutdown(std::net::Shutdown::Write)
    }
}
