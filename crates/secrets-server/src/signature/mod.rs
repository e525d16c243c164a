//! Alibaba's request signatures, as pure functions: the server verifies with them, the
//! [`crate::client`] and the load generator sign with them, and SPEC.md §5's test vectors pin
//! them.
//!
//! - [`v3`]: `ACS3-HMAC-SHA256`, the default of the 3.x SDKs (signed headers, hashed body).
//! - [`v1`]: `HMAC-SHA1` over the sorted parameters, used by the older SDKs and by the 3.x SDKs
//!   with `signature_algorithm="v2"`.

pub mod v1;
pub mod v3;

/// Percent-encodes `s` the way both signatures need: every byte of its UTF-8 form except the
/// unreserved `A-Z a-z 0-9 - _ . ~` becomes `%XX` (upper-case hex), so a space is `%20` and `*`
/// is `%2A`.
///
/// ```
/// use secrets_server::signature::percent_encode;
/// assert_eq!(percent_encode("my secret/1*~"), "my%20secret%2F1%2A~");
/// ```
pub fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes hex (either case); `None` for an odd length or a non-hex digit.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16);
    s.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let hi = digit(pair[0])?;
            let lo = digit(pair[1])?;
            u8::try_from(hi << 4 | lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(
            percent_encode("a b+c*d/e=f&g%"),
            "a%20b%2Bc%2Ad%2Fe%3Df%26g%25"
        );
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
