//! Named tests of the PyTorch batch-norm semantics ops-norm pins.

mod common;

use autograd::{BackwardOptions, Tensor, Var, grad};
use common::*;
use core_tensor::Rng;
use ops_norm::{BatchNormConfig, NormError, RunningStats, batch_norm};

/// Channel 0 holds 1, 3, 5, 7 (mean 4, biased var 5, unbiased 20/3);
/// channel 1 holds 0, 0, 2, 2 (mean 1, biased var 1, unbiased 4/3).
fn two_channel_batch() -> Tensor<f64> {
    Tensor::from_vec(&[2, 2, 2], vec![1.0, 3.0, 0.0, 0.0, 5.0, 7.0, 2.0, 2.0]).unwrap()
}

fn stats(mean: [f64; 2], var: [f64; 2], count: i64) -> RunningStats<f64> {
    RunningStats::from_parts(
        Tensor::from_vec(&[2], mean.to_vec()).unwrap(),
        Tensor::from_vec(&[2], var.to_vec()).unwrap(),
        count,
    )
}

#[test]
fn running_stats_momentum_number_uses_unbiased_variance_and_counts() {
    let x = Var::constant(two_channel_batch());
    let mut st = stats([0.5, -1.0], [2.0, 3.0], 5);
    let cfg = BatchNormConfig {
        training: true,
        momentum: Some(0.25),
        eps: 1e-5,
    };
    batch_norm(&x, None, None, Some(&mut st), &cfg).unwrap();
    assert_close(
        &vals(&st.mean),
        &[0.75 * 0.5 + 0.25 * 4.0, -0.75 + 0.25 * 1.0],
        0.0,
        1e-15,
        "running_mean",
    );
    assert_close(
        &vals(&st.var),
        &[
            0.75 * 2.0 + 0.25 * 20.0 / 3.0,
            0.75 * 3.0 + 0.25 * 4.0 / 3.0,
        ],
        0.0,
        1e-14,
        "running_var",
    );
    assert_eq!(st.num_batches_tracked, 6);
}

#[test]
fn running_stats_momentum_none_is_a_cumulative_average() {
    // With 3 batches seen, the 4th gets factor 1/4.
    let x = Var::constant(two_channel_batch());
    let mut st = stats([0.5, -1.0], [2.0, 3.0], 3);
    let cfg = BatchNormConfig {
        training: true,
        momentum: None,
        eps: 1e-5,
    };
    batch_norm(&x, None, None, Some(&mut st), &cfg).unwrap();
    assert_eq!(st.num_batches_tracked, 4);
    assert_close(&vals(&st.mean), &[1.375, -0.5], 0.0, 1e-15, "running_mean");
    assert_close(
        &vals(&st.var),
        &[1.5 + 5.0 / 3.0, 2.25 + 1.0 / 3.0],
        0.0,
        1e-14,
        "running_var",
    );

    // From fresh buffers, after three batches the statistics are the plain
    // averages of the batch means and unbiased variances.
    let mut rng = Rng::new(7);
    let mut st = RunningStats::<f64>::new(3);
    let (mut means, mut vars) = (vec![0.0; 3], vec![0.0; 3]);
    for _ in 0..3 {
        let xb: Tensor<f64> = uniform(&mut rng, &[4, 3, 5], -2.0, 3.0);
        for c in 0..3 {
            let v: Vec<f64> = (0..4)
                .flat_map(|n| (0..5).map(move |s| (n * 3 + c) * 5 + s))
                .map(|i| xb.as_slice()[i])
                .collect();
            let m = v.iter().sum::<f64>() / 20.0;
            means[c] += m / 3.0;
            vars[c] += v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / 19.0 / 3.0;
        }
        batch_norm(
            &Var::constant(xb),
            None,
            None,
            Some(&mut st),
            &BatchNormConfig {
                momentum: None,
                ..Default::default()
            },
        )
        .unwrap();
    }
    assert_eq!(st.num_batches_tracked, 3);
    assert_close(&vals(&st.mean), &means, 1e-12, 1e-14, "cumulative mean");
    assert_close(&vals(&st.var), &vars, 1e-12, 1e-14, "cumulative var");
}

