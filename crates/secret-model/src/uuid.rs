//! UUIDs: the form of key ids and request ids.

use std::fmt;

use crate::error::ValidationError;

/// A UUID, printed in lowercase hyphenated form (`8-4-4-4-12`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid([u8; 16]);

impl Uuid {
    /// A version-4 UUID from 16 random bytes (the version and variant bits are set here).
    pub fn new_v4(mut random: [u8; 16]) -> Self {
        random[6] = (random[6] & 0x0f) | 0x40;
        random[8] = (random[8] & 0x3f) | 0x80;
        Uuid(random)
    }

    /// The UUID with exactly these bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Uuid(bytes)
    }

    /// The 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses the hyphenated form (either case). Errors: `InvalidParameter` naming `parameter`.
    pub fn parse_as(parameter: &'static str, s: &str) -> Result<Self, ValidationError> {
        let bad = || {
            ValidationError::invalid(
                parameter,
                "must be a UUID such as 1234abcd-12ab-34cd-56ef-1234567890ab",
            )
        };
        let b = s.as_bytes();
        if b.len() != 36 {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        let mut n = 0;
        let mut i = 0;
        while i < 36 {
            if matches!(i, 8 | 13 | 18 | 23) {
                if b[i] != b'-' {
                    return Err(bad());
                }
                i += 1;
                continue;
            }
            let hi = hex_val(b[i]).ok_or_else(bad)?;
            let lo = hex_val(b[i + 1]).ok_or_else(bad)?;
            out[n] = (hi << 4) | lo;
            n += 1;
            i += 2;
        }
        Ok(Uuid(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hand-rolled: this runs for every request id, and `write!` per byte is slow.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 36];
        let mut at = 0;
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out[at] = b'-';
                at += 1;
            }
            out[at] = HEX[usize::from(byte >> 4)];
            out[at + 1] = HEX[usize::from(byte & 0x0f)];
            at += 2;
        }
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The id of a customer master key: a UUID, as Alibaba's key ids are.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(Uuid);

impl KeyId {
    /// Wraps a UUID.
    pub const fn new(uuid: Uuid) -> Self {
        KeyId(uuid)
    }

    /// Parses a key id. Errors: `InvalidParameter` naming `EncryptionKeyId`.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::parse_as("EncryptionKeyId", s)
    }

    /// Parses a key id given under another parameter name (`KeyId`).
    pub fn parse_as(parameter: &'static str, s: &str) -> Result<Self, ValidationError> {
        Uuid::parse_as(parameter, s).map(KeyId)
    }

    /// The UUID.
    pub const fn uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_roundtrips_through_text() {
        let u = Uuid::new_v4([0xab; 16]);
        let s = u.to_string();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert_eq!(Uuid::parse_as("KeyId", &s).unwrap(), u);
        assert_eq!(Uuid::parse_as("KeyId", &s.to_uppercase()).unwrap(), u);
    }

    #[test]
    fn malformed_ids_name_the_parameter() {
        for bad in [
            "",
            "xyz",
            "1234abcd-12ab-34cd-56ef-1234567890a",
            "1234abcd+12ab-34cd-56ef-1234567890ab",
            "1234abcg-12ab-34cd-56ef-1234567890ab",
        ] {
            assert_eq!(
                KeyId::parse(bad).unwrap_err().parameter(),
                "EncryptionKeyId",
                "{bad}"
            );
        }
    }
}
