//! Max pooling with 2×2 windows and stride 2 tiling the plane
//! ([`Geometry::tiles_2x2`]), forward with codes or values only, and
//! backward, which writes every input gradient once (each input lies in
//! one window).

use std::hint::select_unpredictable;
use std::mem::MaybeUninit;

use core_tensor::Float;
use core_tensor::simd::wide;

use super::common::has_nan;
use crate::argmax::Offset;
use crate::geometry::Geometry;
use crate::simd::pairs;

/// One plane of 2×2 windows with stride 2 tiling it ([`Geometry::tiles_2x2`]): for
/// each output, its four taps in row-major order, keeping the first maximum
/// (strictly larger values win). Returns whether the plane was free of
/// NaN where the windows read it; when it was not, the outputs are partial
/// and the caller recomputes them with an exact kernel. Without `t` (the
/// values alone) the caller has checked the plane for NaN.
///
/// With `t` (the codes 0..4), the rows go to the AVX2 steps of
/// [`pairs::put_quad_max`], which look for NaN as they load the values;
/// the compiler-vectorized loop takes the rest (cheaper than a NaN scan
/// of the plane before the loop, see `PERF.md`).
pub(super) fn forward<F: Float, O: Offset>(
    x: &[F],
    g: &Geometry,
    y: &mut [F],
    t: Option<&mut [O]>,
) -> bool {
    let w = g.axes[2].len;
    let own = g.axes[2].out;
    wide(
        #[inline(always)]
        || {
            let rows = x.chunks_exact(2 * w).zip(y.chunks_exact_mut(own));
            match t {
                Some(t) => {
                    for ((r2, yr), tr) in rows.zip(t.chunks_exact_mut(own)) {
                        let (x0, x1) = r2.split_at(w);
                        let (done, clean) = pairs::put_quad_max(x0, x1, yr, tr);
                        let rest = |r: &[F]| has_nan(&r[2 * done..2 * own]);
                        if !clean || rest(x0) || rest(x1) {
                            return false;
                        }
                        let taps = x0[2 * done..]
                            .chunks_exact(2)
                            .zip(x1[2 * done..].chunks_exact(2));
                        let outs = yr[done..].iter_mut().zip(tr[done..].iter_mut());
                        for ((ym, tc), (p0, p1)) in outs.zip(taps) {
                            let (mut m, mut c) = (p0[0], 0u8);
                            for (v, code) in [(p0[1], 1), (p1[0], 2), (p1[1], 3)] {
                                let take = v > m;
                                c = select_unpredictable(take, code, c);
                                m = select_unpredictable(take, v, m);
                            }
                            (*ym, *tc) = (m, O::from_usize(usize::from(c)));
                        }
                    }
                }
                None => {
                    for (r2, yr) in rows {
                        let (x0, x1) = r2.split_at(w);
                        let taps = x0.chunks_exact(2).zip(x1.chunks_exact(2));
                        for (ym, (p0, p1)) in yr.iter_mut().zip(taps) {
                            let mut m = p0[0];
                            for v in [p0[1], p1[0], p1[1]] {
                                m = if v > m { v } else { m };
                            }
                            *ym = m;
                        }
                    }
                }
            }
            true
        },
    )
}

/// The backward of one plane of 2×2 windows with stride 2 that tile it
/// ([`Geometry::tiles_2x2`]): input `(2h + r, 2w + c)` gets `0 + dy[h][w]`
/// when the window's code is `2r + c`, else `0`; inputs outside every
/// window (a last odd row or column) get `0`. These are the values the
/// zero fill and scatter of the general backward give. Eight `f32` (four
/// `f64`) windows at a time in AVX2 steps ([`pairs::put_coded_spread_twice`]),
/// the scalar loop for the rest.
#[inline(always)]
fn spread<F: Float>(dy: &[F], codes: &[u8], g: &Geometry, dx: &mut [MaybeUninit<F>]) {
    let (w, oh_n, ow_n) = (g.axes[2].len, g.axes[1].out, g.axes[2].out);
    let zero = F::zero();
    for (oh, (dyr, cr)) in dy
        .chunks_exact(ow_n)
        .zip(codes.chunks_exact(ow_n))
        .enumerate()
    {
        let (top, bottom) = dx[2 * oh * w..(2 * oh + 2) * w].split_at_mut(w);
        let done = pairs::put_coded_spread_twice(dyr, cr, top, bottom);
        let pairs = top[2 * done..]
            .chunks_exact_mut(2)
            .zip(bottom[2 * done..].chunks_exact_mut(2));
        for ((t, b), (&v, &c)) in pairs.zip(dyr[done..].iter().zip(&cr[done..])) {
            let v = zero + v;
            t[0].write(if c == 0 { v } else { zero });
            t[1].write(if c == 1 { v } else { zero });
            b[0].write(if c == 2 { v } else { zero });
            b[1].write(if c == 3 { v } else { zero });
        }
        if w > 2 * ow_n {
            top[w - 1].write(zero);
            bottom[w - 1].write(zero);
        }
    }
    for v in &mut dx[2 * oh_n * w..] {
        v.write(zero);
    }
}

/// The backward of one plane from its codes; always done.
pub(super) fn backward<F: Float>(
    dy: &[F],
    codes: &[u8],
    g: &Geometry,
    dx: &mut [MaybeUninit<F>],
) -> bool {
    wide(
        #[inline(always)]
        || spread(dy, codes, g, dx),
    );
    true
}
