//! Mean absolute error (`F.l1_loss`).

use autograd::Var;
use core_tensor::Float;

use super::Reduction;
use super::pointwise::{difference, reduce};
use crate::Result;

/// Absolute error `|x − y|` with a reduction (`F.l1_loss(x, y,
/// reduction=...)`); the gradient at `x = y` is 0 (PyTorch's `sign`).
/// Shapes broadcast as in [`mse_loss`](super::mse_loss).
///
/// # Errors
/// [`NnError::BadInput`](crate::NnError::BadInput) when the shapes do not
/// broadcast.
pub fn l1_loss<F: Float>(input: &Var<F>, target: &Var<F>, reduction: Reduction) -> Result<Var<F>> {
    let d = difference("l1_loss", input, target)?;
    Ok(reduce(d.abs(), reduction))
}

/// `torch.nn.L1Loss(reduction='mean')`: [`l1_loss`] as a value holding its
/// reduction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L1Loss {
    /// How the absolute errors are combined.
    pub reduction: Reduction,
}

impl L1Loss {
    /// The loss with the given reduction.
    pub fn new(reduction: Reduction) -> Self {
        Self { reduction }
    }

    /// [`l1_loss`] of `input` against `target`.
    ///
    /// # Errors
    /// As [`l1_loss`].
    pub fn forward<F: Float>(&self, input: &Var<F>, target: &Var<F>) -> Result<Var<F>> {
        l1_loss(input, target, self.reduction)
    }
}
