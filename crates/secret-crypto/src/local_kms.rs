//! [`LocalKms`]: customer master keys kept in a keyring encrypted under the root key.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use ring::aead::{Aad, Nonce};
use ring::rand::{SecureRandom, SystemRandom};
use secret_model::{KeyId, Timestamp, Uuid};
use zeroize::Zeroizing;

use crate::gcm::{self, NONCE_LEN, TAG_LEN};
use crate::keyring::{KeyVersion, Keyring, MasterKey, Material};
use crate::store::{KeyringStore, MemoryKeyring};
use crate::wire::put_len_prefixed;
use crate::{
    DataKey, DataKeyBytes, KeyMetadata, KeyState, Kms, KmsError, RecordSealKey, RootKey,
    WrappedDataKey,
};

/// How many data keys one master-key version wraps before the key rotates by itself.
///
/// Wrapping uses random 96-bit nonces; NIST SP 800-38D bounds one AES-GCM key to 2^32 such
/// invocations. 2^30 stays far below that bound.
pub const WRAP_LIMIT: u64 = 1 << 30;

/// How many wraps are reserved (persisted ahead) at a time, so that counting costs one keyring
/// write per this many data keys instead of one per data key. After a restart the count
/// resumes from the persisted reservation, as if every reserved wrap had been used.
pub const WRAP_RESERVATION: u64 = 65_536;

/// Domain label that starts the AAD of every data-key wrap.
pub(crate) const DEK_WRAP_LABEL: &[u8] = b"secrets-store/dek-wrap/v1";
/// A wrapped data key: nonce, the 32-byte key encrypted, tag.
pub(crate) const WRAPPED_LEN: usize = NONCE_LEN + 32 + TAG_LEN;

/// The description of the key [`Kms::default_key`] creates.
pub const DEFAULT_KEY_DESCRIPTION: &str = "Default key created by the secrets store";

/// A key management service that keeps its customer master keys (CMKs) locally.
///
/// Each CMK has a UUID v4 id, a state (enabled or disabled) and numbered key versions from 1,
/// each 256 random bits; the newest version is the primary one, which wraps new data keys,
/// while every version still unwraps what it wrapped. The whole keyring lives in a
/// [`KeyringStore`], encrypted with AES-256-GCM under a key derived from the [`RootKey`]
/// (format in `docs/formats.md`); every change is saved there before the method returns.
///
/// Each key version counts the data keys it wraps; at [`WRAP_LIMIT`] the key rotates to a new
/// primary version by itself (see [`WRAP_RESERVATION`] for how counting survives restarts).
///
/// ```
/// use secret_crypto::{Kms, LocalKms, RootKey};
///
/// let kms = LocalKms::in_memory(RootKey::from_bytes([7; 32]));
/// let key = kms.create_key("app key")?;
/// let dk = kms.generate_data_key(&key.key_id, b"context")?;
/// let again = kms.decrypt_data_key(&dk.wrapped, b"context")?;
/// assert_eq!(*again.0, *dk.plaintext.0);
/// assert!(kms.decrypt_data_key(&dk.wrapped, b"other context").is_err());
/// # Ok::<(), secret_crypto::KmsError>(())
/// ```
pub struct LocalKms {
    root: RootKey,
    store: Box<dyn KeyringStore>,
    keyring: Mutex<Keyring>,
    rng: SystemRandom,
    wrap_limit: u64,
    reservation: u64,
}

