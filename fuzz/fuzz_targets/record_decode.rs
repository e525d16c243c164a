//! Feeds arbitrary bytes to the stored-record decoder: it must never panic, and whatever it
//! accepts must re-encode to exactly the same bytes (one encoding per record).

#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_storage::{decode_record, encode_record};

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = decode_record(data) {
        assert_eq!(encode_record(&record), data);
    }
});
