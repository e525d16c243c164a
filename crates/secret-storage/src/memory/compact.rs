//! The compact form [`MemoryStorage`](super::MemoryStorage) keeps a record and a payload in.
//!
//! A [`SecretRecord`] held as is costs about 350 bytes beyond its name: the struct itself and
//! one heap allocation per version list, version id, stage list and stage label, each rounded
//! up by the allocator. [`CompactRecord`] keeps the fixed-size fields inline, the rarely set
//! description, tags and seal behind one optional box (the facade does not seal records kept
//! in memory, but the backend stores whatever seal it is given), and every version in one byte string; the
//! name is the map's key and is not stored again. Rebuilding a [`SecretRecord`] makes the same
//! allocations as cloning one, so reads cost what they did.
//!
//! The bytes are written only by this module, from validated values, so reading them back
//! cannot fail; should it (a bug here), the read is a [`StorageError::Corrupt`], not a panic.

use secret_model::{
    Description, KeyId, SecretDataType, SecretName, SecretType, StageLabel, Tag, Timestamp,
    VersionId,
};

use crate::{PayloadTag, RecordSeal, SecretRecord, StorageError, VersionRecord};

const TEXT: u8 = 0;
const BINARY: u8 = 1;

/// A [`SecretRecord`] without its name, in few allocations.
#[derive(Debug)]
pub(super) struct CompactRecord {
    secret_type: SecretType,
    encryption_key_id: KeyId,
    create_time: Timestamp,
    update_time: Timestamp,
    planned_delete_time: Option<Timestamp>,
    /// The description, tags and seal, when any is set.
    extras: Option<Box<Extras>>,
    /// Every version, oldest first; see [`encode_versions`] for the layout.
    versions: Box<[u8]>,
}

#[derive(Debug)]
struct Extras {
    description: Option<Description>,
    tags: Box<[Tag]>,
    seal: Option<RecordSeal>,
}

impl CompactRecord {
    /// Splits `record` into its name and the rest, compacted.
    pub(super) fn new(record: SecretRecord) -> (SecretName, Self) {
        // Destructured in full: a field added to `SecretRecord` must be kept here too.
        let SecretRecord {
            name,
            secret_type,
            description,
            encryption_key_id,
            tags,
            create_time,
            update_time,
            planned_delete_time,
            versions,
            seal,
        } = record;
        let extras = (description.is_some() || !tags.is_empty() || seal.is_some()).then(|| {
            Box::new(Extras {
                description,
                tags: tags.into_boxed_slice(),
                seal,
            })
        });
        let compact = CompactRecord {
            secret_type,
            encryption_key_id,
            create_time,
            update_time,
            planned_delete_time,
            extras,
            versions: encode_versions(&versions),
        };
        (name, compact)
    }

    /// The record again, named `name`.
    pub(super) fn to_record(&self, name: &SecretName) -> Result<SecretRecord, StorageError> {
        let (description, tags, seal) = match &self.extras {
            Some(extras) => (
                extras.description.clone(),
                extras.tags.to_vec(),
                extras.seal,
            ),
            None => (None, Vec::new(), None),
        };
        Ok(SecretRecord {
            name: name.clone(),
            secret_type: self.secret_type,
            description,
            encryption_key_id: self.encryption_key_id,
            tags,
            create_time: self.create_time,
            update_time: self.update_time,
            planned_delete_time: self.planned_delete_time,
            versions: decode_versions(&self.versions)?,
            seal,
        })
    }
}

/// The layout: a `u32` version count, then for each version its id (a `u8` byte length and the
/// bytes), its data type (one byte), its create time (`i64`), a flags byte (bit 0: a payload
/// tag follows; bit 1: written with the secret), the payload tag (16 bytes) if any, its stage
/// count (`u32`) and each stage label (a `u8` byte length and the bytes). Integers are
/// little-endian. Version ids and stage labels are at most 64 ASCII characters, so a `u8`
/// length always fits.
fn encode_versions(versions: &[VersionRecord]) -> Box<[u8]> {
    let size = 4 + versions
        .iter()
        .map(|v| {
            1 + v.version_id.as_str().len()
                + 1
                + 8
                + 1
                + v.payload_tag.map_or(0, |t| t.0.len())
                + 4
                + v.stages.iter().map(|s| 1 + s.as_str().len()).sum::<usize>()
        })
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&count(versions.len()).to_le_bytes());
    for version in versions {
        put_short(&mut out, version.version_id.as_str());
        out.push(match version.data_type {
            SecretDataType::Text => TEXT,
            SecretDataType::Binary => BINARY,
        });
        out.extend_from_slice(&version.create_time.unix().to_le_bytes());
        out.push(u8::from(version.payload_tag.is_some()) | (u8::from(version.with_secret) << 1));
        if let Some(tag) = &version.payload_tag {
            out.extend_from_slice(&tag.0);
        }
        out.extend_from_slice(&count(version.stages.len()).to_le_bytes());
        for stage in &version.stages {
            put_short(&mut out, stage.as_str());
        }
    }
    out.into_boxed_slice()
}

