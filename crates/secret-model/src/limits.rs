//! The limits of SPEC §2, in one place.

/// Longest secret name, in characters.
pub const SECRET_NAME_MAX: usize = 192;
/// Longest version id, in characters.
pub const VERSION_ID_MAX: usize = 64;
/// Longest stage label, in characters.
pub const STAGE_LABEL_MAX: usize = 64;
/// Largest secret value, in bytes (after base64 decoding for `binary`).
pub const SECRET_DATA_MAX: usize = 30_720;
/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 1_024;
/// Most tags on one secret.
pub const TAGS_PER_SECRET_MAX: usize = 20;
/// Longest tag key or tag value, in characters.
pub const TAG_PART_MAX: usize = 128;
/// Most distinct stage labels across all versions of one secret.
pub const STAGES_PER_SECRET_MAX: usize = 8;
/// Most versions one secret keeps.
pub const VERSIONS_PER_SECRET_MAX: usize = 10;
/// Shortest recovery window for a deletion, in days.
pub const RECOVERY_WINDOW_MIN_DAYS: u32 = 7;
/// Longest recovery window for a deletion, in days (also the default).
pub const RECOVERY_WINDOW_MAX_DAYS: u32 = 30;
/// Largest page for the list operations.
pub const PAGE_SIZE_MAX: u32 = 100;
/// Longest JSON text accepted for a structured parameter (`Tags`, `VersionStages`, …) before
/// it is parsed at all; far above what the largest valid value needs.
pub const JSON_PARAMETER_MAX: usize = 64 * 1024;
