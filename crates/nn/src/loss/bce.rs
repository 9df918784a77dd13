//! Binary cross-entropy of probabilities (`F.binary_cross_entropy`).

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::{Float, Tensor};

use super::Reduction;
use super::pointwise::{check_same_shape, check_weight, reduce};
use crate::{NnError, Result};

/// PyTorch clamps each logarithm of the loss at this value, so a
/// probability of exactly 0 or 1 gives a finite loss.
const LOG_FLOOR: f64 = -100.0;
/// PyTorch's floor of `x(1 − x)` in the gradient's denominator.
const DENOM_FLOOR: f64 = 1e-12;

/// `max(log v, −100)` of a recorded value, differentiable to any order:
/// where the floor applies, `v` is replaced by 1 (whose logarithm adds
/// nothing and whose derivative is 0) and −100 added as a constant.
fn floored_log<F: Float>(v: &Var<F>) -> autograd::Result<Var<F>> {
    let floor = F::cast(LOG_FLOOR);
    let val = v.value();
    let clamped = val.map(|&x| if x.ln() < floor { F::one() } else { F::zero() });
    let keep = Var::constant(clamped.map(|&c| F::one() - c));
    let safe = v.mul(&keep)?.add(&Var::constant(clamped.clone()))?;
    let shift = Var::constant(clamped.map(|&c| c * floor));
    safe.log().add(&shift)
}

struct BceBackward;

impl<F: Float> Backward<F> for BceBackward {
    fn name(&self) -> &'static str {
        "binary_cross_entropy"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        let (g, x, y) = (ctx.grad_output, &ctx.inputs[0], &ctx.inputs[1]);
        let gx = if ctx.needs_grad[0] {
            // PyTorch: g·(x − y) / max(x(1 − x), 1e-12)
            let den = x.mul(&x.neg().add_scalar(1.0))?;
            let eps = F::cast(DENOM_FLOOR);
            let floored = den
                .value()
                .map(|&d| if d < eps { F::one() } else { F::zero() });
            let keep = Var::constant(floored.map(|&c| F::one() - c));
            let den = den
                .mul(&keep)?
                .add(&Var::constant(floored.map(|&c| c * eps)))?;
            Some(g.mul(&x.sub(y)?.div(&den)?)?)
        } else {
            None
        };
        let gy = if ctx.needs_grad[1] {
            // PyTorch: g·(max(log(1 − x), −100) − max(log x, −100))
            let one_minus = x.neg().add_scalar(1.0);
            Some(g.mul(&floored_log(&one_minus)?.sub(&floored_log(x)?)?)?)
        } else {
            None
        };
        Ok(vec![gx, gy])
    }
}

/// The first element outside `[0, 1]` (NaN included), if any.
fn outside_unit<F: Float>(t: &Tensor<F>) -> Option<(usize, F)> {
    t.as_slice()
        .iter()
        .enumerate()
        .find(|(_, v)| !(**v >= F::zero() && **v <= F::one()))
        .map(|(i, &v)| (i, v))
}

/// Binary cross-entropy between probabilities `x` and targets `y`
/// (`F.binary_cross_entropy(x, y, weight=w, reduction=...)`):
/// `−w·(y·max(log x, −100) + (1 − y)·max(log(1 − x), −100))`, the
/// logarithms clamped at −100 as in PyTorch so that `x = 0` or 1 gives a
/// finite loss. The gradient is PyTorch's `w·(x − y) / max(x(1 − x),
/// 1e-12)` for `x` and `w·(max(log(1 − x), −100) − max(log x, −100))` for
/// `y`, both written with differentiable ops (second derivatives follow).
/// `weight`, when given, broadcasts to the input's shape.
///
/// # Errors
/// [`NnError::BadInput`] when `x` and `y` differ in shape (an error in
/// PyTorch too); [`NnError::InvalidConfig`] when an element of `x` or `y`
/// lies outside `[0, 1]` (PyTorch: "all elements of input should be
/// between 0 and 1") or `weight` does not broadcast to the input.
pub fn binary_cross_entropy<F: Float>(
    input: &Var<F>,
    target: &Var<F>,
    weight: Option<&Var<F>>,
    reduction: Reduction,
) -> Result<Var<F>> {
    const OP: &str = "binary_cross_entropy";
    check_same_shape(OP, input, target)?;
    let (x, y) = (input.value(), target.value());
    for (param, t) in [("input", &x), ("target", &y)] {
        if let Some((i, v)) = outside_unit(t) {
            return Err(NnError::config(
                OP,
                param,
                format!(
                    "all elements of {param} should be between 0 and 1, found {v} at flat index {i}"
                ),
            ));
        }
    }
    if let Some(w) = weight {
        check_weight(OP, "weight", w, x.shape())?;
    }
    let floor = F::cast(LOG_FLOOR);
    let loss: Vec<F> = x
        .as_slice()
        .iter()
        .zip(y.as_slice())
        .map(|(&x, &y)| {
            let log_x = x.ln().max(floor);
            let log_1mx = (-x).ln_1p().max(floor);
            (y - F::one()) * log_1mx - y * log_x
        })
        .collect();
    let loss = Var::from_op(
        Tensor::from_vec(x.shape(), loss)?,
        vec![input.clone(), target.clone()],
        BceBackward,
    );
    let loss = match weight {
        Some(w) => loss.mul(w)?,
        None => loss,
    };
    Ok(reduce(loss, reduction))
}

/// `torch.nn.BCELoss(weight=None, reduction='mean')`:
/// [`binary_cross_entropy`] as a value holding its weight and reduction.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::{BCELoss, Reduction};
/// let loss = BCELoss::new(None, Reduction::Mean);
/// let p = Var::leaf(Tensor::from_vec(&[2], vec![0.8f64, 0.4])?);
/// let y = Var::constant(Tensor::from_vec(&[2], vec![1.0, 0.0])?);
/// let l = loss.forward(&p, &y)?;
/// // torch: F.binary_cross_entropy(torch.tensor([0.8, 0.4]), torch.tensor([1., 0.]))
/// assert!((l.value().as_slice()[0] - 0.3669845875401002).abs() < 1e-15);
/// l.backward()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct BCELoss<F: Float> {
    /// Per-element weights, broadcast to the input's shape.
    pub weight: Option<Var<F>>,
    /// How the losses are combined.
    pub reduction: Reduction,
}

impl<F: Float> BCELoss<F> {
    /// The loss with an optional weight and a reduction.
    pub fn new(weight: Option<Var<F>>, reduction: Reduction) -> Self {
        Self { weight, reduction }
    }

    /// [`binary_cross_entropy`] of the probabilities `input` against `target`.
    ///
    /// # Errors
    /// As [`binary_cross_entropy`].
    pub fn forward(&self, input: &Var<F>, target: &Var<F>) -> Result<Var<F>> {
        binary_cross_entropy(input, target, self.weight.as_ref(), self.reduction)
    }
}

impl<F: Float> Default for BCELoss<F> {
    fn default() -> Self {
        Self::new(None, Reduction::Mean)
    }
}
