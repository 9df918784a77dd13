//! The `SyncBatchNorm` module (`torch.nn.SyncBatchNorm`).

use std::sync::Arc;

use autograd::Var;
use nn::{BatchNormParts, ChannelNormState, Module, NnError, NormOptions, StateTensor};
use ops_norm::RunningStats;

use crate::communicator::{CommFloat, Communicator};
use crate::error::DistError;
use crate::sync_batch_norm::{reject_call, sync_batch_norm};

/// A [`DistError`] as the module error: the errors `BatchNorm` would give
/// keep their `nn` form; the distributed ones are kept as the source of an
/// [`autograd::AutogradError::Op`], so callers can downcast them.
fn wrap(e: DistError) -> NnError {
    match e {
        DistError::Norm(e) => NnError::Norm(e),
        DistError::Autograd(e) => NnError::Autograd(e),
        DistError::Tensor(e) => NnError::Tensor(e),
        e => NnError::Autograd(autograd::AutogradError::op(NAME, e)),
    }
}

const NAME: &str = "SyncBatchNorm";

/// Batch normalization whose training statistics are taken over the batch
/// of every rank (`torch.nn.SyncBatchNorm(num_features, eps=1e-5,
/// momentum=0.1, affine=True, track_running_stats=True)`), for inputs
/// `(N, C, *)` of any rank ≥ 2.
///
/// It has `BatchNorm`'s parameters, buffers, state-dict names and mode
/// matrix (see [`nn::BatchNorm`]); in training with more than one rank the
/// statistics are synchronized as [`sync_batch_norm`] describes. In eval
/// mode, or on a world of one rank, it is `BatchNorm` on the local input,
/// as in PyTorch. [`convert_sync_batchnorm`](crate::convert_sync_batchnorm)
/// turns the `BatchNorm*d` layers of a model into this layer.
///
/// The gradients of `weight` and `bias` are each rank's own; the
/// data-parallel wrapper reduces them over ranks like any parameter.
pub struct SyncBatchNorm<F: CommFloat> {
    state: ChannelNormState<F>,
    training: bool,
    comm: Arc<dyn Communicator>,
}

impl<F: CommFloat> SyncBatchNorm<F> {
    /// A layer with PyTorch's defaults, synchronized over `comm`.
    ///
    /// # Errors
    /// As [`SyncBatchNorm::with_options`].
    pub fn new(num_features: usize, comm: Arc<dyn Communicator>) -> nn::Result<Self> {
        Self::with_options(num_features, NormOptions::batch_norm(), comm)
    }

    /// A layer with the given options: weight ones, bias zeros, running
    /// mean zeros, running variance ones, counter 0.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `num_features == 0`, a negative or NaN
    /// `eps`, or a NaN momentum.
    pub fn with_options(
        num_features: usize,
        options: NormOptions,
        comm: Arc<dyn Communicator>,
    ) -> nn::Result<Self> {
        Ok(Self {
            state: ChannelNormState::new(NAME, num_features, options)?,
            training: true,
            comm,
        })
    }

    /// The layer that replaces a `BatchNorm*d` with the given state: the same
    /// parameter `Var`s, a copy of the buffers, the same options and
    /// training flag (`SyncBatchNorm.convert_sync_batchnorm` for one layer).
    pub fn from_batch_norm(parts: BatchNormParts<F>, comm: Arc<dyn Communicator>) -> Self {
        Self {
            training: parts.training,
            state: parts.into_state(),
            comm,
        }
    }

    /// Switches `track_running_stats` after construction, keeping the
    /// buffers (as [`nn::BatchNorm::set_track_running_stats`]).
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

    /// The communicator the statistics are synchronized over.
    pub fn communicator(&self) -> &Arc<dyn Communicator> {
        &self.comm
    }
}

impl<F: CommFloat> Module<F> for SyncBatchNorm<F> {
    fn type_name(&self) -> &'static str {
        NAME
    }

    fn forward(&mut self, x: &Var<F>) -> nn::Result<Var<F>> {
        let shape = x.shape();
        let bad = if shape.len() < 2 {
            Some(NnError::input(NAME, "of rank at least 2 (N, C, *)", &shape))
        } else if shape[1] != self.state.num_features {
            Some(NnError::input(
                NAME,
                format!("with {} channels on axis 1", self.state.num_features),
                &shape,
            ))
        } else {
            None
        };
        if let Some(e) = bad {
            // In training the other ranks are about to synchronize with this
            // one: tell them it gave up, so they fail instead of waiting.
            if self.training && self.comm.size() > 1 {
                reject_call(self.comm.as_ref(), &shape).map_err(wrap)?;
            }
            return Err(e);
        }
        // PyTorch synchronizes only in training mode; eval with batch
        // statistics (no running buffers) stays local.
        let args = self.state.batch_norm_args(self.training);
        let sync = self.training;
        if sync {
            sync_batch_norm(
                x,
                args.weight,
                args.bias,
                args.running,
                &args.config,
                &self.comm,
            )
            .map_err(wrap)
        } else {
            Ok(ops_norm::batch_norm(
                x,
                args.weight,
                args.bias,
                args.running,
                &args.config,
            )?)
        }
    }

    fn is_training(&self) -> bool {
        self.training
    }

    fn set_training_flag(&mut self, training: bool) {
        self.training = training;
    }

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        self.state.parameters()
    }

    fn own_buffers(&self) -> Vec<(&'static str, StateTensor<F>)> {
        self.state.buffers()
    }

    fn set_own_buffer(&mut self, name: &str, value: StateTensor<F>) -> nn::Result<()> {
        self.state.set_buffer(NAME, name, value)
    }
}
