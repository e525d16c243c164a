use secret_model::{SecretDataType, StageLabel};

use super::*;

fn record() -> SecretRecord {
    SecretRecord {
        name: SecretName::parse("prod/db").unwrap(),
        secret_type: SecretType::Generic,
        description: Some(Description::parse("d").unwrap()),
        encryption_key_id: KeyId::new(Uuid::from_bytes([9; 16])),
        tags: vec![Tag::new("k", "v").unwrap()],
        create_time: Timestamp::from_unix(-5),
        update_time: Timestamp::from_unix(i64::MAX),
        planned_delete_time: Some(Timestamp::from_unix(i64::MIN)),
        versions: vec![VersionRecord {
            version_id: VersionId::parse("v1").unwrap(),
            data_type: SecretDataType::Binary,
            stages: vec![StageLabel::current()],
            create_time: Timestamp::from_unix(0),
            payload_tag: None,
            with_secret: false,
        }],
        seal: None,
    }
}

/// `record()` with what only format 3 holds: a payload tag, and `with_secret` set on a
/// version written after the secret's second.
fn record_with_extras() -> SecretRecord {
    let mut r = record();
    r.versions[0].payload_tag = Some(PayloadTag([0x5a; 16]));
    r.versions[0].with_secret = true;
    let mut second = r.versions[0].clone();
    second.version_id = VersionId::parse("v2").unwrap();
    second.stages = vec![];
    second.payload_tag = None;
    second.with_secret = false;
    r.versions.push(second);
    r
}

