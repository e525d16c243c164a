//! Benchmarks of the PostgreSQL backend (filled in below).

fn main() {}
