//! HTTPS with rustls, from PEM files.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use secrets_server::client::{Client, Credentials, SignatureVersion};
use secrets_server::{Server, ServerConfig, ServerError, TlsFiles};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tls_files() -> TlsFiles {
    TlsFiles {
        cert: fixture("test-only-cert.pem"),
        key: fixture("test-only-key.pem"),
    }
}

#[tokio::test]
async fn https_with_a_pem_certificate_serves_signed_requests() {
    let server = common::start_with(common::memory_storage(), |c| c.tls = Some(tls_files())).await;

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("test-only-ca.pem")).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let mut client = Client::handshake(
        tls,
        format!("localhost:{}", server.addr.port()),
        Credentials::new(common::ADMIN.0, common::ADMIN.1),
        SignatureVersion::V3,
    )
    .await
    .unwrap();
    let reply = client
        .call(
            "CreateSecret",
            &[
                ("SecretName", "tls"),
                ("VersionId", "v1"),
                ("SecretData", "over tls"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = client
        .call("GetSecretValue", &[("SecretName", "tls")])
        .await
        .unwrap();
    assert_eq!(reply.body["SecretData"], "over tls");
    drop(client);
    server.stop().await;
}

#[tokio::test]
async fn a_missing_or_wrong_key_file_fails_to_start() {
    let keys = common::keys();
    for files in [
        TlsFiles {
            cert: fixture("test-only-cert.pem"),
            key: fixture("absent.pem"),
        },
        TlsFiles {
            cert: fixture("test-only-key.pem"),
            key: fixture("test-only-key.pem"),
        },
    ] {
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), keys.clone());
        config.tls = Some(files);
        let store = common::store(common::memory_storage(), &keys);
        let err = Server::bind(config, store).await.unwrap_err();
        assert!(matches!(err, ServerError::Tls { .. }), "{err}");
        assert!(!err.to_string().contains("PRIVATE KEY-----\nMI"), "{err}");
    }
}
