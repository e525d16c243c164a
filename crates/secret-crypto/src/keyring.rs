//! The keyring: every customer master key and the record seal key, and the `Keyring` format
//! (version 2, or 3 while a record-seal-key rotation is unfinished; version 1, without the
//! record seal key, is still read) that keeps it on disk encrypted under a subkey of the root
//! key. Byte layout in `docs/formats.md`.

use ring::aead::{Aad, LessSafeKey, Nonce};
use ring::rand::{SecureRandom, SystemRandom};
use secret_model::{KeyId, Timestamp, Uuid};
use zeroize::Zeroizing;

use crate::gcm::{self, NONCE_LEN, TAG_LEN};
use crate::root_key::{KEYRING_KEY_LABEL, RootKey};
use crate::wire::Reader;
use crate::{KeyMetadata, KeyState, KmsError};

/// The first bytes of every keyring blob.
pub(crate) const MAGIC: &[u8; 8] = b"SSKEYRNG";
/// The first keyring format: master keys only.
pub(crate) const FORMAT_V1: u8 = 1;
/// The format this release writes: format 1 followed by the optional record seal key.
pub(crate) const FORMAT_V2: u8 = 2;
/// Format 2 followed by the retiring record seal key: written only while a rotation of the
/// record seal key is unfinished, so that a release that knows nothing of rotations refuses
/// the keyring rather than checking records under one key of the two.
pub(crate) const FORMAT_V3: u8 = 3;
const HEADER_LEN: usize = MAGIC.len() + 1;

const STATE_ENABLED: u8 = 1;
const STATE_DISABLED: u8 = 2;
/// Encoded size of one key version: number, reservation, material.
const VERSION_LEN: usize = 4 + 8 + 32;
/// Smallest encoded master key: id, state, creation, empty description, version count.
const MIN_KEY_LEN: usize = 16 + 1 + 8 + 4 + 4;

/// Key material, boxed so that moving a version (a growing `Vec`) never leaves an
/// un-zeroized copy behind in freed memory.
pub(crate) type Material = Box<Zeroizing<[u8; 32]>>;

/// The whole keyring, as held in memory and (encrypted) on disk.
#[derive(Clone, Default)]
pub(crate) struct Keyring {
    /// The key [`crate::Kms::default_key`] returns, once created.
    pub(crate) default_key: Option<KeyId>,
    /// Every master key, in creation order.
    pub(crate) keys: Vec<MasterKey>,
    /// The key records are sealed with ([`crate::RecordSealKey`]), once created.
    pub(crate) record_seal_key: Option<Material>,
    /// The record seal key being replaced, while a rotation is unfinished: records sealed
    /// under it are still accepted. Only ever present beside `record_seal_key`.
    pub(crate) retiring_record_seal_key: Option<Material>,
}

/// One customer master key.
#[derive(Clone)]
pub(crate) struct MasterKey {
    pub(crate) id: KeyId,
    pub(crate) state: KeyState,
    pub(crate) created: Timestamp,
    pub(crate) description: String,
    /// Version `n` is at index `n - 1`; the last one is the primary. Never empty.
    pub(crate) versions: Vec<KeyVersion>,
}

/// One version of a master key.
#[derive(Clone)]
pub(crate) struct KeyVersion {
    pub(crate) material: Material,
    /// Wraps made (or, after a reopen, assumed made) under this version. Not stored.
    pub(crate) wraps: u64,
    /// The persisted high-water mark: `wraps` never exceeds it without a save first.
    pub(crate) reserved: u64,
}

impl KeyVersion {
    /// A version that has wrapped nothing yet.
    pub(crate) fn new(material: Material) -> Self {
        KeyVersion {
            material,
            wraps: 0,
            reserved: 0,
        }
    }
}

impl MasterKey {
    /// The primary (newest) version's number.
    pub(crate) fn primary_version(&self) -> u32 {
        u32::try_from(self.versions.len()).unwrap_or(u32::MAX)
    }

    /// Version `number`, if it exists.
    pub(crate) fn version(&self, number: u32) -> Option<&KeyVersion> {
        let index = usize::try_from(number).ok()?.checked_sub(1)?;
        self.versions.get(index)
    }

