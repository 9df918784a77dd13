//! The backward of 2-d max pooling with 3×3 windows and stride 2 (the
//! ResNet stem, [`crate::kernels::max`]'s 3×3 stride-2 path), writing every input
//! gradient once from the codes of its windows: no zero fill, no scatter.
//!
//! Count positions from tap 0 of window 0 (`p = i - start[0]`, per axis).
//! Along an axis, an even position `2j` is tap 2 of window `j - 1` and tap
//! 0 of window `j`; an odd position `2j + 1` is tap 1 of window `j` (where
//! those windows exist). An input therefore lies in one, two or four
//! windows, and gets `0 + dy[o]` for each window `o` whose code points at
//! it, added in row-major window order: exactly the values of the zero fill
//! and scatter of the general backward, which adds `dy[o]` in output order.
//! (Adding `+0.0` for a window whose code points elsewhere changes
//! nothing: a sum starting at `+0.0` is never `-0.0`.)
//!
//! Each input row takes one window row (odd position) or two (even), and
//! within a row, AVX2 steps compute eight `f32` (four `f64`) windows' even
//! and odd positions at once: code bytes widened and compared, gradients
//! masked, sums in window order, even and odd positions interleaved (one
//! body, generic over the lane type [`super::lane::Lanes`]). The
//! positions at the ends of a row are done one by one. Without AVX2, or for
//! other element types, the caller keeps the general backward.
//!
//! Each row is computed in a small buffer and streamed to `dx` with
//! non-temporal stores ([`core_tensor::simd::stream_copy`]), so memory
//! sees only the write of `dx`, not a read of every line first (with
//! ordinary stores the write-once kernel was no faster than the scatter).

use std::mem::MaybeUninit;

use core_tensor::Float;

use crate::geometry::{AxisPlan, Geometry};
#[cfg(target_arch = "x86_64")]
use crate::simd::avx2::{F32x8, F64x4};

/// One window row contributing to an input row: its gradients, its codes
/// and the window-row tap `th` (0, 1 or 2) the input row is.
type WindowRow<'a, F> = (&'a [F], &'a [u8], u8);

/// Writes the gradient of one plane (`dy` and `codes` hold its outputs,
/// `dx` its inputs) and returns `true`, or returns `false` having written
/// nothing when AVX2 or the element type is missing. `g` must satisfy
/// [`crate::kernels::max`]'s 3×3 stride-2 path.
#[inline(always)]
pub(crate) fn plane<F: Float>(
    dy: &[F],
    codes: &[u8],
    g: &Geometry,
    dx: &mut [MaybeUninit<F>],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use core_tensor::simd::{same_slice, same_slice_mut};
        if !core_tensor::simd::has_avx2() {
            return false;
        }
        if let (Some(dy), Some(dx)) = (
            same_slice::<F, f32>(dy),
            same_slice_mut::<MaybeUninit<F>, MaybeUninit<f32>>(dx),
        ) {
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            unsafe { avx2::plane::<F32x8>(dy, codes, g, dx) };
            return true;
        }
        if let (Some(dy), Some(dx)) = (
            same_slice::<F, f64>(dy),
            same_slice_mut::<MaybeUninit<F>, MaybeUninit<f64>>(dx),
        ) {
            // SAFETY: `has_avx2()` (the crate-wide switch, false without AVX2) was checked above.
            unsafe { avx2::plane::<F64x4>(dy, codes, g, dx) };
            return true;
        }
        false
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (dy, codes, g, dx);
        false
    }
}

/// The window rows (at most two, in order) containing input row `r` of
/// `ah`, each with the tap `r` is in it.
fn window_rows(ah: &AxisPlan, r: usize) -> ([(usize, u8); 2], usize) {
    let p = (r as isize - ah.start[0]) as usize;
    let (i, odd) = (p / 2, p % 2 == 1);
    let mut out = [(0, 0); 2];
    let mut n = 0;
    let mut push = |o: usize, th: u8| {
        if o < ah.out {
            out[n] = (o, th);
            n += 1;
        }
    };
    if odd {
        push(i, 1);
    } else {
        if i >= 1 {
            push(i - 1, 2);
        }
        push(i, 0);
    }
    (out, n)
}

/// The gradient of input column `c` of one row from its window rows (see
/// the module docs), for the positions the steps do not cover.
#[inline(always)]
fn at<F: Float>(wins: &[WindowRow<'_, F>], aw: &AxisPlan, c: usize) -> F {
    let zero = F::zero();
    let p = (c as isize - aw.start[0]) as usize;
    let (j, odd) = (p / 2, p % 2 == 1);
    let take = |(dy, codes, th): &WindowRow<'_, F>, o: usize, tw: u8| {
        if o < aw.out && codes[o] == 3 * th + tw {
            dy[o]
        } else {
            zero
        }
    };
    let mut sum = zero;
    for w in wins {
        if odd {
            sum += take(w, j, 1);
        } else {
            if j >= 1 {
                sum += take(w, j - 1, 2);
            }
            sum += take(w, j, 0);
        }
    }
    sum
}

