//! [`MemoryStorage`]: every secret in one map behind one mutex.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use secret_model::{SecretName, VersionId};

use crate::{SecretRecord, Snapshot, Storage, StorageError, Update};

type Payloads = BTreeMap<VersionId, Vec<u8>>;
type Secrets = BTreeMap<SecretName, (SecretRecord, Payloads)>;

/// A backend that keeps everything in memory, behind one mutex; nothing survives the process.
///
/// Every operation holds the mutex for its whole duration, so [`Storage::update`] is trivially
/// atomic and linearizable, and a write is "durable" (by this backend's promise) once it
/// returns. No operation returns an error except [`StorageError::NameMismatch`] from
/// [`Storage::update`].
///
/// The closure given to [`Storage::update`] runs *while the mutex is held*: it must not call
/// back into this storage (that would deadlock), as the trait already demands.
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
        Ok(self.lock().get(name).map(|(record, _)| record.clone()))
    }

    fn read_payload(
        &self,
        name: &SecretName,
        version_id: &VersionId,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .lock()
            .get(name)
            .and_then(|(_, payloads)| payloads.get(version_id).cloned()))
    }

    fn snapshot(&self, name: &SecretName) -> Result<Option<Snapshot>, StorageError> {
        Ok(self.lock().get(name).map(|(record, payloads)| Snapshot {
            record: record.clone(),
            payloads: payloads
                .iter()
                .map(|(id, bytes)| (id.clone(), bytes.clone()))
                .collect(),
        }))
    }

    fn update(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&SecretRecord>) -> Update,
    ) -> Result<(), StorageError> {
        let mut secrets = self.lock();
        let decision = f(secrets.get(name).map(|(record, _)| record));
        match decision {
            Update::Keep => {}
            Update::Delete => {
                secrets.remove(name);
            }
            Update::Write {
                record,
                put_payloads,
                delete_payloads,
            } => {
                if record.name != *name {
                    return Err(StorageError::NameMismatch);
                }
                let (stored, payloads) = secrets
                    .entry(name.clone())
                    .or_insert_with(|| (record.clone(), Payloads::new()));
                *stored = record;
                payloads.extend(put_payloads);
                for id in &delete_payloads {
                    payloads.remove(id);
                }
            }
        }
        Ok(())
    }

    fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, StorageError> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .lock()
            .range::<SecretName, _>((start, Bound::Unbounded))
            .take(limit)
            .map(|(_, (record, _))| record.clone())
            .collect())
    }

    /// `false`: the records live only in this process's memory, so the facade does not seal
    /// them (anyone who could change them could read the root key as well).
    fn records_leave_the_process(&self) -> bool {
        false
    }
}
