//! Proof 2 on the thread backend: a CNN with `SyncBatchNorm` trained 5
//! optimizer steps under `DistributedDataParallel` on 2 ranks equals the
//! same CNN trained on one process with the whole batch, every parameter
//! and buffer to 1e-10 (f64). Also with one bucket per parameter, and on 4
//! ranks.

mod ddp_common;

use std::sync::Arc;

use ddp_common::proof::{assert_state_close, train_ddp, train_single};
use distributed::{Communicator, ThreadWorld};

fn run(ranks: usize, bucket_cap_bytes: usize) {
    let want = train_single();
    let states = ThreadWorld::run(ranks, |comm| {
        let comm: Arc<dyn Communicator> = Arc::new(comm);
        train_ddp(comm, bucket_cap_bytes)
    })
    .unwrap();
    for (rank, s) in states.into_iter().enumerate() {
        let got = s.unwrap_or_else(|e| panic!("rank {rank}: {e}"));
        assert_state_close(&got, &want, 1e-10);
    }
}

#[test]
fn two_ranks_sync_batchnorm_ddp_equals_one_process() {
    run(2, distributed::DEFAULT_BUCKET_CAP_BYTES);
}

#[test]
fn two_ranks_with_a_bucket_per_parameter() {
    run(2, 8);
}

#[test]
fn four_ranks_of_three_samples() {
    run(4, 1024);
}
