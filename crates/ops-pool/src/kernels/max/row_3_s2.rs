//! Max pooling of 1-d rows with 3 taps and stride 2 (no dilation), forward
//! with `u8` codes and backward.

use std::mem::MaybeUninit;

use core_tensor::Float;
use core_tensor::simd::wide;

use super::generic::update;
use crate::geometry::{AxisPlan, Geometry};
use crate::simd::max_3_s2;

/// One 1-d row with 3 taps and stride 2 (no dilation), its interior
/// windows in the AVX2 steps of [`max_3_s2`] (values and `u8`
/// codes in one pass, finiteness checked as the values are loaded), the
/// windows reaching into the padding with the exact update. Returns
/// `false` when it does not apply (other geometry, too few interior
/// windows, no AVX2, a value that is not finite): the caller then
/// recomputes every output.
pub(super) fn forward<F: Float>(xr: &[F], aw: &AxisPlan, y: &mut [F], t: &mut [u8]) -> bool {
    let (a, b) = aw.full;
    if !(aw.ext == 3 && aw.stride == Some(2) && aw.dil == 1 && a < b) {
        return false;
    }
    let base = aw.start[a] as usize;
    let xs = &xr[base..base + 2 * (b - a) + 1];
    let done = wide(
        #[inline(always)]
        || max_3_s2::interior([xs], [true], &mut y[a..b], Some(&mut t[a..b])),
    );
    if done != Some(true) {
        return false;
    }
    for ow in (0..a).chain(b..aw.out) {
        let (lo, hi) = (aw.lo[ow], aw.hi[ow]);
        let (mut m, mut c) = (F::neg_infinity(), lo as u32);
        for tw in lo..hi {
            update(&mut m, &mut c, xr[aw.pos(ow, tw)], tw as u32);
        }
        y[ow] = m;
        t[ow] = c as u8;
    }
    true
}

/// Whether `g` pools single rows (1-d) with 3 taps, stride 2 and no
/// dilation: [`backward`] handles its backward.
pub(super) fn applies(g: &Geometry) -> bool {
    let [ad, ah, aw] = &g.axes;
    let trivial = |a: &AxisPlan| a.ext == 1 && a.out == 1 && a.len == 1;
    trivial(ad) && trivial(ah) && aw.ext == 3 && aw.stride == Some(2) && aw.dil == 1
}

/// The backward of one row of windows of 3 taps with stride 2
/// ([`applies`]). Input `c` is tap 1 of one window, or tap 2 of window
/// `o` and tap 0 of window `o + 1`; it gets `0 + dy[o]` for each window
/// whose code points at it, added in window order: the values the zero
/// fill and scatter of the general backward give. Interior pairs of
/// positions are written in one loop over the windows, the ends position
/// by position.
#[inline(always)]
fn spread<F: Float>(dy: &[F], codes: &[u8], aw: &AxisPlan, dx: &mut [MaybeUninit<F>]) {
    let zero = F::zero();
    let (len, own, first) = (aw.len, aw.out, aw.start[0]);
    let take = |o: usize, tap: u8| if codes[o] == tap { dy[o] } else { zero };
    // One position: tap `t % 2` of window `t / 2`, and tap 2 of the window
    // before when `t` is even (`t` counted from the first window's start).
    let at = |c: usize| {
        let t = (c as isize - first) as usize;
        let (o, tap) = (t / 2, (t % 2) as u8);
        let mut sum = zero;
        if tap == 0 && o >= 1 && o - 1 < own {
            sum += take(o - 1, 2);
        }
        if o < own {
            sum += take(o, tap);
        }
        sum
    };
    // Windows `a .. b - 1` and the next one are whole: positions
    // `start[o] + 1` (tap 1 of `o` only) and `start[o] + 2` (tap 2 of `o`,
    // tap 0 of `o + 1`) for each such `o`.
    let (a, b) = aw.full;
    let pairs = b.saturating_sub(a + 1);
    let lo = if pairs > 0 {
        (aw.start[a] + 1) as usize
    } else {
        len
    };
    let hi = (lo + 2 * pairs).min(len);
    for (c, v) in dx[..lo].iter_mut().enumerate() {
        v.write(at(c));
    }
    let (a, e) = if pairs > 0 { (a, a + pairs) } else { (0, 0) };
    let windows =
        (dy[a..e].iter().zip(&codes[a..e])).zip(dy[a + 1..=e].iter().zip(&codes[a + 1..=e]));
    for (pair, ((&v, &k), (&next, &next_k))) in dx[lo..hi].chunks_exact_mut(2).zip(windows) {
        pair[0].write(zero + if k == 1 { v } else { zero });
        pair[1]
            .write((zero + if k == 2 { v } else { zero }) + if next_k == 0 { next } else { zero });
    }
    for (c, v) in dx[hi..].iter_mut().enumerate() {
        v.write(at(hi + c));
    }
}

/// The backward of one row ([`applies`] holds) from its codes; always done.
pub(super) fn backward<F: Float>(
    dy: &[F],
    codes: &[u8],
    aw: &AxisPlan,
    dx: &mut [MaybeUninit<F>],
) -> bool {
    wide(
        #[inline(always)]
        || spread(dy, codes, aw, dx),
    );
    true
}
