//! Proofs 1 and 3 on the thread backend, and SyncBatchNorm's semantics.

mod common;

use std::sync::Arc;

use autograd::Var;
use common::{BATCH, close, dist_error, proof1, proof3, shards};
use core_tensor::Tensor;
use distributed::prelude::*;
use distributed::sync_batch_norm;
use nn::{BatchNorm2d, Module, NnError, NormOptions, ReLU, Sequential};
use ops_norm::{BatchNormConfig, NormError};
use proptest::prelude::*;

fn run_proof1(size: usize, spatial: &[usize], options: NormOptions, steps: usize) {
    let out = ThreadWorld::run(size, |comm| {
        let comm: Arc<dyn Communicator> = Arc::new(comm);
        proof1(&comm, spatial, options, steps)
    })
    .unwrap();
    for (rank, r) in out.into_iter().enumerate() {
        let worst = r.unwrap_or_else(|e| panic!("rank {rank}: {e}"));
        assert!(worst <= 1e-12);
    }
}

#[test]
fn shards_are_the_issues() {
    assert_eq!(shards(BATCH, 2), [5, 5]);
    assert_eq!(shards(BATCH, 3), [4, 3, 3]);
}

#[test]
fn proof1_two_ranks_equal_shards() {
    run_proof1(2, &[4, 5], NormOptions::batch_norm(), 3);
}

#[test]
fn proof1_three_ranks_shards_4_3_3() {
    run_proof1(3, &[4, 5], NormOptions::batch_norm(), 3);
}

#[test]
fn proof1_batch_norm_1d_and_3d() {
    run_proof1(3, &[], NormOptions::batch_norm(), 2);
    run_proof1(2, &[7], NormOptions::batch_norm(), 2);
    run_proof1(3, &[2, 3, 2], NormOptions::batch_norm(), 2);
}

#[test]
fn proof1_momentum_none_no_affine_untracked() {
    run_proof1(3, &[4, 5], NormOptions::batch_norm().momentum(None), 3);
    run_proof1(2, &[4, 5], NormOptions::batch_norm().affine(false), 2);
    run_proof1(
        3,
        &[3],
        NormOptions::batch_norm().track_running_stats(false),
        2,
    );
}

#[test]
fn proof1_world_of_one_is_batch_norm() {
    run_proof1(1, &[4, 5], NormOptions::batch_norm(), 2);
    let comm: Arc<dyn Communicator> = Arc::new(SingleComm);
    assert!(proof1(&comm, &[4, 5], NormOptions::batch_norm(), 2).unwrap() <= 1e-12);
}

#[test]
fn proof3_mismatched_shapes_fail_on_every_rank() {
    for size in [2, 3] {
        let out = ThreadWorld::run(size, |comm| {
            let comm: Arc<dyn Communicator> = Arc::new(comm);
            proof3(&comm)
        })
        .unwrap();
        for (rank, r) in out.into_iter().enumerate() {
            r.unwrap_or_else(|e| panic!("size {size} rank {rank}: {e}"));
        }
    }
}

#[test]
fn one_value_per_channel_over_all_ranks_is_batch_norms_error() {
    // Rank 0 holds one sample of a (N, C) input, rank 1 none: one value per
    // channel in total.
    let out = ThreadWorld::run(2, |comm| {
        let comm: Arc<dyn Communicator> = Arc::new(comm);
        let n = 1 - comm.rank();
        let x = Var::leaf(Tensor::from_vec(&[n, 2], vec![1.0f64; 2 * n]).unwrap());
        sync_batch_norm(&x, None, None, None, &BatchNormConfig::train(), &comm).map(|_| ())
    })
    .unwrap();
    for r in out {
        assert!(
            matches!(
                r,
                Err(DistError::Norm(NormError::TooFewValues {
                    unit: "channel",
                    ..
                }))
            ),
            "{r:?}"
        );
    }
    // One value on each of two ranks is fine: two values per channel.
    let out = ThreadWorld::run(2, |comm| {
        let comm: Arc<dyn Communicator> = Arc::new(comm);
        let x = Var::leaf(Tensor::from_vec(&[1, 1], vec![comm.rank() as f64 * 2.0]).unwrap());
        sync_batch_norm(&x, None, None, None, &BatchNormConfig::train(), &comm)
            .map(|y| y.value().as_slice()[0])
    })
    .unwrap();
    // mean 1, biased var 1: y = ±1/sqrt(1 + 1e-5).
    let z = 1.0 / (1.0f64 + 1e-5).sqrt();
    assert!((out[0].as_ref().unwrap() + z).abs() < 1e-15);
    assert!((out[1].as_ref().unwrap() - z).abs() < 1e-15);
}

