//! Max pooling with argmax for windows of 2 or 3 taps with stride 2 along
//! the last axis and any shape along the others (3-d windows, 2×2 windows
//! with padding, `1 × 3`, ...), on planes without NaN. The square 2-d
//! windows of most CNNs have a faster kernel of their own
//! ([`super::square_3x3_s2`]).
//!
//! The general kernel ([`super::generic`]) reduces every input row along the
//! last axis (strided taps, which vectorize poorly), then combines rows.
//! Here each output row first combines its window's input rows column by
//! column (unit stride), writing the column maxima and their row codes
//! split into even and odd columns; the windows along the last axis are
//! then `even[i], odd[i] (, even[i + 1])`, three unit-stride streams. Both
//! passes vectorize, and the strided work is done once per output row
//! instead of once per input row.
//!
//! Combining columns before rows changes the order the taps are seen in,
//! so the row pass breaks ties by the tap's row-major code: the candidate
//! wins if it is larger, or equal with a smaller code. On a plane without
//! NaN this picks exactly the tap (value bits and code) that a row-major
//! scan keeping the first maximum picks, whatever the order. (`0.0` and
//! `-0.0` compare equal and are ties like any other.)

use std::hint::select_unpredictable;

use core_tensor::Float;
use core_tensor::simd::wide;

use super::common::Scratch;
use crate::argmax::Offset;
use crate::geometry::Geometry;

/// Whether [`forward`] handles `g`: stride 2 and 2 or 3 taps along the last
/// axis, no dilation, at least one window with every tap inside the row.
pub(super) fn applies(g: &Geometry) -> bool {
    let aw = &g.axes[2];
    aw.stride == Some(2) && aw.dil == 1 && matches!(aw.ext, 2 | 3) && aw.full.0 < aw.full.1
}

/// One NaN-free plane (`applies(g)` holds): maxima into `y`, in-window
/// row-major codes into `t`.
pub(super) fn forward<F: Float, O: Offset>(
    x: &[F],
    g: &Geometry,
    y: &mut [F],
    t: &mut [O],
    scratch: &mut Scratch<F>,
) {
    // Compiled for AVX2 too, where the CPU has it (same results).
    wide(
        #[inline(always)]
        || match g.axes[2].ext {
            2 => plane_k::<F, O, 2>(x, g, y, t, scratch),
            _ => plane_k::<F, O, 3>(x, g, y, t, scratch),
        },
    )
}

/// `(m, c) <- (v, code)` when `v` is larger, or equal with a smaller code
/// (branch-free, so the loops around it vectorize).
#[inline(always)]
fn lex_update<F: Float>(m: &mut F, c: &mut u32, v: F, code: u32) {
    let take = (v > *m) | ((v == *m) & (code < *c));
    *c = select_unpredictable(take, code, *c);
    *m = select_unpredictable(take, v, *m);
}

/// Loop lengths are rounded up to a multiple of this, so the vectorized
/// loops have no scalar tail (whose data-dependent selects the compiler may
/// turn into branches, slow on random data). The extra lanes
/// compute on values past the interior windows and are never used.
const LANES: usize = 8;

