//! Max pooling kernels: forward (values and argmax, or values only),
//! backward = scatter-add to the argmax, double backward = gather from the
//! argmax. `Path` is the one table that picks a fast path per geometry;
//! each fast path has a file with its forward and backward together.
//!
//! The forward pass sweeps, for every output row, the valid input rows of
//! its windows in row-major tap order, so ties keep the first maximum
//! (strict `>`), and a NaN always wins (`v > m || v.is_nan()`), the last
//! NaN of a window being reported, as in PyTorch. Padding is never read,
//! which makes it act as minus infinity.

use std::sync::Arc;

use core_tensor::chunks::{build_chunk_pairs, build_chunks, init_slice};
use core_tensor::simd::{same_slice_mut, wide};
use core_tensor::{Float, Par};

use crate::argmax::{ArgMax, NoOffset, Offset, Offsets, row_base};
use crate::geometry::Geometry;
use common::{Scratch, has_nan};

mod columns_s2;
mod common;
mod generic;
mod row_3_s2;
mod square_3x3_s2;
mod tiled_2x2;

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

/// Max pooling forward over `x` (contiguous `planes × plane_in`), values
/// only: `y[o] = max over the window of o` (NaN propagating), as
/// `F.max_pool{1,2,3}d` without `return_indices` under `torch.no_grad()`.
///
/// The kernel of [`forward`] with its offset output switched off at
/// compile time: the values are bit for bit those of [`forward`].
/// Also used for adaptive max pooling (the geometry decides the windows).
///
/// # Panics
/// If `x.len()` does not match the geometry (an internal invariant: the
/// functional API builds both from the same shapes).
pub fn forward_values<F: Float>(x: &[F], g: &Geometry, par: Par) -> Vec<F> {
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
        let mut scratch = Scratch::default();
        for (j, yp) in yc.chunks_mut(pout).enumerate() {
            let p = i * per_task + j;
            let (xp, yp) = (&x[p * pin..(p + 1) * pin], init_slice(yp, F::zero()));
            let ahead = &x[((p + 1) * pin).min(x.len())..((p + 2) * pin).min(x.len())];
            // Compiled for AVX2 too, where the CPU has it (same results).
            wide(
                #[inline(always)]
                || max_plane::<F, NoOffset>(xp, g, yp, &mut [], &mut scratch, ahead),
            );
        }
        (yc.len(), ())
    })
    .0
}

/// Input elements handled by one parallel task (several planes when they are small).
const PLANE_BATCH: usize = 1 << 15;

/// Planes per parallel task.
pub(crate) fn per_task(g: &Geometry) -> usize {
    (PLANE_BATCH / g.plane_in().max(1)).clamp(1, g.planes.max(1))
}

/// The kernel a geometry runs: the one table of the max pooling kernels.
/// Each fast path gives the bits (values and codes) of [`generic`]; a
/// forward fast path may decline a plane (a NaN, an infinity, no AVX2),
/// which then goes down the chain to [`generic`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// 1-d: a single row per plane ([`row_3_s2`] for 3 taps with stride 2).
    Row,
    /// 2×2 windows with stride 2 tiling the plane ([`tiled_2x2`]).
    Tiled2x2,
    /// 3×3 windows with stride 2, 2-d ([`square_3x3_s2`]).
    Square3x3S2,
    /// 2 or 3 taps with stride 2 along the last axis, any shape along the
    /// others ([`columns_s2`]).
    ColumnsS2,
    /// Anything else ([`generic`]).
    Generic,
}

impl Path {
    fn of(g: &Geometry) -> Path {
        let [ad, ah, _] = &g.axes;
        let [dd, hh, _] = g.in3();
        if dd * hh == 1 && ad.out == 1 && ah.out == 1 && ad.ext == 1 && ah.ext == 1 {
            Path::Row
        } else if g.tiles_2x2() {
            Path::Tiled2x2
        } else if square_3x3_s2::applies(g) {
            Path::Square3x3S2
        } else if columns_s2::applies(g) {
            Path::ColumnsS2
        } else {
            Path::Generic
        }
    }
}

