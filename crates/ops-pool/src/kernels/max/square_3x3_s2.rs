//! Max pooling over the square windows of most CNNs, 2-d with stride 2:
//! 2×2 windows tiling the plane (`k = 2, s = 2`) on planes without NaN, and
//! 3×3 windows (`k = 3, s = 2, p = 1`, the ResNet stem) on planes of finite
//! values.
//!
//! Each output scans its taps in row-major order and keeps the first
//! maximum (a later tap wins only when strictly larger), as the general
//! kernel does, so values (`0.0` against `-0.0` included) and codes are the
//! same. Whole output rows are computed at once: each tap a stride-2 stream
//! that the compiler vectorizes, or, for 3×3 windows on `f32`/`f64` with
//! AVX2, the explicit steps of [`max_3_s2`]. For 3×3 windows, a
//! window row in the padding reads a row of minus infinity instead: when
//! the values read are finite a padding tap never beats a real one, and the
//! code of a real tap already counts the padding rows above it. Windows
//! reaching into the left or right padding (one or two per output row) are
//! scanned tap by tap.

use std::hint::select_unpredictable;
use std::mem::MaybeUninit;

use core_tensor::Float;
use core_tensor::simd::{prefetch, wide};

use crate::argmax::Offset;
use crate::geometry::{AxisPlan, Geometry};
use crate::simd::{max_3_s2, spread_3x3_s2};

/// Taps per window side of [`forward`].
const K: usize = 3;

/// Whether [`forward`] handles `g`: 2-d, 3 taps with stride 2 and no
/// dilation on both axes, at least one window inside the row.
pub(super) fn applies(g: &Geometry) -> bool {
    let [ad, ah, aw] = &g.axes;
    let three = |a: &AxisPlan| a.ext == K && a.stride == Some(2) && a.dil == 1;
    ad.ext == 1 && ad.out == 1 && three(ah) && three(aw) && aw.full.0 < aw.full.1
}

/// Whether `x` holds only finite values (no NaN, no infinity): `x − x` is
/// 0 for a finite `x` and NaN otherwise, summed over 32 lanes (plain vector
/// adds; 32 rather than 8 so that they do not wait on each other).
#[inline(always)]
#[allow(clippy::eq_op)] // `v - v` is the test: NaN exactly when `v` is not finite
fn all_finite<F: Float>(x: &[F]) -> bool {
    let mut acc = [F::zero(); 32];
    let chunks = x.chunks_exact(32);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v - v;
        }
    }
    !acc.iter().chain(rest).any(|&a| !a.is_finite())
}

/// One plane (`applies(g)` holds): maxima into `y` and, when `t` is given,
/// the in-window row-major codes, if every value the windows read is finite;
/// returns whether they were (otherwise `y` and `t` hold partial results,
/// which the caller overwrites with an exact kernel). `pad_row` is scratch
/// space. `ahead` is the memory the caller reads next (the next plane, or
/// nothing), asked into the caches a slice per output row.
///
/// The values are checked as they are read (by the AVX2 steps of
/// [`max_3_s2`], or row by row before the scalar loops) rather
/// than in a pass of their own, and the next plane is read while this one
/// is computed, so the plane is read from memory once.
pub(super) fn forward<F: Float, O: Offset>(
    x: &[F],
    g: &Geometry,
    y: &mut [F],
    t: Option<&mut [O]>,
    pad_row: &mut Vec<F>,
    ahead: &[F],
) -> bool {
    // Compiled for AVX2 too, where the CPU has it (same results).
    wide(
        #[inline(always)]
        || plane_body(x, g, y, t, pad_row, ahead),
    )
}

/// `(m, c) <- (v, code)` when `v` is strictly larger (branch-free).
#[inline(always)]
fn take<F: Float>(m: &mut F, c: &mut u8, v: F, code: u8) {
    let larger = v > *m;
    *c = select_unpredictable(larger, code, *c);
    *m = select_unpredictable(larger, v, *m);
}

/// The larger of `m` and `v`, `m` on ties.
#[inline(always)]
fn max<F: Float>(m: F, v: F) -> F {
    if v > m { v } else { m }
}

#[inline(always)]
fn plane_body<F: Float, O: Offset>(
    x: &[F],
    g: &Geometry,
    y: &mut [F],
    mut t: Option<&mut [O]>,
    pad_row: &mut Vec<F>,
    ahead: &[F],
) -> bool {
    let [_, ah, aw] = &g.axes;
    let part = ahead.len().div_ceil(ah.out.max(1));
    let w = aw.len;
    let own = aw.out;
    let (a, b) = aw.full;
    let (base, n) = (aw.start[a] as usize, b - a);
    pad_row.clear();
    pad_row.resize(2 * n + 1, F::neg_infinity());
    for oh in 0..ah.out {
        let lo = (oh * part).min(ahead.len());
        prefetch(&ahead[lo..(lo + part).min(ahead.len())]);
        let (yr, mut tr) = (
            &mut y[oh * own..(oh + 1) * own],
            t.as_deref_mut().map(|t| &mut t[oh * own..(oh + 1) * own]),
        );
        // The window's rows, whole: real rows, or minus infinity for a row
        // in the padding (`pad_row`, which the edges do not read).
        let real: [bool; K] = std::array::from_fn(|th| (ah.lo[oh]..ah.hi[oh]).contains(&th));
        let whole: [&[F]; K] = std::array::from_fn(|th| {
            if real[th] {
                let r = ah.pos(oh, th) * w;
                &x[r..r + w]
            } else {
                &pad_row[..]
            }
        });
        // From column `base` on, as the interior windows read them.
        let rows: [&[F]; K] = std::array::from_fn(|th| {
            if real[th] {
                &whole[th][base..base + 2 * n + 1]
            } else {
                whole[th]
            }
        });
        let finite = match max_3_s2::interior(
            rows,
            real,
            &mut yr[a..b],
            tr.as_deref_mut().map(|t| &mut t[a..b]),
        ) {
            Some(finite) => finite,
            None => {
                let finite = (0..K).all(|k| !real[k] || all_finite(rows[k]));
                if finite {
                    scalar_interior(rows, &mut yr[a..b], tr.as_deref_mut().map(|t| &mut t[a..b]));
                }
                finite
            }
        };
        if !(finite && edges(whole, real, aw, yr, tr)) {
            return false;
        }
    }
    true
}

