//! What the gateway refuses, with which code, status and body.

mod common;

use bytes::Bytes;
use http_body_util::Full;
use secret_model::Timestamp;
use secrets_server::client::{CallOptions, Client, Credentials, Reply, SignatureVersion};
use secrets_server::signature::v3;

use common::ADMIN;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A signed ListSecrets request, to tamper with before sending.
fn list_secrets(c: &Client) -> hyper::Request<Full<Bytes>> {
    c.signed_request("ListSecrets", &[], &CallOptions::default())
        .unwrap()
}

fn assert_code(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (status, Some(code)),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn timestamps_more_than_15_minutes_off_are_expired() {
    let server = common::start().await;
    for version in [SignatureVersion::V3, SignatureVersion::V1] {
        let mut c = server.client(ADMIN, version).await;
        for offset in [-16 * 60, 16 * 60] {
            let options = CallOptions {
                time: Some(Timestamp::from_unix(now() + offset)),
                ..CallOptions::default()
            };
            let reply = c.call_with("ListSecrets", &[], &options).await.unwrap();
            assert_code(&reply, 400, "InvalidTimeStamp.Expired");
            let message = reply.body["Message"].as_str().unwrap();
            assert!(message.contains("more than 15 minutes from"), "{message}");
        }
        let options = CallOptions {
            time: Some(Timestamp::from_unix(now() - 14 * 60)),
            ..CallOptions::default()
        };
        assert_eq!(
            c.call_with("ListSecrets", &[], &options)
                .await
                .unwrap()
                .status,
            200
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_reused_nonce_is_refused_for_both_signatures() {
    let server = common::start().await;
    for (version, nonce) in [
        (SignatureVersion::V3, "nonce-v3"),
        (SignatureVersion::V1, "nonce-v1"),
    ] {
        let mut c = server.client(ADMIN, version).await;
        let options = CallOptions {
            nonce: Some(nonce.to_owned()),
            ..CallOptions::default()
        };
        assert_eq!(
            c.call_with("ListSecrets", &[], &options)
                .await
                .unwrap()
                .status,
            200
        );
        let replay = c.call_with("ListSecrets", &[], &options).await.unwrap();
        assert_code(&replay, 400, "SignatureNonceUsed");
        // A replay of the very same bytes is refused too.
        let request = c
            .signed_request("ListSecrets", &[], &CallOptions::default())
            .unwrap();
        let copy = clone_request(&request);
        assert_eq!(c.send(request).await.unwrap().status, 200);
        assert_code(&c.send(copy).await.unwrap(), 400, "SignatureNonceUsed");
    }
    // Another access key may use the same nonce.
    let mut reader = server.client(common::READER, SignatureVersion::V3).await;
    let options = CallOptions {
        nonce: Some("nonce-v3".to_owned()),
        ..CallOptions::default()
    };
    let reply = reader
        .call_with("GetSecretValue", &[("SecretName", "app/x")], &options)
        .await
        .unwrap();
    assert_code(&reply, 404, "Forbidden.ResourceNotFound");
    server.stop().await;
}

/// The refusal of a time outside the window names the window the server has, not SPEC's
/// default.
#[tokio::test]
async fn an_expired_timestamp_names_the_servers_own_window() {
    let server = common::start_with(common::memory_storage(), |c| {
        c.max_clock_skew = std::time::Duration::from_secs(90);
    })
    .await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    let options = CallOptions {
        time: Some(Timestamp::from_unix(now() - 120)),
        ..CallOptions::default()
    };
    let reply = c.call_with("ListSecrets", &[], &options).await.unwrap();
    assert_code(&reply, 400, "InvalidTimeStamp.Expired");
    let message = reply.body["Message"].as_str().unwrap();
    assert!(message.contains("more than 90 seconds from"), "{message}");
    server.stop().await;
}

/// With a nonce log, a request accepted before a restart is refused after it: its nonce is
/// read back from the log. Only one server may use a log at a time.
#[tokio::test]
async fn with_a_nonce_log_a_replay_after_a_restart_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nonces");
    let storage = common::memory_storage();
    let with_log = |c: &mut secrets_server::ServerConfig| c.nonce_log = Some(log.clone());
    let first = common::start_with(storage.clone(), with_log).await;
    let mut captured = Vec::new();
    for version in [SignatureVersion::V3, SignatureVersion::V1] {
        let mut c = first.client(ADMIN, version).await;
        let request = signed_create(&c, &format!("replayed-{version:?}"));
        captured.push((version, clone_request(&request)));
        assert_eq!(c.send(request).await.unwrap().status, 200);
    }
    // A second server cannot take the log while the first holds it.
    let keys = common::keys();
    let mut config =
        secrets_server::ServerConfig::new("127.0.0.1:0".parse().unwrap(), keys.clone());
    config.nonce_log = Some(log.clone());
    match secrets_server::Server::bind(config, common::store(storage.clone(), &keys)).await {
        Err(e @ secrets_server::ServerError::NonceLog { .. }) => {
            assert!(e.to_string().contains("another server"), "{e}");
        }
        other => panic!("expected a NonceLog error, got {other:?}"),
    }
    first.stop().await;

    let second = common::start_with(storage.clone(), with_log).await;
    for (version, request) in captured {
        let mut c = second.client(ADMIN, version).await;
        let reply = c.send(request).await.unwrap();
        assert_code(&reply, 400, "SignatureNonceUsed");
        // New requests are served as before.
        let fresh = c.call("ListSecrets", &[]).await.unwrap();
        assert_eq!(fresh.status, 200, "{version:?}");
    }
    second.stop().await;
}

/// Sends a ListSecrets signed now with `nonce` to a server with the nonce log `log` and a
/// window of `window_before` seconds, stops it, and returns the answer to the same request
/// sent `later` seconds after it to a server started again on the log with `window_after`.
async fn replayed_after_a_restart(
    log: &std::path::Path,
    (window_before, window_after): (u64, u64),
    nonce: &str,
    later: i64,
) -> Reply {
    let storage = common::memory_storage();
    let start = now();
    let clock = secrets_manager::ManualClock::new(Timestamp::from_unix(start));
    let config = |window: u64| {
        let clock = clock.clone();
        move |c: &mut secrets_server::ServerConfig| {
            c.nonce_log = Some(log.to_owned());
            c.clock = std::sync::Arc::new(clock);
            c.max_clock_skew = std::time::Duration::from_secs(window);
        }
    };
    let first = common::start_with(storage.clone(), config(window_before)).await;
    let mut c = first.client(ADMIN, SignatureVersion::V3).await;
    let options = CallOptions {
        nonce: Some(nonce.to_owned()),
        time: Some(Timestamp::from_unix(start)),
        ..CallOptions::default()
    };
    let request = c.signed_request("ListSecrets", &[], &options).unwrap();
    let captured = clone_request(&request);
    assert_eq!(c.send(request).await.unwrap().status, 200);
    first.stop().await;
    clock.set(Timestamp::from_unix(start + later));
    let second = common::start_with(storage, config(window_after)).await;
    let mut c = second.client(ADMIN, SignatureVersion::V3).await;
    let reply = c.send(captured).await.unwrap();
    second.stop().await;
    reply
}

/// The log remembers a nonce through the window's last second, as the timestamp check still
/// accepts the request then; and a server restarted with a wider window remembers the nonces
/// of the earlier run for the wider window (the log keeps when a nonce was seen, not when the
/// earlier run would have forgotten it).
#[tokio::test]
async fn a_replay_anywhere_in_its_window_is_refused_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let last_second = replayed_after_a_restart(
        &dir.path().join("a"),
        (900, 900),
        "last-second-of-the-window",
        900,
    )
    .await;
    assert_code(&last_second, 400, "SignatureNonceUsed");
    let wider = replayed_after_a_restart(
        &dir.path().join("b"),
        (900, 1_800),
        "within-the-wider-window",
        1_000,
    )
    .await;
    assert_code(&wider, 400, "SignatureNonceUsed");
}

/// A request refused because its nonce could not be logged never ran, so the same signed
/// bytes sent again once the log works are served, not refused as a replay.
#[tokio::test]
async fn a_request_refused_for_a_failed_nonce_log_write_can_be_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nonces");
    let start = now();
    let clock = secrets_manager::ManualClock::new(Timestamp::from_unix(start));
    let server = common::start_with(common::memory_storage(), |c| {
        c.nonce_log = Some(log.clone());
        c.clock = std::sync::Arc::new(clock.clone());
        c.max_clock_skew = std::time::Duration::from_secs(900);
    })
    .await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    assert_eq!(c.call("ListSecrets", &[]).await.unwrap().status, 200);
    // The next segment's name is taken by a directory, so the log cannot rotate to it once
    // a window has passed.
    let last = std::fs::read_dir(&log)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".nonces")?.parse::<u64>().ok()
        })
        .max()
        .unwrap();
    let blocker = log.join(format!("{:020}.nonces", last + 1));
    std::fs::create_dir(&blocker).unwrap();
    clock.set(Timestamp::from_unix(start + 900));
    let options = CallOptions {
        nonce: Some("sent-while-the-log-failed".into()),
        time: Some(Timestamp::from_unix(start + 900)),
        ..CallOptions::default()
    };
    let request = c.signed_request("ListSecrets", &[], &options).unwrap();
    let again = clone_request(&request);
    let refused = c.send(request).await.unwrap();
    assert_code(&refused, 503, "ServiceUnavailableTemporary");
    std::fs::remove_dir(&blocker).unwrap();
    let served = c.send(again).await.unwrap();
    assert_eq!(served.status, 200, "{served:?}");
    // And now that it ran, it is a replay.
    let replayed = c
        .send(clone_request(
            &c.signed_request("ListSecrets", &[], &options).unwrap(),
        ))
        .await
        .unwrap();
    assert_code(&replayed, 400, "SignatureNonceUsed");
    server.stop().await;
}

