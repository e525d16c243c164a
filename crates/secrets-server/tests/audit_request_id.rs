//! The RequestId a caller gets, for a failed operation as for a successful one, is the one the
//! store's audit event and the server's request log name.
#![allow(missing_docs)]

mod common;

use common::Captured;
use secrets_server::client::SignatureVersion;

#[test]
fn a_failed_operations_request_id_matches_its_audit_event() {
    let captured = Captured::default();
    let subscriber = captured.subscriber();
    // Global: the operations run on blocking-pool threads.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ok_id, failed_id) = rt.block_on(async {
        let server = common::start().await;
        let mut admin = server.client(common::ADMIN, SignatureVersion::V3).await;
        let ok = admin
            .call(
                "CreateSecret",
                &[
                    ("SecretName", "app/a"),
                    ("VersionId", "v1"),
                    ("SecretData", "pw"),
                ],
            )
            .await
            .unwrap();
        let failed = admin
            .call("GetSecretValue", &[("SecretName", "app/missing")])
            .await
            .unwrap();
        assert_eq!(failed.code(), Some("Forbidden.ResourceNotFound"));
        drop(admin);
        server.stop().await;
        (
            ok.body["RequestId"].as_str().unwrap().to_owned(),
            failed.body["RequestId"].as_str().unwrap().to_owned(),
        )
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let audit: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("secrets_audit"))
        .collect();
    let requests: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("secrets_server::request"))
        .collect();
    assert_eq!(audit.len(), 2, "{log}");
    assert_eq!(requests.len(), 2, "{log}");
    for (i, id) in [ok_id, failed_id].iter().enumerate() {
        assert!(
            audit[i].contains(id.as_str()),
            "the caller got RequestId {id}, the audit event says:\n{}",
            audit[i]
        );
        assert!(
            requests[i].contains(id.as_str()),
            "the caller got RequestId {id}, the request log says:\n{}",
            requests[i]
        );
    }
}
