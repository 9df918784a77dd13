//! Values-only max pooling forward: the maxima without the argmax, for
//! inference (PyTorch's forward under `no_grad`, which skips the indices).
//!
//! Same sweep and rules as [`crate::max::forward`]: rows in order, taps in
//! order within a row, a strictly larger value or a NaN replaces the running
//! maximum, padding is never read (minus infinity). The values are
//! therefore bit for bit those of [`crate::max::forward`]; only the
//! in-window offsets are not computed or stored.

use core_tensor::chunks::{build_chunks, init_slice};
use core_tensor::simd::wide;
use core_tensor::{Float, Par};

use crate::geometry::{AxisPlan, Geometry};
use crate::max::{ROW_3_2_MIN, has_nan, per_task};
use crate::{max_square, max_square_steps};

/// Max pooling forward over `x` (contiguous `planes × plane_in`), values
/// only: `y[o] = max over the window of o` (NaN propagating), as
/// `F.max_pool{1,2,3}d` without `return_indices` under `torch.no_grad()`.
///
/// Also used for adaptive max pooling (the geometry decides the windows).
///
/// # Panics
/// If `x.len()` does not match the geometry (an internal invariant: the
/// functional API builds both from the same shapes).
pub fn forward<F: Float>(x: &[F], g: &Geometry, par: Par) -> Vec<F> {
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert_eq!(
        x.len(),
        g.planes * pin,
        "max_pool forward: input length does not match the geometry"
    );
    // The initial zeros are all overwritten: every window holds an input element.
    let per_task = per_task(g);
    let n = g.planes * pout;
    build_chunks(par.for_work(x.len()), n, per_task * pout, |i, yc| {
        let mut hv = Vec::new();
        for (j, yp) in yc.chunks_mut(pout).enumerate() {
            let p = i * per_task + j;
            let (xp, yp) = (&x[p * pin..(p + 1) * pin], init_slice(yp, F::zero()));
            wide(
                #[inline(always)]
                || {
                    max_plane(
                        xp,
                        g,
                        yp,
                        &mut hv,
                        &x[((p + 1) * pin).min(x.len())..((p + 2) * pin).min(x.len())],
                    )
                },
            );
        }
        (yc.len(), ())
    })
    .0
}

/// One plane: a row pass (every input row's window maxima along the last
/// axis into `hv`), then, per output row, the window's rows combined in
/// row-major order.
#[inline(always)]
fn max_plane<F: Float>(x: &[F], g: &Geometry, y: &mut [F], hv: &mut Vec<F>, ahead: &[F]) {
    let [ad, ah, aw] = &g.axes;
    let [dd, hh, ww] = g.in3();
    let own = aw.out;
    let nrows = dd * hh;
    if nrows == 1 && ad.out == 1 && ah.out == 1 && ad.ext == 1 && ah.ext == 1 {
        // 1-d: the row pass is the whole job.
        row_pass(x, aw, y);
        return;
    }
    if max_square::tiles_2x2(g) && !has_nan(x) {
        let done = max_square::tiled_2x2::<F, u8>(x, g, y, None);
        debug_assert!(done, "the values alone of a NaN-free plane always finish");
        return;
    }
    if max_square::applies(g) && max_square::plane::<F, u8>(x, g, y, None, hv, ahead) {
        return;
    }
    if order_free(x) {
        columns_first(x, g, y, hv);
        return;
    }
    hv.resize(nrows * own, F::neg_infinity());
    for (r, h) in hv.chunks_mut(own).enumerate() {
        row_pass(&x[r * ww..(r + 1) * ww], aw, h);
    }
    for od in 0..ad.out {
        for oh in 0..ah.out {
            let row = (od * ah.out + oh) * own;
            let yr = &mut y[row..row + own];
            let mut first = true;
            for td in ad.lo[od]..ad.hi[od] {
                for th in ah.lo[oh]..ah.hi[oh] {
                    let r = ad.pos(od, td) * hh + ah.pos(oh, th);
                    let hvr = &hv[r * own..(r + 1) * own];
                    if first {
                        yr.copy_from_slice(hvr);
                        first = false;
                    } else {
                        combine_row(yr, hvr);
                    }
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
fn order_free<F: Float>(x: &[F]) -> bool {
    !x.iter().fold(false, |a, &v| {
        a | v.is_nan() | ((v == F::zero()) & v.is_sign_negative())
    })
}

/// Order-free planes (see [`order_free`]): per output row, the window's
/// input rows are first combined element-wise over the full width (unit
/// stride), then one row pass along the last axis: fewer strided taps than
/// a row pass per input row.
#[inline(always)]
fn columns_first<F: Float>(x: &[F], g: &Geometry, y: &mut [F], vm: &mut Vec<F>) {
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
                            .for_each(|(m, &v)| update_no_nan(m, v));
                    }
                }
            }
            row_pass(vm, aw, &mut y[row..row + own]);
        }
    }
}

