//! Graceful shutdown: in-flight requests finish, new connections are refused.

mod common;

use std::sync::Arc;
use std::time::Duration;

use secret_storage::Storage;
use secrets_server::client::SignatureVersion;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests_then_refuses_connections() {
    let storage: Arc<dyn Storage> =
        Arc::new(common::Tuned::slow_writes(Duration::from_millis(400)));
    let mut server = common::start_with(storage, |_| {}).await;
    let addr = server.addr;
    let mut client = server.client(common::ADMIN, SignatureVersion::V3).await;
    let in_flight = tokio::spawn(async move {
        client
            .call(
                "CreateSecret",
                &[
                    ("SecretName", "late"),
                    ("VersionId", "v1"),
                    ("SecretData", "x"),
                ],
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.begin_stop();
    let reply = in_flight.await.unwrap().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    tokio::time::timeout(Duration::from_secs(10), server.stopped())
        .await
        .expect("the server stops once the request is answered")
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// The server drops its state on the blocking pool at shutdown, so that a store holding
/// blocking PostgreSQL clients is not dropped on an async worker (where their drop panics) —
/// also when the grace period runs out with a connection still open (here a client that sent
/// half its body): that connection's task is cancelled and gone before the state is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_is_not_dropped_on_an_async_worker_when_the_grace_period_runs_out() {
    use tokio::io::AsyncWriteExt as _;
    let storage: Arc<dyn Storage> = Arc::new(common::Tuned::dropping_like_postgres());
    let mut server = common::start_with(storage, |c| {
        c.read_timeout = Duration::from_secs(60);
        c.shutdown_grace = Duration::from_millis(200);
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 100\r\n\r\nAction=ListSecrets",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.begin_stop();
    tokio::time::timeout(Duration::from_secs(10), server.stopped())
        .await
        .expect("the server stops once the grace period is over")
        .unwrap();
    // The server has stopped; the client goes away, and its connection's task ends.
    drop(stream);
    common::store_dropped_off_the_runtime().await;
}
