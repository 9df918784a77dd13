//! The error type of `ops-conv`.

use core_tensor::TensorError;

/// Everything a convolution call can reject. Every variant names the op
/// (`conv1d`, `conv2d`, `conv3d`) and says what was wrong and what is
/// allowed; the checks are PyTorch's (`F.conv1d/2d/3d`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvError {
    /// Fewer or more than one spatial axis per stride, padding or dilation
    /// entry, or a weight of the wrong rank.
    #[error(
        "{op}: stride, padding and dilation need one entry per spatial axis ({axes}) and the weight rank {} (got {} padding and {} dilation entries, weight of shape {weight:?})",
        axes + 2,
        lengths[0],
        lengths[1]
    )]
    ParamLength {
        /// The op.
        op: &'static str,
        /// The number of spatial axes: the stride's length.
        axes: usize,
        /// The lengths of the padding and the dilation.
        lengths: [usize; 2],
        /// The weight's shape.
        weight: Vec<usize>,
    },
    /// `groups` is zero or does not divide the output channels.
    #[error(
        "{op}: groups ({groups}) must be positive and divide the {out_channels} output channels"
    )]
    Groups {
        /// The op.
        op: &'static str,
        /// The groups given.
        groups: usize,
        /// The weight's first axis.
        out_channels: usize,
    },
    /// The input is not `(N, C, *spatial)` with one spatial axis per kernel
    /// axis.
    #[error("{op}: expected a batched input of rank {expected}, got shape {got:?}")]
    InputRank {
        /// The op.
        op: &'static str,
        /// `spatial axes + 2`.
        expected: usize,
        /// The input's shape.
        got: Vec<usize>,
    },
    /// The input's channels are not `weight.shape[1] * groups`.
    #[error(
        "{op}: expected input with {expected} channels (weight {weight:?} with groups {groups}), got shape {got:?}"
    )]
    Channels {
        /// The op.
        op: &'static str,
        /// `weight.shape[1] * groups`.
        expected: usize,
        /// The weight's shape.
        weight: Vec<usize>,
        /// The groups.
        groups: usize,
        /// The input's shape.
        got: Vec<usize>,
    },
    /// The bias is not `(C_out,)`.
    #[error("{op}: bias of shape {got:?} does not match the {out_channels} output channels")]
    Bias {
        /// The op.
        op: &'static str,
        /// The weight's first axis.
        out_channels: usize,
        /// The bias's shape.
        got: Vec<usize>,
    },
    /// An invalid window (zero kernel, stride or dilation; no output
    /// position) or a size that overflows.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

impl ConvError {
    /// The op that reported the error.
    pub fn op(&self) -> &'static str {
        match self {
            ConvError::ParamLength { op, .. }
            | ConvError::Groups { op, .. }
            | ConvError::InputRank { op, .. }
            | ConvError::Channels { op, .. }
            | ConvError::Bias { op, .. } => op,
            ConvError::Tensor(_) => "conv",
        }
    }
}

impl From<ConvError> for autograd::AutogradError {
    fn from(e: ConvError) -> Self {
        autograd::AutogradError::op(e.op(), e)
    }
}
