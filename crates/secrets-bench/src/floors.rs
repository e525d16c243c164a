//! The physical floor: what ring, a `Mutex<HashMap>` and sled cost by themselves for the work
//! an operation cannot avoid, with the same 1 KiB values.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::value;

/// Keys the map and sled floors cycle through, so that they do not grow without bound.
const KEYS: u64 = 1 << 14;

const AAD: &[u8] = b"secrets-bench";
/// The associated data of a data key's wrap (the store's binds the key id, version and
/// context; any 32 bytes cost the same).
const WRAP_AAD: &[u8; 32] = b"secrets-bench/wrap/key-id+contxt";
/// A wrapped data key: the key and its tag.
const WRAPPED_LEN: usize = 32 + 16;

/// Raw envelope encryption with ring, without the envelope's header: [`Envelope::seal`] and
/// [`Envelope::open`] do the value's part alone (a fresh data key, a seal / open of the 1 KiB
/// value); [`Envelope::wrap_seal`] and [`Envelope::unwrap_open`] the whole of it, the data key
/// also wrapped under / unwrapped from a master key whose ring key is built just in time, as
/// the store's KMS does.
pub(crate) struct Envelope {
    rng: SystemRandom,
    plaintext: Vec<u8>,
    /// One sealed value, with the key and nonce it was sealed with, for `open`.
    sealed: (Vec<u8>, [u8; 32], [u8; 12]),
    /// The master key data keys are wrapped under.
    master: [u8; 32],
    /// One whole envelope (wrapped key, then sealed value), with its wrap and value nonces,
    /// for `unwrap_open`.
    enveloped: (Vec<u8>, [u8; 12], [u8; 12]),
}

impl Envelope {
    pub(crate) fn new() -> Self {
        let mut floor = Envelope {
            rng: SystemRandom::new(),
            plaintext: value(),
            sealed: (Vec::new(), [0; 32], [0; 12]),
            master: [0; 32],
            enveloped: (Vec::new(), [0; 12], [0; 12]),
        };
        floor
            .rng
            .fill(&mut floor.master)
            .expect("the OS random number generator works");
        floor.sealed = floor.seal();
        floor.enveloped = floor.wrap_seal_with_nonces();
        floor
    }

    /// Draws a fresh data key and the nonces of its wrap and of the value in one OS random
    /// call (as the store's KMS and envelope do), wraps the key under the master key and seals
    /// a copy of the 1 KiB value under it, into one buffer sized up front: wrapped key, then
    /// ciphertext and tag.
    pub(crate) fn wrap_seal(&self) -> Vec<u8> {
        self.wrap_seal_with_nonces().0
    }

