//! Upgrading a store written in layout 1 (payload index under a key of its own, `i/` name) to
//! layout 2 (the index stored with the record, under `r/` name).
//!
//! Each secret is upgraded with one sled batch: its record key gets the index and the record,
//! and its index key is removed. sled applies a batch whole or not at all, after a crash too;
//! so a store left half-upgraded by a crash holds upgraded secrets (no `i/` key) and layout-1
//! secrets (an `i/` key), and the next open carries on with the latter. `meta/format` says 2
//! only after every secret is upgraded and durable.

use secret_storage::{StorageError, decode_record};

use crate::error::from_sled;
use crate::keys::{LEGACY_INDEX_PREFIX, PayloadIndex, encode_stored, name_in_key, record_key};

/// Folds every layout-1 payload index into its record; returns how many secrets it upgraded.
/// Does not make anything durable, nor change `meta/format`: the caller does both, in that
/// order.
///
/// Errors: `Corrupt` if an index does not decode, has no record, or its record does not
/// decode (the store is left as it was for that secret); `Backend` if sled fails.
pub(crate) fn from_layout_1(tree: &sled::Tree) -> Result<u64, StorageError> {
    let mut upgraded = 0;
    for entry in tree.scan_prefix(LEGACY_INDEX_PREFIX) {
        let (index_key, index) = entry.map_err(|e| from_sled("reading a layout-1 index", e))?;
        let name = name_in_key(LEGACY_INDEX_PREFIX, &index_key)?;
        let index = PayloadIndex::decode(&name, &index)?;
        let key = record_key(&name);
        let record = tree
            .get(&key)
            .map_err(|e| from_sled("reading a layout-1 record", e))?
            .ok_or_else(|| {
                StorageError::Corrupt(format!("{name} has a payload index but no record"))
            })?;
        // A layout-1 record is a bare record: check it is one before wrapping it.
        decode_record(&record).map_err(|e| match e {
            StorageError::Corrupt(why) => {
                StorageError::Corrupt(format!("layout-1 record of {name}: {why}"))
            }
            other => other,
        })?;
        let mut batch = sled::Batch::default();
        batch.insert(key, encode_stored(&index, &record));
        batch.remove(index_key);
        tree.apply_batch(batch)
            .map_err(|e| from_sled("upgrading a secret to layout 2", e))?;
        upgraded += 1;
    }
    Ok(upgraded)
}
