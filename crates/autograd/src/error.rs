//! The error type of `autograd`.

use core_tensor::TensorError;

/// Errors of graph construction, backward passes and the basic ops.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AutogradError {
    /// An error from `core-tensor` (shapes, lengths, window geometry).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// Two shapes that must broadcast or agree do not.
    #[error("{op}: shapes {lhs:?} and {rhs:?} are incompatible: {reason}")]
    ShapeMismatch {
        /// The operation that failed.
        op: &'static str,
        /// The first shape.
        lhs: Vec<usize>,
        /// The second shape.
        rhs: Vec<usize>,
        /// What was required.
        reason: &'static str,
    },
    /// An axis index is outside `-ndim..ndim`.
    #[error("{op}: axis {axis} is out of range for a tensor of rank {ndim} (allowed {}..{ndim})", -(*ndim as isize))]
    AxisOutOfRange {
        /// The operation that failed.
        op: &'static str,
        /// The axis given.
        axis: isize,
        /// The rank of the tensor.
        ndim: usize,
    },
    /// A tensor has a rank the operation does not accept.
    #[error("{op}: expected {expected}, got rank {got} (shape {shape:?})")]
    WrongRank {
        /// The operation that failed.
        op: &'static str,
        /// The accepted ranks, in words.
        expected: &'static str,
        /// The rank given.
        got: usize,
        /// The shape given.
        shape: Vec<usize>,
    },
    /// An argument is outside its allowed range.
    #[error("{op}: invalid {param}: {reason}")]
    InvalidArgument {
        /// The operation that failed.
        op: &'static str,
        /// The parameter.
        param: &'static str,
        /// What was wrong and what is allowed.
        reason: String,
    },
    /// `backward()` without an explicit gradient on a non-scalar output.
    #[error(
        "backward: grad can be implicitly created only for outputs with one element, got shape {shape:?}; pass a gradient with backward_with"
    )]
    NonScalarOutput {
        /// The output shape.
        shape: Vec<usize>,
    },
    /// Backward was asked of a value that does not require grad.
    #[error("{op}: the tensor does not require grad and has no grad_fn")]
    DoesNotRequireGrad {
        /// The call that failed.
        op: &'static str,
    },
    /// A second backward through a graph whose saved state was freed.
    #[error(
        "backward through the graph a second time: the saved state of `{op}` was freed by the first backward; \
         pass retain_graph = true the first time"
    )]
    GraphFreed {
        /// The op whose state was freed.
        op: &'static str,
    },
    /// A `Backward` implementation returned the wrong number of gradients.
    #[error("{op}: backward returned {got} gradients for {expected} inputs")]
    BackwardArity {
        /// The op.
        op: &'static str,
        /// The number of inputs.
        expected: usize,
        /// The number of gradients returned.
        got: usize,
    },
    /// A `Backward` implementation returned a gradient of the wrong shape.
    #[error("{op}: gradient for input {input} has shape {got:?}, expected {expected:?}")]
    GradShape {
        /// The op.
        op: &'static str,
        /// Which input.
        input: usize,
        /// The input's shape.
        expected: Vec<usize>,
        /// The gradient's shape.
        got: Vec<usize>,
    },
    /// `set_value` on a value computed by an op, or with another shape.
    #[error("{op}: {reason}")]
    InvalidUpdate {
        /// The call that failed.
        op: &'static str,
        /// Why.
        reason: String,
    },
    /// A backward pass reached an op one of whose inputs was replaced by
    /// [`Var::set_value`](crate::Var::set_value) after the op was recorded
    /// (PyTorch: "one of the variables needed for gradient computation has
    /// been modified by an inplace operation").
    #[error(
        "{op}: input {input} was modified by set_value after the op was recorded (version {current}, recorded \
         at version {recorded}); its backward would read the new value. Run backward before updating, or \
         recompute the forward pass"
    )]
    ModifiedByUpdate {
        /// The op whose backward could not run.
        op: &'static str,
        /// Which of its inputs changed.
        input: usize,
        /// The input's version when the op was recorded.
        recorded: usize,
        /// The input's version now.
        current: usize,
    },
    /// An error of an op defined in another crate (pooling, normalization...).
    #[error("{op}: {source}")]
    Op {
        /// The op.
        op: &'static str,
        /// The op crate's own error.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl AutogradError {
    /// Wraps another crate's error, keeping it as the source.
    pub fn op(op: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        AutogradError::Op {
            op,
            source: Box::new(source),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = AutogradError> = std::result::Result<T, E>;
