//! What the elementwise regression losses share: PyTorch's broadcasting of
//! input and target, and the reductions.

use autograd::Var;
use core_tensor::Float;
use core_tensor::shape::broadcast_shapes;

use super::Reduction;
use crate::{NnError, Result};

/// `input − target` broadcast to one shape (PyTorch's rule for `mse_loss`,
/// `l1_loss`, `smooth_l1_loss` and `huber_loss`, which broadcast and
/// warn when the shapes differ).
///
/// # Errors
/// [`NnError::BadInput`] when the shapes do not broadcast.
pub(super) fn difference<F: Float>(
    op: &'static str,
    input: &Var<F>,
    target: &Var<F>,
) -> Result<Var<F>> {
    check_broadcast(op, input, target)?;
    Ok(input.sub(target)?)
}

/// Whether `input` and `target` broadcast to one shape.
///
/// # Errors
/// [`NnError::BadInput`] naming both shapes when they do not.
pub(super) fn check_broadcast<F: Float>(
    op: &'static str,
    input: &Var<F>,
    target: &Var<F>,
) -> Result<Vec<usize>> {
    let (a, b) = (input.shape(), target.shape());
    broadcast_shapes(op, &a, &b).map_err(|_| {
        NnError::input(
            op,
            format!(
                "a shape that broadcasts with the target's shape {b:?} (trailing sizes equal or 1)"
            ),
            &a,
        )
    })
}

/// Requires `input` and `target` to have one shape (BCE and BCE with
/// logits, where PyTorch raises on a mismatch).
///
/// # Errors
/// [`NnError::BadInput`] when the shapes differ.
pub(super) fn check_same_shape<F: Float>(
    op: &'static str,
    input: &Var<F>,
    target: &Var<F>,
) -> Result<()> {
    let (a, b) = (input.shape(), target.shape());
    if a != b {
        return Err(NnError::input(
            op,
            format!(
                "the target's shape {b:?} (a target of another size is an error, as in PyTorch)"
            ),
            &a,
        ));
    }
    Ok(())
}

/// `weight` (or `pos_weight`) must broadcast to the input's shape
/// without enlarging it.
///
/// # Errors
/// [`NnError::InvalidConfig`] otherwise.
pub(super) fn check_weight<F: Float>(
    op: &'static str,
    param: &'static str,
    weight: &Var<F>,
    shape: &[usize],
) -> Result<()> {
    let w = weight.shape();
    match broadcast_shapes(op, &w, shape) {
        Ok(s) if s == shape => Ok(()),
        _ => Err(NnError::config(
            op,
            param,
            format!("{param} of shape {w:?} does not broadcast to the input's shape {shape:?}"),
        )),
    }
}

/// Applies a [`Reduction`] to per-element losses: the mean or sum over
/// every element (the mean of no elements is NaN, as in PyTorch), or the
/// losses as they are.
pub(super) fn reduce<F: Float>(loss: Var<F>, reduction: Reduction) -> Var<F> {
    match reduction {
        Reduction::None => loss,
        Reduction::Sum => loss.sum_all(),
        Reduction::Mean => loss.mean_all(),
    }
}
