//! `DistributedDataParallel` on the thread backend: construction broadcast,
//! averaged gradients, buckets, `no_sync`, unused parameters, state dicts,
//! typed errors on every rank.

use std::sync::Arc;

use autograd::Var;
use core_tensor::testing::assert_close;
use core_tensor::{Rng, Tensor};
use distributed::{
    Communicator, DdpOptions, DistError, DistributedDataParallel, ThreadComm, ThreadWorld,
};
use nn::{Linear, Module, ReLU, Sequential, Tanh};

type Net = Sequential<f64>;
type BoxErr = Box<dyn std::error::Error + Send + Sync>;

fn mlp(seed: u64) -> Net {
    let mut rng = Rng::new(seed);
    Sequential::new()
        .push(Linear::new(3, 5, true, &mut rng).unwrap())
        .push(Tanh::new())
        .push(Linear::new(5, 2, true, &mut rng).unwrap())
}

fn arc(comm: ThreadComm) -> Arc<dyn Communicator> {
    Arc::new(comm)
}

/// Rows `rows` of a fixed (8, 3) input.
fn input(rows: std::ops::Range<usize>) -> Var<f64> {
    let all: Vec<f64> = (0..24)
        .map(|i| ((i * 37) % 11) as f64 / 5.0 - 1.0)
        .collect();
    let n = rows.len();
    Var::constant(Tensor::from_vec(&[n, 3], all[rows.start * 3..rows.end * 3].to_vec()).unwrap())
}

/// Mean over rows of the sum of squared outputs.
fn loss(out: &Var<f64>) -> Var<f64> {
    out.mul(out).unwrap().sum(&[1], false).unwrap().mean_all()
}

fn grads(m: &dyn Module<f64>) -> Vec<Vec<f64>> {
    m.parameters()
        .iter()
        .map(|p| p.grad().map(|g| g.to_vec()).unwrap_or_default())
        .collect()
}

fn reference_grads() -> Vec<Vec<f64>> {
    let mut net = mlp(0);
    let l = loss(&net.forward(&input(0..8)).unwrap());
    l.backward().unwrap();
    grads(&net)
}

fn assert_grads_close(got: &[Vec<f64>], want: &[Vec<f64>], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_close(g, w, tol, tol);
    }
}

#[test]
fn two_ranks_average_to_the_whole_batch_gradient_and_rank0_init_wins() {
    let want = reference_grads();
    let results = ThreadWorld::run(2, |comm| {
        let rank = comm.rank();
        // Rank 1 starts from other weights: construction copies rank 0's.
        let mut ddp = DistributedDataParallel::new(mlp(rank as u64 * 7), arc(comm))?;
        let rows = rank * 4..rank * 4 + 4;
        let l = loss(&ddp.forward(&input(rows))?);
        ddp.backward(&l)?;
        Ok::<_, BoxErr>((grads(&ddp), ddp.state_dict(), ddp.reductions()))
    })
    .unwrap();
    let reference = mlp(0).state_dict();
    for r in results {
        let (g, sd, reductions) = r.unwrap();
        assert_grads_close(&g, &want, 1e-14);
        assert_eq!(reductions, 1, "one bucket under the default 25 MiB");
        // No `module.` prefix; rank 0's values everywhere.
        let keys: Vec<&str> = sd.keys().collect();
        assert_eq!(keys, ["0.weight", "0.bias", "2.weight", "2.bias"]);
        for (k, v) in reference.iter() {
            assert_eq!(sd.get_float(k).unwrap(), v.as_float().unwrap(), "{k}");
        }
    }
}

#[test]
fn small_buckets_go_out_in_reverse_registration_order_with_the_same_result() {
    let want = reference_grads();
    let results = ThreadWorld::run(2, |comm| {
        let rank = comm.rank();
        // 16 bytes = 2 f64: every parameter (>= 2 elements) closes a bucket.
        let options = DdpOptions {
            bucket_cap_bytes: 16,
            ..DdpOptions::default()
        };
        let mut ddp = DistributedDataParallel::with_options(mlp(0), arc(comm), options)?;
        let names = ddp.bucket_names();
        let l = loss(&ddp.forward(&input(rank * 4..rank * 4 + 4))?);
        l.backward()?; // plain backward: the hooks alone complete the buckets
        ddp.finish_gradient_sync()?; // nothing left to do
        Ok::<_, BoxErr>((names, grads(&ddp), ddp.reductions()))
    })
    .unwrap();
    for r in results {
        let (names, g, reductions) = r.unwrap();
        assert_eq!(
            names,
            vec![
                vec!["2.bias".to_string()],
                vec!["2.weight".into()],
                vec!["0.bias".into()],
                vec!["0.weight".into()]
            ]
        );
        assert_eq!(reductions, 4);
        assert_grads_close(&g, &want, 1e-14);
    }
}

#[test]
fn three_ranks_with_shards_of_equal_size() {
    // Rows 0..6 split 2/2/2: the average of three shard means is the mean.
    let mut net = mlp(0);
    loss(&net.forward(&input(0..6)).unwrap())
        .backward()
        .unwrap();
    let want = grads(&net);
    let results = ThreadWorld::run(3, |comm| {
        let rank = comm.rank();
        let mut ddp = DistributedDataParallel::new(mlp(0), arc(comm))?;
        let l = loss(&ddp.forward(&input(rank * 2..rank * 2 + 2))?);
        ddp.backward(&l)?;
        Ok::<_, BoxErr>(grads(&ddp))
    })
    .unwrap();
    for r in results {
        assert_grads_close(&r.unwrap(), &want, 1e-14);
    }
}

