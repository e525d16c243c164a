//! Stored records are versioned (ARCHITECTURE.md §3): the record-format-1 fixture, checked in
//! by the first release, the format-2 (sealed) fixture and the format-4 (version extras,
//! sealed) fixture must decode in every later one.
//!
//! Regenerate the format-2 or format-4 fixture (only if that format itself was wrong and no
//! release has shipped it) with
//! `cargo test -p secret-storage --test fixture -- --ignored regenerate_v2_fixture` (or `v4`).

use std::path::PathBuf;

use secret_model::{
    Description, KeyId, SecretDataType, SecretName, SecretType, StageLabel, Tag, Timestamp, Uuid,
    VersionId,
};
use secret_storage::{
    PayloadTag, RecordSeal, SecretRecord, VersionRecord, decode_record, encode_record, sealed_bytes,
};

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/record-v1.bin")
}

fn v2_fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/record-v2.bin")
}

fn v4_fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/record-v4.bin")
}

/// The record in `record-v4.bin`: the format-2 fixture's record with a payload tag on each
/// version (`0x10…`, `0x20…`, `0x30…`), as this release writes every version.
fn v4_record() -> SecretRecord {
    let mut record = v2_record();
    for (i, version) in record.versions.iter_mut().enumerate() {
        version.payload_tag = Some(PayloadTag([0x10 * (i as u8 + 1); 16]));
    }
    record
}

/// The record in `record-v2.bin`: the format-1 fixture's record with a seal.
fn v2_record() -> SecretRecord {
    SecretRecord {
        seal: Some(RecordSeal(std::array::from_fn(|i| 0xc0 ^ i as u8))),
        ..v1_record()
    }
}

/// The record in `record-v1.bin`.
fn v1_record() -> SecretRecord {
    let version = |id: &str, data_type, stages: &[&str], time| VersionRecord {
        version_id: VersionId::parse(id).unwrap(),
        data_type,
        stages: stages
            .iter()
            .map(|s| StageLabel::parse(s).unwrap())
            .collect(),
        create_time: Timestamp::from_unix(time),
        payload_tag: None,
        // What format 1 implies: the first version, written in the secret's second.
        with_secret: time == 1_704_067_200 && id == "v1",
    };
    SecretRecord {
        name: SecretName::parse("prod/payments/db-password").unwrap(),
        secret_type: SecretType::Generic,
        description: Some(
            Description::parse("Primary database password (rotated monthly)").unwrap(),
        ),
        encryption_key_id: KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap(),
        tags: vec![
            Tag::new("env", "prod").unwrap(),
            Tag::new("team", "payments core").unwrap(),
        ],
        create_time: Timestamp::from_unix(1_704_067_200),
        update_time: Timestamp::from_unix(1_709_251_200),
        planned_delete_time: Some(Timestamp::from_unix(1_711_929_600)),
        versions: vec![
            version("v1", SecretDataType::Text, &["release-2023"], 1_704_067_200),
            version(
                "v2",
                SecretDataType::Binary,
                &["ACSPrevious"],
                1_706_745_600,
            ),
            version(
                "v3",
                SecretDataType::Text,
                &["ACSCurrent", "blue-green"],
                1_709_251_200,
            ),
        ],
        seal: None,
    }
}

#[test]
fn v1_fixture_still_decodes() {
    let bytes = std::fs::read(fixture_path()).unwrap();
    assert_eq!(bytes[0], 1, "the fixture is record format 1");
    assert_eq!(decode_record(&bytes).unwrap(), v1_record());
}

#[test]
fn encoding_the_fixture_record_reproduces_the_fixture_bytes() {
    // Fails when the writer's format drifts; if the change is intended, it needs a new format
    // version (and a new fixture beside this one), not a regenerated v1 fixture.
    let bytes = std::fs::read(fixture_path()).unwrap();
    assert_eq!(encode_record(&v1_record()), bytes);
}

