//! Proof 2 over real MPI processes (cargo feature `mpi`): a CNN with
//! `SyncBatchNorm` trained 5 optimizer steps under
//! `DistributedDataParallel` equals the same CNN trained on one process
//! with the whole batch (computed again in every process), every parameter
//! and buffer to 1e-10.
//!
//! ```text
//! cargo test -p distributed --features mpi --test mpi_ddp --no-run
//! mpirun --allow-run-as-root --oversubscribe -np 2 <test binary>
//! mpirun --allow-run-as-root --oversubscribe -np 3 <test binary>
//! ```
//!
//! Without `mpirun` it is a world of one, where DDP is the plain model.

mod ddp_common;

use std::process::ExitCode;
use std::sync::Arc;

use ddp_common::proof::{assert_state_close, train_ddp, train_single};
use distributed::{Communicator, MpiComm};

fn main() -> ExitCode {
    let comm: Arc<dyn Communicator> = match MpiComm::init() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("mpi_ddp: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (rank, size) = (comm.rank(), comm.size());
    let want = train_single();
    let mut ok = true;
    for (name, cap) in [
        (
            "default 25 MiB buckets",
            distributed::DEFAULT_BUCKET_CAP_BYTES,
        ),
        ("a bucket per parameter", 8),
    ] {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let got = train_ddp(Arc::clone(&comm), cap).map_err(|e| e.to_string())?;
            assert_state_close(&got, &want, 1e-10);
            Ok::<(), String>(())
        }));
        match outcome {
            Ok(Ok(())) => println!("rank {rank}/{size}: proof 2 ({name}): ok"),
            Ok(Err(e)) => {
                eprintln!("rank {rank}/{size}: proof 2 ({name}) failed: {e}");
                ok = false;
            }
            Err(_) => {
                eprintln!("rank {rank}/{size}: proof 2 ({name}) failed (see the panic above)");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
