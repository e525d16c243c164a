//! The opt-in decrypted-value cache: a version's value never changes, so a cached value never
//! goes stale; stage-to-version resolution always reads current metadata first.
//!
//! A version id may be used again once its version was removed (evicted as the 11th version
//! came, or with its secret), so an entry is kept for one writing of a version: it is served
//! only to a read whose current record gives the version the payload tag it was cached under
//! ([`PayloadTag`], different for every sealing). A value cached by a read that raced with the
//! version's removal, or by an instance that never heard of it (several instances on one
//! PostgreSQL store), is then never served for the new version of that id.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use secret_model::{SecretName, SecretValue, VersionId};
use secret_storage::PayloadTag;

/// Bounds of the value cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// The most values kept.
    pub max_entries: usize,
    /// The most value bytes kept (the sum of the values' lengths).
    pub max_bytes: usize,
}

impl Default for CacheConfig {
    /// 10,000 values or 16 MiB, whichever is reached first.
    fn default() -> Self {
        CacheConfig {
            max_entries: 10_000,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// What the cache has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads served from the cache.
    pub hits: u64,
    /// Reads that had to decrypt.
    pub misses: u64,
    /// Values held now.
    pub entries: usize,
    /// Value bytes held now.
    pub bytes: usize,
}

/// Values are stored under (secret, version), each with the payload tag of the writing of the
/// version it was decrypted from.
type Key = (SecretName, VersionId);

struct Entry {
    value: SecretValue,
    payload_tag: PayloadTag,
    /// The number of this entry's slot in `order`.
    slot: u64,
}

#[derive(Default)]
struct Inner {
    entries: BTreeMap<Key, Entry>,
    /// Insertion order, for eviction (oldest first): each key with the slot number its entry
    /// had when put. A slot whose entry is gone, or was put again since (a newer slot), is
    /// stale: skipped when popped, and dropped whenever stale slots outnumber live ones.
    order: VecDeque<(Key, u64)>,
    next_slot: u64,
    bytes: usize,
}

impl Inner {
    /// Removes `key`'s entry, if any.
    fn remove(&mut self, key: &Key) {
        if let Some(gone) = self.entries.remove(key) {
            self.bytes -= gone.value.bytes().len();
        }
    }

    /// Drops the stale slots once they outnumber the live ones, so that `order` stays within
    /// about twice the entries however values come and go (amortized O(1) per removal).
    fn compact(&mut self) {
        if self.order.len() > 2 * self.entries.len() + 64 {
            let Inner { entries, order, .. } = self;
            order.retain(|(k, slot)| entries.get(k).is_some_and(|e| e.slot == *slot));
        }
    }
}

/// A bounded map of decrypted values. Evicted and forgotten values are dropped, which zeroizes
/// them ([`secret_model::SecretBytes`]).
pub(crate) struct ValueCache {
    config: CacheConfig,
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ValueCache {
    pub(crate) fn new(config: CacheConfig) -> Self {
        ValueCache {
            config,
            inner: Mutex::new(Inner::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent map: every mutation is one step.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached value of `version` of `name`, if held for the writing of it whose payload
    /// has the tag `tag`.
    pub(crate) fn get(
        &self,
        name: &SecretName,
        version: &VersionId,
        tag: PayloadTag,
    ) -> Option<SecretValue> {
        let inner = self.lock();
        let found = inner
            .entries
            .get(&(name.clone(), version.clone()))
            .filter(|e| e.payload_tag == tag)
            .map(|e| e.value.clone());
        drop(inner);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps a decrypted value of the writing of `version` whose payload has the tag `tag`,
    /// evicting the oldest entries past the bounds.
    pub(crate) fn put(
        &self,
        name: &SecretName,
        version: &VersionId,
        tag: PayloadTag,
        value: &SecretValue,
    ) {
        let size = value.bytes().len();
        if size > self.config.max_bytes || self.config.max_entries == 0 {
            return;
        }
        let key = (name.clone(), version.clone());
        let mut inner = self.lock();
        let slot = inner.next_slot;
        inner.next_slot += 1;
        let entry = Entry {
            value: value.clone(),
            payload_tag: tag,
            slot,
        };
        if let Some(old) = inner.entries.insert(key.clone(), entry) {
            inner.bytes -= old.value.bytes().len();
        }
        inner.order.push_back((key, slot));
        inner.bytes += size;
        while inner.entries.len() > self.config.max_entries || inner.bytes > self.config.max_bytes {
            let Some((oldest, slot)) = inner.order.pop_front() else {
                break;
            };
            if inner.entries.get(&oldest).is_some_and(|e| e.slot == slot) {
                inner.remove(&oldest);
            }
        }
        inner.compact();
    }

    /// Drops one version's value (it was evicted from its secret).
    pub(crate) fn forget_version(&self, name: &SecretName, version: &VersionId) {
        let mut inner = self.lock();
        inner.remove(&(name.clone(), version.clone()));
        inner.compact();
    }

    /// Drops every value of a secret (it was deleted or purged).
    pub(crate) fn forget_secret(&self, name: &SecretName) {
        let mut inner = self.lock();
        let keys: Vec<Key> = inner
            .entries
            .range(
                (
                    name.clone(),
                    VersionId::parse("!").expect("\"!\" is a valid version id"),
                )..,
            )
            .take_while(|((n, _), _)| n == name)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            inner.remove(&key);
        }
        inner.compact();
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: inner.entries.len(),
            bytes: inner.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use secret_model::SecretDataType;

    use super::*;

    fn name(s: &str) -> SecretName {
        SecretName::parse(s).unwrap()
    }
    fn ver(s: &str) -> VersionId {
        VersionId::parse(s).unwrap()
    }
    fn value(len: usize) -> SecretValue {
        SecretValue::new(SecretDataType::Text, vec![b'x'; len].into()).unwrap()
    }
    const T: PayloadTag = PayloadTag([1; 16]);

    #[test]
    fn entries_and_bytes_are_bounded_oldest_first() {
        let c = ValueCache::new(CacheConfig {
            max_entries: 2,
            max_bytes: 100,
        });
        c.put(&name("a"), &ver("1"), T, &value(10));
        c.put(&name("b"), &ver("1"), T, &value(10));
        c.put(&name("c"), &ver("1"), T, &value(10));
        assert!(c.get(&name("a"), &ver("1"), T).is_none());
        assert!(c.get(&name("c"), &ver("1"), T).is_some());
        c.put(&name("d"), &ver("1"), T, &value(95));
        let s = c.stats();
        assert!(s.bytes <= 100 && s.entries <= 2, "{s:?}");
        assert_eq!((s.hits, s.misses), (1, 1));
    }

    #[test]
    fn forgetting_a_secret_drops_all_its_versions_only() {
        let c = ValueCache::new(CacheConfig::default());
        for v in ["1", "2"] {
            c.put(&name("a"), &ver(v), T, &value(1));
        }
        c.put(&name("a-b"), &ver("1"), T, &value(1));
        c.put(&name("b"), &ver("1"), T, &value(1));
        c.forget_secret(&name("a"));
        assert!(c.get(&name("a"), &ver("1"), T).is_none());
        assert!(c.get(&name("a"), &ver("2"), T).is_none());
        assert!(c.get(&name("a-b"), &ver("1"), T).is_some());
        assert!(c.get(&name("b"), &ver("1"), T).is_some());
        assert_eq!(c.stats().entries, 2);
    }

    #[test]
    fn versions_forgotten_one_by_one_do_not_pile_up_in_the_eviction_order() {
        // A secret rotated often: each new version is read (cached), and later evicted from
        // the secret (the 11th version), which forgets its cached value. The cache never
        // reaches its bounds, so no put ever pops the forgotten keys off `order`.
        let c = ValueCache::new(CacheConfig::default());
        for i in 0..5_000 {
            c.put(&name("a"), &ver(&format!("v{i}")), T, &value(1));
            if i >= 10 {
                c.forget_version(&name("a"), &ver(&format!("v{}", i - 10)));
            }
        }
        let inner = c.lock();
        assert_eq!(inner.entries.len(), 10);
        assert!(
            inner.order.len() <= 2 * inner.entries.len() + 64,
            "the eviction order holds {} keys for {} cached values",
            inner.order.len(),
            inner.entries.len()
        );
    }

    #[test]
    fn a_value_cached_again_after_being_forgotten_is_evicted_by_its_new_age() {
        let c = ValueCache::new(CacheConfig {
            max_entries: 3,
            max_bytes: 100,
        });
        c.put(&name("a"), &ver("1"), T, &value(1));
        c.forget_version(&name("a"), &ver("1"));
        c.put(&name("b"), &ver("1"), T, &value(1));
        c.put(&name("a"), &ver("1"), T, &value(1)); // now younger than b
        c.put(&name("c"), &ver("1"), T, &value(1));
        c.put(&name("d"), &ver("1"), T, &value(1)); // one over: the oldest, b, goes
        assert!(c.get(&name("a"), &ver("1"), T).is_some());
        assert!(c.get(&name("b"), &ver("1"), T).is_none());
        assert_eq!(c.stats().entries, 3);
    }

    #[test]
    fn another_writing_of_a_version_id_does_not_see_the_old_value() {
        let c = ValueCache::new(CacheConfig::default());
        c.put(&name("a"), &ver("1"), T, &value(1));
        assert!(c.get(&name("a"), &ver("1"), PayloadTag([2; 16])).is_none());
        assert!(c.get(&name("a"), &ver("1"), T).is_some());
    }
}
