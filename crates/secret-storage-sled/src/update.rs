//! [`Storage::update`](secret_storage::Storage::update) as one sled transaction.

use std::cell::RefCell;

use secret_model::SecretName;
use secret_storage::{SecretRecord, StorageError, Update, encode_record};
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionalTree,
};

use crate::error::from_transaction;
use crate::group_commit::Pending;
use crate::keys::{PayloadIndex, index_key, payload_key, record_key};
use crate::{SledStorage, decode_stored};

type TxResult<T> = ConflictableTransactionResult<T, StorageError>;

fn abort<T>(error: StorageError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(error))
}

/// Runs `f` on the current record inside a transaction and applies its decision. Does not
/// flush. sled may run the transaction body again after a conflict; only the last run's
/// writes are applied, matching the contract that only `f`'s last decision counts.
///
/// `pending` is marked before the commit of any run that decides to write or delete (so a
/// reader who sees the write also sees the mark; see `group_commit`).
pub(crate) fn update<'a>(
    store: &SledStorage,
    name: &SecretName,
    f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
    pending: &Pending<'_>,
) -> Result<(), StorageError> {
    // sled wants an `Fn` body; `f` is only ever called from that one body, never re-entrantly.
    let f = RefCell::new(f);
    store
        .tree
        .transaction(|tx| {
            let current = match tx.get(record_key(name))? {
                Some(bytes) => match decode_stored(name, &bytes) {
                    Ok(record) => Some(record),
                    Err(e) => return abort(e),
                },
                None => None,
            };
            let decision = (f.borrow_mut())(current.as_ref());
            if !matches!(decision, Update::Keep) {
                pending.mark();
            }
            match decision {
                Update::Keep => Ok(()),
                Update::Delete => delete(tx, name),
                Update::Write {
                    record,
                    put_payloads,
                    delete_payloads,
                } => {
                    if record.name != *name {
                        return abort(StorageError::NameMismatch);
                    }
                    let mut index = read_index(tx, name)?;
                    for (id, bytes) in put_payloads {
                        tx.insert(payload_key(name, &id), &*bytes)?;
                        index.versions.insert(id);
                    }
                    for id in &delete_payloads {
                        tx.remove(payload_key(name, id))?;
                        index.versions.remove(id);
                    }
                    index.stamp = tx.generate_id()?;
                    tx.insert(index_key(name), index.encode())?;
                    tx.insert(record_key(name), encode_record(&record))?;
                    Ok(())
                }
            }
        })
        .map_err(|e| from_transaction("updating a secret", e))
}

/// The payload index of `name`, empty if there is none.
fn read_index(tx: &TransactionalTree, name: &SecretName) -> TxResult<PayloadIndex> {
    match tx.get(index_key(name))? {
        Some(bytes) => PayloadIndex::decode(name, &bytes).or_else(abort),
        None => Ok(PayloadIndex::default()),
    }
}

/// Removes the record, the index and every payload the index lists.
fn delete(tx: &TransactionalTree, name: &SecretName) -> TxResult<()> {
    let index = read_index(tx, name)?;
    for id in &index.versions {
        tx.remove(payload_key(name, id))?;
    }
    tx.remove(index_key(name))?;
    tx.remove(record_key(name))?;
    Ok(())
}
