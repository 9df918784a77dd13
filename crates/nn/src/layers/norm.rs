//! Normalization modules over the ops of `ops-norm`: `BatchNorm1d/2d/3d`,
//! `InstanceNorm1d/2d/3d`, `LayerNorm`, `GroupNorm`, `RMSNorm`, with
//! PyTorch's defaults, buffers and training-flag semantics.

use autograd::Var;
use core_tensor::{Float, Tensor};
use ops_norm::{BatchNormConfig, InstanceNormConfig, RunningStats};

use crate::module::Module;
use crate::state_dict::StateTensor;
use crate::{NnError, Result};

macro_rules! training_flag {
    () => {
        fn is_training(&self) -> bool {
            self.training
        }

        fn set_training_flag(&mut self, training: bool) {
            self.training = training;
        }
    };
}

/// Settings shared by batch and instance norm (`eps`, `momentum`, `affine`,
/// `track_running_stats`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormOptions {
    /// Added to the variance before the square root (default 1e-5).
    pub eps: f64,
    /// Weight of each batch in the running statistics (default `Some(0.1)`);
    /// `None` makes them a cumulative average over `num_batches_tracked`
    /// (batch norm) or disables the update (instance norm, as in PyTorch).
    pub momentum: Option<f64>,
    /// Learnable per-channel `weight` (ones) and `bias` (zeros).
    pub affine: bool,
    /// Keep `running_mean`, `running_var` and `num_batches_tracked` buffers.
    pub track_running_stats: bool,
}

impl NormOptions {
    /// `BatchNorm*d`'s defaults: eps 1e-5, momentum 0.1, affine, tracked.
    pub fn batch_norm() -> Self {
        Self {
            eps: 1e-5,
            momentum: Some(0.1),
            affine: true,
            track_running_stats: true,
        }
    }

    /// `InstanceNorm*d`'s defaults: eps 1e-5, momentum 0.1, no affine, not tracked.
    pub fn instance_norm() -> Self {
        Self {
            affine: false,
            track_running_stats: false,
            ..Self::batch_norm()
        }
    }

    /// Sets `eps`.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Sets `momentum` (`None` for the cumulative average).
    pub fn momentum(mut self, m: Option<f64>) -> Self {
        self.momentum = m;
        self
    }

    /// Sets `affine`.
    pub fn affine(mut self, a: bool) -> Self {
        self.affine = a;
        self
    }

    /// Sets `track_running_stats`.
    pub fn track_running_stats(mut self, t: bool) -> Self {
        self.track_running_stats = t;
        self
    }
}

fn affine_params<F: Float>(affine: bool, shape: &[usize]) -> (Option<Var<F>>, Option<Var<F>>) {
    if affine {
        (
            Some(Var::leaf(Tensor::ones(shape))),
            Some(Var::leaf(Tensor::zeros(shape))),
        )
    } else {
        (None, None)
    }
}

fn stats_buffers<F: Float>(r: &Option<RunningStats<F>>) -> Vec<(&'static str, StateTensor<F>)> {
    match r {
        None => Vec::new(),
        Some(r) => vec![
            ("running_mean", StateTensor::Float(r.mean.clone())),
            ("running_var", StateTensor::Float(r.var.clone())),
            (
                "num_batches_tracked",
                StateTensor::Int(Tensor::scalar(r.num_batches_tracked)),
            ),
        ],
    }
}

