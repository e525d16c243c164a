//! The conformance suite every [`Storage`] backend runs (feature `testkit`).
//!
//! Each case is a public function taking a factory of fresh, empty stores, and panics (like an
//! `assert!`) when the backend breaks the contract of [`Storage`]. A backend runs them all as
//! separate `#[test]`s with one line:
//!
//! ```ignore
//! secret_storage::conformance_tests!(|| make_empty_store());
//! ```
//!
//! or all in one test with [`run_all`]. The cases pin the storage contract of ARCHITECTURE.md
//! §2: single-secret updates are atomic and linearizable (checked with racing threads),
//! snapshots never show a half-applied update, and listing is name-ordered and paged.
//!
//! ```
//! use secret_storage::{MemoryStorage, testkit};
//! testkit::run_all(&|| MemoryStorage::new());
//! ```

mod basic;
mod listing;
mod races;

use std::borrow::Cow;

use secret_model::{
    Description, KeyId, SecretDataType, SecretName, SecretType, StageLabel, Tag, Timestamp, Uuid,
    VersionId,
};

use crate::{
    PayloadTag, RecordSeal, SecretRecord, Snapshot, Storage, StorageError, Update, VersionRecord,
};

pub use basic::{
    absent_secret_reads_none, delete_leaves_secrets_with_longer_names_alone,
    delete_of_absent_secret_changes_nothing, delete_payloads_removes_exactly_those,
    delete_removes_record_and_every_payload, keep_changes_nothing,
    name_mismatch_is_rejected_and_applies_nothing, payload_both_put_and_deleted_ends_up_deleted,
    put_payloads_replaces_and_keeps_other_payloads, snapshot_returns_every_stored_payload,
    update_closure_sees_latest_committed_record, write_then_read_returns_record_and_payloads,
};
pub use listing::{
    list_after_a_missing_name_starts_at_the_next, list_after_the_last_name_is_empty,
    list_is_name_ordered_and_paged_by_after_and_limit, list_of_empty_store_is_empty,
    list_with_limit_zero_is_empty,
};
pub use races::{
    concurrent_adds_of_distinct_versions_lose_none, racing_adds_of_one_version_have_one_winner,
    racing_creates_of_one_name_have_one_winner, snapshots_never_see_a_torn_write,
};

/// Defines [`CASE_NAMES`] and [`run_all`] from one list, so the two cannot drift apart.
macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        /// The name of every conformance case, in the order [`run_all`] runs them.
        pub const CASE_NAMES: &[&str] = &[$(stringify!($case)),*];

        /// Runs every conformance case, each against a fresh store from `make`.
        ///
        /// Panics on the first case the backend fails, naming it.
        pub fn run_all<S: Storage + 'static>(make: &dyn Fn() -> S) {
            $( $case(make); )*
        }
    };
}

suite!(
    absent_secret_reads_none,
    write_then_read_returns_record_and_payloads,
    keep_changes_nothing,
    delete_removes_record_and_every_payload,
    delete_of_absent_secret_changes_nothing,
    delete_leaves_secrets_with_longer_names_alone,
    delete_payloads_removes_exactly_those,
    put_payloads_replaces_and_keeps_other_payloads,
    payload_both_put_and_deleted_ends_up_deleted,
    snapshot_returns_every_stored_payload,
    name_mismatch_is_rejected_and_applies_nothing,
    update_closure_sees_latest_committed_record,
    list_of_empty_store_is_empty,
    list_is_name_ordered_and_paged_by_after_and_limit,
    list_with_limit_zero_is_empty,
    list_after_the_last_name_is_empty,
    list_after_a_missing_name_starts_at_the_next,
    racing_adds_of_one_version_have_one_winner,
    racing_creates_of_one_name_have_one_winner,
    concurrent_adds_of_distinct_versions_lose_none,
    snapshots_never_see_a_torn_write,
);

