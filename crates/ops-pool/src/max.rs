//! Max pooling kernels (forward, backward = scatter-add to the argmax,
//! double backward = gather from the argmax) and their autograd ops.
//!
//! The forward pass sweeps, for every output row, the valid input rows of
//! its windows in row-major tap order, so ties keep the first maximum
//! (strict `>`), and a NaN always wins (`v > m || v.is_nan()`), the last
//! NaN of a window being reported, as in PyTorch. Padding is never read,
//! which makes it act as minus infinity.

use std::hint::select_unpredictable;
use std::mem::MaybeUninit;
use std::sync::Arc;

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::chunks::{build_chunk_pairs, build_chunks, init_slice};
use core_tensor::simd::{same_slice_mut, wide};
use core_tensor::{Float, Par, Tensor};

use crate::argmax::{ArgMax, Offset, Offsets, row_base};
use crate::geometry::{AxisPlan, Geometry};
use crate::{max_square, max_square_steps, max_stride2, pairs, spread_square_3_2};

/// Max pooling forward over `x` (contiguous `planes × plane_in`): the
/// maxima and their compact argmax.
///
/// Also used for adaptive max pooling (the geometry decides the windows).
///
/// # Panics
/// If a slice length does not match the geometry (an internal invariant:
/// the functional API builds both from the same shapes).
pub fn forward<F: Float>(x: &[F], geom: &Arc<Geometry>, par: Par) -> (Vec<F>, ArgMax) {
    let vol = geom.window_volume();
    let (y, offsets) = if vol <= 1 << 8 {
        let (y, t) = forward_typed::<F, u8>(x, geom, par);
        (y, Offsets::U8(t))
    } else if vol <= 1 << 16 {
        let (y, t) = forward_typed::<F, u16>(x, geom, par);
        (y, Offsets::U16(t))
    } else {
        let (y, t) = forward_typed::<F, u32>(x, geom, par);
        (y, Offsets::U32(t))
    };
    (y, ArgMax::new(Arc::clone(geom), offsets))
}

fn forward_typed<F: Float, O: Offset>(x: &[F], g: &Geometry, par: Par) -> (Vec<F>, Vec<O>) {
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert_eq!(
        x.len(),
        g.planes * pin,
        "max_pool forward: input length does not match the geometry"
    );
    // Several small planes per task, sharing one scratch buffer. The
    // initial values are all overwritten: every window holds an input element.
    let per_task = per_task(g);
    let (n, chunk) = (g.planes * pout, per_task * pout);
    build_chunk_pairs(
        par.for_work(x.len()),
        (n, chunk),
        (n, chunk),
        |i, yc, tc| {
            let mut scratch = Scratch::default();
            for (j, (yp, tp)) in yc.chunks_mut(pout).zip(tc.chunks_mut(pout)).enumerate() {
                let p = i * per_task + j;
                let (yp, tp) = (init_slice(yp, F::zero()), init_slice(tp, O::default()));
                let ahead = &x[((p + 1) * pin).min(x.len())..((p + 2) * pin).min(x.len())];
                max_plane(&x[p * pin..(p + 1) * pin], g, yp, tp, &mut scratch, ahead);
            }
            (yc.len(), tc.len())
        },
    )
}

/// Input elements handled by one parallel task (several planes when they are small).
const PLANE_BATCH: usize = 1 << 15;

/// Planes per parallel task.
pub(crate) fn per_task(g: &Geometry) -> usize {
    (PLANE_BATCH / g.plane_in().max(1)).clamp(1, g.planes.max(1))
}

/// Per-task scratch rows of the two-pass max kernels.
pub(crate) struct Scratch<F> {
    pub(crate) hv: Vec<F>,
    pub(crate) hc: Vec<u32>,
    pub(crate) c: Vec<u32>,
}