#[test]
fn fixture_key_id_is_stored_as_its_sixteen_bytes() {
    let bytes = std::fs::read(fixture_path()).unwrap();
    let uuid = Uuid::parse_as("KeyId", "1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
    assert!(bytes.windows(16).any(|w| w == uuid.as_bytes()));
}

#[test]
fn v2_fixture_still_decodes_and_is_format_1_plus_the_seal() {
    let bytes = std::fs::read(v2_fixture_path()).unwrap();
    let v1 = std::fs::read(fixture_path()).unwrap();
    assert_eq!(bytes[0], 2, "the fixture is record format 2");
    assert_eq!(
        bytes[1..v1.len()],
        v1[1..],
        "format 2 keeps format 1's fields"
    );
    assert_eq!(bytes.len(), v1.len() + 32);
    assert_eq!(decode_record(&bytes).unwrap(), v2_record());
    assert_eq!(encode_record(&v2_record()), bytes);
}

#[test]
#[ignore = "rewrites the checked-in fixture; run by hand only"]
fn regenerate_v2_fixture() {
    std::fs::write(v2_fixture_path(), encode_record(&v2_record())).unwrap();
}

#[test]
fn v4_fixture_still_decodes_and_is_format_1_plus_version_extras_plus_the_seal() {
    let bytes = std::fs::read(v4_fixture_path()).unwrap();
    let v1 = std::fs::read(fixture_path()).unwrap();
    assert_eq!(bytes[0], 4, "the fixture is record format 4");
    assert_eq!(
        bytes[1..v1.len()],
        v1[1..],
        "format 4 keeps format 1's fields"
    );
    // Per version: flags (payload tag; v1 also written with the secret), then the tag.
    let extras = &bytes[v1.len()..bytes.len() - 32];
    assert_eq!(extras.len(), 3 * 17);
    assert_eq!(extras[0], 0x03);
    assert_eq!(extras[1..17], [0x10; 16]);
    assert_eq!(extras[17], 0x01);
    assert_eq!(extras[34], 0x01);
    assert_eq!(decode_record(&bytes).unwrap(), v4_record());
    assert_eq!(encode_record(&v4_record()), bytes);
    // The seal covers the format-3 encoding: format 4's bytes but the seal, under byte 3.
    let covered = sealed_bytes(&v4_record());
    assert_eq!(covered[0], 3);
    assert_eq!(covered[1..], bytes[1..bytes.len() - 32]);
}

#[test]
#[ignore = "rewrites the checked-in fixture; run by hand only"]
fn regenerate_v4_fixture() {
    std::fs::write(v4_fixture_path(), encode_record(&v4_record())).unwrap();
}

/// `record-v1.bin`, built field by field from the table of `docs/formats.md` ("Record format
/// 1") without the crate's encoder: `text16` = `u16` length + UTF-8, `count32` = `u32`,
/// `time` = `i64` seconds, `opt` = `0x00`/`0x01` + value, all big-endian; then format 2
/// (first byte `0x02`, the seal appended) and format 4 (first byte `0x04`, per version its
/// flags and payload tag, then the seal) as the page derives them from it.
#[test]
fn the_fixtures_are_the_documented_bytes() {
    fn text16(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    fn count32(out: &mut Vec<u8>, n: u32) {
        out.extend_from_slice(&n.to_be_bytes());
    }
    fn time(out: &mut Vec<u8>, t: i64) {
        out.extend_from_slice(&t.to_be_bytes());
    }
    let mut v1 = vec![0x01];
    text16(&mut v1, "prod/payments/db-password");
    v1.push(0x00); // Generic
    v1.push(0x01);
    text16(&mut v1, "Primary database password (rotated monthly)");
    v1.extend_from_slice(&[
        0x12, 0x34, 0xab, 0xcd, 0x12, 0xab, 0x34, 0xcd, 0x56, 0xef, 0x12, 0x34, 0x56, 0x78, 0x90,
        0xab,
    ]);
    count32(&mut v1, 2);
    for (key, value) in [("env", "prod"), ("team", "payments core")] {
        text16(&mut v1, key);
        text16(&mut v1, value);
    }
    time(&mut v1, 1_704_067_200);
    time(&mut v1, 1_709_251_200);
    v1.push(0x01);
    time(&mut v1, 1_711_929_600);
    count32(&mut v1, 3);
    for (id, data_type, labels, created) in [
        ("v1", 0x00, &["release-2023"][..], 1_704_067_200),
        ("v2", 0x01, &["ACSPrevious"][..], 1_706_745_600),
        ("v3", 0x00, &["ACSCurrent", "blue-green"][..], 1_709_251_200),
    ] {
        text16(&mut v1, id);
        v1.push(data_type);
        count32(&mut v1, labels.len() as u32);
        for label in labels {
            text16(&mut v1, label);
        }
        time(&mut v1, created);
    }
    assert_eq!(v1.len(), 258, "the page's size of record-v1.bin");
    assert_eq!(v1, std::fs::read(fixture_path()).unwrap());
    assert_eq!(decode_record(&v1).unwrap(), v1_record());

    let seal: Vec<u8> = (0xc0..=0xdf).collect();
    let mut v2 = v1.clone();
    v2[0] = 0x02;
    v2.extend_from_slice(&seal);
    assert_eq!(v2.len(), 290);
    assert_eq!(v2, std::fs::read(v2_fixture_path()).unwrap());

    let mut v4 = v1.clone();
    v4[0] = 0x04;
    for (flags, tag) in [(0x03, 0x10), (0x01, 0x20), (0x01, 0x30)] {
        v4.push(flags);
        v4.extend_from_slice(&[tag; 16]);
    }
    v4.extend_from_slice(&seal);
    assert_eq!(v4.len(), 341);
    assert_eq!(v4, std::fs::read(v4_fixture_path()).unwrap());
    // The seal covers the format-3 encoding (first byte 0x03, extras included).
    let mut v3 = v4[..v4.len() - 32].to_vec();
    v3[0] = 0x03;
    assert_eq!(sealed_bytes(&v4_record()), v3);
}
