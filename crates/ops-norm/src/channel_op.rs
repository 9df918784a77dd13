//! The autograd op behind batch norm (and instance norm in eval with
//! running statistics): the channel kernels plus saved state for backward.

use std::sync::Arc;

use autograd::{Backward, BackwardCtx, Result as AResult, Tensor, Var};
use core_tensor::{Float, Par};

use crate::NormError;
use crate::kernels::channel::{
    ChannelLayout, batch_norm_backward_eval, batch_norm_backward_train, channel_forward,
};
use crate::second_order::{Composite, composite_affine, finish, pack_grads};

/// Where the normalizing statistics came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatsSource {
    /// Batch statistics: they depend on `x` (training formula).
    Batch,
    /// Fixed (running) statistics: an affine map of `x`.
    Fixed,
}

/// Shape checks of an optional per-channel parameter.
pub(crate) fn check_param<F: Float>(
    op: &'static str,
    what: &'static str,
    p: Option<&Var<F>>,
    expected: &[usize],
    input: &[usize],
) -> Result<(), NormError> {
    if let Some(p) = p
        && p.shape() != expected
    {
        return Err(NormError::ParamShape {
            op,
            what,
            expected: expected.to_vec(),
            got: p.shape(),
            input: input.to_vec(),
        });
    }
    Ok(())
}

/// Everything the channel op needs.
pub(crate) struct ChannelCall<'a, F: Float> {
    pub(crate) name: &'static str,
    pub(crate) x: &'a Var<F>,
    pub(crate) weight: Option<&'a Var<F>>,
    pub(crate) bias: Option<&'a Var<F>>,
    pub(crate) layout: ChannelLayout,
    pub(crate) mean: Vec<f64>,
    pub(crate) invstd: Vec<f64>,
    pub(crate) source: StatsSource,
    pub(crate) eps: f64,
}

/// Runs the forward kernel and records the op.
pub(crate) fn channel_op<F: Float>(call: ChannelCall<'_, F>) -> Result<Var<F>, NormError> {
    let ChannelCall {
        name,
        x,
        weight,
        bias,
        layout,
        mean,
        invstd,
        source,
        eps,
    } = call;
    let xv = x.value();
    let wv = weight.map(Var::value);
    let bv = bias.map(Var::value);
    let y = channel_forward(
        xv.as_slice(),
        layout,
        &mean,
        &invstd,
        wv.as_ref().map(Tensor::as_slice),
        bv.as_ref().map(Tensor::as_slice),
        Par::Rayon,
    )?;
    let y = Tensor::from_vec(xv.shape(), y)?;
    let mut inputs = vec![x.clone()];
    inputs.extend(weight.cloned());
    inputs.extend(bias.cloned());
    let composite = channel_composite::<F>(
        xv.ndim(),
        layout.c,
        source,
        eps,
        &mean,
        &invstd,
        weight.is_some(),
        bias.is_some(),
    );
    let backward = ChannelBackward {
        name,
        x: xv,
        weight: wv,
        layout,
        mean,
        invstd,
        source,
        has_bias: bias.is_some(),
        composite,
    };
    Ok(Var::from_op(y, inputs, backward))
}

/// `[1, C, 1, …]` of the given rank.
pub(crate) fn channel_bshape(rank: usize, c: usize) -> Vec<usize> {
    let mut s = vec![1; rank];
    s[1] = c;
    s
}

#[allow(clippy::too_many_arguments)]
fn channel_composite<F: Float>(
    rank: usize,
    c: usize,
    source: StatsSource,
    eps: f64,
    mean: &[f64],
    invstd: &[f64],
    has_w: bool,
    has_b: bool,
) -> Composite<F> {
    let bshape = channel_bshape(rank, c);
    let fixed = (source == StatsSource::Fixed).then(|| {
        let m = Tensor::from_vec(&bshape, mean.iter().map(|&v| F::cast(v)).collect());
        let s = Tensor::from_vec(&bshape, invstd.iter().map(|&v| F::cast(v)).collect());
        (m, s)
    });
    Arc::new(move |v: &[Var<F>]| {
        let x = &v[0];
        let xhat = match &fixed {
            Some((m, s)) => {
                let m = Var::constant(m.clone()?);
                let s = Var::constant(s.clone()?);
                x.sub(&m)?.mul(&s)?
            }
            None => {
                let axes: Vec<isize> = std::iter::once(0).chain(2..rank as isize).collect();
                let d = x.sub(&x.mean(&axes, true)?)?;
                let var = d.mul(&d)?.mean(&axes, true)?;
                d.div(&var.add_scalar(eps).sqrt())?
            }
        };
        composite_affine(xhat, v, has_w, has_b, &bshape)
    })
}

struct ChannelBackward<F: Float> {
    name: &'static str,
    x: Tensor<F>,
    weight: Option<Tensor<F>>,
    layout: ChannelLayout,
    mean: Vec<f64>,
    invstd: Vec<f64>,
    source: StatsSource,
    has_bias: bool,
    composite: Composite<F>,
}

impl<F: Float> Backward<F> for ChannelBackward<F> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> AResult<Vec<Option<Var<F>>>> {
        let g = ctx.grad_output.value();
        let w = self.weight.as_ref().map(Tensor::as_slice);
        let param_grads = ctx.needs_grad.iter().skip(1).any(|&b| b);
        let grads = match self.source {
            StatsSource::Batch => batch_norm_backward_train(
                self.x.as_slice(),
                g.as_slice(),
                self.layout,
                &self.mean,
                &self.invstd,
                w,
                Par::Rayon,
            ),
            StatsSource::Fixed => batch_norm_backward_eval(
                self.x.as_slice(),
                g.as_slice(),
                self.layout,
                &self.mean,
                &self.invstd,
                w,
                param_grads,
                Par::Rayon,
            ),
        }
        .map_err(|e| autograd::AutogradError::op(self.name, e))?;
        let has_weight = self.weight.is_some();
        let fused = pack_grads(
            ctx,
            grads.dx,
            has_weight.then_some(grads.dweight),
            self.has_bias.then_some(grads.dbias),
        )?;
        Ok(finish(ctx, self.name, fused, &self.composite))
    }
}
