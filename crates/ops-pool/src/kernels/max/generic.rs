//! The general max pooling kernel: any window, stride, dilation and
//! padding, NaN included. One plane in two passes, each of which the
//! compiler vectorises: along rows (every input row's window maxima and
//! their tap codes), then across rows (the window's rows combined in
//! row-major order). Row-major tap order is kept, so ties keep the first
//! maximum and the last NaN wins, as in one scan.

use std::hint::select_unpredictable;

use core_tensor::Float;

use super::common::{Scratch, has_nan};
use crate::argmax::{Code, NoOffset, Offset};
use crate::geometry::{AxisPlan, Geometry};
use crate::simd::max_3_s2;

/// A 1-d plane (a single row): the row pass is the whole job, its codes
/// narrowed into `t`.
#[inline(always)]
pub(super) fn row<F: Float, O: Offset>(
    x: &[F],
    aw: &AxisPlan,
    y: &mut [F],
    t: &mut [O],
    c: &mut Vec<u32>,
) {
    let c = O::Code::scratch(c, aw.out);
    row_pass(x, aw, y, c);
    if O::KEPT {
        for (tv, &cv) in t.iter_mut().zip(c.iter()) {
            *tv = O::from_usize(cv.get() as usize);
        }
    }
}

/// One plane in two passes, each of which the compiler vectorises:
///
/// 1. along rows: for every input row and output column, the first
///    maximum of the row's taps (`hv`) and its tap index (`hc`);
/// 2. across rows: for every output row, the window's rows combined in
///    row-major order with the same rule.
///
/// Row-major tap order is kept (rows in order, taps in order within a row),
/// so ties keep the first maximum and the last NaN wins, as in one scan.
#[inline(always)]
pub(super) fn plane<F: Float, O: Offset>(
    x: &[F],
    g: &Geometry,
    y: &mut [F],
    t: &mut [O],
    scratch: &mut Scratch<F>,
) {
    let [ad, ah, aw] = &g.axes;
    let [dd, hh, ww] = g.in3();
    let own = aw.out;
    let nrows = dd * hh;
    let Scratch { hv, hc, c } = scratch;
    let c = O::Code::scratch(c, own);
    hv.resize(nrows * own, F::neg_infinity());
    let hc = O::Code::scratch(hc, nrows * own);
    for r in 0..nrows {
        let xr = &x[r * ww..(r + 1) * ww];
        row_pass(
            xr,
            aw,
            &mut hv[r * own..(r + 1) * own],
            &mut hc[r * own..(r + 1) * own],
        );
    }
    for od in 0..ad.out {
        for oh in 0..ah.out {
            let row = (od * ah.out + oh) * own;
            let yr = &mut y[row..row + own];
            let mut first = true;
            for td in ad.lo[od]..ad.hi[od] {
                for th in ah.lo[oh]..ah.hi[oh] {
                    let r = ad.pos(od, td) * hh + ah.pos(oh, th);
                    let (hvr, hcr) = (&hv[r * own..(r + 1) * own], &hc[r * own..(r + 1) * own]);
                    let cb = ((td * ah.ext + th) * aw.ext) as u32;
                    if first {
                        yr.copy_from_slice(hvr);
                        c.iter_mut()
                            .zip(hcr)
                            .for_each(|(cv, &h)| *cv = Code::at(cb + h.get()));
                        first = false;
                    } else {
                        combine_row(yr, c, hvr, hcr, cb);
                    }
                }
            }
            if O::KEPT {
                for (tv, &cv) in t[row..row + own].iter_mut().zip(c.iter()) {
                    *tv = O::from_usize(cv.get() as usize);
                }
            }
        }
    }
}

/// Whether the maximum of any subset of `x` has the same bits whatever the
/// order of the scan: no NaN (payloads, last-NaN rule) and no `-0.0` (it
/// compares equal to `0.0`, and the first one wins). Equal values are then
/// bitwise equal, so the window maximum does not depend on the tap order.
/// (`0.0` alone is fine: the zeros of a ReLU's output are all `0.0`.)
#[inline(always)]
pub(super) fn order_free<F: Float>(x: &[F]) -> bool {
    !x.iter().fold(false, |a, &v| {
        a | v.is_nan() | ((v == F::zero()) & v.is_sign_negative())
    })
}

