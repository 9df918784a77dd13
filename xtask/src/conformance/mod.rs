//! The conformance runner (filled by the xtask work).
pub mod case;
