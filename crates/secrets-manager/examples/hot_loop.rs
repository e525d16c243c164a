//! A hot loop of create_secret and get_secret_value on MemoryStorage, for profilers
//! (`perf record`, `valgrind --tool=callgrind`). Prints ops/s of each phase.
//!
//! ```text
//! cargo run --release -p secrets-manager --example hot_loop -- [N]
//! ```

use std::sync::Arc;
use std::time::Instant;

use secret_crypto::{LocalKms, RootKey};
use secret_storage::MemoryStorage;
use secrets_manager::{CreateSecretRequest, GetSecretValueRequest, SecretsManager};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let kms = LocalKms::in_memory(RootKey::generate()?);
    let store = SecretsManager::builder(Arc::new(MemoryStorage::new()), Arc::new(kms)).build();
    let value = vec![b'v'; 1024];
    let started = Instant::now();
    for i in 0..n {
        store.create_secret(CreateSecretRequest {
            secret_name: format!("s{i}"),
            secret_data: value.clone().into(),
            version_id: "v1".into(),
            ..Default::default()
        })?;
    }
    let create = started.elapsed();
    let started = Instant::now();
    for i in 0..n {
        store.get_secret_value(GetSecretValueRequest {
            secret_name: format!("s{}", i % 1000),
            ..Default::default()
        })?;
    }
    let get = started.elapsed();

    let cached = SecretsManager::builder(
        Arc::new(MemoryStorage::new()),
        Arc::new(LocalKms::in_memory(RootKey::generate()?)),
    )
    .value_cache(secrets_manager::CacheConfig::default())
    .build();
    for i in 0..1000 {
        cached.create_secret(CreateSecretRequest {
            secret_name: format!("s{i}"),
            secret_data: value.clone().into(),
            version_id: "v1".into(),
            ..Default::default()
        })?;
    }
    let started = Instant::now();
    for i in 0..n {
        cached.get_secret_value(GetSecretValueRequest {
            secret_name: format!("s{}", i % 1000),
            ..Default::default()
        })?;
    }
    let cached_get = started.elapsed();
    println!("create_secret: {:.0}/s", n as f64 / create.as_secs_f64());
    println!("get_secret_value: {:.0}/s", n as f64 / get.as_secs_f64());
    println!(
        "get_secret_value (cached): {:.0}/s",
        n as f64 / cached_get.as_secs_f64()
    );
    Ok(())
}