    fn wrap_seal_with_nonces(&self) -> (Vec<u8>, [u8; 12], [u8; 12]) {
        let mut random = [0u8; 32 + 12 + 12];
        self.rng
            .fill(&mut random)
            .expect("the OS random number generator works");
        let (data_key, nonces) = random.split_at(32);
        let data_key: [u8; 32] = data_key.try_into().expect("32 bytes");
        let wrap_nonce: [u8; 12] = nonces[..12].try_into().expect("12 bytes");
        let value_nonce: [u8; 12] = nonces[12..].try_into().expect("12 bytes");
        let tag_len = AES_256_GCM.tag_len();
        let mut out = Vec::with_capacity(WRAPPED_LEN + self.plaintext.len() + tag_len);
        out.extend_from_slice(&data_key);
        let tag = key(&self.master)
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(wrap_nonce),
                Aad::from(WRAP_AAD),
                &mut out,
            )
            .expect("wrapping 32 bytes cannot fail");
        out.extend_from_slice(tag.as_ref());
        out.extend_from_slice(&self.plaintext);
        let tag = key(&data_key)
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(value_nonce),
                Aad::from(AAD),
                &mut out[WRAPPED_LEN..],
            )
            .expect("sealing 1 KiB cannot fail");
        out.extend_from_slice(tag.as_ref());
        (out, wrap_nonce, value_nonce)
    }

    /// A copy of the whole envelope made at start-up (as a read from storage would hand over).
    pub(crate) fn enveloped_bytes(&self) -> Vec<u8> {
        self.enveloped.0.clone()
    }

    /// Unwraps the data key of `enveloped` (made by this floor's own `wrap_seal` at start-up)
    /// under the master key, then opens the value with it; returns the plaintext length.
    pub(crate) fn unwrap_open(&self, mut enveloped: Vec<u8>) -> usize {
        let (_, wrap_nonce, value_nonce) = &self.enveloped;
        let mut wrapped = [0u8; WRAPPED_LEN];
        wrapped.copy_from_slice(&enveloped[..WRAPPED_LEN]);
        let data_key: [u8; 32] = key(&self.master)
            .open_in_place(
                Nonce::assume_unique_for_key(*wrap_nonce),
                Aad::from(WRAP_AAD),
                &mut wrapped,
            )
            .expect("the floor's own wrapped key opens")[..]
            .try_into()
            .expect("a wrapped key holds 32 bytes");
        key(&data_key)
            .open_in_place(
                Nonce::assume_unique_for_key(*value_nonce),
                Aad::from(AAD),
                &mut enveloped[WRAPPED_LEN..],
            )
            .expect("the floor's own ciphertext opens")
            .len()
    }

    /// Draws a fresh data key and nonce in one OS random call (as the envelope does), builds
    /// the ring key and seals a copy of the 1 KiB value: returns ciphertext, key and nonce.
    pub(crate) fn seal(&self) -> (Vec<u8>, [u8; 32], [u8; 12]) {
        let mut material = [0u8; 44];
        self.rng
            .fill(&mut material)
            .expect("the OS random number generator works");
        let (key_bytes, nonce_bytes) = material.split_at(32);
        let key_bytes: [u8; 32] = key_bytes.try_into().expect("32 bytes");
        let nonce_bytes: [u8; 12] = nonce_bytes.try_into().expect("12 bytes");
        // Room for the tag up front, as the envelope makes it: no reallocation, no slack.
        let mut buf = Vec::with_capacity(self.plaintext.len() + AES_256_GCM.tag_len());
        buf.extend_from_slice(&self.plaintext);
        key(&key_bytes)
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(AAD),
                &mut buf,
            )
            .expect("sealing 1 KiB cannot fail");
        (buf, key_bytes, nonce_bytes)
    }

    /// A copy of the sealed value (as a read from storage would hand over).
    pub(crate) fn sealed_bytes(&self) -> Vec<u8> {
        self.sealed.0.clone()
    }

    /// Builds the ring key and opens `sealed` (made by this floor's own `seal` at start-up);
    /// returns the plaintext length.
    pub(crate) fn open(&self, mut sealed: Vec<u8>) -> usize {
        let (_, key_bytes, nonce_bytes) = &self.sealed;
        key(key_bytes)
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce_bytes),
                Aad::from(AAD),
                &mut sealed,
            )
            .expect("the floor's own ciphertext opens")
            .len()
    }
}

/// A copy of `bytes` whose first (up to) 8 bytes are `stamp`, so that no two writes are
/// equal.
fn stamped(bytes: &[u8], stamp: u64) -> Vec<u8> {
    let mut copy = bytes.to_vec();
    let stamp = stamp.to_le_bytes();
    let len = copy.len().min(stamp.len());
    copy[..len].copy_from_slice(&stamp[..len]);
    copy
}

fn key(bytes: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("32 bytes is an AES-256 key"))
}

/// A raw `Mutex<HashMap>` of names to bytes.
pub(crate) struct Map {
    map: Mutex<HashMap<String, Vec<u8>>>,
    next: AtomicU64,
}

impl Map {
    /// A map already holding every name the inserts cycle through, so that every insert
    /// replaces a value (no round pays for the map's growth).
    pub(crate) fn filled() -> Self {
        let map = (0..KEYS)
            .map(|n| (format!("floor/{n}"), Vec::new()))
            .collect();
        Map {
            map: Mutex::new(map),
            next: AtomicU64::new(0),
        }
    }

    /// An empty map with room for `capacity` entries, for [`Map::insert_new`]: it grows as a
    /// store does when secrets are created (its table is made once, so no insert pays for
    /// moving the others).
    pub(crate) fn empty(capacity: usize) -> Self {
        Map {
            map: Mutex::new(HashMap::with_capacity(capacity)),
            next: AtomicU64::new(0),
        }
    }