#[test]
fn training_normalizes_with_the_biased_batch_variance() {
    let x = Var::constant(two_channel_batch());
    let w = Var::constant(Tensor::from_vec(&[2], vec![2.0, 0.5]).unwrap());
    let b = Var::constant(Tensor::from_vec(&[2], vec![1.0, -1.0]).unwrap());
    let y = batch_norm(
        &x,
        Some(&w),
        Some(&b),
        None,
        &BatchNormConfig {
            eps: 0.0,
            ..BatchNormConfig::train()
        },
    );
    // eps = 0 is rejected in training (PyTorch: must be positive).
    assert!(matches!(y, Err(NormError::InvalidEps { .. })));
    let y = batch_norm(&x, Some(&w), Some(&b), None, &BatchNormConfig::train()).unwrap();
    let s0 = (5.0f64 + 1e-5).sqrt();
    let s1 = (1.0f64 + 1e-5).sqrt();
    let want = [
        -3.0 / s0 * 2.0 + 1.0,
        -1.0 / s0 * 2.0 + 1.0,
        -1.0 / s1 * 0.5 - 1.0,
        -1.0 / s1 * 0.5 - 1.0,
        1.0 / s0 * 2.0 + 1.0,
        3.0 / s0 * 2.0 + 1.0,
        1.0 / s1 * 0.5 - 1.0,
        1.0 / s1 * 0.5 - 1.0,
    ];
    assert_close(&vals(&y.value()), &want, 1e-14, 1e-14, "y");
}

#[test]
fn eval_with_running_stats_is_the_affine_map_and_leaves_them_alone() {
    let x = Var::constant(two_channel_batch());
    let mut st = stats([1.0, -1.0], [4.0, 0.25], 9);
    let w = Var::constant(Tensor::from_vec(&[2], vec![3.0, 1.0]).unwrap());
    let y = batch_norm(
        &x,
        Some(&w),
        None,
        Some(&mut st),
        &BatchNormConfig {
            eps: 0.0,
            ..BatchNormConfig::eval()
        },
    )
    .unwrap();
    let want: Vec<f64> = [1.0, 3.0, 0.0, 0.0, 5.0, 7.0, 2.0, 2.0]
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if (i / 2) % 2 == 0 {
                (v - 1.0) / 2.0 * 3.0
            } else {
                (v + 1.0) / 0.5
            }
        })
        .collect();
    assert_close(&vals(&y.value()), &want, 1e-15, 0.0, "y");
    assert_eq!(
        st,
        stats([1.0, -1.0], [4.0, 0.25], 9),
        "eval must not touch the running statistics"
    );
    // Negative eps is rejected in eval, eps = 0 accepted (above).
    let bad = batch_norm(
        &x,
        None,
        None,
        Some(&mut st),
        &BatchNormConfig {
            eps: -1e-3,
            ..BatchNormConfig::eval()
        },
    );
    assert!(matches!(bad, Err(NormError::InvalidEps { .. })));
}

#[test]
fn eval_without_running_stats_uses_batch_statistics() {
    // PyTorch's track_running_stats = False: eval normalizes with the batch.
    let x = Var::constant(two_channel_batch());
    let train = batch_norm(&x, None, None, None, &BatchNormConfig::train()).unwrap();
    let eval = batch_norm(&x, None, None, None, &BatchNormConfig::eval()).unwrap();
    assert_eq!(train.value(), eval.value());
    // ...and so it rejects a single value per channel, like training.
    let one = Var::constant(Tensor::from_vec(&[1, 2], vec![1.0, 2.0]).unwrap());
    assert!(matches!(
        batch_norm(&one, None, None, None, &BatchNormConfig::eval()),
        Err(NormError::TooFewValues { .. })
    ));
}

#[test]
fn track_running_stats_false_trains_without_buffers() {
    // A module with track_running_stats = False passes no buffers: batch
    // statistics in both modes, nothing to update.
    let mut rng = Rng::new(3);
    let xt: Tensor<f64> = uniform(&mut rng, &[3, 2, 4], -1.0, 1.0);
    let x = Var::leaf(xt.clone());
    let y = batch_norm(&x, None, None, None, &BatchNormConfig::train()).unwrap();
    let r = ref_batch_train(&Var::constant(xt), None, None, 1e-5).unwrap();
    assert_close(&vals(&y.value()), &vals(&r.value()), 1e-12, 1e-12, "y");
    // With buffers but training, they are updated; eval leaves them.
    let mut st = RunningStats::new(2);
    batch_norm(&x, None, None, Some(&mut st), &BatchNormConfig::train()).unwrap();
    assert_eq!(st.num_batches_tracked, 1);
    assert_ne!(st.mean, RunningStats::<f64>::new(2).mean);
}