impl LocalKms {
    /// Re-seals the keyring kept in `store` under `new_root`: the root-key rotation. Master keys,
    /// their versions and every secret stay as they are; only the keyring's outer seal changes,
    /// so afterwards only `new_root` opens it. The store replaces the blob atomically
    /// ([`crate::FileKeyring`] writes a temporary file and renames it), so a crash leaves either
    /// the old or the new seal: keep the old root key until the new one is known to work.
    ///
    /// No `LocalKms` may have the keyring open while this runs (it would save under the old
    /// root key on its next change). Errors: `WrongRootKey` when `old_root` does not open the
    /// keyring; `Keyring` when there is no keyring or the store fails.
    ///
    /// ```
    /// use secret_crypto::{KeyringStore, LocalKms, MemoryKeyring, RootKey};
    /// let store = std::sync::Arc::new(MemoryKeyring::new());
    /// let kms = LocalKms::open(RootKey::from_bytes([1; 32]), Box::new(store.clone()))?;
    /// let key = kms.create_key("app")?.key_id;
    /// drop(kms);
    /// LocalKms::change_root_key(&*store, &RootKey::from_bytes([1; 32]), &RootKey::from_bytes([2; 32]))?;
    /// let reopened = LocalKms::open(RootKey::from_bytes([2; 32]), Box::new(store.clone()))?;
    /// assert_eq!(reopened.list_keys()?[0].key_id, key);
    /// assert!(LocalKms::open(RootKey::from_bytes([1; 32]), Box::new(store)).is_err());
    /// # Ok::<(), secret_crypto::KmsError>(())
    /// ```
    pub fn change_root_key(
        store: &dyn KeyringStore,
        old_root: &RootKey,
        new_root: &RootKey,
    ) -> Result<(), KmsError> {
        let blob = store
            .load()?
            .ok_or_else(|| KmsError::Keyring("there is no keyring to re-seal".into()))?;
        let keyring = Keyring::open(&blob, old_root)?;
        let resealed = keyring.seal(new_root)?;
        // Prove the new seal opens before it replaces the old one.
        Keyring::open(&resealed, new_root)?;
        store.save(&resealed)
    }

    /// Opens the keyring in `store` under `root`, or starts an empty one if the store holds
    /// none yet (nothing is written until the first change).
    ///
    /// Errors: `WrongRootKey` when `root` is not the key the keyring was saved under (or the
    /// blob is damaged); `Keyring` when the store fails or holds something that is not a
    /// keyring of a known format version.
    pub fn open(root: RootKey, store: Box<dyn KeyringStore>) -> Result<Self, KmsError> {
        let keyring = match store.load()? {
            Some(blob) => Keyring::open(&blob, &root)?,
            None => Keyring::default(),
        };
        Ok(LocalKms {
            root,
            store,
            keyring: Mutex::new(keyring),
            rng: SystemRandom::new(),
            wrap_limit: WRAP_LIMIT,
            reservation: WRAP_RESERVATION,
        })
    }

    /// An empty KMS whose keyring lives in a [`MemoryKeyring`] and dies with it.
    pub fn in_memory(root: RootKey) -> Self {
        LocalKms {
            root,
            store: Box::new(MemoryKeyring::new()),
            keyring: Mutex::new(Keyring::default()),
            rng: SystemRandom::new(),
            wrap_limit: WRAP_LIMIT,
            reservation: WRAP_RESERVATION,
        }
    }

    /// Replaces [`WRAP_LIMIT`] and [`WRAP_RESERVATION`] (each at least 1), so that tests can
    /// watch automatic rotation happen. Not for production use.
    #[doc(hidden)]
    pub fn with_wrap_policy(mut self, wrap_limit: u64, reservation: u64) -> Self {
        self.wrap_limit = wrap_limit.max(1);
        self.reservation = reservation.max(1);
        self
    }

    /// Creates an enabled master key with one key version and returns its metadata.
    /// Errors: `Keyring` when the keyring cannot be saved, `Rng`.
    pub fn create_key(&self, description: &str) -> Result<KeyMetadata, KmsError> {
        self.change(|ring| {
            let key = self.new_key(ring, description)?;
            let metadata = key.metadata();
            ring.keys.push(key);
            Ok(metadata)
        })
    }

    /// Every master key, in creation order. Never fails today; the `Result` leaves room for
    /// stores that load lazily.
    pub fn list_keys(&self) -> Result<Vec<KeyMetadata>, KmsError> {
        Ok(self.lock().keys.iter().map(MasterKey::metadata).collect())
    }

    /// Makes a key usable again (a no-op if it is enabled).
    /// Errors: `KeyNotFound`, `Keyring`, `Rng`.
    pub fn enable_key(&self, key_id: &KeyId) -> Result<(), KmsError> {
        self.set_state(key_id, KeyState::Enabled)
    }

    /// Refuses every use of a key until it is enabled again (a no-op if it is disabled).
    /// Errors: `KeyNotFound`, `Keyring`, `Rng`.
    pub fn disable_key(&self, key_id: &KeyId) -> Result<(), KmsError> {
        self.set_state(key_id, KeyState::Disabled)
    }

