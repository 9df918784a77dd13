//! The error type of `core-tensor`.

/// Everything that can go wrong when building tensors or window geometry
/// from user input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TensorError {
    /// A flat buffer does not hold exactly as many elements as the shape asks for.
    #[error("{op}: shape {shape:?} holds {expected} elements but {got} were given")]
    LengthMismatch {
        /// The operation that failed.
        op: &'static str,
        /// The requested shape.
        shape: Vec<usize>,
        /// Product of the shape.
        expected: usize,
        /// Length of the data.
        got: usize,
    },
    /// Two shapes that must agree do not.
    #[error("{op}: expected shape {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// The operation that failed.
        op: &'static str,
        /// The shape that was required.
        expected: Vec<usize>,
        /// The shape that was given.
        got: Vec<usize>,
    },
    /// The number of elements of a shape overflows `usize`.
    #[error("{op}: the element count of shape {shape:?} overflows usize")]
    SizeOverflow {
        /// The operation that failed.
        op: &'static str,
        /// The offending shape.
        shape: Vec<usize>,
    },
    /// An array has the wrong number of dimensions.
    #[error("{op}: expected {expected}, got a tensor of rank {got} (shape {shape:?})")]
    WrongRank {
        /// The operation that failed.
        op: &'static str,
        /// Description of the ranks that are allowed, e.g. `"rank 3 or 4"`.
        expected: String,
        /// The rank that was given.
        got: usize,
        /// The full shape that was given.
        shape: Vec<usize>,
    },
    /// A window parameter is outside its allowed range.
    #[error("{op}: {param} on spatial axis {axis} is {value}, but {allowed}")]
    InvalidWindowParam {
        /// The operation that failed.
        op: &'static str,
        /// Which parameter: `kernel_size`, `stride`, `dilation`, `padding`.
        param: &'static str,
        /// The spatial axis (0-based).
        axis: usize,
        /// The value given.
        value: usize,
        /// What is allowed, in words.
        allowed: String,
    },
    /// The window parameters leave no output position on an axis.
    #[error(
        "{op}: on spatial axis {axis} the input of size {input} padded by [{pad_before}, {pad_after}] is \
         smaller than the effective kernel {effective_kernel}; the output size would be {output}, \
         which must be at least 1"
    )]
    EmptyOutput {
        /// The operation that failed.
        op: &'static str,
        /// The spatial axis (0-based).
        axis: usize,
        /// The input length on that axis.
        input: usize,
        /// Padding before.
        pad_before: usize,
        /// Padding after.
        pad_after: usize,
        /// `dilation * (kernel - 1) + 1`.
        effective_kernel: usize,
        /// The (non-positive) output size the formula gives.
        output: i128,
    },
    /// A list of per-axis parameters has the wrong length.
    #[error("{op}: {param} has {got} entries, expected {expected} (one per spatial axis)")]
    ParamLength {
        /// The operation that failed.
        op: &'static str,
        /// The parameter name.
        param: &'static str,
        /// How many entries are required.
        expected: usize,
        /// How many were given.
        got: usize,
    },
}
