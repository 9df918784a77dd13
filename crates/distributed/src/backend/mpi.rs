//! The MPI backend (cargo feature `mpi`), on rsmpi.
//!
//! Every collective first all-gathers the four numbers of its
//! [`CallDescription`] (op, dtype, length, root) and compares them, so
//! ranks that disagree get [`DistError::Mismatch`] on every rank instead of
//! MPI pairing unrelated buffers or waiting forever. Then the data moves
//! with the matching MPI collective.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use core_tensor::DType;
use mpi::Threading;
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives, Root};

use crate::backend::thread::check_gather;
use crate::communicator::{Buf, BufMut, CollectiveOp, Communicator, check_root, describe, verdict};
use crate::error::{CallDescription, DistError, Result};

/// Numbers in the wire form of a call description.
const WIRE: usize = 5;

/// Elements reduced per MPI call: the send copy of a block stays in cache.
const REDUCE_BLOCK_BYTES: usize = 1 << 20;

/// The world communicator of an MPI job (`MPI_COMM_WORLD`), the process
/// group of `torch.distributed` with the MPI backend. Start the program
/// with `mpirun -np N <binary>`; without `mpirun` it is a world of one.
///
/// MPI is initialized by [`MpiComm::init`] and finalized when the
/// communicator is dropped, so keep it (usually in an
/// `Arc<dyn Communicator>`) until the end of `main` and drop it before the
/// process exits. Calls are serialized by a lock, so the communicator can be
/// shared between threads (MPI's `MPI_THREAD_SERIALIZED` level is
/// requested and checked).
pub struct MpiComm {
    /// Every MPI call is made under this lock; it also holds the send copy
    /// of all-reduce blocks.
    state: Mutex<Scratch>,
    rank: usize,
    size: usize,
    calls: AtomicU64,
}

struct Scratch {
    world: SimpleCommunicator,
    f32_block: Vec<f32>,
    f64_block: Vec<f64>,
    /// Declared last: finalizes MPI after the communicator is released.
    _universe: Universe,
}

// SAFETY: the MPI handles in `Scratch` are only used while the mutex is
// held, so at most one thread calls MPI at a time, which is what the
// `MPI_THREAD_SERIALIZED` level checked in `init` allows from any thread.
unsafe impl Send for MpiComm {}
// SAFETY: as above; `&MpiComm` only reaches MPI through the mutex.
unsafe impl Sync for MpiComm {}

impl std::fmt::Debug for MpiComm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiComm")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish()
    }
}