#[test]
fn affine_off_weight_only_and_bias_only_match_the_reference() {
    let mut rng = Rng::new(11);
    let xt: Tensor<f64> = uniform(&mut rng, &[4, 3, 2, 2], -2.0, 2.0);
    let wt: Tensor<f64> = uniform(&mut rng, &[3], 0.5, 2.0);
    let bt: Tensor<f64> = uniform(&mut rng, &[3], -1.0, 1.0);
    let x = Var::constant(xt.clone());
    let (w, b) = (Var::constant(wt), Var::constant(bt));
    for (wo, bo) in [
        (None, None),
        (Some(&w), None),
        (None, Some(&b)),
        (Some(&w), Some(&b)),
    ] {
        let y = batch_norm(&x, wo, bo, None, &BatchNormConfig::train()).unwrap();
        let r = ref_batch_train(&x, wo, bo, 1e-5).unwrap();
        assert_close(&vals(&y.value()), &vals(&r.value()), 1e-12, 1e-12, "y");
    }
}

#[test]
fn batch_size_one_is_an_error_only_for_a_single_value_per_channel() {
    let cfg = BatchNormConfig::train();
    for shape in [vec![1, 3], vec![1, 3, 1, 1], vec![1, 3, 1, 1, 1]] {
        let x = Var::constant(Tensor::<f64>::ones(&shape));
        let err = batch_norm(&x, None, None, None, &cfg).unwrap_err();
        assert!(matches!(err, NormError::TooFewValues { .. }), "{shape:?}");
        assert!(
            err.to_string()
                .contains("expected more than 1 value per channel when training"),
            "{err}"
        );
    }
    for shape in [vec![1, 3, 2], vec![1, 3, 2, 1], vec![2, 3]] {
        let x = Var::constant(Tensor::<f64>::ones(&shape));
        assert!(batch_norm(&x, None, None, None, &cfg).is_ok(), "{shape:?}");
    }
    // Eval with running statistics accepts a batch of one.
    let x = Var::constant(Tensor::<f64>::ones(&[1, 3]));
    let mut st = RunningStats::new(3);
    assert!(batch_norm(&x, None, None, Some(&mut st), &BatchNormConfig::eval()).is_ok());
}

#[test]
fn ranks_two_to_five_match_the_reference_forward_and_backward() {
    let mut rng = Rng::new(5);
    for shape in [
        vec![5, 3],
        vec![3, 2, 4],
        vec![2, 3, 3, 2],
        vec![2, 2, 2, 3, 2],
    ] {
        let c = shape[1];
        let xt: Tensor<f64> = uniform(&mut rng, &shape, -2.0, 2.0);
        let wt: Tensor<f64> = uniform(&mut rng, &[c], 0.5, 1.5);
        let bt: Tensor<f64> = uniform(&mut rng, &[c], -1.0, 1.0);
        let gt: Tensor<f64> = uniform(&mut rng, &shape, -1.0, 1.0);
        let (x, w, b) = (
            Var::leaf(xt.clone()),
            Var::leaf(wt.clone()),
            Var::leaf(bt.clone()),
        );
        let y = batch_norm(&x, Some(&w), Some(&b), None, &BatchNormConfig::train()).unwrap();
        let (xr, wr, br) = (Var::leaf(xt), Var::leaf(wt), Var::leaf(bt));
        let r = ref_batch_train(&xr, Some(&wr), Some(&br), 1e-5).unwrap();
        assert_close(&vals(&y.value()), &vals(&r.value()), 1e-12, 1e-12, "y");
        y.backward_with(&gt, BackwardOptions::default()).unwrap();
        r.backward_with(&gt, BackwardOptions::default()).unwrap();
        for (a, b, what) in [(&x, &xr, "dx"), (&w, &wr, "dweight"), (&b, &br, "dbias")] {
            assert_close(
                &vals(&a.grad().unwrap()),
                &vals(&b.grad().unwrap()),
                1e-10,
                1e-12,
                what,
            );
        }
    }
}