#[test]
fn an_empty_shard_contributes_nothing() {
    // Ranks hold 0, 3 and 2 samples; the statistics are those of the 5.
    let xs: Vec<f64> = (0..10)
        .map(|i| (i as f64 * 0.7).sin() * 3.0 + 1.0)
        .collect();
    let full = Var::leaf(Tensor::from_vec(&[5, 2], xs.clone()).unwrap());
    let want = ops_norm::batch_norm(&full, None, None, None, &BatchNormConfig::train()).unwrap();
    let out = ThreadWorld::run(3, |comm| {
        let comm: Arc<dyn Communicator> = Arc::new(comm);
        let (lo, hi) = [(0, 0), (0, 3), (3, 5)][comm.rank()];
        let x = Var::leaf(Tensor::from_vec(&[hi - lo, 2], xs[2 * lo..2 * hi].to_vec()).unwrap());
        let y = sync_batch_norm(&x, None, None, None, &BatchNormConfig::train(), &comm)?;
        y.sum_all().backward()?;
        Ok::<_, DistError>((lo, hi, y.value().as_slice().to_vec()))
    })
    .unwrap();
    for r in out {
        let (lo, hi, y) = r.unwrap();
        close(
            "output",
            &y,
            &want.value().as_slice()[2 * lo..2 * hi],
            1e-12,
        )
        .unwrap();
    }
}

#[test]
fn eval_mode_does_not_communicate() {
    // In eval each rank normalizes with its own running statistics, with no
    // collective: ranks with different batch sizes and no matching calls.
    let out = ThreadWorld::run(2, |comm| {
        let comm: Arc<dyn Communicator> = Arc::new(comm);
        let mut layer = SyncBatchNorm::<f64>::new(2, Arc::clone(&comm))?;
        layer.eval();
        let n = 1 + comm.rank();
        let x = Var::constant(Tensor::from_vec(&[n, 2], vec![3.0; 2 * n])?);
        let y = layer.forward(&x)?;
        Ok::<_, NnError>(y.value().as_slice().to_vec())
    })
    .unwrap();
    let z = 3.0 / (1.0f64 + 1e-5).sqrt();
    assert_eq!(out[0].as_ref().unwrap(), &vec![z; 2]);
    assert_eq!(out[1].as_ref().unwrap(), &vec![z; 4]);
}

#[test]
fn eval_without_running_stats_uses_local_batch_statistics() {
    // track_running_stats = false: eval normalizes with the local batch, as
    // PyTorch (which only synchronizes in training).
    let out = ThreadWorld::run(2, |comm| {
        let comm: Arc<dyn Communicator> = Arc::new(comm);
        let opts = NormOptions::batch_norm().track_running_stats(false);
        let mut layer = SyncBatchNorm::<f64>::with_options(1, opts, Arc::clone(&comm))?;
        layer.eval();
        let base = 10.0 * comm.rank() as f64;
        let x = Var::constant(Tensor::from_vec(&[2, 1], vec![base, base + 2.0])?);
        Ok::<_, NnError>(layer.forward(&x)?.value().as_slice().to_vec())
    })
    .unwrap();
    let z = 1.0 / (1.0f64 + 1e-5).sqrt();
    for r in out {
        assert_eq!(r.unwrap(), vec![-z, z]);
    }
}