fn corrupt_message(bytes: &[u8]) -> String {
    match decode_record(bytes) {
        Err(StorageError::Corrupt(message)) => message,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// Offsets in the encoding of `record()`, by hand from the layout.
const NAME_LEN_AT: usize = 1;
const NAME_AT: usize = 3; // "prod/db", 7 bytes
const SECRET_TYPE_AT: usize = NAME_AT + 7;
const DESCRIPTION_FLAG_AT: usize = SECRET_TYPE_AT + 1;
const TAG_COUNT_AT: usize = DESCRIPTION_FLAG_AT + 1 + 2 + 1 + 16;
const TAG_KEY_AT: usize = TAG_COUNT_AT + 4 + 2;

#[test]
fn layout_matches_the_documented_offsets() {
    let bytes = encode_record(&record());
    assert_eq!(bytes[0], 1, "a record without a seal is format 1");
    assert_eq!(&bytes[NAME_LEN_AT..NAME_AT], &[0, 7]);
    assert_eq!(&bytes[NAME_AT..SECRET_TYPE_AT], b"prod/db");
    assert_eq!(bytes[SECRET_TYPE_AT], 0);
    assert_eq!(
        &bytes[DESCRIPTION_FLAG_AT..DESCRIPTION_FLAG_AT + 4],
        &[1, 0, 1, b'd']
    );
    assert_eq!(&bytes[TAG_COUNT_AT..TAG_COUNT_AT + 4], &[0, 0, 0, 1]);
    assert_eq!(bytes[TAG_KEY_AT], b'k');
    assert_eq!(decode_record(&bytes).unwrap(), record());

    let sealed = SecretRecord {
        seal: Some(RecordSeal([0xab; 32])),
        ..record()
    };
    let sealed_bytes_ = encode_record(&sealed);
    assert_eq!(
        sealed_bytes_[0], 2,
        "a sealed record without version extras is format 2"
    );
    assert_eq!(sealed_bytes_[1..bytes.len()], bytes[1..]);
    assert_eq!(sealed_bytes_[bytes.len()..], [0xab; 32]);
    assert_eq!(
        sealed_bytes(&sealed),
        bytes,
        "the seal covers format 1's bytes"
    );
}

#[test]
fn a_sealed_record_cut_short_of_its_seal_is_corrupt() {
    let sealed = encode_record(&SecretRecord {
        seal: Some(RecordSeal([1; 32])),
        ..record()
    });
    assert!(corrupt_message(&sealed[..sealed.len() - 1]).contains("record seal"));
    let mut relabelled = sealed.clone();
    relabelled[0] = 1;
    assert!(corrupt_message(&relabelled).contains("32 trailing bytes"));
}

#[test]
fn unknown_format_version_is_rejected_by_number() {
    let mut bytes = encode_record(&record());
    for version in [0u8, 5, 255] {
        bytes[0] = version;
        assert_eq!(
            corrupt_message(&bytes),
            format!("unsupported record format version {version}")
        );
    }
    assert!(corrupt_message(&[]).contains("truncated"));
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = encode_record(&record());
    bytes.push(0);
    assert!(corrupt_message(&bytes).contains("1 trailing bytes"));
}

#[test]
fn tampered_name_fails_validation() {
    let mut bytes = encode_record(&record());
    bytes[NAME_AT + 4] = b'#';
    let message = corrupt_message(&bytes);
    assert!(message.contains("secret name at offset 1"), "{message}");
    assert!(message.contains("SecretName"), "{message}");

    let mut reserved = encode_record(&record());
    reserved[NAME_AT..NAME_AT + 4].copy_from_slice(b"acs/");
    assert!(corrupt_message(&reserved).contains("SecretName"));
}

#[test]
fn tampered_tag_key_fails_validation() {
    let mut bytes = encode_record(&record());
    bytes[TAG_KEY_AT] = b'!';
    assert!(corrupt_message(&bytes).contains("TagKey"));
}

#[test]
fn invalid_utf8_is_rejected() {
    let mut bytes = encode_record(&record());
    bytes[DESCRIPTION_FLAG_AT + 3] = 0xff;
    assert!(corrupt_message(&bytes).contains("not valid UTF-8"));
}

#[test]
fn out_of_range_tag_bytes_are_rejected() {
    for (at, field) in [
        (SECRET_TYPE_AT, "secret type"),
        (DESCRIPTION_FLAG_AT, "description"),
    ] {
        let mut bytes = encode_record(&record());
        bytes[at] = 7;
        let message = corrupt_message(&bytes);
        assert!(
            message.contains(&format!("{field} at offset {at} has unknown value 7")),
            "{message}"
        );
    }
    let mut bytes = encode_record(&record());
    let data_type_at = bytes.len() - 8 - 2 - 10 - 4 - 1;
    assert_eq!(bytes[data_type_at], 1, "binary");
    bytes[data_type_at] = 2;
    assert!(corrupt_message(&bytes).contains("data type"));
}

#[test]
fn huge_counts_fail_without_allocating() {
    let mut bytes = encode_record(&record());
    bytes[TAG_COUNT_AT..TAG_COUNT_AT + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(corrupt_message(&bytes).contains("truncated"));
}

#[test]
fn a_record_of_a_name_must_be_that_names_and_errors_say_whose() {
    let bytes = encode_record(&record());
    let db = SecretName::parse("prod/db").unwrap();
    assert_eq!(decode_record_of(&db, &bytes).unwrap(), record());
    match decode_record_of(&SecretName::parse("prod/api").unwrap(), &bytes) {
        Err(StorageError::Corrupt(m)) => {
            assert_eq!(m, "the record stored for prod/api names prod/db")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    match decode_record_of(&db, &bytes[..bytes.len() - 1]) {
        Err(StorageError::Corrupt(m)) => assert!(m.starts_with("record of prod/db: "), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Only `Corrupt` gets the context.
    assert!(matches!(
        StorageError::NameMismatch.in_context("x"),
        StorageError::NameMismatch
    ));
}

#[test]
fn version_extras_are_format_3_after_the_versions_and_format_4_adds_the_seal() {
    let plain = {
        let mut r = record_with_extras();
        for v in &mut r.versions {
            v.payload_tag = None;
            v.with_secret = false;
        }
        encode_record(&r)
    };
    assert_eq!(plain[0], 1, "nothing for format 3 to say: format 1");

    let record = record_with_extras();
    let bytes = encode_record(&record);
    assert_eq!(bytes[0], 3);
    assert_eq!(
        bytes[1..plain.len()],
        plain[1..],
        "format 1's fields, unchanged"
    );
    let extras = &bytes[plain.len()..];
    assert_eq!(
        extras[0], 0x03,
        "v1: payload tag follows, written with the secret"
    );
    assert_eq!(extras[1..17], [0x5a; 16]);
    assert_eq!(extras[17..], [0x00], "v2: neither");
    assert_eq!(decode_record(&bytes).unwrap(), record);
    assert_eq!(
        sealed_bytes(&record),
        bytes,
        "unsealed: the seal covers all of it"
    );

    let sealed = SecretRecord {
        seal: Some(RecordSeal([0xcd; 32])),
        ..record.clone()
    };
    let sealed_encoding = encode_record(&sealed);
    assert_eq!(sealed_encoding[0], RECORD_FORMAT_VERSION);
    assert_eq!(RECORD_FORMAT_VERSION, 4);
    assert_eq!(sealed_encoding[1..bytes.len()], bytes[1..]);
    assert_eq!(sealed_encoding[bytes.len()..], [0xcd; 32]);
    assert_eq!(decode_record(&sealed_encoding).unwrap(), sealed);
    assert_eq!(
        sealed_bytes(&sealed),
        bytes,
        "the seal covers the extras as well as format 1's fields"
    );
}

#[test]
fn formats_1_and_2_imply_which_version_was_written_with_the_secret() {
    let mut r = record();
    r.versions[0].create_time = r.create_time;
    r.versions[0].with_secret = true;
    let mut later = r.versions[0].clone();
    later.version_id = VersionId::parse("v2").unwrap();
    later.with_secret = false;
    r.versions.push(later);
    let bytes = encode_record(&r);
    assert_eq!(bytes[0], 1, "what format 1 implies needs no extras");
    assert_eq!(decode_record(&bytes).unwrap(), r);

    // The first version gone: the one left, though written in the same second, was not.
    r.versions.remove(0);
    let bytes = encode_record(&r);
    assert_eq!(bytes[0], 3, "format 1 would imply with_secret for it");
    let decoded = decode_record(&bytes).unwrap();
    assert!(!decoded.versions[0].with_secret);
}

#[test]
fn format_3_extras_are_checked_and_canonical() {
    let bytes = encode_record(&record_with_extras());
    let extras_at = bytes.len() - 18;
    let mut unknown_flag = bytes.clone();
    unknown_flag[extras_at] |= 0x04;
    assert!(corrupt_message(&unknown_flag).contains("version extras"));
    assert!(corrupt_message(&bytes[..bytes.len() - 1]).contains("truncated"));

    // Extras that say only what format 1 implies: that record is format 1, so this is not
    // its encoding.
    let mut derivable = bytes[..extras_at].to_vec();
    derivable.extend_from_slice(&[0x00, 0x00]);
    assert!(corrupt_message(&derivable).contains("say nothing format 1 could not"));

    // Format 3 has no seal; format 4 has a whole one.
    let mut with_seal = bytes.clone();
    with_seal.extend_from_slice(&[7; 32]);
    assert!(corrupt_message(&with_seal).contains("32 trailing bytes"));
    with_seal[0] = 4;
    assert!(decode_record(&with_seal).unwrap().seal.is_some());
    assert!(corrupt_message(&with_seal[..with_seal.len() - 1]).contains("record seal"));
    let mut unsealed_4 = bytes;
    unsealed_4[0] = 4;
    assert!(corrupt_message(&unsealed_4).contains("record seal"));
}
