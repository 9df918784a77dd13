//! Batch normalization (`torch.nn.functional.batch_norm`).

use autograd::Var;
use core_tensor::{Float, Par};

use crate::channel_op::{ChannelCall, StatsSource, channel_op, check_param};
use crate::kernels::channel::{ChannelLayout, channel_moments};
use crate::{NormError, RunningStats};

const OP: &str = "batch_norm";

/// Settings of a batch-norm call (PyTorch's `training`, `momentum`, `eps`).
///
/// `Default` is PyTorch's module default in training mode:
/// `training = true, momentum = Some(0.1), eps = 1e-5`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// Training mode: normalize with batch statistics and update the
    /// running statistics (when given).
    pub training: bool,
    /// Weight of the batch in the running-statistics update, or `None` for
    /// a cumulative average (`1 / num_batches_tracked`). Not range-checked
    /// (PyTorch accepts any number); NaN is an error.
    pub momentum: Option<f64>,
    /// Added to the variance before the square root; must be positive when
    /// batch statistics are used, non-negative otherwise.
    pub eps: f64,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        Self {
            training: true,
            momentum: Some(0.1),
            eps: 1e-5,
        }
    }
}

impl BatchNormConfig {
    /// Training mode with PyTorch's default momentum and eps.
    pub fn train() -> Self {
        Self::default()
    }

    /// Eval mode with PyTorch's default momentum and eps.
    pub fn eval() -> Self {
        Self {
            training: false,
            ..Self::default()
        }
    }
}

/// Batch normalization of an `N, C, *` input (any rank ≥ 2), statistics per
/// channel over the batch and spatial axes:
///
/// `y = (x − mean) / sqrt(var + eps) · weight + bias`.
///
/// - **Training** (`config.training`): `mean` and the *biased* `var` of the
///   batch. When `running` is given it is updated in place: the counter is
///   incremented, then `running = (1 − f)·running + f·batch` with the
///   *unbiased* batch variance and `f = momentum`, or
///   `f = 1 / num_batches_tracked` when momentum is `None`.
/// - **Eval**: the running statistics when given (an affine map of `x`),
///   otherwise the batch statistics (PyTorch's `track_running_stats = False`).
///
/// `weight` and `bias` (shape `[C]`) are optional. The backward pass is the
/// fused formula of [`crate::kernels::channel::batch_norm_backward_train`] in training and the
/// affine map [`crate::kernels::channel::batch_norm_backward_eval`] with running statistics;
/// second derivatives are supported. PyTorch: `F.batch_norm(x, running_mean,
/// running_var, weight, bias, training, momentum, eps)`.
///
/// # Errors
/// [`NormError::WrongRank`] for rank < 2, [`NormError::ParamShape`] when
/// `weight`, `bias` or a running buffer is not `[C]`,
/// [`NormError::TooFewValues`] when batch statistics are taken over a
/// single value per channel (`N·∏spatial == 1`), [`NormError::InvalidEps`]
/// (`eps ≤ 0` with batch statistics, `eps < 0` in eval),
/// [`NormError::InvalidMomentum`] for NaN, [`NormError::Counter`] if the
/// counter would overflow.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use ops_norm::{batch_norm, BatchNormConfig, RunningStats};
///
/// let x = Var::leaf(Tensor::from_vec(&[2, 1, 2], vec![1.0f64, 3.0, 5.0, 7.0])?);
/// let mut stats = RunningStats::new(1);
/// let y = batch_norm(&x, None, None, Some(&mut stats), &BatchNormConfig::train())?;
/// // mean 4, biased variance 5
/// let want = [-3.0, -1.0, 1.0, 3.0].map(|v: f64| v / (5.0f64 + 1e-5).sqrt());
/// for (a, b) in y.value().as_slice().iter().zip(want) { assert!((a - b).abs() < 1e-12); }
/// // running_var = 0.9·1 + 0.1·(unbiased 20/3)
/// assert!((stats.var.as_slice()[0] - (0.9 + 0.1 * 20.0 / 3.0)).abs() < 1e-12);
/// assert_eq!(stats.num_batches_tracked, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn batch_norm<F: Float>(
    x: &Var<F>,
    weight: Option<&Var<F>>,
    bias: Option<&Var<F>>,
    running: Option<&mut RunningStats<F>>,
    config: &BatchNormConfig,
) -> Result<Var<F>, NormError> {
    let shape = x.shape();
    let layout = ChannelLayout::of_shape(OP, &shape)?;
    let c = layout.c;
    check_param(OP, "weight", weight, &[c], &shape)?;
    check_param(OP, "bias", bias, &[c], &shape)?;
    if let Some(r) = running.as_deref() {
        r.check(OP, c, &shape)?;
    }
    if let Some(m) = config.momentum
        && m.is_nan()
    {
        return Err(NormError::InvalidMomentum {
            op: OP,
            momentum: m,
        });
    }
    let use_batch = config.training || running.is_none();
    let eps = config.eps;
    if use_batch && eps.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(NormError::InvalidEps {
            op: OP,
            eps,
            allowed: "positive when batch statistics are used (training)",
        });
    }
    if !use_batch
        && !matches!(
            eps.partial_cmp(&0.0),
            Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
        )
    {
        return Err(NormError::InvalidEps {
            op: OP,
            eps,
            allowed: "non-negative in evaluation",
        });
    }
    if use_batch && layout.per_channel() == 1 {
        return Err(NormError::TooFewValues {
            op: OP,
            unit: "channel",
            shape,
        });
    }
    let xv = x.value();
    let (mean, invstd, source) = if use_batch {
        let moments = channel_moments(xv.as_slice(), layout, Par::Rayon)?;
        if config.training
            && let Some(r) = running
        {
            r.count_batch(OP)?;
            let factor = config
                .momentum
                .unwrap_or(1.0 / r.num_batches_tracked as f64);
            if layout.per_channel() > 0 {
                let means: Vec<f64> = moments.iter().map(|m| m.mean).collect();
                let vars: Vec<f64> = moments.iter().map(|m| m.var_unbiased()).collect();
                r.blend(factor, &means, &vars)?;
            }
        }
        let mean = moments.iter().map(|m| m.mean).collect();
        let invstd = moments
            .iter()
            .map(|m| 1.0 / (m.var_biased() + eps).sqrt())
            .collect();
        (mean, invstd, StatsSource::Batch)
    } else {
        let r = running.ok_or(NormError::MissingRunningStats {
            op: OP,
            reason: "eval needs running statistics",
        })?;
        let mean = r.mean.as_slice().iter().map(|v| v.widen()).collect();
        let invstd = r
            .var
            .as_slice()
            .iter()
            .map(|v| 1.0 / (v.widen() + eps).sqrt())
            .collect();
        (mean, invstd, StatsSource::Fixed)
    };
    channel_op(ChannelCall {
        name: OP,
        x,
        weight,
        bias,
        layout,
        mean,
        invstd,
        source,
        eps,
    })
}
