//! The stored form of a [`SecretRecord`]: a hand-written, versioned binary encoding.
//!
//! Every encoding starts with one byte, the record format version; the rest is a fixed sequence
//! of fields (see `docs/formats.md` for the byte layout): integers are big-endian, text is
//! UTF-8 behind a `u16` byte length, lists are behind a `u32` item count, and optional fields
//! are behind a presence byte (`0` absent, `1` present). Format 2 is format 1 followed by the
//! record's 32-byte [`RecordSeal`]. Format 3 adds, after the versions, what format 1 cannot
//! hold of each version (its [`crate::PayloadTag`], and whether it was written with the
//! secret); format 4 ([`RECORD_FORMAT_VERSION`]) is format 3 followed by the seal. A record
//! whose versions have nothing format 1 cannot say is written in format 1 or 2, exactly as
//! earlier releases wrote it.
//!
//! The decoder trusts nothing it reads: every length is checked against the bytes left, every
//! field is re-validated through `secret_model`'s parsers, trailing bytes are rejected, and no
//! input makes it panic. A record that is malformed is a [`StorageError::Corrupt`]; one that is
//! well-formed but was changed is caught by its seal, which the facade checks.
//!
//! ```
//! use secret_storage::codec::{decode_record, encode_record};
//! # use secret_model::*;
//! # use secret_storage::{RecordSeal, SecretRecord};
//! # let mut record = SecretRecord {
//! #     name: SecretName::parse("prod/db")?,
//! #     secret_type: SecretType::Generic,
//! #     description: None,
//! #     encryption_key_id: KeyId::new(Uuid::from_bytes([7; 16])),
//! #     tags: vec![],
//! #     create_time: Timestamp::from_unix(1_700_000_000),
//! #     update_time: Timestamp::from_unix(1_700_000_000),
//! #     planned_delete_time: None,
//! #     versions: vec![],
//! #     seal: None,
//! # };
//! let bytes = encode_record(&record);
//! assert_eq!(bytes[0], 1);
//! assert_eq!(decode_record(&bytes).unwrap(), record);
//! assert!(decode_record(&bytes[..bytes.len() - 1]).is_err());
//!
//! record.seal = Some(RecordSeal([9; 32]));
//! let sealed = encode_record(&record);
//! assert_eq!(sealed[0], 2);
//! assert_eq!(sealed.len(), bytes.len() + 32);
//! assert_eq!(decode_record(&sealed).unwrap(), record);
//! # Ok::<(), secret_model::ValidationError>(())
//! ```

mod reader;

use secret_model::{
    Description, KeyId, SecretDataType, SecretName, SecretType, StageLabel, Tag, Timestamp, Uuid,
    VersionId,
};

use crate::{PayloadTag, RecordSeal, SecretRecord, StorageError, VersionRecord};
use reader::Reader;

/// The newest record format, the one this release writes for a sealed record whose versions
/// carry payload tags (every record the facade writes, once each of its versions was written
/// by this release): the first byte of the encoding.
pub const RECORD_FORMAT_VERSION: u8 = FORMAT_EXTRAS_SEALED;
/// A record without a seal, and without version extras.
const FORMAT_UNSEALED: u8 = 1;
/// Format 1 followed by the seal.
const FORMAT_SEALED: u8 = 2;
/// Format 1's fields, then each version's extras.
const FORMAT_EXTRAS: u8 = 3;
/// Format 3 followed by the seal.
const FORMAT_EXTRAS_SEALED: u8 = 4;

/// A version's extras (format 3): its payload tag follows.
const EXTRA_PAYLOAD_TAG: u8 = 0x01;
/// A version's extras (format 3): written by the CreateSecret that made the secret.
const EXTRA_WITH_SECRET: u8 = 0x02;

const ABSENT: u8 = 0;
const PRESENT: u8 = 1;

const SECRET_TYPE_GENERIC: u8 = 0;
const DATA_TYPE_TEXT: u8 = 0;
const DATA_TYPE_BINARY: u8 = 1;

/// Encodes `record`: in format 3 (4 with a seal) when a version has what format 1 cannot hold
/// (a payload tag, or a `with_secret` other than format 1 implies), else in format 1 (2 with
/// a seal).
///
/// Infallible: every field of a [`SecretRecord`] is a validated type whose length fits its
/// length prefix, so any record can be encoded; [`decode_record`] gives it back unchanged.
pub fn encode_record(record: &SecretRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(192 + 80 * record.versions.len());
    let extras = encode_unsealed(record, &mut out);
    if let Some(RecordSeal(seal)) = &record.seal {
        out[0] = if extras {
            FORMAT_EXTRAS_SEALED
        } else {
            FORMAT_SEALED
        };
        out.extend_from_slice(seal);
    }
    out
}

