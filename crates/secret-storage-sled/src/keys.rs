//! The key layout of the store's sled tree (layout version [`LAYOUT_VERSION`]), and the value
//! stored under a record key: the secret's payload index (pointing into the value log, with
//! at most one payload inline), then its record.
//!
//! | key                                   | value                                  |
//! |---------------------------------------|----------------------------------------|
//! | `meta/format`                         | the layout version, `u32` big-endian   |
//! | `meta/journal`                        | `1` while the store uses a write journal |
//! | `meta/values`                         | the value log's size after its last collection, `u64` big-endian |
//! | `r/` name                             | the payload index and the record (below) |
//! | `p/` name `0x00` version id           | the payload of that version, if it has a key of its own |
//!
//! Names never contain `0x00`, so `p/a\0…` and `p/ab\0…` cannot be confused. The value under
//! `r/` name is: the payload index's length `u32` big-endian, the payload index, then the
//! record (`secret_storage::encode_record`). The payload index is rewritten by every write: an
//! `u64` write stamp (unique in the database, never reused), the version id of every payload
//! stored under a key of its own, each ended by `0x00`; then, for every payload in the value
//! log, `0x01`, its version id, `0x00` and its [`Pointer`]; then, if a payload is stored
//! inline, `0x00` (an empty entry: a version id is never empty), its version id, `0x00`, and
//! the payload's bytes (the rest of the index). It lets a transaction, which cannot scan, find
//! every payload, and lets a reader that is not in a transaction detect that a write slipped
//! between its reads.
//!
//! Written through the journal, a new payload goes to the value log ([`crate::values`]).
//! Written by a sled transaction, it goes inline: the inline payload, if any, is the newest one
//! such a write added ([`crate::update`] moves the one it replaces to a key of its own; a
//! payload that has a key of its own is overwritten there and never moves back inline; none is
//! inline once it is deleted, until a write adds another).
//!
//! Layout 3 had no value log, and layout 2 no inline payload either: their values are layout-4
//! values without those entries, so such a store is upgraded by its version number alone.
//! Layout 1 kept the payload index under a key of its own, `i/` name; opening a layout-1 store
//! folds each index into its record ([`crate::upgrade`]).

use std::collections::{BTreeMap, BTreeSet};

use secret_model::{SecretName, VersionId};
use secret_storage::StorageError;

use crate::values::Pointer;

/// The layout version this release writes (and reads; layouts 1 to 3 are upgraded on open).
pub(crate) const LAYOUT_VERSION: u32 = 4;

/// The key of the layout version.
pub(crate) const META_FORMAT: &[u8] = b"meta/format";
/// Present while the store is written through its write journal (`secrets-journal`), which
/// only [`SledStorage::open`](crate::SledStorage::open) replays.
pub(crate) const META_JOURNAL: &[u8] = b"meta/journal";
/// The value log's size when its last collection ended (`u64` big-endian), if one ran: the
/// next is due at twice it. Not journaled (a hint: losing it only delays a collection).
pub(crate) const META_VALUES: &[u8] = b"meta/values";
/// The prefix of record keys.
pub(crate) const RECORD_PREFIX: &[u8] = b"r/";
/// The prefix of layout 1's payload index keys (layouts 2 and 3 have none).
pub(crate) const LEGACY_INDEX_PREFIX: &[u8] = b"i/";
/// The prefix of payload keys.
pub(crate) const PAYLOAD_PREFIX: &[u8] = b"p/";

const SEPARATOR: u8 = 0x00;
/// Starts an index entry for a payload in the value log (a version id never starts with it).
const LOGGED: u8 = 0x01;

fn prefixed(prefix: &[u8], name: &SecretName) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + name.as_str().len() + 66);
    key.extend_from_slice(prefix);
    key.extend_from_slice(name.as_str().as_bytes());
    key
}

