//! `InstanceNorm1d/2d/3d`: per-sample, per-channel statistics, over the
//! ops-norm `instance_norm` op.

use autograd::Var;
use core_tensor::Float;
use ops_norm::{InstanceNormConfig, RunningStats};

use super::NormOptions;
use super::channel_state::ChannelNormState;
use crate::layers::module_parts::{dim_name, training_flag};
use crate::module::Module;
use crate::state_dict::StateTensor;
use crate::{NnError, Result};

/// Instance normalization (`torch.nn.InstanceNorm{D}d(num_features,
/// eps=1e-5, momentum=0.1, affine=False, track_running_stats=False)`):
/// every `(sample, channel)` plane normalized with its own statistics.
/// Inputs `(N, C, *spatial)` or unbatched `(C, *spatial)` with `D` spatial
/// axes.
///
/// Like PyTorch, the input statistics are used when `training ||
/// !track_running_stats`, the running statistics otherwise; in training
/// with buffers, they are updated with the batch average of the instance
/// means and unbiased variances (`momentum = None` means no update) and
/// `num_batches_tracked` is never incremented.
pub struct InstanceNorm<F: Float, const D: usize> {
    state: ChannelNormState<F>,
    training: bool,
}

/// `torch.nn.InstanceNorm1d`.
pub type InstanceNorm1d<F> = InstanceNorm<F, 1>;
/// `torch.nn.InstanceNorm2d`.
pub type InstanceNorm2d<F> = InstanceNorm<F, 2>;
/// `torch.nn.InstanceNorm3d`.
pub type InstanceNorm3d<F> = InstanceNorm<F, 3>;

impl<F: Float, const D: usize> InstanceNorm<F, D> {
    const NAME: [&'static str; 3] = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"];

    fn name() -> &'static str {
        dim_name(Self::NAME, D)
    }

    /// A layer with PyTorch's defaults (no affine, no running statistics).
    ///
    /// # Errors
    /// As [`InstanceNorm::with_options`].
    pub fn new(num_features: usize) -> Result<Self> {
        Self::with_options(num_features, NormOptions::instance_norm())
    }

    /// A layer with the given options.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `num_features == 0`, a negative or
    /// NaN `eps`, or a NaN momentum.
    pub fn with_options(num_features: usize, options: NormOptions) -> Result<Self> {
        Ok(Self {
            state: ChannelNormState::new(Self::name(), num_features, options)?,
            training: true,
        })
    }

    /// The running statistics, when the layer has them.
    pub fn running_stats(&self) -> Option<&RunningStats<F>> {
        self.state.running.as_ref()
    }
}

impl<F: Float, const D: usize> Module<F> for InstanceNorm<F, D> {
    fn type_name(&self) -> &'static str {
        Self::name()
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let name = Self::name();
        let shape = x.shape();
        let unbatched = shape.len() == D + 1;
        if !unbatched && shape.len() != D + 2 {
            return Err(NnError::input(
                name,
                format!("of rank {} (unbatched) or {} (batched)", D + 1, D + 2),
                &shape,
            ));
        }
        let c_axis = usize::from(!unbatched);
        let state = &mut self.state;
        let needs_match = state.options.affine || state.running.is_some();
        if needs_match && shape[c_axis] != state.num_features {
            return Err(NnError::input(
                name,
                format!(
                    "with {} channels on axis {c_axis} (num_features)",
                    state.num_features
                ),
                &shape,
            ));
        }
        let xb = if unbatched {
            x.unsqueeze(0)?
        } else {
            x.clone()
        };
        let config = InstanceNormConfig {
            use_input_stats: self.training || !state.options.track_running_stats,
            momentum: state.options.momentum.unwrap_or(0.0),
            eps: state.options.eps,
        };
        let y = ops_norm::instance_norm(
            &xb,
            state.weight.as_ref(),
            state.bias.as_ref(),
            state.running.as_mut(),
            &config,
        )?;
        Ok(if unbatched { y.reshape(&shape)? } else { y })
    }

    training_flag!();

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        self.state.parameters()
    }

    fn own_buffers(&self) -> Vec<(&'static str, StateTensor<F>)> {
        self.state.buffers()
    }

    fn set_own_buffer(&mut self, name: &str, value: StateTensor<F>) -> Result<()> {
        self.state.set_buffer(Self::name(), name, value)
    }
}
