//! The replay guard: every (AccessKeyId, nonce) pair seen is remembered for the accepted
//! window's length after it was seen (longer when the request's time is ahead of the server's:
//! until that time leaves the window), in bounded memory.
//!
//! Each nonce is kept as a 64-bit digest in a bucket of the minute it expires in; a bucket is
//! dropped whole once its minute has passed. So a nonce is forgotten at most a minute late and
//! never early, and costs about 10–20 bytes. A false "used" needs two digests of the window to
//! collide: with 16 million nonces remembered, about one request in 10^12.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ring::digest;

/// Shards, so concurrent requests rarely wait on one another's lock.
const SHARDS: usize = 16;
/// The span of expiry times one bucket holds, in seconds.
const BUCKET_SECS: i64 = 60;

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

/// Remembered nonces, by digest of (AccessKeyId, nonce) and minute of expiry.
pub(crate) struct NonceCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    /// Shared with the other caches drawing on the same capacity.
    budget: Arc<Budget>,
}

/// A capacity several caches draw on: how many nonces they hold together, at most `limit`
/// (give or take the few inserts that race past the check).
#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
    limit: usize,
}

impl Budget {
    /// A capacity of `limit` nonces.
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Budget {
            used: AtomicUsize::new(0),
            limit,
        })
    }
}

type DigestSet = HashSet<u64, BuildHasherDefault<DigestHasher>>;

/// One shard: a bucket for each minute of expiry that has nonces, the oldest first. Only
/// minutes in use have a bucket, so an expiry far from the others (one restored from the log
/// of a run whose clock was ahead, say) costs one bucket, not one per minute in between.
#[derive(Default)]
struct Shard {
    buckets: BTreeMap<i64, DigestSet>,
    len: usize,
}

impl Shard {
    /// Drops the buckets whose every expiry is at or before `now`; returns how many nonces
    /// went with them.
    fn evict(&mut self, now: i64) -> usize {
        let mut dropped = 0;
        while let Some(oldest) = self.buckets.first_entry() {
            if oldest.key().saturating_add(1).saturating_mul(BUCKET_SECS) > now {
                break;
            }
            let bucket = oldest.remove();
            self.len -= bucket.len();
            dropped += bucket.len();
        }
        dropped
    }

    fn contains(&self, id: u64) -> bool {
        self.buckets.values().any(|b| b.contains(&id))
    }

    fn insert(&mut self, id: u64, expires_at: i64) {
        let minute = expires_at.div_euclid(BUCKET_SECS);
        if self.buckets.entry(minute).or_default().insert(id) {
            self.len += 1;
        }
    }

    /// Removes `id` from the bucket of `expires_at`; whether it was there.
    fn remove(&mut self, id: u64, expires_at: i64) -> bool {
        let minute = expires_at.div_euclid(BUCKET_SECS);
        let Some(bucket) = self.buckets.get_mut(&minute) else {
            return false;
        };
        if !bucket.remove(&id) {
            return false;
        }
        if bucket.is_empty() {
            self.buckets.remove(&minute);
        }
        self.len -= 1;
        true
    }
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
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl NonceCache {
    /// A cache that holds at most about `capacity` nonces (at least one per shard), and no
    /// more than `budget` leaves.
    pub(crate) fn new(capacity: usize, budget: Arc<Budget>) -> Self {
        NonceCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            budget,
        }
    }

    /// Drops every expired nonce, in every shard (a shard otherwise drops its own when next
    /// used), giving their room back to the budget.
    pub(crate) fn evict_expired(&self, now: i64) {
        for shard in &self.shards {
            let dropped = shard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .evict(now);
            self.budget.used.fetch_sub(dropped, Ordering::Relaxed);
        }
    }

    /// Records `nonce` of `access_key_id` until `expires_at` unless it is already recorded.
    /// Buckets that expired at or before `now` are dropped first.
    #[cfg(test)]
    pub(crate) fn check_and_insert(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires_at: i64,
        now: i64,
    ) -> NonceCheck {
        self.check_and_insert_digest(digest_of(access_key_id, nonce), expires_at, now)
    }

