//! Length-checked reading and writing of the crate's binary formats.
//!
//! Every read checks the remaining length first and reports a short input as `None`, so a
//! decoder built on [`Reader`] cannot panic on truncated or hostile bytes.

/// A cursor over untrusted bytes. Each method consumes what it returns, or nothing on `None`.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// The next `n` bytes, or `None` if fewer remain.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Option<&'a [u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|b| b[0])
    }

    /// A big-endian `u16`.
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array().map(|b| u16::from_be_bytes(*b))
    }

    /// A big-endian `u32`.
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(|b| u32::from_be_bytes(*b))
    }

    /// A big-endian `u64`.
    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.array().map(|b| u64::from_be_bytes(*b))
    }

    /// A big-endian `i64`.
    pub(crate) fn i64(&mut self) -> Option<i64> {
        self.array().map(|b| i64::from_be_bytes(*b))
    }

    /// Everything that is left.
    pub(crate) fn rest(self) -> &'a [u8] {
        self.rest
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }
}

/// Appends `bytes` preceded by their length as a big-endian `u32`.
///
/// Used only for values the crate bounds far below 4 GiB (names, ids, contexts); a longer
/// value would be a caller bug, so the length saturates rather than wrapping, which makes the
/// resulting AAD differ from any honest one instead of colliding with it.
pub(crate) fn put_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_yields_none_and_consumes_nothing() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u32(), None);
        assert_eq!(r.remaining(), 3);
        assert_eq!(r.u16(), Some(0x0102));
        assert_eq!(r.take(2), None);
        assert_eq!(r.u8(), Some(3));
        assert_eq!(r.u8(), None);
        assert!(r.rest().is_empty());
    }

    #[test]
    fn integers_are_big_endian() {
        let bytes = [
            0, 0, 0, 0, 0, 0, 1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
        ];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u64(), Some(0x0102));
        assert_eq!(r.i64(), Some(-2));
    }

    #[test]
    fn length_prefix_is_u32_be() {
        let mut out = Vec::new();
        put_len_prefixed(&mut out, b"abc");
        assert_eq!(out, [0, 0, 0, 3, b'a', b'b', b'c']);
    }
}
