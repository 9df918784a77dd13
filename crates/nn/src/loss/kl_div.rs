//! Kullback–Leibler divergence (`F.kl_div`).

use autograd::Var;
use core_tensor::Float;

use super::pointwise::check_broadcast;
use crate::Result;

/// How [`kl_div`] combines the pointwise terms: PyTorch's `reduction=`,
/// which for this loss also accepts `'batchmean'`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KlDivReduction {
    /// The mean over all elements (PyTorch's default, which warns that it
    /// is not the KL divergence; `BatchMean` is).
    #[default]
    Mean,
    /// The sum over all elements divided by the input's first size
    /// (the sum itself for a 0-dimensional input), the mathematical KL
    /// divergence per sample.
    BatchMean,
    /// The sum over all elements.
    Sum,
    /// No reduction.
    None,
}

/// Kullback–Leibler divergence of `target` from the log-probabilities
/// `input` (`F.kl_div(input, target, reduction=..., log_target=...)`):
/// pointwise `target·(log target − input)`, with `0·log 0 = 0`
/// (PyTorch's `xlogy`), or `e^target·(target − input)` when `log_target`
/// (the target given as log-probabilities). Built from differentiable ops,
/// so it is differentiable in both arguments to any order; the gradient
/// with respect to a target element equal to 0 is 0 here (PyTorch's is
/// NaN there). Shapes broadcast as in [`mse_loss`](super::mse_loss).
///
/// # Errors
/// [`NnError::BadInput`](crate::NnError::BadInput) when the shapes do not
/// broadcast.
pub fn kl_div<F: Float>(
    input: &Var<F>,
    target: &Var<F>,
    reduction: KlDivReduction,
    log_target: bool,
) -> Result<Var<F>> {
    const OP: &str = "kl_div";
    check_broadcast(OP, input, target)?;
    let pointwise = if log_target {
        target.exp().mul(&target.sub(input)?)?
    } else {
        xlogx(target)?.sub(&target.mul(input)?)?
    };
    Ok(match reduction {
        KlDivReduction::None => pointwise,
        KlDivReduction::Sum => pointwise.sum_all(),
        KlDivReduction::Mean => pointwise.mean_all(),
        KlDivReduction::BatchMean => {
            let sum = pointwise.sum_all();
            match input.shape().first() {
                Some(&n) => sum.mul_scalar(1.0 / n as f64),
                None => sum,
            }
        }
    })
}

/// `t·log t` elementwise with `0·log 0 = 0`: `t` is replaced by 1 where it
/// is 0 (so the logarithm stays finite and contributes nothing there), and
/// the zeros are multiplied back in.
fn xlogx<F: Float>(t: &Var<F>) -> Result<Var<F>> {
    let tv = t.value();
    let is_zero = Var::constant(tv.map(|&v| if v == F::zero() { F::one() } else { F::zero() }));
    let safe = t.add(&is_zero)?;
    Ok(t.mul(&safe.log())?)
}

/// `torch.nn.KLDivLoss(reduction='mean', log_target=False)`: [`kl_div`] as
/// a value holding its options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KLDivLoss {
    /// How the pointwise terms are combined.
    pub reduction: KlDivReduction,
    /// Whether the target holds log-probabilities.
    pub log_target: bool,
}

impl KLDivLoss {
    /// The loss with the given reduction and target form.
    pub fn new(reduction: KlDivReduction, log_target: bool) -> Self {
        Self {
            reduction,
            log_target,
        }
    }

    /// [`kl_div`] of the log-probabilities `input` against `target`.
    ///
    /// # Errors
    /// As [`kl_div`].
    pub fn forward<F: Float>(&self, input: &Var<F>, target: &Var<F>) -> Result<Var<F>> {
        kl_div(input, target, self.reduction, self.log_target)
    }
}
