//! Sums over a slice held in registers as four vectors of independent
//! lanes (32 `f32` or 16 `f64`, four 256-bit vectors either way), in the
//! element type: the reductions inside the normalization statistics and
//! backward passes, and the window sums of global average pooling.
//!
//! One accumulator vector would make every step wait for the previous add
//! (three to four cycles); four keep the adder busy while the slice is in
//! L1. The compiler's auto-vectorizer does not reliably turn a lane array
//! into full 256-bit registers, so on x86-64 with AVX2 (detected at run
//! time) the loops are written with `std::arch` intrinsics; elsewhere a
//! portable loop does the same operations in the same order. Rust never
//! contracts `a·b + c` into an FMA, so both give bitwise the same results.
//! Callers inside [`crate::simd::wide`] get the AVX2 loops inlined.
//!
//! Order of a sum over `L` lanes (`L/4` per vector): element `i` of each
//! `L`-chunk goes to lane `i`; of the `< L` trailing elements, those that
//! fill whole vectors go to the lanes they would take in a full chunk; the
//! lanes are then folded by halves (lane `k` plus lane `k + L/2`, down to
//! one), and the last `< L/4` elements are added to that one by one.

use crate::Float;

/// Lanes per accumulator set for `F`: 32 for `f32`, 16 for `f64`.
const fn lanes<F>() -> usize {
    if size_of::<F>() == 4 { 32 } else { 16 }
}

/// Folds the lanes by halves: `a[k] += a[k + w]` for `w = L/2, L/4, …, 1`.
#[inline(always)]
fn fold<F: Float, const L: usize>(mut a: [F; L]) -> F {
    let mut w = L;
    while w > 1 {
        w /= 2;
        for k in 0..w {
            a[k] += a[k + w];
        }
    }
    a[0]
}

/// The reductions of this module, each a function of a lane count `L`
/// (portable) with an AVX2 twin for `f32` and `f64`.
#[derive(Clone, Copy)]
enum Reduction {
    /// `Σ (x − c)`.
    Sum,
    /// `Σ (x − c)²`.
    SqDev,
}

/// `Σ (x − shift)` over independent lanes; see the module docs for the order.
#[inline(always)]
pub fn lane_sum<F: Float>(x: &[F], shift: F) -> F {
    unary(Reduction::Sum, x, shift)
}

/// `Σ (x − mean)²` over independent lanes (the second pass of the two-pass
/// variance).
#[inline(always)]
pub fn lane_sq_dev<F: Float>(x: &[F], mean: F) -> F {
    unary(Reduction::SqDev, x, mean)
}

#[inline(always)]
fn unary<F: Float>(op: Reduction, x: &[F], c: F) -> F {
    #[cfg(target_arch = "x86_64")]
    if let Some(r) = avx2::unary(op, x, c) {
        return r;
    }
    if lanes::<F>() == 32 {
        unary_portable::<F, 32>(op, x, c)
    } else {
        unary_portable::<F, 16>(op, x, c)
    }
}

#[inline(always)]
fn unary_portable<F: Float, const L: usize>(op: Reduction, x: &[F], c: F) -> F {
    let term = |v: F| match op {
        Reduction::Sum => v - c,
        Reduction::SqDev => (v - c) * (v - c),
    };
    let mut acc = [F::zero(); L];
    let chunks = x.chunks_exact(L);
    let rest = chunks.remainder();
    for ch in chunks {
        for k in 0..L {
            acc[k] += term(ch[k]);
        }
    }
    let whole = whole_vectors::<L>(rest.len());
    for k in 0..whole {
        acc[k] += term(rest[k]);
    }
    rest[whole..].iter().fold(fold(acc), |s, &v| s + term(v))
}

/// Of `rest < L` trailing elements, how many fill whole vectors (`L/4`
/// lanes each).
#[inline(always)]
const fn whole_vectors<const L: usize>(rest: usize) -> usize {
    rest - rest % (L / 4)
}

/// `(Σ g, Σ g·(x − mean))` in one pass over both slices (the shorter
/// length is used).
#[inline(always)]
pub fn lane_g_gdev<F: Float>(x: &[F], g: &[F], mean: F) -> (F, F) {
    let n = x.len().min(g.len());
    binary(&x[..n], &g[..n], None, mean)
}

/// `(Σ w·g, Σ w·g·(x − mean))` in one pass over the three slices (the
/// shortest length is used).
#[inline(always)]
pub fn lane_weighted<F: Float>(x: &[F], g: &[F], w: &[F], mean: F) -> (F, F) {
    let n = x.len().min(g.len()).min(w.len());
    binary(&x[..n], &g[..n], Some(&w[..n]), mean)
}

