//! The shapes of one fractional max-pooling call
//! (`F.fractional_max_pool2d/3d`): the input lifted to three spatial axes,
//! the resolved output size, the check of the random samples, and the
//! window starts `⌊(i + u)·α⌋ − ⌊u·α⌋` of each axis (see
//! `kernels/fractional.rs`).

use core_tensor::{Float, Tensor};

use crate::error::{PoolError, Result};
use crate::geometry::{check_alloc, split_input};
use crate::params::{FractionalMaxPoolParams, FractionalOutput, broadcast, positive};

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
    pub(crate) kernel: [usize; 3],
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
    pub(crate) fn starts<F: Float>(&self, a: usize, u: F) -> Vec<usize> {
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