/// A shared replay guard in memory, standing in for a database; `broken` makes it fail.
#[derive(Debug, Default)]
struct MemoryNonces {
    seen: std::sync::Mutex<std::collections::HashMap<(u64, u64), i64>>,
    broken: std::sync::atomic::AtomicBool,
}

impl secrets_server::SharedNonces for MemoryNonces {
    fn record(
        &self,
        key: u64,
        nonce: u64,
        seen_at: i64,
        window: i64,
        now: i64,
    ) -> Result<bool, String> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("the database is down".into());
        }
        let mut seen = self.seen.lock().unwrap();
        match seen.get(&(key, nonce)) {
            Some(&earlier) if earlier + window >= now => Ok(false),
            _ => {
                seen.insert((key, nonce), seen_at);
                Ok(true)
            }
        }
    }
}

/// With a shared replay guard, a request one server accepted is refused by another; when the
/// guard cannot record a nonce, the request is refused (503) and its operation does not run.
#[tokio::test]
async fn a_shared_replay_guard_refuses_a_replay_on_another_server() {
    let shared = std::sync::Arc::new(MemoryNonces::default());
    let storage = common::memory_storage();
    let with_shared = |c: &mut secrets_server::ServerConfig| {
        c.shared_nonces = Some(shared.clone());
    };
    let one = common::start_with(storage.clone(), with_shared).await;
    let two = common::start_with(storage.clone(), with_shared).await;
    for version in [SignatureVersion::V3, SignatureVersion::V1] {
        let mut first = one.client(ADMIN, version).await;
        let request = signed_create(&first, &format!("shared-{version:?}"));
        let copy = clone_request(&request);
        assert_eq!(first.send(request).await.unwrap().status, 200);
        let mut second = two.client(ADMIN, version).await;
        assert_code(&second.send(copy).await.unwrap(), 400, "SignatureNonceUsed");
        assert_eq!(second.call("ListSecrets", &[]).await.unwrap().status, 200);
    }
    shared
        .broken
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut c = one.client(ADMIN, SignatureVersion::V3).await;
    let request = signed_create(&c, "unguarded");
    let again = clone_request(&request);
    let refused = c.send(request).await.unwrap();
    assert_code(&refused, 503, "ServiceUnavailableTemporary");
    shared
        .broken
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let described = c
        .call("DescribeSecret", &[("SecretName", "unguarded")])
        .await
        .unwrap();
    assert_code(&described, 404, "Forbidden.ResourceNotFound");
    // The refused request never ran, so the same bytes sent again are served, not a replay.
    assert_eq!(c.send(again).await.unwrap().status, 200);
    one.stop().await;
    two.stop().await;
}

