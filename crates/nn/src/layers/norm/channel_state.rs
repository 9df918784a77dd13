//! What batch norm, instance norm and other per-channel norm layers (such
//! as `distributed`'s `SyncBatchNorm`) share: the channel count, the
//! options, the optional affine parameters and the optional running
//! statistics, with their checks and their state-dict entries.

use autograd::Var;
use core_tensor::{Float, Tensor};
use ops_norm::{BatchNormConfig, RunningStats};

use super::NormOptions;
use crate::layers::module_parts::weight_and_bias;
use crate::state_dict::StateTensor;
use crate::{NnError, Result};

/// The per-channel state of a batch or instance norm layer: what
/// `torch.nn.modules.batchnorm._NormBase` holds (`num_features`, `eps`,
/// `momentum`, `affine`, `track_running_stats`, `weight`, `bias`,
/// `running_mean`, `running_var`, `num_batches_tracked`), with its
/// constructor's checks and its state-dict entries, for layers built on
/// the same state in other crates.
pub struct ChannelNormState<F: Float> {
    /// `C`, the size of axis 1 (axis 0 of an unbatched instance-norm input).
    pub num_features: usize,
    /// eps, momentum, affine and the current `track_running_stats`.
    pub options: NormOptions,
    /// Ones of shape `[C]` when `affine` (at construction).
    pub weight: Option<Var<F>>,
    /// Zeros of shape `[C]` when `affine` (at construction).
    pub bias: Option<Var<F>>,
    /// Present when `track_running_stats` was set at construction.
    pub running: Option<RunningStats<F>>,
}

impl<F: Float> ChannelNormState<F> {
    /// Weight ones, bias zeros, running mean zeros, running variance ones,
    /// counter 0, as PyTorch's constructors make them.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] naming `module` for `num_features == 0`,
    /// a negative or NaN `eps`, or a NaN momentum.
    pub fn new(module: &'static str, num_features: usize, options: NormOptions) -> Result<Self> {
        if num_features == 0 {
            return Err(NnError::config(
                module,
                "num_features",
                "num_features must be at least 1",
            ));
        }
        if options.eps.is_nan() || options.eps < 0.0 {
            return Err(NnError::config(
                module,
                "eps",
                format!("eps must be non-negative, got {}", options.eps),
            ));
        }
        if options.momentum.is_some_and(f64::is_nan) {
            return Err(NnError::config(
                module,
                "momentum",
                "momentum must be a number or None, got NaN",
            ));
        }
        let shape = [num_features];
        Ok(Self {
            num_features,
            options,
            weight: options.affine.then(|| Var::leaf(Tensor::ones(&shape))),
            bias: options.affine.then(|| Var::leaf(Tensor::zeros(&shape))),
            running: options
                .track_running_stats
                .then(|| RunningStats::new(num_features)),
        })
    }

    /// The arguments of a batch-norm call in the given mode, as
    /// `torch.nn.BatchNorm*d.forward` picks them: batch statistics in
    /// training or when no running statistics are kept; the running
    /// buffers passed in eval, and in training only while
    /// `track_running_stats` is on.
    pub fn batch_norm_args(&mut self, training: bool) -> BatchNormArgs<'_, F> {
        let config = BatchNormConfig {
            training: training || self.running.is_none(),
            momentum: self.options.momentum,
            eps: self.options.eps,
        };
        let pass_buffers = !training || self.options.track_running_stats;
        BatchNormArgs {
            weight: self.weight.as_ref(),
            bias: self.bias.as_ref(),
            running: self.running.as_mut().filter(|_| pass_buffers),
            config,
        }
    }

    /// `weight` and `bias`, when affine.
    pub fn parameters(&self) -> Vec<(&'static str, Var<F>)> {
        weight_and_bias(self.weight.as_ref(), self.bias.as_ref())
    }

    /// `running_mean`, `running_var` and `num_batches_tracked`, when tracked.
    pub fn buffers(&self) -> Vec<(&'static str, StateTensor<F>)> {
        let Some(r) = &self.running else {
            return Vec::new();
        };
        vec![
            ("running_mean", StateTensor::Float(r.mean.clone())),
            ("running_var", StateTensor::Float(r.var.clone())),
            (
                "num_batches_tracked",
                StateTensor::Int(Tensor::scalar(r.num_batches_tracked)),
            ),
        ]
    }

    /// Replaces one running-statistics buffer.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] naming `module` when the layer has no
    /// running statistics, `name` is not one of its buffers, or `value` is
    /// not a float tensor of shape `[C]` (an integer or float one-element
    /// tensor for `num_batches_tracked`).
    pub fn set_buffer(
        &mut self,
        module: &'static str,
        name: &str,
        value: StateTensor<F>,
    ) -> Result<()> {
        let Some(r) = self.running.as_mut() else {
            return Err(NnError::config(
                module,
                "buffer",
                format!("`{name}`: the module does not track running statistics"),
            ));
        };
        let c = r.mean.len();
        let bad =
            |what: &str| NnError::config(module, "buffer", format!("`{name}` must be {what}"));
        match (name, value) {
            ("running_mean", StateTensor::Float(t)) if t.shape() == [c] => r.mean = t,
            ("running_var", StateTensor::Float(t)) if t.shape() == [c] => r.var = t,
            ("running_mean" | "running_var", _) => {
                return Err(bad(&format!("a float tensor of shape [{c}]")));
            }
            ("num_batches_tracked", v) if v.shape().iter().product::<usize>() == 1 => {
                r.num_batches_tracked = v.to_int().as_slice()[0];
            }
            ("num_batches_tracked", _) => return Err(bad("a one-element integer tensor")),
            _ => {
                return Err(NnError::config(
                    module,
                    "buffer",
                    format!("`{name}` is not a buffer of this module"),
                ));
            }
        }
        Ok(())
    }
}

/// What [`ChannelNormState::batch_norm_args`] gives: the arguments of
/// `ops_norm::batch_norm` (or a synchronized batch norm) after the input.
pub struct BatchNormArgs<'a, F: Float> {
    /// The affine weight, when affine.
    pub weight: Option<&'a Var<F>>,
    /// The affine bias, when affine.
    pub bias: Option<&'a Var<F>>,
    /// The running statistics to use or update, when passed.
    pub running: Option<&'a mut RunningStats<F>>,
    /// Training flag, momentum and eps of the call.
    pub config: BatchNormConfig,
}
