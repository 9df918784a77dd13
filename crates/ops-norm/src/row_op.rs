//! The autograd op behind layer, group, instance and RMS norm: the row
//! kernels plus saved state for backward.

use std::sync::Arc;

use autograd::{AutogradError, Backward, BackwardCtx, Result as AResult, Tensor, Var};
use core_tensor::{Float, Par};

use crate::NormError;
use crate::kernels::row::{RowLayout, RowStats, row_backward, row_forward};
use crate::second_order::{Composite, composite_affine, finish, pack_grads};

/// Everything the row op needs.
pub(crate) struct RowCall<'a, F: Float> {
    pub(crate) name: &'static str,
    pub(crate) x: &'a Var<F>,
    pub(crate) weight: Option<&'a Var<F>>,
    pub(crate) bias: Option<&'a Var<F>>,
    pub(crate) layout: RowLayout,
    /// Subtract the mean (false for RMS norm).
    pub(crate) center: bool,
    pub(crate) eps: f64,
    /// Shape the parameters are reshaped to so they broadcast against `x`
    /// in the composite (`[1, C, 1, …]` or the normalized shape).
    pub(crate) param_bshape: Vec<usize>,
}

/// Runs the forward kernel, records the op, and returns the output with the
/// row statistics (for running-statistics updates).
pub(crate) fn row_op<F: Float>(call: RowCall<'_, F>) -> Result<(Var<F>, RowStats), NormError> {
    let RowCall {
        name,
        x,
        weight,
        bias,
        layout,
        center,
        eps,
        param_bshape,
    } = call;
    let xv = x.value();
    let wv = weight.map(Var::value);
    let bv = bias.map(Var::value);
    let (y, stats) = row_forward(
        xv.as_slice(),
        layout,
        center,
        eps,
        wv.as_ref().map(Tensor::as_slice),
        bv.as_ref().map(Tensor::as_slice),
        Par::Rayon,
    )?;
    let y = Tensor::from_vec(xv.shape(), y)?;
    let mut inputs = vec![x.clone()];
    inputs.extend(weight.cloned());
    inputs.extend(bias.cloned());
    let composite = row_composite::<F>(
        layout,
        center,
        eps,
        param_bshape,
        weight.is_some(),
        bias.is_some(),
    );
    let backward = RowBackward {
        name,
        x: xv,
        weight: wv,
        layout,
        center,
        stats: stats.clone(),
        has_bias: bias.is_some(),
        composite,
    };
    Ok((Var::from_op(y, inputs, backward), stats))
}

fn row_composite<F: Float>(
    layout: RowLayout,
    center: bool,
    eps: f64,
    bshape: Vec<usize>,
    has_w: bool,
    has_b: bool,
) -> Composite<F> {
    Arc::new(move |v: &[Var<F>]| {
        let x = &v[0];
        let xr = x.reshape(&[layout.rows, layout.len])?;
        let d = if center {
            xr.sub(&xr.mean(&[1], true)?)?
        } else {
            xr
        };
        let var = d.mul(&d)?.mean(&[1], true)?;
        let y = d.div(&var.add_scalar(eps).sqrt())?.reshape(&x.shape())?;
        composite_affine(y, v, has_w, has_b, &bshape)
    })
}

struct RowBackward<F: Float> {
    name: &'static str,
    x: Tensor<F>,
    weight: Option<Tensor<F>>,
    layout: RowLayout,
    center: bool,
    stats: RowStats,
    has_bias: bool,
    composite: Composite<F>,
}

impl<F: Float> Backward<F> for RowBackward<F> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> AResult<Vec<Option<Var<F>>>> {
        let g = ctx.grad_output.value();
        let param_grads = ctx.needs_grad.iter().skip(1).any(|&b| b);
        let grads = row_backward(
            self.x.as_slice(),
            g.as_slice(),
            self.layout,
            self.center,
            &self.stats,
            self.weight.as_ref().map(Tensor::as_slice),
            param_grads,
            Par::Rayon,
        )
        .map_err(|e| AutogradError::op(self.name, e))?;
        let fused = pack_grads(
            ctx,
            grads.dx,
            self.weight.is_some().then_some(grads.dweight),
            self.has_bias.then_some(grads.dbias),
        )?;
        Ok(finish(ctx, self.name, fused, &self.composite))
    }
}
