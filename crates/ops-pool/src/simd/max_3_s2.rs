//! The interior windows of max pooling with 3 taps and stride 2 along the
//! rows, over `R` rows (3×3 windows in 2-d, one row in 1-d), in AVX2
//! steps: eight `f32` or four `f64` outputs of one output row per step,
//! with or without the in-window codes.
//!
//! Window `i` of a row takes `r[2i]`, `r[2i+1]`, `r[2i+2]` of each of its
//! `R` rows `r`. A step loads, from each row, the 16 (`f64`: 8) values
//! from `r[2i]` and 16 (8) more from `r[2i+2]` and `r[2i+9]` (`r[2i+5]`),
//! and splits even and odd positions with in-lane shuffles, which leaves
//! the windows in the lane order 0, 1, 4, 5, 2, 3, 6, 7 (`f32`) or 0, 2,
//! 1, 3 (`f64`); the `3R` taps are then combined in row-major order, and
//! one permute (values) or one byte shuffle (codes) restores the window
//! order. A row of `n` windows is read in `r[..2n + 1]` only.
//!
//! The combine is the scalar kernels' tap-ordered update: a tap replaces
//! the running maximum (and its code) only when strictly larger.
//! `_mm256_max_p{s,d}(v, m)` returns `m` unless `v > m`, and the codes
//! follow the mask of the same `v > m`, so on finite values (which the
//! steps check as they load them) values and codes (ties, `-0.0` against
//! `0.0`) are bitwise those of the scalar loop.
//!
//! The two step bodies (values only, and values with codes) are each
//! written once, generic over the lane type ([`super::lane::Lanes`], whose
//! `taps3` is the split above), in the loops of `#[target_feature]`
//! functions ([`super::lane::step_starts`]), with the code constants built
//! once before them. Passed to a helper as a closure, a body is compiled
//! out of line, its accumulators kept in memory and row 0's taps run as a
//! loop; two functions rather than one with a branch keep each small
//! enough for the compiler to inline into the callers' loops over rows.
//!
//! Rows shorter than one step, CPUs without AVX2 and element types other
//! than `f32`/`f64` are left to the caller (0 windows done); a last step
//! overlapping the one before covers a remainder.

use core_tensor::Float;

use crate::argmax::Offset;
#[cfg(target_arch = "x86_64")]
use crate::simd::avx2::{F32x8, F64x4};

