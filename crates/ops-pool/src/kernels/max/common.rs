//! What the max kernels of this folder share: per-task scratch rows and
//! the NaN test that sends a plane or a row to the exact path.

use core_tensor::Float;

/// Per-task scratch rows of the two-pass max kernels.
pub(super) struct Scratch<F> {
    pub(super) hv: Vec<F>,
    pub(super) hc: Vec<u32>,
    pub(super) c: Vec<u32>,
}

impl<F> Default for Scratch<F> {
    fn default() -> Self {
        Self {
            hv: Vec::new(),
            hc: Vec::new(),
            c: Vec::new(),
        }
    }
}

/// Whether `v` holds a NaN (a full scan the compiler vectorises).
#[inline]
pub(super) fn has_nan<F: Float>(v: &[F]) -> bool {
    v.iter().fold(false, |a, x| a | x.is_nan())
}