    /// Inserts `bytes` under a name never used before, as a create does: the map grows (and
    /// the process with it, page by page), which an overwrite does not pay for.
    pub(crate) fn insert_new(&self, bytes: Vec<u8>) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.map
            .lock()
            .expect("no thread panics holding the map")
            .insert(format!("floor/new/{n}"), bytes);
    }

    /// Inserts `bytes` under a name of its own (cycling through [`KEYS`] names).
    pub(crate) fn insert(&self, bytes: Vec<u8>) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("floor/{}", n % KEYS);
        self.map
            .lock()
            .expect("no thread panics holding the map")
            .insert(name, bytes);
    }

    /// Inserts `bytes` under `name` (to set up a read).
    pub(crate) fn insert_as(&self, name: &str, bytes: Vec<u8>) {
        self.map
            .lock()
            .expect("no thread panics holding the map")
            .insert(name.to_owned(), bytes);
    }

    /// A copy of the bytes under `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Vec<u8>> {
        self.map
            .lock()
            .expect("no thread panics holding the map")
            .get(name)
            .cloned()
    }
}

/// The disk itself: 1 KiB written into a preallocated file, then `fdatasync` — the least a
/// durable write of one secret costs on this machine with any storage engine.
pub(crate) struct Disk {
    file: Mutex<std::fs::File>,
    next: AtomicU64,
}

/// The preallocated file holds this many 1 KiB slots, overwritten in turn.
const DISK_SLOTS: u64 = 4096;

/// The size of a stored record in the sled floors, its inline payload aside: a 200-byte record
/// behind its payload index (sled layout 3).
const STORED_RECORD: usize = 228;

impl Disk {
    pub(crate) fn open(path: &std::path::Path) -> Self {
        use std::io::Write;
        let mut file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .expect("the floor's file can be created");
        file.write_all(&vec![0u8; (DISK_SLOTS * 1024) as usize])
            .expect("the floor's file can be filled");
        file.sync_all().expect("the floor's file can be synced");
        Disk {
            file: Mutex::new(file),
            next: AtomicU64::new(0),
        }
    }

    /// Overwrites the next slot with `bytes` (at most 1 KiB) and waits for `fdatasync`.
    pub(crate) fn write_sync(&self, bytes: &[u8]) {
        use std::io::{Seek, SeekFrom, Write};
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut file = self.file.lock().expect("no thread panics holding the file");
        file.seek(SeekFrom::Start((n % DISK_SLOTS) * 1024))
            .expect("the floor's file seeks");
        file.write_all(&bytes[..bytes.len().min(1024)])
            .expect("the floor's file takes the write");
        file.sync_data().expect("the floor's file syncs");
    }
}

/// A raw sled tree: insert + flush (a durable write) and get.
pub(crate) struct Sled {
    db: sled::Db,
    /// A tree of its own for the transactions and the new secrets' inserts (the durable
    /// floors use the default tree).
    tree: sled::Tree,
    next: AtomicU64,
}

impl Sled {
    pub(crate) fn open(path: &std::path::Path) -> Self {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(secret_storage_sled::SledOptions::DEFAULT_CACHE_CAPACITY_BYTES)
            .open()
            .expect("a fresh sled directory opens");
        Sled {
            tree: db.open_tree("tx").expect("sled opens a tree"),
            db,
            next: AtomicU64::new(0),
        }
    }

