//! Nonces for sealing values, drawn from the operating system 4 KiB at a time: one getrandom
//! call serves 341 envelopes instead of one.
//!
//! Why buffering is sound here, and only here: an AES-GCM nonce must never repeat *under one
//! key*, and it is not secret. Every value is sealed under a data key of its own, which the KMS
//! draws from the operating system on every call (key material is never buffered) and which
//! seals exactly one value. So even if this pool handed the same bytes out twice — say in a
//! parent and a child after `fork` — no key would ever see a nonce twice. A repeated nonce
//! would need a repeated 256-bit data key.

use std::sync::{Mutex, PoisonError};

use ring::rand::{SecureRandom, SystemRandom};

use crate::gcm::NONCE_LEN;

const POOL_LEN: usize = 4092; // a multiple of NONCE_LEN

struct Pool {
    bytes: [u8; POOL_LEN],
    /// How many bytes at the front have been handed out.
    used: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    bytes: [0; POOL_LEN],
    used: POOL_LEN,
});

/// A fresh random nonce. Errors only when the operating system's generator fails.
pub(crate) fn data_nonce() -> Result<[u8; NONCE_LEN], ring::error::Unspecified> {
    // A panic cannot leave the pool half-updated (nothing below panics between the reads and
    // the write of `used`), so a poisoned lock is safe to use.
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if pool.used + NONCE_LEN > POOL_LEN {
        SystemRandom::new().fill(&mut pool.bytes)?;
        pool.used = 0;
    }
    let start = pool.used;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&pool.bytes[start..start + NONCE_LEN]);
    pool.used += NONCE_LEN;
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn nonces_do_not_repeat_across_several_refills_and_threads() {
        let per_thread = 3 * POOL_LEN / NONCE_LEN;
        let all: Vec<[u8; NONCE_LEN]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(move || {
                        (0..per_thread)
                            .map(|_| data_nonce().unwrap())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let distinct: HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
        assert!(all.iter().all(|n| *n != [0; NONCE_LEN]));
    }
}
