//! Lowercase hex for key files; decoding never echoes its input.

use zeroize::Zeroizing;

/// `bytes` as lowercase hex, in a buffer that is zeroized on drop.
pub(crate) fn encode(bytes: &[u8]) -> Zeroizing<String> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Zeroizing::new(String::with_capacity(bytes.len() * 2));
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes exactly 64 hex digits (either case) into 32 bytes; `None` for anything else.
pub(crate) fn decode_32(text: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    if text.len() != 64 {
        return None;
    }
    let mut out = Zeroizing::new([0u8; 32]);
    for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let hi = digit(*pair.first()?)?;
        let lo = digit(*pair.get(1)?)?;
        *slot = (hi << 4) | lo;
    }
    Some(out)
}

fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_32_bytes() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 9) as u8);
        let text = encode(&bytes);
        assert_eq!(text.len(), 64);
        assert_eq!(*decode_32(text.as_bytes()).unwrap(), bytes);
        assert_eq!(*decode_32(text.to_uppercase().as_bytes()).unwrap(), bytes);
    }

    #[test]
    fn rejects_wrong_length_and_non_hex() {
        assert!(decode_32(&[b'0'; 63]).is_none());
        assert!(decode_32(&[b'0'; 65]).is_none());
        let mut bad = [b'0'; 64];
        bad[10] = b'g';
        assert!(decode_32(&bad).is_none());
    }
}