/// Order-free planes (see [`order_free`]): per output row, the window's
/// input rows are first combined element-wise over the full width (unit
/// stride), then one row pass along the last axis: fewer strided taps than
/// a row pass per input row.
#[inline(always)]
pub(super) fn columns_first<F: Float>(x: &[F], g: &Geometry, y: &mut [F], vm: &mut Vec<F>) {
    let [ad, ah, aw] = &g.axes;
    let [_, hh, ww] = g.in3();
    let own = aw.out;
    vm.resize(ww, F::neg_infinity());
    for od in 0..ad.out {
        for oh in 0..ah.out {
            let row = (od * ah.out + oh) * own;
            let mut first = true;
            for td in ad.lo[od]..ad.hi[od] {
                for th in ah.lo[oh]..ah.hi[oh] {
                    let r = ad.pos(od, td) * hh + ah.pos(oh, th);
                    let xr = &x[r * ww..(r + 1) * ww];
                    if first {
                        vm.copy_from_slice(xr);
                        first = false;
                    } else {
                        vm.iter_mut()
                            .zip(xr)
                            .for_each(|(m, &v)| update_no_nan(m, &mut NoOffset, v, 0));
                    }
                }
            }
            row_pass(
                vm,
                aw,
                &mut y[row..row + own],
                NoOffset::scratch(&mut Vec::new(), own),
            );
        }
    }
}

/// `m, c <- v, cb + h` where `v` beats `m` (strictly larger, or NaN).
#[inline(always)]
fn combine_row<F: Float, C: Code>(m: &mut [F], c: &mut [C], v: &[F], h: &[C], cb: u32) {
    if has_nan(v) {
        for (((mv, cv), &vv), &hv) in m.iter_mut().zip(c.iter_mut()).zip(v).zip(h) {
            update(mv, cv, vv, cb + hv.get());
        }
        return;
    }
    for (((mv, cv), &vv), &hv) in m.iter_mut().zip(c.iter_mut()).zip(v).zip(h) {
        update_no_nan(mv, cv, vv, cb + hv.get());
    }
}

/// [`update`] for a value known not to be NaN: branch-free selects (a
/// running NaN in `m` is kept, since no number compares greater).
#[inline(always)]
fn update_no_nan<F: Float, C: Code>(m: &mut F, c: &mut C, v: F, code: u32) {
    let take = v > *m;
    *c = C::pick(take, code, *c);
    *m = select_unpredictable(take, v, *m);
}

/// The running-max update: a NaN always wins, otherwise only a strictly
/// larger value (first maximum wins ties). Written without branches.
#[inline(always)]
pub(super) fn update<F: Float, C: Code>(m: &mut F, c: &mut C, v: F, code: u32) {
    let take = (v > *m) | v.is_nan();
    *m = select_unpredictable(take, v, *m);
    *c = C::pick(take, code, *c);
}

/// The first maximum of every window's taps along one input row.
#[inline(always)]
pub(super) fn row_pass<F: Float, C: Code>(xr: &[F], aw: &AxisPlan, hv: &mut [F], hc: &mut [C]) {
    let (a, b) = aw.full;
    let fast = a < b
        && aw.dil == 1
        && aw.stride.is_some()
        && row_fixed(xr, aw, &mut hv[a..b], &mut hc[a..b]);
    if fast {
        row_edge(xr, aw, hv, hc, 0..a);
        row_edge(xr, aw, hv, hc, b..aw.out);
    } else {
        row_edge(xr, aw, hv, hc, 0..aw.out);
    }
}

/// Windows `range` of one row, any geometry.
#[inline(always)]
fn row_edge<F: Float, C: Code>(
    xr: &[F],
    aw: &AxisPlan,
    hv: &mut [F],
    hc: &mut [C],
    range: std::ops::Range<usize>,
) {
    for ow in range {
        let (lo, hi) = (aw.lo[ow], aw.hi[ow]);
        let mut m = F::neg_infinity();
        let mut c = C::at(lo as u32);
        for tw in lo..hi {
            update(&mut m, &mut c, xr[aw.pos(ow, tw)], tw as u32);
        }
        hv[ow] = m;
        hc[ow] = c;
    }
}

