//! Output buffers filled in parallel.

use core_tensor::Par;
use rayon::prelude::*;

/// A vector of `n` copies of `v`, written by rayon's workers when `par`
/// allows and the buffer is large: a reused heap block is then not cleared
/// by one thread (as `calloc` does), and fresh pages are faulted in by
/// both threads.
pub(crate) fn filled<T: Copy + Send + Sync>(n: usize, v: T, par: Par) -> Vec<T> {
    match par.for_work(n) {
        Par::Seq => vec![v; n],
        Par::Rayon => {
            let mut out = Vec::with_capacity(n);
            out.par_extend(rayon::iter::repeat_n(v, n));
            out
        }
    }
}
