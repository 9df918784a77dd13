//! The [`Communicator`] trait: the collectives every backend provides.

use core_tensor::{DType, Float};

use crate::error::{CallDescription, DistError, Result};

/// The collectives, as named in errors and in the description every rank
/// exchanges before a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CollectiveOp {
    /// [`Communicator::barrier`].
    Barrier,
    /// [`Communicator::broadcast_buf`].
    Broadcast,
    /// [`Communicator::all_reduce_sum_buf`].
    AllReduceSum,
    /// [`Communicator::all_gather_buf`].
    AllGather,
}

impl CollectiveOp {
    /// A stable numeric id, used on the wire by the MPI backend.
    pub fn id(self) -> u64 {
        match self {
            CollectiveOp::Barrier => 1,
            CollectiveOp::Broadcast => 2,
            CollectiveOp::AllReduceSum => 3,
            CollectiveOp::AllGather => 4,
        }
    }

    /// The op with the given [`id`](Self::id).
    pub fn from_id(id: u64) -> Option<Self> {
        Some(match id {
            1 => CollectiveOp::Barrier,
            2 => CollectiveOp::Broadcast,
            3 => CollectiveOp::AllReduceSum,
            4 => CollectiveOp::AllGather,
            _ => return None,
        })
    }
}

impl CollectiveOp {
    /// The op's name in messages (`all_reduce_sum`).
    pub fn name(self) -> &'static str {
        match self {
            CollectiveOp::Barrier => "barrier",
            CollectiveOp::Broadcast => "broadcast",
            CollectiveOp::AllReduceSum => "all_reduce_sum",
            CollectiveOp::AllGather => "all_gather",
        }
    }
}

impl std::fmt::Display for CollectiveOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A mutable `f32` or `f64` buffer handed to a collective.
#[derive(Debug)]
pub enum BufMut<'a> {
    /// Single precision.
    F32(&'a mut [f32]),
    /// Double precision.
    F64(&'a mut [f64]),
}

impl BufMut<'_> {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            BufMut::F32(_) => DType::F32,
            BufMut::F64(_) => DType::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            BufMut::F32(b) => b.len(),
            BufMut::F64(b) => b.len(),
        }
    }

    /// Whether the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A read-only `f32` or `f64` buffer handed to a collective.
#[derive(Debug, Clone, Copy)]
pub enum Buf<'a> {
    /// Single precision.
    F32(&'a [f32]),
    /// Double precision.
    F64(&'a [f64]),
}

impl Buf<'_> {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Buf::F32(_) => DType::F32,
            Buf::F64(_) => DType::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Buf::F32(b) => b.len(),
            Buf::F64(b) => b.len(),
        }
    }

    /// Whether the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An element type collectives accept: `f32` or `f64` (every
/// [`Float`] of `core-tensor`).
pub trait CommFloat: Float {
    /// Wraps a mutable slice.
    fn buf_mut(slice: &mut [Self]) -> BufMut<'_>;
    /// Wraps a slice.
    fn buf(slice: &[Self]) -> Buf<'_>;
}

impl CommFloat for f32 {
    fn buf_mut(slice: &mut [Self]) -> BufMut<'_> {
        BufMut::F32(slice)
    }
    fn buf(slice: &[Self]) -> Buf<'_> {
        Buf::F32(slice)
    }
}

impl CommFloat for f64 {
    fn buf_mut(slice: &mut [Self]) -> BufMut<'_> {
        BufMut::F64(slice)
    }
    fn buf(slice: &[Self]) -> Buf<'_> {
        Buf::F64(slice)
    }
}

/// A group of `size` processes (or threads) numbered `0..size` that make
/// collective calls together, as a `torch.distributed` process group.
///
/// Every rank must make the same collective calls in the same order. Each
/// call first exchanges a [`CallDescription`] (op, dtype, length, root); if
/// the ranks disagree, every rank gets [`DistError::Mismatch`] instead of a
/// hang or a silently mixed buffer. If a rank fails (thread backend), the
/// others get [`DistError::PeerFailed`] / [`DistError::PeerExited`].
///
/// The trait is object safe (`Arc<dyn Communicator>`); the typed methods
/// `all_reduce_sum`, `broadcast` and `all_gather` live in [`CommunicatorExt`],
/// implemented for every communicator.
///
/// Results are bitwise identical on every rank, and for a given world size
/// and inputs they do not depend on timing: sums are taken in rank order.
pub trait Communicator: Send + Sync {
    /// This process's rank, in `0..size()` (`dist.get_rank()`).
    fn rank(&self) -> usize;

    /// Number of ranks (`dist.get_world_size()`).
    fn size(&self) -> usize;

    /// Returns once every rank has entered the barrier (`dist.barrier()`).
    ///
    /// # Errors
    /// [`DistError::Mismatch`] if another rank entered a different
    /// collective; peer failures.
    fn barrier(&self) -> Result<()>;

