//! Paging and recovery-window parameters.

use crate::error::ValidationError;
use crate::limits;

/// A validated page request: `PageNumber` ≥ 1 and `PageSize` in `1..=max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    number: u32,
    size: u32,
}

impl PageRequest {
    /// Validates `PageNumber` (default 1) and `PageSize` (default `default_size`, at most
    /// `max_size`). Errors: `InvalidParameter` naming `PageNumber` or `PageSize`.
    pub fn new(
        number: Option<u32>,
        size: Option<u32>,
        default_size: u32,
        max_size: u32,
    ) -> Result<Self, ValidationError> {
        let number = number.unwrap_or(1);
        if number == 0 {
            return Err(ValidationError::invalid("PageNumber", "must be at least 1"));
        }
        let size = size.unwrap_or(default_size);
        if !(1..=max_size).contains(&size) {
            return Err(ValidationError::invalid(
                "PageSize",
                format!("must be from 1 to {max_size}, got {size}"),
            ));
        }
        Ok(PageRequest { number, size })
    }

    /// The page size of ListSecrets: default 10, at most 100.
    pub fn for_list_secrets(
        number: Option<u32>,
        size: Option<u32>,
    ) -> Result<Self, ValidationError> {
        Self::new(number, size, 10, limits::PAGE_SIZE_MAX)
    }

    /// The page size of ListSecretVersionIds: default 20, at most 100.
    pub fn for_version_ids(
        number: Option<u32>,
        size: Option<u32>,
    ) -> Result<Self, ValidationError> {
        Self::new(number, size, 20, limits::PAGE_SIZE_MAX)
    }

    /// The page number, from 1.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The page size.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The items of `all` on this page.
    pub fn slice<'a, T>(&self, all: &'a [T]) -> &'a [T] {
        let start = (self.number as usize - 1).saturating_mul(self.size as usize);
        let start = start.min(all.len());
        let end = start.saturating_add(self.size as usize).min(all.len());
        &all[start..end]
    }
}

/// Validates `RecoveryWindowInDays`: 7–30, default 30.
/// Errors: `InvalidParameter` naming `RecoveryWindowInDays`.
pub fn recovery_window_days(days: Option<u32>) -> Result<u32, ValidationError> {
    let days = days.unwrap_or(limits::RECOVERY_WINDOW_MAX_DAYS);
    if !(limits::RECOVERY_WINDOW_MIN_DAYS..=limits::RECOVERY_WINDOW_MAX_DAYS).contains(&days) {
        return Err(ValidationError::invalid(
            "RecoveryWindowInDays",
            format!(
                "must be from {} to {} days, got {days}",
                limits::RECOVERY_WINDOW_MIN_DAYS,
                limits::RECOVERY_WINDOW_MAX_DAYS
            ),
        ));
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_slice_and_validate() {
        let p = PageRequest::new(Some(2), Some(3), 10, 100).unwrap();
        assert_eq!(p.slice(&[1, 2, 3, 4, 5, 6, 7]), &[4, 5, 6]);
        assert!(
            PageRequest::new(Some(9), Some(3), 10, 100)
                .unwrap()
                .slice(&[1])
                .is_empty()
        );
        assert_eq!(
            PageRequest::new(Some(0), None, 10, 100)
                .unwrap_err()
                .parameter(),
            "PageNumber"
        );
        assert_eq!(
            PageRequest::new(None, Some(101), 10, 100)
                .unwrap_err()
                .parameter(),
            "PageSize"
        );
        assert_eq!(
            PageRequest::new(None, Some(0), 10, 100)
                .unwrap_err()
                .parameter(),
            "PageSize"
        );
        assert_eq!(PageRequest::for_version_ids(None, None).unwrap().size(), 20);
        let huge = PageRequest::new(Some(u32::MAX), Some(100), 10, 100).unwrap();
        assert!(huge.slice(&[1, 2]).is_empty());
    }

    #[test]
    fn recovery_window_is_7_to_30_days() {
        assert_eq!(recovery_window_days(None).unwrap(), 30);
        assert_eq!(recovery_window_days(Some(7)).unwrap(), 7);
        assert!(recovery_window_days(Some(6)).is_err());
        assert!(recovery_window_days(Some(31)).is_err());
    }
}
