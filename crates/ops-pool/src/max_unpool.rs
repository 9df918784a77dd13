//! Max unpooling on [`Var`] (`F.max_unpool{1,2,3}d`): validate the shapes
//! and indices, run the scatter of [`crate::kernels::unpool`], record the
//! op. Its backward is the gather at the indices, recorded as an op whose
//! backward is the scatter-add, so second order is exact. Fractional max
//! pooling reuses the scatter-add op for its backward.

use std::sync::Arc;

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::{Float, Par, Tensor};

use crate::error::{PoolError, Result};
use crate::kernels::unpool::{self, UnpoolGeometry};
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
    let state = Arc::new(UnpoolState {
        idx: indices.clone(),
        geom,
    });
    Ok(Var::from_op(
        y,
        vec![x.clone()],
        UnpoolFn { state, name: op },
    ))
}

/// Shared state of the unpooling ops: validated indices and shapes.
pub(crate) struct UnpoolState {
    pub(crate) idx: Tensor<i64>,
    pub(crate) geom: UnpoolGeometry,
}

/// Autograd op of max unpooling.
pub(crate) struct UnpoolFn {
    pub(crate) state: Arc<UnpoolState>,
    pub(crate) name: &'static str,
}

pub(crate) fn gather_op<F: Float>(dy: &Var<F>, s: &Arc<UnpoolState>) -> autograd::Result<Var<F>> {
    let v = unpool::gather(dy.value().as_slice(), s.idx.as_slice(), &s.geom, Par::Rayon);
    let t = Tensor::from_vec(&s.geom.input_shape(), v)?;
    Ok(Var::from_op(
        t,
        vec![dy.clone()],
        UnpoolGatherFn {
            state: Arc::clone(s),
        },
    ))
}

pub(crate) fn scatter_add_op<F: Float>(
    v: &Var<F>,
    s: &Arc<UnpoolState>,
) -> autograd::Result<Var<F>> {
    let y = unpool::scatter_add(v.value().as_slice(), s.idx.as_slice(), &s.geom, Par::Rayon);
    let t = Tensor::from_vec(&s.geom.output_shape(), y)?;
    Ok(Var::from_op(
        t,
        vec![v.clone()],
        UnpoolScatterFn {
            state: Arc::clone(s),
        },
    ))
}

impl<F: Float> Backward<F> for UnpoolFn {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(gather_op(ctx.grad_output, &self.state)?)])
    }
}

/// The gather (unpooling backward) as an op; its backward is the scatter-add.
struct UnpoolGatherFn {
    state: Arc<UnpoolState>,
}

impl<F: Float> Backward<F> for UnpoolGatherFn {
    fn name(&self) -> &'static str {
        "max_unpool_backward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(scatter_add_op(ctx.grad_output, &self.state)?)])
    }
}

/// The scatter-add as an op; its backward is the gather.
struct UnpoolScatterFn {
    state: Arc<UnpoolState>,
}

impl<F: Float> Backward<F> for UnpoolScatterFn {
    fn name(&self) -> &'static str {
        "max_unpool_double_backward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(gather_op(ctx.grad_output, &self.state)?)])
    }
}
