//! [`MemoryStorage`]: every secret in one map behind one mutex.

mod compact;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use secret_model::{SecretName, VersionId};

use crate::{SecretRecord, Snapshot, Storage, StorageError, Update};
use compact::{CompactRecord, encode_payload, payload_bytes, payload_id, payload_version_id};

/// The secrets by name (the record inside does not hold the name again).
type Secrets = BTreeMap<SecretName, Stored>;

/// One secret as kept in memory.
#[derive(Debug)]
struct Stored {
    record: CompactRecord,
    /// Each payload with its version id in front ([`encode_payload`]), sorted by version id,
    /// without spare capacity.
    payloads: Vec<Box<[u8]>>,
}

impl Stored {
    fn find(&self, version_id: &VersionId) -> Result<usize, usize> {
        let id = version_id.as_str().as_bytes();
        self.payloads.binary_search_by(|p| payload_id(p).cmp(id))
    }

    fn put(&mut self, version_id: &VersionId, payload: &[u8]) {
        let stored = encode_payload(version_id, payload);
        match self.find(version_id) {
            Ok(i) => self.payloads[i] = stored,
            Err(i) => self.payloads.insert(i, stored),
        }
    }

    fn remove(&mut self, version_id: &VersionId) {
        if let Ok(i) = self.find(version_id) {
            self.payloads.remove(i);
        }
    }

    /// Puts `put` (replacing payloads of the same version id), then removes `delete`, and
    /// leaves no spare capacity.
    fn apply(&mut self, put: &[(VersionId, std::borrow::Cow<'_, [u8]>)], delete: &[VersionId]) {
        self.payloads.reserve_exact(put.len());
        for (id, payload) in put {
            self.put(id, payload);
        }
        for id in delete {
            self.remove(id);
        }
        self.payloads.shrink_to_fit();
    }
}

/// A backend that keeps everything in memory, behind one mutex; nothing survives the process.
///
/// Every operation holds the mutex for its whole duration, so [`Storage::update`] is trivially
/// atomic and linearizable, and a write is "durable" (by this backend's promise) once it
/// returns. The only error a caller can cause is [`StorageError::NameMismatch`] from
/// [`Storage::update`]; [`StorageError::Corrupt`] would mean a bug in this module's own compact
/// form (it is never expected, but reported rather than panicking).
///
/// The closure given to [`Storage::update`] runs *while the mutex is held*: it must not call
/// back into this storage (that would deadlock), as the trait already demands.
///
/// Records are kept in a compact form (about 1/4 of a [`SecretRecord`]'s heap footprint) and
/// rebuilt on every read, with the same allocations a clone would make; each payload is kept
/// in a single allocation of its exact size.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    secrets: Mutex<Secrets>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Secrets> {
        // The map is only changed after the update closure has returned and by code that does
        // not panic midway, so a panic while the lock was held (in a caller's closure) left
        // the map consistent: recovering from poisoning is sound.
        self.secrets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Storage for MemoryStorage {
    fn read(&self, name: &SecretName) -> Result<Option<SecretRecord>, StorageError> {
        self.lock()
            .get_key_value(name)
            .map(|(name, stored)| stored.record.to_record(name))
            .transpose()
    }

    fn read_payload(
        &self,
        name: &SecretName,
        version_id: &VersionId,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let secrets = self.lock();
        let Some(stored) = secrets.get(name) else {
            return Ok(None);
        };
        Ok(stored
            .find(version_id)
            .ok()
            .map(|i| payload_bytes(&stored.payloads[i]).to_vec()))
    }

    fn snapshot(&self, name: &SecretName) -> Result<Option<Snapshot>, StorageError> {
        let secrets = self.lock();
        let Some((name, stored)) = secrets.get_key_value(name) else {
            return Ok(None);
        };
        let payloads = stored
            .payloads
            .iter()
            .map(|p| Ok((payload_version_id(p)?, payload_bytes(p).to_vec())))
            .collect::<Result<_, StorageError>>()?;
        Ok(Some(Snapshot {
            record: stored.record.to_record(name)?,
            payloads,
        }))
    }

    fn update<'a>(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
    ) -> Result<(), StorageError> {
        let mut secrets = self.lock();
        // One walk of the map: the entry is found once, read, and written through. Its key is
        // a clone of `name` (which `for_secret` holds the record's name to).
        match secrets.entry(name.clone()) {
            Entry::Occupied(mut entry) => {
                let current = entry.get().record.to_record(entry.key())?;
                match f(Some(&current)).for_secret(name)? {
                    Update::Keep => {}
                    Update::Delete => {
                        entry.remove();
                    }
                    Update::Write {
                        record,
                        put_payloads,
                        delete_payloads,
                    } => {
                        let stored = entry.get_mut();
                        stored.record = CompactRecord::new(record).1;
                        stored.apply(&put_payloads, &delete_payloads);
                    }
                }
            }
            Entry::Vacant(entry) => match f(None).for_secret(name)? {
                Update::Keep | Update::Delete => {}
                Update::Write {
                    record,
                    put_payloads,
                    delete_payloads,
                } => {
                    let stored = entry.insert(Stored {
                        record: CompactRecord::new(record).1,
                        payloads: Vec::new(),
                    });
                    stored.apply(&put_payloads, &delete_payloads);
                }
            },
        }
        Ok(())
    }

    fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, StorageError> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.lock()
            .range::<SecretName, _>((start, Bound::Unbounded))
            .take(limit)
            .map(|(name, stored)| stored.record.to_record(name))
            .collect()
    }

    /// `false`: the records live only in this process's memory, so the facade does not seal
    /// them (anyone who could change them could read the root key as well).
    fn records_leave_the_process(&self) -> bool {
        false
    }
}