/// A signed CreateSecret of `name` (version `v1`, value `x`), to send and then replay.
fn signed_create(c: &Client, name: &str) -> hyper::Request<Full<Bytes>> {
    c.signed_request(
        "CreateSecret",
        &[
            ("SecretName", name),
            ("VersionId", "v1"),
            ("SecretData", "x"),
        ],
        &CallOptions::default(),
    )
    .unwrap()
}

/// A shared guard is handed when a nonce was seen and the server's window, so it can remember
/// the nonce through the window's last second, which the timestamp check still accepts: a
/// request accepted by one server is refused by another then.
#[tokio::test]
async fn a_shared_guard_refuses_a_replay_in_the_windows_last_second() {
    let shared = std::sync::Arc::new(MemoryNonces::default());
    let storage = common::memory_storage();
    let start = now();
    let clock = secrets_manager::ManualClock::new(Timestamp::from_unix(start));
    let config = |c: &mut secrets_server::ServerConfig| {
        c.shared_nonces = Some(shared.clone());
        c.clock = std::sync::Arc::new(clock.clone());
        c.max_clock_skew = std::time::Duration::from_secs(900);
    };
    let one = common::start_with(storage.clone(), config).await;
    let two = common::start_with(storage.clone(), config).await;
    let mut c = one.client(ADMIN, SignatureVersion::V3).await;
    let options = CallOptions {
        nonce: Some("replayed-in-the-last-second".to_owned()),
        time: Some(Timestamp::from_unix(start)),
        ..CallOptions::default()
    };
    let request = c.signed_request("ListSecrets", &[], &options).unwrap();
    let captured = clone_request(&request);
    assert_eq!(c.send(request).await.unwrap().status, 200);
    clock.set(Timestamp::from_unix(start + 900));
    let mut c = two.client(ADMIN, SignatureVersion::V3).await;
    let replayed = c.send(captured).await.unwrap();
    one.stop().await;
    two.stop().await;
    assert_code(&replayed, 400, "SignatureNonceUsed");
}

