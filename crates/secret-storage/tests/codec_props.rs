//! Properties of the record codec: it round-trips every valid record, and no input — random,
//! truncated or mutated — makes the decoder panic or return a record it would not encode.

use proptest::prelude::*;
use secret_model::{
    Description, KeyId, SecretDataType, SecretName, SecretType, StageLabel, Tag, Timestamp, Uuid,
    VersionId,
};
use secret_storage::{
    PayloadTag, RecordSeal, SecretRecord, StorageError, VersionRecord, decode_record, encode_record,
};

fn name() -> impl Strategy<Value = SecretName> {
    "[A-Za-z0-9_/+=.@-]{1,192}".prop_filter_map("valid name", |s| SecretName::parse(&s).ok())
}

fn version_id() -> impl Strategy<Value = VersionId> {
    "[!-~]{1,64}".prop_map(|s| VersionId::parse(&s).expect("printable ASCII"))
}

fn stage() -> impl Strategy<Value = StageLabel> {
    "[A-Za-z0-9_.-]{1,64}".prop_map(|s| StageLabel::parse(&s).expect("label alphabet"))
}

fn tag() -> impl Strategy<Value = Tag> {
    let part = "[A-Za-z0-9/\\\\_.+=:@ -]{1,128}";
    (part, part).prop_filter_map("valid tag", |(k, v)| Tag::new(&k, &v).ok())
}

fn description() -> impl Strategy<Value = Description> {
    prop_oneof![
        "\\PC{0,40}",
        ".{0,1024}",
        Just(String::new()),
        Just("\u{1F511}".repeat(1024)),
    ]
    .prop_map(|s| Description::parse(&s).expect("at most 1,024 characters"))
}

fn time() -> impl Strategy<Value = Timestamp> {
    any::<i64>().prop_map(Timestamp::from_unix)
}

fn version() -> impl Strategy<Value = VersionRecord> {
    (
        version_id(),
        prop_oneof![Just(SecretDataType::Text), Just(SecretDataType::Binary)],
        prop::collection::vec(stage(), 0..4),
        time(),
        prop::option::of(any::<[u8; 16]>()),
        any::<bool>(),
    )
        .prop_map(
            |(version_id, data_type, stages, create_time, tag, with_secret)| VersionRecord {
                version_id,
                data_type,
                stages,
                create_time,
                payload_tag: tag.map(PayloadTag),
                with_secret,
            },
        )
}

fn record() -> impl Strategy<Value = SecretRecord> {
    (
        name(),
        prop::option::of(description()),
        any::<[u8; 16]>(),
        prop::collection::vec(tag(), 0..5),
        (time(), time(), prop::option::of(time())),
        prop::collection::vec(version(), 0..5),
        prop::option::of(any::<[u8; 32]>()),
    )
        .prop_map(
            |(
                name,
                description,
                key,
                tags,
                (create_time, update_time, planned),
                versions,
                seal,
            )| {
                SecretRecord {
                    name,
                    secret_type: SecretType::Generic,
                    description,
                    encryption_key_id: KeyId::new(Uuid::from_bytes(key)),
                    tags,
                    create_time,
                    update_time,
                    planned_delete_time: planned,
                    versions,
                    seal: seal.map(RecordSeal),
                }
            },
        )
}

proptest! {
    #[test]
    fn every_valid_record_roundtrips(record in record()) {
        let bytes = encode_record(&record);
        // Format 3 when a version has what format 1 cannot say.
        let extras = record.versions.iter().enumerate().any(|(i, v)| {
            v.payload_tag.is_some() || v.with_secret != (i == 0 && v.create_time == record.create_time)
        });
        let format = match (extras, record.seal.is_some()) {
            (true, true) => 4,
            (true, false) => 3,
            (false, true) => 2,
            (false, false) => 1,
        };
        prop_assert_eq!(bytes[0], format);
        prop_assert_eq!(decode_record(&bytes).unwrap(), record);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_record(&bytes);
        for format in [1u8, 2] {
            let mut versioned = vec![format];
            versioned.extend_from_slice(&bytes);
            let _ = decode_record(&versioned);
        }
    }

    #[test]
    fn every_truncation_of_a_valid_encoding_is_corrupt(record in record()) {
        let bytes = encode_record(&record);
        for len in 0..bytes.len() {
            let result = decode_record(&bytes[..len]);
            prop_assert!(
                matches!(result, Err(StorageError::Corrupt(_))),
                "prefix of {} of {} bytes decoded: {:?}", len, bytes.len(), result
            );
        }
    }

    #[test]
    fn a_mutated_encoding_is_corrupt_or_reencodes_to_itself(
        record in record(),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let mut bytes = encode_record(&record);
        let at = at.index(bytes.len());
        bytes[at] = value;
        if let Ok(decoded) = decode_record(&bytes) {
            // The encoding is canonical: whatever decodes encodes back to the same bytes.
            prop_assert_eq!(encode_record(&decoded), bytes);
        }
    }
}

// MemoryStorage keeps records in a compact form of its own: it too must give back every valid
// record exactly, by every method that returns one.
proptest! {
    #[test]
    fn memory_storage_gives_back_every_valid_record(
        record in record(),
        payload in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        use secret_storage::{MemoryStorage, Storage, Update};
        let store = MemoryStorage::new();
        let name = record.name.clone();
        let ids: Vec<_> = record.versions.iter().map(|v| v.version_id.clone()).collect();
        store
            .update(&name, &mut |_| Update::Write {
                record: record.clone(),
                put_payloads: ids.iter().map(|id| (id.clone(), payload[..].into())).collect(),
                delete_payloads: vec![],
            })
            .unwrap();
        prop_assert_eq!(store.read(&name).unwrap(), Some(record.clone()));
        prop_assert_eq!(store.list(None, 10).unwrap(), vec![record.clone()]);
        let snapshot = store.snapshot(&name).unwrap().unwrap();
        prop_assert_eq!(&snapshot.record, &record);
        let mut expected: Vec<_> = ids.iter().map(|id| (id.clone(), payload.clone())).collect();
        expected.sort();
        expected.dedup();
        prop_assert_eq!(snapshot.payloads, expected);
        for id in &ids {
            prop_assert_eq!(store.read_payload(&name, id).unwrap(), Some(payload.clone()));
        }
        let mut seen = None;
        store.update(&name, &mut |current| {
            seen = current.cloned();
            Update::Keep
        }).unwrap();
        prop_assert_eq!(seen, Some(record));
    }
}
