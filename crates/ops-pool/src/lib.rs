//! # ops-pool
//!
//! The pooling family of handgrad with hand-written forward and backward
//! kernels and PyTorch's semantics: max, average, Lp, adaptive average and
//! adaptive max pooling (1-d, 2-d and 3-d, batched `(N, C, *spatial)` or
//! unbatched `(C, *spatial)`), their global forms, max unpooling, and
//! fractional max pooling (2-d and 3-d).
//!
//! - **Functional API** on [`autograd::Var`], mirroring
//!   `torch.nn.functional`: [`max_pool`], [`max_pool_with_indices`],
//!   [`avg_pool`], [`lp_pool`], [`adaptive_avg_pool`], [`adaptive_max_pool`],
//!   [`adaptive_max_pool_with_indices`], [`global_avg_pool`],
//!   [`global_max_pool`], [`max_unpool`], [`fractional_max_pool`],
//!   [`fractional_max_pool_with_indices`]. The number of spatial axes is the
//!   length of `kernel_size` (or `output_size`).
//! - **Parameters** ([`MaxPoolParams`], [`AvgPoolParams`], [`LpPoolParams`],
//!   [`MaxUnpoolParams`], [`FractionalMaxPoolParams`]) start from PyTorch's defaults (stride = kernel)
//!   and have builder setters. Padding is `[before, after]` per axis
//!   ([`Padding::Explicit`]), symmetric (`.padding(&[p])`), or resolved from
//!   ONNX/TensorFlow `SAME_UPPER` / `SAME_LOWER` / `VALID`
//!   ([`params::same_padding`]). Each side may be up to one less than the
//!   effective kernel `dilation*(k-1)+1` (wider than PyTorch's `k/2`, as the
//!   ONNX suite needs).
//! - **Kernels** ([`kernels`]) are pure functions over contiguous slices
//!   with an explicit [`Par`](core_tensor::Par): [`kernels::max`],
//!   [`kernels::avg`], [`kernels::lp`], [`kernels::unpool`],
//!   [`kernels::fractional`] (adaptive pooling uses the max and avg kernels
//!   with adaptive windows, see [`Geometry::adaptive_for`]), and
//!   [`kernels::max::forward_values`], the values-only max forward that
//!   [`max_pool`] uses when no gradient is recorded. Max pooling saves, per
//!   output, the argmax offset *inside its window* in `u8` (up to 256
//!   taps), `u16` or `u32` ([`ArgMax`]); average pooling saves no tensor.
//!   The windows of most CNNs have fast paths, one file each with its
//!   forward and backward under `kernels/max/` (2×2 windows tiling the
//!   plane, 3×3 windows with stride 2, rows of 3 taps with stride 2, 2 or 3
//!   taps with stride 2 along the last axis), picked by one table; explicit
//!   AVX2 steps live in the crate's `simd` module alone. Every fast path
//!   gives the general kernel's results (tested against a naive scan on
//!   ties, signed zeros and padding, and bitwise against the general
//!   kernel). Outputs are built plane by plane by the task that computes
//!   them ([`core_tensor::chunks`]): no separate zero-fill pass.
//! - **Layout**: one file per public op (`max_pool.rs`, `avg_pool.rs`,
//!   `lp_pool.rs`, `max_unpool.rs`, `fractional_max_pool.rs`: validate,
//!   run the kernel, record the op) over `kernels/` (no graph) over
//!   `simd/`; `params.rs` (every op's parameters), `geometry/` (the resolved
//!   shapes: windows in `mod.rs`, `unpool.rs`, `fractional.rs`) and
//!   `argmax.rs` hold what they share. Calls only go downwards.
//! - **Second order**: every backward is linear in the incoming gradient and
//!   recorded as an op with its own backward (max: scatter ↔ gather;
//!   average: backward ↔ forward; unpool: gather ↔ scatter-add; fractional
//!   max: scatter-add ↔ gather), so
//!   `gradgradcheck` passes for all.
//! - **Errors**: every invalid call returns a typed [`PoolError`] naming the
//!   op, the axis and the allowed range; `?` converts it into an
//!   [`autograd::AutogradError`].
//!
//! ## Where this differs from PyTorch 2.15 (deliberately)
//!
//! - Padding may be up to `dilation*(k-1)` on each side (PyTorch: at most
//!   `k/2`, dilation ignored for max pooling); the ONNX suite needs it.
//! - A dilated max-pooling window lying entirely in padding is an error
//!   ([`PoolError::EmptyWindow`]); PyTorch returns `-inf` with an
//!   out-of-range index.
//! - [`lp_pool`] pools `|x|^p` (FORMAT.md and ONNX; PyTorch pools `x^p`, NaN
//!   for odd `p` on negative sums), does not rescale ceil-mode windows that
//!   run past the end (PyTorch multiplies by `kernel_numel / in_bounds`),
//!   and accepts padding (PyTorch's `lp_pool` has none). Equal to PyTorch for
//!   `x >= 0` and full windows.
//! - [`max_unpool`] with repeated indices keeps the last write
//!   (deterministic; PyTorch is nondeterministic there).
//! - Average pooling accepts the same rank forms in every dimension (no
//!   `avg_pool3d`-only "input smaller than kernel" check).
//!
//! ```
//! use autograd::Var;
//! use core_tensor::Tensor;
//! use ops_pool::{max_pool_with_indices, avg_pool, max_unpool, AvgPoolParams, MaxPoolParams, MaxUnpoolParams};
//!
//! // One 4x4 plane, 2x2 max pooling with stride 2.
//! let x = Var::leaf(Tensor::from_vec(&[1, 1, 4, 4], (0..16).map(|v| v as f64).collect())?);
//! let (y, idx) = max_pool_with_indices(&x, &MaxPoolParams::new(&[2, 2]))?;
//! assert_eq!(y.value().as_slice(), &[5.0, 7.0, 13.0, 15.0]);
//! assert_eq!(idx.as_slice(), &[5, 7, 13, 15]);
//!
//! // The gradient lands on the argmaxes only.
//! y.sum_all().backward()?;
//! let g = x.grad().unwrap();
//! assert_eq!(g.as_slice()[5], 1.0);
//! assert_eq!(g.as_slice().iter().sum::<f64>(), 4.0);
//!
//! // Max unpooling puts the maxima back.
//! let up = max_unpool(&y, &idx, &MaxUnpoolParams::new(&[2, 2]))?;
//! assert_eq!(up.value().as_slice()[15], 15.0);
//!
//! // 3x3 average pooling, stride 1, padding 1, padding excluded from the divisor.
//! let p = AvgPoolParams::new(&[3, 3]).stride(&[1]).padding(&[1]).count_include_pad(false);
//! let a = avg_pool(&x, &p)?;
//! assert_eq!(a.shape(), vec![1, 1, 4, 4]);
//! assert_eq!(a.value().as_slice()[0], (0.0 + 1.0 + 4.0 + 5.0) / 4.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![doc(test(attr(deny(warnings))))]

