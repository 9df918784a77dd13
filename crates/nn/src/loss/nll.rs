//! Negative log-likelihood of class indices (`F.nll_loss`).

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::{Float, Tensor};

use super::Reduction;
use super::rows::{grad_column, reduce_rows, row_weights, to_rows, unrows};
use crate::Result;

struct NllBackward<F: Float> {
    /// `-w[t_i]·onehot(t_i)`, `(count, C)` (0 for an ignored row).
    neg_onehot: Tensor<F>,
    /// Per-row reduction factors, `(count, 1)`.
    scale: Tensor<F>,
    input_shape: Vec<usize>,
}

impl<F: Float> Backward<F> for NllBackward<F> {
    fn name(&self) -> &'static str {
        "nll_loss"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        let g = grad_column(ctx.grad_output, &self.scale)?;
        let rows = Var::constant(self.neg_onehot.clone()).mul(&g)?;
        Ok(vec![Some(unrows(&rows, &self.input_shape)?)])
    }
}

/// The keyword arguments of PyTorch's `F.nll_loss` (for [`nll_loss_with`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NllOptions<'a, F> {
    /// One weight per class (`weight=`); `None`: every class weighs 1.
    pub weight: Option<&'a [F]>,
    /// Targets equal to it add no loss and no gradient (`ignore_index=`,
    /// as in [`CrossEntropyOptions`](super::CrossEntropyOptions)).
    pub ignore_index: Option<usize>,
    /// How the per-row losses are combined (`reduction=`).
    pub reduction: Reduction,
}

/// Negative log-likelihood of class indices under log-probabilities
/// (`F.nll_loss(logp, target, reduction=...)`): `loss_i = -logp_i[t_i]`.
/// Shapes as in [`cross_entropy`](super::cross_entropy); [`nll_loss_with`] takes class weights
/// and `ignore_index`.
///
/// # Errors
/// As [`nll_loss_with`].
pub fn nll_loss<F: Float>(
    log_probs: &Var<F>,
    targets: &[usize],
    reduction: Reduction,
) -> Result<Var<F>> {
    nll_loss_with(
        log_probs,
        targets,
        &NllOptions {
            reduction,
            ..NllOptions::default()
        },
    )
}

/// [`nll_loss`] with class weights and `ignore_index` (`F.nll_loss(logp,
/// target, weight=w, ignore_index=k, reduction=...)`): `loss_i =
/// -w[t_i]·logp_i[t_i]`, 0 for rows whose target is `k`; the mean divides
/// the sum by `Σ w[t_i]` over the rows not ignored.
///
/// # Errors
/// As [`cross_entropy_with`](super::cross_entropy_with) (without the smoothing).
pub fn nll_loss_with<F: Float>(
    log_probs: &Var<F>,
    targets: &[usize],
    opts: &NllOptions<'_, F>,
) -> Result<Var<F>> {
    const OP: &str = "nll_loss";
    let (rows, loss_shape) = to_rows(OP, log_probs, targets.len())?;
    let rw = row_weights(
        OP,
        targets,
        &rows,
        opts.weight,
        opts.ignore_index,
        opts.reduction,
    )?;
    let c = rows.shape()[1];
    let x = rows.value();
    let xs = x.as_slice();
    let mut onehot = vec![F::zero(); xs.len()];
    let losses: Vec<F> = targets
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            if Some(t) == opts.ignore_index {
                return F::zero();
            }
            onehot[i * c + t] = -rw.w[i];
            -(rw.w[i] * xs[i * c + t])
        })
        .collect();
    let value = reduce_rows(losses, &loss_shape, opts.reduction, &rw)?;
    Ok(Var::from_op(
        value,
        vec![log_probs.clone()],
        NllBackward {
            neg_onehot: Tensor::from_vec(x.shape(), onehot)?,
            scale: Tensor::from_vec(&[targets.len(), 1], rw.scale)?,
            input_shape: log_probs.shape(),
        },
    ))
}
