//! Smooth L1 loss (`F.smooth_l1_loss`).

use autograd::Var;
use core_tensor::Float;

use super::Reduction;
use super::pointwise::{difference, reduce};
use super::robust::Robust;
use crate::{NnError, Result};

/// Smooth L1 loss with a reduction (`F.smooth_l1_loss(x, y,
/// reduction=..., beta=...)`, PyTorch's default `beta = 1`): with
/// `d = x − y`, `0.5·d²/β` where `|d| < β` and `|d| − 0.5·β` elsewhere;
/// `β = 0` is exactly [`l1_loss`](super::l1_loss), as in PyTorch. The
/// gradient is `d/β` inside and `sign(d)` outside, the second derivative
/// `1/β` strictly inside and 0 elsewhere; differentiable to any order.
/// Shapes broadcast as in [`mse_loss`](super::mse_loss).
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::{smooth_l1_loss, Reduction};
/// let x = Var::leaf(Tensor::from_vec(&[3], vec![0.5f64, 2.0, -3.0])?);
/// let y = Var::constant(Tensor::zeros(&[3]));
/// let l = smooth_l1_loss(&x, &y, Reduction::Sum, 1.0)?;
/// // 0.5·0.25 + (2 − 0.5) + (3 − 0.5)
/// assert_eq!(l.value().as_slice(), &[4.125]);
/// l.backward()?;
/// assert_eq!(x.grad().unwrap().as_slice(), &[0.5, 1.0, -1.0]);
/// assert!(smooth_l1_loss(&x, &y, Reduction::Sum, -1.0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`NnError::InvalidConfig`] for a negative or NaN `beta` (PyTorch:
/// "smooth_l1_loss does not support negative values for beta");
/// [`NnError::BadInput`] when the shapes do not broadcast.
pub fn smooth_l1_loss<F: Float>(
    input: &Var<F>,
    target: &Var<F>,
    reduction: Reduction,
    beta: f64,
) -> Result<Var<F>> {
    const OP: &str = "smooth_l1_loss";
    if beta.is_nan() || beta < 0.0 {
        return Err(NnError::config(
            OP,
            "beta",
            format!("smooth_l1_loss does not support negative values for beta, got {beta}"),
        ));
    }
    let d = difference(OP, input, target)?;
    if beta == 0.0 {
        return Ok(reduce(d.abs(), reduction));
    }
    Ok(reduce(Robust::SmoothL1 { beta }.apply(&d, 0), reduction))
}

/// `torch.nn.SmoothL1Loss(reduction='mean', beta=1.0)`: [`smooth_l1_loss`]
/// as a value holding its checked parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmoothL1Loss {
    reduction: Reduction,
    beta: f64,
}

impl SmoothL1Loss {
    /// The loss with the given reduction and `beta`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for a negative or NaN `beta`.
    pub fn new(reduction: Reduction, beta: f64) -> Result<Self> {
        if beta.is_nan() || beta < 0.0 {
            return Err(NnError::config(
                "SmoothL1Loss",
                "beta",
                format!("smooth_l1_loss does not support negative values for beta, got {beta}"),
            ));
        }
        Ok(Self { reduction, beta })
    }

    /// The width of the quadratic part.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// The reduction.
    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// [`smooth_l1_loss`] of `input` against `target`.
    ///
    /// # Errors
    /// As [`smooth_l1_loss`].
    pub fn forward<F: Float>(&self, input: &Var<F>, target: &Var<F>) -> Result<Var<F>> {
        smooth_l1_loss(input, target, self.reduction, self.beta)
    }
}

impl Default for SmoothL1Loss {
    /// PyTorch's defaults: mean, `beta = 1`.
    fn default() -> Self {
        Self {
            reduction: Reduction::Mean,
            beta: 1.0,
        }
    }
}