/// Interior windows (all taps inside the row, uniform stride, no
/// dilation) with the window size and stride as constants; rows holding a
/// NaN are left to the exact path (returns false).
#[inline(always)]
fn row_fixed<F: Float, C: Code>(xr: &[F], aw: &AxisPlan, hv: &mut [F], hc: &mut [C]) -> bool {
    let Some(s) = aw.stride else { return false };
    let base = aw.start[aw.full.0] as usize;
    let n = hv.len();
    let xs = &xr[base..base + (n - 1) * s + aw.ext];
    // Values only, 3 taps with stride 2: the AVX2 steps check the values
    // they read themselves (finite: their result stands), which spares a
    // pass of `has_nan` over the row. (With codes, 1-d rows take the steps
    // in `row_3_s2`, and the rows of 2-d planes are too short to gain.)
    if !C::KEPT
        && (aw.ext, s) == (3, 2)
        && max_3_s2::interior::<F, u8, 1>([xs], [true], hv, None) == Some(true)
    {
        return true;
    }
    if has_nan(xs) {
        return false;
    }
    match (aw.ext, s) {
        (2, 1) => row_k::<F, C, 2, 1>(xs, hv, hc),
        (2, 2) => row_k::<F, C, 2, 2>(xs, hv, hc),
        (3, 1) => row_k::<F, C, 3, 1>(xs, hv, hc),
        // Deinterleaving pays off on long rows only (see `PERF.md`).
        (3, 2) if n >= ROW_3_2_MIN => row_3_2(xs, hv, hc),
        (3, 2) => row_k::<F, C, 3, 2>(xs, hv, hc),
        (3, 3) => row_k::<F, C, 3, 3>(xs, hv, hc),
        (4, 4) => row_k::<F, C, 4, 4>(xs, hv, hc),
        (k, s) => row_dyn(xs, k, s, hv, hc),
    }
    true
}

#[inline(always)]
fn row_k<F: Float, C: Code, const K: usize, const S: usize>(xs: &[F], hv: &mut [F], hc: &mut [C]) {
    if K == S && !C::KEPT {
        // Adjacent windows, values only: a loop over `K`-chunks, which
        // vectorizes.
        for (h, w) in hv.iter_mut().zip(xs.chunks_exact(K)) {
            let mut mv = w[0];
            for &v in &w[1..] {
                mv = if v > mv { v } else { mv };
            }
            *h = mv;
        }
        return;
    }
    let n = hv.len().min(hc.len());
    assert!(xs.len() >= (n.max(1) - 1) * S + K);
    for i in 0..n {
        let mut mv = xs[i * S];
        let mut cv = C::at(0);
        for k in 1..K {
            update_no_nan(&mut mv, &mut cv, xs[i * S + k], k as u32);
        }
        hv[i] = mv;
        hc[i] = cv;
    }
}

/// Shortest row (in interior windows) given to [`row_3_2`].
pub(crate) const ROW_3_2_MIN: usize = 128;

/// `row_k::<3, 2>` on deinterleaved blocks: the taps of window `i` are
/// `x[2i]`, `x[2i+1]`, `x[2i+2]`, gathered into three contiguous lanes so
/// the tap-ordered combine runs on unit-stride data the compiler vectorises.
#[inline(always)]
fn row_3_2<F: Float, C: Code>(xs: &[F], hv: &mut [F], hc: &mut [C]) {
    const B: usize = 64;
    let n = hv.len().min(hc.len());
    assert!(xs.len() > 2 * n.max(1) - 2 + 2);
    let (mut t1, mut t2) = ([F::zero(); B], [F::zero(); B]);
    let mut i0 = 0;
    while i0 < n {
        let len = (n - i0).min(B);
        let (m, c) = (&mut hv[i0..i0 + len], &mut hc[i0..i0 + len]);
        let w = &xs[2 * i0..2 * (i0 + len) + 1];
        for (j, ((mv, cv), (a, b))) in m
            .iter_mut()
            .zip(c.iter_mut())
            .zip(t1.iter_mut().zip(t2.iter_mut()))
            .enumerate()
        {
            *mv = w[2 * j];
            *cv = C::at(0);
            *a = w[2 * j + 1];
            *b = w[2 * j + 2];
        }
        for ((mv, cv), &v) in m.iter_mut().zip(c.iter_mut()).zip(&t1[..len]) {
            update_no_nan(mv, cv, v, 1);
        }
        for ((mv, cv), &v) in m.iter_mut().zip(c.iter_mut()).zip(&t2[..len]) {
            update_no_nan(mv, cv, v, 2);
        }
        i0 += len;
    }
}

#[inline(always)]
fn row_dyn<F: Float, C: Code>(xs: &[F], k: usize, s: usize, hv: &mut [F], hc: &mut [C]) {
    for (i, (m, c)) in hv.iter_mut().zip(hc.iter_mut()).enumerate() {
        let mut mv = xs[i * s];
        let mut cv = C::at(0);
        for kk in 1..k {
            update_no_nan(&mut mv, &mut cv, xs[i * s + kk], kk as u32);
        }
        *m = mv;
        *c = cv;
    }
}
