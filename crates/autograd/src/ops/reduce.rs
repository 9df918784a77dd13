//! Reductions: sum, mean and max over axes, and `sum_to` (the adjoint of
//! broadcasting).

use core_tensor::{Float, Tensor};
use ndarray::{ArrayD, Axis, IxDyn};

use super::util::{normalize_axes, normalize_axis, sum_to_shape};
use crate::{AutogradError, Backward, BackwardCtx, Result, Var};

/// Gradient of a reduction: reshape `g` to the kept-dims shape, then
/// broadcast back to the input shape.
struct SumBackward {
    keep_shape: Vec<usize>,
}
impl<F: Float> Backward<F> for SumBackward {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let g = ctx.grad_output.reshape(&self.keep_shape)?;
        Ok(vec![Some(g.broadcast_to(&ctx.inputs[0].shape())?)])
    }
}

struct SumToBackward;
impl<F: Float> Backward<F> for SumToBackward {
    fn name(&self) -> &'static str {
        "sum_to"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        Ok(vec![Some(
            ctx.grad_output.broadcast_to(&ctx.inputs[0].shape())?,
        )])
    }
}

/// Max over one axis: the gradient goes to the first maximum (or the NaN).
struct MaxBackward {
    keep_shape: Vec<usize>,
    /// One-hot mask of the chosen element along the axis.
    mask: Tensor<f64>,
}
impl<F: Float> Backward<F> for MaxBackward {
    fn name(&self) -> &'static str {
        "max"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let g = ctx.grad_output.reshape(&self.keep_shape)?;
        let mask = Var::constant(self.mask.cast::<F>());
        Ok(vec![Some(g.mul(&mask)?)])
    }
}

impl<F: Float> Var<F> {
    /// Sum over `axes` (negative counts from the end), keeping them as size-1
    /// axes when `keepdim`, like `x.sum(dim=axes, keepdim=keepdim)`.
    ///
    /// An empty `axes` list reduces nothing (the value is returned as is),
    /// which keeps "reduce over these axes" code correct when the list
    /// happens to be empty; PyTorch's `dim=[]` reduces every axis instead —
    /// use [`Var::sum_all`] for that.
    ///
    /// ```
    /// use autograd::Var;
    /// use core_tensor::Tensor;
    /// let x = Var::leaf(Tensor::from_vec(&[2, 3], vec![1.0f64, 2., 3., 4., 5., 6.])?);
    /// let s = x.sum(&[-1], true)?;
    /// assert_eq!(s.shape(), vec![2, 1]);
    /// s.sum_all().backward()?;
    /// assert_eq!(x.grad().unwrap().as_slice(), &[1.0; 6]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`AutogradError::AxisOutOfRange`], or a repeated axis.
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Var<F>> {
        let x = self.value();
        let axes = normalize_axes("sum", axes, x.ndim())?;
        let mut a: ArrayD<F> = x.view().to_owned();
        for &ax in axes.iter().rev() {
            a = a.sum_axis(Axis(ax));
        }
        let mut keep_shape = x.shape().to_vec();
        for &ax in &axes {
            keep_shape[ax] = 1;
        }
        let out_shape: Vec<usize> = if keepdim {
            keep_shape.clone()
        } else {
            a.shape().to_vec()
        };
        let a = a
            .into_shape_with_order(IxDyn(&out_shape))
            .expect("same element count");
        Ok(Var::from_op(
            Tensor::from_array(a),
            vec![self.clone()],
            SumBackward { keep_shape },
        ))
    }

    /// Sum of all elements, as a 0-dimensional value.
    pub fn sum_all(&self) -> Var<F> {
        let x = self.value();
        let s: F = x.as_slice().iter().copied().sum();
        Var::from_op(
            Tensor::scalar(s),
            vec![self.clone()],
            SumBackward {
                keep_shape: vec![1; x.ndim()],
            },
        )
    }

    /// Mean over `axes`, like `x.mean(dim=axes, keepdim=keepdim)`.
    ///
    /// # Errors
    /// As [`Var::sum`].
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Var<F>> {
        let shape = self.shape();
        let axes_n = normalize_axes("mean", axes, shape.len())?;
        let count: usize = axes_n.iter().map(|&a| shape[a]).product();
        Ok(self.sum(axes, keepdim)?.mul_scalar(1.0 / count as f64))
    }

    /// Mean of all elements, as a 0-dimensional value.
    pub fn mean_all(&self) -> Var<F> {
        let n = self.len();
        self.sum_all().mul_scalar(1.0 / n as f64)
    }

