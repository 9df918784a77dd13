//! xtask library (filled by the xtask work).
pub mod bench;
pub mod conformance;