/// The windows `j_lo..j_end` whose even and odd positions the steps write
/// for a row of `aw`: window `j_lo - 1` exists, window `j_end - 1` is the
/// last one, and the positions `2·j_lo .. 2·j_end` are inside the row.
/// `None` when fewer than `lanes` windows qualify.
#[inline]
fn step_range(aw: &AxisPlan, lanes: usize) -> Option<(usize, usize)> {
    let off = (-aw.start[0]) as usize;
    let j_lo = off.div_ceil(2).max(1);
    let j_end = aw.out.min((aw.len + off) / 2);
    (j_end >= j_lo + lanes).then_some((j_lo, j_end))
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::mem::MaybeUninit;

    use core_tensor::Float;
    use core_tensor::simd::{stream_copy, stream_fence};

    use super::{WindowRow, at, step_range, window_rows};
    use crate::geometry::{AxisPlan, Geometry};
    use crate::simd::lane::{Lanes, step_starts};

    /// See [`super::plane`]; `V::N` windows per step.
    #[target_feature(enable = "avx2")]
    pub(super) fn plane<V: Lanes>(
        dy: &[V::Elem],
        codes: &[u8],
        g: &Geometry,
        dx: &mut [MaybeUninit<V::Elem>],
    ) {
        let [_, ah, aw] = &g.axes;
        let (w, own) = (aw.len, aw.out);
        let steps = step_range(aw, V::N);
        let zero = V::Elem::cast(0.0);
        // Each input row is computed here, then streamed to `dx`.
        let mut row = vec![zero; w];
        for (r, dxr) in dx.chunks_exact_mut(w).enumerate() {
            let (rows, n) = window_rows(ah, r);
            let win = |k: usize| -> WindowRow<'_, V::Elem> {
                let (o, th) = rows[k];
                (
                    &dy[o * own..(o + 1) * own],
                    &codes[o * own..(o + 1) * own],
                    th,
                )
            };
            match n {
                0 => row.fill(zero),
                1 => row_of::<V, 1>([win(0)], aw, steps, &mut row),
                _ => row_of::<V, 2>([win(0), win(1)], aw, steps, &mut row),
            }
            stream_copy(dxr, &row);
        }
        stream_fence();
    }

    /// Writes the positions of `dx` the steps do not cover, one by one.
    #[inline(always)]
    fn ends<T: Float>(
        wins: &[WindowRow<'_, T>],
        aw: &AxisPlan,
        covered: std::ops::Range<usize>,
        dx: &mut [T],
    ) {
        for c in (0..covered.start).chain(covered.end..dx.len()) {
            dx[c] = at(wins, aw, c);
        }
    }

    /// The gradients of the `V::N` windows from `j` (`dy[j..]`) where their
    /// code (`codes[j..]`, widened and compared) is `code`, else `+0.0`.
    #[inline(always)]
    fn masked<V: Lanes>(dy: &[V::Elem], codes: &[u8], j: usize, code: u8) -> V {
        let hit = V::code_mask(V::load_codes(&codes[j..j + V::N]), code);
        V::load(&dy[j..j + V::N]).and(hit)
    }

    /// One input row from its `N` window rows (`range` from
    /// [`step_range`]): the ends one by one, then steps of `V::N` windows'
    /// even and odd positions, summed in window order and interleaved.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn row_of<V: Lanes, const N: usize>(
        wins: [WindowRow<'_, V::Elem>; N],
        aw: &AxisPlan,
        range: Option<(usize, usize)>,
        dx: &mut [V::Elem],
    ) {
        let l = V::N;
        let Some((j_lo, j_end)) = range else {
            ends(&wins, aw, 0..0, dx);
            return;
        };
        let off = (-aw.start[0]) as usize;
        // Input column of position `2j` is `2j - off`.
        let (c_lo, c_end) = (2 * j_lo - off, 2 * j_end - off);
        ends(&wins, aw, c_lo..c_end, dx);
        for j in step_starts::<V>(j_lo, j_end) {
            let (mut even, mut odd) = (V::zero(), V::zero());
            for &(dy, codes, th) in &wins {
                even = even.add(masked::<V>(dy, codes, j - 1, 3 * th + 2));
                even = even.add(masked::<V>(dy, codes, j, 3 * th));
                odd = odd.add(masked::<V>(dy, codes, j, 3 * th + 1));
            }
            let (first, second) = V::interleave(even, odd);
            let out = &mut dx[2 * j - off..2 * j - off + 2 * l];
            first.store(out);
            second.store(&mut out[l..]);
        }
    }
}
