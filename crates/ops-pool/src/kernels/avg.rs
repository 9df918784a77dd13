//! Average pooling kernels (forward = window sum / divisor, backward =
//! spread `dy / divisor` over each window) and their autograd ops. Both are
//! linear, and each is the other's adjoint, so the double backward of
//! average pooling is average pooling again. Nothing but the geometry is
//! saved for backward.
//!
//! Adaptive average pooling uses the same kernels with adaptive windows
//! and [`Divisor::InBounds`].

use std::mem::MaybeUninit;

use core_tensor::chunks::{build_chunks, init_slice};
use core_tensor::lanes::lane_sum_on;
use core_tensor::simd::{Kernel, Lane, dispatch, wide};
use core_tensor::{Float, Par};

use crate::geometry::{AxisPlan, Geometry};
use crate::simd::pairs;

/// What a window sum is divided by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Divisor {
    /// Window positions inside `[-before, L + after)` (`count_include_pad = true`):
    /// explicit padding counts, the ceil-mode overhang past the right padding does not.
    IncludePad,
    /// Window positions inside the input (`count_include_pad = false`, adaptive pooling).
    InBounds,
    /// A fixed divisor (`divisor_override`); non-zero.
    Override(i64),
}

/// The divisor of every output of one plane (the same for every plane),
/// in output order.
fn plane_divisors<F: Float>(g: &Geometry, div: Divisor) -> Vec<F> {
    let [ad, ah, aw] = &g.axes;
    let mut out = Vec::with_capacity(g.plane_out());
    for od in 0..ad.out {
        for oh in 0..ah.out {
            out.extend((0..aw.out).map(|ow| match div {
                Divisor::Override(d) => F::cast(d as f64),
                Divisor::IncludePad => {
                    F::from_usize(ad.padded_count[od] * ah.padded_count[oh] * aw.padded_count[ow])
                }
                Divisor::InBounds => F::from_usize(
                    (ad.hi[od] - ad.lo[od]) * (ah.hi[oh] - ah.lo[oh]) * (aw.hi[ow] - aw.lo[ow]),
                ),
            }));
        }
    }
    out
}

/// Average pooling forward: `y[o] = Σ_{taps of o inside x} x / divisor(o)`.
///
/// # Panics
/// If a slice length does not match the geometry (an internal invariant:
/// the functional API builds both from the same shapes).
pub fn forward<F: Float>(x: &[F], g: &Geometry, div: Divisor, par: Par) -> Vec<F> {
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert_eq!(
        x.len(),
        g.planes * pin,
        "avg_pool forward: input length does not match the geometry"
    );
    let (n, par) = (g.planes * pout, par.for_work(x.len()));
    let per_task = (PLANE_BATCH / pin.max(1)).clamp(1, g.planes.max(1));
    let d = plane_divisors::<F>(g, div);
    if is_global(g) {
        return build_chunks(par, n, per_task, |i, yc| {
            let planes = &x[i * per_task * pin..][..yc.len() * pin];
            dispatch(PlaneMeans {
                x: planes,
                d: d[0],
                y: yc,
            });
            (yc.len(), ())
        })
        .0;
    }
    let tiled = g.tiles_2x2();
    let scale = exact_reciprocal(&d);
    build_chunks(par, n, per_task * pout, |i, yc| {
        wide(
            #[inline(always)]
            || {
                for (j, yp) in yc.chunks_mut(pout).enumerate() {
                    let p = i * per_task + j;
                    let xp = &x[p * pin..(p + 1) * pin];
                    if tiled {
                        tiled_forward_plane(xp, g, yp, &d, scale);
                        continue;
                    }
                    let yp = init_slice(yp, F::zero());
                    window_sums(xp, g, yp, true, |v| v);
                    for (yv, dv) in yp.iter_mut().zip(&d) {
                        *yv /= *dv;
                    }
                }
            },
        );
        (yc.len(), ())
    })
    .0
}

/// Global average pooling of consecutive planes: `y[p] = Σ plane p / d`,
/// each plane summed by [`lane_sum_on`] (the planes are `x.len() / y.len()`
/// elements each); one SIMD dispatch for all of them.
struct PlaneMeans<'a, F> {
    x: &'a [F],
    d: F,
    y: &'a mut [MaybeUninit<F>],
}

impl<F: Float> Kernel<F> for PlaneMeans<'_, F> {
    type Output = ();

    #[inline(always)]
    fn run<V: Lane<Elem = F>>(self) {
        let pin = self.x.len() / self.y.len().max(1);
        for (j, yv) in self.y.iter_mut().enumerate() {
            yv.write(lane_sum_on::<V>(&self.x[j * pin..(j + 1) * pin], F::zero()) / self.d);
        }
    }
}