/// `m <- v` where `v` beats `m` (strictly larger, or NaN).
#[inline(always)]
fn combine_row<F: Float>(m: &mut [F], v: &[F]) {
    if has_nan(v) {
        m.iter_mut().zip(v).for_each(|(mv, &vv)| update(mv, vv));
    } else {
        m.iter_mut()
            .zip(v)
            .for_each(|(mv, &vv)| update_no_nan(mv, vv));
    }
}

/// [`update`] for a value known not to be NaN (a running NaN in `m` is
/// kept, since no number compares greater).
#[inline(always)]
fn update_no_nan<F: Float>(m: &mut F, v: F) {
    *m = if v > *m { v } else { *m };
}

/// The running-max update: a NaN always wins, otherwise only a strictly
/// larger value (ties keep the first, so `-0.0`/`0.0` pick as the argmax kernel does).
#[inline(always)]
fn update<F: Float>(m: &mut F, v: F) {
    *m = if (v > *m) | v.is_nan() { v } else { *m };
}

/// The maximum of every window's taps along one input row.
#[inline(always)]
fn row_pass<F: Float>(xr: &[F], aw: &AxisPlan, hv: &mut [F]) {
    let (a, b) = aw.full;
    let fast = a < b && aw.dil == 1 && aw.stride.is_some() && row_fixed(xr, aw, &mut hv[a..b]);
    if fast {
        row_edge(xr, aw, hv, 0..a);
        row_edge(xr, aw, hv, b..aw.out);
    } else {
        row_edge(xr, aw, hv, 0..aw.out);
    }
}

/// Windows `range` of one row, any geometry.
#[inline(always)]
fn row_edge<F: Float>(xr: &[F], aw: &AxisPlan, hv: &mut [F], range: std::ops::Range<usize>) {
    for ow in range {
        let mut m = F::neg_infinity();
        for tw in aw.lo[ow]..aw.hi[ow] {
            update(&mut m, xr[aw.pos(ow, tw)]);
        }
        hv[ow] = m;
    }
}

/// Interior windows (all taps inside the row, uniform stride, no dilation)
/// with the window size and stride as constants; rows holding a NaN are
/// left to the exact path (returns false).
#[inline(always)]
fn row_fixed<F: Float>(xr: &[F], aw: &AxisPlan, hv: &mut [F]) -> bool {
    let Some(s) = aw.stride else { return false };
    let base = aw.start[aw.full.0] as usize;
    let n = hv.len();
    let xs = &xr[base..base + (n - 1) * s + aw.ext];
    // The AVX2 steps check the values they read themselves (finite: their
    // result stands), which spares them the pass of `has_nan` over the row:
    // measured in cache on one thread for the P5 rows, 0.121 ->
    // 0.083-0.084 ns per input element (0.073-0.077 once the steps' loop
    // became the plain one of `step_starts`).
    if (aw.ext, s) == (3, 2)
        && max_square_steps::interior::<F, u8, 1>([xs], [true], hv, None) == Some(true)
    {
        return true;
    }
    if has_nan(xs) {
        return false;
    }
    match (aw.ext, s) {
        (2, 1) => row_k::<F, 2, 1>(xs, hv),
        (2, 2) => row_k::<F, 2, 2>(xs, hv),
        (3, 1) => row_k::<F, 3, 1>(xs, hv),
        // Rows the steps above could not take (too short, no AVX2, an
        // infinity).
        (3, 2) if hv.len() >= ROW_3_2_MIN => row_3_2(xs, hv),
        (3, 2) => row_k::<F, 3, 2>(xs, hv),
        (3, 3) => row_k::<F, 3, 3>(xs, hv),
        (4, 4) => row_k::<F, 4, 4>(xs, hv),
        (k, s) => row_dyn(xs, k, s, hv),
    }
    true
}

