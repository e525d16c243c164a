//! The embedded sled backend of the secrets store. (Skeleton: being filled in.)

#![forbid(unsafe_code)]
#![deny(missing_docs)]
