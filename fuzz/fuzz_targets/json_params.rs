//! Feeds arbitrary text to the JSON parameter parsers (`Tags`, `VersionStages`/`TagKeys`,
//! `Filters`): they must never panic, and what they accept must respect the limits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_model::{Filters, TagSet, limits, parse_json_string_list};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tags) = TagSet::from_json(text) {
        assert!(tags.tags().len() <= limits::TAGS_PER_SECRET_MAX);
    }
    let _ = parse_json_string_list("TagKeys", text);
    if let Ok(filters) = Filters::from_json(text) {
        assert!(filters.filters().len() <= secret_model::FILTERS_MAX);
    }
});
