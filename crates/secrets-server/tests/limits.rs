//! What unauthenticated clients can make the server hold: request bodies within the
//! server-wide budget, connections within the cap.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use secrets_server::client::{Client, Reply, SignatureVersion};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use common::ADMIN;

/// An unsigned POST that declares `length` bytes of body and sends all but the last.
async fn partial_body(addr: SocketAddr, length: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         content-length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'a'; length - 1]).await.unwrap();
    stream
}

/// An unsigned POST with a chunked body (no length) of `total` bytes sent so far, left open.
async fn chunked_body(addr: SocketAddr, total: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         transfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..total / 1000 {
        stream.write_all(b"3e8\r\n").await.unwrap();
        stream.write_all(&[b'a'; 1000]).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream
}

/// A signed CreateSecret whose form body holds `size` bytes of value.
async fn create(c: &mut Client, name: &str, size: usize) -> Reply {
    let value = "v".repeat(size);
    c.call(
        "CreateSecret",
        &[
            ("SecretName", name),
            ("VersionId", "v1"),
            ("SecretData", value.as_str()),
        ],
    )
    .await
    .unwrap()
}

/// Creates secrets named `{prefix}-N` until one gets `status`; the server takes the slow
/// clients' budget, or gives it back, a moment after they send or close.
async fn create_until(c: &mut Client, prefix: &str, size: usize, status: u16) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(10);
    for n in 0.. {
        let reply = create(c, &format!("{prefix}-{n}"), size).await;
        if reply.status == status {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "no {status} within 10 s; the last reply: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    unreachable!()
}

#[tokio::test]
async fn unsigned_partial_bodies_cannot_hold_more_than_the_body_budget() {
    let server = common::start_with(common::memory_storage(), |c| {
        c.body_limit = 64 * 1024;
        c.body_budget = 128 * 1024;
    })
    .await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    // Two slow clients declare bodies that together take the whole budget.
    let hogs = [
        partial_body(server.addr, 64 * 1024).await,
        partial_body(server.addr, 64 * 1024).await,
    ];

    // A further body, even a signed one, is refused at once with a JSON error, not held.
    let refused = create_until(&mut c, "refused", 2000, 503).await;
    assert_eq!(
        refused.code(),
        Some("ServiceUnavailableTemporary"),
        "{refused:?}"
    );
    assert!(
        refused.body["Message"]
            .as_str()
            .is_some_and(|m| m.contains("budget")),
        "{refused:?}"
    );
    // A request without a body needs none of it.
    assert_eq!(c.call("ListSecrets", &[]).await.unwrap().status, 200);

    // The budget comes back when the slow clients go.
    drop(hogs);
    create_until(&mut c, "served", 2000, 200).await;
    server.stop().await;
}

#[tokio::test]
async fn a_chunked_body_draws_on_the_budget_as_it_arrives() {
    let server = common::start_with(common::memory_storage(), |c| {
        c.body_limit = 64 * 1024;
        c.body_budget = 64 * 1024;
    })
    .await;
    let mut c = server.client(ADMIN, SignatureVersion::V1).await;
    let hog = chunked_body(server.addr, 60_000).await;
    let refused = create_until(&mut c, "refused", 8000, 503).await;
    assert_eq!(refused.code(), Some("ServiceUnavailableTemporary"));
    drop(hog);
    create_until(&mut c, "served", 8000, 200).await;
    server.stop().await;
}

#[tokio::test]
async fn the_budget_refusal_is_an_alibaba_json_error_before_the_body_is_read() {
    let server = common::start_with(common::memory_storage(), |c| {
        c.body_limit = 64 * 1024;
        c.body_budget = 64 * 1024;
    })
    .await;
    let hog = partial_body(server.addr, 64 * 1024).await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    create_until(&mut c, "refused", 2000, 503).await;

    // Declares a body and sends none of it: the answer must not wait for it.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nhost: {}\r\ncontent-length: 100\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers, and closes, without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json;charset=utf-8"),
        "{answer}"
    );
    assert!(
        answer.contains("\"Code\":\"ServiceUnavailableTemporary\""),
        "{answer}"
    );
    drop(hog);
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_cap_wait_in_the_backlog_until_one_closes() {
    let server = common::start_with(common::memory_storage(), |c| c.max_connections = 2).await;
    let first = TcpStream::connect(server.addr).await.unwrap();
    let _second = TcpStream::connect(server.addr).await.unwrap();

    // The kernel completes the third connection, but the server does not take it up.
    let mut third = server.client(ADMIN, SignatureVersion::V3).await;
    let mut call = tokio::spawn(async move { third.call("ListSecrets", &[]).await.unwrap() });
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut call)
            .await
            .is_err(),
        "a connection over the cap was served"
    );

    drop(first);
    let reply = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the waiting connection is served once another closes")
        .unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    server.stop().await;
}

