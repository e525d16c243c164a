//! Many writers at once over HTTP, then a check that every acknowledged version is there and
//! reads back exactly: nothing acknowledged is lost. On sled, whose writes are durable.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secret_storage_sled::SledStorage;
use secrets_server::client::SignatureVersion;

const WRITERS: usize = 16;
const PUTS_PER_WRITER: usize = 32;
/// Each secret gets PUTS from 8 different writers racing (plus its first version): under the
/// 10-version cap, so no acknowledged version may be evicted.
const SECRETS: usize = WRITERS * PUTS_PER_WRITER / 8;
/// The whole test is bounded in time, too.
const DEADLINE: Duration = Duration::from_secs(120);

fn secret(i: usize) -> String {
    format!("load/s{i:03}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_lose_no_acknowledged_version() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SledStorage::open(dir.path().join("data")).unwrap());
    let server = common::start_with(storage, |_| {}).await;
    let started = Instant::now();

    let mut admin = server.client(common::ADMIN, SignatureVersion::V3).await;
    for i in 0..SECRETS {
        let name = secret(i);
        let reply = admin
            .call(
                "CreateSecret",
                &[
                    ("SecretName", &name),
                    ("VersionId", "v0"),
                    ("SecretData", "initial"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mut client = server.client(common::ADMIN, SignatureVersion::V3).await;
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..PUTS_PER_WRITER {
                if started.elapsed() > DEADLINE {
                    break;
                }
                let name = secret((i * WRITERS + w) % SECRETS);
                let version = format!("w{w:02}-i{i:02}");
                let value = format!("value of {version} {}", "x".repeat(w * 7 + i));
                let reply = client
                    .call(
                        "PutSecretValue",
                        &[
                            ("SecretName", &name),
                            ("VersionId", &version),
                            ("SecretData", &value),
                        ],
                    )
                    .await
                    .unwrap();
                if reply.status == 200 {
                    assert_eq!(reply.body["VersionId"], version.as_str());
                    acknowledged.push((name, version, value));
                } else {
                    // Only a transient refusal is acceptable, and it is then not acknowledged.
                    assert_eq!(
                        reply.code(),
                        Some("ServiceUnavailableTemporary"),
                        "{}",
                        reply.body
                    );
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    assert!(
        started.elapsed() < DEADLINE,
        "the load test ran out of time"
    );
    assert!(
        acknowledged.len() >= WRITERS * PUTS_PER_WRITER * 9 / 10,
        "too few writes succeeded: {}",
        acknowledged.len()
    );

    let mut per_secret: HashMap<String, usize> = HashMap::new();
    for (name, version, value) in &acknowledged {
        *per_secret.entry(name.clone()).or_default() += 1;
        let got = admin
            .call(
                "GetSecretValue",
                &[("SecretName", name), ("VersionId", version)],
            )
            .await
            .unwrap();
        assert_eq!(got.status, 200, "{name} {version}: {}", got.body);
        assert_eq!(got.body["SecretData"], value.as_str(), "{name} {version}");
    }
    for (name, count) in per_secret {
        let listed = admin
            .call(
                "ListSecretVersionIds",
                &[
                    ("SecretName", &name),
                    ("IncludeDeprecated", "true"),
                    ("PageSize", "100"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            listed.body["TotalCount"],
            count + 1,
            "{name}: {}",
            listed.body
        );
    }
    server.stop().await;
}