    /// Copies `root`'s buffer into every rank's buffer
    /// (`dist.broadcast(t, src=root)`).
    ///
    /// # Errors
    /// [`DistError::InvalidRoot`]; [`DistError::Mismatch`] if the ranks
    /// disagree on dtype, length or root; peer failures.
    fn broadcast_buf(&self, buf: BufMut<'_>, root: usize) -> Result<()>;

    /// Replaces every rank's buffer with the element-wise sum over ranks,
    /// added in rank order (`dist.all_reduce(t, op=SUM)`).
    ///
    /// # Errors
    /// [`DistError::Mismatch`] if the ranks disagree on dtype or length;
    /// peer failures.
    fn all_reduce_sum_buf(&self, buf: BufMut<'_>) -> Result<()>;

    /// Writes rank `r`'s `send` into `recv[r * n .. (r + 1) * n]` on every
    /// rank, `n = send.len()` (`dist.all_gather_into_tensor`).
    ///
    /// # Errors
    /// [`DistError::GatherLength`] if `recv.len() != size * n`;
    /// [`DistError::Mismatch`] if the ranks disagree on dtype or `n`; peer
    /// failures.
    fn all_gather_buf(&self, send: Buf<'_>, recv: BufMut<'_>) -> Result<()>;
}

/// Typed collectives over `f32` / `f64` slices, for every [`Communicator`]
/// (including `dyn Communicator`).
pub trait CommunicatorExt: Communicator {
    /// [`Communicator::all_reduce_sum_buf`] on a typed slice.
    ///
    /// # Errors
    /// As [`Communicator::all_reduce_sum_buf`].
    fn all_reduce_sum<F: CommFloat>(&self, buf: &mut [F]) -> Result<()> {
        self.all_reduce_sum_buf(F::buf_mut(buf))
    }

    /// [`Communicator::broadcast_buf`] on a typed slice.
    ///
    /// # Errors
    /// As [`Communicator::broadcast_buf`].
    fn broadcast<F: CommFloat>(&self, buf: &mut [F], root: usize) -> Result<()> {
        self.broadcast_buf(F::buf_mut(buf), root)
    }

    /// [`Communicator::all_gather_buf`] into a new vector of
    /// `size() * send.len()` elements, rank 0's block first.
    ///
    /// # Errors
    /// As [`Communicator::all_gather_buf`].
    fn all_gather<F: CommFloat>(&self, send: &[F]) -> Result<Vec<F>> {
        let total = send
            .len()
            .checked_mul(self.size())
            .ok_or(DistError::GatherLength {
                per_rank: send.len(),
                size: self.size(),
                expected: usize::MAX,
                got: 0,
            })?;
        let mut recv = vec![F::zero(); total];
        self.all_gather_buf(F::buf(send), F::buf_mut(&mut recv))?;
        Ok(recv)
    }
}

impl<C: Communicator + ?Sized> CommunicatorExt for C {}

/// The description of a call, as exchanged before the data.
pub(crate) fn describe(
    op: CollectiveOp,
    dtype: Option<DType>,
    len: usize,
    root: usize,
) -> CallDescription {
    CallDescription {
        op,
        dtype,
        len,
        root,
    }
}

/// The first rank whose description differs from `mine`, if any.
pub(crate) fn first_mismatch(
    descriptions: &[CallDescription],
    mine: &CallDescription,
) -> Option<(usize, CallDescription)> {
    descriptions
        .iter()
        .enumerate()
        .find(|(_, d)| *d != mine)
        .map(|(r, d)| (r, *d))
}

/// Checks a root rank against the world size.
pub(crate) fn check_root(op: CollectiveOp, root: usize, size: usize) -> Result<()> {
    if root < size {
        Ok(())
    } else {
        Err(DistError::InvalidRoot { op, root, size })
    }
}

/// Checks an all-gather receive length.
pub(crate) fn check_gather_len(per_rank: usize, size: usize, got: usize) -> Result<()> {
    match per_rank.checked_mul(size) {
        Some(expected) if expected == got => Ok(()),
        expected => Err(DistError::GatherLength {
            per_rank,
            size,
            expected: expected.unwrap_or(usize::MAX),
            got,
        }),
    }
}

/// What a rank learns from the exchange of descriptions: every rank gets
/// the same verdict (a mismatch, or the first rank whose local arguments
/// were invalid), except that the invalid rank reports its own error.
pub(crate) fn verdict(
    call: u64,
    rank: usize,
    mine: CallDescription,
    local: Result<()>,
    descriptions: &[CallDescription],
    valid: &[bool],
) -> Result<()> {
    if let Some((other_rank, theirs)) = first_mismatch(descriptions, &mine) {
        return Err(DistError::Mismatch {
            call,
            rank,
            mine,
            other_rank,
            theirs,
        });
    }
    local?;
    match valid.iter().position(|&ok| !ok) {
        Some(other) => Err(DistError::PeerRejected {
            op: mine.op.name(),
            rank: other,
        }),
        None => Ok(()),
    }
}