/// `r/` + name.
pub(crate) fn record_key(name: &SecretName) -> Vec<u8> {
    prefixed(RECORD_PREFIX, name)
}

/// `i/` + name: where layout 1 kept the payload index.
pub(crate) fn legacy_index_key(name: &SecretName) -> Vec<u8> {
    prefixed(LEGACY_INDEX_PREFIX, name)
}

/// The value stored under the record key: the payload index's length, the index (with its
/// inline payload, if any), and the record (already encoded by `secret_storage::encode_record`).
pub(crate) fn encode_stored(index: &PayloadIndex<'_>, record: &[u8]) -> Vec<u8> {
    let index = index.encode();
    let mut out = Vec::with_capacity(4 + index.len() + record.len());
    out.extend_from_slice(&(index.len() as u32).to_be_bytes());
    out.extend_from_slice(&index);
    out.extend_from_slice(record);
    out
}

/// Splits a value stored under the record key of `name` into the payload index (whose inline
/// payload borrows from `bytes`) and the record's bytes. Errors: `Corrupt` naming `name` if it
/// is cut short or the index does not decode.
pub(crate) fn split_stored<'b>(
    name: &SecretName,
    bytes: &'b [u8],
) -> Result<(PayloadIndex<'b>, &'b [u8]), StorageError> {
    let truncated = || StorageError::Corrupt(format!("the stored record of {name} is truncated"));
    let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(truncated)?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(truncated());
    }
    let (index, record) = rest.split_at(len);
    Ok((PayloadIndex::decode(name, index)?, record))
}

/// `p/` + name + `0x00` + version id.
pub(crate) fn payload_key(name: &SecretName, version_id: &VersionId) -> Vec<u8> {
    let mut key = prefixed(PAYLOAD_PREFIX, name);
    key.push(SEPARATOR);
    key.extend_from_slice(version_id.as_str().as_bytes());
    key
}

/// The smallest record key after the record key of `name`.
pub(crate) fn record_key_after(name: &SecretName) -> Vec<u8> {
    let mut key = record_key(name);
    key.push(SEPARATOR);
    key
}

/// The secret name in a key `prefix` + name. Errors: `Corrupt` if it is not a valid name.
pub(crate) fn name_in_key(prefix: &[u8], key: &[u8]) -> Result<SecretName, StorageError> {
    let rest = key.strip_prefix(prefix).unwrap_or(key);
    let text = std::str::from_utf8(rest).map_err(|_| bad_key(key))?;
    SecretName::parse(text).map_err(|_| bad_key(key))
}

/// The secret name and version id in a payload key. Errors: `Corrupt` if it is malformed.
pub(crate) fn split_payload_key(key: &[u8]) -> Result<(SecretName, VersionId), StorageError> {
    let rest = key
        .strip_prefix(PAYLOAD_PREFIX)
        .ok_or_else(|| bad_key(key))?;
    let at = rest
        .iter()
        .position(|&b| b == SEPARATOR)
        .ok_or_else(|| bad_key(key))?;
    let (name, id) = (&rest[..at], &rest[at + 1..]);
    let name = std::str::from_utf8(name)
        .ok()
        .and_then(|n| SecretName::parse(n).ok())
        .ok_or_else(|| bad_key(key))?;
    let id = std::str::from_utf8(id)
        .ok()
        .and_then(|i| VersionId::parse(i).ok())
        .ok_or_else(|| bad_key(key))?;
    Ok((name, id))
}

fn bad_key(key: &[u8]) -> StorageError {
    StorageError::Corrupt(format!(
        "malformed key {:?} in the sled store",
        String::from_utf8_lossy(key)
    ))
}

/// The decoded payload index of one secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PayloadIndex<'b> {
    /// Unique per write in the database; a changed stamp means the secret changed.
    pub(crate) stamp: u64,
    /// The version ids whose payload is stored under a key of its own.
    pub(crate) versions: BTreeSet<VersionId>,
    /// The version ids whose payload is in the value log, and where.
    pub(crate) logged: BTreeMap<VersionId, Pointer>,
    /// The version id and bytes of the payload stored inline, in the index itself.
    pub(crate) inline: Option<(VersionId, &'b [u8])>,
}

