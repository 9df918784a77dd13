//! Max pooling with argmax for the common windows of CNNs, 2 or 3 taps with
//! stride 2 along the last axis (`k = 2, s = 2` and `k = 3, s = 2`), on
//! planes without NaN.
//!
//! The general kernel ([`crate::max`]) reduces every input row along the
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

use core_tensor::Float;
use core_tensor::simd::wide;

use crate::argmax::Offset;
use crate::geometry::Geometry;
use crate::max::Scratch;

/// Whether [`plane`] handles `g`: stride 2 and 2 or 3 taps along the last
/// axis, no dilation, at least one window with every tap inside the row.
pub(crate) fn applies(g: &Geometry) -> bool {
    let aw = &g.axes[2];
    aw.stride == Some(2) && aw.dil == 1 && matches!(aw.ext, 2 | 3) && aw.full.0 < aw.full.1
}

/// One NaN-free plane (`applies(g)` holds): maxima into `y`, in-window
/// row-major codes into `t`.
pub(crate) fn plane<F: Float, O: Offset>(
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
    let mask = u32::from(take).wrapping_neg();
    *c ^= (*c ^ code) & mask;
    *m = if take { v } else { *m };
}

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
    let n = b - a;
    // Interior window `a + i` covers columns `base + 2i .. base + 2i + K`
    // of the `span` columns from `base` on.
    let base = aw.start[a] as usize;
    let span = 2 * n + K - 2;
    // Even columns `base + 2j` for `j ≤ n` (`j = n` only when K = 3), odd
    // columns `base + 2j + 1` for `j < n`: values then codes.
    let ne = if K == 3 { n + 1 } else { n };
    let Scratch { hv, hc, c } = scratch;
    hv.resize(span + 2 * ne, F::neg_infinity());
    hc.resize(span + 2 * ne, 0);
    c.resize(own, 0);
    let (vm, eo) = hv.split_at_mut(span);
    let (vc, eoc) = hc.split_at_mut(span);
    for od in 0..ad.out {
        for oh in 0..ah.out {
            // Column pass: the window's rows in row-major order (a later row
            // wins only when strictly larger, so codes need no comparison).
            let mut first = true;
            for td in ad.lo[od]..ad.hi[od] {
                for th in ah.lo[oh]..ah.hi[oh] {
                    let r = ad.pos(od, td) * hh + ah.pos(oh, th);
                    let xr = &x[r * ww + base..r * ww + base + span];
                    let code = (td * ah.ext + th) as u32;
                    if first {
                        vm.copy_from_slice(xr);
                        vc.fill(code);
                        first = false;
                    } else {
                        for ((m, cv), &v) in vm.iter_mut().zip(vc.iter_mut()).zip(xr) {
                            let mask = u32::from(v > *m).wrapping_neg();
                            *cv ^= (*cv ^ code) & mask;
                            *m = if v > *m { v } else { *m };
                        }
                    }
                }
            }
            // Split into even and odd columns (unit-stride streams for the
            // row pass).
            let (ev, ov) = eo.split_at_mut(ne);
            let (ec, oc) = eoc.split_at_mut(ne);
            for (((e, o), (ecv, ocv)), (p, q)) in ev
                .iter_mut()
                .zip(ov.iter_mut())
                .zip(ec.iter_mut().zip(oc.iter_mut()))
                .zip(vm.chunks_exact(2).zip(vc.chunks_exact(2)))
            {
                (*e, *o, *ecv, *ocv) = (p[0], p[1], q[0], q[1]);
            }
            if K == 3 {
                (ev[n], ec[n]) = (vm[2 * n], vc[2 * n]);
            }
            // Row pass over the interior windows: taps `even[i]`, `odd[i]`
            // (and `even[i + 1]`), with codes `row_code · K + tap`.
            let row = (od * ah.out + oh) * own;
            let (yr, cr) = (&mut y[row + a..row + b], &mut c[a..b]);
            let k = K as u32;
            let (e0, c0, o1, c1) = (&ev[..n], &ec[..n], &ov[..n], &oc[..n]);
            let (e2, c2) = (&ev[ne - n..ne], &ec[ne - n..ne]);
            for i in 0..n.min(yr.len()).min(cr.len()) {
                let (mut m, mut cc) = (e0[i], c0[i] * k);
                lex_update(&mut m, &mut cc, o1[i], c1[i] * k + 1);
                if K == 3 {
                    lex_update(&mut m, &mut cc, e2[i], c2[i] * k + 2);
                }
                (yr[i], cr[i]) = (m, cc);
            }
            // Edge windows (partly in the padding or past the end): a
            // row-major scan of their taps.
            for ow in (0..a).chain(b..own) {
                let (mut m, mut cc) = (F::neg_infinity(), 0u32);
                let mut first = true;
                for td in ad.lo[od]..ad.hi[od] {
                    for th in ah.lo[oh]..ah.hi[oh] {
                        let r = ad.pos(od, td) * hh + ah.pos(oh, th);
                        let rc = (td * ah.ext + th) * aw.ext;
                        for tw in aw.lo[ow]..aw.hi[ow] {
                            let v = x[r * ww + aw.pos(ow, tw)];
                            if first || v > m {
                                (m, cc) = (v, (rc + tw) as u32);
                                first = false;
                            }
                        }
                    }
                }
                y[row + ow] = m;
                c[ow] = cc;
            }
            for (tv, &cv) in t[row..row + own].iter_mut().zip(c.iter()) {
                *tv = O::from_usize(cv as usize);
            }
        }
    }
}