    /// Adds a new key version and makes it primary; returns its number. Data keys wrapped
    /// under older versions still unwrap. Errors: `KeyNotFound`, `KeyDisabled`, `Keyring`,
    /// `Rng`.
    pub fn rotate_key(&self, key_id: &KeyId) -> Result<u32, KmsError> {
        self.change(|ring| {
            let material = self.random_material()?;
            let key = ring.get_mut(key_id).ok_or(KmsError::KeyNotFound(*key_id))?;
            if key.state == KeyState::Disabled {
                return Err(KmsError::KeyDisabled(*key_id));
            }
            key.versions.push(KeyVersion::new(material));
            Ok(key.primary_version())
        })
    }

    fn set_state(&self, key_id: &KeyId, state: KeyState) -> Result<(), KmsError> {
        let current = self
            .lock()
            .get(key_id)
            .map(|k| k.state)
            .ok_or(KmsError::KeyNotFound(*key_id))?;
        if current == state {
            return Ok(());
        }
        self.change(|ring| {
            ring.get_mut(key_id)
                .ok_or(KmsError::KeyNotFound(*key_id))?
                .state = state;
            Ok(())
        })
    }

    /// Applies `f` to a copy of the keyring, saves the copy, and only then makes it current:
    /// a failed save changes nothing, and a panic in `f` leaves the keyring as it was.
    fn change<T>(
        &self,
        f: impl FnOnce(&mut Keyring) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let mut guard = self.lock();
        let mut next = guard.clone();
        let out = f(&mut next)?;
        self.store.save(&next.seal(&self.root)?)?;
        *guard = next;
        Ok(out)
    }

    fn lock(&self) -> MutexGuard<'_, Keyring> {
        // `change` swaps in a new keyring only after it is complete, so the keyring behind a
        // poisoned lock is still consistent.
        self.keyring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn random_material(&self) -> Result<Material, KmsError> {
        let mut material: Material = Box::new(Zeroizing::new([0u8; 32]));
        self.rng
            .fill(&mut material[..])
            .map_err(|_| KmsError::Rng)?;
        Ok(material)
    }

    fn new_key(&self, ring: &Keyring, description: &str) -> Result<MasterKey, KmsError> {
        let id = loop {
            let mut bytes = [0u8; 16];
            self.rng.fill(&mut bytes).map_err(|_| KmsError::Rng)?;
            let id = KeyId::new(Uuid::new_v4(bytes));
            if ring.get(&id).is_none() {
                break id;
            }
        };
        Ok(MasterKey {
            id,
            state: KeyState::Enabled,
            created: now(),
            description: description.to_owned(),
            versions: vec![KeyVersion::new(self.random_material()?)],
        })
    }

    /// Makes sure the primary version of `key_id` may count one more wrap: rotates it if it
    /// reached the limit, and persists a new reservation if the old one is used up.
    fn reserve_wrap(&self, ring: &mut Keyring, key_id: &KeyId) -> Result<(), KmsError> {
        let (limit, block) = (self.wrap_limit, self.reservation);
        let primary = usable(ring, key_id)?
            .versions
            .last()
            .expect("a master key has a version");
        if primary.wraps < primary.reserved && primary.wraps < limit {
            return Ok(());
        }
        let rotation = if primary.wraps >= limit {
            Some(KeyVersion::new(self.random_material()?))
        } else {
            None
        };
        let mut next = ring.clone();
        let key = next
            .get_mut(key_id)
            .expect("the key was found in the same keyring");
        key.versions.extend(rotation);
        let primary = key.versions.last_mut().expect("a master key has a version");
        primary.reserved = primary.wraps.saturating_add(block).min(limit);
        self.store.save(&next.seal(&self.root)?)?;
        *ring = next;
        Ok(())
    }
}

impl Kms for LocalKms {
    fn generate_data_key(&self, key_id: &KeyId, context: &[u8]) -> Result<DataKey, KmsError> {
        // The lock covers counting the wrap; the random draw and the wrap run outside it, on a
        // copy of the version's material (copied straight into zeroizing memory), so concurrent
        // callers do not queue behind a syscall.
        let mut material = Zeroizing::new([0u8; 32]);
        let number = {
            let mut ring = self.lock();
            self.reserve_wrap(&mut ring, key_id)?;
            let key = ring.get_mut(key_id).expect("reserve_wrap found the key");
            let number = key.primary_version();
            let version = key.versions.last_mut().expect("a master key has a version");
            version.wraps += 1;
            material.copy_from_slice(&version.material[..]);
            number
        };

        // One getrandom call for the key and its wrap nonce: each call costs a syscall.
        let mut random = Zeroizing::new([0u8; 32 + NONCE_LEN]);
        self.rng.fill(&mut random[..]).map_err(|_| KmsError::Rng)?;
        let mut dek = Zeroizing::new([0u8; 32]);
        dek.copy_from_slice(&random[..32]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&random[32..]);
        let ciphertext = wrap_with_nonce(&material, key_id, number, context, &dek, nonce);
        Ok(DataKey {
            plaintext: DataKeyBytes(dek),
            wrapped: WrappedDataKey {
                key_id: *key_id,
                key_version: number,
                ciphertext,
            },
        })
    }