#[test]
fn second_order_through_synchronized_statistics_is_an_error() {
    let out = ThreadWorld::run(2, |comm| {
        let comm: Arc<dyn Communicator> = Arc::new(comm);
        let x = Var::leaf(Tensor::from_vec(&[2, 1], vec![1.0, 2.0 + comm.rank() as f64]).unwrap());
        let y = sync_batch_norm(&x, None, None, None, &BatchNormConfig::train(), &comm).unwrap();
        let loss = y.mul(&y).unwrap().sum_all();
        let seed = Var::constant(Tensor::ones(&loss.shape()));
        Ok::<_, DistError>(autograd::grad(&[loss], &[x], &[seed], true).is_err())
    })
    .unwrap();
    for r in out {
        assert!(r.unwrap());
    }
}

#[test]
fn bad_arguments_on_one_rank_fail_everywhere() {
    let out = ThreadWorld::run(3, |comm| {
        let comm: Arc<dyn Communicator> = Arc::new(comm);
        let x = Var::leaf(Tensor::from_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap());
        let w = Var::leaf(Tensor::ones(&[if comm.rank() == 2 { 3 } else { 2 }]));
        sync_batch_norm(&x, Some(&w), None, None, &BatchNormConfig::train(), &comm).map(|_| ())
    })
    .unwrap();
    assert!(matches!(
        out[2],
        Err(DistError::Norm(NormError::ParamShape {
            what: "weight",
            ..
        }))
    ));
    for r in &out[..2] {
        assert!(
            matches!(r, Err(DistError::PeerRejected { rank: 2, .. })),
            "{r:?}"
        );
    }
}

#[test]
fn convert_keeps_parameters_buffers_and_names_in_nested_containers() {
    let inner = Sequential::<f64>::new()
        .push(BatchNorm2d::new(4).unwrap())
        .push(ReLU::new());
    let outer = Sequential::<f64>::new()
        .add("bn", BatchNorm2d::new(2).unwrap())
        .unwrap()
        .add("block", inner)
        .unwrap();
    let params_before: Vec<(String, usize)> = outer
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.id()))
        .collect();
    let state_before = outer.state_dict();
    let comm: Arc<dyn Communicator> = Arc::new(SingleComm);
    let converted = convert_sync_batchnorm(Box::new(outer), &comm).unwrap();
    let params_after: Vec<(String, usize)> = converted
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.id()))
        .collect();
    assert_eq!(params_before, params_after);
    let state_after = converted.state_dict();
    assert_eq!(
        state_before.keys().collect::<Vec<_>>(),
        state_after.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        state_before.keys().collect::<Vec<_>>(),
        [
            "bn.weight",
            "bn.bias",
            "bn.running_mean",
            "bn.running_var",
            "bn.num_batches_tracked",
            "block.0.weight",
            "block.0.bias",
            "block.0.running_mean",
            "block.0.running_var",
            "block.0.num_batches_tracked",
        ]
    );
    let kinds: Vec<&str> = converted
        .children()
        .iter()
        .map(|(_, c)| c.type_name())
        .collect();
    assert_eq!(kinds, ["SyncBatchNorm", "Sequential"]);
    let inner_kinds: Vec<&str> = converted.children()[1]
        .1
        .children()
        .iter()
        .map(|(_, c)| c.type_name())
        .collect();
    assert_eq!(inner_kinds, ["SyncBatchNorm", "ReLU"]);
    // A bare batch norm converts too, and a loaded state dict round-trips.
    let mut bn = BatchNorm2d::<f64>::new(2).unwrap();
    bn.eval();
    let sbn = convert_sync_batchnorm(Box::new(bn), &comm).unwrap();
    assert_eq!(sbn.type_name(), "SyncBatchNorm");
    assert!(!sbn.is_training());
}

