//! Nothing here: the tests are in `freed_memory.rs`, a test binary of its own because its
//! global allocator (which scans freed blocks) needs `unsafe`, forbidden in every other crate.