    fn decrypt_data_key(
        &self,
        wrapped: &WrappedDataKey,
        context: &[u8],
    ) -> Result<DataKeyBytes, KmsError> {
        let ring = self.lock();
        let key = usable(&ring, &wrapped.key_id)?;
        let version = key
            .version(wrapped.key_version)
            .ok_or(KmsError::DecryptionFailed)?;
        unwrap(
            &version.material,
            &wrapped.key_id,
            wrapped.key_version,
            context,
            &wrapped.ciphertext,
        )
    }

    fn describe_key(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        self.lock()
            .get(key_id)
            .map(MasterKey::metadata)
            .ok_or(KmsError::KeyNotFound(*key_id))
    }

    fn default_key(&self) -> Result<KeyId, KmsError> {
        if let Some(id) = self.lock().default_key {
            return Ok(id);
        }
        self.change(|ring| {
            // Another thread may have created it between the check and the lock.
            if let Some(id) = ring.default_key {
                return Ok(id);
            }
            let key = self.new_key(ring, DEFAULT_KEY_DESCRIPTION)?;
            let id = key.id;
            ring.keys.push(key);
            ring.default_key = Some(id);
            Ok(id)
        })
    }

    fn record_seal_key(&self) -> Result<RecordSealKey, KmsError> {
        if let Some(key) = seal_key_of(&self.lock()) {
            return Ok(key);
        }
        self.change(|ring| {
            // Another thread may have created it between the check and the lock.
            if ring.record_seal_key.is_none() {
                ring.record_seal_key = Some(self.random_material()?);
            }
            Ok(seal_key_of(ring).expect("the record seal key was just made sure of"))
        })
    }

    fn begin_record_seal_key_rotation(&self) -> Result<RecordSealKey, KmsError> {
        self.change(|ring| {
            if ring.retiring_record_seal_key.is_none() {
                let fresh = self.random_material()?;
                // With no key yet there is nothing sealed to keep accepting.
                ring.retiring_record_seal_key = ring.record_seal_key.replace(fresh);
            }
            Ok(seal_key_of(ring).expect("a rotation leaves a current record seal key"))
        })
    }

    fn finish_record_seal_key_rotation(
        &self,
        rotated_to: &RecordSealKey,
    ) -> Result<RecordSealKey, KmsError> {
        let no_key = || KmsError::Keyring("the keyring has no record seal key to finish".into());
        let ours = |key: &RecordSealKey| key.is_rotating() && key.same_current_key(rotated_to);
        let now = seal_key_of(&self.lock()).ok_or_else(no_key)?;
        if !ours(&now) {
            return Ok(now);
        }
        self.change(|ring| {
            // Checked again under the lock: another thread may have changed it meanwhile.
            if ours(&seal_key_of(ring).ok_or_else(no_key)?) {
                ring.retiring_record_seal_key = None;
            }
            seal_key_of(ring).ok_or_else(no_key)
        })
    }
}

/// The keyring's record seal key (with the retiring one, during a rotation), if it has one.
fn seal_key_of(ring: &Keyring) -> Option<RecordSealKey> {
    let current = ring.record_seal_key.as_ref()?;
    Some(RecordSealKey::new(
        current,
        ring.retiring_record_seal_key.as_deref().map(|k| &**k),
    ))
}

impl fmt::Debug for LocalKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("LocalKms");
        match self.keyring.try_lock() {
            Ok(ring) => s.field("keys", &ring.keys.len()),
            Err(_) => s.field("keys", &"<locked>"),
        };
        s.field("wrap_limit", &self.wrap_limit)
            .finish_non_exhaustive()
    }
}

/// The key, if it exists and is enabled. Errors: `KeyNotFound`, `KeyDisabled`.
fn usable<'a>(ring: &'a Keyring, key_id: &KeyId) -> Result<&'a MasterKey, KmsError> {
    let key = ring.get(key_id).ok_or(KmsError::KeyNotFound(*key_id))?;
    match key.state {
        KeyState::Enabled => Ok(key),
        KeyState::Disabled => Err(KmsError::KeyDisabled(*key_id)),
    }
}

