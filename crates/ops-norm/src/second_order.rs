//! Second (and higher) derivatives of the fused backward kernels.
//!
//! First-order backward uses the fused kernels. When the backward pass is
//! itself recorded (`create_graph`), each fused gradient is wrapped in an op
//! ([`GradOfGrad`]) whose own backward rebuilds the norm from differentiable
//! basic ops of `autograd` (the *composite*), differentiates it once with a
//! graph, and differentiates that gradient again: exact second derivatives
//! with respect to the input, the parameters and the upstream gradient.

use std::sync::Arc;

use autograd::{Backward, BackwardCtx, Result, Tensor, Var, enable_grad, grad};
use core_tensor::Float;

/// The norm's forward pass written with basic differentiable ops, taking
/// the op's inputs (`x`, then `weight` and `bias` when present).
pub(crate) type Composite<F> = Arc<dyn Fn(&[Var<F>]) -> Result<Var<F>> + Send + Sync>;

/// The affine tail of a composite forward: `y · weight + bias`, where the
/// composite's inputs are `[x, weight?, bias?]` and the parameters are
/// broadcast through `bshape`.
pub(crate) fn composite_affine<F: Float>(
    mut y: Var<F>,
    inputs: &[Var<F>],
    has_weight: bool,
    has_bias: bool,
    bshape: &[usize],
) -> Result<Var<F>> {
    let mut k = 1;
    if has_weight {
        y = y.mul(&inputs[k].reshape(bshape)?)?;
        k += 1;
    }
    if has_bias {
        y = y.add(&inputs[k].reshape(bshape)?)?;
    }
    Ok(y)
}

/// Fused gradient buffers in input order `[dx, dweight?, dbias?]` as
/// tensors of their inputs' shapes, each only where the engine needs it.
pub(crate) fn pack_grads<F: Float>(
    ctx: &BackwardCtx<'_, F>,
    dx: Vec<F>,
    dweight: Option<Vec<F>>,
    dbias: Option<Vec<F>>,
) -> Result<Vec<Option<Tensor<F>>>> {
    let buffers = std::iter::once(Some(dx)).chain([dweight, dbias]).flatten();
    ctx.inputs
        .iter()
        .zip(buffers)
        .zip(ctx.needs_grad)
        .map(|((input, buf), &need)| {
            need.then(|| Tensor::from_vec(&input.shape(), buf))
                .transpose()
                .map_err(Into::into)
        })
        .collect()
}

/// Turns fused gradient values into the `Backward` result: constants when
/// no graph is recorded, otherwise [`GradOfGrad`] nodes.
pub(crate) fn finish<F: Float>(
    ctx: &BackwardCtx<'_, F>,
    name: &'static str,
    fused: Vec<Option<Tensor<F>>>,
    composite: &Composite<F>,
) -> Vec<Option<Var<F>>> {
    if !ctx.create_graph {
        return fused.into_iter().map(|t| t.map(Var::constant)).collect();
    }
    let mut inputs = ctx.inputs.to_vec();
    inputs.push(ctx.grad_output.clone());
    fused
        .into_iter()
        .enumerate()
        .map(|(which, t)| {
            t.map(|t| {
                Var::from_op(
                    t,
                    inputs.clone(),
                    GradOfGrad {
                        name,
                        which,
                        n_primal: ctx.inputs.len(),
                        composite: Arc::clone(composite),
                    },
                )
            })
        })
        .collect()
}

/// The gradient of input `which` of a norm, as a function of the norm's
/// inputs and the upstream gradient (the last input).
struct GradOfGrad<F: Float> {
    name: &'static str,
    which: usize,
    n_primal: usize,
    composite: Composite<F>,
}

impl<F: Float> Backward<F> for GradOfGrad<F> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let none = || vec![None; ctx.inputs.len()];
        // Without create_graph, work on private leaves so the nested passes
        // cannot free or touch the caller's graph; with it, on the inputs
        // themselves so that third derivatives follow.
        let vars: Vec<Var<F>> = if ctx.create_graph {
            ctx.inputs.to_vec()
        } else {
            ctx.inputs.iter().map(|v| Var::leaf(v.value())).collect()
        };
        let _mode = enable_grad();
        let (prim, g) = vars.split_at(self.n_primal);
        let y = (self.composite)(prim)?;
        if !y.requires_grad() {
            return Ok(none());
        }
        let first = grad(&[y], &prim[self.which..=self.which], &[g[0].clone()], true)?;
        let Some(target) = first.into_iter().next().flatten() else {
            return Ok(none());
        };
        if !target.requires_grad() {
            return Ok(none());
        }
        let second = grad(
            &[target],
            &vars,
            std::slice::from_ref(ctx.grad_output),
            ctx.create_graph,
        )?;
        Ok(second
            .into_iter()
            .zip(ctx.needs_grad)
            .map(|(g, &need)| if need { g } else { None })
            .collect())
    }
}