/// Defines one `#[test]` per conformance case, each running it against a fresh store made by
/// the given factory expression (a closure `|| -> S` where `S: Storage + 'static`).
///
/// Also defines `conformance_macro_lists_every_case`, which fails if this macro misses a case
/// of [`CASE_NAMES`]. Call it once per module:
///
/// ```ignore
/// mod conformance {
///     secret_storage::conformance_tests!(|| my_backend::Store::temporary());
/// }
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::__conformance_tests_for! {
            ($make)
            absent_secret_reads_none,
            write_then_read_returns_record_and_payloads,
            keep_changes_nothing,
            delete_removes_record_and_every_payload,
            delete_of_absent_secret_changes_nothing,
            delete_leaves_secrets_with_longer_names_alone,
            delete_payloads_removes_exactly_those,
            put_payloads_replaces_and_keeps_other_payloads,
            payload_both_put_and_deleted_ends_up_deleted,
            snapshot_returns_every_stored_payload,
            name_mismatch_is_rejected_and_applies_nothing,
            update_closure_sees_latest_committed_record,
            list_of_empty_store_is_empty,
            list_is_name_ordered_and_paged_by_after_and_limit,
            list_with_limit_zero_is_empty,
            list_after_the_last_name_is_empty,
            list_after_a_missing_name_starts_at_the_next,
            racing_adds_of_one_version_have_one_winner,
            racing_creates_of_one_name_have_one_winner,
            concurrent_adds_of_distinct_versions_lose_none,
            snapshots_never_see_a_torn_write,
        }
    };
}

/// The expansion of [`conformance_tests!`]; not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests_for {
    (($make:expr) $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testkit::$case(&$make);
            }
        )*

        #[test]
        fn conformance_macro_lists_every_case() {
            $crate::testkit::assert_lists_every_case(&[$(stringify!($case)),*]);
        }
    };
}

/// Panics unless `listed` holds exactly the names in [`CASE_NAMES`], in order.
/// Used by [`conformance_tests!`] to prove it runs the whole suite.
pub fn assert_lists_every_case(listed: &[&str]) {
    assert_eq!(
        listed, CASE_NAMES,
        "conformance_tests! and the suite list different cases"
    );
}

/// A backend together with what it lives in (a temporary directory, a database schema), for a
/// backend's own tests: every [`Storage`] method goes to `store`, and `store` is dropped before
/// `guard`, so a guard that removes the directory or drops the schema runs once the backend
/// has let go of it.
///
/// ```
/// use secret_storage::{MemoryStorage, Storage, testkit::Guarded};
/// let store = Guarded { store: MemoryStorage::new(), guard: () };
/// assert!(!store.records_leave_the_process());
/// ```
pub struct Guarded<S, G> {
    /// The backend.
    pub store: S,
    /// What the backend lives in; dropped after it.
    pub guard: G,
}

impl<S: Storage, G: Send + Sync> Storage for Guarded<S, G> {
    fn read(&self, name: &SecretName) -> Result<Option<SecretRecord>, StorageError> {
        self.store.read(name)
    }

    fn read_payload(
        &self,
        name: &SecretName,
        version_id: &VersionId,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.store.read_payload(name, version_id)
    }

    fn snapshot(&self, name: &SecretName) -> Result<Option<Snapshot>, StorageError> {
        self.store.snapshot(name)
    }

    fn update<'a>(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
    ) -> Result<(), StorageError> {
        self.store.update(name, f)
    }

    fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, StorageError> {
        self.store.list(after, limit)
    }

    fn records_leave_the_process(&self) -> bool {
        self.store.records_leave_the_process()
    }

    fn reclaim_space(&self) -> Result<(), StorageError> {
        self.store.reclaim_space()
    }
}

