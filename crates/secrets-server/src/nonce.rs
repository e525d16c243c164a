//! The replay guard: every (AccessKeyId, nonce) pair seen is remembered until the request's
//! timestamp leaves the accepted window, in bounded memory.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
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

#[derive(Default)]
struct Shard {
    expiry: HashMap<u128, i64>,
    queue: BinaryHeap<Reverse<(i64, u128)>>,
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
        while let Some(&Reverse((at, old))) = shard.queue.peek() {
            if at > now {
                break;
            }
            shard.queue.pop();
            if shard.expiry.get(&old) == Some(&at) {
                shard.expiry.remove(&old);
            }
        }
        if shard.expiry.contains_key(&id) {
            return NonceCheck::Used;
        }
        if shard.expiry.len() >= self.per_shard {
            return NonceCheck::Full;
        }
        shard.expiry.insert(id, expires_at);
        shard.queue.push(Reverse((expires_at, id)));
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
