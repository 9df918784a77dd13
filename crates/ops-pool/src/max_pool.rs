//! Max pooling and adaptive max pooling on [`Var`] (`F.max_pool{1,2,3}d`,
//! `F.adaptive_max_pool{1,2,3}d`): validate the parameters, run the kernel of
//! [`crate::kernels::max`], record the op. The backward scatters `dy` to the
//! argmax, recorded through [`autograd::LinearBackward`] with the gather at
//! the argmax as its adjoint ([`ArgmaxMap`]), so second order is exact.

use std::sync::Arc;

use autograd::{LinearBackward, LinearMap, Var};
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
    /// Every invalid parameter, as a [`PoolError`](crate::PoolError).
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
            LinearBackward::new(
                op,
                Arc::new(ArgmaxMap {
                    argmax: Arc::clone(&argmax),
                }),
            ),
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
/// [`PoolError`](crate::PoolError) for a wrong rank, empty axes, zero kernel/stride/dilation,
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
/// [`adaptive_avg_pool`](crate::adaptive_avg_pool), ties and NaN as in [`max_pool`].
///
/// # Errors
/// As [`adaptive_avg_pool`](crate::adaptive_avg_pool).
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
/// As [`adaptive_avg_pool`](crate::adaptive_avg_pool).
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
/// As [`adaptive_avg_pool`](crate::adaptive_avg_pool).
pub fn global_max_pool<F: Float>(x: &Var<F>, dims: usize) -> Result<Var<F>> {
    adaptive_max_pool(x, &vec![Some(1); dims])
}

/// The linear map behind max pooling's gradient, fixed by the forward's
/// argmax: `A v` gathers `v` at the argmax (input shape to output shape),
/// `Aᵀ dy` scatters each output gradient to its argmax (adding where
/// windows overlap). The op records `dx = Aᵀ dy`; its backward records
/// `A`, so second order is exact.
pub(crate) struct ArgmaxMap {
    pub(crate) argmax: Arc<ArgMax>,
}

impl<F: Float> LinearMap<F> for ArgmaxMap {
    fn name(&self) -> &'static str {
        "max_pool_double_backward"
    }
    fn adjoint_name(&self) -> &'static str {
        "max_pool_backward"
    }
    fn apply(&self, v: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        let value = max::gather(v.as_slice(), &self.argmax, Par::Rayon);
        Ok(Tensor::from_vec(&self.argmax.geom.output_shape(), value)?)
    }
    fn apply_adjoint(&self, dy: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        let value = max::backward(dy.as_slice(), &self.argmax, Par::Rayon);
        Ok(Tensor::from_vec(&self.argmax.geom.input_shape(), value)?)
    }
}
