//! Instance normalization (`torch.nn.functional.instance_norm`).

use autograd::Var;
use core_tensor::Float;

use crate::channel_op::{ChannelCall, StatsSource, channel_bshape, channel_op, check_param};
use crate::kernels::channel::ChannelLayout;
use crate::kernels::row::RowLayout;
use crate::row_op::{RowCall, row_op};
use crate::{NormError, RunningStats};

const OP: &str = "instance_norm";

/// Settings of an instance-norm call (PyTorch's `use_input_stats`,
/// `momentum`, `eps`).
///
/// `Default`: `use_input_stats = true, momentum = 0.1, eps = 1e-5`. The
/// module `InstanceNorm*d` passes `use_input_stats = training ||
/// !track_running_stats` and maps `momentum = None` to `0.0` (no update).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InstanceNormConfig {
    /// Normalize with each instance's own statistics (and update running
    /// statistics when given); otherwise with the running statistics.
    pub use_input_stats: bool,
    /// Weight of the batch in the running-statistics update (NaN is an error).
    pub momentum: f64,
    /// Added to the variance before the square root (not validated, as in PyTorch).
    pub eps: f64,
}

impl Default for InstanceNormConfig {
    fn default() -> Self {
        Self {
            use_input_stats: true,
            momentum: 0.1,
            eps: 1e-5,
        }
    }
}

/// Instance normalization of an `N, C, *` input: every `(sample, channel)`
/// plane is normalized with its own mean and *biased* variance, then the
/// optional per-channel `weight`/`bias` (shape `[C]`) apply.
///
/// With `use_input_stats` and `running` given, the running statistics are
/// updated with the batch average of the per-instance means and *unbiased*
/// variances, `running = (1 − momentum)·running + momentum·batch`;
/// `num_batches_tracked` is not touched (as in PyTorch). Without
/// `use_input_stats` the running statistics normalize (batch norm in eval).
/// Backward is fused; second derivatives are supported. PyTorch:
/// `F.instance_norm(x, running_mean, running_var, weight, bias,
/// use_input_stats, momentum, eps)`.
///
/// # Errors
/// [`NormError::WrongRank`] for rank < 2, [`NormError::ParamShape`] when a
/// parameter or running buffer is not `[C]`, [`NormError::TooFewValues`]
/// with `use_input_stats` and a single spatial element,
/// [`NormError::MissingRunningStats`] without `use_input_stats` and without
/// running statistics, [`NormError::InvalidMomentum`] for NaN.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use ops_norm::{instance_norm, InstanceNormConfig};
/// let x = Var::leaf(Tensor::from_vec(&[1, 2, 2], vec![1.0f64, 3.0, 10.0, 14.0])?);
/// let cfg = InstanceNormConfig { eps: 0.0, ..Default::default() };
/// let y = instance_norm(&x, None, None, None, &cfg)?;
/// assert_eq!(y.value().as_slice(), &[-1.0, 1.0, -1.0, 1.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn instance_norm<F: Float>(
    x: &Var<F>,
    weight: Option<&Var<F>>,
    bias: Option<&Var<F>>,
    running: Option<&mut RunningStats<F>>,
    config: &InstanceNormConfig,
) -> Result<Var<F>, NormError> {
    let shape = x.shape();
    let layout = ChannelLayout::of_shape(OP, &shape)?;
    let ChannelLayout { n, c, s } = layout;
    check_param(OP, "weight", weight, &[c], &shape)?;
    check_param(OP, "bias", bias, &[c], &shape)?;
    if let Some(r) = running.as_deref() {
        r.check(OP, c, &shape)?;
    }
    if config.momentum.is_nan() {
        return Err(NormError::InvalidMomentum {
            op: OP,
            momentum: config.momentum,
        });
    }
    let eps = config.eps;
    if !config.use_input_stats {
        let r = running.ok_or(NormError::MissingRunningStats {
            op: OP,
            reason: "use_input_stats = false (eval with track_running_stats) needs running statistics; \
                     pass them or use the input statistics",
        })?;
        let mean = r.mean.as_slice().iter().map(|v| v.widen()).collect();
        let invstd = r
            .var
            .as_slice()
            .iter()
            .map(|v| 1.0 / (v.widen() + eps).sqrt())
            .collect();
        let call = ChannelCall {
            name: OP,
            x,
            weight,
            bias,
            layout,
            mean,
            invstd,
            source: StatsSource::Fixed,
            eps,
        };
        return channel_op(call);
    }
    if s == 1 {
        return Err(NormError::TooFewValues {
            op: OP,
            unit: "spatial element",
            shape,
        });
    }
    if x.is_empty() {
        return Ok(x.mul_scalar(0.0));
    }
    let row_layout = RowLayout {
        rows: n * c,
        len: s,
        period: c,
        group: s,
    };
    let call = RowCall {
        name: OP,
        x,
        weight,
        bias,
        layout: row_layout,
        center: true,
        eps,
        param_bshape: channel_bshape(shape.len(), c),
    };
    let (y, stats) = row_op(call)?;
    if let Some(r) = running {
        let unbias = s as f64 / (s as f64 - 1.0);
        let avg = |v: &[f64], k: f64| -> Vec<f64> {
            (0..c)
                .map(|ch| (0..n).map(|i| v[i * c + ch] * k).sum::<f64>() / n as f64)
                .collect()
        };
        r.blend(
            config.momentum,
            &avg(&stats.mean, 1.0),
            &avg(&stats.var, unbias),
        )?;
    }
    Ok(y)
}
