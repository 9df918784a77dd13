//! `log_softmax` and `softmax` along an axis.

use core_tensor::{Float, Tensor};
use ndarray::Axis;

use super::util::normalize_axis;
use crate::{Backward, BackwardCtx, Result, Var};

struct LogSoftmaxBackward {
    axis: isize,
}
impl<F: Float> Backward<F> for LogSoftmaxBackward {
    fn name(&self) -> &'static str {
        "log_softmax"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        // dx = g - softmax(x) * sum(g, axis)
        let g = ctx.grad_output;
        let s = ctx.output.exp();
        let gx = g.sub(&s.mul(&g.sum(&[self.axis], true)?)?)?;
        Ok(vec![Some(gx)])
    }
}

impl<F: Float> Var<F> {
    /// `x - log(sum(exp(x), axis))`, computed stably by subtracting the
    /// maximum first (`F.log_softmax(x, dim=axis)`).
    ///
    /// # Errors
    /// [`AutogradError::AxisOutOfRange`](crate::AutogradError::AxisOutOfRange).
    pub fn log_softmax(&self, axis: isize) -> Result<Var<F>> {
        let x = self.value();
        let ax = normalize_axis("log_softmax", axis, x.ndim())?;
        let mut out = x.view().to_owned();
        for mut lane in out.lanes_mut(Axis(ax)) {
            let m = lane.iter().copied().fold(F::neg_infinity(), F::max);
            let m = if m.is_finite() { m } else { F::zero() };
            let lse = lane.iter().map(|&v| (v - m).exp()).sum::<F>().ln() + m;
            lane.mapv_inplace(|v| v - lse);
        }
        Ok(Var::from_op(
            Tensor::from_array(out),
            vec![self.clone()],
            LogSoftmaxBackward { axis: ax as isize },
        ))
    }

    /// `exp(log_softmax(x))`.
    ///
    /// # Errors
    /// As [`Var::log_softmax`].
    pub fn softmax(&self, axis: isize) -> Result<Var<F>> {
        Ok(self.log_softmax(axis)?.exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_is_stable_and_normalized() {
        let x =
            Var::leaf(Tensor::from_vec(&[2, 3], vec![1000., 1001., 1002., 0., 0., 0.]).unwrap());
        let y = x.log_softmax(-1).unwrap();
        let v = y.value().to_vec();
        let third = (1.0f64 / 3.0).ln();
        assert!((v[3] - third).abs() < 1e-12);
        let e: f64 = v[..3].iter().map(|a| a.exp()).sum();
        assert!((e - 1.0).abs() < 1e-12);
        // The gradient of sum(log_softmax) is 1 - n * softmax.
        y.sum_all().backward().unwrap();
        let g = x.grad().unwrap().to_vec();
        assert!((g[3] - 0.0).abs() < 1e-12);
        assert!((g[..3].iter().sum::<f64>()).abs() < 1e-12);
    }
}