#[inline(always)]
fn plane_k<F: Float, O: Offset, const K: usize>(
    x: &[F],
    g: &Geometry,
    y: &mut [F],
    t: &mut [O],
    scratch: &mut Scratch<F>,
) {
    let [ad, ah, aw] = &g.axes;
    let [_, hh, ww] = g.in3();
    let own = aw.out;
    let (a, b) = aw.full;
    // Interior window `a + i` covers columns `base + 2i .. base + 2i + K`.
    let base = aw.start[a] as usize;
    let n = b - a;
    let nr = n.next_multiple_of(LANES);
    // Even columns `base + 2j` for `j < ne` (`ne = nr + 1` when K = 3, for
    // the third tap), odd columns `base + 2j + 1` for `j < nr`, taken from
    // the column maxima of `span` columns from `base` on.
    let ne = if K == 3 { nr + 1 } else { nr };
    let span = (2 * ne).next_multiple_of(LANES);
    let Scratch { hv, hc, c } = scratch;
    hv.resize(span + ne + 2 * nr, F::neg_infinity());
    hc.resize(span + ne + nr, 0);
    c.resize(own.max(a + nr), 0);
    let (vm, rest) = hv.split_at_mut(span);
    let (ev, rest) = rest.split_at_mut(ne);
    let (ov, yv) = rest.split_at_mut(nr);
    let (vc, rest) = hc.split_at_mut(span);
    let (ec, oc) = rest.split_at_mut(ne);
    for od in 0..ad.out {
        for oh in 0..ah.out {
            // Column pass: the window's rows in row-major order (a later row
            // wins only when strictly larger, so codes need no comparison).
            // Past the end of the plane, fewer columns are read (the last
            // rows only; the missing ones are never used).
            let mut first = true;
            for td in ad.lo[od]..ad.hi[od] {
                for th in ah.lo[oh]..ah.hi[oh] {
                    let r = ad.pos(od, td) * hh + ah.pos(oh, th);
                    let from = r * ww + base;
                    let xr = &x[from..(from + span).min(x.len())];
                    let code = (td * ah.ext + th) as u32;
                    let (vm, vc) = (&mut vm[..xr.len()], &mut vc[..xr.len()]);
                    if first {
                        vm.copy_from_slice(xr);
                        vc.fill(code);
                        first = false;
                    } else {
                        for ((m, cv), &v) in vm.iter_mut().zip(vc.iter_mut()).zip(xr) {
                            let take = v > *m;
                            *cv = select_unpredictable(take, code, *cv);
                            *m = select_unpredictable(take, v, *m);
                        }
                    }
                }
            }
            // Split into even and odd columns (unit-stride streams for the
            // row pass).
            for (((e, o), (ecv, ocv)), (p, q)) in ev
                .iter_mut()
                .zip(ov.iter_mut())
                .zip(ec.iter_mut().zip(oc.iter_mut()))
                .zip(vm.chunks_exact(2).zip(vc.chunks_exact(2)))
            {
                (*e, *o, *ecv, *ocv) = (p[0], p[1], q[0], q[1]);
            }
            if K == 3 {
                (ev[nr], ec[nr]) = (vm[2 * nr], vc[2 * nr]);
            }
            // Row pass over the interior windows: taps `even[i]`, `odd[i]`
            // (and `even[i + 1]`), with codes `row_code · K + tap`.
            let k = K as u32;
            let (e0, c0, o1, c1) = (&ev[..nr], &ec[..nr], &ov[..nr], &oc[..nr]);
            let (e2, c2) = (&ev[ne - nr..ne], &ec[ne - nr..ne]);
            let (yv, cr) = (&mut yv[..nr], &mut c[a..a + nr]);
            for i in 0..nr {
                let (mut m, mut cc) = (e0[i], c0[i] * k);
                lex_update(&mut m, &mut cc, o1[i], c1[i] * k + 1);
                if K == 3 {
                    lex_update(&mut m, &mut cc, e2[i], c2[i] * k + 2);
                }
                (yv[i], cr[i]) = (m, cc);
            }
            let row = (od * ah.out + oh) * own;
            y[row + a..row + b].copy_from_slice(&yv[..n]);
            // Edge windows (partly in the padding or past the end): a
            // row-major scan of their taps.
            for ow in (0..a).chain(b..own) {
                let (m, code) = scan_window(x, g, od, oh, ow);
                y[row + ow] = m;
                c[ow] = code as u32;
            }
            for (tv, &cv) in t[row..row + own].iter_mut().zip(c.iter()) {
                *tv = O::from_usize(cv as usize);
            }
        }
    }
}

/// The first maximum of window `(od, oh, ow)` of a NaN-free plane and its
/// in-window code: a row-major scan of the taps inside the plane (for the
/// windows the fast kernels leave out, those reaching into the padding or
/// past the end).
pub(crate) fn scan_window<F: Float>(
    x: &[F],
    g: &Geometry,
    od: usize,
    oh: usize,
    ow: usize,
) -> (F, usize) {
    let [ad, ah, aw] = &g.axes;
    let [_, hh, ww] = g.in3();
    let (mut m, mut code, mut first) = (F::neg_infinity(), 0, true);
    for td in ad.lo[od]..ad.hi[od] {
        for th in ah.lo[oh]..ah.hi[oh] {
            let r = (ad.pos(od, td) * hh + ah.pos(oh, th)) * ww;
            let rc = (td * ah.ext + th) * aw.ext;
            for tw in aw.lo[ow]..aw.hi[ow] {
                let v = x[r + aw.pos(ow, tw)];
                if first || v > m {
                    (m, code, first) = (v, rc + tw, false);
                }
            }
        }
    }
    (m, code)
}