#[tokio::test]
async fn an_idle_connection_gives_its_slot_back_after_the_read_timeout() {
    let server = common::start_with(common::memory_storage(), |c| {
        c.max_connections = 1;
        c.read_timeout = Duration::from_millis(300);
    })
    .await;
    // Holds the only slot and sends nothing.
    let _idle = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let mut waiting = server.client(ADMIN, SignatureVersion::V3).await;
    let reply = tokio::time::timeout(Duration::from_secs(10), waiting.call("ListSecrets", &[]))
        .await
        .expect("the idle connection is closed after the read timeout")
        .unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "served before the idle connection gave its slot back"
    );
    server.stop().await;
}

/// A client that pipelines requests and never reads the answers stalls the server in a write,
/// where hyper runs no read timeout: the write timeout must end that connection and give its
/// slot back, or a few such clients would hold every slot for as long as they like.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_answers_gives_its_slot_back_after_the_timeout() {
    let server = common::start_with(common::memory_storage(), |c| {
        c.max_connections = 1;
        c.read_timeout = Duration::from_millis(300);
    })
    .await;

    // Holds the only slot: pipelines unsigned requests, reads nothing.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.addr).await.unwrap();
    let many = format!("GET / HTTP/1.1\r\nhost: {}\r\n\r\n", server.addr).repeat(20_000);
    let writer = tokio::spawn(async move {
        // Blocks once the server stops reading; the stream stays open meanwhile.
        let _ = stream.write_all(many.as_bytes()).await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(stream);
    });
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Many timeouts later, the slot is free again.
    let mut waiting = server.client(ADMIN, SignatureVersion::V3).await;
    let reply =
        tokio::time::timeout(Duration::from_secs(5), waiting.call("ListSecrets", &[])).await;
    writer.abort();
    let reply = reply
        .expect("served within 5 s of the stalled reader")
        .unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    server.stop().await;
}

/// docs/security.md (anyone who can reach the port; "Not protected: Denial of service"): a slow
/// client holding the whole body budget with a body it never finishes delays others only until
/// `read_timeout`: the server then ends that request and gives its budget back, while the slow
/// client still holds its connection open.
#[tokio::test]
async fn a_body_never_finished_gives_its_budget_back_after_the_read_timeout() {
    let server = common::start_with(common::memory_storage(), |c| {
        c.body_limit = 64 * 1024;
        c.body_budget = 64 * 1024;
        c.read_timeout = Duration::from_millis(500);
    })
    .await;
    let mut c = server.client(ADMIN, SignatureVersion::V3).await;
    let started = Instant::now();
    let _hog = partial_body(server.addr, 64 * 1024).await;
    create_until(&mut c, "refused", 2000, 503).await;
    // The hog is never dropped: only the timeout can give the budget back.
    create_until(&mut c, "served", 2000, 200).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "served before the read timeout ended the slow body"
    );
    server.stop().await;
}