/// One plane of the forward, down the chain of [`Path`] from the
/// geometry's own path; with the offsets `t`, or values only
/// (`O = NoOffset`, `t` empty), where some paths differ: NaN-free 2×2
/// tilings run without codes, and order-free planes combine their rows
/// first ([`generic::columns_first`]).
#[inline(always)]
fn max_plane<F: Float, O: Offset>(
    x: &[F],
    g: &Geometry,
    y: &mut [F],
    t: &mut [O],
    scratch: &mut Scratch<F>,
    ahead: &[F],
) {
    match Path::of(g) {
        Path::Row => {
            if O::KEPT
                && let Some(t) = same_slice_mut::<O, u8>(t)
                && row_3_s2::forward(x, &g.axes[2], y, t)
            {
                return;
            }
            generic::row(x, &g.axes[2], y, t, &mut scratch.c);
            return;
        }
        Path::Tiled2x2 if O::KEPT => {
            if tiled_2x2::forward(x, g, y, Some(&mut *t)) {
                return;
            }
        }
        Path::Tiled2x2 => {
            if !has_nan(x) {
                let done = tiled_2x2::forward::<F, O>(x, g, y, None);
                debug_assert!(done, "the values alone of a NaN-free plane always finish");
                return;
            }
        }
        Path::Square3x3S2 => {
            let t = if O::KEPT { Some(&mut *t) } else { None };
            if square_3x3_s2::forward(x, g, y, t, &mut scratch.hv, ahead) {
                return;
            }
        }
        Path::ColumnsS2 | Path::Generic => {}
    }
    if O::KEPT {
        // Both stride-2 paths fall back on the column kernel when it applies.
        if columns_s2::applies(g) && !has_nan(x) {
            columns_s2::forward(x, g, y, t, scratch);
            return;
        }
    } else if generic::order_free(x) {
        generic::columns_first(x, g, y, &mut scratch.hv);
        return;
    }
    generic::plane(x, g, y, t, scratch);
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
    // The fast paths write every input gradient once from the codes of the
    // windows holding it (no zero fill, no scatter): 2×2 windows tiling
    // the plane (one window per input), rows of 3 taps with stride 2 (one
    // or two) and 3×3 windows with stride 2 (one, two or four).
    let codes = match &argmax.offsets {
        Offsets::U8(t) => Some(t),
        _ => None,
    };
    let path = match Path::of(g) {
        Path::Row if row_3_s2::applies(g) => Path::Row,
        Path::Square3x3S2 if g.axes[0].len == 1 => Path::Square3x3S2,
        Path::Tiled2x2 => Path::Tiled2x2,
        _ => Path::Generic,
    };
    build_chunks(par.for_work(n + dy.len()), n, per_task * pin, |i, dxc| {
        for (j, dxp) in dxc.chunks_mut(pin).enumerate() {
            let p = i * per_task + j;
            let dyp = &dy[p * pout..(p + 1) * pout];
            if let Some(t) = codes {
                let t = &t[plane_range(argmax, p)];
                let done = match path {
                    Path::Square3x3S2 => square_3x3_s2::backward(dyp, t, g, dxp),
                    Path::Tiled2x2 => tiled_2x2::backward(dyp, t, g, dxp),
                    Path::Row => row_3_s2::backward(dyp, t, &g.axes[2], dxp),
                    _ => false,
                };
                if done {
                    continue;
                }
            }
            let dxp = init_slice(dxp, F::zero());
            for_each_pos(argmax, p, |o, pos| dxp[pos] += dyp[o]);
        }
        (dxc.len(), ())
    })
    .0
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

#[cfg(test)]
mod tests {
    use super::generic::ROW_3_2_MIN;
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

    #[test]
    fn values_only_hand_checked_plane_and_nan() {
        // 3x4 plane, k=2 s=(1,2): windows rows {0,1},{1,2} x cols {0,1},{2,3}
        let x = [1.0, 9.0, 2.0, 3.0, 4.0, 0.0, 8.0, 8.0, 7.0, 6.0, 5.0, 1.0];
        let g = MaxPoolParams::new(&[2, 2])
            .stride(&[1, 2])
            .geometry(&[1, 3, 4])
            .unwrap();
        assert_eq!(forward_values(&x, &g, Par::Seq), vec![9.0, 8.0, 7.0, 8.0]);
        let mut x: Vec<f64> = (0..20).map(f64::from).collect();
        x[9] = f64::NAN;
        let g = MaxPoolParams::new(&[2]).geometry(&[1, 20]).unwrap();
        let y = forward_values(&x, &g, Par::Seq);
        assert!(y[4].is_nan());
        assert_eq!((y[3], y[5]), (7.0, 11.0));
    }
}