/// `1 / d` when every divisor is the same power of two (4 for 2×2 windows
/// without padding), so that multiplying by it gives exactly the quotient:
/// both round the same real number `x / 2^k` once. `None` otherwise.
fn exact_reciprocal<F: Float>(d: &[F]) -> Option<F> {
    let first = *d.first()?;
    let v = first.widen();
    let pow2 = v >= 1.0 && v.fract() == 0.0 && v < 2f64.powi(52) && (v as u64).is_power_of_two();
    (pow2 && d.iter().all(|&x| x == first)).then(|| F::one() / first)
}

/// One plane of 2×2 windows with stride 2 that tile it
/// ([`Geometry::tiles_2x2`]), each output written once:
/// `y = ((0 + (x[2h][2w] + x[2h][2w+1])) + (x[2h+1][2w] + x[2h+1][2w+1]))`
/// times the exact reciprocal of the divisor (`scale`) or over the divisor.
/// This is bitwise the general kernel's `(0 + (a + b)) + (c + d)`.
#[inline(always)]
fn tiled_forward_plane<F: Float>(
    x: &[F],
    g: &Geometry,
    y: &mut [MaybeUninit<F>],
    d: &[F],
    scale: Option<F>,
) {
    let (w, ow_n) = (g.axes[2].len, g.axes[2].out);
    let zero = F::zero();
    for ((rows, yr), dr) in x
        .chunks_exact(2 * w)
        .zip(y.chunks_exact_mut(ow_n))
        .zip(d.chunks_exact(ow_n))
    {
        let (t, b) = rows.split_at(w);
        let mean = match scale {
            Some(k) => pairs::Mean::Times(k),
            None => pairs::Mean::Over(dr),
        };
        let done = pairs::put_quad_means(t, b, mean, yr);
        let (tp, bp) = (t[2 * done..].chunks_exact(2), b[2 * done..].chunks_exact(2));
        for (((yv, tp), bp), &dv) in yr[done..].iter_mut().zip(tp).zip(bp).zip(&dr[done..]) {
            let s = (zero + (tp[0] + tp[1])) + (bp[0] + bp[1]);
            yv.write(match scale {
                Some(k) => s * k,
                None => s / dv,
            });
        }
    }
}

/// The backward of [`tiled_forward_plane`], each input written once: the
/// four inputs of window `(h, w)` get `0 + c[h][w]` (as the general
/// kernel's addition to a zeroed gradient gives), inputs in no window
/// (the last row or column of an odd length) zero.
#[inline(always)]
fn tiled_backward_plane<F: Float>(dx: &mut [MaybeUninit<F>], g: &Geometry, c: &[F]) {
    let (w, oh_n, ow_n) = (g.axes[2].len, g.axes[1].out, g.axes[2].out);
    let zero = F::zero();
    let (windows, rest) = dx.split_at_mut(2 * oh_n * w);
    for (rows, cr) in windows.chunks_exact_mut(2 * w).zip(c.chunks_exact(ow_n)) {
        let (t, b) = rows.split_at_mut(w);
        let done = pairs::put_spread_twice(cr, t, b);
        for r in [t, b] {
            for (pair, &cv) in r[2 * done..2 * ow_n].chunks_exact_mut(2).zip(&cr[done..]) {
                pair[0].write(zero + cv);
                pair[1].write(zero + cv);
            }
            init_slice(&mut r[2 * ow_n..], zero);
        }
    }
    init_slice(rest, zero);
}

/// Input elements handled by one parallel task (several planes when they are small).
const PLANE_BATCH: usize = 1 << 15;

/// Whether the single window of each plane covers the whole plane (global pooling).
fn is_global(g: &Geometry) -> bool {
    g.axes
        .iter()
        .all(|a| a.out == 1 && a.lo[0] == 0 && a.hi[0] == a.len)
}

/// Sums `f(x)` over the in-bounds taps of every window of one plane into `y`
/// (which starts at zero).
#[inline]
pub(crate) fn window_sums<F: Float>(
    x: &[F],
    g: &Geometry,
    y: &mut [F],
    plain: bool,
    f: impl Fn(F) -> F + Copy,
) {
    let [ad, ah, aw] = &g.axes;
    let [_, hh, ww] = g.in3();
    for od in 0..ad.out {
        for oh in 0..ah.out {
            let row = (od * ah.out + oh) * aw.out;
            let yr = &mut y[row..row + aw.out];
            for td in ad.lo[od]..ad.hi[od] {
                for th in ah.lo[oh]..ah.hi[oh] {
                    let r = (ad.pos(od, td) * hh + ah.pos(oh, th)) * ww;
                    sweep_sum(&x[r..r + ww], yr, aw, plain, f);
                }
            }
        }
    }
}

