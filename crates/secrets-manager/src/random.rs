//! Randomness for things that are not key material (request ids), injectable for tests.

use secret_model::Uuid;

/// A source of random bytes for request ids and similar values. Key material never comes from
/// here: the KMS draws it from the operating system itself.
pub trait RandomSource: Send + Sync {
    /// Fills `buf` with random bytes, or fails.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The random source failed.
#[derive(Debug, thiserror::Error)]
#[error("the random number generator failed")]
pub struct RandomError;

/// The operating system's CSPRNG (through ring).
#[derive(Debug)]
pub struct OsRandom(ring::rand::SystemRandom);

impl Default for OsRandom {
    fn default() -> Self {
        OsRandom(ring::rand::SystemRandom::new())
    }
}

impl RandomSource for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        ring::rand::SecureRandom::fill(&self.0, buf).map_err(|_| RandomError)
    }
}

/// A fresh version-4 UUID from `rng`.
pub(crate) fn new_uuid(rng: &dyn RandomSource) -> Result<Uuid, RandomError> {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes)?;
    Ok(Uuid::new_v4(bytes))
}
