//! Proofs 1 and 3 over real MPI processes (cargo feature `mpi`):
//!
//! ```text
//! cargo test -p distributed --features mpi --test mpi_proofs --no-run
//! mpirun --allow-run-as-root --oversubscribe -np 2 <test binary>
//! mpirun --allow-run-as-root --oversubscribe -np 3 <test binary>
//! ```
//!
//! Run without `mpirun` it is a world of one: proof 1 then checks that
//! `SyncBatchNorm` is `BatchNorm`, and proof 3 is skipped.

mod common;

use std::process::ExitCode;
use std::sync::Arc;

use distributed::{Communicator, MpiComm};
use nn::NormOptions;

fn main() -> ExitCode {
    let comm: Arc<dyn Communicator> = match MpiComm::init() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("mpi_proofs: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (rank, size) = (comm.rank(), comm.size());
    let mut failures = Vec::new();
    let cases: [(&str, &[usize], NormOptions); 4] = [
        ("BatchNorm2d", &[4, 5], NormOptions::batch_norm()),
        ("BatchNorm1d (N, C)", &[], NormOptions::batch_norm()),
        (
            "BatchNorm3d, momentum None",
            &[2, 3, 2],
            NormOptions::batch_norm().momentum(None),
        ),
        (
            "BatchNorm2d, no affine",
            &[3, 3],
            NormOptions::batch_norm().affine(false),
        ),
    ];
    for (name, spatial, options) in cases {
        match common::proof1(&comm, spatial, options, 3) {
            Ok(worst) => {
                if rank == 0 {
                    println!(
                        "proof 1 ({name}) on {size} ranks, shards {:?}: ok, worst relative error {worst:e}",
                        common::shards(common::BATCH, size)
                    );
                }
            }
            Err(e) => failures.push(format!("proof 1 ({name}), rank {rank}: {e}")),
        }
    }
    if size >= 2 {
        match common::proof3(&comm) {
            Ok(()) => {
                if rank == 0 {
                    println!("proof 3 on {size} ranks: every rank got its typed error, no hang");
                }
            }
            Err(e) => failures.push(format!("proof 3, rank {rank}: {e}")),
        }
    } else if rank == 0 {
        println!("proof 3 needs at least 2 ranks: skipped (run under mpirun -np 2)");
    }
    // Every rank learns whether any rank failed, so all exit alike.
    let mut failed = [failures.len() as f64];
    let all_ok = comm
        .all_reduce_sum_buf(distributed::BufMut::F64(&mut failed))
        .is_ok()
        && failed[0] == 0.0;
    for f in &failures {
        eprintln!("{f}");
    }
    drop(comm);
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
