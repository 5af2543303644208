//! TLS for the servers: a certificate chain and its private key read from PEM files into a rustls
//! configuration (ring provider), and a listener that completes each handshake in a task of its
//! own so that a slow or silent client holds up nobody else. A file that cannot be read or parsed
//! stops the server from starting; it never falls back to plain text.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

/// Longest a client may take over its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Handshakes under way at most; connections past this wait in the kernel's queue.
const HANDSHAKES_AT_ONCE: usize = 256;

/// Why TLS could not be set up; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is missing, unreadable, or holds no certificate.
    #[error("TLS certificate {}: {reason}", path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key file is missing, unreadable, or holds no private key.
    #[error("TLS private key {}: {reason}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key does not belong to the certificate, or the pair is otherwise unusable.
    #[error("TLS certificate {} with key {}: {reason}", cert.display(), key.display())]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A server configuration from a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or
/// SEC1), offering the ALPN protocols given (`http/1.1` for the explorer, none for PostgreSQL).
pub fn server_config(cert: &Path, key: &Path, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
    let certificate = |reason: String| TlsError::Certificate { path: cert.to_owned(), reason };
    std::fs::metadata(cert).map_err(|e| certificate(e.to_string()))?;
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| certificate(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| certificate(e.to_string()))?;
    if chain.is_empty() {
        return Err(certificate("no PEM certificate in the file".into()));
    }
    let key_error = |reason: String| TlsError::Key { path: key.to_owned(), reason };
    std::fs::metadata(key).map_err(|e| key_error(e.to_string()))?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| key_error(e.to_string()))?;
    let pair = |e: rustls::Error| TlsError::Pair { cert: cert.to_owned(), key: key.to_owned(), reason: e.to_string() };
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(pair)?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(pair)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A TCP listener whose connections come out with their TLS handshake done.
pub struct TlsListener {
    local: SocketAddr,
    done: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `listener` (call inside a tokio runtime).
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, done) = tokio::sync::mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let at_once = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_AT_ONCE));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = at_once.clone().acquire_owned().await else { return };
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    // Out of file descriptors and the like: wait a little rather than spin.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, sender) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    // A failed or slow handshake (a plain-text client, a scanner) is dropped.
                    if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        drop(permit);
                        let _ = sender.send((tls, peer)).await;
                    }
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        Ok(TlsListener { local, done })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.done.recv().await {
            Some(accepted) => accepted,
            // The accepting task ended (the runtime is shutting down): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_wrong_files_are_named_in_the_error() {
        let dir = std::env::temp_dir().join(format!("hotline-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let e = server_config(&cert, &key, &[]).unwrap_err().to_string();
        assert!(e.contains("cert.pem") && e.contains("certificate"), "{e}");
        std::fs::write(&cert, "not a certificate\n").unwrap();
        let e = server_config(&cert, &key, &[]).unwrap_err().to_string();
        assert!(e.contains("cert.pem") && e.contains("no PEM certificate"), "{e}");
        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        let e = server_config(&cert, &key, &[]).unwrap_err().to_string();
        assert!(e.contains("key.pem"), "the missing key is named: {e}");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
        let e = server_config(&cert, &key, &[]).unwrap_err().to_string();
        assert!(e.contains("cert.pem") && e.contains("key.pem"), "an unusable pair names both: {e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
