//! Durable creates from many callers on a fresh journaled sled store, for a fixed time: the
//! 32-caller sled row of `secrets-bench` alone, on a store of its own, so that a change to the
//! write path can be measured in interleaved A/B runs. Prints creates/s and how many of them
//! one journal sync covered.
//!
//! ```text
//! cargo run --release -p secrets-manager --example sled_callers -- [CALLERS] [SECONDS] [PRELOAD]
//! ```
//!
//! `PRELOAD` secrets (default 0) are created before the clock starts, so that the store's size
//! can be set (the bench's shared store holds a few hundred thousand by its last round).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use secret_crypto::{LocalKms, RootKey};
use secret_storage_sled::SledStorage;
use secrets_manager::{CreateSecretRequest, SecretsManager};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut next = |default: u64| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(args
            .next()
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let callers = next(32)?;
    let seconds = next(5)?;
    let preload = next(0)?;

    let dir = tempfile::tempdir()?;
    let storage = Arc::new(SledStorage::open(dir.path())?);
    let kms = LocalKms::in_memory(RootKey::generate()?);
    let store = Arc::new(SecretsManager::builder(Arc::clone(&storage) as _, Arc::new(kms)).build());
    let value = vec![b'v'; 1024];
    let create = |name: String| {
        store
            .create_secret(CreateSecretRequest {
                secret_name: name,
                secret_data: value.clone().into(),
                version_id: "v1".into(),
                ..Default::default()
            })
            .map(drop)
    };

    let next_name = AtomicU64::new(0);
    let fill_stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..callers {
            s.spawn(|| {
                while !fill_stop.load(Ordering::Relaxed) {
                    let n = next_name.fetch_add(1, Ordering::Relaxed);
                    if n >= preload {
                        break;
                    }
                    create(format!("bench/new/{n}")).expect("create");
                }
            });
        }
    });
    fill_stop.store(true, Ordering::Relaxed);
    let next_name = AtomicU64::new(preload);

    let syncs_before = storage.flush_count();
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..callers {
            s.spawn(|| {
                let mut mine = 0;
                while !stop.load(Ordering::Relaxed) {
                    let n = next_name.fetch_add(1, Ordering::Relaxed);
                    create(format!("bench/new/{n}")).expect("create");
                    mine += 1;
                }
                done.fetch_add(mine, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = started.elapsed().as_secs_f64();
    let creates = done.load(Ordering::Relaxed);
    let syncs = storage.flush_count() - syncs_before;
    println!(
        "{callers} callers, {preload} preloaded: {:.0} creates/s ({creates} in {elapsed:.2} s), \
         {syncs} journal syncs ({:.1} creates each)",
        creates as f64 / elapsed,
        creates as f64 / syncs.max(1) as f64
    );
    Ok(())
}
