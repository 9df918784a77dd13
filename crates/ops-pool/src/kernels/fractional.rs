//! Fractional max pooling (Graham, 2014; PyTorch's
//! `F.fractional_max_pool2d/3d`): `kernel`-sized max windows whose starts
//! advance by a fractional step `α = (L − k) / (O − 1)`, jittered per plane
//! by a sample `u ∈ [0, 1)`:
//!
//! `start[i] = ⌊(i + u)·α⌋ − ⌊u·α⌋` for `i < O − 1`, `start[O − 1] = L − k`,
//!
//! computed in the input's float type, as PyTorch does. Each `(N, C)` plane
//! has its own samples, one per spatial axis: for 2-d pooling `u[0]` drives
//! the width and `u[1]` the height; for 3-d, `u[0]`, `u[1]`, `u[2]` drive
//! time, height and width. Ties go to the first maximum in row-major window
//! order, a NaN wins (the last NaN of a window), and the index reported is
//! the flat position inside the input plane. The backward pass adds each
//! output gradient at its index; it is the scatter-add of max unpooling,
//! whose own backward (the gather) gives second derivatives.

use core_tensor::{Float, Par, Tensor};

use crate::geometry::FractionalGeometry;

/// The forward pass: pooled values and PyTorch's `i64` indices (flat in
/// the input plane). `samples` must have passed
/// [`FractionalGeometry::check_samples`].
///
/// # Panics
/// If `x` does not hold the geometry's input (an internal invariant).
pub fn forward<F: Float>(
    x: &[F],
    samples: &Tensor<F>,
    g: &FractionalGeometry,
    par: Par,
) -> (Vec<F>, Vec<i64>) {
    let (planes, pin, pout) = (g.planes(), g.plane_in(), g.plane_out());
    assert_eq!(x.len(), planes * pin, "fractional max pool: input length");
    let mut y = vec![F::zero(); planes * pout];
    let mut idx = vec![0i64; planes * pout];
    if pout == 0 {
        return (y, idx);
    }
    let u = samples.as_slice();
    let [_, ih, iw] = g.input;
    let [kt, kh, kw] = g.kernel;
    par.for_work(planes * pin).for_each_chunk_pair_mut(
        &mut y,
        pout,
        &mut idx,
        pout,
        |p, yp, ip| {
            // Planes are the (n, c) pairs in order, so plane p reads row
            // n·C + c = p of the (N', C, D) samples.
            let row = &u[p * g.dims..(p + 1) * g.dims];
            let axis_sample = |a: usize| match (g.dims, a) {
                (2, 1) => row[1], // height
                (2, _) => row[0], // width
                (_, a) => row[a], // time, height, width
            };
            let [st, sh, sw] = [0, 1, 2].map(|a| {
                if a < 3 - g.dims {
                    vec![0]
                } else {
                    g.starts(a, axis_sample(a))
                }
            });
            let xp = &x[p * pin..(p + 1) * pin];
            let mut o = 0;
            for &t0 in &st {
                for &h0 in &sh {
                    for &w0 in &sw {
                        let taps = || {
                            (t0..t0 + kt).flat_map(move |t| {
                                (h0..h0 + kh).map(move |h| (t * ih + h) * iw + w0)
                            })
                        };
                        let (best, at) = window_max(xp, taps, kw);
                        yp[o] = best;
                        ip[o] = at as i64;
                        o += 1;
                    }
                }
            }
        },
    );
    (y, idx)
}

/// The maximum of a window given by the starts of its rows (`rows()`,
/// in order) and its row length `kw`, and its position: the first
/// maximum, or the last NaN if there is one (PyTorch's rule, `v > best ||
/// isnan(v)` in window order).
///
/// On real data which tap wins is unpredictable, so this avoids branching
/// on it: a first pass takes the maximum (`max` ignores NaN) and notes any
/// NaN, a second pass walks the window backwards and keeps the position of
/// each tap equal to the maximum, which ends on the first one; a window
/// with a NaN takes the plain scan.
#[inline(always)]
fn window_max<F: Float, R: DoubleEndedIterator<Item = usize>>(
    xp: &[F],
    rows: impl Fn() -> R,
    kw: usize,
) -> (F, usize) {
    let (mut best, mut nan) = (F::neg_infinity(), false);
    for r in rows() {
        for &v in &xp[r..r + kw] {
            best = best.max(v);
            nan |= v.is_nan();
        }
    }
    let first = rows().next().expect("a window has at least one row");
    let mut at = first;
    if nan {
        for r in rows() {
            for (w, &v) in xp[r..r + kw].iter().enumerate() {
                if v > best || v.is_nan() {
                    best = v;
                    at = r + w;
                }
            }
        }
        return (best, at);
    }
    for r in rows().rev() {
        for (w, &v) in xp[r..r + kw].iter().enumerate().rev() {
            at = if v == best { r + w } else { at };
        }
    }
    (xp[at], at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::Rng;

    /// PyTorch's scan: `v > best || isnan(v)` in window order.
    fn scan(xp: &[f64], rows: &[usize], kw: usize) -> (f64, usize) {
        let (mut best, mut at) = (f64::NEG_INFINITY, rows[0]);
        for &r in rows {
            for (w, &v) in xp[r..r + kw].iter().enumerate() {
                if v > best || v.is_nan() {
                    best = v;
                    at = r + w;
                }
            }
        }
        (best, at)
    }

    #[test]
    fn window_max_agrees_with_the_scan_on_ties_zeros_infinities_and_nan() {
        let specials = [
            0.0,
            -0.0,
            1.0,
            1.0,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NAN,
        ];
        let mut rng = Rng::new(3);
        for case in 0..2000 {
            let xp: Vec<f64> = (0..24)
                .map(|_| {
                    if rng.below(3) == 0 {
                        specials[rng.below(specials.len())]
                    } else {
                        rng.below(4) as f64 - 2.0
                    }
                })
                .collect();
            let kw = 1 + rng.below(3);
            let nrows = 1 + rng.below(3);
            let start = rng.below(24 - 6 * (nrows - 1) - kw + 1);
            let rows: Vec<usize> = (0..nrows).map(|i| start + 6 * i).collect();
            let (want_v, want_at) = scan(&xp, &rows, kw);
            let (got_v, got_at) = window_max(&xp, || rows.iter().copied(), kw);
            assert_eq!(got_at, want_at, "case {case}: {xp:?} rows {rows:?} kw {kw}");
            assert_eq!(got_v.to_bits(), want_v.to_bits(), "case {case}");
        }
    }
}