#[test]
fn module_rejects_bad_inputs_and_configs() {
    let comm: Arc<dyn Communicator> = Arc::new(SingleComm);
    assert!(SyncBatchNorm::<f64>::new(0, Arc::clone(&comm)).is_err());
    assert!(
        SyncBatchNorm::<f64>::with_options(
            2,
            NormOptions::batch_norm().eps(f64::NAN),
            Arc::clone(&comm)
        )
        .is_err()
    );
    let mut layer = SyncBatchNorm::<f64>::new(2, comm).unwrap();
    let x = Var::leaf(Tensor::from_vec(&[3, 4], vec![0.0; 12]).unwrap());
    assert!(matches!(layer.forward(&x), Err(NnError::BadInput { .. })));
    let x = Var::leaf(Tensor::from_vec(&[3], vec![0.0; 3]).unwrap());
    assert!(matches!(layer.forward(&x), Err(NnError::BadInput { .. })));
    // World of one, one value per channel: BatchNorm's own error.
    let x = Var::leaf(Tensor::from_vec(&[1, 2], vec![0.0; 2]).unwrap());
    let e = layer.forward(&x).unwrap_err();
    assert!(
        matches!(e, NnError::Norm(NormError::TooFewValues { .. })),
        "{e}"
    );
    assert!(dist_error(&e).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Random shard sizes (empty ones included), channels and spatial
    /// sizes: outputs and input gradients equal BatchNorm on the whole
    /// batch in f64; f32 agrees with f64.
    #[test]
    fn random_shards_equal_batch_norm(
        sizes in proptest::collection::vec(0usize..4, 1..4),
        c in 1usize..4,
        s in 1usize..6,
        seed in 0u64..1000,
    ) {
        let total: usize = sizes.iter().sum();
        prop_assume!(total * s >= 2);
        let per = c * s;
        let xs: Vec<f64> = (0..total * per)
            .map(|i| ((i as u64 * 2654435761 + seed) % 1000) as f64 / 100.0 - 5.0)
            .collect();
        let gs: Vec<f64> = (0..total * per).map(|i| ((i * 7 + 3) % 11) as f64 / 5.0 - 1.0).collect();
        let full = Var::leaf(Tensor::from_vec(&[total, c, s], xs.clone()).unwrap());
        let w = Var::leaf(Tensor::from_vec(&[c], (0..c).map(|i| 0.5 + i as f64).collect()).unwrap());
        let y = ops_norm::batch_norm(&full, Some(&w), None, None, &BatchNormConfig::train()).unwrap();
        y.mul(&Var::constant(Tensor::from_vec(&[total, c, s], gs.clone()).unwrap())).unwrap().sum_all().backward().unwrap();
        let (want_y, want_dx) = (y.value().as_slice().to_vec(), full.grad().unwrap().as_slice().to_vec());
        let out = ThreadWorld::run(sizes.len(), |comm| {
            let comm: Arc<dyn Communicator> = Arc::new(comm);
            let lo: usize = sizes[..comm.rank()].iter().sum();
            let n = sizes[comm.rank()];
            let r = lo * per..(lo + n) * per;
            let x = Var::leaf(Tensor::from_vec(&[n, c, s], xs[r.clone()].to_vec())?);
            let wl = Var::leaf(Tensor::from_vec(&[c], (0..c).map(|i| 0.5 + i as f64).collect())?);
            let y = sync_batch_norm(&x, Some(&wl), None, None, &BatchNormConfig::train(), &comm)?;
            y.mul(&Var::constant(Tensor::from_vec(&[n, c, s], gs[r.clone()].to_vec())?))?.sum_all().backward()?;
            // f32 on the same shard, against the f64 result.
            let x32 = Var::leaf(Tensor::from_vec(&[n, c, s], xs[r.clone()].iter().map(|&v| v as f32).collect())?);
            let y32 = sync_batch_norm(&x32, None, None, None, &BatchNormConfig::train(), &comm)?;
            let y64 = sync_batch_norm(&x, None, None, None, &BatchNormConfig::train(), &comm)?;
            let f32_err = y32.value().as_slice().iter().zip(y64.value().as_slice())
                .map(|(&a, &b)| (a as f64 - b).abs()).fold(0.0, f64::max);
            let dx = x.grad().map(|g| g.as_slice().to_vec()).unwrap_or_default();
            Ok::<_, DistError>((r, y.value().as_slice().to_vec(), dx, f32_err))
        }).unwrap();
        for res in out {
            let (r, y, dx, f32_err) = res.unwrap();
            close("output", &y, &want_y[r.clone()], 1e-12).unwrap();
            close("input gradient", &dx, &want_dx[r], 1e-10).unwrap();
            prop_assert!(f32_err < 1e-4, "f32 differs from f64 by {}", f32_err);
        }
    }
}