/// The bytes a record's seal authenticates: its encoding without the seal, in format 1 or 3
/// (a record's current seal, if any, is ignored).
pub fn sealed_bytes(record: &SecretRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + 80 * record.versions.len());
    encode_unsealed(record, &mut out);
    out
}

/// Appends the encoding of every field but the seal: format 1, or format 3 when a version
/// needs extras. Returns whether it wrote format 3.
fn encode_unsealed(record: &SecretRecord, out: &mut Vec<u8>) -> bool {
    encode_fields(record, out);
    if !needs_extras(record) {
        return false;
    }
    out[0] = FORMAT_EXTRAS;
    for version in &record.versions {
        let mut flags = 0;
        if version.payload_tag.is_some() {
            flags |= EXTRA_PAYLOAD_TAG;
        }
        if version.with_secret {
            flags |= EXTRA_WITH_SECRET;
        }
        out.push(flags);
        if let Some(tag) = &version.payload_tag {
            out.extend_from_slice(&tag.0);
        }
    }
    true
}

/// Whether format 1 cannot hold some version: it has a payload tag, or a `with_secret` other
/// than the one format 1 implies ([`implied_with_secret`]).
fn needs_extras(record: &SecretRecord) -> bool {
    record
        .versions
        .iter()
        .enumerate()
        .any(|(i, v)| v.payload_tag.is_some() || v.with_secret != implied_with_secret(record, i, v))
}

/// What a record in format 1 or 2 says of whether its `i`th version was written with the
/// secret: it was if it is the first and was written in the second the secret was created
/// (the rule releases before format 3 applied).
fn implied_with_secret(record: &SecretRecord, i: usize, version: &VersionRecord) -> bool {
    i == 0 && version.create_time == record.create_time
}

/// Appends the format-1 encoding of every field but the seal.
fn encode_fields(record: &SecretRecord, out: &mut Vec<u8>) {
    out.push(FORMAT_UNSEALED);
    put_text(out, record.name.as_str());
    out.push(match record.secret_type {
        SecretType::Generic => SECRET_TYPE_GENERIC,
    });
    match &record.description {
        None => out.push(ABSENT),
        Some(d) => {
            out.push(PRESENT);
            put_text(out, d.as_str());
        }
    }
    out.extend_from_slice(record.encryption_key_id.uuid().as_bytes());
    put_count(out, record.tags.len());
    for tag in &record.tags {
        put_text(out, tag.key());
        put_text(out, tag.value());
    }
    put_time(out, record.create_time);
    put_time(out, record.update_time);
    match record.planned_delete_time {
        None => out.push(ABSENT),
        Some(t) => {
            out.push(PRESENT);
            put_time(out, t);
        }
    }
    put_count(out, record.versions.len());
    for version in &record.versions {
        put_text(out, version.version_id.as_str());
        out.push(match version.data_type {
            SecretDataType::Text => DATA_TYPE_TEXT,
            SecretDataType::Binary => DATA_TYPE_BINARY,
        });
        put_count(out, version.stages.len());
        for stage in &version.stages {
            put_text(out, stage.as_str());
        }
        put_time(out, version.create_time);
    }
}

/// Decodes a record written by [`encode_record`] of this or an earlier release (formats 1 to
/// 4).
///
/// Errors: [`StorageError::Corrupt`] when the format version is unknown (`"unsupported record
/// format version N"`), when a length runs past the end, a field fails validation, a tag byte
/// is out of range, bytes are left over, or a format-3 record's extras say nothing format 1
/// could not (the encoding is canonical: one byte string per record). Never panics.
pub fn decode_record(bytes: &[u8]) -> Result<SecretRecord, StorageError> {
    let mut r = Reader::new(bytes);
    let format = r.u8("record format version")?;
    if !matches!(
        format,
        FORMAT_UNSEALED | FORMAT_SEALED | FORMAT_EXTRAS | FORMAT_EXTRAS_SEALED
    ) {
        return Err(StorageError::Corrupt(format!(
            "unsupported record format version {format}"
        )));
    }
    let mut record = decode_fields(&mut r)?;
    if matches!(format, FORMAT_EXTRAS | FORMAT_EXTRAS_SEALED) {
        let at = r.offset();
        for version in &mut record.versions {
            let flags = r.u8("version extras")?;
            if flags & !(EXTRA_PAYLOAD_TAG | EXTRA_WITH_SECRET) != 0 {
                return Err(r.bad_byte("version extras", flags));
            }
            if flags & EXTRA_PAYLOAD_TAG != 0 {
                version.payload_tag = Some(PayloadTag(r.array16("payload tag")?));
            }
            version.with_secret = flags & EXTRA_WITH_SECRET != 0;
        }
        if !needs_extras(&record) {
            return Err(StorageError::Corrupt(format!(
                "a format-{format} record whose version extras (at byte {at}) say nothing \
                 format 1 could not"
            )));
        }
    } else {
        for i in 0..record.versions.len() {
            record.versions[i].with_secret = implied_with_secret(&record, i, &record.versions[i]);
        }
    }
    if matches!(format, FORMAT_SEALED | FORMAT_EXTRAS_SEALED) {
        record.seal = Some(RecordSeal(r.array32("record seal")?));
    }
    r.finish()?;
    Ok(record)
}