/// `(Σ h, Σ h·(x − mean))` with `h = w·g` (or `g` without `w`); the slices
/// have equal lengths.
#[inline(always)]
fn binary<F: Float>(x: &[F], g: &[F], w: Option<&[F]>, mean: F) -> (F, F) {
    #[cfg(target_arch = "x86_64")]
    if let Some(r) = avx2::binary(x, g, w, mean) {
        return r;
    }
    if lanes::<F>() == 32 {
        binary_portable::<F, 32>(x, g, w, mean)
    } else {
        binary_portable::<F, 16>(x, g, w, mean)
    }
}

#[inline(always)]
fn binary_portable<F: Float, const L: usize>(x: &[F], g: &[F], w: Option<&[F]>, mean: F) -> (F, F) {
    let h = |i: usize| w.map_or(g[i], |w| w[i] * g[i]);
    let (mut a, mut b) = ([F::zero(); L], [F::zero(); L]);
    let full = x.len() - x.len() % L;
    let whole = full + whole_vectors::<L>(x.len() - full);
    for base in (0..whole).step_by(L) {
        for k in 0..L.min(whole - base) {
            let hv = h(base + k);
            a[k] += hv;
            b[k] += hv * (x[base + k] - mean);
        }
    }
    binary_tail(x, g, w, mean, whole, (fold(a), fold(b)))
}