    /// Inserts a copy of `bytes` under a key of its own and flushes: returns once it is on
    /// disk. The copy carries a fresh stamp, since sled skips a write of the value a key
    /// already holds (and the keys are reused).
    pub(crate) fn insert_flush(&self, bytes: &[u8]) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let key = format!("floor/{}", n % KEYS);
        self.db
            .insert(key, stamped(bytes, n))
            .expect("sled inserts");
        self.db.flush().expect("sled flushes");
    }

    /// Writes what the store writes for a new secret, as one transaction: one key never used
    /// before (the tree grows, as under creates) holding a 228-byte record (a 200-byte record
    /// behind its payload index) with `payload` inline, as sled layout 3 stores it; no flush.
    pub(crate) fn tx(&self, payload: &[u8]) {
        let (key, value) = self.new_secret(payload);
        self.tree
            .transaction(|tx| {
                tx.insert(key.as_bytes(), &value[..])?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .expect("the transaction commits");
    }

    /// Writes what the store writes for a new secret, as the store's journaled updates apply
    /// it: one plain insert of a key never used before (its record with `payload` inline), so
    /// that sled's tree grows and its leaves split as they do under creates; no flush.
    pub(crate) fn new_secret_inserts(&self, payload: &[u8]) {
        let (key, value) = self.new_secret(payload);
        self.tree.insert(key, value).expect("sled inserts");
    }

    /// A key never used before, and a value of a new secret's size: a 228-byte record (a
    /// 200-byte record behind its payload index) and `payload` inline.
    fn new_secret(&self, payload: &[u8]) -> (String, Vec<u8>) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut value = Vec::with_capacity(STORED_RECORD + payload.len());
        value.extend_from_slice(&[7u8; STORED_RECORD]);
        value.extend_from_slice(payload);
        (format!("r/new/{n}"), value)
    }

    /// Flushes everything written so far.
    pub(crate) fn flush(&self) {
        self.db.flush().expect("sled flushes");
    }

    /// [`Sled::tx`], then a flush: one durable new secret.
    pub(crate) fn tx_flush(&self, payload: &[u8]) {
        self.tx(payload);
        self.db.flush().expect("sled flushes");
    }

    /// Inserts `bytes` under `key` and flushes (to set up a read).
    pub(crate) fn insert_as(&self, key: &str, bytes: Vec<u8>) {
        self.db.insert(key, bytes).expect("sled inserts");
        self.db.flush().expect("sled flushes");
    }

    /// A copy of the bytes under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.db.get(key).expect("sled reads").map(|v| v.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floors_do_their_work() {
        let envelope = Envelope::new();
        let (sealed, _, _) = envelope.seal();
        assert_eq!(sealed.len(), 1024 + 16);
        assert_eq!(envelope.open(envelope.sealed_bytes()), 1024);
        let (one, two) = (envelope.wrap_seal(), envelope.wrap_seal());
        assert_eq!(one.len(), WRAPPED_LEN + 1024 + 16);
        assert_ne!(one, two, "every envelope has a fresh data key and nonces");
        assert_eq!(envelope.unwrap_open(envelope.enveloped_bytes()), 1024);
        // The wrapped key really is checked: the floor does the unwrap's work.
        let mut forged = envelope.enveloped_bytes();
        forged[0] ^= 1;
        let unwrap = std::panic::catch_unwind(|| envelope.unwrap_open(forged));
        assert!(unwrap.is_err(), "a damaged wrapped key does not open");

        let map = Map::filled();
        map.insert(b"x".to_vec());
        assert_eq!(map.get("floor/0"), Some(b"x".to_vec()));
        map.insert_as("read", b"r".to_vec());
        assert_eq!(map.get("read"), Some(b"r".to_vec()));

        let growing = Map::empty(2);
        growing.insert_new(b"a".to_vec());
        growing.insert_new(b"b".to_vec());
        assert_eq!(growing.get("floor/new/0"), Some(b"a".to_vec()));
        assert_eq!(growing.get("floor/new/1"), Some(b"b".to_vec()));

        let dir = tempfile::tempdir().unwrap();
        let sled = Sled::open(dir.path());
        sled.insert_flush(b"0123456789");
        assert_eq!(sled.get("floor/0"), Some(b"\0\0\0\0\0\0\0\089".to_vec()));
        sled.insert_flush(b"y");
        assert_eq!(sled.get("floor/1"), Some(b"\x01".to_vec()));
        // A new secret is one key: its record with the payload inline (sled layout 3).
        sled.tx_flush(b"z");
        assert_eq!(sled.tree.len(), 1);
        let (key, value) = sled.tree.first().unwrap().unwrap();
        assert_eq!(
            (&key[..], value.len()),
            (&b"r/new/2"[..], STORED_RECORD + 1)
        );
        sled.new_secret_inserts(b"w");
        assert_eq!(sled.tree.len(), 2);
        // Every call writes the key of a new secret: the tree grows.
        sled.new_secret_inserts(b"w");
        assert_eq!(sled.tree.len(), 3);
        sled.insert_as("read", b"r".to_vec());
        assert_eq!(sled.get("read"), Some(b"r".to_vec()));

        let disk = Disk::open(&dir.path().join("disk"));
        disk.write_sync(b"abc");
        disk.write_sync(b"def");
        let written = std::fs::read(dir.path().join("disk")).unwrap();
        assert_eq!(written.len(), (DISK_SLOTS * 1024) as usize);
        assert_eq!(&written[..3], b"abc");
        assert_eq!(&written[1024..1027], b"def");
    }
}
