//! Randomness for things that are not key material (request ids), injectable for tests.

use secret_model::Uuid;

/// A source of random bytes for request ids and similar values. Key material and passwords
/// never come from here: the KMS draws keys from the operating system itself, and
/// GetRandomPassword uses an [`OsRandom`] of its own.
pub trait RandomSource: Send + Sync {
    /// Fills `buf` with random bytes, or fails.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The random source failed.
#[derive(Debug, thiserror::Error)]
#[error("the random number generator failed")]
pub struct RandomError;

/// The operating system's CSPRNG (through ring), drawn 4 KiB at a time: one getrandom call
/// serves some 250 request ids. The buffer is zeroized as it is used and when dropped.
pub struct OsRandom {
    rng: ring::rand::SystemRandom,
    buffer: std::sync::Mutex<Buffer>,
}

struct Buffer {
    bytes: zeroize::Zeroizing<[u8; BUFFER_LEN]>,
    /// How many bytes at the front have been used.
    used: usize,
}

const BUFFER_LEN: usize = 4096;

impl std::fmt::Debug for OsRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OsRandom")
    }
}

impl Default for OsRandom {
    fn default() -> Self {
        OsRandom {
            rng: ring::rand::SystemRandom::new(),
            buffer: std::sync::Mutex::new(Buffer {
                bytes: zeroize::Zeroizing::new([0; BUFFER_LEN]),
                used: BUFFER_LEN,
            }),
        }
    }
}

impl RandomSource for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        use ring::rand::SecureRandom;
        if buf.len() > BUFFER_LEN / 4 {
            return self.rng.fill(buf).map_err(|_| RandomError);
        }
        let mut b = self
            .buffer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if BUFFER_LEN - b.used < buf.len() {
            self.rng.fill(&mut b.bytes[..]).map_err(|_| RandomError)?;
            b.used = 0;
        }
        let start = b.used;
        buf.copy_from_slice(&b.bytes[start..start + buf.len()]);
        // Bytes handed out are wiped from the buffer, so they exist in one place only.
        zeroize::Zeroize::zeroize(&mut b.bytes[start..start + buf.len()]);
        b.used += buf.len();
        Ok(())
    }
}

/// A fresh version-4 UUID from `rng`.
pub(crate) fn new_uuid(rng: &dyn RandomSource) -> Result<Uuid, RandomError> {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes)?;
    Ok(Uuid::new_v4(bytes))
}
