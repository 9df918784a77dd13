//! The proofs shared by the thread-backend tests and the MPI test binary:
//! each takes a communicator and runs on every rank.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use autograd::{AutogradError, Var};
use core_tensor::Tensor;
use distributed::prelude::*;
use nn::{BatchNorm1d, BatchNorm2d, BatchNorm3d, Module, NnError, NormOptions, Sequential};

/// The batch size of proof 1, split over the ranks.
pub const BATCH: usize = 10;

/// `total` split over `size` ranks, the first ranks taking one more
/// (10 over 2: 5, 5; over 3: 4, 3, 3).
pub fn shards(total: usize, size: usize) -> Vec<usize> {
    (0..size)
        .map(|r| total / size + usize::from(r < total % size))
        .collect()
}

/// A deterministic input with per-channel offsets and scales.
fn input(shape: &[usize], step: usize) -> Vec<f64> {
    let c = shape[1];
    let s: usize = shape[2..].iter().product();
    (0..shape.iter().product::<usize>())
        .map(|i| {
            let ch = (i / s) % c;
            let t = i as f64 * 0.731 + step as f64 * 1.37;
            (1.0 + ch as f64) * t.sin() * (0.3 * t).cos() + 0.5 * ch as f64 - 0.25
        })
        .collect()
}

/// Weights of the loss `Σ y·r`.
fn loss_weights(n: usize, step: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64 * 1.913 + step as f64).cos() + 0.1 * (i % 7) as f64) * 0.5)
        .collect()
}

/// Relative-and-absolute comparison reporting the worst element.
pub fn close(what: &str, got: &[f64], want: &[f64], tol: f64) -> Result<f64, String> {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: length {} against {}",
            got.len(),
            want.len()
        ));
    }
    let mut worst = (0.0f64, 0usize);
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        // A NaN error counts as the worst.
        let err = (a - b).abs() / b.abs().max(1.0);
        if err.is_nan() || err > worst.0 {
            worst = (if err.is_nan() { f64::INFINITY } else { err }, i);
        }
    }
    if worst.0 > tol {
        return Err(format!(
            "{what}: worst error {:e} at {} (got {}, want {})",
            worst.0, worst.1, got[worst.1], want[worst.1]
        ));
    }
    Ok(worst.0)
}

fn batch_norm(dims: usize, c: usize, options: NormOptions) -> Box<dyn Module<f64>> {
    match dims {
        1 => Box::new(BatchNorm1d::<f64>::with_options(c, options).unwrap()),
        2 => Box::new(BatchNorm2d::<f64>::with_options(c, options).unwrap()),
        _ => Box::new(BatchNorm3d::<f64>::with_options(c, options).unwrap()),
    }
}

/// A one-layer model whose affine parameters are not the defaults.
fn model(dims: usize, c: usize, options: NormOptions) -> Sequential<f64> {
    let mut m = Sequential::new();
    m.push_boxed(batch_norm(dims, c, options));
    for (name, p) in m.named_parameters() {
        let v: Vec<f64> = (0..c)
            .map(|i| {
                if name.ends_with("weight") {
                    1.0 + 0.3 * i as f64
                } else {
                    0.2 * i as f64 - 0.1
                }
            })
            .collect();
        p.set_value(Tensor::from_vec(&[c], v).unwrap()).unwrap();
    }
    m
}