fn clone_request(r: &hyper::Request<Full<Bytes>>) -> hyper::Request<Full<Bytes>> {
    let mut copy = hyper::Request::new(r.body().clone());
    *copy.method_mut() = r.method().clone();
    *copy.uri_mut() = r.uri().clone();
    *copy.headers_mut() = r.headers().clone();
    copy
}

/// A captured V3 request sent again with its nonce padded by characters a Unicode-aware trim
/// would drop: the padding must make it no new request — neither a fresh nonce over the same
/// signature, nor a value read or written twice.
#[tokio::test]
async fn a_nonce_padded_with_unicode_whitespace_is_not_a_new_nonce() {
    let server = common::start().await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    let request = list_secrets(&c);
    let nonce = request.headers()["x-acs-signature-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    let padded = |pad: &str| {
        let mut copy = clone_request(&request);
        let value = hyper::header::HeaderValue::from_bytes(format!("{nonce}{pad}").as_bytes())
            .expect("non-ASCII bytes are a valid header value");
        copy.headers_mut().insert("x-acs-signature-nonce", value);
        copy
    };
    let copies: Vec<_> = ["\u{a0}", "\u{a0}\u{a0}", "\u{2003}", "\u{85}"]
        .into_iter()
        .map(padded)
        .collect();
    assert_eq!(c.send(request).await.unwrap().status, 200);
    for copy in copies {
        let reply = c.send(copy).await.unwrap();
        assert_code(&reply, 400, "SignatureDoesNotMatch");
    }
    // A nonce with a comma, resent split into two headers (signed alike, joined by `,`).
    let options = CallOptions {
        nonce: Some("first,second".to_owned()),
        ..CallOptions::default()
    };
    let request = c.signed_request("ListSecrets", &[], &options).unwrap();
    let split = |parts: [&str; 2]| {
        let mut copy = clone_request(&request);
        copy.headers_mut().remove("x-acs-signature-nonce");
        for part in parts {
            copy.headers_mut()
                .append("x-acs-signature-nonce", part.parse().unwrap());
        }
        copy
    };
    let splits = [split(["first", "second"]), split(["second", "first"])];
    assert_eq!(c.send(request).await.unwrap().status, 200);
    for copy in splits {
        assert_code(&c.send(copy).await.unwrap(), 400, "InvalidParameter");
    }
    // Signed as sent, a nonce must still be visible ASCII: one spelling per nonce.
    let mut v1 = server.client(ADMIN, SignatureVersion::V1).await;
    for nonce in ["two words", "nbsp\u{a0}"] {
        let options = CallOptions {
            nonce: Some(nonce.to_owned()),
            ..CallOptions::default()
        };
        let reply = v1.call_with("ListSecrets", &[], &options).await.unwrap();
        assert_code(&reply, 400, "InvalidParameter");
    }
    server.stop().await;
}