fn decode_versions(bytes: &[u8]) -> Result<Vec<VersionRecord>, StorageError> {
    let mut r = Cursor(bytes);
    let n = r.u32()?;
    let mut versions = Vec::with_capacity(n.min(bytes.len()));
    for _ in 0..n {
        let version_id = VersionId::parse(text(r.short()?)?).map_err(corrupt)?;
        let data_type = match r.take(1)? {
            [TEXT] => SecretDataType::Text,
            [BINARY] => SecretDataType::Binary,
            _ => return Err(broken()),
        };
        let create_time = Timestamp::from_unix(i64::from_le_bytes(r.array()?));
        let [flags] = r.array()?;
        let payload_tag = if flags & 1 != 0 {
            Some(PayloadTag(r.array()?))
        } else {
            None
        };
        let with_secret = flags & 2 != 0;
        let k = r.u32()?;
        let mut stages = Vec::with_capacity(k.min(bytes.len()));
        for _ in 0..k {
            // The two labels every secret has are made without validating them again.
            let label = r.short()?;
            stages.push(if label == StageLabel::ACS_CURRENT.as_bytes() {
                StageLabel::current()
            } else if label == StageLabel::ACS_PREVIOUS.as_bytes() {
                StageLabel::previous()
            } else {
                StageLabel::parse(text(label)?).map_err(corrupt)?
            });
        }
        versions.push(VersionRecord {
            version_id,
            data_type,
            stages,
            create_time,
            payload_tag,
            with_secret,
        });
    }
    if r.0.is_empty() {
        Ok(versions)
    } else {
        Err(broken())
    }
}

/// A payload stored with its version id in front: the id's byte length (`u8`), the id, then
/// the payload. One allocation, no spare capacity.
pub(super) fn encode_payload(version_id: &VersionId, payload: &[u8]) -> Box<[u8]> {
    let mut out = Vec::with_capacity(1 + version_id.as_str().len() + payload.len());
    put_short(&mut out, version_id.as_str());
    out.extend_from_slice(payload);
    out.into_boxed_slice()
}

/// The version id bytes of a payload made by [`encode_payload`].
pub(super) fn payload_id(stored: &[u8]) -> &[u8] {
    let len = stored.first().map_or(0, |&n| usize::from(n));
    stored.get(1..1 + len).unwrap_or_default()
}

/// The payload bytes of a payload made by [`encode_payload`].
pub(super) fn payload_bytes(stored: &[u8]) -> &[u8] {
    let len = stored.first().map_or(0, |&n| usize::from(n));
    stored.get(1 + len..).unwrap_or_default()
}

/// The version id of a payload made by [`encode_payload`], as a [`VersionId`].
pub(super) fn payload_version_id(stored: &[u8]) -> Result<VersionId, StorageError> {
    VersionId::parse(text(payload_id(stored))?).map_err(corrupt)
}

fn put_short(out: &mut Vec<u8>, text: &str) {
    let len = u8::try_from(text.len()).expect("version ids and stage labels are at most 64 bytes");
    out.push(len);
    out.extend_from_slice(text.as_bytes());
}

fn count(n: usize) -> u32 {
    u32::try_from(n).expect("a record lists fewer than 2^32 items")
}

/// Reads from the front of a byte slice; never indexes past its end.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StorageError> {
        if n > self.0.len() {
            return Err(broken());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StorageError> {
        self.take(N)?.try_into().map_err(|_| broken())
    }

    fn u32(&mut self) -> Result<usize, StorageError> {
        usize::try_from(u32::from_le_bytes(self.array()?)).map_err(|_| broken())
    }

    /// Bytes behind a `u8` length.
    fn short(&mut self) -> Result<&'a [u8], StorageError> {
        let [len] = self.array()?;
        self.take(usize::from(len))
    }
}

fn text(bytes: &[u8]) -> Result<&str, StorageError> {
    std::str::from_utf8(bytes).map_err(|_| broken())
}

