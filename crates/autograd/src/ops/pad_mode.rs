//! Padding with PyTorch's `F.pad` modes: constant, reflect, replicate and
//! circular.
//!
//! The non-constant modes are index maps along each padded axis: output
//! position `j` reads input position `src[j]`. The forward gathers along the
//! axis, the backward scatters the output gradient back and adds where
//! several output positions read the same input (`reflect` and `replicate`
//! read edge elements more than once). The gather is a [`LinearMap`] with
//! the scatter as its adjoint, so higher derivatives come for free.

use std::sync::Arc;

use core_tensor::{Float, Tensor, shape::checked_numel};

use crate::{AutogradError, LinearMap, Result, Var, apply_linear};

/// How [`Var::pad_with`] fills the added border: the `mode` of PyTorch's
/// `F.pad(input, pad, mode, value)`. With `[before, after] = [2, 3]` on the
/// values `[0 1 2 3]`:
///
/// | mode | result |
/// |---|---|
/// | `Constant(v)` | `v v │ 0 1 2 3 │ v v v` |
/// | `Reflect` | `2 1 │ 0 1 2 3 │ 2 1 0` (the edge is not repeated) |
/// | `Replicate` | `0 0 │ 0 1 2 3 │ 3 3 3` |
/// | `Circular` | `2 3 │ 0 1 2 3 │ 0 1 2` |
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode {
    /// Every added element is the given value (`mode='constant'`).
    Constant(f64),
    /// The input mirrored about its edge elements (`mode='reflect'`); each
    /// pad must be smaller than the axis.
    Reflect,
    /// The edge element repeated (`mode='replicate'`); the axis must not be
    /// empty.
    Replicate,
    /// The input wrapped around (`mode='circular'`); each pad must be at
    /// most the axis size.
    Circular,
}

impl PadMode {
    /// PyTorch's name of the mode.
    pub fn name(&self) -> &'static str {
        match self {
            PadMode::Constant(_) => "constant",
            PadMode::Reflect => "reflect",
            PadMode::Replicate => "replicate",
            PadMode::Circular => "circular",
        }
    }

    /// The input position that output position `j` of an axis of size `n`
    /// padded by `before` reads, for the non-constant modes.
    fn source(&self, j: usize, before: usize, n: usize) -> usize {
        // Position relative to the input's first element, as a signed
        // offset; callers have checked that `before` and `n` fit.
        let i = j as isize - before as isize;
        let n = n as isize;
        let s = match self {
            PadMode::Reflect => {
                let period = 2 * (n - 1);
                let r = if period == 0 { 0 } else { i.rem_euclid(period) };
                if r < n { r } else { period - r }
            }
            PadMode::Replicate => i.clamp(0, n - 1),
            PadMode::Circular => i.rem_euclid(n),
            PadMode::Constant(_) => unreachable!("constant padding has no source map"),
        };
        s as usize
    }
}

/// Gathers along one axis, `y[.., j, ..] = x[.., src[j], ..]`; the adjoint
/// scatters back, `dx[.., i, ..] = Σ_{j: src[j] = i} dy[.., j, ..]`.
struct GatherAxis {
    axis: usize,
    src: Arc<[usize]>,
    /// The size of the axis in the input.
    n: usize,
}

impl<F: Float> LinearMap<F> for GatherAxis {
    fn name(&self) -> &'static str {
        "pad_with"
    }

    fn adjoint_name(&self) -> &'static str {
        "pad_with_backward"
    }

    fn apply(&self, x: &Tensor<F>) -> Result<Tensor<F>> {
        let mut shape = x.shape().to_vec();
        let (outer, inner) = split_at_axis(&shape, self.axis);
        let n = shape[self.axis];
        shape[self.axis] = self.src.len();
        checked_numel("pad_with", &shape)?;
        let xs = x.as_slice();
        let mut out = Vec::with_capacity(outer * self.src.len() * inner);
        for o in 0..outer {
            let plane = &xs[o * n * inner..(o + 1) * n * inner];
            for &s in self.src.iter() {
                out.extend_from_slice(&plane[s * inner..(s + 1) * inner]);
            }
        }
        Ok(Tensor::from_vec(&shape, out)?)
    }

    fn apply_adjoint(&self, g: &Tensor<F>) -> Result<Tensor<F>> {
        let mut shape = g.shape().to_vec();
        let (outer, inner) = split_at_axis(&shape, self.axis);
        let (m, n) = (self.src.len(), self.n);
        shape[self.axis] = n;
        let gs = g.as_slice();
        let mut out = vec![F::zero(); outer * n * inner];
        for o in 0..outer {
            let from = &gs[o * m * inner..(o + 1) * m * inner];
            let to = &mut out[o * n * inner..(o + 1) * n * inner];
            for (j, &s) in self.src.iter().enumerate() {
                let dst = &mut to[s * inner..(s + 1) * inner];
                for (d, &v) in dst.iter_mut().zip(&from[j * inner..(j + 1) * inner]) {
                    *d += v;
                }
            }
        }
        Ok(Tensor::from_vec(&shape, out)?)
    }
}

