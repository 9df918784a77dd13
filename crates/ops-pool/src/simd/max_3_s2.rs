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
//! The step bodies are written in the loops of the `#[target_feature]`
//! functions ([`core_tensor::simd::step_starts`]), with the code
//! constants built once before them. Passed to a helper as a closure, the
//! body is compiled out of line, its accumulators kept in memory and
//! row 0's taps run as a loop.
//!
//! Rows shorter than one step, CPUs
//! without AVX2 and element types other than `f32`/`f64` are left to the
//! caller (0 windows done); a last step overlapping the one before covers
//! a remainder.

use core_tensor::Float;

use crate::argmax::Offset;

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
            return unsafe { avx2::f32x8(rows, real, y, codes) };
        }
        if let Some(y) = same_slice_mut::<F, f64>(y) {
            let rows = rows.map(|r| same_slice::<F, f64>(r).expect("F is f64"));
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            return unsafe { avx2::f64x4(rows, real, y, codes) };
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
pub(crate) mod avx2 {
    use std::arch::x86_64::*;

    use core_tensor::simd::step_starts;

    use crate::simd::avx2::{
        code_pd, code_ps, order_pd, order_ps, store_codes_pd, store_codes_ps, take_pd, take_ps,
    };

    /// Taps 0, 1, 2 of windows `i..i + 8` of one row (`r[2i..2i + 17]`),
    /// windows in the lane order 0, 1, 4, 5, 2, 3, 6, 7, and the sum of
    /// `r[2i..2i + 16]` lane by lane (for the finiteness check).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn taps_f32(r: &[f32], i: usize) -> ([__m256; 3], __m256) {
        let w = &r[2 * i..2 * i + 17];
        // SAFETY: `w` holds 17 values: the loads at 0, 8, 2 and 9 read
        // eight each, within it.
        let (v0, v1, u0, u1) = unsafe {
            (
                _mm256_loadu_ps(w.as_ptr()),
                _mm256_loadu_ps(w.as_ptr().add(8)),
                _mm256_loadu_ps(w.as_ptr().add(2)),
                _mm256_loadu_ps(w.as_ptr().add(9)),
            )
        };
        let taps = [
            _mm256_shuffle_ps::<0x88>(v0, v1),
            _mm256_shuffle_ps::<0xDD>(v0, v1),
            _mm256_shuffle_ps::<0xD8>(u0, u1),
        ];
        (taps, _mm256_add_ps(v0, v1))
    }

    /// Taps 0, 1, 2 of windows `i..i + 4` of one row (`r[2i..2i + 9]`),
    /// windows in the lane order 0, 2, 1, 3, and the sum of `r[2i..2i + 8]`
    /// lane by lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn taps_f64(r: &[f64], i: usize) -> ([__m256d; 3], __m256d) {
        let w = &r[2 * i..2 * i + 9];
        // SAFETY: `w` holds nine values: the loads at 0, 4, 2 and 5 read
        // four each, within it.
        let (v0, v1, u0, u1) = unsafe {
            (
                _mm256_loadu_pd(w.as_ptr()),
                _mm256_loadu_pd(w.as_ptr().add(4)),
                _mm256_loadu_pd(w.as_ptr().add(2)),
                _mm256_loadu_pd(w.as_ptr().add(5)),
            )
        };
        let taps = [
            _mm256_unpacklo_pd(v0, v1),
            _mm256_unpackhi_pd(v0, v1),
            _mm256_shuffle_pd::<0b1010>(u0, u1),
        ];
        (taps, _mm256_add_pd(v0, v1))
    }

    /// Whether the real rows' last values (`r[2n]`, which the sums do not
    /// cover) are finite.
    #[inline(always)]
    fn last_finite<T: Copy + Into<f64>, const R: usize>(
        rows: [&[T]; R],
        real: [bool; R],
        n: usize,
    ) -> bool {
        (0..R).all(|k| !real[k] || rows[k][2 * n].into().is_finite())
    }

    /// The steps for one element type: `$l` windows per step, `$taps`
    /// the taps of one row, `$order` back to window order, `$code` a tap's
    /// code in every lane, `$take` the strictly-larger update, `$store_codes`
    /// the codes as bytes, `$cmp` and `$movemask` for the finiteness test
    /// (all `$full` lanes ordered).
    macro_rules! steps_fn {
        ($name:ident, $t:ty, $v:ty, $l:expr, $taps:ident, $zero:ident, $add:ident,
         $sub:ident, $max:ident, $store:ident, $order:ident, $code:ident, $take:ident,
         $store_codes:ident, $cmp:ident, $movemask:ident, $full:expr) => {
            /// `$l` windows per step; see the module docs.
            #[inline]
            #[target_feature(enable = "avx2")]
            pub(super) fn $name<const R: usize>(
                rows: [&[$t]; R],
                real: [bool; R],
                y: &mut [$t],
                t: Option<&mut [u8]>,
            ) -> Option<bool> {
                let n = y.len();
                if n < $l || rows.iter().any(|r| r.len() < 2 * n + 1) {
                    return None;
                }
                let mut acc = [$zero(); R];
                match t {
                    None => {
                        for i in step_starts::<{ $l }>(0, n) {
                            let mut m = $zero();
                            for (k, r) in rows.iter().enumerate() {
                                let ([a, b, c], sum) = $taps(r, i);
                                acc[k] = $add(acc[k], sum);
                                m = if k == 0 { a } else { $max(a, m) };
                                m = $max(c, $max(b, m));
                            }
                            let out = &mut y[i..i + $l];
                            // SAFETY: `out` holds `$l` values.
                            unsafe { $store(out.as_mut_ptr(), $order(m)) };
                        }
                    }
                    Some(t) => {
                        if t.len() != n {
                            return None;
                        }
                        // The code of tap `t` (row-major in the window), in
                        // every lane.
                        let codes: [$v; 9] = std::array::from_fn(|t| $code(t as _));
                        for i in step_starts::<{ $l }>(0, n) {
                            // Row 0's first tap starts the running maximum
                            // (code 0).
                            let (taps, sum) = $taps(rows[0], i);
                            acc[0] = $add(acc[0], sum);
                            let (mut m, mut c) = (taps[0], $zero());
                            for (tap, &v) in taps.iter().enumerate().skip(1) {
                                $take(&mut m, &mut c, v, codes[tap]);
                            }
                            for k in 1..R {
                                let (taps, sum) = $taps(rows[k], i);
                                acc[k] = $add(acc[k], sum);
                                for (tap, &v) in taps.iter().enumerate() {
                                    $take(&mut m, &mut c, v, codes[3 * k + tap]);
                                }
                            }
                            let out = &mut y[i..i + $l];
                            // SAFETY: `out` holds `$l` values.
                            unsafe { $store(out.as_mut_ptr(), $order(m)) };
                            $store_codes(c, &mut t[i..i + $l]);
                        }
                    }
                }
                // The real rows' sums, each lane `s - s`: ordered (not NaN)
                // in every lane exactly when every sum is finite.
                let mut sum = $zero();
                for (a, _) in acc.iter().zip(real).filter(|(_, real)| *real) {
                    sum = $add(sum, *a);
                }
                let d = $sub(sum, sum);
                let ordered = $movemask($cmp::<_CMP_ORD_Q>(d, d)) == $full;
                Some(ordered && last_finite(rows, real, n))
            }
        };
    }
    steps_fn!(
        f32x8,
        f32,
        __m256,
        8,
        taps_f32,
        _mm256_setzero_ps,
        _mm256_add_ps,
        _mm256_sub_ps,
        _mm256_max_ps,
        _mm256_storeu_ps,
        order_ps,
        code_ps,
        take_ps,
        store_codes_ps,
        _mm256_cmp_ps,
        _mm256_movemask_ps,
        0xFF
    );
    steps_fn!(
        f64x4,
        f64,
        __m256d,
        4,
        taps_f64,
        _mm256_setzero_pd,
        _mm256_add_pd,
        _mm256_sub_pd,
        _mm256_max_pd,
        _mm256_storeu_pd,
        order_pd,
        code_pd,
        take_pd,
        store_codes_pd,
        _mm256_cmp_pd,
        _mm256_movemask_pd,
        0xF
    );
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
