//! `cargo xtask bench dist`: the collectives and `SyncBatchNorm`.
//!
//! Under `mpirun` (xtask built with `--features mpi`) every process is a
//! rank of an MPI world; otherwise the ranks are 2 threads of this process
//! ([`distributed::ThreadWorld`]). Rank 0 prints; every timed iteration
//! starts after a barrier so the ranks time the same collective.
//!
//! - D1: all-reduce (sum) of a 25 MiB `f32` buffer, PyTorch's default
//!   bucket, against a memcpy of the same bytes on each rank in the same
//!   run (target: within 3x).
//! - D2: `SyncBatchNorm` forward + backward on `(32, 64, 56, 56)` `f32` per
//!   rank against `BatchNorm` on the same shard (target: at most 1.3x).

use std::sync::Arc;

use autograd::{BackwardOptions, Var};
use core_tensor::Tensor;
use distributed::{Communicator, CommunicatorExt, DistError, sync_batch_norm};
use ops_norm::BatchNormConfig;

use super::harness::{BenchOptions, Timing, time_interleaved};

/// Bytes all-reduced by D1: PyTorch DDP's default bucket, 25 MiB.
pub const ALL_REDUCE_BYTES: usize = 25 << 20;

/// The shape of D2's shard on each rank.
pub const SHARD: [usize; 4] = [32, 64, 56, 56];

/// One timed comparison.
#[derive(Clone, Debug)]
pub struct DistRow {
    /// `D1`, `D2`.
    pub id: &'static str,
    /// What is timed.
    pub description: String,
    /// The case.
    pub case: Timing,
    /// The baseline.
    pub baseline: Timing,
    /// The baseline's name.
    pub baseline_name: &'static str,
    /// The target on `case / baseline`.
    pub target: f64,
}

impl DistRow {
    /// `case / baseline` of the medians.
    pub fn ratio(&self) -> f64 {
        self.case.median_ms / self.baseline.median_ms
    }

    /// One line of the report.
    pub fn format(&self) -> String {
        format!(
            "{:<3} {:<58} {:>9.3} ms  {:<10} {:>9.3} ms  ratio {:>5.2}  target <= {:.1}  {}",
            self.id,
            self.description,
            self.case.median_ms,
            self.baseline_name,
            self.baseline.median_ms,
            self.ratio(),
            self.target,
            if self.ratio() <= self.target {
                "pass"
            } else {
                "FAIL"
            }
        )
    }
}

/// D1: all-reduce of [`ALL_REDUCE_BYTES`] against a memcpy of the same bytes.
///
/// # Errors
/// The communicator's errors.
pub fn all_reduce_case(comm: &dyn Communicator, opts: BenchOptions) -> Result<DistRow, DistError> {
    let n = ALL_REDUCE_BYTES / 4;
    let mut buf: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 1e-3).collect();
    let src = vec![1.0f32; n];
    let mut dst = vec![2.0f32; n];
    let mut failure = None;
    let (case, baseline) = time_interleaved(
        || {
            if failure.is_none() {
                let r = comm.barrier().and_then(|()| comm.all_reduce_sum(&mut buf));
                failure = r.err();
            }
        },
        || dst.copy_from_slice(&src),
        opts,
    );
    if let Some(e) = failure {
        return Err(e);
    }
    std::hint::black_box(&dst);
    Ok(DistRow {
        id: "D1",
        description: format!(
            "all_reduce sum, 25 MiB f32, {} ranks ({})",
            comm.size(),
            backend_name()
        ),
        case,
        baseline,
        baseline_name: "memcpy",
        target: 3.0,
    })
}

