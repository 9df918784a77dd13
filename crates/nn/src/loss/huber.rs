//! Huber loss (`F.huber_loss`).

use autograd::Var;
use core_tensor::Float;

use super::Reduction;
use super::pointwise::{difference, reduce};
use super::robust::Robust;
use crate::{NnError, Result};

/// Huber loss with a reduction (`F.huber_loss(x, y, reduction=...,
/// delta=...)`, PyTorch's default `delta = 1`): with `d = x − y`,
/// `0.5·d²` where `|d| < δ` and `δ·(|d| − 0.5·δ)` elsewhere (that is,
/// `δ·smooth_l1(d, β = δ)`). The gradient is `d` inside and `±δ` outside,
/// the second derivative 1 strictly inside and 0 elsewhere;
/// differentiable to any order. Shapes broadcast as in
/// [`mse_loss`](super::mse_loss).
///
/// # Errors
/// [`NnError::InvalidConfig`] unless `delta > 0` (PyTorch: "huber_loss
/// does not support non-positive values for delta");
/// [`NnError::BadInput`] when the shapes do not broadcast.
pub fn huber_loss<F: Float>(
    input: &Var<F>,
    target: &Var<F>,
    reduction: Reduction,
    delta: f64,
) -> Result<Var<F>> {
    const OP: &str = "huber_loss";
    if delta.is_nan() || delta <= 0.0 {
        return Err(NnError::config(
            OP,
            "delta",
            format!("huber_loss does not support non-positive values for delta, got {delta}"),
        ));
    }
    let d = difference(OP, input, target)?;
    Ok(reduce(Robust::Huber { delta }.apply(&d, 0), reduction))
}

/// `torch.nn.HuberLoss(reduction='mean', delta=1.0)`: [`huber_loss`] as a
/// value holding its checked parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HuberLoss {
    reduction: Reduction,
    delta: f64,
}

impl HuberLoss {
    /// The loss with the given reduction and `delta`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] unless `delta > 0`.
    pub fn new(reduction: Reduction, delta: f64) -> Result<Self> {
        if delta.is_nan() || delta <= 0.0 {
            return Err(NnError::config(
                "HuberLoss",
                "delta",
                format!("huber_loss does not support non-positive values for delta, got {delta}"),
            ));
        }
        Ok(Self { reduction, delta })
    }

    /// The width of the quadratic part.
    pub fn delta(&self) -> f64 {
        self.delta
    }

    /// The reduction.
    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// [`huber_loss`] of `input` against `target`.
    ///
    /// # Errors
    /// As [`huber_loss`].
    pub fn forward<F: Float>(&self, input: &Var<F>, target: &Var<F>) -> Result<Var<F>> {
        huber_loss(input, target, self.reduction, self.delta)
    }
}

impl Default for HuberLoss {
    /// PyTorch's defaults: mean, `delta = 1`.
    fn default() -> Self {
        Self {
            reduction: Reduction::Mean,
            delta: 1.0,
        }
    }
}
