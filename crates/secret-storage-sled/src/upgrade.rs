//! Upgrading a store written in layout 1 (payload index under a key of its own, `i/` name) to
//! layout 2 (the index stored with the record, under `r/` name), which is the current layout 3
//! without inline payloads: a layout-2 value is a layout-3 value.
//!
//! The upgrade runs in three steps (`finish_upgrade` in the crate root):
//!
//! 1. [`check_layout_1`]: every layout-1 index is read with its record and checked, and every
//!    record without an index must already be a layout-2 value; nothing is written. A damaged
//!    store is refused here with no secret and no layout version changed.
//! 2. `meta/format` is set to the current layout and made durable, *before* any secret
//!    changes. A release that reads layout 1 only refuses a layout-3 store; so it never opens a
//!    half-upgraded store and misreads the secrets already upgraded.
//! 3. [`fold_layout_1`]: each secret is upgraded in one sled transaction: its record key gets
//!    the index and the record, and its index key is removed. sled applies a transaction whole
//!    or not at all, after a crash too; so a store left half-upgraded by a crash says layout 3
//!    and holds upgraded secrets (no `i/` key) beside layout-1 ones (an `i/` key), and every
//!    open folds whatever `i/` keys it finds. (Layouts 2 and 3 never write an `i/` key, so one
//!    is always a leftover of an interrupted upgrade; finding none costs one empty prefix
//!    scan.)
//!
//! The transaction makes the fold safe against another `SledStorage` on the same database
//! ([`SledStorage::from_db`](crate::SledStorage::from_db) may be called twice on one `Db`):
//! a secret whose index key is already gone was upgraded, and perhaps written since, by the
//! other value, and is skipped rather than overwritten with its old record.

use secret_model::SecretName;
use secret_storage::{StorageError, decode_record_of};
use sled::transaction::ConflictableTransactionError;

use crate::decode_stored;
use crate::error::{from_sled, from_transaction};
use crate::keys::{
    LEGACY_INDEX_PREFIX, PayloadIndex, RECORD_PREFIX, encode_stored, legacy_index_key, name_in_key,
    record_key,
};

/// The layout-2 value of a secret stored in layout 1 as `index` (its `i/` value) and `record`
/// (its `r/` value, if any).
///
/// Errors: `Corrupt` if the index does not decode, there is no record, or the record does not
/// decode or names another secret.
fn layout_2_value(
    name: &SecretName,
    index: &[u8],
    record: Option<&[u8]>,
) -> Result<Vec<u8>, StorageError> {
    let index = PayloadIndex::decode(name, index)?;
    if index.inline.is_some() || !index.logged.is_empty() {
        return Err(StorageError::Corrupt(format!(
            "the layout-1 payload index of {name} holds a payload inline or in the value log"
        )));
    }
    let record = record.ok_or_else(|| {
        StorageError::Corrupt(format!("{name} has a payload index but no record"))
    })?;
    // A layout-1 record is a bare record: check it is one, and this secret's, before wrapping.
    decode_record_of(name, record).map_err(|e| e.in_context("layout 1"))?;
    Ok(encode_stored(&index, record))
}

/// Checks that every layout-1 index in `tree` can be folded into its record, and that every
/// record without an index is already a layout-2 value (folded by an interrupted upgrade, or
/// by another value on this database); changes nothing. Returns how many indexes there are.
///
/// Errors: `Corrupt` for the first index that does not decode, has no record, or whose record
/// does not decode or names another secret, and for the first record without an index that is
/// not a layout-2 value of its secret; `Backend` if sled fails.
pub(crate) fn check_layout_1(tree: &sled::Tree) -> Result<u64, StorageError> {
    let found = each_layout_1(tree, Step::Check)?;
    for entry in tree.scan_prefix(RECORD_PREFIX) {
        let (key, _) = entry.map_err(|e| from_sled("reading a layout-1 record", e))?;
        let name = name_in_key(RECORD_PREFIX, &key)?;
        let index_key = legacy_index_key(&name);
        tree.transaction(|tx| {
            if tx.get(&index_key)?.is_some() {
                return Ok(()); // checked above
            }
            if let Some(value) = tx.get(&key)? {
                decode_stored(&name, &value).map_err(|e| {
                    let context = format!("layout 1: {name} has a record but no payload index");
                    ConflictableTransactionError::Abort(e.in_context(&context))
                })?;
            }
            Ok(())
        })
        .map_err(|e| from_transaction("checking a layout-1 secret", e))?;
    }
    Ok(found)
}

/// Folds every layout-1 payload index left in `tree` into its record, one sled transaction
/// per secret; returns how many secrets it upgraded. A secret whose index key is gone by the
/// time its transaction runs is skipped. Does not make anything durable.
///
/// Errors: as [`check_layout_1`] (the secret in question is left as it was).
pub(crate) fn fold_layout_1(tree: &sled::Tree) -> Result<u64, StorageError> {
    each_layout_1(tree, Step::Fold)
}

#[derive(Clone, Copy, PartialEq)]
enum Step {
    Check,
    Fold,
}

/// Runs `step` on each secret with a layout-1 index, each in a sled transaction that reads
/// the index and the record together (another value on this database may be folding them
/// meanwhile) and skips the secret if its index is gone. Returns how many it did not skip.
fn each_layout_1(tree: &sled::Tree, step: Step) -> Result<u64, StorageError> {
    let mut done = 0;
    for entry in tree.scan_prefix(LEGACY_INDEX_PREFIX) {
        let (index_key, _) = entry.map_err(|e| from_sled("reading a layout-1 index", e))?;
        let name = name_in_key(LEGACY_INDEX_PREFIX, &index_key)?;
        let key = record_key(&name);
        let did = tree
            .transaction(|tx| {
                // Read again inside the transaction: the scan's value may be stale.
                let Some(index) = tx.get(&index_key)? else {
                    return Ok(false);
                };
                let record = tx.get(&key)?;
                let value = layout_2_value(&name, &index, record.as_deref())
                    .map_err(ConflictableTransactionError::Abort)?;
                if step == Step::Fold {
                    tx.insert(key.as_slice(), value)?;
                    tx.remove(index_key.as_ref())?;
                }
                Ok(true)
            })
            .map_err(|e| from_transaction("upgrading a secret to layout 2", e))?;
        done += u64::from(did);
    }
    Ok(done)
}
