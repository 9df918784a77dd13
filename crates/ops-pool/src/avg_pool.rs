//! Average pooling and adaptive average pooling on [`Var`]
//! (`F.avg_pool{1,2,3}d`, `F.adaptive_avg_pool{1,2,3}d`): validate, run the
//! kernel of [`crate::kernels::avg`], record the op. Both directions are
//! linear and each is the other's adjoint ([`AvgPoolMap`], recorded with
//! [`autograd::apply_linear`]), so the backward is a recorded op whose own
//! backward is average pooling again.

use std::sync::Arc;

use autograd::{LinearMap, Var, apply_linear, apply_linear_adjoint};
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

/// Average pooling as a linear map: `A x` is the pooled window averages
/// (input shape to output shape), `Aᵀ dy` spreads each output gradient over
/// its window with the same divisor (output shape to input shape).
pub(crate) struct AvgPoolMap {
    geom: Arc<Geometry>,
    div: Divisor,
}

impl<F: Float> LinearMap<F> for AvgPoolMap {
    fn name(&self) -> &'static str {
        self.geom.op
    }
    fn adjoint_name(&self) -> &'static str {
        "avg_pool_backward"
    }
    fn apply(&self, x: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        let value = avg::forward(x.as_slice(), &self.geom, self.div, Par::Rayon);
        Ok(Tensor::from_vec(&self.geom.output_shape(), value)?)
    }
    fn apply_adjoint(&self, dy: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        let value = avg::backward(dy.as_slice(), &self.geom, self.div, Par::Rayon);
        Ok(Tensor::from_vec(&self.geom.input_shape(), value)?)
    }
}

/// `y = avg_pool(x)` as a recorded op (its backward records
/// [`backward_op`]).
pub(crate) fn forward_op<F: Float>(
    x: &Var<F>,
    geom: &Arc<Geometry>,
    div: Divisor,
) -> autograd::Result<Var<F>> {
    let map = Arc::new(AvgPoolMap {
        geom: Arc::clone(geom),
        div,
    });
    apply_linear(x, &map)
}

/// `dx = avg_pool_backward(dy)` as a recorded op (its backward records
/// [`forward_op`]).
pub(crate) fn backward_op<F: Float>(
    dy: &Var<F>,
    geom: &Arc<Geometry>,
    div: Divisor,
) -> autograd::Result<Var<F>> {
    let map = Arc::new(AvgPoolMap {
        geom: Arc::clone(geom),
        div,
    });
    apply_linear_adjoint(dy, &map)
}
