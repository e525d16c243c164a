//! The replay guard: every (AccessKeyId, nonce) pair seen is remembered until the request's
//! timestamp leaves the accepted window, in bounded memory.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, PoisonError};

use ring::digest;

/// Shards, so concurrent requests rarely wait on one another's lock.
const SHARDS: usize = 16;

/// What [`NonceCache::check_and_insert`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NonceCheck {
    /// Not seen in the window; now remembered.
    Fresh,
    /// Seen in the window: a replay.
    Used,
    /// The cache is full of unexpired nonces; the request must be refused (forgetting one
    /// early would reopen the replay window).
    Full,
}

/// Remembered nonces, keyed by a 128-bit digest of (AccessKeyId, nonce), each with the unix
/// second after which a request carrying it would be refused as expired anyway.
pub(crate) struct NonceCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

/// One shard: the nonces with their expiry, and the same in arrival order for eviction.
///
/// Expiries arrive nearly in order (they are the requests' times plus the window), and the
/// queue is evicted from the front while the front has expired: an entry stuck behind a later
/// one is dropped late, never early, which costs memory but never opens a replay.
#[derive(Default)]
struct Shard {
    expiry: HashMap<u128, i64, BuildHasherDefault<DigestHasher>>,
    queue: VecDeque<(i64, u128)>,
}

/// The keys are SHA-256 prefixes, already uniform and not steerable by a caller: their own
/// bits are a fine hash.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

impl NonceCache {
    /// A cache that holds at most about `capacity` nonces (at least one per shard).
    pub(crate) fn new(capacity: usize) -> Self {
        NonceCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Records `nonce` of `access_key_id` until `expires_at` unless it is already recorded.
    /// Entries whose expiry is at or before `now` are dropped first.
    pub(crate) fn check_and_insert(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires_at: i64,
        now: i64,
    ) -> NonceCheck {
        let id = digest_of(access_key_id, nonce);
        // The low bits of a SHA-256 are uniform: a fine shard index.
        let shard = &self.shards[(id as usize) % SHARDS];
        // A poisoned lock only means another request panicked mid-insert; the map is still a
        // valid set of nonces.
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(&(at, old)) = shard.queue.front() {
            if at > now {
                break;
            }
            shard.queue.pop_front();
            if shard.expiry.get(&old) == Some(&at) {
                shard.expiry.remove(&old);
            }
        }
        if shard.expiry.get(&id).is_some_and(|&at| at > now) {
            return NonceCheck::Used;
        }
        if shard.queue.len() >= self.per_shard {
            return NonceCheck::Full;
        }
        shard.expiry.insert(id, expires_at);
        shard.queue.push_back((expires_at, id));
        NonceCheck::Fresh
    }
}

fn digest_of(access_key_id: &str, nonce: &str) -> u128 {
    let mut ctx = digest::Context::new(&digest::SHA256);
    // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
    ctx.update(&(access_key_id.len() as u64).to_be_bytes());
    ctx.update(access_key_id.as_bytes());
    ctx.update(nonce.as_bytes());
    let d = ctx.finish();
    let mut first = [0u8; 16];
    first.copy_from_slice(&d.as_ref()[..16]);
    u128::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_refused_until_it_expires() {
        let cache = NonceCache::new(100);
        assert_eq!(
            cache.check_and_insert("ak", "n1", 1_000, 100),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("ak", "n1", 1_000, 999),
            NonceCheck::Used
        );
        assert_eq!(
            cache.check_and_insert("ak", "n1", 2_000, 1_000),
            NonceCheck::Fresh
        );
    }

    #[test]
    fn an_out_of_order_expiry_is_kept_until_it_expires() {
        let cache = NonceCache::new(100);
        assert_eq!(
            cache.check_and_insert("ak", "late", 2_000, 0),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("ak", "early", 1_000, 0),
            NonceCheck::Fresh
        );
        // "early" expired but sits behind "late": it is treated as absent, "late" is kept.
        assert_eq!(
            cache.check_and_insert("ak", "early", 2_500, 1_500),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("ak", "late", 2_500, 1_500),
            NonceCheck::Used
        );
    }

    #[test]
    fn nonces_are_per_access_key() {
        let cache = NonceCache::new(100);
        assert_eq!(
            cache.check_and_insert("a", "bc", 1_000, 0),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("ab", "c", 1_000, 0),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("b", "bc", 1_000, 0),
            NonceCheck::Fresh
        );
    }

    #[test]
    fn a_full_cache_refuses_instead_of_forgetting_and_frees_expired_entries() {
        let cache = NonceCache::new(SHARDS);
        let mut full = 0;
        for i in 0..SHARDS * 8 {
            if cache.check_and_insert("ak", &i.to_string(), 500, 0) == NonceCheck::Full {
                full += 1;
            }
        }
        assert!(full >= SHARDS * 6, "only {full} refused");
        // Once the window passed, every shard has room again.
        for i in 0..SHARDS * 8 {
            let check = cache.check_and_insert("ak", &format!("later-{i}"), 1_000, 600);
            if check == NonceCheck::Fresh {
                return;
            }
        }
        panic!("expired nonces were not dropped");
    }
}
