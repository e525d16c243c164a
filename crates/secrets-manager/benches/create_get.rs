//! CreateSecret, GetSecretValue and PutSecretValue with 1 KiB values on MemoryStorage and sled
//! (`cargo bench -p secrets-manager --bench create_get`; `secrets-bench` prints every
//! operation beside its floor in one table, PostgreSQL included), beside a raw
//! ring AES-256-GCM seal/open of the same bytes measured in the same run (the baseline that
//! `docs/benchmarks.md` reports ratios against).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use secret_crypto::{LocalKms, RootKey};
use secret_storage::{MemoryStorage, Storage};
use secret_storage_sled::SledStorage;
use secrets_manager::{
    CreateSecretRequest, GetSecretValueRequest, PutSecretValueRequest, SecretsManager,
};

const VALUE_LEN: usize = 1024;

fn value() -> Vec<u8> {
    (0..VALUE_LEN).map(|i| b'a' + (i % 26) as u8).collect()
}

fn raw_ring(c: &mut Criterion) {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
    let plaintext = value();
    let nonce = |n: u64| {
        let mut b = [0u8; 12];
        b[4..].copy_from_slice(&n.to_be_bytes());
        Nonce::assume_unique_for_key(b)
    };
    let mut counter = 0u64;
    c.bench_function("baseline/ring_seal_1KiB", |b| {
        b.iter(|| {
            counter += 1;
            let mut buf = plaintext.clone();
            key.seal_in_place_append_tag(nonce(counter), Aad::from(b"aad"), &mut buf)
                .unwrap();
            black_box(buf)
        })
    });
    let mut sealed = plaintext.clone();
    key.seal_in_place_append_tag(nonce(0), Aad::from(b"aad"), &mut sealed)
        .unwrap();
    c.bench_function("baseline/ring_open_1KiB", |b| {
        b.iter(|| {
            let mut buf = sealed.clone();
            let out = key
                .open_in_place(nonce(0), Aad::from(b"aad"), &mut buf)
                .unwrap();
            black_box(out.len())
        })
    });
}

fn store_on(storage: Arc<dyn Storage>) -> SecretsManager {
    SecretsManager::builder(
        storage,
        Arc::new(LocalKms::in_memory(RootKey::generate().unwrap())),
    )
    .build()
}

fn facade(c: &mut Criterion, backend: &str, store: SecretsManager) {
    let data = value();
    let counter = AtomicU64::new(0);
    c.bench_function(&format!("{backend}/create_secret_1KiB"), |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            store
                .create_secret(CreateSecretRequest {
                    secret_name: format!("bench/{n}"),
                    secret_data: data.clone().into(),
                    version_id: "v1".into(),
                    ..Default::default()
                })
                .unwrap()
        })
    });
    store
        .create_secret(CreateSecretRequest {
            secret_name: "bench-read".into(),
            secret_data: data.clone().into(),
            version_id: "v1".into(),
            ..Default::default()
        })
        .unwrap();
    c.bench_function(&format!("{backend}/get_secret_value_1KiB"), |b| {
        b.iter(|| {
            store
                .get_secret_value(GetSecretValueRequest {
                    secret_name: "bench-read".into(),
                    ..Default::default()
                })
                .unwrap()
        })
    });
    // A new version of "bench-read" each time: it keeps 10, so every put past the tenth also
    // evicts the oldest (and its ciphertext), as a long-lived secret's puts do.
    c.bench_function(&format!("{backend}/put_secret_value_1KiB"), |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            store
                .put_secret_value(PutSecretValueRequest {
                    secret_name: "bench-read".into(),
                    version_id: format!("p{n}"),
                    secret_data: data.clone().into(),
                    ..Default::default()
                })
                .unwrap()
        })
    });
}

fn memory(c: &mut Criterion) {
    facade(c, "memory", store_on(Arc::new(MemoryStorage::new())));
}

fn sled(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let storage = SledStorage::open(dir.path().join("data")).unwrap();
    facade(c, "sled", store_on(Arc::new(storage)));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = raw_ring, memory, sled
}
criterion_main!(benches);
