//! Running a kernel's loops on the widest vectors the CPU has.
//!
//! The workspace is compiled for the baseline of its target (on x86-64,
//! 128-bit SSE2), so that the binaries run on every CPU of that target.
//! [`wide`] runs a closure compiled a second time with AVX2 enabled when the
//! CPU supports it (checked at run time, once per call: a cached flag), so
//! the loops the compiler vectorizes use 256-bit registers. The closure and
//! everything it calls must be inlined into it for that to happen: kernels
//! mark their loop functions `#[inline(always)]`.
//!
//! The arithmetic is the same either way: Rust never contracts `a·b + c`
//! into a fused multiply-add, and vectorized reductions only happen where
//! the code spells out the lanes, so results are bitwise identical with and
//! without AVX2.

/// Runs `f` compiled for AVX2 when the CPU has it, else as is.
///
/// ```
/// let sum = core_tensor::simd::wide(|| (1..=8).map(|i| i as f32).sum::<f32>());
/// assert_eq!(sum, 36.0);
/// ```
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: `avx2` only requires the CPU to support AVX2, which
            // was detected at run time just above.
            return unsafe { avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
