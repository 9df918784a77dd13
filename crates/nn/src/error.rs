//! The error type of `nn`.

use std::path::PathBuf;

use autograd::AutogradError;
use core_tensor::TensorError;

/// One key of a state dict whose tensor does not fit the module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeConflict {
    /// The dotted name (`features.0.weight`).
    pub key: String,
    /// The shape the module holds.
    pub expected: Vec<usize>,
    /// The shape found in the state dict.
    pub got: Vec<usize>,
}

/// Everything that can go wrong when building, running, saving or loading
/// modules, computing losses or stepping optimizers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// An error of the autograd graph or one of its ops.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
    /// An error of `core-tensor` (shapes, lengths, window geometry).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An error of a pooling op (`ops-pool`).
    #[error(transparent)]
    Pool(#[from] ops_pool::PoolError),
    /// An error of a normalization op (`ops-norm`).
    #[error(transparent)]
    Norm(#[from] ops_norm::NormError),
    /// A convolution rejected its arguments.
    #[error(transparent)]
    Conv(#[from] ops_conv::ConvError),
    /// The input of a layer has the wrong rank or size.
    #[error("{module}: expected input {expected}, got shape {got:?}")]
    BadInput {
        /// The layer (`Conv2d`, `BatchNorm1d`, ...).
        module: &'static str,
        /// What is accepted, in words.
        expected: String,
        /// The shape given.
        got: Vec<usize>,
    },
    /// A constructor or function argument is outside its allowed range.
    #[error("{module}: invalid {param}: {reason}")]
    InvalidConfig {
        /// The layer, loss or optimizer.
        module: &'static str,
        /// The parameter.
        param: &'static str,
        /// What was wrong and what is allowed.
        reason: String,
    },
    /// A state dict does not fit the module it is loaded into.
    #[error(
        "load_state_dict: the state dict does not fit the module: missing keys {missing:?}, \
         unexpected keys {unexpected:?}, mis-shaped keys {}",
        format_conflicts(mismatched)
    )]
    StateDictMismatch {
        /// Keys the module has and the state dict lacks.
        missing: Vec<String>,
        /// Keys the state dict has and the module lacks.
        unexpected: Vec<String>,
        /// Keys present in both with different shapes (or an integer
        /// tensor where a float one is required).
        mismatched: Vec<ShapeConflict>,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `.safetensors` file is malformed or holds an unsupported dtype.
    #[error("safetensors: {reason}")]
    Safetensors {
        /// What was wrong.
        reason: String,
    },
    /// A finite value of a tensor does not fit the float dtype it is saved
    /// or loaded in (it would become infinite, as a PyTorch cast makes it).
    #[error(
        "tensor `{tensor}`: the finite value {value:e} is outside the range of {dtype} \
         (largest finite magnitude {max:e}); rescale the tensor or use a wider dtype"
    )]
    OutOfRange {
        /// The state-dict key.
        tensor: String,
        /// The target dtype (`F16`, `BF16`, `F32`).
        dtype: &'static str,
        /// The first value that does not fit.
        value: f64,
        /// The largest finite magnitude of the dtype.
        max: f64,
    },
    /// `clip_grad_norm_` with `error_if_nonfinite` found a NaN or infinite
    /// total norm.
    #[error(
        "clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite \
         ({total}), so they cannot be clipped; pass error_if_nonfinite=false to scale them anyway"
    )]
    NonFiniteNorm {
        /// The `norm_type` asked for.
        norm_type: f64,
        /// The total norm found.
        total: f64,
    },
    /// An optimizer, scheduler or checkpoint state does not fit what it is
    /// loaded into (another optimizer, parameter count or shape).
    #[error("{module}: cannot load this state: {reason}")]
    StateMismatch {
        /// The optimizer, scheduler or `Checkpoint`.
        module: &'static str,
        /// What differs, and what was expected.
        reason: String,
    },
}

fn format_conflicts(c: &[ShapeConflict]) -> String {
    let parts: Vec<String> = c
        .iter()
        .map(|s| {
            format!(
                "{} (module {:?}, state dict {:?})",
                s.key, s.expected, s.got
            )
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

impl NnError {
    /// Shorthand for [`NnError::InvalidConfig`].
    pub fn config(module: &'static str, param: &'static str, reason: impl Into<String>) -> Self {
        NnError::InvalidConfig {
            module,
            param,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`NnError::BadInput`].
    pub fn input(module: &'static str, expected: impl Into<String>, got: &[usize]) -> Self {
        NnError::BadInput {
            module,
            expected: expected.into(),
            got: got.to_vec(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = NnError> = std::result::Result<T, E>;