fn set_stats_buffer<F: Float>(
    module: &'static str,
    r: &mut Option<RunningStats<F>>,
    name: &str,
    value: StateTensor<F>,
) -> Result<()> {
    let Some(r) = r.as_mut() else {
        return Err(NnError::config(
            module,
            "buffer",
            format!("`{name}`: the module does not track running statistics"),
        ));
    };
    let c = r.mean.len();
    let bad = |what: &str| NnError::config(module, "buffer", format!("`{name}` must be {what}"));
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
    num_features: usize,
    options: NormOptions,
    weight: Option<Var<F>>,
    bias: Option<Var<F>>,
    running: Option<RunningStats<F>>,
    training: bool,
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
        Self::NAME
            .get(D.wrapping_sub(1))
            .copied()
            .unwrap_or("BatchNorm")
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
        let name = Self::name();
        if num_features == 0 {
            return Err(NnError::config(
                name,
                "num_features",
                "num_features must be at least 1",
            ));
        }
        if options.eps.is_nan() || options.eps < 0.0 {
            return Err(NnError::config(
                name,
                "eps",
                format!("eps must be non-negative, got {}", options.eps),
            ));
        }
        if options.momentum.is_some_and(f64::is_nan) {
            return Err(NnError::config(
                name,
                "momentum",
                "momentum must be a number or None, got NaN",
            ));
        }
        let (weight, bias) = affine_params(options.affine, &[num_features]);
        Ok(Self {
            num_features,
            options,
            weight,
            bias,
            running: options
                .track_running_stats
                .then(|| RunningStats::new(num_features)),
            training: true,
        })
    }

    /// Switches the `track_running_stats` attribute after construction,
    /// keeping the buffers (PyTorch's `bn.track_running_stats = False`):
    /// training then uses batch statistics without updating the buffers,
    /// and evaluation still uses the buffers.
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
        if shape[1] != self.num_features {
            return Err(NnError::input(
                name,
                format!("with {} channels on axis 1", self.num_features),
                &shape,
            ));
        }
        let pass_buffers = !self.training || self.options.track_running_stats;
        let bn_training = self.training || self.running.is_none();
        let running = if pass_buffers {
            self.running.as_mut()
        } else {
            None
        };
        let config = BatchNormConfig {
            training: bn_training,
            momentum: self.options.momentum,
            eps: self.options.eps,
        };
        Ok(ops_norm::batch_norm(
            x,
            self.weight.as_ref(),
            self.bias.as_ref(),
            running,
            &config,
        )?)
    }

    training_flag!();

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        let mut v = Vec::new();
        if let Some(w) = &self.weight {
            v.push(("weight", w.clone()));
        }
        if let Some(b) = &self.bias {
            v.push(("bias", b.clone()));
        }
        v
    }

    fn own_buffers(&self) -> Vec<(&'static str, StateTensor<F>)> {
        stats_buffers(&self.running)
    }

    fn set_own_buffer(&mut self, name: &str, value: StateTensor<F>) -> Result<()> {
        set_stats_buffer(Self::name(), &mut self.running, name, value)
    }
}

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
    num_features: usize,
    options: NormOptions,
    weight: Option<Var<F>>,
    bias: Option<Var<F>>,
    running: Option<RunningStats<F>>,
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
        Self::NAME
            .get(D.wrapping_sub(1))
            .copied()
            .unwrap_or("InstanceNorm")
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
    /// [`NnError::InvalidConfig`] for `num_features == 0` or a NaN momentum.
    pub fn with_options(num_features: usize, options: NormOptions) -> Result<Self> {
        let name = Self::name();
        if num_features == 0 {
            return Err(NnError::config(
                name,
                "num_features",
                "num_features must be at least 1",
            ));
        }
        if options.momentum.is_some_and(f64::is_nan) {
            return Err(NnError::config(
                name,
                "momentum",
                "momentum must be a number or None, got NaN",
            ));
        }
        let (weight, bias) = affine_params(options.affine, &[num_features]);
        Ok(Self {
            num_features,
            options,
            weight,
            bias,
            running: options
                .track_running_stats
                .then(|| RunningStats::new(num_features)),
            training: true,
        })
    }

    /// The running statistics, when the layer has them.
    pub fn running_stats(&self) -> Option<&RunningStats<F>> {
        self.running.as_ref()
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
        let needs_match = self.options.affine || self.running.is_some();
        if needs_match && shape[c_axis] != self.num_features {
            return Err(NnError::input(
                name,
                format!(
                    "with {} channels on axis {c_axis} (num_features)",
                    self.num_features
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
            use_input_stats: self.training || !self.options.track_running_stats,
            momentum: self.options.momentum.unwrap_or(0.0),
            eps: self.options.eps,
        };
        let y = ops_norm::instance_norm(
            &xb,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.running.as_mut(),
            &config,
        )?;
        Ok(if unbatched { y.reshape(&shape)? } else { y })
    }

    training_flag!();

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        let mut v = Vec::new();
        if let Some(w) = &self.weight {
            v.push(("weight", w.clone()));
        }
        if let Some(b) = &self.bias {
            v.push(("bias", b.clone()));
        }
        v
    }

    fn own_buffers(&self) -> Vec<(&'static str, StateTensor<F>)> {
        stats_buffers(&self.running)
    }

    fn set_own_buffer(&mut self, name: &str, value: StateTensor<F>) -> Result<()> {
        set_stats_buffer(Self::name(), &mut self.running, name, value)
    }
}

/// Layer normalization over the trailing `normalized_shape` axes
/// (`torch.nn.LayerNorm(normalized_shape, eps=1e-5,
/// elementwise_affine=True, bias=True)`); the same in training and eval.
/// `weight` (ones) and `bias` (zeros) have shape `normalized_shape`.
pub struct LayerNorm<F: Float> {
    normalized_shape: Vec<usize>,
    eps: f64,
    weight: Option<Var<F>>,
    bias: Option<Var<F>>,
    training: bool,
}

impl<F: Float> LayerNorm<F> {
    /// A layer with PyTorch's defaults (affine with bias, eps 1e-5).
    ///
    /// # Errors
    /// As [`LayerNorm::with_options`].
    pub fn new(normalized_shape: &[usize]) -> Result<Self> {
        Self::with_options(normalized_shape, 1e-5, true, true)
    }

    /// A layer with explicit `eps`, `elementwise_affine` and `bias`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for an empty `normalized_shape`.
    pub fn with_options(
        normalized_shape: &[usize],
        eps: f64,
        elementwise_affine: bool,
        bias: bool,
    ) -> Result<Self> {
        if normalized_shape.is_empty() {
            return Err(NnError::config(
                "LayerNorm",
                "normalized_shape",
                "expected normalized_shape to be at least 1-dimensional",
            ));
        }
        Ok(Self {
            normalized_shape: normalized_shape.to_vec(),
            eps,
            weight: elementwise_affine.then(|| Var::leaf(Tensor::ones(normalized_shape))),
            bias: (elementwise_affine && bias).then(|| Var::leaf(Tensor::zeros(normalized_shape))),
            training: true,
        })
    }
}

impl<F: Float> Module<F> for LayerNorm<F> {
    fn type_name(&self) -> &'static str {
        "LayerNorm"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(ops_norm::layer_norm(
            x,
            &self.normalized_shape,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )?)
    }

    training_flag!();

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        let mut v = Vec::new();
        if let Some(w) = &self.weight {
            v.push(("weight", w.clone()));
        }
        if let Some(b) = &self.bias {
            v.push(("bias", b.clone()));
        }
        v
    }
}