impl<'b> PayloadIndex<'b> {
    /// How many payloads the secret has, wherever they are.
    pub(crate) fn len(&self) -> usize {
        self.versions.len() + self.logged.len() + usize::from(self.inline.is_some())
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let inline_len = self
            .inline
            .as_ref()
            .map_or(0, |(id, bytes)| 2 + id.as_str().len() + bytes.len());
        let logged_len = self.logged.len() * (2 + 16 + Pointer::ENCODED_LEN);
        let mut out = Vec::with_capacity(8 + self.versions.len() * 16 + logged_len + inline_len);
        out.extend_from_slice(&self.stamp.to_be_bytes());
        for id in &self.versions {
            out.extend_from_slice(id.as_str().as_bytes());
            out.push(SEPARATOR);
        }
        for (id, pointer) in &self.logged {
            out.push(LOGGED);
            out.extend_from_slice(id.as_str().as_bytes());
            out.push(SEPARATOR);
            pointer.encode(&mut out);
        }
        if let Some((id, bytes)) = &self.inline {
            out.push(SEPARATOR);
            out.extend_from_slice(id.as_str().as_bytes());
            out.push(SEPARATOR);
            out.extend_from_slice(bytes);
        }
        out
    }

    /// Errors: `Corrupt` naming `name` if the bytes are not an index.
    pub(crate) fn decode(name: &SecretName, bytes: &'b [u8]) -> Result<Self, StorageError> {
        let corrupt =
            |why: &str| StorageError::Corrupt(format!("payload index of {name} is {why}"));
        let (stamp, mut rest) = match bytes.split_first_chunk::<8>() {
            Some((stamp, rest)) => (u64::from_be_bytes(*stamp), rest),
            None => return Err(corrupt("truncated")),
        };
        // The next version id and what follows its `0x00`.
        let next_id = |rest: &'b [u8]| -> Result<(Option<VersionId>, &'b [u8]), StorageError> {
            let at = rest
                .iter()
                .position(|&b| b == SEPARATOR)
                .ok_or_else(|| corrupt("truncated"))?;
            if at == 0 {
                return Ok((None, &rest[1..]));
            }
            let id = std::str::from_utf8(&rest[..at])
                .ok()
                .and_then(|id| VersionId::parse(id).ok())
                .ok_or_else(|| corrupt("holding an invalid version id"))?;
            Ok((Some(id), &rest[at + 1..]))
        };
        let mut versions = BTreeSet::new();
        let mut logged = BTreeMap::new();
        let mut inline = None;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix(&[LOGGED]) {
                // A payload in the value log: its version id, then its pointer.
                let (id, after) = next_id(after)?;
                let id = id.ok_or_else(|| corrupt("holding an empty version id"))?;
                let (pointer, after) = after
                    .split_first_chunk::<{ Pointer::ENCODED_LEN }>()
                    .ok_or_else(|| corrupt("truncated"))?;
                if versions.contains(&id) || logged.insert(id, Pointer::decode(pointer)).is_some() {
                    return Err(corrupt("listing a version twice"));
                }
                rest = after;
                continue;
            }
            let (id, after) = next_id(rest)?;
            let Some(id) = id else {
                // The empty entry: the inline payload's version id, then its bytes.
                let (id, payload) = next_id(after)?;
                let id = id.ok_or_else(|| corrupt("holding an empty version id"))?;
                if versions.contains(&id) || logged.contains_key(&id) {
                    return Err(corrupt("listing a version twice"));
                }
                inline = Some((id, payload));
                break;
            };
            if logged.contains_key(&id) || !versions.insert(id) {
                return Err(corrupt("listing a version twice"));
            }
            rest = after;
        }
        Ok(PayloadIndex {
            stamp,
            versions,
            logged,
            inline,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> SecretName {
        SecretName::parse(s).unwrap()
    }

    fn id(s: &str) -> VersionId {
        VersionId::parse(s).unwrap()
    }

    #[test]
    fn payload_keys_split_back_into_name_and_version() {
        let key = payload_key(&name("a/b"), &id("v=1"));
        assert_eq!(key, b"p/a/b\0v=1");
        assert_eq!(split_payload_key(&key).unwrap(), (name("a/b"), id("v=1")));
        assert!(split_payload_key(b"p/ab").is_err());
        assert!(split_payload_key(b"p/a\0").is_err());
        assert!(split_payload_key(b"p/\0v").is_err());
    }

    #[test]
    fn record_key_after_sorts_between_a_name_and_its_extensions() {
        let after = record_key_after(&name("a"));
        assert!(record_key(&name("a")) < after);
        assert!(after < record_key(&name("a-")));
        assert!(after < record_key(&name("a.b")));
    }

    #[test]
    fn stored_values_split_into_index_and_record() {
        let index = PayloadIndex {
            stamp: 9,
            versions: [id("v1")].into(),
            logged: BTreeMap::new(),
            inline: None,
        };
        let n = name("s");
        let stored = encode_stored(&index, b"record bytes");
        assert_eq!(&stored[..4], &[0, 0, 0, 11]);
        let (back, record) = split_stored(&n, &stored).unwrap();
        assert_eq!((back, record), (index, &b"record bytes"[..]));
        for cut in 0..15 {
            assert!(split_stored(&n, &stored[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = stored.clone();
        bad[4 + 8 + 2] = b'x';
        assert!(split_stored(&n, &bad).is_err());
    }

    #[test]
    fn index_roundtrips_and_rejects_damage() {
        let index = PayloadIndex {
            stamp: 0x0102_0304_0506_0708,
            versions: [id("v1"), id("v2")].into(),
            logged: BTreeMap::new(),
            inline: None,
        };
        let bytes = index.encode();
        assert_eq!(bytes, b"\x01\x02\x03\x04\x05\x06\x07\x08v1\0v2\0");
        let n = name("s");
        assert_eq!(PayloadIndex::decode(&n, &bytes).unwrap(), index);
        assert!(PayloadIndex::decode(&n, &bytes[..7]).is_err());
        assert!(PayloadIndex::decode(&n, &bytes[..bytes.len() - 1]).is_err());
        assert!(PayloadIndex::decode(&n, b"\0\0\0\0\0\0\0\0v1\0v1\0").is_err());
        assert!(PayloadIndex::decode(&n, b"\0\0\0\0\0\0\0\0v 1\0").is_err());
        assert!(PayloadIndex::decode(&n, b"\0\0\0\0\0\0\0\0\0").is_err());
    }

    #[test]
    fn an_inline_payload_follows_an_empty_entry_and_may_hold_any_byte() {
        let payload = b"\0pay\0load\0";
        let index = PayloadIndex {
            stamp: 1,
            versions: [id("v1")].into(),
            logged: BTreeMap::new(),
            inline: Some((id("v2"), &payload[..])),
        };
        let bytes = index.encode();
        assert_eq!(bytes, b"\0\0\0\0\0\0\0\x01v1\0\0v2\0\0pay\0load\0");
        let n = name("s");
        let back = PayloadIndex::decode(&n, &bytes).unwrap();
        assert_eq!(back, index);
        assert_eq!(back.len(), 2);
        // Inline alone, and inline and empty.
        let alone = b"\0\0\0\0\0\0\0\x01\0v2\0";
        let back = PayloadIndex::decode(&n, alone).unwrap();
        assert_eq!(back.inline, Some((id("v2"), &b""[..])));
        assert!(back.versions.is_empty());
        // A layout-2 index (no empty entry) is a layout-3 index without an inline payload.
        let layout_2 = PayloadIndex::decode(&n, b"\0\0\0\0\0\0\0\x01v1\0").unwrap();
        assert_eq!(layout_2.inline, None);
    }

    #[test]
    fn a_damaged_inline_entry_is_refused() {
        let n = name("s");
        for bad in [
            &b"\0\0\0\0\0\0\0\0\0"[..],          // the empty entry, then nothing
            &b"\0\0\0\0\0\0\0\0\0v2"[..],        // an inline id without its end
            &b"\0\0\0\0\0\0\0\0\0\0bytes"[..],   // an empty inline id
            &b"\0\0\0\0\0\0\0\0\0v 2\0x"[..],    // an invalid inline id
            &b"\0\0\0\0\0\0\0\0v2\0\0v2\0x"[..], // inline and under its own key
        ] {
            assert!(PayloadIndex::decode(&n, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn value_log_entries_follow_the_own_key_ids_and_precede_the_inline_payload() {
        let pointer = Pointer {
            segment: 2,
            offset: 0x0304,
            len: 5,
            crc: 0x0a0b_0c0d,
        };
        let index = PayloadIndex {
            stamp: 1,
            versions: [id("v1")].into(),
            logged: [(id("v3"), pointer)].into(),
            inline: Some((id("v2"), &b"x"[..])),
        };
        let bytes = index.encode();
        let mut expected = b"\0\0\0\0\0\0\0\x01v1\0\x01v3\0".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3, 4]);
        expected.extend_from_slice(&[0, 0, 0, 5, 0x0a, 0x0b, 0x0c, 0x0d]);
        expected.extend_from_slice(b"\0v2\0x");
        assert_eq!(bytes, expected);
        let n = name("s");
        let back = PayloadIndex::decode(&n, &bytes).unwrap();
        assert_eq!(back, index);
        assert_eq!(back.len(), 3);
        // Cut inside the pointer, or listing a version twice, is damage.
        let entry = 8 + 3;
        for cut in entry + 1..entry + 4 + 24 {
            assert!(
                PayloadIndex::decode(&n, &bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut twice = b"\0\0\0\0\0\0\0\x01v3\0".to_vec();
        twice.extend_from_slice(&bytes[entry..entry + 4 + 24]);
        assert!(PayloadIndex::decode(&n, &twice).is_err());
        let mut twice_logged = bytes[..entry + 4 + 24].to_vec();
        twice_logged.extend_from_slice(&bytes[entry..entry + 4 + 24]);
        assert!(PayloadIndex::decode(&n, &twice_logged).is_err());
    }

    proptest::proptest! {
        /// Bytes read from disk may be anything: a stored value that is not a payload index
        /// and record is `Corrupt`, never a panic; and one that decodes re-encodes to an
        /// index that decodes to the same.
        #[test]
        fn any_stored_bytes_decode_or_are_corrupt(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::Just(0u8),
                    proptest::prelude::Just(1u8),
                    proptest::prelude::Just(b'v'),
                    proptest::prelude::any::<u8>(),
                ],
                0..96,
            ),
            index_len in 0usize..100,
            framed in proptest::prelude::any::<bool>(),
        ) {
            let n = name("s");
            // Mostly a length prefix that fits, so that the index decoder sees the rest.
            let stored = if framed {
                let len = index_len.min(bytes.len()) as u32;
                [&len.to_be_bytes()[..], &bytes].concat()
            } else {
                bytes
            };
            match split_stored(&n, &stored) {
                Ok((index, _record)) => {
                    let again = index.encode();
                    proptest::prop_assert_eq!(PayloadIndex::decode(&n, &again).unwrap(), index);
                }
                Err(e) => proptest::prop_assert!(matches!(e, StorageError::Corrupt(_)), "{e:?}"),
            }
        }
    }
}
