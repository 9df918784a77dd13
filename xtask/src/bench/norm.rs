//! Benchmark cases of ops-norm for `cargo xtask bench norm` (owned by the ops-norm work).

use super::BenchCase;

/// The benchmark cases of ops-norm.
pub fn cases() -> Vec<BenchCase> {
    Vec::new()
}
