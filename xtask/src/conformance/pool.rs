//! Conformance adapters for the pool ops (owned by the ops-pool work).

use super::case::{Case, CaseError, Produced};

/// Runs `case` if its op belongs to ops-pool; `None` for other ops.
pub fn run(case: &Case) -> Option<Result<Produced, CaseError>> {
    let _ = case;
    None
}