impl MpiComm {
    /// Initializes MPI and returns the world communicator.
    ///
    /// # Errors
    /// [`DistError::Transport`] when MPI was already initialized in this
    /// process, or cannot give the `MPI_THREAD_SERIALIZED` level.
    pub fn init() -> Result<Self> {
        let transport = |message: String| DistError::Transport {
            op: CollectiveOp::Barrier,
            message,
        };
        let (universe, level) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| transport("MPI is already initialized in this process".into()))?;
        if level < Threading::Serialized {
            return Err(transport(format!(
                "the MPI library offers thread level {level:?}, Serialized is needed"
            )));
        }
        let world = universe.world();
        let rank = usize::try_from(world.rank()).map_err(|e| transport(e.to_string()))?;
        let size = usize::try_from(world.size()).map_err(|e| transport(e.to_string()))?;
        Ok(Self {
            state: Mutex::new(Scratch {
                world,
                f32_block: Vec::new(),
                f64_block: Vec::new(),
                _universe: universe,
            }),
            rank,
            size,
            calls: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Scratch> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// All-gathers the description of this call and whether its local
    /// arguments are valid, and compares them (see [`verdict`]).
    fn agree(
        &self,
        world: &SimpleCommunicator,
        mine: CallDescription,
        local: Result<()>,
    ) -> Result<()> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let wire = [
            mine.op.id(),
            match mine.dtype {
                None => 0,
                Some(DType::F32) => 1,
                Some(DType::F64) => 2,
                Some(DType::I64) => 3,
            },
            mine.len as u64,
            mine.root as u64,
            u64::from(local.is_ok()),
        ];
        let mut all = vec![0u64; WIRE * self.size];
        world.all_gather_into(&wire[..], &mut all[..]);
        let descriptions: Vec<CallDescription> = all
            .chunks_exact(WIRE)
            .map(|w| CallDescription {
                op: CollectiveOp::from_id(w[0]).unwrap_or(mine.op),
                dtype: match w[1] {
                    1 => Some(DType::F32),
                    2 => Some(DType::F64),
                    3 => Some(DType::I64),
                    _ => None,
                },
                len: usize::try_from(w[2]).unwrap_or(usize::MAX),
                root: usize::try_from(w[3]).unwrap_or(usize::MAX),
            })
            .collect();
        let valid: Vec<bool> = all.chunks_exact(WIRE).map(|w| w[4] == 1).collect();
        verdict(call, self.rank, mine, local, &descriptions, &valid)
    }
}

/// `buf = Σ_ranks buf`, block by block through a send copy.
fn all_reduce_blocks<T>(world: &SimpleCommunicator, buf: &mut [T], scratch: &mut Vec<T>)
where
    T: mpi::datatype::Equivalence + Copy + Default,
{
    let block = (REDUCE_BLOCK_BYTES / std::mem::size_of::<T>()).max(1);
    if scratch.len() < block.min(buf.len()) {
        scratch.resize(block.min(buf.len()), T::default());
    }
    for chunk in buf.chunks_mut(block) {
        let send = &mut scratch[..chunk.len()];
        send.copy_from_slice(chunk);
        world.all_reduce_into(&send[..], chunk, SystemOperation::sum());
    }
}

impl Communicator for MpiComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn barrier(&self) -> Result<()> {
        let st = self.lock();
        self.agree(
            &st.world,
            describe(CollectiveOp::Barrier, None, 0, 0),
            Ok(()),
        )?;
        st.world.barrier();
        Ok(())
    }

    fn broadcast_buf(&self, buf: BufMut<'_>, root: usize) -> Result<()> {
        let op = CollectiveOp::Broadcast;
        let st = self.lock();
        let local = check_root(op, root, self.size);
        self.agree(
            &st.world,
            describe(op, Some(buf.dtype()), buf.len(), root),
            local,
        )?;
        let root = st.world.process_at_rank(root as i32);
        match buf {
            BufMut::F32(b) => root.broadcast_into(b),
            BufMut::F64(b) => root.broadcast_into(b),
        }
        Ok(())
    }

    fn all_reduce_sum_buf(&self, buf: BufMut<'_>) -> Result<()> {
        let op = CollectiveOp::AllReduceSum;
        let mut st = self.lock();
        self.agree(
            &st.world,
            describe(op, Some(buf.dtype()), buf.len(), 0),
            Ok(()),
        )?;
        let Scratch {
            world,
            f32_block,
            f64_block,
            ..
        } = &mut *st;
        match buf {
            BufMut::F32(b) => all_reduce_blocks(world, b, f32_block),
            BufMut::F64(b) => all_reduce_blocks(world, b, f64_block),
        }
        Ok(())
    }

    fn all_gather_buf(&self, send: Buf<'_>, recv: BufMut<'_>) -> Result<()> {
        let op = CollectiveOp::AllGather;
        let local = check_gather(send, &recv, self.size);
        let st = self.lock();
        self.agree(
            &st.world,
            describe(op, Some(send.dtype()), send.len(), 0),
            local,
        )?;
        match (send, recv) {
            (Buf::F32(s), BufMut::F32(r)) => st.world.all_gather_into(s, r),
            (Buf::F64(s), BufMut::F64(r)) => st.world.all_gather_into(s, r),
            (s, r) => {
                return Err(DistError::DTypeMismatch {
                    op,
                    send: s.dtype(),
                    recv: r.dtype(),
                });
            }
        }
        Ok(())
    }
}
