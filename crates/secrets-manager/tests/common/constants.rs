//! The location and start time every test store uses; split from the fixture so that code
//! outside the test crates (the `facade_vs_model` fuzz target) can share them without sled.

pub const REGION: &str = "cn-hangzhou";
pub const ACCOUNT: &str = "1234567890";
pub const START: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z