#[test]
fn large_offset_f32_matches_f64_within_1e_2() {
    let mut rng = Rng::new(1234);
    let shape = [16, 4, 64];
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|_| (1e4 + rng.normal()) as f32).collect();
    let x32 = Var::constant(Tensor::from_vec(&shape, data.clone()).unwrap());
    let x64 =
        Var::constant(Tensor::from_vec(&shape, data.iter().map(|&v| v as f64).collect()).unwrap());
    let mut st32 = RunningStats::<f32>::new(4);
    let mut st64 = RunningStats::<f64>::new(4);
    let y32 = batch_norm(&x32, None, None, Some(&mut st32), &BatchNormConfig::train()).unwrap();
    let y64 = batch_norm(&x64, None, None, Some(&mut st64), &BatchNormConfig::train()).unwrap();
    assert_close(&vals(&y32.value()), &vals(&y64.value()), 0.0, 1e-2, "y");
    assert_close(
        &vals(&st32.var),
        &vals(&st64.var),
        1e-4,
        1e-4,
        "running_var",
    );
    // The naive E[x²] − E[x]² in f32 is far off at this offset: make sure the
    // data really is hard.
    let m: f32 = data[..64].iter().sum::<f32>() / 64.0;
    let naive = data[..64].iter().map(|v| v * v).sum::<f32>() / 64.0 - m * m;
    let two_pass = data[..64]
        .iter()
        .map(|&v| (v as f64 - data[..64].iter().map(|&u| u as f64).sum::<f64>() / 64.0).powi(2))
        .sum::<f64>()
        / 64.0;
    assert!(
        (naive as f64 - two_pass).abs() > 0.1,
        "naive {naive} vs {two_pass}"
    );
}

#[test]
fn eval_backward_is_the_affine_map_including_dweight_and_dbias() {
    let mut rng = Rng::new(21);
    let shape = [3, 2, 5];
    let xt: Tensor<f64> = uniform(&mut rng, &shape, -2.0, 2.0);
    let wt: Tensor<f64> = uniform(&mut rng, &[2], 0.5, 1.5);
    let bt: Tensor<f64> = uniform(&mut rng, &[2], -1.0, 1.0);
    let gt: Tensor<f64> = uniform(&mut rng, &shape, -1.0, 1.0);
    let rm = Tensor::from_vec(&[2], vec![0.3, -0.7]).unwrap();
    let rv = Tensor::from_vec(&[2], vec![1.7, 0.4]).unwrap();
    let mut st = RunningStats::from_parts(rm.clone(), rv.clone(), 2);
    let (x, w, b) = (
        Var::leaf(xt.clone()),
        Var::leaf(wt.clone()),
        Var::leaf(bt.clone()),
    );
    let y = batch_norm(
        &x,
        Some(&w),
        Some(&b),
        Some(&mut st),
        &BatchNormConfig::eval(),
    )
    .unwrap();
    let (xr, wr, br) = (Var::leaf(xt.clone()), Var::leaf(wt.clone()), Var::leaf(bt));
    let r = ref_batch_eval(&xr, Some(&wr), Some(&br), &rm, &rv, 1e-5).unwrap();
    assert_close(&vals(&y.value()), &vals(&r.value()), 1e-13, 1e-13, "y");
    y.backward_with(&gt, BackwardOptions::default()).unwrap();
    r.backward_with(&gt, BackwardOptions::default()).unwrap();
    for (a, b, what) in [(&x, &xr, "dx"), (&w, &wr, "dweight"), (&b, &br, "dbias")] {
        assert_close(
            &vals(&a.grad().unwrap()),
            &vals(&b.grad().unwrap()),
            1e-12,
            1e-13,
            what,
        );
    }
    // Hand formula: dx = g·w/sqrt(rv+eps); dw[c] = Σ g·(x − rm)/sqrt(rv+eps); db = Σ g.
    let (xs, gs) = (xt.as_slice(), gt.as_slice());
    let mut dw = [0.0; 2];
    let mut db = [0.0; 2];
    for i in 0..xs.len() {
        let c = (i / 5) % 2;
        let inv = 1.0 / (rv.as_slice()[c] + 1e-5).sqrt();
        assert!((x.grad().unwrap().as_slice()[i] - gs[i] * wt.as_slice()[c] * inv).abs() < 1e-14);
        dw[c] += gs[i] * (xs[i] - rm.as_slice()[c]) * inv;
        db[c] += gs[i];
    }
    assert_close(
        &vals(&w.grad().unwrap()),
        &dw,
        1e-12,
        1e-14,
        "dweight by hand",
    );
    assert_close(
        &vals(&b.grad().unwrap()),
        &db,
        1e-12,
        1e-14,
        "dbias by hand",
    );
}

