//! Mean squared error (`F.mse_loss`).

use autograd::Var;
use core_tensor::Float;

use super::Reduction;
use crate::{NnError, Result};

/// Mean squared error `(x - y)²` with a reduction (`F.mse_loss`), built
/// from differentiable basic ops, so it is differentiable in both
/// arguments to any order.
///
/// # Errors
/// [`NnError::BadInput`] when the shapes differ (PyTorch would broadcast
/// with a warning; here it is an error).
pub fn mse_loss<F: Float>(input: &Var<F>, target: &Var<F>, reduction: Reduction) -> Result<Var<F>> {
    if input.shape() != target.shape() {
        return Err(NnError::input(
            "mse_loss",
            format!("the target's shape {:?}", target.shape()),
            &input.shape(),
        ));
    }
    let d = input.sub(target)?;
    let sq = d.mul(&d)?;
    Ok(match reduction {
        Reduction::None => sq,
        Reduction::Sum => sq.sum_all(),
        Reduction::Mean => sq.mean_all(),
    })
}
