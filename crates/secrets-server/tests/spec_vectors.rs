//! SPEC.md §5's signature test vectors, sent byte for byte to a running server whose clock
//! shows the vectors' time: the server accepts exactly those signatures.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use secret_model::Timestamp;
use secrets_manager::ManualClock;
use secrets_server::AccessKeys;
use secrets_server::signature::{v1, v3};

const NONCE: &str = "0123456789abcdef0123456789abcdef";
const KEYS: &str = r#"{"testid": {"secret": "testsecret", "policy": {"Version": "1",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}}"#;
/// 2024-01-01T00:00:00Z.
const VECTOR_TIME: i64 = 1_704_067_200;

async fn vector_server(clock: ManualClock) -> common::TestServer {
    let keys = Arc::new(AccessKeys::from_json(KEYS.as_bytes()).unwrap());
    let mut config =
        secrets_server::ServerConfig::new("127.0.0.1:0".parse().unwrap(), keys.clone());
    config.clock = Arc::new(clock);
    let store = common::store(common::memory_storage(), &keys);
    common::run(secrets_server::Server::bind(config, store).await.unwrap())
}

async fn send(
    addr: std::net::SocketAddr,
    request: hyper::Request<Full<Bytes>>,
) -> (u16, serde_json::Value) {
    let (status, _, body) = common::send_raw(addr, request).await;
    (status, body)
}

/// The second V3 vector: CreateSecret with a form body, signed for host 127.0.0.1:8080.
fn v3_create_secret() -> hyper::Request<Full<Bytes>> {
    let body_hash = "010f7bffd5abc432ac3bfedb0f415b5ed9dcb1973bb5b0d78e0bda602adede23";
    let signed = "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version";
    let signature = "829ccfa723a8d65b8ec33990f083504a7004afc0048f1369d4a642d014325513";
    hyper::Request::post("/?SecretName=s1&VersionId=v1")
        .header("host", "127.0.0.1:8080")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-acs-action", "CreateSecret")
        .header("x-acs-content-sha256", body_hash)
        .header("x-acs-date", "2024-01-01T00:00:00Z")
        .header("x-acs-signature-nonce", NONCE)
        .header("x-acs-version", "2016-01-20")
        .header(
            "authorization",
            v3::authorization("testid", signed, signature),
        )
        .body(Full::new(Bytes::from_static(b"SecretData=hello+world")))
        .unwrap()
}

#[tokio::test]
async fn the_v3_form_body_vector_is_accepted_and_stores_its_value() {
    let server = vector_server(ManualClock::new(Timestamp::from_unix(VECTOR_TIME + 60))).await;
    let (status, body) = send(server.addr, v3_create_secret()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["SecretName"], "s1");
    // Sent again, the same bytes are a replay.
    let (status, body) = send(server.addr, v3_create_secret()).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureNonceUsed"))
    );
    server.stop().await;
}

#[tokio::test]
async fn the_v3_query_vector_passes_authentication() {
    let server = vector_server(ManualClock::new(Timestamp::from_unix(VECTOR_TIME))).await;
    let request = hyper::Request::post("/?SecretName=my%20secret%2F1&VersionStage=ACSCurrent")
        .header("host", "kms.cn-hangzhou.aliyuncs.com")
        .header("x-acs-action", "GetSecretValue")
        .header("x-acs-content-sha256", v3::EMPTY_SHA256)
        .header("x-acs-date", "2024-01-01T00:00:00Z")
        .header("x-acs-signature-nonce", NONCE)
        .header("x-acs-version", "2016-01-20")
        .header(
            "authorization",
            v3::authorization(
                "testid",
                "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version",
                "2d0c968836ece55e368138d2934bf93ad1ae5fa0e2aa783d2570e12a9db14d54",
            ),
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, body) = send(server.addr, request).await;
    // Authenticated: the operation itself then refuses the name with a space.
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidParameter")),
        "{body}"
    );
    assert!(body["Message"].as_str().unwrap().contains("SecretName"));
    server.stop().await;
}

#[tokio::test]
async fn the_v1_post_vector_passes_authentication() {
    let server = vector_server(ManualClock::new(Timestamp::from_unix(VECTOR_TIME))).await;
    let query = "AccessKeyId=testid&Action=GetSecretValue&Format=json&SecretName=my%20secret%2F1\
        &SignatureMethod=HMAC-SHA1&SignatureNonce=0123456789abcdef0123456789abcdef\
        &SignatureVersion=1.0&Timestamp=2024-01-01T00%3A00%3A00Z&Version=2016-01-20\
        &VersionStage=ACSCurrent&Signature=2KvKrL%2Bwv48KGDkN3eQzDcGm3lM%3D";
    let request = hyper::Request::post(format!("/?{query}"))
        .header("host", "127.0.0.1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, body) = send(server.addr, request).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidParameter")),
        "{body}"
    );
    assert!(body["Message"].as_str().unwrap().contains("SecretName"));
    server.stop().await;
}

#[test]
fn the_v1_get_vector_verifies_through_the_public_signer() {
    let params = [
        ("AccessKeyId", "testid"),
        ("Action", "CreateKey"),
        ("Format", "json"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2016-03-28T03:13:08Z"),
        ("Version", "2016-01-20"),
    ];
    let sts = v1::string_to_sign("GET", params);
    assert_eq!(v1::sign("testsecret", &sts), "41wk2SSX1GJh7fwnc5eqOfiJPFg=");
}

#[tokio::test]
async fn a_replay_after_the_window_is_refused_as_expired() {
    let clock = ManualClock::new(Timestamp::from_unix(VECTOR_TIME + 60));
    let server = vector_server(clock.clone()).await;
    let (status, _) = send(server.addr, v3_create_secret()).await;
    assert_eq!(status, 200);
    // 15 minutes after the request's time, the same request is refused as expired (not
    // merely as a replay), and the nonce is forgotten.
    clock.set(Timestamp::from_unix(VECTOR_TIME + 15 * 60 + 1));
    let (status, body) = send(server.addr, v3_create_secret()).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidTimeStamp.Expired"))
    );
    server.stop().await;
}
