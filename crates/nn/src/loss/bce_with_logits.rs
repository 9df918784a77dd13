//! Binary cross-entropy of logits (`F.binary_cross_entropy_with_logits`).

use autograd::Var;
use core_tensor::Float;

use super::Reduction;
use super::pointwise::{check_same_shape, check_weight, reduce};
use crate::Result;

/// Binary cross-entropy of logits `x` against targets `y`
/// (`F.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=p,
/// reduction=...)`): `w·((1 − y)·x − l·log σ(x))` with `l = 1 + (p − 1)·y`
/// (`l = 1` without `pos_weight`), which equals
/// `−w·(p·y·log σ(x) + (1 − y)·log(1 − σ(x)))` and is computed through
/// the stable `log σ(x) = min(x, 0) − log(1 + e^{−|x|})`, so large logits
/// of either sign give finite losses and gradients. Built from
/// differentiable ops: differentiable in `x` and `y` to any order (the
/// gradient in `x` is `w·((1 − y) − l·σ(−x))`).
///
/// `weight` broadcasts to the input's shape; `pos_weight` too, usually one
/// value per class along the last axis.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::{binary_cross_entropy_with_logits, Reduction};
/// let x = Var::leaf(Tensor::from_vec(&[2], vec![0.0f64, 800.0])?);
/// let y = Var::constant(Tensor::from_vec(&[2], vec![1.0, 0.0])?);
/// let l = binary_cross_entropy_with_logits(&x, &y, None, None, Reduction::None)?;
/// // log 2, and 800 (finite despite the huge logit)
/// assert_eq!(l.value().as_slice(), &[std::f64::consts::LN_2, 800.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`NnError::BadInput`](crate::NnError::BadInput) when `x` and `y` differ
/// in shape (an error in PyTorch too);
/// [`NnError::InvalidConfig`](crate::NnError::InvalidConfig) when `weight`
/// or `pos_weight` does not broadcast to the input's shape.
pub fn binary_cross_entropy_with_logits<F: Float>(
    input: &Var<F>,
    target: &Var<F>,
    weight: Option<&Var<F>>,
    pos_weight: Option<&Var<F>>,
    reduction: Reduction,
) -> Result<Var<F>> {
    const OP: &str = "binary_cross_entropy_with_logits";
    check_same_shape(OP, input, target)?;
    let shape = input.shape();
    if let Some(w) = weight {
        check_weight(OP, "weight", w, &shape)?;
    }
    if let Some(p) = pos_weight {
        check_weight(OP, "pos_weight", p, &shape)?;
    }
    let log_sig = input.log_sigmoid();
    let scaled = match pos_weight {
        Some(p) => {
            let log_weight = p.add_scalar(-1.0).mul(target)?.add_scalar(1.0);
            log_weight.mul(&log_sig)?
        }
        None => log_sig,
    };
    let loss = target.neg().add_scalar(1.0).mul(input)?.sub(&scaled)?;
    let loss = match weight {
        Some(w) => loss.mul(w)?,
        None => loss,
    };
    Ok(reduce(loss, reduction))
}

/// `torch.nn.BCEWithLogitsLoss(weight=None, reduction='mean',
/// pos_weight=None)`: [`binary_cross_entropy_with_logits`] as a value
/// holding its weights and reduction.
#[derive(Clone, Debug)]
pub struct BCEWithLogitsLoss<F: Float> {
    /// Per-element weights, broadcast to the input's shape.
    pub weight: Option<Var<F>>,
    /// Weights of the positive term, broadcast to the input's shape
    /// (usually one per class).
    pub pos_weight: Option<Var<F>>,
    /// How the losses are combined.
    pub reduction: Reduction,
}

impl<F: Float> BCEWithLogitsLoss<F> {
    /// The loss with optional weights and a reduction.
    pub fn new(weight: Option<Var<F>>, pos_weight: Option<Var<F>>, reduction: Reduction) -> Self {
        Self {
            weight,
            pos_weight,
            reduction,
        }
    }

    /// [`binary_cross_entropy_with_logits`] of the logits `input` against
    /// `target`.
    ///
    /// # Errors
    /// As [`binary_cross_entropy_with_logits`].
    pub fn forward(&self, input: &Var<F>, target: &Var<F>) -> Result<Var<F>> {
        binary_cross_entropy_with_logits(
            input,
            target,
            self.weight.as_ref(),
            self.pos_weight.as_ref(),
            self.reduction,
        )
    }
}

impl<F: Float> Default for BCEWithLogitsLoss<F> {
    fn default() -> Self {
        Self::new(None, None, Reduction::Mean)
    }
}
