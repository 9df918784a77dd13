//! Max pooling and adaptive max pooling on [`Var`] (`F.max_pool{1,2,3}d`,
//! `F.adaptive_max_pool{1,2,3}d`): validate the parameters, run the kernel of
//! [`crate::kernels::max`], record the op. The backward scatters `dy` to the
//! argmax and is itself a recorded op whose backward is the gather at the
//! argmax, so second order is exact.

use std::sync::Arc;

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::{Float, Par, Tensor};

use crate::argmax::ArgMax;
use crate::error::Result;
use crate::geometry::{Geometry, WindowSpec, spatial_of};
use crate::kernels::max;
use crate::op_names::op_name;
use crate::params::MaxPoolParams;

impl MaxPoolParams {
    /// Resolves these parameters for an input of shape `input_shape`
    /// (`(N, C, *spatial)` or `(C, *spatial)`), for direct kernel use.
    ///
    /// # Errors
    /// Every invalid parameter, as a [`PoolError`].
    pub fn geometry(&self, input_shape: &[usize]) -> Result<Geometry> {
        let op = op_name("max_pool", self.kernel_size.len());
        let spatial = spatial_of(op, input_shape, self.kernel_size.len())?;
        let spec = WindowSpec::resolve(
            op,
            &spatial,
            &self.kernel_size,
            self.stride.as_deref(),
            &self.dilation,
            &self.padding,
            self.ceil_mode,
        )?;
        Geometry::pool(op, input_shape, &spec, true)
    }
}

fn max_with_geom<F: Float>(x: &Var<F>, geom: Geometry) -> Result<(Var<F>, Arc<ArgMax>)> {
    let geom = Arc::new(geom);
    let (y, argmax) = max::forward(x.value().as_slice(), &geom, Par::Rayon);
    let argmax = Arc::new(argmax);
    let y = Tensor::from_vec(&geom.output_shape(), y)?;
    let op = geom.op;
    Ok((
        Var::from_op(
            y,
            vec![x.clone()],
            MaxPoolFn {
                argmax: Arc::clone(&argmax),
                name: op,
            },
        ),
        argmax,
    ))
}

/// Max pooling over the trailing `kernel_size.len()` axes of `x`
/// (`F.max_pool{1,2,3}d`): `y[o] = max over the window of o`, padding acting
/// as minus infinity, first maximum winning ties, NaN propagating.
///
/// `x` is `(N, C, *spatial)` or `(C, *spatial)`. Backward routes each
/// output gradient to its argmax (kept as a 1-byte in-window offset for
/// windows of up to 256 taps).
///
/// # Errors
/// [`PoolError`] for a wrong rank, empty axes, zero kernel/stride/dilation,
/// padding of at least the effective kernel, an empty output or a window
/// lying entirely in padding.
///
/// When no gradient will be recorded (`x` does not require grad, or grad
/// mode is off), the values-only kernel [`max::forward_values`] runs and no
/// argmax is kept, as PyTorch's forward under `torch.no_grad()`; the values
/// are bit for bit those of the recording path.
pub fn max_pool<F: Float>(x: &Var<F>, p: &MaxPoolParams) -> Result<Var<F>> {
    let geom = p.geometry(&x.shape())?;
    max_values_or_op(x, geom)
}

/// The max pooling output without indices: values only when no gradient
/// is recorded, otherwise the argmax kernel and its op.
fn max_values_or_op<F: Float>(x: &Var<F>, geom: Geometry) -> Result<Var<F>> {
    if x.requires_grad() && autograd::is_grad_enabled() {
        return Ok(max_with_geom(x, geom)?.0);
    }
    let y = max::forward_values(x.value().as_slice(), &geom, Par::Rayon);
    Ok(Var::constant(Tensor::from_vec(&geom.output_shape(), y)?))
}

/// [`max_pool`] that also returns PyTorch's indices (`return_indices=True`):
/// for each output, the flat index of the chosen element in its unpadded
/// `(N, C)` input plane, as `i64`.
///
/// # Errors
/// As [`max_pool`].
pub fn max_pool_with_indices<F: Float>(
    x: &Var<F>,
    p: &MaxPoolParams,
) -> Result<(Var<F>, Tensor<i64>)> {
    let geom = p.geometry(&x.shape())?;
    let (y, argmax) = max_with_geom(x, geom)?;
    let idx = Tensor::from_vec(&y.shape(), argmax.to_indices())?;
    Ok((y, idx))
}

