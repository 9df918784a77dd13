//! Root-mean-square normalization (`torch.nn.functional.rms_norm`).

use autograd::Var;
use core_tensor::Float;

use crate::NormError;
use crate::channel_op::check_param;
use crate::layer_norm::trailing_layout;
use crate::row_op::{RowCall, row_op};

const OP: &str = "rms_norm";

/// RMS normalization over the trailing axes given by `normalized_shape`:
///
/// `y = x / sqrt(mean(x²) + eps) · weight`
///
/// (no centering, no bias), `weight` of shape `normalized_shape` optional,
/// `eps = None` meaning the machine epsilon of the dtype
/// (`torch.finfo(dtype).eps`). Backward is fused; second derivatives are
/// supported. PyTorch: `F.rms_norm(x, normalized_shape, weight, eps)`.
///
/// # Errors
/// [`NormError::NormalizedShape`] when `normalized_shape` is empty or not
/// the trailing axes of `x`, [`NormError::ParamShape`] for a `weight` of
/// another shape.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// let x = Var::leaf(Tensor::from_vec(&[1, 2], vec![3.0f64, 4.0])?);
/// let y = ops_norm::rms_norm(&x, &[2], None, Some(0.0))?;
/// let r = (12.5f64).sqrt();
/// assert!((y.value().as_slice()[0] - 3.0 / r).abs() < 1e-15);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn rms_norm<F: Float>(
    x: &Var<F>,
    normalized_shape: &[usize],
    weight: Option<&Var<F>>,
    eps: Option<f64>,
) -> Result<Var<F>, NormError> {
    let shape = x.shape();
    let layout = trailing_layout(OP, &shape, normalized_shape)?;
    check_param(OP, "weight", weight, normalized_shape, &shape)?;
    let eps = eps.unwrap_or(F::MACHINE_EPSILON.widen());
    let call = RowCall {
        name: OP,
        x,
        weight,
        bias: None,
        layout,
        center: false,
        eps,
        param_bshape: normalized_shape.to_vec(),
    };
    Ok(row_op(call)?.0)
}
