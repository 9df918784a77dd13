//! Average pooling and adaptive average pooling on [`Var`]
//! (`F.avg_pool{1,2,3}d`, `F.adaptive_avg_pool{1,2,3}d`): validate, run the
//! kernel of [`crate::kernels::avg`], record the op. Both directions are
//! linear and each is the other's adjoint, so the backward is a recorded
//! op whose own backward is average pooling again.

use std::sync::Arc;

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::{Float, Par, Tensor};

use crate::error::{PoolError, Result};
use crate::geometry::{Geometry, WindowSpec, spatial_of};
use crate::kernels::avg::{self, Divisor};
use crate::op_names::op_name;
use crate::params::AvgPoolParams;

impl AvgPoolParams {
    /// Resolves these parameters for an input of shape `input_shape`.
    ///
    /// # Errors
    /// Every invalid parameter, as a [`PoolError`].
    pub fn geometry(&self, input_shape: &[usize]) -> Result<Geometry> {
        let op = op_name("avg_pool", self.kernel_size.len());
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

    /// The divisor rule these parameters select.
    ///
    /// # Errors
    /// [`PoolError::InvalidScalar`] for `divisor_override = Some(0)`.
    pub fn divisor(&self) -> Result<Divisor> {
        match self.divisor_override {
            Some(0) => Err(PoolError::InvalidScalar {
                op: op_name("avg_pool", self.kernel_size.len()),
                param: "divisor_override",
                value: "0".into(),
                allowed: "it must be non-zero".into(),
            }),
            Some(d) => Ok(Divisor::Override(d)),
            None if self.count_include_pad => Ok(Divisor::IncludePad),
            None => Ok(Divisor::InBounds),
        }
    }
}

/// Average pooling (`F.avg_pool{1,2,3}d`): window sum divided by the
/// window positions inside `[-before, L + after)` (`count_include_pad`),
/// by the positions inside the input (otherwise), or by `divisor_override`.
///
/// # Errors
/// [`PoolError`] for invalid shapes or parameters, `divisor_override = 0`.
pub fn avg_pool<F: Float>(x: &Var<F>, p: &AvgPoolParams) -> Result<Var<F>> {
    let div = p.divisor()?;
    let geom = Arc::new(p.geometry(&x.shape())?);
    Ok(forward_op(x, &geom, div)?)
}

/// Adaptive average pooling (`F.adaptive_avg_pool{1,2,3}d`): output
/// position `o` of an axis of length `L` averages `[floor(o·L/O), ceil((o+1)·L/O))`.
/// `output_size` has one entry per spatial axis; `None` keeps that axis.
///
/// # Errors
/// [`PoolError`] for a wrong rank, empty axes or a zero output size.
pub fn adaptive_avg_pool<F: Float>(x: &Var<F>, output_size: &[Option<usize>]) -> Result<Var<F>> {
    let geom = Arc::new(Geometry::adaptive(
        op_name("adaptive_avg_pool", output_size.len()),
        &x.shape(),
        output_size,
    )?);
    Ok(forward_op(x, &geom, Divisor::InBounds)?)
}

/// Global average pooling over the trailing `dims` axes (adaptive average
/// pooling to size 1, PyTorch's `AdaptiveAvgPool2d(1)` for `dims = 2`).
///
/// # Errors
/// As [`adaptive_avg_pool`].
pub fn global_avg_pool<F: Float>(x: &Var<F>, dims: usize) -> Result<Var<F>> {
    adaptive_avg_pool(x, &vec![Some(1); dims])
}

/// Autograd op of average pooling (and adaptive average pooling).
pub(crate) struct AvgPoolFn {
    pub(crate) geom: Arc<Geometry>,
    pub(crate) div: Divisor,
}

/// `y = avg_pool(x)` as a recorded op.
pub(crate) fn forward_op<F: Float>(
    x: &Var<F>,
    geom: &Arc<Geometry>,
    div: Divisor,
) -> autograd::Result<Var<F>> {
    let value = avg::forward(x.value().as_slice(), geom, div, Par::Rayon);
    let t = Tensor::from_vec(&geom.output_shape(), value)?;
    Ok(Var::from_op(
        t,
        vec![x.clone()],
        AvgPoolFn {
            geom: Arc::clone(geom),
            div,
        },
    ))
}

/// `dx = avg_pool_backward(dy)` as a recorded op.
pub(crate) fn backward_op<F: Float>(
    dy: &Var<F>,
    geom: &Arc<Geometry>,
    div: Divisor,
) -> autograd::Result<Var<F>> {
    let value = avg::backward(dy.value().as_slice(), geom, div, Par::Rayon);
    let t = Tensor::from_vec(&geom.input_shape(), value)?;
    Ok(Var::from_op(
        t,
        vec![dy.clone()],
        AvgBackwardFn {
            geom: Arc::clone(geom),
            div,
        },
    ))
}

impl<F: Float> Backward<F> for AvgPoolFn {
    fn name(&self) -> &'static str {
        self.geom.op
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(backward_op(
            ctx.grad_output,
            &self.geom,
            self.div,
        )?)])
    }
}

/// The backward of average pooling as an op; its own backward is average pooling.
pub(crate) struct AvgBackwardFn {
    geom: Arc<Geometry>,
    div: Divisor,
}

impl<F: Float> Backward<F> for AvgBackwardFn {
    fn name(&self) -> &'static str {
        "avg_pool_backward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(forward_op(
            ctx.grad_output,
            &self.geom,
            self.div,
        )?)])
    }
}