/// Adaptive max pooling (`F.adaptive_max_pool{1,2,3}d`), windows as in
/// [`adaptive_avg_pool`], ties and NaN as in [`max_pool`].
///
/// # Errors
/// As [`adaptive_avg_pool`].
///
/// Without recorded gradient it runs the values-only kernel, as [`max_pool`].
pub fn adaptive_max_pool<F: Float>(x: &Var<F>, output_size: &[Option<usize>]) -> Result<Var<F>> {
    let geom = Geometry::adaptive(
        op_name("adaptive_max_pool", output_size.len()),
        &x.shape(),
        output_size,
    )?;
    max_values_or_op(x, geom)
}

/// [`adaptive_max_pool`] with PyTorch's `i64` indices (`return_indices=True`).
///
/// # Errors
/// As [`adaptive_avg_pool`].
pub fn adaptive_max_pool_with_indices<F: Float>(
    x: &Var<F>,
    output_size: &[Option<usize>],
) -> Result<(Var<F>, Tensor<i64>)> {
    let geom = Geometry::adaptive(
        op_name("adaptive_max_pool", output_size.len()),
        &x.shape(),
        output_size,
    )?;
    let (y, argmax) = max_with_geom(x, geom)?;
    let idx = Tensor::from_vec(&y.shape(), argmax.to_indices())?;
    Ok((y, idx))
}

/// Global max pooling over the trailing `dims` axes (adaptive max pooling to size 1).
///
/// # Errors
/// As [`adaptive_avg_pool`].
pub fn global_max_pool<F: Float>(x: &Var<F>, dims: usize) -> Result<Var<F>> {
    adaptive_max_pool(x, &vec![Some(1); dims])
}

/// Autograd op of max pooling: saves only the compact argmax.
pub(crate) struct MaxPoolFn {
    pub(crate) argmax: Arc<ArgMax>,
    pub(crate) name: &'static str,
}

/// `dx = scatter(dy)`, recorded so it can be differentiated again.
pub(crate) fn scatter_op<F: Float>(
    dy: &Var<F>,
    argmax: &Arc<ArgMax>,
    name: &'static str,
) -> autograd::Result<Var<F>> {
    let value = max::backward(dy.value().as_slice(), argmax, Par::Rayon);
    let t = Tensor::from_vec(&argmax.geom.input_shape(), value)?;
    Ok(Var::from_op(
        t,
        vec![dy.clone()],
        MaxScatterFn {
            argmax: Arc::clone(argmax),
            name,
        },
    ))
}

/// `out = gather(v)`, recorded so it can be differentiated again.
pub(crate) fn gather_op<F: Float>(
    v: &Var<F>,
    argmax: &Arc<ArgMax>,
    name: &'static str,
) -> autograd::Result<Var<F>> {
    let value = max::gather(v.value().as_slice(), argmax, Par::Rayon);
    let t = Tensor::from_vec(&argmax.geom.output_shape(), value)?;
    Ok(Var::from_op(
        t,
        vec![v.clone()],
        MaxGatherFn {
            argmax: Arc::clone(argmax),
            name,
        },
    ))
}

impl<F: Float> Backward<F> for MaxPoolFn {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(scatter_op(
            ctx.grad_output,
            &self.argmax,
            "max_pool_backward",
        )?)])
    }
}

/// The backward of max pooling as an op (linear in `dy`): its own backward is a gather.
pub(crate) struct MaxScatterFn {
    argmax: Arc<ArgMax>,
    name: &'static str,
}

impl<F: Float> Backward<F> for MaxScatterFn {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(gather_op(
            ctx.grad_output,
            &self.argmax,
            "max_pool_double_backward",
        )?)])
    }
}

/// Gather at the argmax as an op: its backward is the scatter again.
pub(crate) struct MaxGatherFn {
    argmax: Arc<ArgMax>,
    name: &'static str,
}

impl<F: Float> Backward<F> for MaxGatherFn {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(scatter_op(
            ctx.grad_output,
            &self.argmax,
            "max_pool_backward",
        )?)])
    }
}