/// Proof 1: `SyncBatchNorm` on the ranks of `comm`, each with its shard of
/// a batch of [`BATCH`] samples, equals `BatchNorm` on the whole batch
/// (computed on every rank): outputs, input gradients, weight and bias
/// gradients summed over ranks, running statistics after `steps` training
/// steps, and eval outputs, to `1e-12`. Returns the worst relative error.
pub fn proof1(
    comm: &Arc<dyn Communicator>,
    spatial: &[usize],
    options: NormOptions,
    steps: usize,
) -> Result<f64, String> {
    let c = 3;
    let dims = spatial.len().max(1);
    let sizes = shards(BATCH, comm.size());
    let rank = comm.rank();
    let offset: usize = sizes[..rank].iter().sum();
    let n_local = sizes[rank];
    let mut full_shape = vec![BATCH, c];
    full_shape.extend_from_slice(spatial);
    let mut local_shape = full_shape.clone();
    local_shape[0] = n_local;
    let sample: usize = full_shape[1..].iter().product();
    let rows = offset * sample..(offset + n_local) * sample;

    let mut reference = model(dims, c, options);
    let sync = model(dims, c, options);
    let mut sync = convert_sync_batchnorm(Box::new(sync), comm).map_err(|e| e.to_string())?;
    if sync.children()[0].1.type_name() != "SyncBatchNorm" {
        return Err("convert_sync_batchnorm did not convert".into());
    }
    let mut worst = 0.0f64;
    let mut check = |what: &str, got: &[f64], want: &[f64]| -> Result<(), String> {
        worst = worst.max(close(what, got, want, 1e-12)?);
        Ok(())
    };
    for step in 0..steps {
        let xs = input(&full_shape, step);
        let r = loss_weights(xs.len(), step);
        reference.zero_grad();
        sync.zero_grad();

        let x = Var::leaf(Tensor::from_vec(&full_shape, xs.clone()).unwrap());
        let y = reference.forward(&x).map_err(|e| e.to_string())?;
        let rw = Var::constant(Tensor::from_vec(&full_shape, r.clone()).unwrap());
        y.mul(&rw).unwrap().sum_all().backward().unwrap();

        let xl = Var::leaf(Tensor::from_vec(&local_shape, xs[rows.clone()].to_vec()).unwrap());
        let yl = sync.forward(&xl).map_err(|e| format!("rank {rank}: {e}"))?;
        let rl = Var::constant(Tensor::from_vec(&local_shape, r[rows.clone()].to_vec()).unwrap());
        yl.mul(&rl)
            .unwrap()
            .sum_all()
            .backward()
            .map_err(|e| e.to_string())?;

        check(
            "output",
            yl.value().as_slice(),
            &y.value().as_slice()[rows.clone()],
        )?;
        check(
            "input gradient",
            xl.grad().unwrap().as_slice(),
            &x.grad().unwrap().as_slice()[rows.clone()],
        )?;
        for ((name, p), (_, q)) in sync
            .named_parameters()
            .into_iter()
            .zip(reference.named_parameters())
        {
            let mut g = p.grad().unwrap().as_slice().to_vec();
            comm.all_reduce_sum(&mut g).map_err(|e| e.to_string())?;
            check(
                &format!("{name} gradient summed over ranks"),
                &g,
                q.grad().unwrap().as_slice(),
            )?;
        }
    }
    let (got, want) = (sync.state_dict(), reference.state_dict());
    let keys: Vec<&str> = got.keys().collect();
    if keys != want.keys().collect::<Vec<_>>() {
        return Err(format!("state-dict keys {keys:?} differ from BatchNorm's"));
    }
    for key in keys {
        let (a, b) = (got.get(key).unwrap(), want.get(key).unwrap());
        match (a, b) {
            (nn::StateTensor::Float(a), nn::StateTensor::Float(b)) => {
                check(key, a.as_slice(), b.as_slice())?;
            }
            (a, b) => {
                if a.to_int().as_slice() != b.to_int().as_slice() {
                    return Err(format!("{key}: {a:?} against {b:?}"));
                }
            }
        }
    }
    // Eval: the running statistics, no communication. (Without running
    // statistics eval normalizes each rank's own batch, as in PyTorch.)
    if !options.track_running_stats {
        return Ok(worst);
    }
    reference.eval();
    sync.eval();
    let xs = input(&full_shape, steps + 1);
    let y = reference
        .forward(&Var::constant(
            Tensor::from_vec(&full_shape, xs.clone()).unwrap(),
        ))
        .map_err(|e| e.to_string())?;
    let yl = sync
        .forward(&Var::constant(
            Tensor::from_vec(&local_shape, xs[rows.clone()].to_vec()).unwrap(),
        ))
        .map_err(|e| e.to_string())?;
    check(
        "eval output",
        yl.value().as_slice(),
        &y.value().as_slice()[rows],
    )?;
    Ok(worst)
}

/// The [`DistError`] inside a module error, if any.
pub fn dist_error(e: &NnError) -> Option<&DistError> {
    match e {
        NnError::Autograd(AutogradError::Op { source, .. }) => source.downcast_ref::<DistError>(),
        _ => None,
    }
}

/// Proof 3: calls whose shapes differ across ranks give a typed error on
/// every rank, and the world stays usable. Needs at least two ranks.
pub fn proof3(comm: &Arc<dyn Communicator>) -> Result<(), String> {
    let rank = comm.rank();
    // 1. Raw collective with different lengths.
    let mut v = vec![1.0f32; 3 + rank];
    match comm.all_reduce_sum(&mut v) {
        Err(DistError::Mismatch {
            rank: r,
            mine,
            theirs,
            ..
        }) if r == rank && mine.len == 3 + rank && theirs.len != mine.len => {}
        other => {
            return Err(format!(
                "rank {rank}: all_reduce of different lengths gave {other:?}"
            ));
        }
    }
    // 2. All-gather with different lengths.
    match comm.all_gather(&vec![0.5f64; 1 + rank]) {
        Err(DistError::Mismatch { .. }) => {}
        other => {
            return Err(format!(
                "rank {rank}: all_gather of different lengths gave {other:?}"
            ));
        }
    }
    // 3. SyncBatchNorm layers with different channel counts.
    let c = if rank == 1 { 4 } else { 3 };
    let mut layer = SyncBatchNorm::<f64>::new(c, Arc::clone(comm)).unwrap();
    let x = Var::leaf(Tensor::from_vec(&[2, c, 2], input(&[2, c, 2], 0)).unwrap());
    match layer.forward(&x) {
        Err(e) => match dist_error(&e) {
            Some(DistError::ChannelMismatch {
                rank: r, channels, ..
            }) if *r == rank && *channels == c => {}
            _ => return Err(format!("rank {rank}: different channel counts gave {e}")),
        },
        Ok(_) => return Err(format!("rank {rank}: different channel counts succeeded")),
    }
    // 4. One rank passes an input of the wrong rank: it reports its own
    //    error, the others are told it gave up.
    let mut layer = SyncBatchNorm::<f64>::new(3, Arc::clone(comm)).unwrap();
    let shape: Vec<usize> = if rank == 0 { vec![6] } else { vec![2, 3, 2] };
    let n: usize = shape.iter().product();
    let x = Var::leaf(Tensor::from_vec(&shape, vec![0.25; n]).unwrap());
    match (rank, layer.forward(&x)) {
        (0, Err(NnError::BadInput { .. })) => {}
        (_, Err(e))
            if matches!(
                dist_error(&e),
                Some(DistError::PeerRejected { rank: 0, .. })
            ) => {}
        (_, other) => {
            return Err(format!(
                "rank {rank}: a bad input on rank 0 gave {:?}",
                other.err()
            ));
        }
    }
    // 5. The world is still in step.
    let mut one = [1.0f64];
    comm.all_reduce_sum(&mut one).map_err(|e| e.to_string())?;
    if one[0] != comm.size() as f64 {
        return Err(format!(
            "rank {rank}: all_reduce after the errors gave {}",
            one[0]
        ));
    }
    Ok(())
}
