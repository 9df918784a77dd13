//! The error type of `ops-pool`.

use autograd::AutogradError;
use core_tensor::TensorError;

/// Everything a pooling call can reject. Every variant names the op and,
/// where it applies, the spatial axis (0-based) and what is allowed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The input has a rank the op does not accept.
    #[error(
        "{op}: expected an input of rank {unbatched} (C, *spatial) or {batched} (N, C, *spatial), got shape {shape:?}"
    )]
    WrongRank {
        /// The op.
        op: &'static str,
        /// Rank of the unbatched form.
        unbatched: usize,
        /// Rank of the batched form.
        batched: usize,
        /// The shape given.
        shape: Vec<usize>,
    },
    /// The number of spatial axes (given by `kernel_size` or `output_size`) is not 1, 2 or 3.
    #[error("{op}: {param} has {got} entries; pooling works on 1, 2 or 3 spatial axes")]
    SpatialDims {
        /// The op.
        op: &'static str,
        /// The parameter that sets the number of spatial axes.
        param: &'static str,
        /// Its length.
        got: usize,
    },
    /// A per-axis parameter list has the wrong length.
    #[error("{op}: {param} has {got} entries, expected 1 or {expected} (one per spatial axis)")]
    ParamLength {
        /// The op.
        op: &'static str,
        /// The parameter.
        param: &'static str,
        /// The number of spatial axes.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A parameter is outside its allowed range.
    #[error("{op}: {param} on spatial axis {axis} is {value}, but {allowed}")]
    InvalidParam {
        /// The op.
        op: &'static str,
        /// The parameter.
        param: &'static str,
        /// The spatial axis.
        axis: usize,
        /// The value given, printed.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// A scalar parameter (not per axis) is outside its allowed range.
    #[error("{op}: {param} is {value}, but {allowed}")]
    InvalidScalar {
        /// The op.
        op: &'static str,
        /// The parameter.
        param: &'static str,
        /// The value given, printed.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// Padding on one side reaches the effective kernel size.
    #[error(
        "{op}: padding [{pad_before}, {pad_after}] on spatial axis {axis} is too large: each side must be at most \
         {max} (effective kernel dilation*(kernel_size-1)+1 = {effective_kernel}, minus 1)"
    )]
    PaddingTooLarge {
        /// The op.
        op: &'static str,
        /// The spatial axis.
        axis: usize,
        /// Padding before.
        pad_before: usize,
        /// Padding after.
        pad_after: usize,
        /// The effective kernel.
        effective_kernel: usize,
        /// The largest padding allowed on each side.
        max: usize,
    },
    /// An input axis that must be non-empty has size 0.
    #[error(
        "{op}: input shape {shape:?} has an empty channel or spatial axis; only the batch axis may be 0"
    )]
    EmptyInput {
        /// The op.
        op: &'static str,
        /// The shape given.
        shape: Vec<usize>,
    },
    /// Some max-pooling window holds only padding (possible with dilation).
    #[error(
        "{op}: window {window} on spatial axis {axis} covers only padding (input size {input}); \
         reduce the padding or the dilation"
    )]
    EmptyWindow {
        /// The op.
        op: &'static str,
        /// The spatial axis.
        axis: usize,
        /// The output position of the window.
        window: usize,
        /// The input length on that axis.
        input: usize,
    },
    /// The window volume does not fit the argmax storage (`u32`).
    #[error("{op}: the window volume {volume} exceeds the supported maximum {max}")]
    WindowTooLarge {
        /// The op.
        op: &'static str,
        /// The product of the kernel sizes.
        volume: u128,
        /// The maximum.
        max: u64,
    },
    /// An index given to max unpooling is outside the output plane.
    #[error(
        "{op}: index {index} at position {position} is out of range; indices must lie in 0..{plane} (output plane {output:?})"
    )]
    IndexOutOfRange {
        /// The op.
        op: &'static str,
        /// The bad index.
        index: i64,
        /// Flat position of the index in the indices tensor.
        position: usize,
        /// The number of elements of one output plane.
        plane: usize,
        /// The spatial output size.
        output: Vec<usize>,
    },
    /// Two tensors that must have the same shape do not.
    #[error("{op}: {what} has shape {got:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The op.
        op: &'static str,
        /// Which tensor.
        what: &'static str,
        /// The required shape.
        expected: Vec<usize>,
        /// The shape given.
        got: Vec<usize>,
    },
    /// An error of the window geometry (output size too small, size overflow),
    /// reported by `core-tensor` for `op`.
    #[error("{source}")]
    Window {
        /// The op.
        op: &'static str,
        /// The geometry error (its message names the op too).
        source: TensorError,
    },
    /// An error building a tensor.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An error of the autograd layer while recording the op.
    #[error(transparent)]
    Autograd(Box<AutogradError>),
}

impl From<AutogradError> for PoolError {
    fn from(e: AutogradError) -> Self {
        PoolError::Autograd(Box::new(e))
    }
}

impl From<PoolError> for AutogradError {
    /// Wraps a pooling error with [`AutogradError::op`] (an autograd error
    /// carried by the pooling error is unwrapped instead), so pooling
    /// composes with `?` in code returning `autograd::Result`.
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Autograd(inner) => *inner,
            other => {
                let op = other.op_name();
                AutogradError::op(op, other)
            }
        }
    }
}

impl PoolError {
    /// Wraps a `core-tensor` window-geometry error of `op`.
    pub fn window(op: &'static str, source: TensorError) -> Self {
        PoolError::Window { op, source }
    }

    /// The name of the op that failed (`"pool"` for wrapped lower-level errors).
    pub fn op_name(&self) -> &'static str {
        match self {
            PoolError::WrongRank { op, .. }
            | PoolError::SpatialDims { op, .. }
            | PoolError::ParamLength { op, .. }
            | PoolError::InvalidParam { op, .. }
            | PoolError::InvalidScalar { op, .. }
            | PoolError::PaddingTooLarge { op, .. }
            | PoolError::EmptyInput { op, .. }
            | PoolError::EmptyWindow { op, .. }
            | PoolError::WindowTooLarge { op, .. }
            | PoolError::IndexOutOfRange { op, .. }
            | PoolError::ShapeMismatch { op, .. }
            | PoolError::Window { op, .. } => op,
            PoolError::Tensor(_) | PoolError::Autograd(_) => "pool",
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = PoolError> = std::result::Result<T, E>;