    /// Maximum over one axis, like `x.amax(dim=axis, keepdim=keepdim)`; NaN
    /// propagates and the gradient goes to the first maximum.
    ///
    /// # Errors
    /// [`AutogradError::AxisOutOfRange`], or
    /// [`AutogradError::InvalidArgument`] for an empty axis.
    pub fn max_axis(&self, axis: isize, keepdim: bool) -> Result<Var<F>> {
        let x = self.value();
        let ax = normalize_axis("max", axis, x.ndim())?;
        if x.shape()[ax] == 0 {
            return Err(AutogradError::InvalidArgument {
                op: "max",
                param: "axis",
                reason: format!(
                    "axis {axis} of shape {:?} is empty; max needs at least one element",
                    x.shape()
                ),
            });
        }
        let view = x.view();
        let mut keep_shape = x.shape().to_vec();
        keep_shape[ax] = 1;
        let mut mask = ArrayD::<f64>::zeros(IxDyn(x.shape()));
        let mut out = ArrayD::<F>::zeros(IxDyn(&keep_shape));
        for ((lane, mut mlane), o) in view
            .lanes(Axis(ax))
            .into_iter()
            .zip(mask.lanes_mut(Axis(ax)))
            .zip(out.iter_mut())
        {
            let mut best = 0;
            for (i, &v) in lane.iter().enumerate() {
                let b = lane[best];
                if b.is_nan() {
                    break;
                }
                if v > b || v.is_nan() {
                    best = i;
                }
            }
            mlane[best] = 1.0;
            *o = lane[best];
        }
        let out_shape: Vec<usize> = if keepdim {
            keep_shape.clone()
        } else {
            x.shape()
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != ax)
                .map(|(_, &d)| d)
                .collect()
        };
        let out = out
            .into_shape_with_order(IxDyn(&out_shape))
            .expect("same element count");
        Ok(Var::from_op(
            Tensor::from_array(out),
            vec![self.clone()],
            MaxBackward {
                keep_shape,
                mask: Tensor::from_array(mask),
            },
        ))
    }

    /// Sums a broadcast value back down to `shape` (the adjoint of
    /// [`Var::broadcast_to`]).
    ///
    /// # Errors
    /// [`AutogradError::ShapeMismatch`] when `shape` does not broadcast to
    /// this value's shape.
    pub fn sum_to(&self, shape: &[usize]) -> Result<Var<F>> {
        let own = self.shape();
        if own == shape {
            return Ok(self.clone());
        }
        let ok = shape.len() <= own.len()
            && shape
                .iter()
                .zip(&own[own.len() - shape.len()..])
                .all(|(&s, &o)| s == o || s == 1);
        if !ok {
            return Err(AutogradError::ShapeMismatch {
                op: "sum_to",
                lhs: own,
                rhs: shape.to_vec(),
                reason: "the target shape must broadcast to the value's shape",
            });
        }
        let v = sum_to_shape(&self.value(), shape);
        Ok(Var::from_op(v, vec![self.clone()], SumToBackward))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::testing::assert_close;

    fn leaf(shape: &[usize], v: &[f64]) -> Var<f64> {
        Var::leaf(Tensor::from_vec(shape, v.to_vec()).unwrap())
    }

    #[test]
    fn sum_and_mean_over_axes() {
        let x = leaf(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        assert_close(
            x.sum(&[0], false).unwrap().value().as_slice(),
            &[5., 7., 9.],
            1e-15,
            0.0,
        );
        let s = x.sum(&[-1], true).unwrap();
        assert_eq!(s.shape(), vec![2, 1]);
        assert_close(s.value().as_slice(), &[6., 15.], 1e-15, 0.0);
        let m = x.mean(&[0, 1], false).unwrap();
        assert_eq!(m.shape(), Vec::<usize>::new());
        assert_close(m.value().as_slice(), &[3.5], 1e-15, 0.0);
        m.backward().unwrap();
        assert_eq!(x.grad().unwrap().as_slice(), &[1. / 6.; 6]);
        assert!(x.sum(&[2], false).is_err());
        assert!(x.sum(&[0, -2], false).is_err());
    }

    #[test]
    fn max_takes_first_maximum_and_propagates_nan() {
        let x = leaf(&[2, 3], &[1., 3., 3., f64::NAN, 2., f64::NAN]);
        let m = x.max_axis(1, false).unwrap();
        let v = m.value().to_vec();
        assert_eq!(v[0], 3.0);
        assert!(v[1].is_nan());
        x.max_axis(1, false).unwrap().sum_all().backward().unwrap();
        assert_close(
            x.grad().unwrap().as_slice(),
            &[0., 1., 0., 1., 0., 0.],
            1e-15,
            0.0,
        );
    }

    #[test]
    fn sum_to_reverses_broadcasting() {
        let x = leaf(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        assert_close(
            x.sum_to(&[3]).unwrap().value().as_slice(),
            &[5., 7., 9.],
            1e-15,
            0.0,
        );
        assert_close(
            x.sum_to(&[2, 1]).unwrap().value().as_slice(),
            &[6., 15.],
            1e-15,
            0.0,
        );
        assert!(x.sum_to(&[2]).is_err());
    }
}