/// Adds the `h` and `h·(x − mean)` terms from index `from` on to `start`,
/// one by one.
#[inline(always)]
fn binary_tail<F: Float>(
    x: &[F],
    g: &[F],
    w: Option<&[F]>,
    mean: F,
    from: usize,
    start: (F, F),
) -> (F, F) {
    (from..x.len()).fold(start, |(sa, sb), i| {
        let h = w.map_or(g[i], |w| w[i] * g[i]);
        (sa + h, sb + h * (x[i] - mean))
    })
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The AVX2 loops, generated for `f32` (`__m256`, 8 lanes per vector)
    //! and `f64` (`__m256d`, 4 lanes) from one template.

    use std::arch::x86_64::*;

    use crate::Float;

    use super::Reduction;
    use crate::simd::same_slice as same;

    /// The AVX2 result of [`super::unary`], or `None` when the CPU lacks
    /// AVX2 (or `F` is neither `f32` nor `f64`).
    #[inline(always)]
    pub(super) fn unary<F: Float>(op: Reduction, x: &[F], c: F) -> Option<F> {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return None;
        }
        if let Some(x) = same::<F, f32>(x) {
            // SAFETY: AVX2 was detected above.
            let r = unsafe { f32x8::unary(op, x, c.widen() as f32) };
            return Some(F::cast(f64::from(r)));
        }
        if let Some(x) = same::<F, f64>(x) {
            // SAFETY: AVX2 was detected above.
            let r = unsafe { f64x4::unary(op, x, c.widen()) };
            return Some(F::cast(r));
        }
        None
    }

    /// The AVX2 result of [`super::binary`], or `None` as for [`unary`].
    #[inline(always)]
    pub(super) fn binary<F: Float>(x: &[F], g: &[F], w: Option<&[F]>, mean: F) -> Option<(F, F)> {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return None;
        }
        let back = |(a, b): (f64, f64)| (F::cast(a), F::cast(b));
        if let (Some(x), Some(g)) = (same::<F, f32>(x), same::<F, f32>(g)) {
            let w = w.and_then(same::<F, f32>);
            // SAFETY: AVX2 was detected above; the slices have equal lengths.
            let (a, b) = unsafe { f32x8::binary(x, g, w, mean.widen() as f32) };
            return Some(back((f64::from(a), f64::from(b))));
        }
        if let (Some(x), Some(g)) = (same::<F, f64>(x), same::<F, f64>(g)) {
            let w = w.and_then(same::<F, f64>);
            // SAFETY: as above.
            return Some(back(unsafe { f64x4::binary(x, g, w, mean.widen()) }));
        }
        None
    }

    /// Lane `k` plus lane `k + 4`, then `k + 2`, then `k + 1` of an `f32`
    /// vector: the portable fold of its eight lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn fold_lanes_f32(v: __m256) -> f32 {
        let h4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
        _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2)))
    }

    /// Lane `k` plus lane `k + 2`, then `k + 1` of an `f64` vector: the
    /// portable fold of its four lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn fold_lanes_f64(v: __m256d) -> f64 {
        let h2 = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
        _mm_cvtsd_f64(_mm_add_sd(h2, _mm_unpackhi_pd(h2, h2)))
    }

    macro_rules! template {
        ($name:ident, $t:ty, $v:ty, $width:expr, $set1:ident, $zero:ident, $load:ident,
         $fold_lanes:ident, $add:ident, $sub:ident, $mul:ident) => {
            pub(super) mod $name {
                use super::*;

                /// Lanes per vector.
                const V: usize = $width;
                /// Elements per step (four vectors).
                const STEP: usize = 4 * V;

                /// Folds four accumulators as the portable code folds its
                /// `4·V` lanes: `(a0 + a2) + (a1 + a3)`, then within the
                /// vector by halves.
                #[inline]
                #[target_feature(enable = "avx2")]
                fn fold(a: [$v; 4]) -> $t {
                    $fold_lanes($add($add(a[0], a[2]), $add(a[1], a[3])))
                }

                /// See [`super::unary`].
                #[inline]
                #[target_feature(enable = "avx2")]
                pub(in super::super) fn unary(op: Reduction, x: &[$t], c: $t) -> $t {
                    let cv = $set1(c);
                    let mut acc = [$zero(); 4];
                    let step = |a: $v, at: *const $t| {
                        // SAFETY: callers pass `at` with `V` elements in bounds.
                        let d = $sub(unsafe { $load(at) }, cv);
                        match op {
                            Reduction::Sum => $add(a, d),
                            Reduction::SqDev => $add(a, $mul(d, d)),
                        }
                    };
                    let chunks = x.chunks_exact(STEP);
                    let rest = chunks.remainder();
                    for ch in chunks {
                        for (j, a) in acc.iter_mut().enumerate() {
                            // `ch` has `STEP = 4·V` elements, so `j·V ..
                            // j·V + V` is in bounds.
                            *a = step(*a, ch[j * V..].as_ptr());
                        }
                    }
                    // Whole vectors of the rest go to the first accumulators.
                    let whole = rest.len() / V;
                    for (j, a) in acc.iter_mut().enumerate().take(whole) {
                        *a = step(*a, rest[j * V..].as_ptr());
                    }
                    rest[whole * V..].iter().fold(fold(acc), |s, &v| match op {
                        Reduction::Sum => s + (v - c),
                        Reduction::SqDev => s + (v - c) * (v - c),
                    })
                }

                /// See [`super::binary`]; `x`, `g` and `w` have equal lengths.
                #[inline]
                #[target_feature(enable = "avx2")]
                pub(in super::super) fn binary(
                    x: &[$t],
                    g: &[$t],
                    w: Option<&[$t]>,
                    mean: $t,
                ) -> ($t, $t) {
                    let mv = $set1(mean);
                    let (mut a, mut b) = ([$zero(); 4], [$zero(); 4]);
                    // Whole steps, then the whole vectors of the rest into
                    // the first accumulators.
                    let full = x.len() - x.len() % V;
                    for base in (0..full).step_by(STEP) {
                        for j in 0..4.min((full - base) / V) {
                            let at = base + j * V;
                            // SAFETY: `at + V <= full <= len` of `x`, `g` and
                            // (when present) `w`, which have equal lengths.
                            let (xv, gv) =
                                unsafe { ($load(x.as_ptr().add(at)), $load(g.as_ptr().add(at))) };
                            let h = match w {
                                // SAFETY: as above.
                                Some(w) => $mul(unsafe { $load(w.as_ptr().add(at)) }, gv),
                                None => gv,
                            };
                            a[j] = $add(a[j], h);
                            b[j] = $add(b[j], $mul(h, $sub(xv, mv)));
                        }
                    }
                    super::super::binary_tail(x, g, w, mean, full, (fold(a), fold(b)))
                }
            }
        };
    }

    template!(
        f32x8,
        f32,
        __m256,
        8,
        _mm256_set1_ps,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        fold_lanes_f32,
        _mm256_add_ps,
        _mm256_sub_ps,
        _mm256_mul_ps
    );
    template!(
        f64x4,
        f64,
        __m256d,
        4,
        _mm256_set1_pd,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        fold_lanes_f64,
        _mm256_add_pd,
        _mm256_sub_pd,
        _mm256_mul_pd
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, offset: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let x = (0..n).map(|i| offset + (i as f64 * 0.37).sin()).collect();
        let g = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
        let w = (0..n).map(|i| 0.5 + (i % 7) as f64 * 0.25).collect();
        (x, g, w)
    }

    #[test]
    fn sums_match_plain_loops() {
        let x: Vec<f32> = (0..29).map(|i| i as f32 * 0.5 - 3.0).collect();
        let g: Vec<f32> = (0..29).map(|i| (i % 5) as f32 - 2.0).collect();
        assert_eq!(lane_sum(&x, 0.0), x.iter().sum::<f32>());
        assert_eq!(lane_sum(&x, 1.0), x.iter().map(|v| v - 1.0).sum::<f32>());
        let (a, b) = lane_g_gdev(&x, &g, 1.5);
        assert_eq!(a, g.iter().sum::<f32>());
        let want: f32 = x.iter().zip(&g).map(|(&x, &g)| g * (x - 1.5)).sum();
        assert!((b - want).abs() < 1e-4);
        let (c, d) = lane_weighted(&x, &g, &x, 0.0);
        assert!((c - x.iter().zip(&g).map(|(a, b)| a * b).sum::<f32>()).abs() < 1e-4);
        assert!((d - x.iter().zip(&g).map(|(a, b)| a * a * b).sum::<f32>()).abs() < 1e-2);
        let sq: f32 = x.iter().map(|v| (v - 2.0) * (v - 2.0)).sum();
        assert!((lane_sq_dev(&x, 2.0) - sq).abs() < 1e-3);
    }

    /// The dispatched (AVX2 where the CPU has it) and the portable loops
    /// give bitwise equal results, for every remainder length.
    #[test]
    fn dispatched_and_portable_loops_agree_bitwise() {
        for n in [
            0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 49, 56, 64, 95, 1000, 1003,
        ] {
            let (x, g, w) = data(n, 1e4);
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let g32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
            let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
            for op in [Reduction::Sum, Reduction::SqDev] {
                let (c, c32) = (1e4 + 0.25, 1e4f32 + 0.25);
                assert_eq!(
                    unary(op, &x, c).to_bits(),
                    unary_portable::<f64, 16>(op, &x, c).to_bits()
                );
                assert_eq!(
                    unary(op, &x32, c32).to_bits(),
                    unary_portable::<f32, 32>(op, &x32, c32).to_bits()
                );
            }
            let bits64 = |(a, b): (f64, f64)| (a.to_bits(), b.to_bits());
            let bits32 = |(a, b): (f32, f32)| (a.to_bits(), b.to_bits());
            for wo in [None, Some(&w[..])] {
                assert_eq!(
                    bits64(binary(&x, &g, wo, 1e4)),
                    bits64(binary_portable::<f64, 16>(&x, &g, wo, 1e4))
                );
            }
            for wo in [None, Some(&w32[..])] {
                assert_eq!(
                    bits32(binary(&x32, &g32, wo, 1e4)),
                    bits32(binary_portable::<f32, 32>(&x32, &g32, wo, 1e4))
                );
            }
        }
    }

    #[test]
    fn lane_order_is_the_documented_fold() {
        // 2^24 then 63 ones, in f32, where 2^24 + 1 rounds back to 2^24 but
        // 2^24 + 2 is exact. Left to right, every 1 is lost. In lanes, lane 0
        // holds 2^24 (its one 1, x[32], is lost), lanes 1..31 hold 2 each,
        // and the folds add even numbers to 2^24 exactly: 2^24 + 62.
        let mut x = vec![1.0f32; 64];
        x[0] = 16_777_216.0;
        let s = lane_sum(&x, 0.0);
        let plain = x.iter().sum::<f32>();
        assert_eq!(plain, 16_777_216.0);
        assert_eq!(s, 16_777_216.0 + 62.0);
    }

    #[test]
    fn trailing_whole_vectors_go_to_their_lanes_before_the_fold() {
        // 40 values: one 32-chunk and one whole vector of 8. x[32] joins
        // lane 0 (2^24 + 1 rounds back to 2^24) and x[33] joins lane 1
        // (1 + 1 = 2), so the fold gives 2^24 + 2. Added one by one after
        // the fold, both ones would be lost: 2^24.
        let mut x = vec![0.0f32; 40];
        x[0] = 16_777_216.0;
        x[1] = 1.0;
        x[32] = 1.0;
        x[33] = 1.0;
        assert_eq!(lane_sum(&x, 0.0), 16_777_216.0 + 2.0);
        assert_eq!(
            unary_portable::<f32, 32>(Reduction::Sum, &x, 0.0),
            16_777_216.0 + 2.0
        );
        let plain = x.iter().sum::<f32>();
        assert_eq!(plain, 16_777_216.0);
        // The same rule in the two-slice sums: g = x, weights of one.
        let ones = vec![1.0f32; 40];
        assert_eq!(lane_g_gdev(&ones, &x, 0.0).0, 16_777_216.0 + 2.0);
        assert_eq!(lane_weighted(&ones, &x, &ones, 0.0).0, 16_777_216.0 + 2.0);
    }
}