#[test]
fn training_input_gradients_sum_to_zero_per_channel() {
    let mut rng = Rng::new(8);
    let shape = [4, 3, 6];
    let x = Var::leaf(uniform::<f64>(&mut rng, &shape, -3.0, 3.0));
    let w = Var::leaf(uniform::<f64>(&mut rng, &[3], 0.5, 1.5));
    let y = batch_norm(&x, Some(&w), None, None, &BatchNormConfig::train()).unwrap();
    let g: Tensor<f64> = uniform(&mut rng, &shape, -1.0, 1.0);
    let dx = grad(&[y], &[x], &[Var::constant(g)], false).unwrap()[0]
        .clone()
        .unwrap()
        .value();
    for c in 0..3 {
        let s: f64 = (0..4)
            .flat_map(|n| (0..6).map(move |k| (n * 3 + c) * 6 + k))
            .map(|i| dx.as_slice()[i])
            .sum();
        assert!(s.abs() < 1e-12, "channel {c}: {s}");
    }
}

#[test]
fn invalid_arguments_are_typed_errors() {
    let x = Var::constant(two_channel_batch());
    let w3 = Var::constant(Tensor::<f64>::ones(&[3]));
    let cfg = BatchNormConfig::train();
    let e = batch_norm(&x, Some(&w3), None, None, &cfg).unwrap_err();
    assert!(
        matches!(e, NormError::ParamShape { what: "weight", .. }),
        "{e}"
    );
    let e = batch_norm(&x, None, Some(&w3), None, &cfg).unwrap_err();
    assert!(
        matches!(e, NormError::ParamShape { what: "bias", .. }),
        "{e}"
    );
    let mut st = RunningStats::<f64>::new(3);
    let e = batch_norm(&x, None, None, Some(&mut st), &cfg).unwrap_err();
    assert!(
        matches!(
            e,
            NormError::ParamShape {
                what: "running_mean",
                ..
            }
        ),
        "{e}"
    );
    let mut st = RunningStats::from_parts(Tensor::zeros(&[2]), Tensor::ones(&[5]), 0);
    let e = batch_norm(&x, None, None, Some(&mut st), &cfg).unwrap_err();
    assert!(
        matches!(
            e,
            NormError::ParamShape {
                what: "running_var",
                ..
            }
        ),
        "{e}"
    );
    let mut st = RunningStats::<f64>::new(2);
    let e = batch_norm(
        &x,
        None,
        None,
        Some(&mut st),
        &BatchNormConfig {
            momentum: Some(f64::NAN),
            ..cfg
        },
    )
    .unwrap_err();
    assert!(matches!(e, NormError::InvalidMomentum { .. }), "{e}");
    assert_eq!(st, RunningStats::new(2), "a failed call must not update");
    let e = batch_norm(
        &x,
        None,
        None,
        None,
        &BatchNormConfig {
            eps: f64::NAN,
            ..cfg
        },
    )
    .unwrap_err();
    assert!(matches!(e, NormError::InvalidEps { .. }), "{e}");
    let e = batch_norm(
        &Var::constant(Tensor::<f64>::ones(&[4])),
        None,
        None,
        None,
        &cfg,
    )
    .unwrap_err();
    assert!(matches!(e, NormError::WrongRank { .. }), "{e}");
    let mut st = RunningStats::from_parts(Tensor::zeros(&[2]), Tensor::ones(&[2]), i64::MAX);
    let e = batch_norm(&x, None, None, Some(&mut st), &cfg).unwrap_err();
    assert!(matches!(e, NormError::Counter { .. }), "{e}");
    // Negative momentum is accepted, as in PyTorch.
    let mut st = RunningStats::<f64>::new(2);
    assert!(
        batch_norm(
            &x,
            None,
            None,
            Some(&mut st),
            &BatchNormConfig {
                momentum: Some(-1.2),
                ..cfg
            }
        )
        .is_ok()
    );
    // The error converts into the autograd error for `?` in user code.
    let ae: autograd::AutogradError = NormError::InvalidMomentum {
        op: "batch_norm",
        momentum: f64::NAN,
    }
    .into();
    assert!(
        ae.to_string()
            .starts_with("batch_norm: batch_norm: momentum must be a number"),
        "{ae}"
    );
}

#[test]
fn empty_batch_counts_but_does_not_move_the_statistics() {
    let x = Var::constant(Tensor::<f64>::zeros(&[0, 2, 3]));
    let mut st = RunningStats::new(2);
    let y = batch_norm(&x, None, None, Some(&mut st), &BatchNormConfig::train()).unwrap();
    assert_eq!(y.shape(), vec![0, 2, 3]);
    assert_eq!(st.num_batches_tracked, 1);
    assert_eq!(st.mean, RunningStats::<f64>::new(2).mean);
    assert_eq!(st.var, RunningStats::<f64>::new(2).var);
}