impl<F> Default for Scratch<F> {
    fn default() -> Self {
        Self {
            hv: Vec::new(),
            hc: Vec::new(),
            c: Vec::new(),
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
fn max_plane<F: Float, O: Offset>(
    x: &[F],
    g: &Geometry,
    y: &mut [F],
    t: &mut [O],
    scratch: &mut Scratch<F>,
    ahead: &[F],
) {
    let [ad, ah, aw] = &g.axes;
    let [dd, hh, ww] = g.in3();
    let own = aw.out;
    let nrows = dd * hh;
    if nrows == 1 && ad.out == 1 && ah.out == 1 && ad.ext == 1 && ah.ext == 1 {
        // 1-d: the row pass is the whole job. (No prefetch of the next
        // row: the hardware follows this stream by itself, and asking for
        // the whole next row at once slowed the P5 forward with
        // codes on 2 threads, 2.44-2.48 ms without against 3.01-3.05 with.)
        if let Some(t) = same_slice_mut::<O, u8>(t)
            && row_codes_3_2(x, aw, y, t)
        {
            return;
        }
        let c = &mut scratch.c;
        c.resize(own, 0);
        row_pass(x, aw, y, c);
        for (tv, &cv) in t.iter_mut().zip(c.iter()) {
            *tv = O::from_usize(cv as usize);
        }
        return;
    }
    if max_square::tiles_2x2(g) && max_square::tiled_2x2(x, g, y, Some(&mut *t)) {
        return;
    }
    if max_square::applies(g) && max_square::plane(x, g, y, Some(&mut *t), &mut scratch.hv, ahead) {
        return;
    }
    if max_stride2::applies(g) && !has_nan(x) {
        max_stride2::plane(x, g, y, t, scratch);
        return;
    }
    let Scratch { hv, hc, c } = scratch;
    c.resize(own, 0);
    hv.resize(nrows * own, F::neg_infinity());
    hc.resize(nrows * own, 0);
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
                        c.iter_mut().zip(hcr).for_each(|(cv, &h)| *cv = cb + h);
                        first = false;
                    } else {
                        combine_row(yr, c, hvr, hcr, cb);
                    }
                }
            }
            for (tv, &cv) in t[row..row + own].iter_mut().zip(c.iter()) {
                *tv = O::from_usize(cv as usize);
            }
        }
    }
}

