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

use crate::error::{PoolError, Result};
use crate::geometry::{check_alloc, split_input};
use crate::params::{broadcast, positive};

/// The output size of fractional max pooling.
#[derive(Clone, Debug, PartialEq)]
pub enum FractionalOutput {
    /// `output_size`: one size per spatial axis (or one for all); 0 gives an
    /// empty output, as in PyTorch.
    Size(Vec<usize>),
    /// `output_ratio`: `O = ⌊L · ratio⌋` per axis (or one ratio for all),
    /// each ratio strictly between 0 and 1.
    Ratio(Vec<f64>),
}

/// Parameters of `F.fractional_max_pool2d/3d`. The number of spatial axes
/// (2 or 3) is the longer of `kernel_size` and the output list; a list of
/// one entry applies to every axis.
#[derive(Clone, Debug, PartialEq)]
pub struct FractionalMaxPoolParams {
    /// Window size per spatial axis.
    pub kernel_size: Vec<usize>,
    /// Output size or ratio.
    pub output: FractionalOutput,
}

impl FractionalMaxPoolParams {
    /// `kernel_size` with an explicit `output_size` (one entry per axis, or
    /// one for all).
    pub fn with_output_size(kernel_size: &[usize], output_size: &[usize]) -> Self {
        Self {
            kernel_size: kernel_size.to_vec(),
            output: FractionalOutput::Size(output_size.to_vec()),
        }
    }

    /// `kernel_size` with an `output_ratio` (one entry per axis, or one for
    /// all).
    pub fn with_output_ratio(kernel_size: &[usize], output_ratio: &[f64]) -> Self {
        Self {
            kernel_size: kernel_size.to_vec(),
            output: FractionalOutput::Ratio(output_ratio.to_vec()),
        }
    }
}

/// A checked call: the input split into planes, windows and outputs per
/// axis, lifted to three axes (2-d pooling gets a leading axis of size 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FractionalGeometry {
    pub(crate) op: &'static str,
    pub(crate) dims: usize,
    pub(crate) lead: Vec<usize>,
    /// Input sizes, `[T, H, W]`.
    pub(crate) input: [usize; 3],
    /// Window sizes, `[T, H, W]`.
    kernel: [usize; 3],
    /// Output sizes, `[T, H, W]`.
    pub(crate) output: [usize; 3],
}

const AXIS_NAMES: [&str; 3] = ["time", "height", "width"];

impl FractionalGeometry {
    /// Checks the input shape and the parameters as PyTorch does, and
    /// resolves the output size.
    ///
    /// # Errors
    /// [`PoolError::SpatialDims`] unless `kernel_size` or the output list
    /// has 2 or 3 entries;
    /// [`PoolError::WrongRank`], [`PoolError::EmptyInput`] for the input;
    /// [`PoolError::ParamLength`], [`PoolError::InvalidParam`] for a zero
    /// kernel, a ratio outside `(0, 1)`, or an output too large for its
    /// window: `O + k − 1` must be at most `L` for 2-d pooling and below
    /// `L` for 3-d pooling (PyTorch's checks differ by one).
    pub fn new(shape: &[usize], p: &FractionalMaxPoolParams) -> Result<Self> {
        let given = match &p.output {
            FractionalOutput::Size(s) => s.len(),
            FractionalOutput::Ratio(r) => r.len(),
        };
        let dims = p.kernel_size.len().max(given);
        let op = match dims {
            2 => "fractional_max_pool2d",
            3 => "fractional_max_pool3d",
            got => {
                return Err(PoolError::SpatialDims {
                    op: "fractional_max_pool",
                    param: "kernel_size",
                    got,
                });
            }
        };
        let (lead, spatial) = split_input(op, shape, dims)?;
        let kernel = broadcast(op, "kernel_size", &p.kernel_size, dims)?;
        for (axis, &k) in kernel.iter().enumerate() {
            positive(op, "kernel_size", axis, k)?;
        }
        let output = match &p.output {
            FractionalOutput::Size(s) => broadcast(op, "output_size", s, dims)?,
            FractionalOutput::Ratio(r) => {
                let r = broadcast(op, "output_ratio", r, dims)?;
                let mut out = Vec::with_capacity(dims);
                for (axis, (&ratio, &len)) in r.iter().zip(&spatial).enumerate() {
                    if !(ratio > 0.0 && ratio < 1.0) {
                        return Err(PoolError::InvalidParam {
                            op,
                            param: "output_ratio",
                            axis,
                            value: ratio.to_string(),
                            allowed: "it must be strictly between 0 and 1".into(),
                        });
                    }
                    // Python's int(L * ratio): the product in f64, truncated.
                    out.push((len as f64 * ratio) as usize);
                }
                out
            }
        };
        let strict = dims == 3;
        for axis in 0..dims {
            let (k, o, l) = (kernel[axis], output[axis], spatial[axis]);
            let reach = o.saturating_add(k - 1);
            if reach > l || (strict && reach == l) {
                let name = AXIS_NAMES[3 - dims + axis];
                let bound = if strict { "below" } else { "at most" };
                return Err(PoolError::InvalidParam {
                    op,
                    param: "output_size",
                    axis,
                    value: o.to_string(),
                    allowed: format!(
                        "pool {name} {k} is too large relative to input {name} {l}: \
                         output + kernel - 1 must be {bound} the input size"
                    ),
                });
            }
        }
        let mut full = lead.clone();
        full.extend(&output);
        check_alloc(op, &full)?;
        let lift = |v: &[usize]| {
            let mut a = [1; 3];
            a[3 - dims..].copy_from_slice(v);
            a
        };
        Ok(Self {
            op,
            dims,
            lead,
            input: lift(&spatial),
            kernel: lift(&kernel),
            output: lift(&output),
        })
    }

