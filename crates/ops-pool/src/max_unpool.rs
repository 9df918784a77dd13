//! Max unpooling on [`Var`] (`F.max_unpool{1,2,3}d`): validate the shapes
//! and indices, run the scatter of [`crate::kernels::unpool`], record the
//! op. Its backward is the gather at the indices, recorded through
//! [`autograd::LinearBackward`] with the scatter-add as the gather's
//! adjoint, so second order is exact. Fractional max pooling uses the same
//! pair the other way round ([`IndexGather`]).

use std::sync::Arc;

use autograd::{LinearBackward, LinearMap, Var};
use core_tensor::{Float, Par, Tensor};

use crate::error::{PoolError, Result};
use crate::geometry::UnpoolGeometry;
use crate::kernels::unpool;
use crate::op_names::op_name;
use crate::params::MaxUnpoolParams;

/// Max unpooling (`F.max_unpool{1,2,3}d`): a zero tensor of the output
/// size with `x[i]` written at `indices[i]` inside its `(N, C)` plane.
///
/// # Errors
/// [`PoolError`] for invalid shapes or parameters, an `output_size` outside
/// `(default - stride, default + stride)`, indices of another shape than `x`
/// or outside the output plane.
pub fn max_unpool<F: Float>(
    x: &Var<F>,
    indices: &Tensor<i64>,
    p: &MaxUnpoolParams,
) -> Result<Var<F>> {
    let op = op_name("max_unpool", p.kernel_size.len());
    if !(1..=3).contains(&p.kernel_size.len()) {
        return Err(PoolError::SpatialDims {
            op,
            param: "kernel_size",
            got: p.kernel_size.len(),
        });
    }
    let geom = UnpoolGeometry::new(op, &x.shape(), p)?;
    geom.validate(op, indices)?;
    let y = unpool::forward(x.value().as_slice(), indices.as_slice(), &geom, Par::Rayon);
    let y = Tensor::from_vec(&geom.output_shape(), y)?;
    let map = IndexScatter(UnpoolState {
        idx: indices.clone(),
        geom,
    });
    Ok(Var::from_op(
        y,
        vec![x.clone()],
        LinearBackward::new(op, Arc::new(map)),
    ))
}

/// Validated indices and shapes of max unpooling, or of fractional max
/// pooling seen from its output (small) to its input (big).
pub(crate) struct UnpoolState {
    pub(crate) idx: Tensor<i64>,
    pub(crate) geom: UnpoolGeometry,
}

impl UnpoolState {
    /// `v` (small) added at the indices into a zero tensor of the big shape.
    fn scatter_add<F: Float>(&self, v: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        let y = unpool::scatter_add(v.as_slice(), self.idx.as_slice(), &self.geom, Par::Rayon);
        Ok(Tensor::from_vec(&self.geom.output_shape(), y)?)
    }

    /// `g` (big) read at the indices: the small shape.
    fn gather<F: Float>(&self, g: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        let v = unpool::gather(g.as_slice(), self.idx.as_slice(), &self.geom, Par::Rayon);
        Ok(Tensor::from_vec(&self.geom.input_shape(), v)?)
    }
}

/// The scatter-add at the indices as a linear map `A` (small to big); its
/// adjoint `Aᵀ` is the gather at the indices. Max unpooling's gradient is
/// `Aᵀ dy`.
struct IndexScatter(UnpoolState);

impl<F: Float> LinearMap<F> for IndexScatter {
    fn name(&self) -> &'static str {
        "max_unpool_double_backward"
    }
    fn adjoint_name(&self) -> &'static str {
        "max_unpool_backward"
    }
    fn apply(&self, v: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        self.0.scatter_add(v)
    }
    fn apply_adjoint(&self, g: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        self.0.gather(g)
    }
}

/// The gather at the indices as a linear map `A` (big to small); its
/// adjoint `Aᵀ` is the scatter-add. Fractional max pooling is `y = A x`
/// with `A` fixed by the forward, so its gradient is `Aᵀ dy`.
pub(crate) struct IndexGather(pub(crate) UnpoolState);

impl<F: Float> LinearMap<F> for IndexGather {
    fn name(&self) -> &'static str {
        "max_unpool_backward"
    }
    fn adjoint_name(&self) -> &'static str {
        "max_unpool_double_backward"
    }
    fn apply(&self, g: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        self.0.gather(g)
    }
    fn apply_adjoint(&self, v: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        self.0.scatter_add(v)
    }
}
