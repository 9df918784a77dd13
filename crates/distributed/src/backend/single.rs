//! A world of one rank.

use crate::communicator::{Buf, BufMut, CollectiveOp, Communicator, check_root};
use crate::error::Result;

/// The communicator of a world with a single rank: every collective is the
/// identity (a copy for `all_gather`). With it, distributed layers behave as
/// their single-process counterparts.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleComm;

impl Communicator for SingleComm {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn barrier(&self) -> Result<()> {
        Ok(())
    }

    fn broadcast_buf(&self, _buf: BufMut<'_>, root: usize) -> Result<()> {
        check_root(CollectiveOp::Broadcast, root, 1)
    }

    fn all_reduce_sum_buf(&self, _buf: BufMut<'_>) -> Result<()> {
        Ok(())
    }

    fn all_gather_buf(&self, send: Buf<'_>, recv: BufMut<'_>) -> Result<()> {
        crate::backend::thread::check_gather(send, &recv, 1)?;
        crate::backend::thread::copy_into(send, recv, CollectiveOp::AllGather)
    }
}
