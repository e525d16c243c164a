//! A bounds-checked cursor over untrusted bytes: every read says which field it is for, so a
//! failure can name the field and the offset.

use secret_model::{Timestamp, ValidationError};

use crate::StorageError;

/// Reads fields from the front of a byte slice; never indexes past its end.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// The offset of the next unread byte.
    pub(super) fn offset(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes. Errors when fewer are left.
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], StorageError> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(StorageError::Corrupt(format!(
                "truncated: {field} at offset {} needs {n} bytes, {left} left",
                self.pos
            )));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], StorageError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self, field: &str) -> Result<u8, StorageError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(super) fn array16(&mut self, field: &str) -> Result<[u8; 16], StorageError> {
        self.array::<16>(field)
    }

    /// Exactly 32 bytes.
    pub(super) fn array32(&mut self, field: &str) -> Result<[u8; 32], StorageError> {
        self.array::<32>(field)
    }

    /// A `u32` item count.
    pub(super) fn count(&mut self, field: &str) -> Result<u32, StorageError> {
        Ok(u32::from_be_bytes(self.array::<4>(field)?))
    }

    /// An `i64` count of seconds since the Unix epoch.
    pub(super) fn time(&mut self, field: &str) -> Result<Timestamp, StorageError> {
        Ok(Timestamp::from_unix(i64::from_be_bytes(
            self.array::<8>(field)?,
        )))
    }

    /// A presence byte: `0` absent, `1` present, anything else an error.
    pub(super) fn present(&mut self, field: &str) -> Result<bool, StorageError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.bad_byte(field, other)),
        }
    }

    /// UTF-8 text behind a `u16` byte length.
    pub(super) fn text(&mut self, field: &str) -> Result<&'a str, StorageError> {
        let len = u16::from_be_bytes(self.array::<2>(field)?);
        let at = self.pos;
        let raw = self.take(usize::from(len), field)?;
        std::str::from_utf8(raw).map_err(|_| {
            StorageError::Corrupt(format!("{field} at offset {at} is not valid UTF-8"))
        })
    }

    /// Text validated by `parse`.
    pub(super) fn parsed<T>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, ValidationError>,
    ) -> Result<T, StorageError> {
        let at = self.pos;
        let text = self.text(field)?;
        parse(text).map_err(|e| self.invalid_at(at, field, &e))
    }

    /// The error for a field at `at` that failed validation.
    pub(super) fn invalid_at(&self, at: usize, field: &str, e: &ValidationError) -> StorageError {
        StorageError::Corrupt(format!("{field} at offset {at} is invalid: {e}"))
    }

    /// The error for a tag byte (of the field just read) that has no meaning.
    pub(super) fn bad_byte(&self, field: &str, value: u8) -> StorageError {
        StorageError::Corrupt(format!(
            "{field} at offset {} has unknown value {value}",
            self.pos.saturating_sub(1)
        ))
    }

    /// Errors when bytes are left over.
    pub(super) fn finish(&self) -> Result<(), StorageError> {
        let left = self.bytes.len() - self.pos;
        if left != 0 {
            return Err(StorageError::Corrupt(format!(
                "{left} trailing bytes after the record at offset {}",
                self.pos
            )));
        }
        Ok(())
    }
}