#[inline(always)]
fn row_k<F: Float, const K: usize, const S: usize>(xs: &[F], hv: &mut [F]) {
    if K == S {
        // Adjacent windows: a loop over `K`-chunks, which vectorizes.
        for (h, w) in hv.iter_mut().zip(xs.chunks_exact(K)) {
            let mut mv = w[0];
            for &v in &w[1..] {
                update_no_nan(&mut mv, v);
            }
            *h = mv;
        }
        return;
    }
    let n = hv.len();
    assert!(xs.len() >= (n.max(1) - 1) * S + K);
    for (i, h) in hv.iter_mut().enumerate() {
        let mut mv = xs[i * S];
        for k in 1..K {
            update_no_nan(&mut mv, xs[i * S + k]);
        }
        *h = mv;
    }
}

/// `row_k::<3, 2>` on deinterleaved blocks: window `i` takes `x[2i]`,
/// `x[2i+1]`, `x[2i+2]`; the odd and shifted even taps are gathered into
/// contiguous lanes so the tap-ordered combine runs on unit-stride data.
#[inline(always)]
fn row_3_2<F: Float>(xs: &[F], hv: &mut [F]) {
    const B: usize = 64;
    let n = hv.len();
    assert!(xs.len() > 2 * n.max(1));
    let (mut t1, mut t2) = ([F::zero(); B], [F::zero(); B]);
    let mut i0 = 0;
    while i0 < n {
        let len = (n - i0).min(B);
        let m = &mut hv[i0..i0 + len];
        let w = &xs[2 * i0..2 * (i0 + len) + 1];
        for (j, (mv, (a, b))) in m
            .iter_mut()
            .zip(t1.iter_mut().zip(t2.iter_mut()))
            .enumerate()
        {
            *mv = w[2 * j];
            *a = w[2 * j + 1];
            *b = w[2 * j + 2];
        }
        m.iter_mut()
            .zip(&t1[..len])
            .for_each(|(mv, &v)| update_no_nan(mv, v));
        m.iter_mut()
            .zip(&t2[..len])
            .for_each(|(mv, &v)| update_no_nan(mv, v));
        i0 += len;
    }
}

#[inline(always)]
fn row_dyn<F: Float>(xs: &[F], k: usize, s: usize, hv: &mut [F]) {
    for (i, m) in hv.iter_mut().enumerate() {
        let mut mv = xs[i * s];
        for kk in 1..k {
            update_no_nan(&mut mv, xs[i * s + kk]);
        }
        *m = mv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MaxPoolParams;

    #[test]
    fn hand_checked_plane_and_nan() {
        // 3x4 plane, k=2 s=(1,2): windows rows {0,1},{1,2} x cols {0,1},{2,3}
        let x = [1.0, 9.0, 2.0, 3.0, 4.0, 0.0, 8.0, 8.0, 7.0, 6.0, 5.0, 1.0];
        let g = MaxPoolParams::new(&[2, 2])
            .stride(&[1, 2])
            .geometry(&[1, 3, 4])
            .unwrap();
        assert_eq!(forward(&x, &g, Par::Seq), vec![9.0, 8.0, 7.0, 8.0]);
        let mut x: Vec<f64> = (0..20).map(f64::from).collect();
        x[9] = f64::NAN;
        let g = MaxPoolParams::new(&[2]).geometry(&[1, 20]).unwrap();
        let y = forward(&x, &g, Par::Seq);
        assert!(y[4].is_nan());
        assert_eq!((y[3], y[5]), (7.0, 11.0));
    }
}