fn broken() -> StorageError {
    StorageError::Corrupt("memory storage: a compact record does not read back".into())
}

fn corrupt(e: secret_model::ValidationError) -> StorageError {
    StorageError::Corrupt(format!(
        "memory storage: a compact record does not read back: {e}"
    ))
}

#[cfg(test)]
mod tests {
    use secret_model::Uuid;

    use super::*;

    fn version(id: &str, data_type: SecretDataType, stages: &[&str], t: i64) -> VersionRecord {
        VersionRecord {
            version_id: VersionId::parse(id).unwrap(),
            data_type,
            stages: stages
                .iter()
                .map(|s| StageLabel::parse(s).unwrap())
                .collect(),
            create_time: Timestamp::from_unix(t),
            payload_tag: (t != 1).then_some(PayloadTag([t as u8; 16])),
            with_secret: t == 0,
        }
    }

    fn full_record() -> SecretRecord {
        SecretRecord {
            name: SecretName::parse("prod/db").unwrap(),
            secret_type: SecretType::Generic,
            description: Some(Description::parse("the database").unwrap()),
            encryption_key_id: KeyId::new(Uuid::from_bytes([9; 16])),
            tags: vec![
                Tag::new("k", "v").unwrap(),
                Tag::new("team", "x y").unwrap(),
            ],
            create_time: Timestamp::from_unix(-5),
            update_time: Timestamp::from_unix(i64::MAX),
            planned_delete_time: Some(Timestamp::from_unix(i64::MIN)),
            versions: vec![
                version("v1", SecretDataType::Binary, &[], 0),
                version(
                    &"~".repeat(64),
                    SecretDataType::Text,
                    &["ACSPrevious", "mine", &"L".repeat(64)],
                    1,
                ),
                version("v3", SecretDataType::Text, &["ACSCurrent"], 2),
            ],
            seal: Some(RecordSeal([0xa7; 32])),
        }
    }

    #[test]
    fn every_field_reads_back() {
        let record = full_record();
        let (name, compact) = CompactRecord::new(record.clone());
        assert_eq!(name, record.name);
        assert_eq!(compact.to_record(&name).unwrap(), record);
    }

    #[test]
    fn a_bare_record_has_no_extras_and_reads_back() {
        let record = SecretRecord {
            description: None,
            tags: vec![],
            planned_delete_time: None,
            versions: vec![],
            seal: None,
            ..full_record()
        };
        let (name, compact) = CompactRecord::new(record.clone());
        assert!(compact.extras.is_none());
        assert_eq!(&*compact.versions, &[0, 0, 0, 0]);
        assert_eq!(compact.to_record(&name).unwrap(), record);
        // A description alone, tags alone, or a seal alone are kept.
        for record in [
            SecretRecord {
                description: Some(Description::parse("").unwrap()),
                ..record.clone()
            },
            SecretRecord {
                tags: vec![Tag::new("k", "v").unwrap()],
                ..record.clone()
            },
            SecretRecord {
                seal: Some(RecordSeal([1; 32])),
                ..record.clone()
            },
        ] {
            let (name, compact) = CompactRecord::new(record.clone());
            assert_eq!(compact.to_record(&name).unwrap(), record);
        }
    }

    #[test]
    fn damaged_versions_are_corrupt_not_a_panic() {
        let (_, compact) = CompactRecord::new(full_record());
        let bytes = &compact.versions;
        for cut in 0..bytes.len() {
            assert!(matches!(
                decode_versions(&bytes[..cut]),
                Err(StorageError::Corrupt(_))
            ));
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(decode_versions(&longer).is_err());
        let mut bad_type = bytes.to_vec();
        bad_type[4 + 1 + 2] = 7;
        assert!(decode_versions(&bad_type).is_err());
    }

    #[test]
    fn payloads_keep_their_id_in_front() {
        let id = VersionId::parse("v1").unwrap();
        for payload in [&b""[..], b"abc", &[0xff; 300]] {
            let stored = encode_payload(&id, payload);
            assert_eq!(stored.len(), 1 + 2 + payload.len());
            assert_eq!(payload_id(&stored), b"v1");
            assert_eq!(payload_bytes(&stored), payload);
            assert_eq!(payload_version_id(&stored).unwrap(), id);
        }
        assert_eq!(payload_id(&[]), b"");
        assert_eq!(payload_bytes(&[5, b'x']), b"");
        assert!(payload_version_id(&[0]).is_err());
    }
}