/// One 1-d row with 3 taps and stride 2 (no dilation), its interior
/// windows in the AVX2 steps of [`max_square_steps`] (values and `u8`
/// codes in one pass, finiteness checked as the values are loaded), the
/// windows reaching into the padding with the exact update. Returns
/// `false` when it does not apply (other geometry, too few interior
/// windows, no AVX2, a value that is not finite): the caller then
/// recomputes every output.
///
/// Measured for the P5 rows: in cache on one thread, 0.21 ns per
/// input element against 0.36 for the row pass with `u32` codes; on 2
/// threads (three alternated rounds, with a prefetch of the next row since
/// dropped, see `max_plane`) the forward
/// took 3.49–3.60 ms against 3.75–4.47, forward + backward 5.94–6.11
/// against 6.28–7.16 ms.
fn row_codes_3_2<F: Float>(xr: &[F], aw: &AxisPlan, y: &mut [F], t: &mut [u8]) -> bool {
    let (a, b) = aw.full;
    if !(aw.ext == 3 && aw.stride == Some(2) && aw.dil == 1 && a < b) {
        return false;
    }
    let base = aw.start[a] as usize;
    let xs = &xr[base..base + 2 * (b - a) + 1];
    let done = wide(
        #[inline(always)]
        || max_square_steps::interior([xs], [true], &mut y[a..b], Some(&mut t[a..b])),
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

/// `m, c <- v, cb + h` where `v` beats `m` (strictly larger, or NaN).
fn combine_row<F: Float>(m: &mut [F], c: &mut [u32], v: &[F], h: &[u32], cb: u32) {
    if has_nan(v) {
        for (((mv, cv), &vv), &hv) in m.iter_mut().zip(c.iter_mut()).zip(v).zip(h) {
            update(mv, cv, vv, cb + hv);
        }
        return;
    }
    for (((mv, cv), &vv), &hv) in m.iter_mut().zip(c.iter_mut()).zip(v).zip(h) {
        update_no_nan(mv, cv, vv, cb + hv);
    }
}

/// Whether `v` holds a NaN (a full scan the compiler vectorises).
#[inline]
pub(crate) fn has_nan<F: Float>(v: &[F]) -> bool {
    v.iter().fold(false, |a, x| a | x.is_nan())
}

/// [`update`] for a value known not to be NaN: branch-free selects (a
/// running NaN in `m` is kept, since no number compares greater).
#[inline(always)]
fn update_no_nan<F: Float>(m: &mut F, c: &mut u32, v: F, code: u32) {
    let take = v > *m;
    *c = select_unpredictable(take, code, *c);
    *m = select_unpredictable(take, v, *m);
}

/// The running-max update: a NaN always wins, otherwise only a strictly
/// larger value (first maximum wins ties). Written without branches.
#[inline(always)]
fn update<F: Float>(m: &mut F, c: &mut u32, v: F, code: u32) {
    let take = (v > *m) | v.is_nan();
    *m = select_unpredictable(take, v, *m);
    *c = select_unpredictable(take, code, *c);
}

/// The first maximum of every window's taps along one input row.
fn row_pass<F: Float>(xr: &[F], aw: &AxisPlan, hv: &mut [F], hc: &mut [u32]) {
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
fn row_edge<F: Float>(
    xr: &[F],
    aw: &AxisPlan,
    hv: &mut [F],
    hc: &mut [u32],
    range: std::ops::Range<usize>,
) {
    for ow in range {
        let (lo, hi) = (aw.lo[ow], aw.hi[ow]);
        let mut m = F::neg_infinity();
        let mut c = lo as u32;
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
fn row_fixed<F: Float>(xr: &[F], aw: &AxisPlan, hv: &mut [F], hc: &mut [u32]) -> bool {
    let Some(s) = aw.stride else { return false };
    let base = aw.start[aw.full.0] as usize;
    let n = hv.len();
    let xs = &xr[base..base + (n - 1) * s + aw.ext];
    if has_nan(xs) {
        return false;
    }
    match (aw.ext, s) {
        (2, 1) => row_k::<F, 2, 1>(xs, hv, hc),
        (2, 2) => row_k::<F, 2, 2>(xs, hv, hc),
        (3, 1) => row_k::<F, 3, 1>(xs, hv, hc),
        // Deinterleaving pays off on long rows only (measured: 1-d rows of
        // 512 windows gain, 2-d rows of 54 windows lose).
        (3, 2) if n >= ROW_3_2_MIN => row_3_2(xs, hv, hc),
        (3, 2) => row_k::<F, 3, 2>(xs, hv, hc),
        (3, 3) => row_k::<F, 3, 3>(xs, hv, hc),
        (4, 4) => row_k::<F, 4, 4>(xs, hv, hc),
        (k, s) => row_dyn(xs, k, s, hv, hc),
    }
    true
}

#[inline(always)]
fn row_k<F: Float, const K: usize, const S: usize>(xs: &[F], hv: &mut [F], hc: &mut [u32]) {
    let n = hv.len().min(hc.len());
    assert!(xs.len() >= (n.max(1) - 1) * S + K);
    for i in 0..n {
        let mut mv = xs[i * S];
        let mut cv = 0u32;
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
fn row_3_2<F: Float>(xs: &[F], hv: &mut [F], hc: &mut [u32]) {
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
            *cv = 0;
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

fn row_dyn<F: Float>(xs: &[F], k: usize, s: usize, hv: &mut [F], hc: &mut [u32]) {
    for (i, (m, c)) in hv.iter_mut().zip(hc.iter_mut()).enumerate() {
        let mut mv = xs[i * s];
        let mut cv = 0u32;
        for kk in 1..k {
            update_no_nan(&mut mv, &mut cv, xs[i * s + kk], kk as u32);
        }
        *m = mv;
        *c = cv;
    }
}

/// Max pooling backward: `dx[argmax(o)] += dy[o]` (contributions of
/// overlapping windows accumulate).
///
/// # Panics
/// If a slice length does not match the geometry (an internal invariant:
/// the functional API builds both from the same shapes).
pub fn backward<F: Float>(dy: &[F], argmax: &ArgMax, par: Par) -> Vec<F> {
    let g = &*argmax.geom;
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert_eq!(
        dy.len(),
        g.planes * pout,
        "max_pool backward: gradient length does not match the geometry"
    );
    let n = g.planes * pin;
    let per_task = per_task(g);
    // Windows that tile the plane: each input is in one window, so every
    // element is written once, with no zero fill and no scatter.
    let tiled = match &argmax.offsets {
        Offsets::U8(t) if max_square::tiles_2x2(g) => Some(t),
        _ => None,
    };
    // Rows of 3 taps with stride 2 (1-d): each input is in at most two
    // windows, written once from their codes.
    let rows_3_2 = match &argmax.offsets {
        Offsets::U8(t) if one_d_3_2(g) => Some(t),
        _ => None,
    };
    // 3×3 windows with stride 2 (2-d): each input is in one, two or four
    // windows, written once from their codes.
    let square_3_2 = match &argmax.offsets {
        Offsets::U8(t) if max_square::applies(g) && g.axes[0].len == 1 => Some(t),
        _ => None,
    };
    build_chunks(par.for_work(n + dy.len()), n, per_task * pin, |i, dxc| {
        for (j, dxp) in dxc.chunks_mut(pin).enumerate() {
            let p = i * per_task + j;
            let dyp = &dy[p * pout..(p + 1) * pout];
            if let Some(t) = square_3_2
                && spread_square_3_2::plane(dyp, &t[plane_range(argmax, p)], g, dxp)
            {
                continue;
            }
            if let Some(t) = tiled {
                wide(
                    #[inline(always)]
                    || spread_tiled_2x2(dyp, &t[plane_range(argmax, p)], g, dxp),
                );
                continue;
            }
            if let Some(t) = rows_3_2 {
                wide(
                    #[inline(always)]
                    || spread_row_3_2(dyp, &t[plane_range(argmax, p)], &g.axes[2], dxp),
                );
                continue;
            }
            let dxp = init_slice(dxp, F::zero());
            for_each_pos(argmax, p, |o, pos| dxp[pos] += dyp[o]);
        }
        (dxc.len(), ())
    })
    .0
}

/// The backward of one plane of 2×2 windows with stride 2 that tile it
/// ([`max_square::tiles_2x2`]): input `(2h + r, 2w + c)` gets `0 + dy[h][w]`
/// when the window's code is `2r + c`, else `0`; inputs outside every
/// window (a last odd row or column) get `0`. These are the values the
/// zero fill and scatter of the general backward give. Eight `f32` (four
/// `f64`) windows at a time in AVX2 steps ([`pairs::put_coded_spread_twice`]):
/// measured in cache on one thread for the P1 planes, 0.065–0.069
/// ns per input element against 0.246–0.259 for the scalar loop alone.
#[inline(always)]
fn spread_tiled_2x2<F: Float>(dy: &[F], codes: &[u8], g: &Geometry, dx: &mut [MaybeUninit<F>]) {
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

/// Whether `g` pools single rows (1-d) with 3 taps, stride 2 and no
/// dilation: [`spread_row_3_2`] handles its backward.
fn one_d_3_2(g: &Geometry) -> bool {
    let [ad, ah, aw] = &g.axes;
    let trivial = |a: &AxisPlan| a.ext == 1 && a.out == 1 && a.len == 1;
    trivial(ad) && trivial(ah) && aw.ext == 3 && aw.stride == Some(2) && aw.dil == 1
}

/// The backward of one row of windows of 3 taps with stride 2
/// ([`one_d_3_2`]). Input `c` is tap 1 of one window, or tap 2 of window
/// `o` and tap 0 of window `o + 1`; it gets `0 + dy[o]` for each window
/// whose code points at it, added in window order: the values the zero
/// fill and scatter of the general backward give. Interior pairs of
/// positions are written in one loop over the windows, the ends position
/// by position.
#[inline(always)]
fn spread_row_3_2<F: Float>(dy: &[F], codes: &[u8], aw: &AxisPlan, dx: &mut [MaybeUninit<F>]) {
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

/// The double backward of max pooling: `out[o] = v[argmax(o)]`, a gather of
/// an input-shaped tensor at the argmax (the adjoint of [`backward`]).
///
/// # Panics
/// If a slice length does not match the geometry (an internal invariant:
/// the functional API builds both from the same shapes).
pub fn gather<F: Float>(v: &[F], argmax: &ArgMax, par: Par) -> Vec<F> {
    let g = &*argmax.geom;
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert_eq!(
        v.len(),
        g.planes * pin,
        "max_pool gather: input length does not match the geometry"
    );
    let n = g.planes * pout;
    let per_task = per_task(g);
    build_chunks(par.for_work(n), n, per_task * pout, |i, oc| {
        for (j, op) in oc.chunks_mut(pout).enumerate() {
            let p = i * per_task + j;
            let (op, vp) = (init_slice(op, F::zero()), &v[p * pin..(p + 1) * pin]);
            for_each_pos(argmax, p, |o, pos| op[o] = vp[pos]);
        }
        (oc.len(), ())
    })
    .0
}

/// Calls `f(o, pos)` for every output `o` of plane `p` with the plane
/// position of its argmax, in output order.
#[inline]
fn for_each_pos(argmax: &ArgMax, p: usize, mut f: impl FnMut(usize, usize)) {
    match &argmax.offsets {
        Offsets::U8(t) => walk(argmax, &t[plane_range(argmax, p)], &mut f),
        Offsets::U16(t) => walk(argmax, &t[plane_range(argmax, p)], &mut f),
        Offsets::U32(t) => walk(argmax, &t[plane_range(argmax, p)], &mut f),
    }
}

fn plane_range(argmax: &ArgMax, p: usize) -> std::ops::Range<usize> {
    let pout = argmax.geom.plane_out();
    p * pout..(p + 1) * pout
}

#[inline(always)]
fn walk<O: Offset>(argmax: &ArgMax, t: &[O], f: &mut impl FnMut(usize, usize)) {
    let g = &*argmax.geom;
    let [ad, ah, aw] = &g.axes;
    let own = aw.out;
    if argmax.rel.is_empty() {
        for (o, c) in t.iter().enumerate() {
            f(o, argmax.plane_pos(o, c.get()));
        }
        return;
    }
    let rel = &argmax.rel[..];
    for od in 0..ad.out {
        for oh in 0..ah.out {
            let row = (od * ah.out + oh) * own;
            let base = row_base(g, od, oh);
            for (ow, c) in t[row..row + own].iter().enumerate() {
                let pos = base + aw.start[ow] + rel[c.get()];
                f(row + ow, pos as usize);
            }
        }
    }
}

/// Autograd op of max pooling: saves only the compact argmax.
pub(crate) struct MaxPoolFn {
    pub(crate) argmax: Arc<ArgMax>,
    pub(crate) name: &'static str,
}

/// `dx = scatter(dy)`, recorded so it can be differentiated again.
pub(crate) fn scatter_op<F: Float>(
    dy: &Var<F>,
    argmax: &Arc<ArgMax>,
    name: &'static str,
) -> autograd::Result<Var<F>> {
    let value = backward(dy.value().as_slice(), argmax, Par::Rayon);
    let t = Tensor::from_vec(&argmax.geom.input_shape(), value)?;
    Ok(Var::from_op(
        t,
        vec![dy.clone()],
        MaxScatterFn {
            argmax: Arc::clone(argmax),
            name,
        },
    ))
}

/// `out = gather(v)`, recorded so it can be differentiated again.
pub(crate) fn gather_op<F: Float>(
    v: &Var<F>,
    argmax: &Arc<ArgMax>,
    name: &'static str,
) -> autograd::Result<Var<F>> {
    let value = gather(v.value().as_slice(), argmax, Par::Rayon);
    let t = Tensor::from_vec(&argmax.geom.output_shape(), value)?;
    Ok(Var::from_op(
        t,
        vec![v.clone()],
        MaxGatherFn {
            argmax: Arc::clone(argmax),
            name,
        },
    ))
}

impl<F: Float> Backward<F> for MaxPoolFn {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(scatter_op(
            ctx.grad_output,
            &self.argmax,
            "max_pool_backward",
        )?)])
    }
}

/// The backward of max pooling as an op (linear in `dy`): its own backward is a gather.
pub(crate) struct MaxScatterFn {
    argmax: Arc<ArgMax>,
    name: &'static str,
}

impl<F: Float> Backward<F> for MaxScatterFn {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(gather_op(
            ctx.grad_output,
            &self.argmax,
            "max_pool_double_backward",
        )?)])
    }
}

/// Gather at the argmax as an op: its backward is the scatter again.
pub(crate) struct MaxGatherFn {
    argmax: Arc<ArgMax>,
    name: &'static str,
}

impl<F: Float> Backward<F> for MaxGatherFn {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(scatter_op(
            ctx.grad_output,
            &self.argmax,
            "max_pool_backward",
        )?)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MaxPoolParams;

    fn geom(shape: &[usize], p: &MaxPoolParams) -> Arc<Geometry> {
        Arc::new(p.geometry(shape).unwrap())
    }

    #[test]
    fn forward_backward_and_gather_on_a_hand_checked_plane() {
        // 3x4 plane, k=2 s=(1,2): windows rows {0,1},{1,2} x cols {0,1},{2,3}
        let x = [1.0, 9.0, 2.0, 3.0, 4.0, 0.0, 8.0, 8.0, 7.0, 6.0, 5.0, 1.0];
        let g = geom(&[1, 3, 4], &MaxPoolParams::new(&[2, 2]).stride(&[1, 2]));
        let (y, am) = forward(&x, &g, Par::Seq);
        assert_eq!(y, vec![9.0, 8.0, 7.0, 8.0]);
        // in-window offsets: 9 at tap (0,1); first 8 at (1,0); 7 at (1,0); 8 at (0,0)
        assert_eq!(
            (0..4).map(|i| am.offset(i)).collect::<Vec<_>>(),
            vec![1, 2, 2, 0]
        );
        assert_eq!(am.to_indices(), vec![1, 6, 8, 6]);
        let dx = backward(&[1.0, 2.0, 3.0, 4.0], &am, Par::Seq);
        assert_eq!(
            dx,
            vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 6.0, 0.0, 3.0, 0.0, 0.0, 0.0]
        );
        let v: Vec<f64> = (0..12).map(f64::from).collect();
        assert_eq!(gather(&v, &am, Par::Seq), vec![1.0, 6.0, 8.0, 6.0]);
    }

    #[test]
    fn nan_rows_take_the_exact_path() {
        // A long row (interior fast path) with a NaN in the middle.
        let mut x: Vec<f64> = (0..20).map(f64::from).collect();
        x[9] = f64::NAN;
        let g = geom(&[1, 20], &MaxPoolParams::new(&[2]));
        let (y, am) = forward(&x, &g, Par::Seq);
        assert!(y[4].is_nan());
        assert_eq!(am.to_indices()[4], 9);
        assert_eq!(y[5], 11.0);
    }

    #[test]
    fn long_k3_s2_rows_keep_the_first_maximum() {
        // 601 values from a 4-value set (many ties), k=3 s=2 p=1: 299
        // interior windows, so the deinterleaved row kernel runs.
        let n = 601;
        let x: Vec<f32> = (0..n).map(|i| ((i * 7 + i / 5) % 4) as f32).collect();
        let g = geom(
            &[1, n],
            &MaxPoolParams::new(&[3]).stride(&[2]).padding(&[1]),
        );
        assert!(g.axes[2].full.1 - g.axes[2].full.0 >= ROW_3_2_MIN);
        let (y, am) = forward(&x, &g, Par::Seq);
        let idx = am.to_indices();
        for (o, (&yv, &iv)) in y.iter().zip(&idx).enumerate() {
            let taps = (2 * o).saturating_sub(1)..(2 * o + 2).min(n);
            let first = taps
                .clone()
                .fold(taps.start, |b, i| if x[i] > x[b] { i } else { b });
            assert_eq!((yv, iv), (x[first], first as i64), "window {o}");
        }
    }
}