    /// What `describe_key` reports.
    pub(crate) fn metadata(&self) -> KeyMetadata {
        KeyMetadata {
            key_id: self.id,
            state: self.state,
            primary_key_version: self.primary_version(),
            creation_date: self.created,
            description: self.description.clone(),
        }
    }
}

impl Keyring {
    /// The key with this id.
    pub(crate) fn get(&self, id: &KeyId) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id == *id)
    }

    /// The key with this id, for changing.
    pub(crate) fn get_mut(&mut self, id: &KeyId) -> Option<&mut MasterKey> {
        self.keys.iter_mut().find(|k| k.id == *id)
    }

    /// The format this keyring is written in: 3 while a record-seal-key rotation is
    /// unfinished, else 2.
    fn format(&self) -> u8 {
        if self.retiring_record_seal_key.is_some() {
            FORMAT_V3
        } else {
            FORMAT_V2
        }
    }

    /// Encrypts the keyring under `root` into a `Keyring v2` (or `v3`) blob.
    /// Errors: `Rng`, or `Keyring` if a description does not fit its 32-bit length.
    pub(crate) fn seal(&self, root: &RootKey) -> Result<Vec<u8>, KmsError> {
        let plaintext = self.encode()?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| KmsError::Rng)?;

        let mut blob = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
        blob.extend_from_slice(MAGIC);
        blob.push(self.format());
        blob.extend_from_slice(&nonce);
        let body_start = blob.len();
        blob.extend_from_slice(&plaintext);
        let key = keyring_key(root);
        let tag = {
            let (head, body) = blob.split_at_mut(body_start);
            let aad = head
                .get(..HEADER_LEN)
                .expect("the header precedes the nonce");
            key.seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                body,
            )
            .map_err(|_| KmsError::Keyring("keyring encryption failed".into()))?
        };
        blob.extend_from_slice(tag.as_ref());
        Ok(blob)
    }

    /// Decrypts and decodes a `Keyring v1`, `v2` or `v3` blob.
    ///
    /// Errors: `Keyring` for a blob that is not a keyring, has an unknown format version or
    /// decodes to an inconsistent keyring; `WrongRootKey` when authentication fails, which is
    /// what a different root key (or a damaged file) produces.
    pub(crate) fn open(blob: &[u8], root: &RootKey) -> Result<Keyring, KmsError> {
        let mut r = Reader::new(blob);
        let header = r
            .take(HEADER_LEN)
            .ok_or_else(|| KmsError::Keyring("not a keyring: too short".into()))?;
        let mut h = Reader::new(header);
        if h.take(MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(KmsError::Keyring("not a keyring: bad magic bytes".into()));
        }
        let format = match h.u8() {
            Some(v @ (FORMAT_V1 | FORMAT_V2 | FORMAT_V3)) => v,
            Some(v) => {
                return Err(KmsError::Keyring(format!(
                    "unsupported keyring format version {v}"
                )));
            }
            None => return Err(KmsError::Keyring("not a keyring: too short".into())),
        };
        let nonce = r
            .array::<NONCE_LEN>()
            .ok_or_else(|| KmsError::Keyring("keyring is truncated".into()))?;
        if r.remaining() < TAG_LEN {
            return Err(KmsError::Keyring("keyring is truncated".into()));
        }
        let mut body = Zeroizing::new(r.rest().to_vec());
        let plaintext = keyring_key(root)
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(header),
                &mut body[..],
            )
            .map_err(|_| KmsError::WrongRootKey)?;
        Keyring::decode(plaintext, format)
    }

    /// The plaintext encoding, in a buffer sized exactly so it never reallocates.
    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let len = 1
            + self.default_key.map_or(0, |_| 16)
            + 4
            + self
                .keys
                .iter()
                .map(|k| MIN_KEY_LEN + k.description.len() + k.versions.len() * VERSION_LEN)
                .sum::<usize>()
            + 1
            + self.record_seal_key.as_ref().map_or(0, |_| 32)
            + self.retiring_record_seal_key.as_ref().map_or(0, |_| 32);
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        match &self.default_key {
            None => out.push(0),
            Some(id) => {
                out.push(1);
                out.extend_from_slice(id.uuid().as_bytes());
            }
        }
        out.extend_from_slice(&count(self.keys.len(), "keys")?.to_be_bytes());
        for key in &self.keys {
            out.extend_from_slice(key.id.uuid().as_bytes());
            out.push(match key.state {
                KeyState::Enabled => STATE_ENABLED,
                KeyState::Disabled => STATE_DISABLED,
            });
            out.extend_from_slice(&key.created.unix().to_be_bytes());
            out.extend_from_slice(
                &count(key.description.len(), "description bytes")?.to_be_bytes(),
            );
            out.extend_from_slice(key.description.as_bytes());
            out.extend_from_slice(&count(key.versions.len(), "key versions")?.to_be_bytes());
            for (number, version) in (1u32..).zip(&key.versions) {
                out.extend_from_slice(&number.to_be_bytes());
                out.extend_from_slice(&version.reserved.to_be_bytes());
                out.extend_from_slice(&version.material[..]);
            }
        }
        match &self.record_seal_key {
            None => out.push(0),
            Some(material) => {
                out.push(1);
                out.extend_from_slice(&material[..]);
            }
        }
        if let Some(material) = &self.retiring_record_seal_key {
            if self.record_seal_key.is_none() {
                return Err(KmsError::Keyring(
                    "a retiring record seal key without a current one".into(),
                ));
            }
            out.extend_from_slice(&material[..]);
        }
        debug_assert_eq!(out.len(), len, "the size computation matches the encoding");
        Ok(out)
    }

    /// Decodes the plaintext encoding of keyring format `format`, checking every length and
    /// invariant.
    fn decode(bytes: &[u8], format: u8) -> Result<Keyring, KmsError> {
        let bad = |what: &str| KmsError::Keyring(format!("keyring is malformed: {what}"));
        let mut r = Reader::new(bytes);
        let default_key = match r.u8() {
            Some(0) => None,
            Some(1) => Some(read_key_id(&mut r).ok_or_else(|| bad("truncated default key"))?),
            _ => return Err(bad("bad default-key flag")),
        };
        let key_count = r.u32().ok_or_else(|| bad("truncated key count"))?;
        let key_count = usize::try_from(key_count).map_err(|_| bad("key count"))?;
        let mut keys = Vec::with_capacity(key_count.min(r.remaining() / MIN_KEY_LEN));
        for _ in 0..key_count {
            let id = read_key_id(&mut r).ok_or_else(|| bad("truncated key id"))?;
            if keys.iter().any(|k: &MasterKey| k.id == id) {
                return Err(bad("duplicate key id"));
            }
            let state = match r.u8() {
                Some(STATE_ENABLED) => KeyState::Enabled,
                Some(STATE_DISABLED) => KeyState::Disabled,
                _ => return Err(bad("bad key state")),
            };
            let created = Timestamp::from_unix(r.i64().ok_or_else(|| bad("truncated date"))?);
            let desc_len = r.u32().ok_or_else(|| bad("truncated description"))?;
            let desc = usize::try_from(desc_len)
                .ok()
                .and_then(|n| r.take(n))
                .ok_or_else(|| bad("truncated description"))?;
            let description = std::str::from_utf8(desc)
                .map_err(|_| bad("description is not UTF-8"))?
                .to_owned();
            let version_count = r.u32().ok_or_else(|| bad("truncated version count"))?;
            if version_count == 0 {
                return Err(bad("a key without versions"));
            }
            let version_count = usize::try_from(version_count).map_err(|_| bad("version count"))?;
            let mut versions = Vec::with_capacity(version_count.min(r.remaining() / VERSION_LEN));
            for expected in 1..=version_count {
                let number = r.u32().ok_or_else(|| bad("truncated key version"))?;
                if usize::try_from(number).ok() != Some(expected) {
                    return Err(bad("key versions out of sequence"));
                }
                let reserved = r.u64().ok_or_else(|| bad("truncated key version"))?;
                let material = r
                    .array::<32>()
                    .ok_or_else(|| bad("truncated key version"))?;
                versions.push(KeyVersion {
                    material: Box::new(Zeroizing::new(*material)),
                    // Reservations might all have been used before the last exit.
                    wraps: reserved,
                    reserved,
                });
            }
            keys.push(MasterKey {
                id,
                state,
                created,
                description,
                versions,
            });
        }
        let flag = r.u8();
        let mut seal_key = |what: &str| {
            r.array::<32>()
                .map(|k| Box::new(Zeroizing::new(*k)))
                .ok_or_else(|| bad(&format!("truncated {what}")))
        };
        let (record_seal_key, retiring_record_seal_key) = match (format, flag) {
            (FORMAT_V1, None) => (None, None),
            (FORMAT_V2, Some(0)) => (None, None),
            (FORMAT_V2, Some(1)) => (Some(seal_key("record seal key")?), None),
            // A rotation is unfinished: the current key, then the one it replaces.
            (FORMAT_V3, Some(1)) => (
                Some(seal_key("record seal key")?),
                Some(seal_key("retiring record seal key")?),
            ),
            (FORMAT_V1, Some(_)) => return Err(bad("trailing bytes")),
            _ => return Err(bad("bad record-seal-key flag")),
        };
        if r.remaining() != 0 {
            return Err(bad("trailing bytes"));
        }
        if let Some(id) = default_key
            && !keys.iter().any(|k| k.id == id)
        {
            return Err(bad("the default key is missing"));
        }
        Ok(Keyring {
            default_key,
            keys,
            record_seal_key,
            retiring_record_seal_key,
        })
    }
}