/// The interior windows of one output row (see [`plane_body`]) in scalar
/// code, which the compiler vectorizes: window `i` takes `r[2i..2i + 3]` of
/// each row `r`.
#[inline(always)]
fn scalar_interior<F: Float, O: Offset>(rows: [&[F]; K], yr: &mut [F], t: Option<&mut [O]>) {
    let n = yr.len();
    // Taps 0 and 1 of window `i` are `pairs(k)[i]`, tap 2 is `next(k)[i][1]`.
    let pairs = |k: usize| rows[k][..2 * n].chunks_exact(2);
    let next = |k: usize| rows[k][1..].chunks_exact(2);
    let taps = (pairs(0).zip(next(0)))
        .zip(pairs(1).zip(next(1)))
        .zip(pairs(2).zip(next(2)));
    match t {
        Some(tr) => {
            for ((ym, tc), (((p0, q0), (p1, q1)), (p2, q2))) in
                yr.iter_mut().zip(tr.iter_mut()).zip(taps)
            {
                let (mut m, mut c) = (p0[0], 0);
                take(&mut m, &mut c, p0[1], 1);
                take(&mut m, &mut c, q0[1], 2);
                take(&mut m, &mut c, p1[0], 3);
                take(&mut m, &mut c, p1[1], 4);
                take(&mut m, &mut c, q1[1], 5);
                take(&mut m, &mut c, p2[0], 6);
                take(&mut m, &mut c, p2[1], 7);
                take(&mut m, &mut c, q2[1], 8);
                (*ym, *tc) = (m, O::from_usize(usize::from(c)));
            }
        }
        None => {
            for (ym, (((p0, q0), (p1, q1)), (p2, q2))) in yr.iter_mut().zip(taps) {
                let m = max(max(max(p0[0], p0[1]), q0[1]), p1[0]);
                let m = max(max(max(m, p1[1]), q1[1]), p2[0]);
                *ym = max(max(m, p2[1]), q2[1]);
            }
        }
    }
}

/// The windows of one output row reaching into the left or right padding
/// (`yr` and `tr` are that output row, `rows` the window's `K` input rows
/// whole, those not `real` lying in the padding), over their taps inside
/// the plane in row-major order. The running maximum starts at minus
/// infinity, which the first tap (finite) beats: the first real maximum and
/// its in-window code win, as in the general scan. Returns whether every
/// value read was finite.
///
/// Written for `K` taps of dilation 1 with the rows in hand and a fixed
/// count of taps, rather than through the general window tables (fewer
/// index computations on the one or two edge windows of every row).
#[inline(always)]
#[allow(clippy::eq_op)] // `v - v` is the test: NaN exactly when `v` is not finite
fn edges<F: Float, O: Offset>(
    rows: [&[F]; K],
    real: [bool; K],
    aw: &AxisPlan,
    yr: &mut [F],
    mut tr: Option<&mut [O]>,
) -> bool {
    let (a, b) = aw.full;
    let mut check = F::zero();
    for ow in (0..a).chain(b..aw.out) {
        let start = aw.start[ow];
        // The columns of the taps inside the row.
        let cols: [Option<usize>; K] = std::array::from_fn(|tw| {
            usize::try_from(start + tw as isize)
                .ok()
                .filter(|&col| col < aw.len)
        });
        let (mut m, mut c) = (F::neg_infinity(), 0u8);
        for th in 0..K {
            for (tw, col) in cols.iter().enumerate() {
                if let (true, Some(&col)) = (real[th], col.as_ref()) {
                    let v = rows[th][col];
                    check += v - v;
                    take(&mut m, &mut c, v, (th * K + tw) as u8);
                }
            }
        }
        yr[ow] = m;
        if let Some(tr) = tr.as_deref_mut() {
            tr[ow] = O::from_usize(usize::from(c));
        }
    }
    check.is_finite()
}

/// The backward of one plane (`applies(g)` holds, 2-d) from its codes,
/// every input gradient written once; returns `false` having written
/// nothing when the AVX2 steps cannot run (the caller then scatters).
pub(super) fn backward<F: Float>(
    dy: &[F],
    codes: &[u8],
    g: &Geometry,
    dx: &mut [MaybeUninit<F>],
) -> bool {
    spread_3x3_s2::plane(dy, codes, g, dx)
}
