//! # distributed
//!
//! Data-parallel training for handgrad: a [`Communicator`] trait with
//! PyTorch's collectives (`barrier`, `broadcast`, `all_reduce` with sum,
//! `all_gather`) over `f32` / `f64` slices, a backend of threads in one
//! process ([`ThreadWorld`]), a one-rank world ([`SingleComm`]) and an MPI
//! backend (cargo feature `mpi`, on rsmpi).
//!
//! Every collective first exchanges a small description of the call (op,
//! dtype, length, root) and compares it across ranks, so ranks that disagree
//! get [`DistError::Mismatch`] on every rank instead of a hang.
//!
//! ```
//! use distributed::prelude::*;
//!
//! let out = ThreadWorld::run(2, |comm| {
//!     let mut grads = vec![comm.rank() as f32 + 1.0; 4];
//!     comm.all_reduce_sum(&mut grads)?;
//!     let ranks = comm.all_gather(&[comm.rank() as f64])?;
//!     Ok::<_, DistError>((grads, ranks))
//! })?;
//! for r in out {
//!     let (grads, ranks) = r?;
//!     assert_eq!(grads, vec![3.0; 4]);
//!     assert_eq!(ranks, vec![0.0, 1.0]);
//! }
//! # Ok::<(), DistError>(())
//! ```
#![doc(test(attr(deny(warnings))))]

pub mod backend;
mod communicator;
mod convert;
mod ddp;
mod ddp_bucket;
mod ddp_reducer;
mod error;
mod sampler;
mod sync_batch_norm;
mod sync_batch_norm_module;

#[cfg(feature = "mpi")]
pub use backend::mpi::MpiComm;
pub use backend::single::SingleComm;
pub use backend::thread::{ThreadComm, ThreadWorld};
pub use communicator::{Buf, BufMut, CollectiveOp, CommFloat, Communicator, CommunicatorExt};
pub use convert::{convert_sync_batchnorm, convert_sync_batchnorm_in_place};
pub use ddp::{DdpOptions, DistributedDataParallel};
pub use ddp_bucket::DEFAULT_BUCKET_CAP_BYTES;
pub use error::{CallDescription, DistError, Result};
pub use sampler::DistributedSampler;
pub use sync_batch_norm::sync_batch_norm;
pub use sync_batch_norm_module::SyncBatchNorm;

/// The items most users need.
pub mod prelude {
    pub use crate::{
        Communicator, CommunicatorExt, DistError, SingleComm, SyncBatchNorm, ThreadWorld,
        convert_sync_batchnorm,
    };
}
