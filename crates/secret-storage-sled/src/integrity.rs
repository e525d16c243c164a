//! [`SledStorage::check_integrity`]: a full scan that checks every invariant of the layout.

use std::collections::{BTreeMap, BTreeSet};

use secret_model::{SecretName, VersionId};
use secret_storage::StorageError;

use crate::error::from_sled;
use crate::keys::{
    META_FORMAT, META_JOURNAL, META_VALUES, PAYLOAD_PREFIX, RECORD_PREFIX, name_in_key,
    split_payload_key,
};
use crate::{SledStorage, decode_stored_with_index};

/// What [`SledStorage::check_integrity`] found in a sound store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// How many secrets (records) the store holds.
    pub secrets: usize,
    /// How many payloads the store holds (in the value log, inline in their records or under
    /// keys of their own).
    pub payloads: usize,
}

impl SledStorage {
    /// Scans the whole store and checks that it is sound: every record and its payload index
    /// decode and the record is stored under its own name; each secret's payload index lists
    /// exactly the payloads stored for it; every payload it points to in the value log is
    /// there whole (its checksum matches); no payload exists without a record; no other key
    /// exists. (Whether each version *has* a payload is the facade's rule, not checked here;
    /// nor is garbage in the value log, which a collection frees.)
    ///
    /// The scan is not atomic: run it on a store no one is writing to, such as right after
    /// [`SledStorage::open`]. Errors: `Corrupt` describing the first problem found; `Backend`
    /// if sled fails, or a journaled write could not be fully applied (reopen the store).
    pub fn check_integrity(&self) -> Result<IntegrityReport, StorageError> {
        self.check_readable()?;
        // Each secret's payloads stored under keys of their own, by its index.
        let mut indexes: BTreeMap<SecretName, BTreeSet<VersionId>> = BTreeMap::new();
        let mut payloads: BTreeMap<SecretName, Vec<VersionId>> = BTreeMap::new();
        let mut payload_count = 0;
        for entry in self.tree.iter() {
            let (key, value) = entry.map_err(|e| from_sled("scanning the store", e))?;
            if [META_FORMAT, META_JOURNAL, META_VALUES].contains(&key.as_ref()) {
                continue;
            } else if key.starts_with(RECORD_PREFIX) {
                let name = name_in_key(RECORD_PREFIX, &key)?;
                let (index, _record) = decode_stored_with_index(&name, &value)?;
                payload_count += usize::from(index.inline.is_some());
                for (id, pointer) in &index.logged {
                    self.read_logged(*pointer)
                        .map_err(|e| corrupt(format!("the payload of {name} version {id}: {e}")))?;
                    payload_count += 1;
                }
                indexes.insert(name, index.versions);
            } else if key.starts_with(PAYLOAD_PREFIX) {
                let (name, id) = split_payload_key(&key)?;
                payloads.entry(name).or_default().push(id);
                payload_count += 1;
            } else {
                return Err(StorageError::Corrupt(format!(
                    "unexpected key {:?} in the sled store",
                    String::from_utf8_lossy(&key)
                )));
            }
        }
        let secrets = indexes.len();
        for (name, listed) in &mut indexes {
            // Remove what is found; what remains is listed but missing.
            for id in payloads.remove(name).unwrap_or_default() {
                if !listed.remove(&id) {
                    return Err(corrupt(format!(
                        "a payload of {name} version {id} is stored but not in its index"
                    )));
                }
            }
            if let Some(id) = listed.first() {
                return Err(corrupt(format!(
                    "the payload index of {name} lists version {id}, whose payload is missing"
                )));
            }
        }
        // Payloads of existing secrets were removed above.
        if let Some(owner) = payloads.keys().next() {
            return Err(corrupt(format!(
                "payloads of {owner} are stored but {owner} does not exist"
            )));
        }
        Ok(IntegrityReport {
            secrets,
            payloads: payload_count,
        })
    }
}

fn corrupt(message: String) -> StorageError {
    StorageError::Corrupt(message)
}