/// Group normalization (`torch.nn.GroupNorm(num_groups, num_channels,
/// eps=1e-5, affine=True)`): statistics per sample and group of
/// `num_channels / num_groups` channels, then a per-channel affine.
pub struct GroupNorm<F: Float> {
    num_groups: usize,
    num_channels: usize,
    eps: f64,
    weight: Option<Var<F>>,
    bias: Option<Var<F>>,
    training: bool,
}

impl<F: Float> GroupNorm<F> {
    /// A layer with PyTorch's defaults.
    ///
    /// # Errors
    /// As [`GroupNorm::with_options`].
    pub fn new(num_groups: usize, num_channels: usize) -> Result<Self> {
        Self::with_options(num_groups, num_channels, 1e-5, true)
    }

    /// A layer with explicit `eps` and `affine`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] when `num_groups` is 0 or does not divide
    /// `num_channels`.
    pub fn with_options(
        num_groups: usize,
        num_channels: usize,
        eps: f64,
        affine: bool,
    ) -> Result<Self> {
        if num_groups == 0 || !num_channels.is_multiple_of(num_groups) {
            return Err(NnError::config(
                "GroupNorm",
                "num_groups",
                format!(
                    "num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
                ),
            ));
        }
        let (weight, bias) = affine_params(affine, &[num_channels]);
        Ok(Self {
            num_groups,
            num_channels,
            eps,
            weight,
            bias,
            training: true,
        })
    }
}

impl<F: Float> Module<F> for GroupNorm<F> {
    fn type_name(&self) -> &'static str {
        "GroupNorm"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let shape = x.shape();
        if shape.len() < 2 || shape[1] != self.num_channels {
            return Err(NnError::input(
                "GroupNorm",
                format!("(N, {}, *) with at least 2 axes", self.num_channels),
                &shape,
            ));
        }
        Ok(ops_norm::group_norm(
            x,
            self.num_groups,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )?)
    }

    training_flag!();

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        let mut v = Vec::new();
        if let Some(w) = &self.weight {
            v.push(("weight", w.clone()));
        }
        if let Some(b) = &self.bias {
            v.push(("bias", b.clone()));
        }
        v
    }
}

/// RMS normalization (`torch.nn.RMSNorm(normalized_shape, eps=None,
/// elementwise_affine=True)`): `y = x / sqrt(mean(x²) + eps) · weight` over
/// the trailing axes, no bias; `eps = None` is the dtype's machine epsilon.
pub struct RMSNorm<F: Float> {
    normalized_shape: Vec<usize>,
    eps: Option<f64>,
    weight: Option<Var<F>>,
    training: bool,
}

impl<F: Float> RMSNorm<F> {
    /// A layer with PyTorch's defaults (`eps = None`, weight ones).
    ///
    /// # Errors
    /// As [`RMSNorm::with_options`].
    pub fn new(normalized_shape: &[usize]) -> Result<Self> {
        Self::with_options(normalized_shape, None, true)
    }

    /// A layer with explicit `eps` and `elementwise_affine`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for an empty `normalized_shape`.
    pub fn with_options(
        normalized_shape: &[usize],
        eps: Option<f64>,
        elementwise_affine: bool,
    ) -> Result<Self> {
        if normalized_shape.is_empty() {
            return Err(NnError::config(
                "RMSNorm",
                "normalized_shape",
                "expected normalized_shape to be at least 1-dimensional",
            ));
        }
        Ok(Self {
            normalized_shape: normalized_shape.to_vec(),
            eps,
            weight: elementwise_affine.then(|| Var::leaf(Tensor::ones(normalized_shape))),
            training: true,
        })
    }
}

impl<F: Float> Module<F> for RMSNorm<F> {
    fn type_name(&self) -> &'static str {
        "RMSNorm"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(ops_norm::rms_norm(
            x,
            &self.normalized_shape,
            self.weight.as_ref(),
            self.eps,
        )?)
    }

    training_flag!();

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        self.weight.iter().map(|w| ("weight", w.clone())).collect()
    }
}