/// A valid record named `name` with the given version ids (oldest first), for tests.
///
/// It has a description, one tag, fixed timestamps and key id; its last version carries
/// `ACSCurrent`, the one before `ACSPrevious`. Panics if `name` or a version id is invalid.
pub fn sample_record(name: &str, versions: &[&str]) -> SecretRecord {
    let count = versions.len();
    SecretRecord {
        name: secret_name(name),
        secret_type: SecretType::Generic,
        description: Some(Description::parse("a sample secret").expect("a valid description")),
        encryption_key_id: KeyId::new(Uuid::from_bytes([0x5e; 16])),
        tags: vec![Tag::new("env", "test").expect("a valid tag")],
        create_time: Timestamp::from_unix(1_700_000_000),
        update_time: Timestamp::from_unix(1_700_000_000),
        planned_delete_time: None,
        versions: versions
            .iter()
            .enumerate()
            .map(|(i, id)| VersionRecord {
                version_id: version_id(id),
                data_type: SecretDataType::Text,
                stages: if i + 1 == count {
                    vec![StageLabel::current()]
                } else if i + 2 == count {
                    vec![StageLabel::previous()]
                } else {
                    vec![]
                },
                create_time: Timestamp::from_unix(1_700_000_000 + i as i64),
                payload_tag: Some(PayloadTag([i as u8; 16])),
                with_secret: i == 0,
            })
            .collect(),
        // Backends store the facade's seal without looking at it; a made-up one proves that
        // it is kept and given back.
        seal: Some(RecordSeal([0x5e; 32])),
    }
}

/// The secret name `name`; panics if it is invalid.
pub fn secret_name(name: &str) -> SecretName {
    SecretName::parse(name).unwrap_or_else(|e| panic!("test secret name {name:?}: {e}"))
}

/// The version id `id`; panics if it is invalid.
pub fn version_id(id: &str) -> VersionId {
    VersionId::parse(id).unwrap_or_else(|e| panic!("test version id {id:?}: {e}"))
}

/// The payload the suite stores for version `id` of secret `name`: arbitrary bytes, including
/// zero and high bytes, that differ for every pair.
pub fn sample_payload(name: &str, id: &str) -> Vec<u8> {
    let mut bytes = vec![0x00, 0xff, 0x80];
    bytes.extend_from_slice(name.as_bytes());
    bytes.push(0x00);
    bytes.extend_from_slice(id.as_bytes());
    bytes
}

/// Writes `record` with `payloads` (by version id) as one update, replacing whatever was
/// there; panics on error.
pub(crate) fn put(store: &dyn Storage, record: &SecretRecord, payloads: &[(&str, Vec<u8>)]) {
    let name = record.name.clone();
    let mut write = |_: Option<&SecretRecord>| Update::Write {
        record: record.clone(),
        put_payloads: payloads
            .iter()
            .map(|(id, bytes)| (version_id(id), Cow::Borrowed(&bytes[..])))
            .collect(),
        delete_payloads: vec![],
    };
    store
        .update(&name, &mut write)
        .unwrap_or_else(|e| panic!("writing {name}: {e}"));
}

/// Writes `sample_record(name, versions)` with every version's [`sample_payload`].
pub(crate) fn put_sample(store: &dyn Storage, name: &str, versions: &[&str]) -> SecretRecord {
    let record = sample_record(name, versions);
    let payloads: Vec<(&str, Vec<u8>)> = versions
        .iter()
        .map(|id| (*id, sample_payload(name, id)))
        .collect();
    put(store, &record, &payloads);
    record
}

/// The payloads of `name` as a snapshot shows them, sorted by version id.
pub(crate) fn snapshot_payloads(store: &dyn Storage, name: &str) -> Vec<(String, Vec<u8>)> {
    let snap = store
        .snapshot(&secret_name(name))
        .unwrap_or_else(|e| panic!("snapshot of {name}: {e}"))
        .unwrap_or_else(|| panic!("snapshot of {name}: the secret is missing"));
    let mut payloads: Vec<(String, Vec<u8>)> = snap
        .payloads
        .into_iter()
        .map(|(id, bytes)| (id.as_str().to_owned(), bytes))
        .collect();
    payloads.sort();
    payloads
}
