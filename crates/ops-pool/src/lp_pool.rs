//! Lp pooling on [`Var`] (`F.lp_pool{1,2}d`, also 3-d): validate, run the
//! kernel of [`crate::kernels::lp`] (or max pooling of `|x|` for
//! `norm_type = +inf`), record the op.

use std::sync::Arc;

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::{Float, Par, Tensor};

use crate::avg_pool;
use crate::error::{PoolError, Result};
use crate::geometry::{Geometry, WindowSpec, spatial_of};
use crate::kernels::avg::Divisor;
use crate::kernels::lp;
use crate::max_pool::max_pool;
use crate::op_names::op_name;
use crate::params::{LpPoolParams, MaxPoolParams};

impl LpPoolParams {
    /// Resolves these parameters for an input of shape `input_shape`.
    ///
    /// # Errors
    /// Every invalid parameter, as a [`PoolError`].
    pub fn geometry(&self, input_shape: &[usize]) -> Result<Geometry> {
        let op = op_name("lp_pool", self.kernel_size.len());
        self.check_norm(op)?;
        let spatial = spatial_of(op, input_shape, self.kernel_size.len())?;
        let spec = WindowSpec::resolve(
            op,
            &spatial,
            &self.kernel_size,
            self.stride.as_deref(),
            &[],
            &self.padding,
            self.ceil_mode,
        )?;
        Geometry::pool(op, input_shape, &spec, false)
    }

    fn check_norm(&self, op: &'static str) -> Result<()> {
        let p = self.norm_type;
        if p.is_nan() || p <= 0.0 {
            return Err(PoolError::InvalidScalar {
                op,
                param: "norm_type",
                value: p.to_string(),
                allowed: "it must be positive (or +infinity for max pooling of |x|)".into(),
            });
        }
        Ok(())
    }
}

/// Lp pooling (`F.lp_pool{1,2}d`, also 3-d): `y = (Σ_window |x|^p)^(1/p)`;
/// `norm_type = +inf` is max pooling of `|x|`.
///
/// Note: PyTorch pools `x^p` without the absolute value (NaN for odd `p` on
/// negative sums) and rescales ceil-mode windows that run past the end;
/// this follows FORMAT.md (and ONNX), equal to PyTorch for `x >= 0` and
/// full windows.
///
/// # Errors
/// [`PoolError`] for invalid shapes or parameters, `norm_type` NaN or not positive.
pub fn lp_pool<F: Float>(x: &Var<F>, p: &LpPoolParams) -> Result<Var<F>> {
    let op = op_name("lp_pool", p.kernel_size.len());
    p.check_norm(op)?;
    if p.norm_type.is_infinite() {
        let mp = MaxPoolParams {
            kernel_size: p.kernel_size.clone(),
            stride: p.stride.clone(),
            padding: p.padding.clone(),
            dilation: vec![1],
            ceil_mode: p.ceil_mode,
        };
        return max_pool(&x.abs(), &mp);
    }
    let geom = Arc::new(p.geometry(&x.shape())?);
    let y = lp::forward(x.value().as_slice(), &geom, p.norm_type, Par::Rayon);
    let y = Tensor::from_vec(&geom.output_shape(), y)?;
    Ok(Var::from_op(
        y,
        vec![x.clone()],
        LpPoolFn {
            geom,
            p: p.norm_type,
        },
    ))
}

/// Autograd op of Lp pooling; saves the geometry and `p` (the input and the
/// output are the op's input and output).
pub(crate) struct LpPoolFn {
    pub(crate) geom: Arc<Geometry>,
    pub(crate) p: f64,
}

impl<F: Float> Backward<F> for LpPoolFn {
    fn name(&self) -> &'static str {
        self.geom.op
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        let x = &ctx.inputs[0];
        let (xv, yv) = (x.value(), ctx.output.value());
        if !ctx.create_graph {
            let dx = lp::backward(
                xv.as_slice(),
                yv.as_slice(),
                ctx.grad_output.value().as_slice(),
                &self.geom,
                self.p,
                Par::Rayon,
            );
            return Ok(vec![Some(Var::constant(Tensor::from_vec(xv.shape(), dx)?))]);
        }
        // Differentiable form of the same formula. Zero windows and zero
        // inputs are masked with constants so no 0^negative is formed.
        let p = self.p;
        let ymask = yv.map(|v| if *v == F::zero() { F::zero() } else { F::one() });
        let yfill = ymask.map(|m| F::one() - *m);
        let xsign = xv.map(|v| {
            if *v == F::zero() {
                F::zero()
            } else {
                v.signum()
            }
        });
        let xfill = xv.map(|v| if *v == F::zero() { F::one() } else { F::zero() });
        let ypow = ctx
            .output
            .add(&Var::constant(yfill))?
            .pow(1.0 - p)
            .mul(&Var::constant(ymask))?;
        let c = ctx.grad_output.mul(&ypow)?;
        let spread = avg_pool::backward_op(&c, &self.geom, Divisor::Override(1))?;
        let xpow = x
            .abs()
            .add(&Var::constant(xfill))?
            .pow(p - 1.0)
            .mul(&Var::constant(xsign))?;
        Ok(vec![Some(spread.mul(&xpow)?)])
    }
}
