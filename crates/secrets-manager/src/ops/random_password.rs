//! GetRandomPassword: a password from the OS CSPRNG, every character chosen without bias.

use secret_model::{PasswordOptions, PasswordSpec, SecretBytes};

use crate::auth::Action;
use crate::error::Error;
use crate::random::RandomSource;

/// The parameters of GetRandomPassword.
pub type GetRandomPasswordRequest = PasswordOptions;

/// What GetRandomPassword returns. `Debug` prints the password as `[REDACTED]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetRandomPasswordResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// The password (ASCII).
    pub random_password: SecretBytes,
}

/// Attempts before giving up on a rule that the exclusions make very unlikely to be met.
const MAX_ATTEMPTS: usize = 10_000;

impl crate::SecretsManager {
    /// A random password: `password_length` (8–128, default 32) characters drawn uniformly from
    /// the included types (lowercase, uppercase, digits, punctuation) less `exclude_characters`;
    /// with `require_each_included_type` (default true), at least one of each included type.
    ///
    /// The characters come from the operating system's CSPRNG, whatever random source the
    /// builder was given for request ids.
    ///
    /// Errors: `InvalidParameter` naming `PasswordLength` or `ExcludeCharacters`;
    /// `Forbidden.NoPermission`; `InternalFailure` if the OS random generator fails.
    pub fn get_random_password(
        &self,
        req: GetRandomPasswordRequest,
    ) -> Result<GetRandomPasswordResponse, Error> {
        self.run(
            Action::GetRandomPassword,
            None,
            None,
            |request_id| {
                let spec = PasswordSpec::new(&req)?;
                self.authorize_with(Action::GetRandomPassword, || "*".to_owned())?;
                // Always the OS CSPRNG (SPEC §3), never the injectable request-id source.
                let password = generate(&spec, &self.inner.passwords)?;
                Ok(GetRandomPasswordResponse {
                    request_id: request_id.to_owned(),
                    random_password: password,
                })
            },
            |_| None,
        )
    }
}

/// Draws whole passwords uniformly from the alphabet until one meets the spec: rejection keeps
/// the result uniform over the passwords that meet it.
fn generate(spec: &PasswordSpec, rng: &dyn RandomSource) -> Result<SecretBytes, Error> {
    let alphabet = spec.alphabet();
    let mut chars = zeroize::Zeroizing::new(vec!['\0'; spec.length()]);
    for _ in 0..MAX_ATTEMPTS {
        for c in chars.iter_mut() {
            *c = alphabet[uniform_index(alphabet.len(), rng)?];
        }
        if spec.accepts(&chars) {
            let s: String = chars.iter().collect();
            return Ok(SecretBytes::new(s.into_bytes()));
        }
    }
    tracing::error!("no password met the requested rules after {MAX_ATTEMPTS} attempts");
    Err(Error::InternalFailure)
}

/// A uniform index below `n` (1..=256): bytes at or above the largest multiple of `n` are
/// rejected, so no index is favoured by the modulo.
fn uniform_index(n: usize, rng: &dyn RandomSource) -> Result<usize, Error> {
    debug_assert!((1..=256).contains(&n));
    let limit = 256 - 256 % n;
    loop {
        let mut b = [0u8; 1];
        rng.fill(&mut b).map_err(|e| {
            tracing::error!(error = %e, "random source failed");
            Error::InternalFailure
        })?;
        if (b[0] as usize) < limit {
            return Ok(b[0] as usize % n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn indices_are_uniform_enough() {
        let rng = OsRandom::default();
        let mut counts = [0usize; 94];
        for _ in 0..94_000 {
            counts[uniform_index(94, &rng).unwrap()] += 1;
        }
        // Expected 1000 each; a biased modulo (256 % 94 = 68) would give the first 68 ~1.36x.
        for (i, c) in counts.iter().enumerate() {
            assert!((800..1200).contains(c), "index {i} drawn {c} times");
        }
    }
}