/// Writes the maxima of windows `0..y.len()` of the `R` rows (and their codes
/// `0..3R` into `t`, when given), returning whether every value it read from
/// the rows marked `real` was finite; `None`, having written nothing, when
/// it cannot (see the module docs). Each row holds at least `2·y.len() + 1`
/// values and `t` has the length of `y`. Rows not marked `real` (padding)
/// may hold minus infinity. When a real value is not finite, the outputs
/// are not those of the scalar kernels and must be recomputed.
///
/// The check is a sum per row and lane of every value the steps load:
/// a NaN or an infinity makes the sum NaN or infinite, and finite values
/// only do so by overflow (a false alarm, which only costs the exact path).
/// Done in the steps, it needs no pass of its own over the plane, so
/// reading the plane from memory overlaps the computation.
#[inline(always)]
pub(crate) fn interior<F: Float, O: Offset, const R: usize>(
    rows: [&[F]; R],
    real: [bool; R],
    y: &mut [F],
    t: Option<&mut [O]>,
) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    {
        use core_tensor::simd::{same_slice, same_slice_mut};
        if !core_tensor::simd::has_avx2() {
            return None;
        }
        let codes = match t {
            Some(t) => Some(same_slice_mut::<O, u8>(t)?),
            None => None,
        };
        if let Some(y) = same_slice_mut::<F, f32>(y) {
            let rows = rows.map(|r| same_slice::<F, f32>(r).expect("F is f32"));
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            return unsafe { avx2::steps::<F32x8, R>(rows, real, y, codes) };
        }
        if let Some(y) = same_slice_mut::<F, f64>(y) {
            let rows = rows.map(|r| same_slice::<F, f64>(r).expect("F is f64"));
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            return unsafe { avx2::steps::<F64x4, R>(rows, real, y, codes) };
        }
        None
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (rows, real, y, t);
        None
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use crate::simd::lane::{Lanes, step_starts};

    /// See [`super::interior`]: the values-only steps or the steps with
    /// codes, `V::N` windows per step. Two entry points rather than one
    /// with a branch, so that each stays small enough for the compiler to
    /// inline into the callers' loops over output rows.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[inline(always)]
    pub(super) unsafe fn steps<V: Lanes, const R: usize>(
        rows: [&[V::Elem]; R],
        real: [bool; R],
        y: &mut [V::Elem],
        t: Option<&mut [u8]>,
    ) -> Option<bool>
    where
        V::Elem: Into<f64>,
    {
        // SAFETY (both): the caller guarantees AVX2.
        match t {
            None => unsafe { values::<V, R>(rows, real, y) },
            Some(t) => unsafe { coded::<V, R>(rows, real, y, t) },
        }
    }

    /// Whether the steps can run: at least one step of windows, and rows
    /// that hold every tap of the `n` windows.
    #[inline(always)]
    fn fits<T, const R: usize>(rows: &[&[T]; R], n: usize, l: usize) -> bool {
        n >= l && rows.iter().all(|r| r.len() > 2 * n)
    }

    /// Whether every value the steps read from the real rows was finite:
    /// the rows' sums `acc`, each lane `s - s`, ordered (not NaN) in every
    /// lane exactly when every sum is finite; and the real rows' last
    /// values (`r[2n]`, which the sums do not cover).
    #[inline(always)]
    fn finite<V: Lanes, const R: usize>(
        acc: [V; R],
        rows: [&[V::Elem]; R],
        real: [bool; R],
        n: usize,
    ) -> bool
    where
        V::Elem: Into<f64>,
    {
        let mut sum = V::zero();
        for (a, _) in acc.iter().zip(real).filter(|(_, real)| *real) {
            sum = sum.add(*a);
        }
        let d = sum.sub(sum);
        d.all_ordered() && (0..R).all(|k| !real[k] || rows[k][2 * n].into().is_finite())
    }

    /// The maxima of the windows, without codes (see the module docs).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn values<V: Lanes, const R: usize>(
        rows: [&[V::Elem]; R],
        real: [bool; R],
        y: &mut [V::Elem],
    ) -> Option<bool>
    where
        V::Elem: Into<f64>,
    {
        let (l, n) = (V::N, y.len());
        if !fits(&rows, n, l) {
            return None;
        }
        let mut acc = [V::zero(); R];
        for i in step_starts::<V>(0, n) {
            let mut m = V::zero();
            for (k, r) in rows.iter().enumerate() {
                let ([a, b, c], sum) = V::taps3(&r[2 * i..]);
                acc[k] = acc[k].add(sum);
                m = if k == 0 { a } else { a.max(m) };
                m = c.max(b.max(m));
            }
            m.window_order().store(&mut y[i..i + l]);
        }
        Some(finite(acc, rows, real, n))
    }

    /// The maxima of the windows and their codes (see the module docs).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn coded<V: Lanes, const R: usize>(
        rows: [&[V::Elem]; R],
        real: [bool; R],
        y: &mut [V::Elem],
        t: &mut [u8],
    ) -> Option<bool>
    where
        V::Elem: Into<f64>,
    {
        let (l, n) = (V::N, y.len());
        if !fits(&rows, n, l) || t.len() != n {
            return None;
        }
        let mut acc = [V::zero(); R];
        // The code of tap `t` (row-major in the window), in every lane.
        let codes: [V; 9] = std::array::from_fn(|t| V::code(t as u8));
        for i in step_starts::<V>(0, n) {
            // Row 0's first tap starts the running maximum (code 0).
            let (taps, sum) = V::taps3(&rows[0][2 * i..]);
            acc[0] = acc[0].add(sum);
            let (mut m, mut c) = (taps[0], V::zero());
            for (tap, &v) in taps.iter().enumerate().skip(1) {
                V::take(&mut m, &mut c, v, codes[tap]);
            }
            for k in 1..R {
                let (taps, sum) = V::taps3(&rows[k][2 * i..]);
                acc[k] = acc[k].add(sum);
                for (tap, &v) in taps.iter().enumerate() {
                    V::take(&mut m, &mut c, v, codes[3 * k + tap]);
                }
            }
            m.window_order().store(&mut y[i..i + l]);
            c.store_codes(&mut t[i..i + l]);
        }
        Some(finite(acc, rows, real, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::Rng;

    /// Tap-ordered maxima and codes of windows `0..n` of `R` rows.
    fn scalar<F: Float, const R: usize>(rows: [&[F]; R], n: usize) -> (Vec<F>, Vec<u8>) {
        (0..n)
            .map(|i| {
                let (mut m, mut c) = (rows[0][2 * i], 0u8);
                for (code, v) in (0..3 * R).map(|k| (k as u8, rows[k / 3][2 * i + k % 3])) {
                    if v > m {
                        (m, c) = (v, code);
                    }
                }
                (m, c)
            })
            .unzip()
    }

    fn check<F: Float>(rng: &mut Rng, n: usize, cast: impl Fn(f64) -> F) {
        let avx2 = core_tensor::simd::has_avx2();
        let lanes = if std::mem::size_of::<F>() == 4 { 8 } else { 4 };
        let len = 2 * n + 1 + rng.below(3);
        // Few distinct values, both zeros: many ties. Row 0 is padding
        // (minus infinity) in half the cases.
        let pad = rng.below(2) == 0;
        let rows: Vec<Vec<F>> = (0..3)
            .map(|k| {
                (0..len)
                    .map(|_| match rng.below(5) {
                        _ if k == 0 && pad => F::neg_infinity(),
                        0 => cast(-0.0),
                        1 => cast(0.0),
                        v => cast(v as f64 - 3.0),
                    })
                    .collect()
            })
            .collect();
        let real = [!pad, true, true];
        let r = [&rows[0][..], &rows[1][..], &rows[2][..]];
        let (want, want_codes) = scalar(r, n);
        let (mut y, mut t) = (vec![F::nan(); n], vec![99u8; n]);
        let done = interior(r, real, &mut y, Some(&mut t[..]));
        let mut yv = vec![F::nan(); n];
        let done_v = interior::<F, u8, 3>(r, real, &mut yv, None);
        if !avx2 || n < lanes {
            assert_eq!((done, done_v), (None, None));
            assert!(y.iter().chain(&yv).all(|v| v.is_nan()) && t.iter().all(|&c| c == 99));
            return;
        }
        assert_eq!((done, done_v), (Some(true), Some(true)), "n {n}");
        let bits = |v: &[F]| {
            v.iter()
                .map(|x| x.to_f64().unwrap().to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&y), bits(&want), "n {n}");
        assert_eq!(bits(&yv), bits(&want), "n {n}");
        assert_eq!(t, want_codes, "n {n}");
        // One row (1-d pooling).
        let (want1, want_codes1) = scalar([r[1]], n);
        assert_eq!(
            interior([r[1]], [true], &mut y, Some(&mut t[..])),
            Some(true)
        );
        assert_eq!(
            interior::<F, u8, 1>([r[1]], [true], &mut yv, None),
            Some(true)
        );
        assert_eq!(bits(&y), bits(&want1), "n {n}");
        assert_eq!(bits(&yv), bits(&want1), "n {n}");
        assert_eq!(t, want_codes1, "n {n}");
        // A NaN or an infinity anywhere a window reads in a real row is
        // reported, the last tap of the last window included; padding rows
        // are not checked.
        for (row, at, v) in [
            (1, 0, F::nan()),
            (2, 2 * n, F::infinity()),
            (1, n, F::neg_infinity()),
        ] {
            let mut bad = rows.clone();
            bad[row][at] = v;
            let r = [&bad[0][..], &bad[1][..], &bad[2][..]];
            assert_eq!(interior::<F, u8, 3>(r, real, &mut yv, None), Some(false));
            assert_eq!(interior(r, real, &mut y, Some(&mut t[..])), Some(false));
        }
        // Past the last window's taps nothing is read.
        if len > 2 * n + 1 {
            let mut past = rows.clone();
            past[1][2 * n + 1] = F::nan();
            let r = [&past[0][..], &past[1][..], &past[2][..]];
            assert_eq!(interior::<F, u8, 3>(r, real, &mut yv, None), Some(true));
        }
    }

    #[test]
    fn steps_equal_the_scalar_scan_bitwise_and_report_non_finite_values() {
        let mut rng = Rng::new(33);
        for n in [1usize, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 56, 100] {
            for _ in 0..4 {
                check::<f32>(&mut rng, n, |v| v as f32);
                check::<f64>(&mut rng, n, |v| v);
            }
        }
    }
}
