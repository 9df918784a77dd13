//! Group normalization (`torch.nn.functional.group_norm`).

use autograd::Var;
use core_tensor::Float;

use crate::NormError;
use crate::channel_op::{channel_bshape, check_param};
use crate::kernels::channel::ChannelLayout;
use crate::kernels::row::RowLayout;
use crate::row_op::{RowCall, row_op};

const OP: &str = "group_norm";

/// Group normalization of an `N, C, *` input: the `C` channels are split
/// into `num_groups` groups of `C / num_groups` consecutive channels, and
/// each `(sample, group)` is normalized with its mean and *biased* variance
/// over its channels and spatial positions; then the per-channel affine
/// `weight[c]`, `bias[c]` (optional, shape `[C]`). Same in training and eval.
/// `GroupNorm(C, C)` is instance norm, `GroupNorm(1, C)` layer norm over
/// `C, *`. Backward is fused; second derivatives are supported. PyTorch:
/// `F.group_norm(x, num_groups, weight, bias, eps)`.
///
/// # Errors
/// [`NormError::WrongRank`] for rank < 2, [`NormError::InvalidGroups`] when
/// `num_groups` is 0 or does not divide `C`, [`NormError::ParamShape`] when
/// `weight`/`bias` is not `[C]`, [`NormError::TooFewValues`] when
/// `N · C/G · ∏spatial == 1` (PyTorch's `_verify_batch_size` check).
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// let x = Var::leaf(Tensor::from_vec(&[1, 4, 1], vec![1.0f64, 3.0, 0.0, 2.0])?);
/// let y = ops_norm::group_norm(&x, 2, None, None, 0.0)?;
/// assert_eq!(y.value().as_slice(), &[-1.0, 1.0, -1.0, 1.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn group_norm<F: Float>(
    x: &Var<F>,
    num_groups: usize,
    weight: Option<&Var<F>>,
    bias: Option<&Var<F>>,
    eps: f64,
) -> Result<Var<F>, NormError> {
    let shape = x.shape();
    let ChannelLayout { n, c, s } = ChannelLayout::of_shape(OP, &shape)?;
    if num_groups == 0 || c % num_groups != 0 {
        return Err(NormError::InvalidGroups {
            op: OP,
            num_groups,
            channels: c,
            shape,
        });
    }
    check_param(OP, "weight", weight, &[c], &shape)?;
    check_param(OP, "bias", bias, &[c], &shape)?;
    let per_group = c / num_groups;
    if n * per_group * s == 1 {
        return Err(NormError::TooFewValues {
            op: OP,
            unit: "group",
            shape,
        });
    }
    if x.is_empty() {
        return Ok(x.mul_scalar(0.0));
    }
    let layout = RowLayout {
        rows: n * num_groups,
        len: per_group * s,
        period: num_groups,
        group: s,
    };
    let call = RowCall {
        name: OP,
        x,
        weight,
        bias,
        layout,
        center: true,
        eps,
        param_bshape: channel_bshape(shape.len(), c),
    };
    Ok(row_op(call)?.0)
}
