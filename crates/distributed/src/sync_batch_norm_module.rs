//! The `SyncBatchNorm` module (`torch.nn.SyncBatchNorm`).

use std::sync::Arc;

use autograd::{Tensor, Var};
use nn::{BatchNormParts, Module, NnError, NormOptions, StateTensor};
use ops_norm::{BatchNormConfig, RunningStats};

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
    num_features: usize,
    options: NormOptions,
    weight: Option<Var<F>>,
    bias: Option<Var<F>>,
    running: Option<RunningStats<F>>,
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
        if num_features == 0 {
            return Err(NnError::config(
                NAME,
                "num_features",
                "num_features must be at least 1",
            ));
        }
        if options.eps.is_nan() || options.eps < 0.0 {
            return Err(NnError::config(
                NAME,
                "eps",
                format!("eps must be non-negative, got {}", options.eps),
            ));
        }
        if options.momentum.is_some_and(f64::is_nan) {
            return Err(NnError::config(
                NAME,
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
            training: true,
            comm,
        })
    }

    /// The layer that replaces a `BatchNorm*d` with the given state: the same
    /// parameter `Var`s, a copy of the buffers, the same options and
    /// training flag (`SyncBatchNorm.convert_sync_batchnorm` for one layer).
    pub fn from_batch_norm(parts: BatchNormParts<F>, comm: Arc<dyn Communicator>) -> Self {
        Self {
            num_features: parts.num_features,
            options: parts.options,
            weight: parts.weight,
            bias: parts.bias,
            running: parts.running,
            training: parts.training,
            comm,
        }
    }

    /// Switches `track_running_stats` after construction, keeping the
    /// buffers (as [`nn::BatchNorm::set_track_running_stats`]).
    pub fn set_track_running_stats(&mut self, track: bool) {
        self.options.track_running_stats = track;
    }

    /// The running statistics, when the layer has them.
    pub fn running_stats(&self) -> Option<&RunningStats<F>> {
        self.running.as_ref()
    }

    /// The options.
    pub fn options(&self) -> &NormOptions {
        &self.options
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
        } else if shape[1] != self.num_features {
            Some(NnError::input(
                NAME,
                format!("with {} channels on axis 1", self.num_features),
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
        let pass_buffers = !self.training || self.options.track_running_stats;
        let bn_training = self.training || self.running.is_none();
        let running = if pass_buffers {
            self.running.as_mut()
        } else {
            None
        };
        // PyTorch synchronizes only in training mode; eval with batch
        // statistics (no running buffers) stays local.
        let config = BatchNormConfig {
            training: bn_training,
            momentum: self.options.momentum,
            eps: self.options.eps,
        };
        let sync = self.training;
        if sync {
            sync_batch_norm(
                x,
                self.weight.as_ref(),
                self.bias.as_ref(),
                running,
                &config,
                &self.comm,
            )
            .map_err(wrap)
        } else {
            Ok(ops_norm::batch_norm(
                x,
                self.weight.as_ref(),
                self.bias.as_ref(),
                running,
                &config,
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
        let w = self.weight.clone().map(|w| ("weight", w));
        let b = self.bias.clone().map(|b| ("bias", b));
        w.into_iter().chain(b).collect()
    }

    fn own_buffers(&self) -> Vec<(&'static str, StateTensor<F>)> {
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

    fn set_own_buffer(&mut self, name: &str, value: StateTensor<F>) -> nn::Result<()> {
        let Some(r) = self.running.as_mut() else {
            return Err(NnError::config(
                NAME,
                "buffer",
                format!("`{name}`: the module does not track running statistics"),
            ));
        };
        let c = r.mean.len();
        let bad = |what: &str| NnError::config(NAME, "buffer", format!("`{name}` must be {what}"));
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
                    NAME,
                    "buffer",
                    format!("`{name}` is not a buffer of this module"),
                ));
            }
        }
        Ok(())
    }
}