/// Decodes, as [`decode_record`] does, a record stored for `name`: a backend's check that what
/// it read under a secret's key is that secret's record.
///
/// Errors: [`StorageError::Corrupt`], naming `name`, when the record does not decode or names
/// another secret.
pub fn decode_record_of(name: &SecretName, bytes: &[u8]) -> Result<SecretRecord, StorageError> {
    let record = decode_record(bytes).map_err(|e| e.in_context(&format!("record of {name}")))?;
    if record.name != *name {
        return Err(StorageError::Corrupt(format!(
            "the record stored for {name} names {}",
            record.name
        )));
    }
    Ok(record)
}

fn decode_fields(r: &mut Reader<'_>) -> Result<SecretRecord, StorageError> {
    let name = r.parsed("secret name", SecretName::parse)?;
    let secret_type = match r.u8("secret type")? {
        SECRET_TYPE_GENERIC => SecretType::Generic,
        other => return Err(r.bad_byte("secret type", other)),
    };
    let description = if r.present("description")? {
        Some(r.parsed("description", Description::parse)?)
    } else {
        None
    };
    let encryption_key_id = KeyId::new(Uuid::from_bytes(r.array16("encryption key id")?));
    let tag_count = r.count("tag count")?;
    let mut tags = Vec::new();
    for _ in 0..tag_count {
        let at = r.offset();
        let key = r.text("tag key")?;
        let value = r.text("tag value")?;
        let tag = Tag::new(key, value).map_err(|e| r.invalid_at(at, "tag", &e))?;
        tags.push(tag);
    }
    let create_time = r.time("create time")?;
    let update_time = r.time("update time")?;
    let planned_delete_time = if r.present("planned delete time")? {
        Some(r.time("planned delete time")?)
    } else {
        None
    };
    let version_count = r.count("version count")?;
    let mut versions = Vec::new();
    for _ in 0..version_count {
        versions.push(decode_version(r)?);
    }
    Ok(SecretRecord {
        name,
        secret_type,
        description,
        encryption_key_id,
        tags,
        create_time,
        update_time,
        planned_delete_time,
        versions,
        seal: None,
    })
}

fn decode_version(r: &mut Reader<'_>) -> Result<VersionRecord, StorageError> {
    let version_id = r.parsed("version id", VersionId::parse)?;
    let data_type = match r.u8("data type")? {
        DATA_TYPE_TEXT => SecretDataType::Text,
        DATA_TYPE_BINARY => SecretDataType::Binary,
        other => return Err(r.bad_byte("data type", other)),
    };
    let stage_count = r.count("stage count")?;
    let mut stages = Vec::new();
    for _ in 0..stage_count {
        stages.push(r.parsed("stage label", StageLabel::parse)?);
    }
    let create_time = r.time("version create time")?;
    Ok(VersionRecord {
        version_id,
        data_type,
        stages,
        create_time,
        // Set from the extras (format 3) or from the rule earlier formats imply.
        payload_tag: None,
        with_secret: false,
    })
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    // Secret names, version ids, labels and tag parts are at most 192 ASCII characters and a
    // description at most 1,024 characters (4,096 bytes), so a u16 prefix always fits.
    let len = u16::try_from(text.len()).expect("validated text is at most 4,096 bytes long");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn put_count(out: &mut Vec<u8>, count: usize) {
    // Each listed item takes dozens of bytes in memory, so no list in a record that fits in an
    // address space can reach 2^32 items.
    let count = u32::try_from(count).expect("a record lists fewer than 2^32 items");
    out.extend_from_slice(&count.to_be_bytes());
}

fn put_time(out: &mut Vec<u8>, time: Timestamp) {
    out.extend_from_slice(&time.unix().to_be_bytes());
}

#[cfg(test)]
mod tests;
