//! Layer normalization (`torch.nn.functional.layer_norm`).

use autograd::Var;
use core_tensor::{Float, TensorError};

use crate::NormError;
use crate::channel_op::check_param;
use crate::kernels::row::RowLayout;
use crate::row_op::{RowCall, row_op};

const OP: &str = "layer_norm";

/// The row layout of normalizing the trailing `normalized_shape` axes of
/// `shape` (shared with RMS norm).
pub(crate) fn trailing_layout(
    op: &'static str,
    shape: &[usize],
    normalized_shape: &[usize],
) -> Result<RowLayout, NormError> {
    let k = normalized_shape.len();
    if k == 0 || shape.len() < k || shape[shape.len() - k..] != *normalized_shape {
        return Err(NormError::NormalizedShape {
            op,
            normalized_shape: normalized_shape.to_vec(),
            shape: shape.to_vec(),
        });
    }
    let overflow = || {
        NormError::Tensor(TensorError::SizeOverflow {
            op,
            shape: shape.to_vec(),
        })
    };
    let prod = |s: &[usize]| s.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let rows = prod(&shape[..shape.len() - k]).ok_or_else(overflow)?;
    let len = prod(normalized_shape).ok_or_else(overflow)?;
    rows.checked_mul(len).ok_or_else(overflow)?;
    Ok(RowLayout {
        rows,
        len,
        period: 1,
        group: 1,
    })
}

/// Layer normalization over the trailing axes given by `normalized_shape`:
/// for every index of the leading axes,
///
/// `y = (x − mean) / sqrt(var + eps) · weight + bias`
///
/// with the mean and *biased* variance over the trailing axes, and
/// elementwise `weight`/`bias` of shape `normalized_shape` (optional). Same
/// in training and eval. `eps` is not validated (as in PyTorch). Backward is
/// fused ([`crate::kernels::row::row_backward`]); second derivatives are supported.
/// PyTorch: `F.layer_norm(x, normalized_shape, weight, bias, eps)`.
///
/// # Errors
/// [`NormError::NormalizedShape`] when `normalized_shape` is empty or not
/// the trailing axes of `x`, [`NormError::ParamShape`] when `weight` or
/// `bias` does not have shape `normalized_shape`.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// let x = Var::leaf(Tensor::from_vec(&[2, 2], vec![1.0f64, 3.0, 10.0, 10.0])?);
/// let y = ops_norm::layer_norm(&x, &[2], None, None, 0.0)?;
/// assert_eq!(y.value().as_slice()[..2], [-1.0, 1.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn layer_norm<F: Float>(
    x: &Var<F>,
    normalized_shape: &[usize],
    weight: Option<&Var<F>>,
    bias: Option<&Var<F>>,
    eps: f64,
) -> Result<Var<F>, NormError> {
    let shape = x.shape();
    let layout = trailing_layout(OP, &shape, normalized_shape)?;
    check_param(OP, "weight", weight, normalized_shape, &shape)?;
    check_param(OP, "bias", bias, normalized_shape, &shape)?;
    let call = RowCall {
        name: OP,
        x,
        weight,
        bias,
        layout,
        center: true,
        eps,
        param_bshape: normalized_shape.to_vec(),
    };
    Ok(row_op(call)?.0)
}
