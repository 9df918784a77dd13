//! `BatchNorm1d/2d/3d`: batch statistics in training, running statistics
//! in evaluation, over the ops-norm `batch_norm` op.

use autograd::Var;
use core_tensor::Float;
use ops_norm::RunningStats;

use super::NormOptions;
use super::channel_state::ChannelNormState;
use crate::layers::module_parts::{dim_name, training_flag};
use crate::module::Module;
use crate::state_dict::StateTensor;
use crate::{NnError, Result};

/// Batch normalization over `(N, C, *)` inputs (`torch.nn.BatchNorm{D}d(
/// num_features, eps=1e-5, momentum=0.1, affine=True,
/// track_running_stats=True)`): `BatchNorm1d` takes `(N, C)` or `(N, C, L)`,
/// `BatchNorm2d` `(N, C, H, W)`, `BatchNorm3d` `(N, C, D, H, W)`.
///
/// `y = (x − mean) / sqrt(var + eps) · weight + bias` per channel, with
/// PyTorch's mode matrix:
///
/// | training | buffers | statistics used | buffers updated |
/// |---|---|---|---|
/// | yes | tracked | batch (biased var) | yes: `num_batches_tracked += 1`, `running = (1−f)·running + f·batch` (unbiased var), `f = momentum` or `1/num_batches_tracked` |
/// | no | tracked | running | no |
/// | either | none (`track_running_stats = false` at construction) | batch | — |
/// | yes | present, tracking switched off later ([`BatchNorm::set_track_running_stats`]) | batch | no |
/// | no | present, tracking switched off later | running | no |
pub struct BatchNorm<F: Float, const D: usize> {
    state: ChannelNormState<F>,
    training: bool,
}

/// The state of a `BatchNorm1d/2d/3d` ([`Module::batch_norm_parts`]), for
/// conversions that rebuild the layer as another kind keeping its
/// parameters (the same [`Var`]s, so optimizers still see them), buffers and
/// options, as `torch.nn.SyncBatchNorm.convert_sync_batchnorm` does.
#[derive(Clone)]
pub struct BatchNormParts<F: Float> {
    /// The `D` of `BatchNorm{D}d` (1, 2 or 3).
    pub dims: usize,
    /// `C`.
    pub num_features: usize,
    /// eps, momentum, affine and the current `track_running_stats`.
    pub options: NormOptions,
    /// The weight parameter, when affine.
    pub weight: Option<Var<F>>,
    /// The bias parameter, when affine.
    pub bias: Option<Var<F>>,
    /// A copy of the running statistics, when the layer has them.
    pub running: Option<RunningStats<F>>,
    /// The training flag.
    pub training: bool,
}

impl<F: Float> BatchNormParts<F> {
    /// The layer's state without the dimension count and training flag:
    /// what a layer that replaces it keeps (the same parameter [`Var`]s).
    pub fn into_state(self) -> ChannelNormState<F> {
        ChannelNormState {
            num_features: self.num_features,
            options: self.options,
            weight: self.weight,
            bias: self.bias,
            running: self.running,
        }
    }
}

/// `torch.nn.BatchNorm1d`.
pub type BatchNorm1d<F> = BatchNorm<F, 1>;
/// `torch.nn.BatchNorm2d`.
pub type BatchNorm2d<F> = BatchNorm<F, 2>;
/// `torch.nn.BatchNorm3d`.
pub type BatchNorm3d<F> = BatchNorm<F, 3>;

impl<F: Float, const D: usize> BatchNorm<F, D> {
    const NAME: [&'static str; 3] = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"];

    fn name() -> &'static str {
        dim_name(Self::NAME, D)
    }

    /// A layer with PyTorch's defaults.
    ///
    /// # Errors
    /// As [`BatchNorm::with_options`].
    pub fn new(num_features: usize) -> Result<Self> {
        Self::with_options(num_features, NormOptions::batch_norm())
    }

    /// A layer with the given options: weight ones, bias zeros, running
    /// mean zeros, running variance ones, counter 0.
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

    /// Switches the `track_running_stats` attribute after construction,
    /// keeping the buffers (PyTorch's `bn.track_running_stats = False`):
    /// training then uses batch statistics without updating the buffers,
    /// and evaluation still uses the buffers.
    pub fn set_track_running_stats(&mut self, track: bool) {
        self.state.options.track_running_stats = track;
    }

    /// The running statistics, when the layer has them.
    pub fn running_stats(&self) -> Option<&RunningStats<F>> {
        self.state.running.as_ref()
    }

    /// The options.
    pub fn options(&self) -> &NormOptions {
        &self.state.options
    }
}

impl<F: Float, const D: usize> Module<F> for BatchNorm<F, D> {
    fn type_name(&self) -> &'static str {
        Self::name()
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let name = Self::name();
        let shape = x.shape();
        let ok = if D == 1 {
            shape.len() == 2 || shape.len() == 3
        } else {
            shape.len() == D + 2
        };
        if !ok {
            let expected = if D == 1 {
                "of rank 2 (N, C) or 3 (N, C, L)".to_string()
            } else {
                format!("of rank {} (N, C, *spatial)", D + 2)
            };
            return Err(NnError::input(name, expected, &shape));
        }
        let state = &mut self.state;
        if shape[1] != state.num_features {
            return Err(NnError::input(
                name,
                format!("with {} channels on axis 1", state.num_features),
                &shape,
            ));
        }
        let args = state.batch_norm_args(self.training);
        Ok(ops_norm::batch_norm(
            x,
            args.weight,
            args.bias,
            args.running,
            &args.config,
        )?)
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

    fn batch_norm_parts(&self) -> Option<BatchNormParts<F>> {
        Some(BatchNormParts {
            dims: D,
            num_features: self.state.num_features,
            options: self.state.options,
            weight: self.state.weight.clone(),
            bias: self.state.bias.clone(),
            running: self.state.running.clone(),
            training: self.training,
        })
    }
}
