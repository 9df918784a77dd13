//! `cargo xtask bench dist`, case D3: one data-parallel training step of
//! the examples' CNN (Conv2d(1,16,3,p=1)-BN-ReLU-MaxPool, Conv2d(16,32,3,
//! p=1)-BN-ReLU-MaxPool, Linear(1568,10); 28x28 `f32` images) at global
//! batch 128 — `SyncBatchNorm`, `DistributedDataParallel`, each rank
//! holding `128 / ranks` images — against the same step on one process
//! with the whole batch of 128 and plain `BatchNorm`, timed on each rank in
//! the same run. Each rank computes its share of the cores, so with `R`
//! ranks an ideal data-parallel step takes `1 / R` of the single step plus
//! the communication (one bucket all-reduce of the gradients, two
//! collectives per `SyncBatchNorm` call, the buffer broadcast).

use std::sync::Arc;

use autograd::{AutogradError, Var};
use core_tensor::{Rng, Tensor};
use distributed::{
    Communicator, DistError, DistributedDataParallel, convert_sync_batchnorm_in_place,
};
use nn::prelude::*;
use nn::{BatchNorm2d, MaxPool2d, NnError};

use super::dist::DistRow;
use super::harness::{BenchOptions, time_interleaved};

/// The global batch of D3.
pub const GLOBAL_BATCH: usize = 128;

fn cnn(seed: u64) -> Sequential<f32> {
    let mut rng = Rng::new(seed);
    let pad1 = ConvOptions::default().padding(1);
    Sequential::new()
        .push(Conv2d::with_options(1, 16, [3, 3], pad1, &mut rng).expect("valid layer"))
        .push(BatchNorm2d::new(16).expect("valid layer"))
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Conv2d::with_options(16, 32, [3, 3], pad1, &mut rng).expect("valid layer"))
        .push(BatchNorm2d::new(32).expect("valid layer"))
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Flatten::new())
        .push(Linear::new(32 * 7 * 7, 10, true, &mut rng).expect("valid layer"))
}

fn nn(e: NnError) -> DistError {
    DistError::Autograd(AutogradError::op("bench dist D3", e))
}

fn images(n: usize, seed: u64) -> Result<(Var<f32>, Vec<usize>), DistError> {
    let mut rng = Rng::new(seed);
    let x: Vec<f32> = (0..n * 784).map(|_| rng.normal() as f32).collect();
    let y = (0..n).map(|_| rng.below(10)).collect();
    Ok((Var::constant(Tensor::from_vec(&[n, 1, 28, 28], x)?), y))
}

/// One single-process step: zero_grad, forward, cross-entropy, backward,
/// SGD step.
fn step(
    model: &mut dyn Module<f32>,
    opt: &mut Sgd<f32>,
    x: &Var<f32>,
    y: &[usize],
) -> Result<(), DistError> {
    opt.zero_grad();
    let loss =
        cross_entropy(&model.forward(x).map_err(nn)?, y, Reduction::Mean, 0.0).map_err(nn)?;
    loss.backward()?;
    opt.step().map_err(nn)?;
    Ok(())
}

/// The number of parameters of the CNN and the bytes of their `f32`
/// gradients, which one all-reduce per step moves.
pub fn model_size() -> (usize, usize) {
    let n: usize = cnn(0).parameters().iter().map(Var::len).sum();
    (n, n * 4)
}

/// D3: the data-parallel step at global batch [`GLOBAL_BATCH`] against the
/// single-process step at the same batch.
///
/// # Errors
/// The errors of the model and the communicator; a global batch not
/// divisible by the number of ranks.
pub fn ddp_step_case(
    comm: &Arc<dyn Communicator>,
    opts: BenchOptions,
) -> Result<DistRow, DistError> {
    let (rank, size) = (comm.rank(), comm.size());
    if !GLOBAL_BATCH.is_multiple_of(size) {
        return Err(DistError::InvalidArgument {
            op: "bench dist D3",
            param: "ranks",
            reason: format!("the global batch {GLOBAL_BATCH} must split evenly, got {size} ranks"),
        });
    }
    let local = GLOBAL_BATCH / size;

    let mut net = cnn(0);
    convert_sync_batchnorm_in_place(&mut net, comm).map_err(nn)?;
    let mut ddp = DistributedDataParallel::new(net, Arc::clone(comm))?;
    let mut ddp_opt =
        Sgd::new(ddp.parameters(), SgdOptions::new(0.01).momentum(0.9)).map_err(nn)?;
    let (x_local, y_local) = images(local, 10 + rank as u64)?;

    let mut single = cnn(0);
    let mut single_opt =
        Sgd::new(single.parameters(), SgdOptions::new(0.01).momentum(0.9)).map_err(nn)?;
    let (x_all, y_all) = images(GLOBAL_BATCH, 99)?;

    let mut failure: Option<DistError> = None;
    let mut local_failure: Option<DistError> = None;
    let (case, baseline) = time_interleaved(
        || {
            if failure.is_none() {
                let r = comm.barrier().and_then(|()| {
                    ddp_opt.zero_grad();
                    let scores = ddp.forward(&x_local).map_err(nn)?;
                    let loss =
                        cross_entropy(&scores, &y_local, Reduction::Mean, 0.0).map_err(nn)?;
                    ddp.backward(&loss)?;
                    ddp_opt.step().map_err(nn)?;
                    Ok(())
                });
                failure = r.err();
            }
        },
        || {
            if local_failure.is_none() {
                local_failure = step(&mut single, &mut single_opt, &x_all, &y_all).err();
            }
        },
        opts,
    );
    if let Some(e) = failure.or(local_failure) {
        return Err(e);
    }
    let buckets = ddp.bucket_names().len();
    Ok(DistRow {
        id: "D3",
        description: format!(
            "DDP CNN step, global batch {GLOBAL_BATCH} = {size} x {local}, {buckets} bucket(s)"
        ),
        case,
        baseline,
        baseline_name: "1 process",
        target: 1.0,
    })
}