#[inline(always)]
fn sweep_sum<F: Float>(xr: &[F], yr: &mut [F], aw: &AxisPlan, plain: bool, f: impl Fn(F) -> F) {
    let (a, b) = aw.full;
    for ow in (0..a).chain(b..aw.out) {
        let mut s = yr[ow];
        for tw in aw.lo[ow]..aw.hi[ow] {
            s += f(xr[aw.pos(ow, tw)]);
        }
        yr[ow] = s;
    }
    if a >= b {
        return;
    }
    match (aw.stride, aw.ext, aw.dil) {
        (Some(2), 2, 1) => {
            let base = aw.start[a] as usize;
            let xs = &xr[base..base + 2 * (b - a)];
            let ys = &mut yr[a..b];
            // Whole AVX2 steps first when `f` is the identity.
            let done = if plain {
                pairs::add_pair_sums(xs, ys)
            } else {
                0
            };
            for (w, yv) in xs[2 * done..].chunks_exact(2).zip(ys[done..].iter_mut()) {
                *yv += f(w[0]) + f(w[1]);
            }
        }
        (Some(s), k, 1) => {
            let base = aw.start[a] as usize;
            for (i, yv) in yr[a..b].iter_mut().enumerate() {
                let st = base + i * s;
                let mut acc = *yv;
                for &v in &xr[st..st + k] {
                    acc += f(v);
                }
                *yv = acc;
            }
        }
        _ => {
            for ow in a..b {
                let mut s = yr[ow];
                for tw in 0..aw.ext {
                    s += f(xr[aw.pos(ow, tw)]);
                }
                yr[ow] = s;
            }
        }
    }
}

/// Average pooling backward: `dx[i] = Σ_{windows o containing i} dy[o] / divisor(o)`.
///
/// # Panics
/// If a slice length does not match the geometry (an internal invariant:
/// the functional API builds both from the same shapes).
pub fn backward<F: Float>(dy: &[F], g: &Geometry, div: Divisor, par: Par) -> Vec<F> {
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert_eq!(
        dy.len(),
        g.planes * pout,
        "avg_pool backward: gradient length does not match the geometry"
    );
    let n = g.planes * pin;
    let par = par.for_work(n);
    let per_task = (PLANE_BATCH / pin.max(1)).clamp(1, g.planes.max(1));
    let d = plane_divisors::<F>(g, div);
    if is_global(g) {
        return build_chunks(par, n, per_task * pin, |i, dxc| {
            for (j, dxp) in dxc.chunks_mut(pin).enumerate() {
                init_slice(dxp, dy[i * per_task + j] / d[0]);
            }
            (dxc.len(), ())
        })
        .0;
    }
    let tiled = g.tiles_2x2();
    build_chunks(par, n, per_task * pin, |i, dxc| {
        let [ad, ah, aw] = &g.axes;
        let mut scaled = vec![F::zero(); pout];
        wide(
            #[inline(always)]
            || {
                for (j, dxp) in dxc.chunks_mut(pin).enumerate() {
                    let p = i * per_task + j;
                    let dyp = &dy[p * pout..(p + 1) * pout];
                    for ((s, &gv), &dv) in scaled.iter_mut().zip(dyp).zip(&d) {
                        *s = gv / dv;
                    }
                    if tiled {
                        tiled_backward_plane(dxp, g, &scaled);
                        continue;
                    }
                    let dxp = init_slice(dxp, F::zero());
                    for od in 0..ad.out {
                        for oh in 0..ah.out {
                            let row = (od * ah.out + oh) * aw.out;
                            spread_row(dxp, g, od, oh, &scaled[row..row + aw.out]);
                        }
                    }
                }
            },
        );
        (dxc.len(), ())
    })
    .0
}

