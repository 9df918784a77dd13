//! Windows of two adjacent taps at stride 2 along a row (the 2×2, stride 2
//! average and max pooling of the benchmarks), eight `f32` or four `f64`
//! windows per AVX2 step:
//!
//! - [`add_pair_sums`]: `y[i] += x[2i] + x[2i+1]` (forward);
//! - [`add_spread`]: `x[2i] += c[i]`, `x[2i+1] += c[i]` (backward);
//! - [`put_quad_means`]: the means of the 2×2 windows of two rows, written
//!   once (forward of windows tiling a plane);
//! - [`put_spread_twice`]: each value written four times, `0 + c[i]`, over
//!   a 2×2 window of two rows (its backward);
//! - [`put_quad_max`]: the maxima of the 2×2 windows of two rows and their
//!   codes (forward of max pooling with codes);
//! - [`put_coded_spread_twice`]: each value written once, at the tap its
//!   code names, zeros elsewhere (the backward of 2×2 max pooling).
//!
//! The forward splits even and odd positions with in-lane shuffles (which
//! leave the 64-bit pairs in the order 0, 2, 1, 3) and restores the order
//! with one cross-lane permute; the backward duplicates each value with
//! unpacks and lane permutes. Every lane does the same rounded operations,
//! in the same order, as the scalar loops, so the results are bitwise the
//! same. Each step is written once, generic over the lane type
//! ([`super::lane::Lanes`]: eight `f32` or four `f64` lanes), in a function
//! compiled for AVX2.

use std::mem::MaybeUninit;

use core_tensor::Float;

#[cfg(target_arch = "x86_64")]
use crate::simd::avx2::{F32x8, F64x4};

/// `y[i] += x[2i] + x[2i+1]` for as many whole steps as fit; returns how
/// many `y` it updated (0 without AVX2 or for an element type other than
/// `f32`/`f64`). `x` holds at least `2·y.len()` values.
#[inline(always)]
pub(crate) fn add_pair_sums<F: Float>(x: &[F], y: &mut [F]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        core_tensor::simd::on_avx2_floats(
            x,
            y,
            // SAFETY (both): `on_avx2_floats` calls these only on a CPU with AVX2.
            |x, y| unsafe { avx2::pair_sums::<F32x8>(x, y) },
            |x, y| unsafe { avx2::pair_sums::<F64x4>(x, y) },
        )
        .unwrap_or(0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, y);
        0
    }
}

/// `x[2i] += c[i]`, `x[2i+1] += c[i]` for as many whole steps as fit;
/// returns how many `c` it spread (0 as for [`add_pair_sums`]). `x` holds
/// at least `2·c.len()` values.
#[inline(always)]
pub(crate) fn add_spread<F: Float>(x: &mut [F], c: &[F]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        core_tensor::simd::on_avx2_floats(
            c,
            x,
            // SAFETY (both): `on_avx2_floats` calls these only on a CPU with AVX2.
            |c, x| unsafe { avx2::spread::<F32x8>(x, c) },
            |c, x| unsafe { avx2::spread::<F64x4>(x, c) },
        )
        .unwrap_or(0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, c);
        0
    }
}

/// How the window sums of [`put_quad_means`] become means: times one factor
/// (an exact reciprocal), or divided by each output's divisor.
#[derive(Clone, Copy)]
pub(crate) enum Mean<'a, F> {
    /// `sum * k`.
    Times(F),
    /// `sum / d[i]`.
    Over(&'a [F]),
}

