//! The error type of `distributed`.

use core_tensor::DType;

use crate::communicator::CollectiveOp;

/// Everything a communicator or a distributed layer can reject. Every
/// variant says what was wrong and what is allowed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistError {
    /// A world needs at least one rank.
    #[error("{op}: a world needs at least 1 rank, got {size}")]
    EmptyWorld {
        /// The call.
        op: &'static str,
        /// The size given.
        size: usize,
    },
    /// A root rank outside `0..size`.
    #[error("{op}: root rank {root} is out of range; allowed 0..{size}")]
    InvalidRoot {
        /// The collective.
        op: CollectiveOp,
        /// The root given.
        root: usize,
        /// The world size.
        size: usize,
    },
    /// An `all_gather` receive buffer that is not `size * send.len()` long.
    #[error(
        "all_gather: the receive buffer has {got} elements, expected {expected} \
         ({size} ranks x {per_rank} elements)"
    )]
    GatherLength {
        /// Elements sent by each rank.
        per_rank: usize,
        /// The world size.
        size: usize,
        /// `size * per_rank`.
        expected: usize,
        /// The receive buffer's length.
        got: usize,
    },
    /// The send and receive buffers of one call have different dtypes.
    #[error("{op}: the send buffer is {send} but the receive buffer is {recv}; they must match")]
    DTypeMismatch {
        /// The collective.
        op: CollectiveOp,
        /// The send buffer's dtype.
        send: DType,
        /// The receive buffer's dtype.
        recv: DType,
    },
    /// The ranks entered different collectives, or the same collective with
    /// different dtypes, lengths or roots. Every rank gets this error.
    #[error(
        "collective mismatch at call {call}: rank {rank} called {mine}, but rank {other_rank} \
         called {theirs}; every rank must make the same collective calls in the same order \
         with the same dtype, length and root"
    )]
    Mismatch {
        /// Index of the collective call (0 for the first) on this communicator.
        call: u64,
        /// This rank.
        rank: usize,
        /// This rank's call.
        mine: CallDescription,
        /// The first rank whose call differs.
        other_rank: usize,
        /// Its call.
        theirs: CallDescription,
    },
    /// Another rank failed (returned an error or panicked) and can no longer
    /// take part; the collective was abandoned instead of waiting forever.
    #[error("{op}: rank {failed_rank} failed and left the world; the collective was abandoned")]
    PeerFailed {
        /// The collective this rank was in.
        op: CollectiveOp,
        /// The rank that failed.
        failed_rank: usize,
    },
    /// Another rank finished its work without entering this collective.
    #[error(
        "{op}: rank {exited_rank} finished without entering this collective; \
         every rank must make the same collective calls"
    )]
    PeerExited {
        /// The collective this rank was in.
        op: CollectiveOp,
        /// The rank that finished.
        exited_rank: usize,
    },
    /// Another rank rejected its own arguments of a synchronized layer call
    /// (it reports the reason itself); this rank stops too instead of
    /// waiting for it.
    #[error("{op}: rank {rank} rejected its arguments (see its error); no rank went on")]
    PeerRejected {
        /// The call.
        op: &'static str,
        /// The first rank that rejected its arguments.
        rank: usize,
    },
    /// The ranks called a synchronized layer with different channel counts.
    #[error(
        "{op}: rank {rank} has {channels} channels (input shape {shape:?}) but rank {other_rank} \
         has {other_channels}; every rank must pass the same number of channels"
    )]
    ChannelMismatch {
        /// The call.
        op: &'static str,
        /// This rank.
        rank: usize,
        /// This rank's input shape.
        shape: Vec<usize>,
        /// This rank's channel count.
        channels: usize,
        /// The first rank whose channel count differs.
        other_rank: usize,
        /// Its channel count.
        other_channels: usize,
    },
    /// A rank's closure panicked (thread backend).
    #[error("rank {rank} panicked: {message}")]
    RankPanicked {
        /// The rank.
        rank: usize,
        /// The panic message, when it was a string.
        message: String,
    },
    /// The underlying transport (MPI) reported an error.
    #[error("{op}: transport error: {message}")]
    Transport {
        /// The collective.
        op: CollectiveOp,
        /// What the transport said.
        message: String,
    },
    /// An error from a normalization kernel.
    #[error(transparent)]
    Norm(#[from] ops_norm::NormError),
    /// An error from autograd.
    #[error(transparent)]
    Autograd(#[from] autograd::AutogradError),
    /// An error from a tensor operation.
    #[error(transparent)]
    Tensor(#[from] core_tensor::TensorError),
    /// An argument outside its allowed range.
    #[error("{op}: invalid {param}: {reason}")]
    InvalidArgument {
        /// The call.
        op: &'static str,
        /// The parameter.
        param: &'static str,
        /// What was wrong and what is allowed.
        reason: String,
    },
}

/// What a rank asked a collective to do, exchanged before the data so that
/// ranks that disagree fail instead of hanging or mixing buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallDescription {
    /// The collective.
    pub op: CollectiveOp,
    /// Element type (`None` for `barrier`).
    pub dtype: Option<DType>,
    /// Elements in the buffer this rank sends (for `all_gather`, per rank).
    pub len: usize,
    /// The root rank (`broadcast`), otherwise 0.
    pub root: usize,
}

impl std::fmt::Display for CallDescription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.dtype {
            None => write!(f, "{}", self.op),
            Some(dt) => {
                write!(f, "{}({} x {}", self.op, self.len, dt)?;
                if self.op == CollectiveOp::Broadcast {
                    write!(f, ", root {}", self.root)?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Results of this crate.
pub type Result<T, E = DistError> = std::result::Result<T, E>;