fn read_key_id(r: &mut Reader<'_>) -> Option<KeyId> {
    r.array::<16>().map(|b| KeyId::new(Uuid::from_bytes(*b)))
}

fn count(n: usize, what: &str) -> Result<u32, KmsError> {
    u32::try_from(n).map_err(|_| KmsError::Keyring(format!("too many {what} to store")))
}

fn keyring_key(root: &RootKey) -> LessSafeKey {
    gcm::key(&root.derive(KEYRING_KEY_LABEL))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Keyring {
        let id = KeyId::new(Uuid::new_v4([3; 16]));
        let other = KeyId::new(Uuid::new_v4([4; 16]));
        Keyring {
            default_key: Some(id),
            keys: vec![
                MasterKey {
                    id,
                    state: KeyState::Enabled,
                    created: Timestamp::from_unix(1_700_000_000),
                    description: "first".into(),
                    versions: vec![
                        KeyVersion::new(Box::new(Zeroizing::new([5; 32]))),
                        KeyVersion {
                            material: Box::new(Zeroizing::new([6; 32])),
                            wraps: 7,
                            reserved: 65_536,
                        },
                    ],
                },
                MasterKey {
                    id: other,
                    state: KeyState::Disabled,
                    created: Timestamp::from_unix(-5),
                    description: String::new(),
                    versions: vec![KeyVersion::new(Box::new(Zeroizing::new([8; 32])))],
                },
            ],
            record_seal_key: Some(Box::new(Zeroizing::new([9; 32]))),
            retiring_record_seal_key: None,
        }
    }

    #[test]
    fn encoding_roundtrips_and_restarts_counts_at_the_reservation() {
        let ring = sample();
        let bytes = ring.encode().unwrap();
        let back = Keyring::decode(&bytes, FORMAT_V2).unwrap();
        assert_eq!(back.default_key, ring.default_key);
        assert_eq!(back.record_seal_key.as_deref().map(|k| **k), Some([9; 32]));
        assert_eq!(back.keys.len(), 2);
        assert_eq!(back.keys[0].metadata(), ring.keys[0].metadata());
        assert_eq!(back.keys[1].metadata(), ring.keys[1].metadata());
        assert_eq!(**back.keys[0].versions[1].material, [6; 32]);
        assert_eq!(back.keys[0].versions[1].wraps, 65_536);
        assert_eq!(back.keys[0].primary_version(), 2);
    }

    #[test]
    fn every_truncation_of_the_encoding_is_rejected() {
        let bytes = sample().encode().unwrap();
        for len in 0..bytes.len() {
            assert!(
                Keyring::decode(&bytes[..len], FORMAT_V2).is_err(),
                "length {len}"
            );
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(Keyring::decode(&longer, FORMAT_V2).is_err());
    }

    #[test]
    fn a_format_1_encoding_has_no_record_seal_key_and_no_room_for_one() {
        let ring = Keyring {
            record_seal_key: None,
            ..sample()
        };
        let v2 = ring.encode().unwrap();
        assert_eq!(
            v2.last(),
            Some(&0),
            "format 2 ends with an absent record seal key"
        );
        let v1 = &v2[..v2.len() - 1];
        let back = Keyring::decode(v1, FORMAT_V1).unwrap();
        assert!(back.record_seal_key.is_none());
        assert_eq!(back.keys.len(), 2);
        assert!(Keyring::decode(&v2, FORMAT_V1).is_err(), "trailing bytes");
        assert!(Keyring::decode(v1, FORMAT_V2).is_err(), "flag missing");
    }

    #[test]
    fn a_keyring_mid_rotation_is_format_3_and_every_other_is_format_2() {
        let root = RootKey::from_bytes([1; 32]);
        let rotating = Keyring {
            retiring_record_seal_key: Some(Box::new(Zeroizing::new([10; 32]))),
            ..sample()
        };
        let blob = rotating.seal(&root).unwrap();
        assert_eq!(blob[8], FORMAT_V3);
        let back = Keyring::open(&blob, &root).unwrap();
        assert_eq!(back.record_seal_key.as_deref().map(|k| **k), Some([9; 32]));
        assert_eq!(
            back.retiring_record_seal_key.as_deref().map(|k| **k),
            Some([10; 32])
        );
        assert_eq!(sample().seal(&root).unwrap()[8], FORMAT_V2);

        let v3 = rotating.encode().unwrap();
        assert_eq!(
            &v3[v3.len() - 32..],
            &[10; 32],
            "the retiring key comes last"
        );
        for len in 0..v3.len() {
            assert!(
                Keyring::decode(&v3[..len], FORMAT_V3).is_err(),
                "length {len}"
            );
        }
        assert!(Keyring::decode(&v3, FORMAT_V2).is_err(), "trailing bytes");
        let v2 = sample().encode().unwrap();
        assert!(
            Keyring::decode(&v2, FORMAT_V3).is_err(),
            "format 3 always has both keys"
        );
        let without_current = Keyring {
            record_seal_key: None,
            ..rotating
        };
        assert!(without_current.encode().is_err());
    }

    #[test]
    fn huge_counts_do_not_allocate_or_panic() {
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(Keyring::decode(&bytes, FORMAT_V2).is_err());
    }

    #[test]
    fn sealed_keyring_opens_only_with_its_root_key() {
        let root = RootKey::from_bytes([1; 32]);
        let blob = sample().seal(&root).unwrap();
        assert_eq!(&blob[..8], MAGIC);
        assert_eq!(blob[8], FORMAT_V2);
        assert!(Keyring::open(&blob, &root).is_ok());
        let wrong = RootKey::from_bytes([2; 32]);
        assert!(matches!(
            Keyring::open(&blob, &wrong),
            Err(KmsError::WrongRootKey)
        ));
    }

    #[test]
    fn foreign_and_future_blobs_are_named_as_such() {
        let root = RootKey::from_bytes([1; 32]);
        let mut blob = sample().seal(&root).unwrap();
        blob[8] = 4;
        let err = Keyring::open(&blob, &root).err().unwrap().to_string();
        assert!(
            err.contains("unsupported keyring format version 4"),
            "{err}"
        );
        let err = Keyring::open(b"hello world, not a keyring", &root)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("bad magic"), "{err}");
    }

    #[test]
    fn seal_output_never_contains_material_in_the_clear() {
        let root = RootKey::from_bytes([1; 32]);
        let blob = sample().seal(&root).unwrap();
        assert!(
            !blob
                .windows(32)
                .any(|w| w == [5; 32] || w == [6; 32] || w == [9; 32])
        );
    }
}