/// `y[i] = ((0 + (t[2i] + t[2i+1])) + (b[2i] + b[2i+1]))` times `k` or over
/// `d[i]` ([`Mean`]), written for as many whole steps as fit; returns how
/// many `y` it wrote (0 as for [`add_pair_sums`]). `t` and `b` hold at
/// least `2·y.len()` values, `d` (when given) `y.len()`. The same rounded
/// operations in the same order as the scalar loop, so the same bits.
#[inline(always)]
pub(crate) fn put_quad_means<F: Float>(
    t: &[F],
    b: &[F],
    mean: Mean<'_, F>,
    y: &mut [MaybeUninit<F>],
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use core_tensor::simd::{same_slice, same_slice_mut};
        if !core_tensor::simd::has_avx2() {
            return 0;
        }
        let (k, d) = match mean {
            Mean::Times(k) => (Some(k), None),
            Mean::Over(d) => (None, Some(d)),
        };
        if let (Some(t), Some(b), Some(y)) = (
            same_slice::<F, f32>(t),
            same_slice::<F, f32>(b),
            same_slice_mut::<MaybeUninit<F>, MaybeUninit<f32>>(y),
        ) {
            // `F` is `f32`: the conversion is exact.
            let k = k.map(|k| k.widen() as f32);
            let d = d.and_then(same_slice::<F, f32>);
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            return unsafe { avx2::quad_means::<F32x8>(t, b, k, d, y) };
        }
        if let (Some(t), Some(b), Some(y)) = (
            same_slice::<F, f64>(t),
            same_slice::<F, f64>(b),
            same_slice_mut::<MaybeUninit<F>, MaybeUninit<f64>>(y),
        ) {
            let k = k.map(|k| k.widen());
            let d = d.and_then(same_slice::<F, f64>);
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            return unsafe { avx2::quad_means::<F64x4>(t, b, k, d, y) };
        }
        0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (t, b, mean, y);
        0
    }
}

/// `t[2i] = t[2i+1] = b[2i] = b[2i+1] = 0 + c[i]` for as many whole steps
/// as fit; returns how many `c` it spread (0 as for [`add_pair_sums`]).
/// `t` and `b` hold at least `2·c.len()` values.
#[inline(always)]
pub(crate) fn put_spread_twice<F: Float>(
    c: &[F],
    t: &mut [MaybeUninit<F>],
    b: &mut [MaybeUninit<F>],
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use core_tensor::simd::{same_slice, same_slice_mut};
        if !core_tensor::simd::has_avx2() {
            return 0;
        }
        type U<T> = MaybeUninit<T>;
        if let (Some(c), Some(t), Some(b)) = (
            same_slice::<F, f32>(c),
            same_slice_mut::<U<F>, U<f32>>(t),
            same_slice_mut::<U<F>, U<f32>>(b),
        ) {
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            return unsafe { avx2::spread_twice::<F32x8>(c, t, b) };
        }
        if let (Some(c), Some(t), Some(b)) = (
            same_slice::<F, f64>(c),
            same_slice_mut::<U<F>, U<f64>>(t),
            same_slice_mut::<U<F>, U<f64>>(b),
        ) {
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            return unsafe { avx2::spread_twice::<F64x4>(c, t, b) };
        }
        0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (c, t, b);
        0
    }
}

/// The backward of 2×2 max pooling over two rows `t` and `b` from the
/// windows' gradients `dy` and in-window codes (0 to 3, row-major):
/// `t[2i + k] = 0 + dy[i]` when `codes[i] == k`, `b[2i + k]` likewise for
/// code `2 + k`, `+0.0` elsewhere; for as many whole steps as fit. Returns
/// how many windows it wrote (0 as for [`add_pair_sums`]). `t` and `b`
/// hold at least `2·dy.len()` values, `codes` `dy.len()`.
#[inline(always)]
pub(crate) fn put_coded_spread_twice<F: Float>(
    dy: &[F],
    codes: &[u8],
    t: &mut [MaybeUninit<F>],
    b: &mut [MaybeUninit<F>],
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use core_tensor::simd::{same_slice, same_slice_mut};
        if !core_tensor::simd::has_avx2() {
            return 0;
        }
        type U<T> = MaybeUninit<T>;
        if let (Some(dy), Some(t), Some(b)) = (
            same_slice::<F, f32>(dy),
            same_slice_mut::<U<F>, U<f32>>(t),
            same_slice_mut::<U<F>, U<f32>>(b),
        ) {
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            return unsafe { avx2::coded_spread::<F32x8>(dy, codes, t, b) };
        }
        if let (Some(dy), Some(t), Some(b)) = (
            same_slice::<F, f64>(dy),
            same_slice_mut::<U<F>, U<f64>>(t),
            same_slice_mut::<U<F>, U<f64>>(b),
        ) {
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            return unsafe { avx2::coded_spread::<F64x4>(dy, codes, t, b) };
        }
        0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (dy, codes, t, b);
        0
    }
}

