//! Proof 2, shared by the thread-backend and MPI test files: a CNN with
//! `SyncBatchNorm` trained 5 optimizer steps under `DistributedDataParallel`
//! on R ranks equals the same CNN with `BatchNorm` trained on one process
//! with the whole batch, every parameter and buffer to 1e-10 (f64).

use std::sync::Arc;

use autograd::Var;
use core_tensor::{Rng, Tensor};
use distributed::{Communicator, DistributedDataParallel, convert_sync_batchnorm_in_place};
use nn::prelude::*;
use nn::{BatchNorm2d, MaxPool2d, StateDict, StateTensor};

/// Global batch per step (divisible by 2, 3 and 4).
pub(crate) const BATCH: usize = 12;
/// Optimizer steps.
pub(crate) const STEPS: u64 = 5;
const CLASSES: usize = 3;

/// Conv-BN-ReLU-MaxPool, Conv-BN-ReLU, Flatten, Linear on 1x8x8 images.
pub(crate) fn cnn(seed: u64) -> Sequential<f64> {
    let mut rng = Rng::new(seed);
    let pad1 = ConvOptions::default().padding(1);
    Sequential::new()
        .push(Conv2d::with_options(1, 4, [3, 3], pad1, &mut rng).unwrap())
        .push(BatchNorm2d::new(4).unwrap())
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Conv2d::with_options(4, 6, [3, 3], pad1, &mut rng).unwrap())
        .push(BatchNorm2d::new(6).unwrap())
        .push(ReLU::new())
        .push(Flatten::new())
        .push(Linear::new(6 * 4 * 4, CLASSES, true, &mut rng).unwrap())
}

/// The batch of step `step`: images (BATCH, 1, 8, 8) and labels.
pub(crate) fn batch(step: u64) -> (Vec<f64>, Vec<usize>) {
    let mut rng = Rng::new(1000 + step);
    let x = rng.uniform_vec(BATCH * 64, -1.0, 2.0);
    let y = (0..BATCH).map(|_| rng.below(CLASSES)).collect();
    (x, y)
}

fn rows(x: &[f64], y: &[usize], range: std::ops::Range<usize>) -> (Var<f64>, Vec<usize>) {
    let n = range.len();
    let xs = x[range.start * 64..range.end * 64].to_vec();
    (
        Var::constant(Tensor::from_vec(&[n, 1, 8, 8], xs).unwrap()),
        y[range].to_vec(),
    )
}

fn optimizer(params: Vec<Var<f64>>) -> Sgd<f64> {
    Sgd::new(
        params,
        SgdOptions::new(0.1).momentum(0.9).weight_decay(1e-3),
    )
    .unwrap()
}

/// One process, whole batches, plain `BatchNorm2d`.
pub(crate) fn train_single() -> StateDict<f64> {
    let mut net = cnn(0);
    net.train();
    let mut opt = optimizer(net.parameters());
    for step in 0..STEPS {
        let (x, y) = batch(step);
        let (x, y) = rows(&x, &y, 0..BATCH);
        opt.zero_grad();
        let loss = cross_entropy(&net.forward(&x).unwrap(), &y, Reduction::Mean, 0.0).unwrap();
        loss.backward().unwrap();
        opt.step().unwrap();
    }
    net.state_dict()
}

/// This rank's part of the data-parallel run: an equal shard of every
/// batch, `SyncBatchNorm`, DDP with buckets of `bucket_cap_bytes`.
pub(crate) fn train_ddp(
    comm: Arc<dyn Communicator>,
    bucket_cap_bytes: usize,
) -> Result<StateDict<f64>, Box<dyn std::error::Error + Send + Sync>> {
    let (rank, size) = (comm.rank(), comm.size());
    assert_eq!(BATCH % size, 0, "equal shards");
    let shard = BATCH / size;
    // Each rank starts from other weights; DDP copies rank 0's (seed 0).
    let mut net = cnn(rank as u64 * 11);
    convert_sync_batchnorm_in_place(&mut net, &comm)?;
    let options = distributed::DdpOptions {
        bucket_cap_bytes,
        ..Default::default()
    };
    let mut ddp = DistributedDataParallel::with_options(net, comm, options)?;
    ddp.train();
    let mut opt = optimizer(ddp.parameters());
    for step in 0..STEPS {
        let (x, y) = batch(step);
        let (x, y) = rows(&x, &y, rank * shard..(rank + 1) * shard);
        opt.zero_grad();
        let loss = cross_entropy(&ddp.forward(&x)?, &y, Reduction::Mean, 0.0)?;
        ddp.backward(&loss)?;
        opt.step()?;
    }
    Ok(ddp.state_dict())
}

/// Every entry of `got` equals `want` to `tol` (absolute and relative).
pub(crate) fn assert_state_close(got: &StateDict<f64>, want: &StateDict<f64>, tol: f64) {
    let gk: Vec<&str> = got.keys().collect();
    let wk: Vec<&str> = want.keys().collect();
    assert_eq!(gk, wk);
    for (k, w) in want.iter() {
        match (got.get(k).unwrap(), w) {
            (StateTensor::Float(g), StateTensor::Float(w)) => {
                assert_eq!(g.shape(), w.shape(), "{k}");
                for (i, (a, b)) in g.as_slice().iter().zip(w.as_slice()).enumerate() {
                    assert!(
                        (a - b).abs() <= tol * (1.0 + b.abs()),
                        "{k}[{i}]: {a} vs {b} (difference {:e})",
                        (a - b).abs()
                    );
                }
            }
            (StateTensor::Int(g), StateTensor::Int(w)) => assert_eq!(g, w, "{k}"),
            _ => panic!("{k}: float and integer tensors mixed"),
        }
    }
}
