//! The error type of `ops-norm`.

use core_tensor::TensorError;

/// Everything a normalization call can reject. Every variant names the op
/// and says what was wrong and what is allowed; the checks follow PyTorch's
/// (`F.batch_norm`, `F.instance_norm`, `F.layer_norm`, `F.group_norm`,
/// `F.rms_norm`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NormError {
    /// The input has too few dimensions.
    #[error("{op}: expected an input of rank at least {min} ({layout}), got shape {shape:?}")]
    WrongRank {
        /// The op.
        op: &'static str,
        /// The smallest rank allowed.
        min: usize,
        /// The layout expected, e.g. `"N, C, *"`.
        layout: &'static str,
        /// The shape given.
        shape: Vec<usize>,
    },
    /// A per-channel (or per-element) tensor has the wrong shape.
    #[error(
        "{op}: {what} should have shape {expected:?} to match the input of shape {input:?}, but got shape {got:?}"
    )]
    ParamShape {
        /// The op.
        op: &'static str,
        /// Which tensor: `weight`, `bias`, `running_mean`, `running_var`.
        what: &'static str,
        /// The shape required.
        expected: Vec<usize>,
        /// The shape given.
        got: Vec<usize>,
        /// The input's shape.
        input: Vec<usize>,
    },
    /// Statistics over a single value (PyTorch's `_verify_batch_size`).
    #[error(
        "{op}: expected more than 1 value per {unit} when training, got input of shape {shape:?}; \
         use a larger batch (or spatial size), or eval mode with running statistics"
    )]
    TooFewValues {
        /// The op.
        op: &'static str,
        /// `channel`, `group` or `spatial element`.
        unit: &'static str,
        /// The input's shape.
        shape: Vec<usize>,
    },
    /// `eps` outside its allowed range.
    #[error("{op}: eps must be {allowed}, but got {eps}")]
    InvalidEps {
        /// The op.
        op: &'static str,
        /// The value given.
        eps: f64,
        /// `"positive during training"` or `"non-negative in evaluation"`.
        allowed: &'static str,
    },
    /// `momentum` is NaN.
    #[error("{op}: momentum must be a number (or None for a cumulative average), got {momentum}")]
    InvalidMomentum {
        /// The op.
        op: &'static str,
        /// The value given.
        momentum: f64,
    },
    /// The mode needs running statistics and none were given.
    #[error("{op}: {reason}")]
    MissingRunningStats {
        /// The op.
        op: &'static str,
        /// Which mode needs them and how to fix the call.
        reason: &'static str,
    },
    /// `num_groups` is zero or does not divide the channel count.
    #[error(
        "{op}: expected the number of channels {channels} to be divisible by num_groups = {num_groups} \
         (num_groups must be at least 1), input shape {shape:?}"
    )]
    InvalidGroups {
        /// The op.
        op: &'static str,
        /// The groups requested.
        num_groups: usize,
        /// The channel count of the input.
        channels: usize,
        /// The input's shape.
        shape: Vec<usize>,
    },
    /// `normalized_shape` is empty or does not match the trailing axes.
    #[error(
        "{op}: given normalized_shape = {normalized_shape:?}, expected an input of shape [*, {}] \
         (normalized_shape must be non-empty and equal the trailing axes), but got shape {shape:?}",
        normalized_shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
    )]
    NormalizedShape {
        /// The op.
        op: &'static str,
        /// The normalized shape given.
        normalized_shape: Vec<usize>,
        /// The input's shape.
        shape: Vec<usize>,
    },
    /// `num_batches_tracked` would overflow or is negative.
    #[error(
        "{op}: num_batches_tracked = {count} cannot be incremented (it must be in 0..i64::MAX)"
    )]
    Counter {
        /// The op.
        op: &'static str,
        /// The counter's value.
        count: i64,
    },
    /// A scalar parameter is out of its range.
    #[error("{op}: {param} must be {allowed}, but got {value}")]
    InvalidParam {
        /// The op.
        op: &'static str,
        /// The parameter.
        param: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A tensor could not be built (an element count overflows, ...).
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

impl NormError {
    /// The name of the op that failed (`"tensor"` for tensor errors).
    pub fn op(&self) -> &'static str {
        match self {
            NormError::WrongRank { op, .. }
            | NormError::ParamShape { op, .. }
            | NormError::TooFewValues { op, .. }
            | NormError::InvalidEps { op, .. }
            | NormError::InvalidMomentum { op, .. }
            | NormError::MissingRunningStats { op, .. }
            | NormError::InvalidGroups { op, .. }
            | NormError::NormalizedShape { op, .. }
            | NormError::Counter { op, .. }
            | NormError::InvalidParam { op, .. } => op,
            NormError::Tensor(_) => "tensor",
        }
    }
}

/// Lets norm ops compose with `?` in code that returns
/// [`autograd::AutogradError`]: the error is wrapped with
/// [`autograd::AutogradError::op`], keeping it as the source.
impl From<NormError> for autograd::AutogradError {
    fn from(e: NormError) -> Self {
        autograd::AutogradError::op(e.op(), e)
    }
}