/// `(outer, inner)`: the element counts before and after `axis`.
fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, inner)
}

fn gather_axis<F: Float>(x: &Var<F>, axis: usize, src: Arc<[usize]>) -> Result<Var<F>> {
    let n = x.shape()[axis];
    apply_linear(x, &Arc::new(GatherAxis { axis, src, n }))
}

impl<F: Float> Var<F> {
    /// Pads the trailing `pads.len()` axes: `pads[i] = [before, after]` for
    /// the `i`-th of them, filled as `mode` says (PyTorch's `F.pad`, whose
    /// flat `pad` argument lists the *last* axis first: `F.pad(x, (l, r, t,
    /// b), mode)` is `x.pad_with(&[[t, b], [l, r]], mode)`).
    ///
    /// As in PyTorch, the non-constant modes pad 1 to 3 trailing axes of an
    /// input with one or two leading axes (`(C, *)` or `(N, C, *)`); the
    /// gradient of an input element is the sum of the output gradients at
    /// every position that reads it.
    ///
    /// ```
    /// use autograd::{PadMode, Var};
    /// use core_tensor::Tensor;
    ///
    /// let x = Var::leaf(Tensor::from_vec(&[1, 4], vec![0.0f64, 1.0, 2.0, 3.0])?);
    /// let y = x.pad_with(&[[2, 3]], PadMode::Reflect)?;
    /// assert_eq!(y.value().as_slice(), &[2., 1., 0., 1., 2., 3., 2., 1., 0.]);
    /// y.sum_all().backward()?;
    /// // 1 and 2 are read three times each, 0 twice and 3 once.
    /// assert_eq!(x.grad().unwrap().as_slice(), &[2., 3., 3., 1.]);
    /// # Ok::<(), autograd::AutogradError>(())
    /// ```
    ///
    /// # Errors
    /// [`AutogradError::InvalidArgument`] when `pads` has more entries than
    /// the rank; for the non-constant modes also when the rank is not
    /// `pads.len() + 1` or `pads.len() + 2`, `pads` has more than 3
    /// entries, an axis is empty, a reflect pad is not smaller than its
    /// axis, or a circular pad exceeds its axis (PyTorch's checks).
    pub fn pad_with(&self, pads: &[[usize; 2]], mode: PadMode) -> Result<Var<F>> {
        if let PadMode::Constant(value) = mode {
            return self.pad(pads, value);
        }
        let shape = self.shape();
        let rank = shape.len();
        let k = pads.len();
        let bad = |reason: String| AutogradError::InvalidArgument {
            op: "pad_with",
            param: "pads",
            reason,
        };
        if !(1..=3).contains(&k) || !(k + 1..=k + 2).contains(&rank) {
            return Err(bad(format!(
                "{} padding takes 1 to 3 trailing axes of an input with one or two \
                 leading axes, got {k} axes to pad on an input of shape {shape:?}",
                mode.name()
            )));
        }
        let mut y = self.clone();
        for (i, &[before, after]) in pads.iter().enumerate() {
            let axis = rank - k + i;
            let n = shape[axis];
            let fits = match mode {
                PadMode::Reflect => before < n && after < n,
                PadMode::Circular => before <= n && after <= n,
                _ => n > 0,
            };
            if n == 0 || !fits {
                let allowed = match mode {
                    PadMode::Reflect => "each pad must be smaller than the axis",
                    PadMode::Circular => "each pad must be at most the axis size",
                    _ => "the axis must not be empty",
                };
                return Err(bad(format!(
                    "{} padding [{before}, {after}] on axis {axis} of an input of shape \
                     {shape:?}: {allowed}",
                    mode.name()
                )));
            }
            if before == 0 && after == 0 {
                continue;
            }
            let len = before
                .checked_add(n)
                .and_then(|v| v.checked_add(after))
                .ok_or_else(|| bad(format!("padded size of axis {axis} overflows")))?;
            let src: Arc<[usize]> = (0..len).map(|j| mode.source(j, before, n)).collect();
            y = gather_axis(&y, axis, src)?;
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;

    fn row(v: &[f64]) -> Var<f64> {
        Var::leaf(Tensor::from_vec(&[1, v.len()], v.to_vec()).unwrap())
    }

    #[test]
    fn modes_fill_the_border_as_pytorch() {
        // torch.nn.functional.pad(torch.arange(4.).reshape(1, 1, 4), (2, 3), mode)
        let x = row(&[0., 1., 2., 3.]);
        let cases = [
            (PadMode::Reflect, [2., 1., 0., 1., 2., 3., 2., 1., 0.]),
            (PadMode::Replicate, [0., 0., 0., 1., 2., 3., 3., 3., 3.]),
            (PadMode::Circular, [2., 3., 0., 1., 2., 3., 0., 1., 2.]),
            (
                PadMode::Constant(-1.),
                [-1., -1., 0., 1., 2., 3., -1., -1., -1.],
            ),
        ];
        for (mode, want) in cases {
            let y = x.pad_with(&[[2, 3]], mode).unwrap();
            assert_eq!(y.shape(), vec![1, 9]);
            assert_eq!(y.value().as_slice(), &want, "{mode:?}");
        }
        // The largest pads PyTorch allows: reflect n − 1, circular n.
        let y = x.pad_with(&[[3, 3]], PadMode::Reflect).unwrap();
        assert_eq!(
            y.value().as_slice(),
            &[3., 2., 1., 0., 1., 2., 3., 2., 1., 0.]
        );
        let y = x.pad_with(&[[4, 4]], PadMode::Circular).unwrap();
        assert_eq!(
            y.value().as_slice(),
            &[0., 1., 2., 3., 0., 1., 2., 3., 0., 1., 2., 3.]
        );
    }

    #[test]
    fn two_axes_pad_rows_then_columns() {
        // F.pad(torch.arange(6.).reshape(1, 2, 3), (1, 1, 1, 0), 'replicate')
        let x = Var::leaf(Tensor::from_vec(&[1, 2, 3], (0..6).map(f64::from).collect()).unwrap());
        let y = x.pad_with(&[[1, 0], [1, 1]], PadMode::Replicate).unwrap();
        assert_eq!(y.shape(), vec![1, 3, 5]);
        assert_eq!(
            y.value().as_slice(),
            &[0., 0., 1., 2., 2., 0., 0., 1., 2., 2., 3., 3., 4., 5., 5.]
        );
        // F.pad(torch.arange(6.).reshape(1, 2, 3), (2, 1, 1, 1), 'circular')
        let y = x.pad_with(&[[1, 1], [2, 1]], PadMode::Circular).unwrap();
        assert_eq!(
            y.value().as_slice(),
            &[
                4., 5., 3., 4., 5., 3., 1., 2., 0., 1., 2., 0., 4., 5., 3., 4., 5., 3., 1., 2., 0.,
                1., 2., 0.
            ]
        );
    }

    #[test]
    fn gradients_add_up_where_positions_are_read_twice() {
        let x = row(&[0., 1., 2., 3.]);
        let w = Tensor::from_vec(&[1, 9], (1..=9).map(f64::from).collect()).unwrap();
        let cases = [
            // Weights 1..=9; reflect reads 2 1 0 1 2 3 2 1 0, so x0 ← 3 + 9 and
            // x1 ← 2 + 4 + 8 (values from torch.autograd.grad of F.pad).
            (PadMode::Reflect, [12., 14., 13., 6.]),
            (PadMode::Replicate, [6., 4., 5., 30.]),
            (PadMode::Circular, [10., 12., 15., 8.]),
        ];
        for (mode, want) in cases {
            let y = x.pad_with(&[[2, 3]], mode).unwrap();
            let w = Var::constant(w.clone());
            let g = grad(&[y], std::slice::from_ref(&x), &[w], false).unwrap();
            assert_eq!(g[0].as_ref().unwrap().value().as_slice(), &want, "{mode:?}");
        }
    }

    #[test]
    fn bad_pads_are_typed_errors_with_pytorchs_limits() {
        let x = row(&[0., 1., 2., 3.]);
        let err = x.pad_with(&[[4, 0]], PadMode::Reflect).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pad_with: invalid pads: reflect padding [4, 0] on axis 1 of an input of shape \
             [1, 4]: each pad must be smaller than the axis"
        );
        assert!(x.pad_with(&[[0, 5]], PadMode::Circular).is_err());
        assert!(x.pad_with(&[[0, 4]], PadMode::Circular).is_ok());
        let empty = Var::leaf(Tensor::<f64>::zeros(&[1, 0]));
        assert!(empty.pad_with(&[[1, 1]], PadMode::Replicate).is_err());
        // One axis of a rank-1 or rank-4 input: not a layout PyTorch pads.
        let flat = Var::leaf(Tensor::<f64>::zeros(&[4]));
        assert!(flat.pad_with(&[[1, 1]], PadMode::Reflect).is_err());
        let four = Var::leaf(Tensor::<f64>::zeros(&[1, 1, 3, 3]));
        assert!(four.pad_with(&[[1, 1]], PadMode::Reflect).is_err());
        assert!(four.pad_with(&[[1, 1], [1, 1]], PadMode::Reflect).is_ok());
        // Constant padding keeps its own rules (any trailing axes).
        assert!(flat.pad_with(&[[1, 1]], PadMode::Constant(0.0)).is_ok());
    }
}