fn now() -> Timestamp {
    let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    };
    Timestamp::from_unix(secs)
}

/// The AAD of a wrap: label, key id, key version (u32 BE), length-prefixed context.
fn wrap_aad(key_id: &KeyId, key_version: u32, context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DEK_WRAP_LABEL.len() + 16 + 4 + 4 + context.len());
    aad.extend_from_slice(DEK_WRAP_LABEL);
    aad.extend_from_slice(key_id.uuid().as_bytes());
    aad.extend_from_slice(&key_version.to_be_bytes());
    put_len_prefixed(&mut aad, context);
    aad
}

/// Wraps `dek` under `material` with an explicit nonce: `nonce || ciphertext || tag`.
/// The nonce must never repeat under one key version; only tests pass a fixed one.
pub(crate) fn wrap_with_nonce(
    material: &[u8; 32],
    key_id: &KeyId,
    key_version: u32,
    context: &[u8],
    dek: &[u8; 32],
    nonce: [u8; NONCE_LEN],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(WRAPPED_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(dek);
    let aad = wrap_aad(key_id, key_version, context);
    let tag = gcm::key(material)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad),
            out.get_mut(NONCE_LEN..)
                .expect("the nonce was just written"),
        )
        .expect("AES-GCM seals a 32-byte input");
    out.extend_from_slice(tag.as_ref());
    out
}

/// Unwraps what [`wrap_with_nonce`] made. Every failure is `DecryptionFailed`.
fn unwrap(
    material: &[u8; 32],
    key_id: &KeyId,
    key_version: u32,
    context: &[u8],
    wrapped: &[u8],
) -> Result<DataKeyBytes, KmsError> {
    if wrapped.len() != WRAPPED_LEN {
        return Err(KmsError::DecryptionFailed);
    }
    let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KmsError::DecryptionFailed)?;
    let mut buf = Zeroizing::new([0u8; 32 + TAG_LEN]);
    buf.copy_from_slice(sealed);
    let aad = wrap_aad(key_id, key_version, context);
    let plain = gcm::key(material)
        .open_in_place(nonce, Aad::from(&aad), &mut buf[..])
        .map_err(|_| KmsError::DecryptionFailed)?;
    let dek: [u8; 32] = (&*plain)
        .try_into()
        .map_err(|_| KmsError::DecryptionFailed)?;
    Ok(DataKeyBytes(Zeroizing::new(dek)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;

    fn id() -> KeyId {
        KeyId::new(Uuid::from_bytes([0x11; 16]))
    }

    #[test]
    fn wrap_known_answer() {
        // Pins the wrap format: AES-256-GCM, AAD = label || id || version BE || len || ctx.
        let wrapped = wrap_with_nonce(&[0x42; 32], &id(), 3, b"ctx", &[0x24; 32], [0x07; 12]);
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert_eq!(
            hex::encode(&wrapped).as_str(),
            "070707070707070707070707\
             5cc6798891d556df0770c814f97f0258d17e2b19d9f16c6144501b773e093c508d160e7b2f683301f89cd158554fda14"
        );
        let back = unwrap(&[0x42; 32], &id(), 3, b"ctx", &wrapped).unwrap();
        assert_eq!(*back.0, [0x24; 32]);
    }

    #[test]
    fn unwrap_refuses_other_version_context_key_or_length() {
        let wrapped = wrap_with_nonce(&[0x42; 32], &id(), 3, b"ctx", &[0x24; 32], [0x07; 12]);
        let fails = |r: Result<DataKeyBytes, KmsError>| {
            assert!(matches!(r, Err(KmsError::DecryptionFailed)))
        };
        fails(unwrap(&[0x42; 32], &id(), 4, b"ctx", &wrapped));
        fails(unwrap(&[0x42; 32], &id(), 3, b"ctx2", &wrapped));
        fails(unwrap(&[0x43; 32], &id(), 3, b"ctx", &wrapped));
        let other = KeyId::new(Uuid::from_bytes([0x12; 16]));
        fails(unwrap(&[0x42; 32], &other, 3, b"ctx", &wrapped));
        fails(unwrap(&[0x42; 32], &id(), 3, b"ctx", &wrapped[..59]));
    }
}
