//! HTTPS: a rustls acceptor from PEM files, with ring as the crypto provider.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;
use crate::error::ServerError;

/// Loads the certificate chain and key and builds the acceptor (TLS 1.2 and 1.3, HTTP/1.1).
pub(crate) fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ServerError> {
    let fail = |reason: String| ServerError::Tls {
        cert: files.cert.clone(),
        key: files.key.clone(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| fail(format!("reading the certificate: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| fail(format!("reading the certificate: {e}")))?;
    if certs.is_empty() {
        return Err(fail("the certificate file holds no certificate".into()));
    }
    // The key's error is described without its content.
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| fail(format!("reading the private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| fail(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
