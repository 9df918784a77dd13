//! Benchmark cases of ops-pool for `cargo xtask bench pool` (owned by the ops-pool work).

use super::BenchCase;

/// The benchmark cases of ops-pool.
pub fn cases() -> Vec<BenchCase> {
    Vec::new()
}