/// D2: `SyncBatchNorm` forward + backward on a [`SHARD`] per rank against
/// `BatchNorm` on the same shard.
///
/// # Errors
/// The errors of the layers and the communicator.
pub fn sync_batch_norm_case(
    comm: &Arc<dyn Communicator>,
    opts: BenchOptions,
) -> Result<DistRow, DistError> {
    let numel: usize = SHARD.iter().product();
    let seed = comm.rank() as f32;
    let x = Var::leaf(Tensor::from_vec(
        &SHARD,
        (0..numel)
            .map(|i| ((i as f32 * 0.37 + seed).sin()) * 2.0)
            .collect(),
    )?);
    let dy = Tensor::from_vec(
        &SHARD,
        (0..numel)
            .map(|i| ((i % 97) as f32 - 48.0) / 48.0)
            .collect(),
    )?;
    let c = SHARD[1];
    let w = Var::leaf(Tensor::ones(&[c]));
    let b = Var::leaf(Tensor::zeros(&[c]));
    let config = BatchNormConfig::train();
    let mut failure: Option<DistError> = None;
    let sync_step = || -> Result<(), DistError> {
        comm.barrier()?;
        let y = sync_batch_norm(&x, Some(&w), Some(&b), None, &config, comm)?;
        y.backward_with(&dy, BackwardOptions::default())?;
        Ok(())
    };
    let local_step = || -> Result<(), DistError> {
        let y = ops_norm::batch_norm(&x, Some(&w), Some(&b), None, &config)?;
        y.backward_with(&dy, BackwardOptions::default())?;
        Ok(())
    };
    let mut local_failure: Option<DistError> = None;
    let (case, baseline) = time_interleaved(
        || {
            if failure.is_none() {
                failure = sync_step().err();
            }
        },
        || {
            if local_failure.is_none() {
                local_failure = local_step().err();
            }
        },
        opts,
    );
    if let Some(e) = failure.or(local_failure) {
        return Err(e);
    }
    Ok(DistRow {
        id: "D2",
        description: format!(
            "SyncBatchNorm fwd+bwd (32,64,56,56) f32 per rank, {} ranks",
            comm.size()
        ),
        case,
        baseline,
        baseline_name: "BatchNorm",
        target: 1.3,
    })
}

/// Runs D1 and D2 on one rank; rank 0 prints.
///
/// # Errors
/// The first case's error.
pub fn run_rank(
    comm: &Arc<dyn Communicator>,
    opts: BenchOptions,
) -> Result<Vec<DistRow>, DistError> {
    let rows = vec![
        all_reduce_case(comm.as_ref(), opts)?,
        sync_batch_norm_case(comm, opts)?,
        super::dist_ddp::ddp_step_case(comm, opts)?,
    ];
    if comm.rank() == 0 {
        for row in &rows {
            println!("{}", row.format());
        }
    }
    Ok(rows)
}

/// The backend this run uses.
pub fn backend_name() -> &'static str {
    if under_mpirun() { "MPI" } else { "threads" }
}

/// Whether this process was started by `mpirun` (Open MPI, MPICH or any
/// PMI launcher).
pub fn under_mpirun() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// `cargo xtask bench dist`: over MPI when started by `mpirun` and built
/// with the `mpi` feature, otherwise on 2 threads.
///
/// # Errors
/// A message when a case fails, or when run under `mpirun` without the
/// `mpi` feature.
pub fn run(opts: BenchOptions) -> Result<(), String> {
    if under_mpirun() {
        return run_mpi(opts);
    }
    println!("dist bench: 2 ranks as threads of one process (start under mpirun for MPI)");
    let out = distributed::ThreadWorld::run(2, |comm| {
        let comm: Arc<dyn Communicator> = Arc::new(comm);
        run_rank(&comm, opts)
    })
    .map_err(|e| e.to_string())?;
    for r in out {
        r.map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(feature = "mpi")]
fn run_mpi(opts: BenchOptions) -> Result<(), String> {
    let comm: Arc<dyn Communicator> =
        Arc::new(distributed::MpiComm::init().map_err(|e| e.to_string())?);
    // Each process gets its share of the cores.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / comm.size()).max(1);
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    if comm.rank() == 0 {
        println!(
            "dist bench: {} MPI processes, {threads} rayon thread(s) each",
            comm.size()
        );
    }
    let result = run_rank(&comm, opts).map(|_| ()).map_err(|e| e.to_string());
    drop(comm);
    result
}

#[cfg(not(feature = "mpi"))]
fn run_mpi(_opts: BenchOptions) -> Result<(), String> {
    Err(
        "started under mpirun, but xtask was built without the `mpi` feature: \
         build it with `cargo build --release -p xtask --features mpi`"
            .to_string(),
    )
}