/// Adds `c[ow]` to every in-bounds tap of the windows of output row `(od, oh)`.
#[inline]
pub(crate) fn spread_row<F: Float>(dx: &mut [F], g: &Geometry, od: usize, oh: usize, c: &[F]) {
    let [ad, ah, aw] = &g.axes;
    let [_, hh, ww] = g.in3();
    for td in ad.lo[od]..ad.hi[od] {
        for th in ah.lo[oh]..ah.hi[oh] {
            let r = (ad.pos(od, td) * hh + ah.pos(oh, th)) * ww;
            let xr = &mut dx[r..r + ww];
            let (a, b) = aw.full;
            let fast = a < b && aw.dil == 1 && aw.stride == Some(aw.ext);
            let (a, b) = if fast { (a, b) } else { (aw.out, aw.out) };
            for ow in (0..a).chain(b..aw.out) {
                for tw in aw.lo[ow]..aw.hi[ow] {
                    xr[aw.pos(ow, tw)] += c[ow];
                }
            }
            if a < b {
                let base = aw.start[a] as usize;
                let xs = &mut xr[base..base + aw.ext * (b - a)];
                match aw.ext {
                    2 => spread_k::<F, 2>(xs, &c[a..b]),
                    3 => spread_k::<F, 3>(xs, &c[a..b]),
                    k => {
                        for (w, &cv) in xs.chunks_exact_mut(k).zip(&c[a..b]) {
                            w.iter_mut().for_each(|v| *v += cv);
                        }
                    }
                }
            }
        }
    }
}

/// `xs[K·i + j] += c[i]` for `j < K`: adjacent windows of `K` taps with
/// stride `K`, the window size a constant so the loop vectorizes.
#[inline(always)]
fn spread_k<F: Float, const K: usize>(xs: &mut [F], c: &[F]) {
    // Whole AVX2 steps first for pairs.
    let done = if K == 2 { pairs::add_spread(xs, c) } else { 0 };
    for (w, &cv) in xs[K * done..].chunks_exact_mut(K).zip(&c[done..]) {
        for v in w {
            *v += cv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AvgPoolParams;

    #[test]
    fn forward_and_backward_on_a_hand_checked_row() {
        // [1, 2, 3, 4, 5], k=3, s=2, pad 1: windows [-1,2), [1,4), [3,6)
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let p = AvgPoolParams::new(&[3]).stride(&[2]).padding(&[1]);
        let g = p.geometry(&[1, 5]).unwrap();
        assert_eq!(
            forward(&x, &g, Divisor::IncludePad, Par::Seq),
            vec![1.0, 3.0, 3.0]
        );
        assert_eq!(
            forward(&x, &g, Divisor::InBounds, Par::Seq),
            vec![1.5, 3.0, 4.5]
        );
        assert_eq!(
            forward(&x, &g, Divisor::Override(2), Par::Seq),
            vec![1.5, 4.5, 4.5]
        );
        let dx = backward(&[3.0, 6.0, 9.0], &g, Divisor::IncludePad, Par::Seq);
        assert_eq!(dx, vec![1.0, 1.0 + 2.0, 2.0, 2.0 + 3.0, 3.0]);
    }

    #[test]
    fn global_windows_take_the_plane_path() {
        let g = Geometry::adaptive_for("t", &[2, 2, 2], &[Some(1), Some(1)]).unwrap();
        let x = [1.0, 2.0, 3.0, 6.0, 0.0, 0.0, 0.0, 4.0];
        assert_eq!(forward(&x, &g, Divisor::InBounds, Par::Seq), vec![3.0, 1.0]);
        assert_eq!(
            backward(&[4.0, 8.0], &g, Divisor::InBounds, Par::Seq),
            vec![1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]
        );
    }

    #[test]
    fn global_means_sum_each_plane_in_lane_order() {
        // Planes around the lane widths (8 and 32 `f32`), enough of them for
        // several tasks; on the SIMD path and, in CI's
        // HANDGRAD_FORCE_PORTABLE rerun, on the portable one.
        use core_tensor::lanes::lane_sum;
        let planes = 1500;
        for (h, w) in [
            (1usize, 1usize),
            (1, 7),
            (2, 4),
            (1, 31),
            (4, 8),
            (3, 11),
            (7, 7),
            (10, 10),
        ] {
            let shape = [planes, h, w];
            let g = Geometry::adaptive_for("t", &shape, &[Some(1), Some(1)]).unwrap();
            let x: Vec<f32> = (0..planes * h * w)
                .map(|i| ((i * 37 % 101) as f32).sin() * 1e3)
                .collect();
            let d = (h * w) as f32;
            let want: Vec<f32> = x.chunks(h * w).map(|p| lane_sum(p, 0.0) / d).collect();
            for par in [Par::Seq, Par::Rayon] {
                assert_eq!(
                    forward(&x, &g, Divisor::InBounds, par),
                    want,
                    "{h}x{w} planes, {par:?}"
                );
            }
        }
    }
}