mod argmax;
mod avg_pool;
mod error;
mod fractional_max_pool;
mod geometry;
pub mod kernels;
mod lp_pool;
mod max_pool;
mod max_unpool;
mod op_names;
pub mod params;
#[cfg(feature = "gradcheck-samples")]
mod samples;
mod simd;

pub use argmax::ArgMax;
pub use avg_pool::{adaptive_avg_pool, avg_pool, global_avg_pool};
pub use error::{PoolError, Result};
pub use fractional_max_pool::{fractional_max_pool, fractional_max_pool_with_indices};
pub use geometry::{FractionalGeometry, Geometry, UnpoolGeometry};
pub use kernels::avg::Divisor;
pub use lp_pool::lp_pool;
pub use max_pool::{
    adaptive_max_pool, adaptive_max_pool_with_indices, global_max_pool, max_pool,
    max_pool_with_indices,
};
pub use max_unpool::max_unpool;
pub use params::{
    AvgPoolParams, FractionalMaxPoolParams, FractionalOutput, LpPoolParams, MaxPoolParams,
    MaxUnpoolParams, Padding,
};
/// The op names and gradcheck samples `cargo xtask gradcheck` and
/// `cargo xtask conformance` use (cargo feature `gradcheck-samples`).
#[cfg(feature = "gradcheck-samples")]
pub use {op_names::OPS, samples::gradcheck_cases};

/// The items most users need.
pub mod prelude {
    pub use crate::{
        AvgPoolParams, FractionalMaxPoolParams, LpPoolParams, MaxPoolParams, MaxUnpoolParams,
        Padding, PoolError, adaptive_avg_pool, adaptive_max_pool, avg_pool, fractional_max_pool,
        global_avg_pool, global_max_pool, lp_pool, max_pool, max_pool_with_indices, max_unpool,
    };
}
