//! One log line per request, naming it (action, AccessKeyId, status, code, latency, request
//! id) and never carrying a value, a signature or an access key secret.

mod common;

use common::Captured;
use secrets_server::client::{CallOptions, Client, Credentials, SignatureVersion};

// A current-thread runtime polls every connection task on the test's thread, where the
// subscriber is installed.
#[tokio::test(flavor = "current_thread")]
async fn request_log_lines_name_the_request_but_never_a_secret() {
    let captured = Captured::default();
    let subscriber = captured.subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = common::start().await;
    let mut admin = server.client(common::ADMIN, SignatureVersion::V3).await;
    let value = "TOP-SECRET-VALUE-42";
    let params = [
        ("SecretName", "logged"),
        ("VersionId", "v1"),
        ("SecretData", value),
    ];
    let signed = admin
        .signed_request("CreateSecret", &params, &CallOptions::default())
        .unwrap();
    let signature = signed.headers()["authorization"]
        .to_str()
        .unwrap()
        .rsplit('=')
        .next()
        .unwrap()
        .to_owned();
    let created = admin.send(signed).await.unwrap();
    let got = admin
        .call("GetSecretValue", &[("SecretName", "logged")])
        .await
        .unwrap();
    assert_eq!(got.body["SecretData"], value);
    let mut wrong = Client::connect(
        server.addr,
        Credentials::new(common::ADMIN.0, "guess"),
        SignatureVersion::V1,
    )
    .await
    .unwrap();
    let refused = wrong
        .call(
            "PutSecretValue",
            &[
                ("SecretName", "logged"),
                ("VersionId", "v2"),
                ("SecretData", value),
            ],
        )
        .await
        .unwrap();
    assert_eq!(refused.code(), Some("SignatureDoesNotMatch"));
    drop((admin, wrong));
    server.stop().await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let requests: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("secrets_server::request"))
        .collect();
    assert_eq!(requests.len(), 3, "{log}");
    let created_id = created.body["RequestId"].as_str().unwrap();
    assert!(
        requests[0].contains(&format!("request_id={created_id}")),
        "{}",
        requests[0]
    );
    assert!(requests[0].contains("action=CreateSecret") && requests[0].contains("status=200"));
    assert!(requests[0].contains("access_key_id=admin-key") && requests[0].contains("latency_us="));
    assert!(
        requests[2].contains("status=400")
            && requests[2].contains("code=\"SignatureDoesNotMatch\"")
    );
    let refused_id = refused.body["RequestId"].as_str().unwrap();
    assert!(requests[2].contains(refused_id), "{}", requests[2]);
    for secret in [
        value,
        common::ADMIN.1,
        signature.as_str(),
        "server string to sign",
    ] {
        assert!(!log.contains(secret), "the log contains {secret:?}:\n{log}");
    }
}
