//! Mean squared error (`F.mse_loss`).

use autograd::Var;
use core_tensor::Float;

use super::Reduction;
use super::pointwise::{difference, reduce};
use crate::Result;

/// Squared error `(x − y)²` with a reduction (`F.mse_loss(x, y,
/// reduction=...)`), built from differentiable basic ops, so it is
/// differentiable in both arguments to any order.
///
/// Shapes follow PyTorch's broadcasting rule: `x` and `y` are broadcast to
/// one shape (PyTorch warns when they differ; here the broadcast is silent
/// and documented), the mean divides by the broadcast element count, and
/// gradients are summed back to each argument's own shape.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::{mse_loss, Reduction};
/// let x = Var::leaf(Tensor::from_vec(&[2, 2], vec![1.0f64, 2.0, 3.0, 4.0])?);
/// let y = Var::constant(Tensor::from_vec(&[2], vec![1.0, 0.0])?); // broadcast over rows
/// let l = mse_loss(&x, &y, Reduction::Mean)?;
/// assert_eq!(l.value().as_slice(), &[(0.0 + 4.0 + 4.0 + 16.0) / 4.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`NnError::BadInput`](crate::NnError::BadInput) when the shapes do not
/// broadcast.
pub fn mse_loss<F: Float>(input: &Var<F>, target: &Var<F>, reduction: Reduction) -> Result<Var<F>> {
    let d = difference("mse_loss", input, target)?;
    Ok(reduce(d.mul(&d)?, reduction))
}

/// `torch.nn.MSELoss(reduction='mean')`: [`mse_loss`] as a value holding
/// its reduction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MSELoss {
    /// How the squared errors are combined.
    pub reduction: Reduction,
}

impl MSELoss {
    /// The loss with the given reduction.
    pub fn new(reduction: Reduction) -> Self {
        Self { reduction }
    }

    /// [`mse_loss`] of `input` against `target`.
    ///
    /// # Errors
    /// As [`mse_loss`].
    pub fn forward<F: Float>(&self, input: &Var<F>, target: &Var<F>) -> Result<Var<F>> {
        mse_loss(input, target, self.reduction)
    }
}
