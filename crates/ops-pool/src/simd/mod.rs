//! Explicit AVX2 steps of the pooling kernels, for `f32` and `f64`: the
//! only `std::arch` and `unsafe` code of the crate. Each entry point asks
//! `core_tensor::simd` (the workspace's one detection point, whose
//! `HANDGRAD_FORCE_PORTABLE=1` switch turns AVX2 off) and checks the element
//! type itself, and reports how much it did (or `None`/`false` when it could
//! not run), so its caller finishes with portable code that gives the same
//! bits.
//!
//! Each step is written once, generic over the lane type of `lane.rs` (the
//! operations the steps are made of), in a function compiled for AVX2;
//! `avx2.rs` implements that trait for eight `f32` and four `f64` lanes,
//! and the step files instantiate each step for both.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod lane;
pub(crate) mod max_3_s2;
pub(crate) mod pairs;
pub(crate) mod spread_3x3_s2;