    /// The op name (`fractional_max_pool2d` or `fractional_max_pool3d`).
    pub fn op(&self) -> &'static str {
        self.op
    }
    /// Number of `(N, C)` planes.
    pub fn planes(&self) -> usize {
        self.lead.iter().product()
    }
    /// Elements of one input plane.
    pub fn plane_in(&self) -> usize {
        self.input.iter().product()
    }
    /// Elements of one output plane.
    pub fn plane_out(&self) -> usize {
        self.output.iter().product()
    }
    /// The full output shape.
    pub fn output_shape(&self) -> Vec<usize> {
        let mut s = self.lead.clone();
        s.extend(&self.output[3 - self.dims..]);
        s
    }
    /// The full input shape.
    pub fn input_shape(&self) -> Vec<usize> {
        let mut s = self.lead.clone();
        s.extend(&self.input[3 - self.dims..]);
        s
    }

    /// Checks `samples` (PyTorch's `_random_samples`): shape `(N', C, D)`
    /// with `N' ≥ N` (1 row for an unbatched input), values in `[0, 1)`.
    ///
    /// # Errors
    /// [`PoolError::ShapeMismatch`], [`PoolError::InvalidScalar`].
    pub fn check_samples<F: Float>(&self, samples: &Tensor<F>) -> Result<()> {
        let (n, c) = match self.lead[..] {
            [n, c] => (n, c),
            [c] => (1, c),
            _ => unreachable!("split_input returns one or two leading axes"),
        };
        let s = samples.shape();
        if s.len() != 3 || s[0] < n || s[1] != c || s[2] != self.dims {
            return Err(PoolError::ShapeMismatch {
                op: self.op,
                what: "_random_samples (at least N rows)",
                got: s.to_vec(),
                expected: vec![n, c, self.dims],
            });
        }
        if let Some(bad) = samples
            .as_slice()
            .iter()
            .find(|u| !(u.widen() >= 0.0 && u.widen() < 1.0))
        {
            return Err(PoolError::InvalidScalar {
                op: self.op,
                param: "_random_samples",
                value: bad.widen().to_string(),
                allowed: "every sample must lie in [0, 1)".into(),
            });
        }
        Ok(())
    }

    /// Window starts along lifted axis `a` for sample `u` (see the module
    /// docs), in `F`'s arithmetic.
    fn starts<F: Float>(&self, a: usize, u: F) -> Vec<usize> {
        let (len, k, out) = (self.input[a], self.kernel[a], self.output[a]);
        if out == 0 {
            return Vec::new();
        }
        // Checked by `new`: out + k − 1 <= len, so k <= len here.
        let last = len - k;
        let mut s = Vec::with_capacity(out);
        if out > 1 {
            let alpha = F::cast(last as f64) / F::cast((out - 1) as f64);
            let base = (u * alpha).widen() as usize;
            for i in 0..out - 1 {
                let at = ((F::cast(i as f64) + u) * alpha).widen() as usize;
                s.push((at - base).min(last));
            }
        }
        s.push(last);
        s
    }
}

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
