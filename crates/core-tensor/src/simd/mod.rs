//! The one SIMD dispatch point of the workspace: which instruction set the
//! kernels run on, and the pieces they share to use it.
//!
//! - [`level`] decides once per process between [`Level::Avx2`] (x86-64
//!   CPUs with AVX2) and [`Level::Portable`]; setting the environment
//!   variable `HANDGRAD_FORCE_PORTABLE=1` forces the portable path, so
//!   tests can run both on one machine. Nothing else in the workspace
//!   checks CPU features.
//! - [`Lane`] is a short vector (8 `f32` or 4 `f64`) with element-wise
//!   arithmetic; a [`Kernel`] writes its body once over a lane type, and
//!   [`dispatch`] runs it on AVX2 registers, in a function compiled for
//!   AVX2, or on [`Portable`] arrays that give bitwise the same lanes.
//! - [`wide`] runs a closure compiled for AVX2 when the level allows it,
//!   for loops the compiler vectorizes by itself.
//! - [`same_slice`], [`on_avx2_floats`], [`step_starts`], [`prefetch`],
//!   [`stream_copy`] are helpers for kernels with explicit SIMD code.
//!
//! The workspace is compiled for the baseline of its target (on x86-64,
//! 128-bit SSE2), so that the binaries run on every CPU of that target.
//! The arithmetic is the same on every path: Rust never contracts `a·b + c`
//! into a fused multiply-add, and vectorized reductions only happen where
//! the code spells out the lanes, so results are bitwise identical with and
//! without AVX2.

#[cfg(target_arch = "x86_64")]
mod avx2;
mod detect;
mod lane;
mod portable;

pub use detect::{FORCE_PORTABLE_VAR, Level, has_avx2, level};
pub use lane::{Element, Kernel, Lane, dispatch, run_portable};
pub use portable::Portable;

/// Runs `f` compiled for AVX2 when [`level`] is [`Level::Avx2`], else as
/// is. The closure and everything it calls must be inlined into it for the
/// loops to get 256-bit registers: kernels mark their loop functions
/// `#[inline(always)]`.
///
/// ```
/// let sum = core_tensor::simd::wide(|| (1..=8).map(|i| i as f32).sum::<f32>());
/// assert_eq!(sum, 36.0);
/// ```
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2() {
            // SAFETY: `avx2` only requires the CPU to support AVX2, which
            // `has_avx2` checked.
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

/// `x` as a slice of `T` when `F` is `T` (for kernels that hand `f32` and
/// `f64` slices to explicit SIMD code and keep a generic path otherwise).
///
/// ```
/// let x = [1.0f32, 2.0];
/// assert_eq!(core_tensor::simd::same_slice::<f32, f32>(&x), Some(&x[..]));
/// assert_eq!(core_tensor::simd::same_slice::<f32, f64>(&x), None);
/// ```
#[inline(always)]
pub fn same_slice<F: 'static, T: 'static>(x: &[F]) -> Option<&[T]> {
    // SAFETY: `F` and `T` are the same type (equal `TypeId`s), so the
    // pointer, length and lifetime describe a valid `[T]`.
    (std::any::TypeId::of::<F>() == std::any::TypeId::of::<T>())
        .then(|| unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<T>(), x.len()) })
}

/// [`same_slice`] for a mutable slice.
#[inline(always)]
pub fn same_slice_mut<F: 'static, T: 'static>(x: &mut [F]) -> Option<&mut [T]> {
    // SAFETY: as in `same_slice`; the borrow of `x` is moved into the result.
    (std::any::TypeId::of::<F>() == std::any::TypeId::of::<T>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<T>(), x.len()) })
}

/// Hands `(x, y)` to `on_f32` or `on_f64` as `f32`/`f64` slices when `F`
/// is one of them and [`has_avx2`] (so that they may call functions
/// compiled for AVX2); `None` otherwise, and always on other targets. For
/// kernels with an explicit AVX2 part and a generic fallback.
///
/// ```
/// let x = [1.0f32, 2.0];
/// let mut y = [0.0f32; 2];
/// let r = core_tensor::simd::on_avx2_floats(&x, &mut y, |x, y| { y.copy_from_slice(x); 2 }, |_, _| 0);
/// assert_eq!(r, core_tensor::simd::has_avx2().then_some(2));
/// ```
#[inline(always)]
pub fn on_avx2_floats<F: 'static, R>(
    x: &[F],
    y: &mut [F],
    on_f32: impl FnOnce(&[f32], &mut [f32]) -> R,
    on_f64: impl FnOnce(&[f64], &mut [f64]) -> R,
) -> Option<R> {
    #[cfg(target_arch = "x86_64")]
    {
        if !has_avx2() {
            return None;
        }
        if let (Some(x), Some(y)) = (same_slice::<F, f32>(x), same_slice_mut::<F, f32>(y)) {
            return Some(on_f32(x, y));
        }
        if let (Some(x), Some(y)) = (same_slice::<F, f64>(x), same_slice_mut::<F, f64>(y)) {
            return Some(on_f64(x, y));
        }
    }
    let _ = (x, y, on_f32, on_f64);
    None
}

