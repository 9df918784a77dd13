//! xtask library (filled by the xtask work).
pub mod conformance;