#[test]
fn no_sync_accumulates_locally_then_one_reduction_averages_the_sum() {
    // Reference: two micro-batches (rows 0..2 and 2..4 on rank 0, 4..6 and
    // 6..8 on rank 1), each loss a mean over 2 rows, gradients summed over
    // the micro-batches and averaged over the ranks.
    let mut net = mlp(0);
    for rows in [0..2, 2..4, 4..6, 6..8] {
        loss(&net.forward(&input(rows)).unwrap())
            .mul_scalar(0.5)
            .backward()
            .unwrap();
    }
    let want = grads(&net);
    let results = ThreadWorld::run(2, |comm| {
        let rank = comm.rank();
        let mut ddp = DistributedDataParallel::new(mlp(0), arc(comm))?;
        let first = rank * 4..rank * 4 + 2;
        let second = rank * 4 + 2..rank * 4 + 4;
        let local = ddp.no_sync(|ddp| -> Result<Vec<Vec<f64>>, BoxErr> {
            let l = loss(&ddp.forward(&input(first))?);
            ddp.backward(&l)?;
            Ok(grads(ddp))
        })?;
        let after_no_sync = ddp.reductions();
        let l = loss(&ddp.forward(&input(second))?);
        ddp.backward(&l)?;
        Ok::<_, BoxErr>((local, after_no_sync, grads(&ddp)))
    })
    .unwrap();
    let mut locals = Vec::new();
    for r in results {
        let (local, after_no_sync, g) = r.unwrap();
        assert_eq!(after_no_sync, 0, "no reduction inside no_sync");
        locals.push(local);
        // (g_first + g_second) summed over ranks / 2 = 0.5 * sum of the
        // four micro-batch gradients = the reference.
        assert_grads_close(&g, &want, 1e-14);
    }
    assert_ne!(
        locals[0], locals[1],
        "inside no_sync each rank keeps its own"
    );
}

#[test]
fn an_unused_parameter_needs_finish_and_counts_as_zero() {
    // Only the first layer is used on a forward that stops early: the last
    // Linear gets no gradient.
    let results = ThreadWorld::run(2, |comm| {
        let rank = comm.rank();
        let mut ddp = DistributedDataParallel::new(mlp(0), arc(comm))?;
        let x = input(rank * 4..rank * 4 + 4);
        let h = ddp.module_mut().children_mut()[0].1.forward(&x)?;
        let l = loss(&h);
        l.backward()?;
        // The bucket with the unused parameters is incomplete: a forward now
        // is refused.
        let refused = ddp.forward(&x).map(|_| ()).unwrap_err().to_string();
        ddp.finish_gradient_sync()?;
        let reductions = ddp.reductions();
        let g = grads(&ddp);
        ddp.forward(&x)?; // allowed again
        Ok::<_, BoxErr>((refused, reductions, g))
    })
    .unwrap();
    let mut net = mlp(0);
    let h = net.children_mut()[0].1.forward(&input(0..8)).unwrap();
    loss(&h).backward().unwrap();
    let first_layer = grads(&net);
    for r in results {
        let (refused, reductions, g) = r.unwrap();
        assert!(refused.contains("2.weight, 2.bias"), "{refused}");
        assert_eq!(reductions, 1);
        assert_grads_close(&g[..2], &first_layer[..2], 1e-14);
        assert_eq!(g[2], vec![0.0; 10]);
        assert_eq!(g[3], vec![0.0; 2]);
    }
}

#[test]
fn different_architectures_are_an_error_on_every_rank() {
    let results = ThreadWorld::run(2, |comm| {
        let net = if comm.rank() == 0 {
            mlp(0)
        } else {
            let mut rng = Rng::new(0);
            Sequential::new()
                .push(Linear::new(3, 4, true, &mut rng).unwrap())
                .push(ReLU::new())
                .push(Linear::new(4, 2, true, &mut rng).unwrap())
        };
        DistributedDataParallel::new(net, arc(comm)).map(|_| ())
    })
    .unwrap();
    for r in results {
        let err = r.unwrap_err();
        assert!(
            matches!(
                err,
                DistError::InvalidArgument {
                    param: "module",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("same architecture"), "{err}");
    }
}

#[test]
fn zero_bucket_capacity_is_an_error() {
    let results = ThreadWorld::run(1, |comm| {
        let options = DdpOptions {
            bucket_cap_bytes: 0,
            ..DdpOptions::default()
        };
        DistributedDataParallel::with_options(mlp(0), arc(comm), options).map(|_| ())
    })
    .unwrap();
    let err = results.into_iter().next().unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            DistError::InvalidArgument {
                param: "bucket_cap_bytes",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn dropping_the_wrapper_removes_its_hooks() {
    // After the drop, rank 0 runs a backward pass alone while rank 1 has
    // left: a hook still registered would enter a collective and fail.
    let results = ThreadWorld::run(2, |comm| {
        let rank = comm.rank();
        let ddp = DistributedDataParallel::new(mlp(0), arc(comm))?;
        let params = ddp.parameters();
        drop(ddp);
        if rank == 0 {
            let y = input(0..8).linear(&params[0], Some(&params[1]))?.sum_all();
            y.backward()?;
        }
        Ok::<_, BoxErr>(params[0].grad().is_some())
    })
    .unwrap();
    let got: Vec<bool> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(got, vec![true, false]);
}