/// The starts of the `L`-wide steps that cover `lo..end` (`end - lo >= L`):
/// `lo, lo + L, ...` while a whole step fits, then, for a remainder, one
/// step at `end - L` that overlaps the one before (so a step recomputes
/// some positions with the same results). A plain iterator, so that a SIMD
/// loop body stays inside its `#[target_feature]` function and is compiled
/// there, rather than in a closure the compiler may keep out of line.
///
/// ```
/// let starts: Vec<usize> = core_tensor::simd::step_starts::<8>(2, 22).collect();
/// assert_eq!(starts, [2, 10, 14]);
/// let whole: Vec<usize> = core_tensor::simd::step_starts::<4>(0, 8).collect();
/// assert_eq!(whole, [0, 4]);
/// ```
#[inline(always)]
pub fn step_starts<const L: usize>(lo: usize, end: usize) -> impl Iterator<Item = usize> {
    debug_assert!(end >= lo + L, "a step of {L} does not fit in {lo}..{end}");
    // The last start, clamped, is the overlapping one; one plain loop.
    (lo..end).step_by(L).map(move |i| i.min(end - L))
}

/// Asks the CPU to bring the cache lines of `x` into its caches (a hint:
/// no effect on results, and none at all on targets without a prefetch
/// instruction). For kernels that compute on one block of memory while
/// the next one is read, so that reading it overlaps the computation.
///
/// ```
/// let next = vec![1.0f32; 1024];
/// core_tensor::simd::prefetch(&next[..256]);
/// assert_eq!(next[0], 1.0);
/// ```
#[inline(always)]
pub fn prefetch<T>(x: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        const LINE: usize = 64;
        let bytes = std::mem::size_of_val(x);
        let p = x.as_ptr().cast::<i8>();
        for off in (0..bytes).step_by(LINE) {
            // SAFETY: `p + off` lies inside `x` (`off < bytes`); prefetching
            // never faults and has no effect on memory contents.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(off)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Copies `src` into `dst` (same length) with non-temporal stores where
/// the CPU has them (x86-64: 16-byte `movntdq` for the aligned middle,
/// plain stores at the ends): the destination's cache lines are written
/// without being read first and without evicting other data. For kernels
/// that stage each row of a large output in a small buffer: the row is
/// computed in the cache, and memory sees only the write (a copy with
/// ordinary stores also reads every destination line).
///
/// The stores are weakly ordered: call [`stream_fence`] after the last one
/// and before the data is handed to another thread.
///
/// # Panics
/// If the lengths differ.
///
/// ```
/// use std::mem::MaybeUninit;
/// let src = vec![1.5f32; 100];
/// let mut dst = vec![MaybeUninit::<f32>::uninit(); 100];
/// core_tensor::simd::stream_copy(&mut dst, &src);
/// core_tensor::simd::stream_fence();
/// // SAFETY: every element was written by `stream_copy`.
/// assert!(dst.iter().all(|v| unsafe { v.assume_init() } == 1.5));
/// ```
#[inline]
pub fn stream_copy<T: Copy>(dst: &mut [std::mem::MaybeUninit<T>], src: &[T]) {
    assert_eq!(dst.len(), src.len(), "stream_copy: lengths differ");
    let bytes = std::mem::size_of_val(src);
    let d = dst.as_mut_ptr().cast::<u8>();
    let s = src.as_ptr().cast::<u8>();
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
        const V: usize = 16;
        let head = d.align_offset(V).min(bytes);
        let body = (bytes - head) / V * V;
        // SAFETY: `dst` and `src` are distinct slices of `bytes` bytes
        // (a `&mut` and a `&` cannot overlap); every access below stays
        // within them, and the stores in the middle are to 16-byte-aligned
        // addresses. `T: Copy`, so the bytes are a valid `T` in `dst`.
        unsafe {
            std::ptr::copy_nonoverlapping(s, d, head);
            let mut o = head;
            while o < head + body {
                let v = _mm_loadu_si128(s.add(o).cast::<__m128i>());
                _mm_stream_si128(d.add(o).cast::<__m128i>(), v);
                o += V;
            }
            std::ptr::copy_nonoverlapping(s.add(o), d.add(o), bytes - o);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: as above; plain stores.
    unsafe {
        std::ptr::copy_nonoverlapping(s, d, bytes)
    };
}

/// Orders the non-temporal stores of [`stream_copy`] before the stores
/// that follow (`sfence` on x86-64; nothing elsewhere, where
/// [`stream_copy`] uses plain stores).
#[inline]
pub fn stream_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `sfence` only orders stores; SSE is part of x86-64.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    /// Every length and alignment of the destination: the aligned middle
    /// in non-temporal stores, the ends in plain ones, all values copied.
    #[test]
    fn stream_copy_copies_every_length_and_offset() {
        let src: Vec<f32> = (0..80).map(|i| i as f32 * 0.5 - 7.0).collect();
        for len in 0..40 {
            for start in 0..8 {
                let mut dst = [MaybeUninit::new(f32::NAN); 48];
                super::stream_copy(&mut dst[start..start + len], &src[3..3 + len]);
                super::stream_fence();
                // SAFETY: every element was initialized (NaN, or copied).
                let got: Vec<f32> = dst.iter().map(|v| unsafe { v.assume_init() }).collect();
                assert_eq!(
                    &got[start..start + len],
                    &src[3..3 + len],
                    "len {len} start {start}"
                );
                assert!(
                    got[..start]
                        .iter()
                        .chain(&got[start + len..])
                        .all(|v| v.is_nan())
                );
            }
        }
    }
}