    /// Records the digest `id` of (access key id, nonce) until `expires_at` unless it is
    /// already recorded. Buckets that expired at or before `now` are dropped first.
    pub(crate) fn check_and_insert_digest(&self, id: u64, expires_at: i64, now: i64) -> NonceCheck {
        // The top bits pick the shard; the hash sets use the low bits.
        let shard = &self.shards[(id >> 60) as usize % SHARDS];
        // A poisoned lock only means another request panicked mid-insert; the sets are still
        // valid sets of nonces.
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let dropped = shard.evict(now);
        self.budget.used.fetch_sub(dropped, Ordering::Relaxed);
        if shard.contains(id) {
            return NonceCheck::Used;
        }
        if shard.len >= self.per_shard
            || self.budget.used.load(Ordering::Relaxed) >= self.budget.limit
        {
            return NonceCheck::Full;
        }
        shard.insert(id, expires_at);
        self.budget.used.fetch_add(1, Ordering::Relaxed);
        NonceCheck::Fresh
    }

    /// Forgets digest `id`, remembered until `expires_at` by
    /// [`NonceCache::check_and_insert_digest`], for a request refused before it ran (its nonce
    /// could not be logged): the same signed request sent again is then taken as new, not
    /// refused as a replay of one that never ran.
    pub(crate) fn forget(&self, id: u64, expires_at: i64) {
        let mut shard = self.shards[(id >> 60) as usize % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if shard.remove(id, expires_at) {
            self.budget.used.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Remembers digest `id` until `expires_at`, as read back from the log of an earlier run:
    /// it is taken even past the capacity (it was accepted within it), and counts towards it.
    pub(crate) fn restore(&self, id: u64, expires_at: i64) {
        let mut shard = self.shards[(id >> 60) as usize % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !shard.contains(id) {
            shard.insert(id, expires_at);
            self.budget.used.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The 64-bit digest an access key id is known by in the nonce log: the first 8 bytes of
/// its SHA-256.
pub(crate) fn key_digest(access_key_id: &str) -> u64 {
    let d = digest::digest(&digest::SHA256, access_key_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d.as_ref()[..8]);
    u64::from_le_bytes(first)
}

/// The digest of (access key id, nonce) the guard remembers.
pub(crate) fn digest_of(access_key_id: &str, nonce: &str) -> u64 {
    let mut ctx = digest::Context::new(&digest::SHA256);
    // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
    ctx.update(&(access_key_id.len() as u64).to_be_bytes());
    ctx.update(access_key_id.as_bytes());
    ctx.update(nonce.as_bytes());
    let d = ctx.finish();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d.as_ref()[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log written while the clock was a month ahead, read back after it was corrected:
    /// the far expiry costs one bucket, not one per minute in between (which every request
    /// in the shard would also scan).
    #[test]
    fn a_restored_far_future_expiry_costs_one_bucket() {
        let now = 1_000_000;
        let cache = NonceCache::new(100, Budget::new(100));
        let id = digest_of("ak", "from-the-future");
        cache.restore(id, now + 30 * 24 * 3600 + 900);
        // A request now, in the same shard.
        let other = (0..)
            .map(|n: u64| digest_of("ak", &n.to_string()))
            .find(|d| d >> 60 == id >> 60 && *d != id)
            .unwrap();
        assert_eq!(
            cache.check_and_insert_digest(other, now + 900, now),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert_digest(id, now + 900, now),
            NonceCheck::Used
        );
        let shard = cache.shards[(id >> 60) as usize % SHARDS].lock().unwrap();
        assert_eq!(shard.buckets.len(), 2);
    }

    #[test]
    fn a_forgotten_nonce_is_fresh_again_and_gives_back_its_room() {
        let budget = Budget::new(1);
        let cache = NonceCache::new(100, Arc::clone(&budget));
        let id = digest_of("ak", "n1");
        assert_eq!(
            cache.check_and_insert_digest(id, 1_000, 100),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("ak", "n2", 1_000, 100),
            NonceCheck::Full
        );
        cache.forget(id, 1_000);
        assert_eq!(budget.used.load(Ordering::Relaxed), 0);
        let shard = &cache.shards[(id >> 60) as usize % SHARDS];
        assert!(
            shard.lock().unwrap().buckets.is_empty(),
            "its empty bucket is dropped"
        );
        // Forgetting what is not there changes nothing.
        cache.forget(id, 1_000);
        assert_eq!(budget.used.load(Ordering::Relaxed), 0);
        assert_eq!(
            cache.check_and_insert_digest(id, 1_000, 100),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert_digest(id, 1_000, 100),
            NonceCheck::Used
        );
    }

    #[test]
    fn a_nonce_is_refused_until_its_minute_of_expiry_has_passed() {
        let cache = NonceCache::new(100, Budget::new(100));
        // Expires at 1_000, in the bucket of [960, 1020).
        assert_eq!(
            cache.check_and_insert("ak", "n1", 1_000, 100),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("ak", "n1", 1_000, 999),
            NonceCheck::Used
        );
        assert_eq!(
            cache.check_and_insert("ak", "n1", 1_100, 1_019),
            NonceCheck::Used
        );
        assert_eq!(
            cache.check_and_insert("ak", "n1", 2_000, 1_020),
            NonceCheck::Fresh
        );
    }

    #[test]
    fn an_earlier_expiry_after_a_later_one_is_kept() {
        let cache = NonceCache::new(100, Budget::new(100));
        assert_eq!(
            cache.check_and_insert("ak", "late", 2_000, 0),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("ak", "early", 1_000, 0),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("ak", "early", 1_500, 900),
            NonceCheck::Used
        );
        // Once its minute has passed, "early" is forgotten and "late" still kept.
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
        let cache = NonceCache::new(100, Budget::new(100));
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
        let cache = NonceCache::new(SHARDS, Budget::new(SHARDS));
        let mut full = 0;
        for i in 0..SHARDS * 8 {
            if cache.check_and_insert("ak", &i.to_string(), 500, 0) == NonceCheck::Full {
                full += 1;
            }
        }
        assert!(full >= SHARDS * 6, "only {full} refused");
        // Once the window passed, the shards have room again.
        assert_eq!(
            cache.check_and_insert("ak", "later", 1_000, 600),
            NonceCheck::Fresh
        );
    }

    #[test]
    fn caches_on_one_budget_hold_no_more_than_it_together_and_get_it_back_on_expiry() {
        let budget = Budget::new(64);
        // Each could hold 64 by itself (4 per shard).
        let (a, b) = (
            NonceCache::new(64, budget.clone()),
            NonceCache::new(64, budget.clone()),
        );
        let fresh = |cache: &NonceCache, key: &str, n: usize, expires_at: i64| {
            (0..n)
                .filter(|i| {
                    cache.check_and_insert(key, &i.to_string(), expires_at, 0) == NonceCheck::Fresh
                })
                .count()
        };
        // The first cache's nonces expire at 500, the second's at 2,000.
        let first = fresh(&a, "a", 48, 500);
        assert!((30..=48).contains(&first), "{first}");
        let second = fresh(&b, "b", 200, 2_000);
        assert_eq!(first + second, 64, "the budget is shared");
        assert_eq!(budget.used.load(Ordering::Relaxed), 64);
        // Past the first window, the room the first cache held is not back until it is swept
        // (each shard drops its own expired nonces only when it is next used).
        assert_eq!(b.check_and_insert("b", "x", 2_500, 600), NonceCheck::Full);
        a.evict_expired(600);
        assert_eq!(budget.used.load(Ordering::Relaxed), second);
        assert_eq!(a.check_and_insert("a", "x", 1_000, 600), NonceCheck::Fresh);
    }
}