/// The server's string to sign holds every parameter, the value among them: the client's
/// `Debug` of the reply must not show it.
#[tokio::test]
async fn a_signature_error_holding_the_value_is_not_shown_by_the_replys_debug() {
    let server = common::start().await;
    let mut c = Client::connect(
        server.addr,
        Credentials::new(ADMIN.0, "wrong"),
        SignatureVersion::V1,
    )
    .await
    .unwrap();
    let reply = c
        .call(
            "PutSecretValue",
            &[
                ("SecretName", "db"),
                ("VersionId", "v2"),
                ("SecretData", "hunter2hunter2"),
            ],
        )
        .await
        .unwrap();
    assert_code(&reply, 400, "SignatureDoesNotMatch");
    assert!(
        reply.body["Message"]
            .as_str()
            .unwrap()
            .contains("hunter2hunter2")
    );
    let shown = format!("{reply:?}");
    assert!(!shown.contains("hunter2hunter2"), "{shown}");
    assert!(shown.contains("SignatureDoesNotMatch"), "{shown}");
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_secret_gets_signature_does_not_match_with_the_string_to_sign() {
    let server = common::start().await;
    for version in [SignatureVersion::V3, SignatureVersion::V1] {
        let mut c = Client::connect(server.addr, Credentials::new(ADMIN.0, "wrong"), version)
            .await
            .unwrap();
        let reply = c.call("ListSecrets", &[("PageSize", "5")]).await.unwrap();
        assert_code(&reply, 400, "SignatureDoesNotMatch");
        let message = reply.body["Message"].as_str().unwrap();
        let (_, string_to_sign) = message.split_once("server string to sign is:").unwrap();
        match version {
            SignatureVersion::V3 => assert!(string_to_sign.starts_with("ACS3-HMAC-SHA256\n")),
            SignatureVersion::V1 => {
                assert!(
                    string_to_sign
                        .starts_with("POST&%2F&AccessKeyId%3Dadmin-key%26Action%3DListSecrets")
                );
                // The old SDK takes the text after the first ':' as the string to sign.
                assert_eq!(message.split(':').nth(1), Some(string_to_sign));
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_access_key_is_not_found() {
    let server = common::start().await;
    for version in [SignatureVersion::V3, SignatureVersion::V1] {
        let mut c = Client::connect(server.addr, Credentials::new("nobody", "x"), version)
            .await
            .unwrap();
        assert_code(
            &c.call("ListSecrets", &[]).await.unwrap(),
            404,
            "InvalidAccessKeyId.NotFound",
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn an_unsigned_request_is_refused() {
    let server = common::start().await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    let mut request = list_secrets(&c);
    request.headers_mut().remove("authorization");
    assert_code(&c.send(request).await.unwrap(), 400, "IncompleteSignature");
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_match_its_hash_is_refused() {
    let server = common::start().await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    let params = [
        ("SecretName", "s"),
        ("VersionId", "v1"),
        ("SecretData", "real"),
    ];
    let request = c
        .signed_request("CreateSecret", &params, &CallOptions::default())
        .unwrap();
    let (parts, _) = request.into_parts();
    let forged =
        hyper::Request::from_parts(parts, Full::new(Bytes::from_static(b"SecretData=fake")));
    let reply = c.send(forged).await.unwrap();
    assert_code(&reply, 400, "SignatureDoesNotMatch");
    assert!(
        reply.body["Message"]
            .as_str()
            .unwrap()
            .contains("x-acs-content-sha256")
    );
    server.stop().await;
}

#[tokio::test]
async fn an_unsigned_acs_header_is_an_incomplete_signature() {
    let server = common::start().await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    let mut request = list_secrets(&c);
    request
        .headers_mut()
        .insert("x-acs-extra", "1".parse().unwrap());
    assert_code(&c.send(request).await.unwrap(), 400, "IncompleteSignature");
    // Changing the action after signing breaks the signature.
    let mut request = list_secrets(&c);
    request
        .headers_mut()
        .insert("x-acs-action", "GetRandomPassword".parse().unwrap());
    assert_code(
        &c.send(request).await.unwrap(),
        400,
        "SignatureDoesNotMatch",
    );
    server.stop().await;
}

#[tokio::test]
async fn another_signature_algorithm_is_an_invalid_signature_method() {
    let server = common::start().await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    let mut request = list_secrets(&c);
    let header = request.headers()["authorization"]
        .to_str()
        .unwrap()
        .replace(v3::ALGORITHM, "ACS3-HMAC-SM3");
    request
        .headers_mut()
        .insert("authorization", header.parse().unwrap());
    assert_code(
        &c.send(request).await.unwrap(),
        400,
        "InvalidSignatureMethod",
    );
    server.stop().await;
}

/// A body that stops arriving is `InvalidParameter` with that code's 400, as JSON, once the
/// read timeout passes.
#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_invalid_parameter_with_its_400() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = common::start_with(common::memory_storage(), |c| {
        c.read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         content-length: 100\r\n\r\nAction=Li",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers once the timeout passes")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"Code\":\"InvalidParameter\""), "{answer}");
    assert!(answer.contains("did not arrive in time"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_limit_exceeded_with_its_400_and_a_json_error() {
    let server = common::start_with(common::memory_storage(), |c| c.body_limit = 4096).await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    let big = "x".repeat(5000);
    let params = [
        ("SecretName", "s"),
        ("VersionId", "v1"),
        ("SecretData", big.as_str()),
    ];
    let reply = c.call("CreateSecret", &params).await.unwrap();
    assert_code(&reply, 400, "Rejected.LimitExceeded");

    // Without a Content-Length (chunked), the limit holds while reading.
    let chunks = Chunks(vec![Bytes::from(vec![b'a'; 3000]), Bytes::from(vec![b'b'; 3000])].into());
    let request = hyper::Request::post("/")
        .header("host", server.addr.to_string())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(chunks)
        .unwrap();
    let (status, _, body) = common::send_raw(server.addr, request).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("Rejected.LimitExceeded"))
    );
    server.stop().await;
}

/// A body sent in chunks, so it has no Content-Length.
struct Chunks(std::collections::VecDeque<Bytes>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

#[tokio::test]
async fn error_bodies_have_alibabas_shape_and_content_type() {
    let server = common::start().await;
    for (path, status, code) in [
        ("/?Action=ListSecrets", 400, "IncompleteSignature"),
        ("/other", 404, "InvalidApi.NotFound"),
    ] {
        let request = hyper::Request::get(path)
            .header("host", server.addr.to_string())
            .body(Full::new(Bytes::new()))
            .unwrap();
        let (got_status, headers, body) = common::send_raw(server.addr, request).await;
        assert_eq!(got_status, status);
        assert_eq!(headers["content-type"], "application/json;charset=utf-8");
        let request_id = headers["x-acs-request-id"].to_str().unwrap();
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["Code", "HostId", "Message", "Recommend", "RequestId"]
        );
        assert_eq!(body["Code"], code);
        assert_eq!(body["RequestId"], request_id);
        assert_eq!(request_id.len(), 36);
        assert_eq!(body["HostId"], server.addr.to_string());
    }
    // An operation's own error has the same shape, with its status.
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    let reply = c.call("GetSecretValue", &[]).await.unwrap();
    assert_code(&reply, 400, "MissingParameter");
    assert!(
        reply.body["Message"]
            .as_str()
            .unwrap()
            .contains("SecretName")
    );
    let reply = c.call("NoSuchAction", &[]).await.unwrap();
    assert_code(&reply, 404, "InvalidApi.NotFound");
    server.stop().await;
}

/// A nonce is refused for 15 minutes after the server saw it, whatever time its first request
/// claimed (SPEC §5): not only until that time leaves the window.
#[tokio::test]
async fn a_nonce_is_refused_for_15_minutes_after_it_was_seen() {
    let start = now();
    let clock = secrets_manager::ManualClock::new(Timestamp::from_unix(start));
    let server = common::start_with(common::memory_storage(), |c| {
        c.clock = std::sync::Arc::new(clock.clone());
    })
    .await;
    for (version, nonce) in [
        (SignatureVersion::V3, "old-time-v3"),
        (SignatureVersion::V1, "old-time-v1"),
    ] {
        clock.set(Timestamp::from_unix(start));
        let mut c = server.client(ADMIN, version).await;
        let at = |time: i64| CallOptions {
            nonce: Some(nonce.to_owned()),
            time: Some(Timestamp::from_unix(time)),
            ..CallOptions::default()
        };
        // Signed almost 15 minutes ago: accepted, and its time leaves the window at once.
        let first = c
            .call_with("ListSecrets", &[], &at(start - 14 * 60 - 58))
            .await;
        assert_eq!(first.unwrap().status, 200);
        for later in [125, 14 * 60 + 59] {
            clock.set(Timestamp::from_unix(start + later));
            let reply = c.call_with("ListSecrets", &[], &at(start + later)).await;
            assert_code(&reply.unwrap(), 400, "SignatureNonceUsed");
        }
        // Past 15 minutes (and the minute a nonce may be kept late), it is forgotten.
        clock.set(Timestamp::from_unix(start + 16 * 60 + 1));
        let reply = c
            .call_with("ListSecrets", &[], &at(start + 16 * 60 + 1))
            .await;
        assert_eq!(reply.unwrap().status, 200);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_full_replay_guard_throttles_rather_than_forgets() {
    let server = common::start_with(common::memory_storage(), |c| c.nonce_capacity = 16).await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    let mut throttled = None;
    for _ in 0..64 {
        let reply = c.call("ListSecrets", &[]).await.unwrap();
        if reply.status != 200 {
            throttled = Some(reply);
            break;
        }
    }
    let reply = throttled.expect("a guard of 16 nonces fills within 64 requests");
    assert_code(&reply, 429, "Rejected.Throttling");
    server.stop().await;
}

/// One access key filling the replay guard — even with requests its policy then refuses —
/// throttles only itself.
#[tokio::test]
async fn one_access_key_cannot_fill_the_replay_guard_for_the_others() {
    // Two access keys share 256, neither holding over 128 (16 shards of 8). The reader keeps
    // sending well past its half (had the guard one pool, all of it would fill, with
    // overwhelming likelihood); the admin's 8 requests cannot fill one of its own shards,
    // wherever their nonces fall, and the other half is there for them.
    let server = common::start_with(common::memory_storage(), |c| c.nonce_capacity = 256).await;
    let mut reader = server.client(common::READER, SignatureVersion::V3).await;
    let (mut refused, mut throttled) = (0, 0);
    for _ in 0..512 {
        // Not the reader's to do: refused by policy, but its nonce is remembered.
        let create = [
            ("SecretName", "x"),
            ("VersionId", "v1"),
            ("SecretData", "d"),
        ];
        let reply = reader.call("CreateSecret", &create).await.unwrap();
        if reply.code() == Some("Rejected.Throttling") {
            assert_code(&reply, 429, "Rejected.Throttling");
            throttled += 1;
        } else {
            assert_code(&reply, 403, "Forbidden.NoPermission");
            refused += 1;
        }
    }
    assert!(
        refused <= 128 && throttled >= 384,
        "{refused} refused, {throttled} throttled"
    );
    let mut admin = server.client(ADMIN, SignatureVersion::V3).await;
    for _ in 0..8 {
        assert_eq!(admin.call("ListSecrets", &[]).await.unwrap().status, 200);
    }
    server.stop().await;
}

/// The options that name `version` as the API version (`""`: none).
fn api_version(version: &str) -> CallOptions {
    CallOptions {
        api_version: Some(version.to_owned()),
        ..CallOptions::default()
    }
}

/// Where each signature names the API version.
fn version_name(version: SignatureVersion) -> &'static str {
    match version {
        SignatureVersion::V3 => "x-acs-version",
        SignatureVersion::V1 => "Version",
    }
}

#[tokio::test]
async fn another_api_version_is_invalid_parameter_for_both_signatures() {
    let server = common::start().await;
    for version in [SignatureVersion::V3, SignatureVersion::V1] {
        let mut c = server.client(ADMIN, version).await;
        for wrong in ["2099-12-31", "2016-01-21", "2014-05-26"] {
            let reply = c
                .call_with("ListSecrets", &[], &api_version(wrong))
                .await
                .unwrap();
            assert_code(&reply, 400, "InvalidParameter");
            let message = reply.body["Message"].as_str().unwrap();
            assert!(
                message.contains(&format!("\"{}\"", version_name(version)))
                    && message.contains("2016-01-20")
                    && message.contains(wrong),
                "{message}"
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn a_missing_api_version_is_missing_parameter_for_both_signatures() {
    let server = common::start().await;
    for version in [SignatureVersion::V3, SignatureVersion::V1] {
        let mut c = server.client(ADMIN, version).await;
        let reply = c
            .call_with("ListSecrets", &[], &api_version(""))
            .await
            .unwrap();
        assert_code(&reply, 400, "MissingParameter");
        assert_eq!(
            reply.body["Message"],
            format!(
                "The parameter \"{}\" is needed but not provided.",
                version_name(version)
            )
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_v3_version_parameter_must_agree_with_the_header() {
    let server = common::start().await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    let reply = c
        .call("ListSecrets", &[("Version", "2099-12-31")])
        .await
        .unwrap();
    assert_code(&reply, 400, "InvalidParameter");
    assert!(
        reply.body["Message"]
            .as_str()
            .unwrap()
            .contains("\"Version\""),
        "{reply:?}"
    );
    let reply = c
        .call("ListSecrets", &[("Version", "2016-01-20")])
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    server.stop().await;
}

#[tokio::test]
async fn api_version_2016_01_20_is_served_for_both_signatures_and_get() {
    let server = common::start().await;
    for version in [SignatureVersion::V3, SignatureVersion::V1] {
        let mut c = server.client(ADMIN, version).await;
        for get in [false, true] {
            let options = CallOptions {
                get,
                ..api_version("2016-01-20")
            };
            let reply = c.call_with("ListSecrets", &[], &options).await.unwrap();
            assert_eq!(reply.status, 200, "{reply:?}");
        }
    }
    server.stop().await;
}

/// Header names are case-insensitive, and the server matches the names in SignedHeaders that
/// way for every `x-acs-*` header: `X-Acs-Date` in the list is accepted. `Host` must be too —
/// it names the same signed header, and the canonical request (SPEC §5, lower-case names) is
/// the same — rather than refused as "host must be in SignedHeaders" when it is there.
#[tokio::test]
async fn signed_header_names_match_whatever_their_case_host_included() {
    let server = common::start().await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    for (from, to) in [("x-acs-date", "X-Acs-Date"), ("host", "Host")] {
        let mut request = list_secrets(&c);
        let header = request.headers()["authorization"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(header.contains(from), "{header}");
        let header = header.replacen(from, to, 1);
        request
            .headers_mut()
            .insert("authorization", header.parse().unwrap());
        let reply = c.send(request).await.unwrap();
        assert_eq!(reply.status, 200, "SignedHeaders with {to}: {}", reply.body);
    }
    server.stop().await;
}
