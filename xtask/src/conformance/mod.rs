//! The conformance runner (filled by the xtask work).
pub mod case;
pub mod norm;
pub mod pool;