/// The maxima of the 2×2 windows of two rows `t` and `b` (window `i`
/// takes `t[2i]`, `t[2i+1]`, `b[2i]`, `b[2i+1]`) into `y`, and their codes
/// 0 to 3 into `codes`: the first maximum in that order (a later tap wins
/// only when strictly larger), for as many whole steps as fit. Returns how
/// many windows it wrote (0 as for [`add_pair_sums`], or when the codes are
/// not bytes) and whether the values it read were free of NaN (when not,
/// its outputs are not PyTorch's and must be recomputed). `t` and `b` hold
/// at least `2·y.len()` values, `codes` `y.len()`.
#[inline(always)]
pub(crate) fn put_quad_max<F: Float, O: 'static>(
    t: &[F],
    b: &[F],
    y: &mut [F],
    codes: &mut [O],
) -> (usize, bool) {
    #[cfg(target_arch = "x86_64")]
    {
        use core_tensor::simd::{same_slice, same_slice_mut};
        let Some(codes) = same_slice_mut::<O, u8>(codes) else {
            return (0, true);
        };
        if !core_tensor::simd::has_avx2() {
            return (0, true);
        }
        if let (Some(t), Some(b), Some(y)) = (
            same_slice::<F, f32>(t),
            same_slice::<F, f32>(b),
            same_slice_mut::<F, f32>(y),
        ) {
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            return unsafe { avx2::quad_max::<F32x8>(t, b, y, codes) };
        }
        if let (Some(t), Some(b), Some(y)) = (
            same_slice::<F, f64>(t),
            same_slice::<F, f64>(b),
            same_slice_mut::<F, f64>(y),
        ) {
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            return unsafe { avx2::quad_max::<F64x4>(t, b, y, codes) };
        }
        (0, true)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (t, b, y, codes);
        (0, true)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::mem::MaybeUninit;

    use core_tensor::Float;

    use crate::simd::lane::Lanes;

    /// The sums of the pairs of the `2N` values `v0`, `v1`, in the lane
    /// order of [`Lanes::even_odd`].
    #[inline(always)]
    fn pair_sums_of<V: Lanes>(v0: V, v1: V) -> V {
        let (even, odd) = V::even_odd(v0, v1);
        even.add(odd)
    }

    /// See [`super::add_pair_sums`].
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn pair_sums<V: Lanes>(x: &[V::Elem], y: &mut [V::Elem]) -> usize {
        let l = V::N;
        let n = y.len().min(x.len() / 2) / l * l;
        for (w, yo) in x[..2 * n]
            .chunks_exact(2 * l)
            .zip(y[..n].chunks_exact_mut(l))
        {
            let p = pair_sums_of(V::load(w), V::load(&w[l..])).window_order();
            V::load(yo).add(p).store(yo);
        }
        n
    }

    /// See [`super::add_spread`].
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn spread<V: Lanes>(x: &mut [V::Elem], c: &[V::Elem]) -> usize {
        let l = V::N;
        let n = c.len().min(x.len() / 2) / l * l;
        for (w, cs) in x[..2 * n]
            .chunks_exact_mut(2 * l)
            .zip(c[..n].chunks_exact(l))
        {
            let c = V::load(cs);
            let (first, second) = V::interleave(c, c);
            let (w0, w1) = w.split_at_mut(l);
            V::load(w0).add(first).store(w0);
            V::load(w1).add(second).store(w1);
        }
        n
    }

    /// See [`super::put_quad_means`] (`k` for `Mean::Times`, `d` for
    /// `Mean::Over`).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn quad_means<V: Lanes>(
        t: &[V::Elem],
        b: &[V::Elem],
        k: Option<V::Elem>,
        d: Option<&[V::Elem]>,
        y: &mut [MaybeUninit<V::Elem>],
    ) -> usize {
        let l = V::N;
        let n = y.len().min(t.len() / 2).min(b.len() / 2) / l * l;
        if d.is_some_and(|d| d.len() < n) {
            return 0;
        }
        let zero = V::zero();
        // The window sums of one step, in window order.
        let sums = |tw: &[V::Elem], bw: &[V::Elem]| {
            let p = pair_sums_of(V::load(tw), V::load(&tw[l..]));
            let q = pair_sums_of(V::load(bw), V::load(&bw[l..]));
            zero.add(p).add(q).window_order()
        };
        let steps = y[..n].chunks_exact_mut(l).zip(
            t[..2 * n]
                .chunks_exact(2 * l)
                .zip(b[..2 * n].chunks_exact(2 * l)),
        );
        match d {
            Some(d) => {
                for ((yo, (tw, bw)), ds) in steps.zip(d[..n].chunks_exact(l)) {
                    sums(tw, bw).div(V::load(ds)).store_uninit(yo);
                }
            }
            None => {
                let kv = V::splat(k.unwrap_or(V::Elem::cast(1.0)));
                for (yo, (tw, bw)) in steps {
                    sums(tw, bw).mul(kv).store_uninit(yo);
                }
            }
        }
        n
    }

    /// See [`super::put_spread_twice`].
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn spread_twice<V: Lanes>(
        c: &[V::Elem],
        t: &mut [MaybeUninit<V::Elem>],
        b: &mut [MaybeUninit<V::Elem>],
    ) -> usize {
        let l = V::N;
        let n = c.len().min(t.len() / 2).min(b.len() / 2) / l * l;
        let zero = V::zero();
        let rows = t[..2 * n]
            .chunks_exact_mut(2 * l)
            .zip(b[..2 * n].chunks_exact_mut(2 * l));
        for ((tw, bw), cs) in rows.zip(c[..n].chunks_exact(l)) {
            let v = zero.add(V::load(cs));
            let (first, second) = V::interleave(v, v);
            for w in [tw, bw] {
                first.store_uninit(w);
                second.store_uninit(&mut w[l..]);
            }
        }
        n
    }

    /// See [`super::put_coded_spread_twice`].
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn coded_spread<V: Lanes>(
        dy: &[V::Elem],
        codes: &[u8],
        t: &mut [MaybeUninit<V::Elem>],
        b: &mut [MaybeUninit<V::Elem>],
    ) -> usize {
        let l = V::N;
        let n = dy.len().min(codes.len()).min(t.len() / 2).min(b.len() / 2) / l * l;
        let zero = V::zero();
        let rows = t[..2 * n]
            .chunks_exact_mut(2 * l)
            .zip(b[..2 * n].chunks_exact_mut(2 * l));
        let windows = dy[..n].chunks_exact(l).zip(codes[..n].chunks_exact(l));
        for ((tw, bw), (ds, cs)) in rows.zip(windows) {
            let v = zero.add(V::load(ds));
            let wide = V::load_codes(cs);
            let [m0, m1, m2, m3] = [
                V::code_mask(wide, 0),
                V::code_mask(wide, 1),
                V::code_mask(wide, 2),
                V::code_mask(wide, 3),
            ];
            let top = V::interleave(v.and(m0), v.and(m1));
            let bottom = V::interleave(v.and(m2), v.and(m3));
            for (w, (first, second)) in [(tw, top), (bw, bottom)] {
                first.store_uninit(w);
                second.store_uninit(&mut w[l..]);
            }
        }
        n
    }

    /// See [`super::put_quad_max`].
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn quad_max<V: Lanes>(
        t: &[V::Elem],
        b: &[V::Elem],
        y: &mut [V::Elem],
        codes: &mut [u8],
    ) -> (usize, bool) {
        let l = V::N;
        let n = y.len().min(codes.len()).min(t.len() / 2).min(b.len() / 2) / l * l;
        let (one, two, three) = (V::code(1), V::code(2), V::code(3));
        let mut nan = V::zero();
        for i in (0..n).step_by(l) {
            let (tw, bw) = (&t[2 * i..2 * i + 2 * l], &b[2 * i..2 * i + 2 * l]);
            let (tv, tu) = (V::load(tw), V::load(&tw[l..]));
            let (bv, bu) = (V::load(bw), V::load(&bw[l..]));
            nan = nan.or(V::unordered(tv, tu).or(V::unordered(bv, bu)));
            let (t0, t1) = V::even_odd(tv, tu);
            let (b0, b1) = V::even_odd(bv, bu);
            let (mut m, mut c) = (t0, V::zero());
            V::take(&mut m, &mut c, t1, one);
            V::take(&mut m, &mut c, b0, two);
            V::take(&mut m, &mut c, b1, three);
            m.window_order().store(&mut y[i..i + l]);
            c.store_codes(&mut codes[i..i + l]);
        }
        (n, !nan.any_lane())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::Rng;
    use core_tensor::testing::rounding_values as values;

    #[test]
    fn steps_equal_the_scalar_loops_bitwise() {
        let mut rng = Rng::new(22);
        let avx2 = core_tensor::simd::has_avx2();
        for n in [0usize, 1, 3, 4, 5, 7, 8, 9, 16, 17, 31, 100] {
            let x64 = values(&mut rng, 2 * n + 1);
            let y64 = values(&mut rng, n);
            let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
            let y32: Vec<f32> = y64.iter().map(|&v| v as f32).collect();
            // Forward: the steps, then the scalar loop for the rest.
            let fwd = |x: &[f64], y: &[f64]| -> Vec<f64> {
                y.iter()
                    .enumerate()
                    .map(|(i, &v)| v + (x[2 * i] + x[2 * i + 1]))
                    .collect()
            };
            let fwd32 = |x: &[f32], y: &[f32]| -> Vec<f32> {
                y.iter()
                    .enumerate()
                    .map(|(i, &v)| v + (x[2 * i] + x[2 * i + 1]))
                    .collect()
            };
            let (mut a64, mut a32) = (y64.clone(), y32.clone());
            let (k64, k32) = (add_pair_sums(&x64, &mut a64), add_pair_sums(&x32, &mut a32));
            assert_eq!(
                (k64, k32),
                if avx2 { (n / 4 * 4, n / 8 * 8) } else { (0, 0) }
            );
            let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let bits32 = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits64(&a64[..k64]),
                bits64(&fwd(&x64, &y64)[..k64]),
                "n {n}"
            );
            assert_eq!(
                bits32(&a32[..k32]),
                bits32(&fwd32(&x32, &y32)[..k32]),
                "n {n}"
            );
            assert_eq!(bits64(&a64[k64..]), bits64(&y64[k64..]));
            // Backward.
            let (mut s64, mut s32) = (x64.clone(), x32.clone());
            let (j64, j32) = (add_spread(&mut s64, &y64), add_spread(&mut s32, &y32));
            assert_eq!((j64, j32), (k64, k32));
            for i in 0..2 * n + 1 {
                let (w64, w32) = if i / 2 < j64 {
                    (x64[i] + y64[i / 2], x32[i])
                } else {
                    (x64[i], x32[i])
                };
                assert_eq!(s64[i].to_bits(), w64.to_bits(), "n {n} at {i}");
                let w32 = if i / 2 < j32 { w32 + y32[i / 2] } else { w32 };
                assert_eq!(s32[i].to_bits(), w32.to_bits(), "n {n} at {i}");
            }
        }
    }

    /// The written steps of [`put_quad_means`] (both ways to divide),
    /// [`put_spread_twice`] and [`put_coded_spread_twice`] against their
    /// scalar formulas, bit for bit, with signed zeros and rounding sums;
    /// nothing past what they report is written.
    #[test]
    fn written_steps_equal_the_scalar_formulas_bitwise() {
        fn check<F: Float>(rng: &mut Rng, n: usize, lanes: usize, cast: impl Fn(f64) -> F) {
            let avx2 = core_tensor::simd::has_avx2();
            let want_done = if avx2 { n / lanes * lanes } else { 0 };
            let vals = |rng: &mut Rng, k: usize| -> Vec<F> {
                values(rng, k).into_iter().map(&cast).collect()
            };
            let (t, b, c) = (vals(rng, 2 * n + 1), vals(rng, 2 * n + 1), vals(rng, n));
            let d: Vec<F> = (0..n).map(|i| cast(1.0 + (i % 3) as f64)).collect();
            let zero = F::zero();
            let sum = |i: usize| (zero + (t[2 * i] + t[2 * i + 1])) + (b[2 * i] + b[2 * i + 1]);
            let sentinel = cast(7.25);
            for (mean, want) in [
                (
                    Mean::Times(cast(0.25)),
                    (0..n).map(|i| sum(i) * cast(0.25)).collect::<Vec<F>>(),
                ),
                (Mean::Over(&d[..]), (0..n).map(|i| sum(i) / d[i]).collect()),
            ] {
                let mut y = vec![MaybeUninit::new(sentinel); n];
                let done = put_quad_means(&t, &b, mean, &mut y);
                assert_eq!(done, want_done, "n {n}");
                for (i, v) in y.iter().enumerate() {
                    // SAFETY: every element was initialized above.
                    let v = unsafe { v.assume_init() };
                    let w = if i < done { want[i] } else { sentinel };
                    assert_eq!(v.to_f64().unwrap().to_bits(), w.to_f64().unwrap().to_bits());
                }
            }
            let (mut top, mut bottom) = (
                vec![MaybeUninit::new(sentinel); 2 * n + 1],
                vec![MaybeUninit::new(sentinel); 2 * n + 1],
            );
            let done = put_spread_twice(&c, &mut top, &mut bottom);
            assert_eq!(done, want_done, "n {n}");
            for row in [&top, &bottom] {
                for (i, v) in row.iter().enumerate() {
                    // SAFETY: every element was initialized above.
                    let v = unsafe { v.assume_init() };
                    let w = if i / 2 < done {
                        zero + c[i / 2]
                    } else {
                        sentinel
                    };
                    assert_eq!(v.to_f64().unwrap().to_bits(), w.to_f64().unwrap().to_bits());
                }
            }
            // Codes 0..4 name the tap of each window; the others get +0.0.
            let codes: Vec<u8> = (0..n).map(|_| rng.below(4) as u8).collect();
            let (mut top, mut bottom) = (
                vec![MaybeUninit::new(sentinel); 2 * n + 1],
                vec![MaybeUninit::new(sentinel); 2 * n + 1],
            );
            let done = put_coded_spread_twice(&c, &codes, &mut top, &mut bottom);
            assert_eq!(done, want_done, "n {n}");
            for (r, row) in [&top, &bottom].into_iter().enumerate() {
                for (i, v) in row.iter().enumerate() {
                    // SAFETY: every element was initialized above.
                    let v = unsafe { v.assume_init() };
                    let (o, tap) = (i / 2, (2 * r + i % 2) as u8);
                    let w = match o < done {
                        true if codes[o] == tap => zero + c[o],
                        true => zero,
                        false => sentinel,
                    };
                    assert_eq!(v.to_f64().unwrap().to_bits(), w.to_f64().unwrap().to_bits());
                }
            }
        }
        let mut rng = Rng::new(23);
        for n in [0usize, 1, 3, 4, 5, 7, 8, 9, 16, 17, 31, 100] {
            check::<f64>(&mut rng, n, 4, |v| v);
            check::<f32>(&mut rng, n, 8, |v| v as f32);
        }
    }

    /// The steps of [`put_quad_max`] against the scalar first-maximum scan
    /// of each window (taps `t[2i]`, `t[2i+1]`, `b[2i]`, `b[2i+1]`), bit for
    /// bit in values and codes, on few distinct values with both zeros (many
    /// ties); a NaN anywhere in the windows they cover is reported.
    #[test]
    fn quad_max_steps_equal_the_first_maximum_scan() {
        fn check<F: Float>(rng: &mut Rng, n: usize, lanes: usize, cast: impl Fn(f64) -> F) {
            let avx2 = core_tensor::simd::has_avx2();
            let want_done = if avx2 { n / lanes * lanes } else { 0 };
            let pick = |rng: &mut Rng| match rng.below(5) {
                0 => cast(-0.0),
                1 => cast(0.0),
                v => cast(v as f64 - 3.0),
            };
            let t: Vec<F> = (0..2 * n + 1).map(|_| pick(rng)).collect();
            let b: Vec<F> = (0..2 * n + 1).map(|_| pick(rng)).collect();
            let sentinel = cast(7.25);
            let (mut y, mut codes) = (vec![sentinel; n], vec![9u8; n]);
            let (done, clean) = put_quad_max(&t, &b, &mut y, &mut codes);
            assert_eq!((done, clean), (want_done, true), "n {n}");
            for i in 0..n {
                let (mut m, mut c) = (t[2 * i], 0u8);
                for (v, code) in [(t[2 * i + 1], 1), (b[2 * i], 2), (b[2 * i + 1], 3)] {
                    if v > m {
                        (m, c) = (v, code);
                    }
                }
                let (m, c) = if i < done { (m, c) } else { (sentinel, 9) };
                assert_eq!(
                    y[i].to_f64().unwrap().to_bits(),
                    m.to_f64().unwrap().to_bits()
                );
                assert_eq!(codes[i], c, "n {n} window {i}");
            }
            if done > 0 {
                for (row, at) in [(0, 0), (1, 2 * done - 1)] {
                    let (mut t, mut b) = (t.clone(), b.clone());
                    [&mut t, &mut b][row][at] = F::nan();
                    assert!(!put_quad_max(&t, &b, &mut y, &mut codes).1, "n {n}");
                }
            }
        }
        let mut rng = Rng::new(24);
        for n in [0usize, 1, 3, 4, 5, 7, 8, 9, 16, 17, 31, 100] {
            check::<f64>(&mut rng, n, 4, |v| v);
            check::<f32>(&mut rng, n, 8, |v| v as f32);
        }
    }
}
