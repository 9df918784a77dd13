//! Module semantics: training flags, buffers, names, state dicts, typed
//! errors, and a short training run.

use autograd::Var;
use core_tensor::{Rng, Tensor};
use nn::prelude::*;
use nn::{
    BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d, LayerNorm, LocalResponseNorm, MaxPool2d,
    NormOptions, RMSNorm, StateTensor,
};

fn t(shape: &[usize], v: Vec<f64>) -> Var<f64> {
    Var::constant(Tensor::from_vec(shape, v).unwrap())
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol, "element {i}: {x} vs {y}");
    }
}

fn nested(rng: &mut Rng) -> Sequential<f64> {
    let features = Sequential::new()
        .push(Conv2d::with_options(1, 2, [3, 3], ConvOptions::default().padding(1), rng).unwrap())
        .push(BatchNorm2d::new(2).unwrap())
        .push(ReLU::new())
        .push(MaxPool2d::new(2));
    Sequential::new()
        .add("features", features)
        .unwrap()
        .add("flat", Flatten::new())
        .unwrap()
        .add("classifier", Linear::new(8, 3, true, rng).unwrap())
        .unwrap()
}

#[test]
fn names_follow_pytorch() {
    let net = nested(&mut Rng::new(0));
    let params: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        params,
        [
            "features.0.weight",
            "features.0.bias",
            "features.1.weight",
            "features.1.bias",
            "classifier.weight",
            "classifier.bias"
        ]
    );
    let buffers: Vec<String> = net.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        buffers,
        [
            "features.1.running_mean",
            "features.1.running_var",
            "features.1.num_batches_tracked"
        ]
    );
    let sd = net.state_dict();
    let keys: Vec<&str> = sd.keys().collect();
    assert_eq!(
        keys[2..7],
        [
            "features.1.weight",
            "features.1.bias",
            "features.1.running_mean",
            "features.1.running_var",
            "features.1.num_batches_tracked"
        ]
    );
    assert!(Sequential::<f64>::new().add("a.b", ReLU::new()).is_err());
    assert!(
        Sequential::<f64>::new()
            .add("a", ReLU::new())
            .unwrap()
            .add("a", ReLU::new())
            .is_err()
    );
}

#[test]
fn train_and_eval_recurse() {
    let mut net = nested(&mut Rng::new(0));
    fn all_flags(m: &dyn Module<f64>, out: &mut Vec<bool>) {
        out.push(m.is_training());
        for (_, c) in m.children() {
            all_flags(c, out);
        }
    }
    let mut flags = Vec::new();
    all_flags(&net, &mut flags);
    assert_eq!(flags.len(), 8);
    assert!(flags.iter().all(|&f| f));
    net.eval();
    flags.clear();
    all_flags(&net, &mut flags);
    assert!(flags.iter().all(|&f| !f));
    net.train();
    flags.clear();
    all_flags(&net, &mut flags);
    assert!(flags.iter().all(|&f| f));
}

#[test]
fn batch_norm_updates_buffers_only_in_training() {
    let mut bn = BatchNorm1d::<f64>::new(2).unwrap();
    // Channel 0: 1, 3, 5, 7 (mean 4, unbiased var 20/3); channel 1: 0, 0, 2, 2 (mean 1, var 4/3).
    let x = t(&[4, 2], vec![1., 0., 3., 0., 5., 2., 7., 2.]);
    let y = bn.forward(&x).unwrap();
    let s = bn.running_stats().unwrap();
    close(s.mean.as_slice(), &[0.4, 0.1], 1e-15);
    close(
        s.var.as_slice(),
        &[0.9 + 0.1 * 20.0 / 3.0, 0.9 + 0.1 * 4.0 / 3.0],
        1e-15,
    );
    assert_eq!(s.num_batches_tracked, 1);
    // Training output uses the biased batch variance.
    let inv = 1.0 / (5.0f64 + 1e-5).sqrt();
    close(
        &y.value().as_slice()[..2],
        &[-3.0 * inv, -1.0 / (1.0f64 + 1e-5).sqrt()],
        1e-12,
    );
    // Eval: running statistics, no update.
    bn.eval();
    let before = bn.running_stats().unwrap().clone();
    let y = bn.forward(&x).unwrap();
    assert_eq!(bn.running_stats().unwrap(), &before);
    let want = (1.0 - 0.4) / (0.9f64 + 0.1 * 20.0 / 3.0 + 1e-5).sqrt();
    close(&y.value().as_slice()[..1], &[want], 1e-12);
    // Eval accepts a batch of one; training does not.
    assert!(bn.forward(&t(&[1, 2], vec![1., 2.])).is_ok());
    bn.train();
    let e = bn.forward(&t(&[1, 2], vec![1., 2.])).unwrap_err();
    assert!(e.to_string().contains("more than 1 value"), "{e}");
}

#[test]
fn momentum_none_is_a_cumulative_average() {
    let mut bn =
        BatchNorm1d::<f64>::with_options(1, NormOptions::batch_norm().momentum(None)).unwrap();
    let batches = [vec![1., 3.], vec![0., 4.], vec![10., 10.]];
    for b in &batches {
        bn.forward(&t(&[2, 1], b.clone())).unwrap();
    }
    let s = bn.running_stats().unwrap();
    assert_eq!(s.num_batches_tracked, 3);
    close(s.mean.as_slice(), &[(2.0 + 2.0 + 10.0) / 3.0], 1e-14);
    close(s.var.as_slice(), &[(2.0 + 8.0 + 0.0) / 3.0], 1e-14);
    // The buffers show up as I64 / F64 state-dict entries.
    let sd = bn.state_dict();
    assert_eq!(
        sd.get("num_batches_tracked"),
        Some(&StateTensor::Int(Tensor::scalar(3)))
    );
}

#[test]
fn untracked_batch_norm_has_no_buffers_and_uses_batch_stats_in_eval() {
    let mut bn =
        BatchNorm1d::<f64>::with_options(1, NormOptions::batch_norm().track_running_stats(false))
            .unwrap();
    assert!(bn.named_buffers().is_empty());
    assert_eq!(
        bn.state_dict().keys().collect::<Vec<_>>(),
        ["weight", "bias"]
    );
    bn.eval();
    let y = bn.forward(&t(&[2, 1], vec![1., 3.])).unwrap();
    close(
        y.value().as_slice(),
        &[-1.0 / (1.0f64 + 1e-5).sqrt(), 1.0 / (1.0f64 + 1e-5).sqrt()],
        1e-12,
    );
    // Batch size one has no batch statistics, even in eval (PyTorch too).
    assert!(bn.forward(&t(&[1, 1], vec![1.])).is_err());
}

#[test]
fn switching_tracking_off_after_construction_freezes_the_buffers() {
    let mut bn = BatchNorm1d::<f64>::new(1).unwrap();
    bn.set_track_running_stats(false);
    bn.forward(&t(&[2, 1], vec![1., 3.])).unwrap();
    let s = bn.running_stats().unwrap();
    assert_eq!(
        (s.mean.as_slice(), s.var.as_slice(), s.num_batches_tracked),
        (&[0.0][..], &[1.0][..], 0)
    );
    // Eval still normalizes with the (initial) running statistics.
    bn.eval();
    let y = bn.forward(&t(&[2, 1], vec![1., 3.])).unwrap();
    close(
        y.value().as_slice(),
        &[1.0 / (1.0f64 + 1e-5).sqrt(), 3.0 / (1.0f64 + 1e-5).sqrt()],
        1e-12,
    );
}

#[test]
fn instance_norm_follows_pytorch_flags() {
    let mut plain = InstanceNorm1d::<f64>::new(2).unwrap();
    assert!(plain.named_parameters().is_empty() && plain.named_buffers().is_empty());
    let x = t(&[1, 2, 2], vec![1., 3., 10., 14.]);
    plain.eval();
    let y = plain.forward(&x).unwrap();
    let s = (1.0f64 + 1e-5).sqrt();
    let s2 = (4.0f64 + 1e-5).sqrt();
    close(
        y.value().as_slice(),
        &[-1.0 / s, 1.0 / s, -2.0 / s2, 2.0 / s2],
        1e-12,
    );
    // Unbatched (C, L) input.
    let y = plain.forward(&t(&[2, 2], vec![1., 3., 10., 14.])).unwrap();
    assert_eq!(y.shape(), vec![2, 2]);
    let mut tracked = InstanceNorm1d::<f64>::with_options(
        2,
        NormOptions::instance_norm()
            .track_running_stats(true)
            .affine(true),
    )
    .unwrap();
    tracked.forward(&x).unwrap();
    let st = tracked.running_stats().unwrap();
    close(st.mean.as_slice(), &[0.2, 1.2], 1e-14);
    assert_eq!(
        st.num_batches_tracked, 0,
        "instance norm never counts batches"
    );
    tracked.eval();
    let y = tracked.forward(&x).unwrap();
    close(
        &y.value().as_slice()[..1],
        &[(1.0 - 0.2) / (0.9f64 + 0.1 * 2.0 + 1e-5).sqrt()],
        1e-12,
    );
    let e = tracked.forward(&t(&[1, 3, 2], vec![0.; 6])).unwrap_err();
    assert!(matches!(e, NnError::BadInput { .. }), "{e}");
}

#[test]
fn other_norms_have_pytorch_parameters() {
    let ln = LayerNorm::<f64>::new(&[3]).unwrap();
    let names: Vec<String> = ln.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    let mut rms = RMSNorm::<f64>::new(&[2]).unwrap();
    assert_eq!(rms.named_parameters().len(), 1);
    let y = rms.forward(&t(&[1, 2], vec![3., 4.])).unwrap();
    let r = (12.5f64 + f64::EPSILON).sqrt();
    close(y.value().as_slice(), &[3.0 / r, 4.0 / r], 1e-15);
    let mut gn = GroupNorm::<f64>::new(2, 4).unwrap();
    assert!(GroupNorm::<f64>::new(3, 4).is_err());
    let y = gn.forward(&t(&[1, 4, 1], vec![1., 3., 0., 2.])).unwrap();
    let s = (1.0f64 + 1e-5).sqrt();
    close(
        y.value().as_slice(),
        &[-1. / s, 1. / s, -1. / s, 1. / s],
        1e-12,
    );
    assert!(gn.forward(&t(&[1, 3, 1], vec![0.; 3])).is_err());
}

#[test]
fn dropout_is_identity_in_eval_and_seeded_in_training() {
    let x = t(&[1000], vec![1.0; 1000]);
    let mut d = Dropout::new(0.5, 42).unwrap();
    let y = Module::<f64>::forward(&mut d, &x).unwrap().value().to_vec();
    let zeros = y.iter().filter(|&&v| v == 0.0).count();
    assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
    assert!((400..600).contains(&zeros), "{zeros} zeros");
    let mut same = Dropout::new(0.5, 42).unwrap();
    assert_eq!(
        Module::<f64>::forward(&mut same, &x)
            .unwrap()
            .value()
            .to_vec(),
        y
    );
    Module::<f64>::eval(&mut d);
    assert_eq!(
        Module::<f64>::forward(&mut d, &x).unwrap().value().to_vec(),
        vec![1.0; 1000]
    );
    assert!(Dropout::new(1.5, 0).is_err());
}

#[test]
fn wrong_input_rank_or_channels_is_a_typed_error() {
    let mut rng = Rng::new(0);
    let mut conv = Conv2d::<f64>::new(3, 4, [3, 3], &mut rng).unwrap();
    let e = conv.forward(&t(&[1, 2, 5, 5], vec![0.; 50])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Conv2d: expected input with 3 channels on axis 1, got shape [1, 2, 5, 5]"
    );
    let e = conv.forward(&t(&[5, 5], vec![0.; 25])).unwrap_err();
    assert!(
        e.to_string()
            .contains("of rank 4 (batched) or 3 (unbatched)"),
        "{e}"
    );
    // Sizes whose element count overflows are errors, not panics.
    assert!(matches!(
        Linear::<f64>::new(usize::MAX / 2, 4, true, &mut rng),
        Err(NnError::Tensor(_))
    ));
    assert!(Conv2d::<f64>::new(1, 1 << 40, [1 << 20, 1 << 20], &mut rng).is_err());
    let mut lin = Linear::<f64>::new(4, 2, true, &mut rng).unwrap();
    let e = lin.forward(&t(&[2, 3], vec![0.; 6])).unwrap_err();
    assert!(
        matches!(
            e,
            NnError::BadInput {
                module: "Linear",
                ..
            }
        ),
        "{e}"
    );
    let mut bn = BatchNorm2d::<f64>::new(3).unwrap();
    let e = bn.forward(&t(&[2, 3, 4], vec![0.; 24])).unwrap_err();
    assert!(
        e.to_string()
            .contains("BatchNorm2d: expected input of rank 4"),
        "{e}"
    );
    let e = bn.forward(&t(&[2, 2, 1, 2], vec![0.; 8])).unwrap_err();
    assert!(e.to_string().contains("with 3 channels"), "{e}");
}

#[test]
fn local_response_norm_module_matches_pytorch() {
    // torch.nn.LocalResponseNorm(3) and LocalResponseNorm(2, alpha=0.5,
    // beta=1.0, k=2.0) on channels [1, 20, -30, 4] of one pixel, float64.
    let x = t(&[1, 4, 1], vec![1.0, 20.0, -30.0, 4.0]);
    let mut defaults = LocalResponseNorm::new(3).unwrap();
    let y = Module::<f64>::forward(&mut defaults, &x).unwrap();
    let want = [
        0.9900908318593054,
        19.373240832251224,
        -29.049421121380476,
        3.9107806563849747,
    ];
    for (a, b) in y.value().as_slice().iter().zip(want) {
        assert!((a - b).abs() < 1e-13, "{a} vs {b}");
    }
    let mut custom = LocalResponseNorm::with_options(2, 0.5, 1.0, 2.0).unwrap();
    let y = Module::<f64>::forward(&mut custom, &x).unwrap();
    let want = [
        0.4444444444444444,
        0.19559902200489,
        -0.09174311926605505,
        0.017316017316017316,
    ];
    for (a, b) in y.value().as_slice().iter().zip(want) {
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }
    assert!(Module::<f64>::named_parameters(&custom).is_empty());
    assert!(matches!(
        LocalResponseNorm::new(0),
        Err(NnError::InvalidConfig { param: "size", .. })
    ));
    let e = Module::<f64>::forward(&mut custom, &t(&[4, 1], vec![0.0; 4])).unwrap_err();
    assert!(matches!(e, NnError::Norm(_)), "{e}");
}

#[test]
fn batch_and_instance_norm_check_their_options_alike() {
    let cases = [
        (0, NormOptions::batch_norm(), "num_features"),
        (2, NormOptions::batch_norm().eps(-1e-5), "eps"),
        (2, NormOptions::batch_norm().eps(f64::NAN), "eps"),
        (
            2,
            NormOptions::batch_norm().momentum(Some(f64::NAN)),
            "momentum",
        ),
    ];
    for (c, options, param) in cases {
        for (module, err) in [
            (
                "BatchNorm2d",
                BatchNorm2d::<f64>::with_options(c, options).err(),
            ),
            (
                "InstanceNorm1d",
                InstanceNorm1d::<f64>::with_options(c, options).err(),
            ),
        ] {
            match err {
                Some(NnError::InvalidConfig {
                    module: m,
                    param: p,
                    ..
                }) => assert_eq!((m, p), (module, param)),
                other => panic!("{module} with {options:?}: {other:?}"),
            }
        }
    }
    let e = InstanceNorm1d::<f64>::with_options(2, NormOptions::instance_norm().eps(-1.0))
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "InstanceNorm1d: invalid eps: eps must be non-negative, got -1"
    );
    // LayerNorm and RMSNorm need at least one normalized axis.
    for err in [
        LayerNorm::<f64>::new(&[]).err(),
        RMSNorm::<f64>::new(&[]).err(),
    ] {
        assert!(
            matches!(
                err,
                Some(NnError::InvalidConfig {
                    param: "normalized_shape",
                    ..
                })
            ),
            "{err:?}"
        );
    }
}

#[test]
fn mismatched_state_dicts_are_reported_and_leave_the_module_untouched() {
    let mut rng = Rng::new(0);
    let mut net = nested(&mut rng);
    let good = net.state_dict();
    let mut bad = good.clone();
    bad.remove("classifier.bias");
    bad.insert("classifier.extra", StateTensor::Float(Tensor::zeros(&[1])));
    bad.insert(
        "features.0.weight",
        StateTensor::Float(Tensor::zeros(&[2, 1, 2, 2])),
    );
    let other = nested(&mut Rng::new(9)).state_dict();
    for (k, v) in other.iter() {
        if bad.get(k).is_some() && k != "features.0.weight" {
            bad.insert(k, v.clone());
        }
    }
    let err = net.load_state_dict(&bad, true).unwrap_err();
    match &err {
        NnError::StateDictMismatch {
            missing,
            unexpected,
            mismatched,
        } => {
            assert_eq!(missing, &["classifier.bias"]);
            assert_eq!(unexpected, &["classifier.extra"]);
            assert_eq!(mismatched.len(), 1);
            assert_eq!(mismatched[0].key, "features.0.weight");
            assert_eq!(mismatched[0].expected, vec![2, 1, 3, 3]);
        }
        other => panic!("unexpected error {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("missing keys [\"classifier.bias\"]")
            && msg.contains("features.0.weight (module [2, 1, 3, 3], state dict [2, 1, 2, 2])"),
        "{msg}"
    );
    // Nothing was copied.
    assert_eq!(net.state_dict(), good);
    // Non-strict still refuses mis-shaped tensors...
    assert!(net.load_state_dict(&bad, false).is_err());
    // ...but loads the rest when only keys are missing or unexpected.
    let mut partial = other.clone();
    partial.remove("classifier.bias");
    partial.insert("extra", StateTensor::Float(Tensor::zeros(&[1])));
    let report = net.load_state_dict(&partial, false).unwrap();
    assert_eq!(report.missing, ["classifier.bias"]);
    assert_eq!(report.unexpected, ["extra"]);
    assert_eq!(
        net.state_dict().get("classifier.weight"),
        other.get("classifier.weight")
    );
    assert_eq!(
        net.state_dict().get("classifier.bias"),
        good.get("classifier.bias")
    );
    // A float where an integer counter lives is accepted and rounded; an integer weight is not.
    let mut ints = other.clone();
    ints.insert(
        "features.1.num_batches_tracked",
        StateTensor::Float(Tensor::scalar(5.0)),
    );
    net.load_state_dict(&ints, true).unwrap();
    assert_eq!(
        net.state_dict().get("features.1.num_batches_tracked"),
        Some(&StateTensor::Int(Tensor::scalar(5)))
    );
    ints.insert(
        "classifier.bias",
        StateTensor::Int(Tensor::from_vec(&[3], vec![1, 2, 3]).unwrap()),
    );
    assert!(net.load_state_dict(&ints, true).is_err());
}

#[test]
fn parameters_keep_identity_across_loads_and_zero_grad_clears() {
    let mut rng = Rng::new(1);
    let mut net = nested(&mut rng);
    let before = net.parameters();
    let other = nested(&mut Rng::new(2)).state_dict();
    net.load_state_dict(&other, true).unwrap();
    let after = net.parameters();
    assert!(before.iter().zip(&after).all(|(a, b)| a.id() == b.id()));
    let x = t(
        &[2, 1, 4, 4],
        (0..32).map(|v| (v as f64 * 0.37).sin()).collect(),
    );
    net.forward(&x).unwrap().sum_all().backward().unwrap();
    assert!(after.iter().all(|p| p.grad().is_some()));
    net.zero_grad();
    assert!(after.iter().all(|p| p.grad().is_none()));
}

#[test]
fn a_short_training_run_reduces_the_loss() {
    let mut rng = Rng::new(3);
    let mut net = nested(&mut rng);
    let x = t(
        &[6, 1, 4, 4],
        (0..96).map(|_| rng.uniform_in(-1.0, 1.0)).collect(),
    );
    let targets = [0, 1, 2, 0, 1, 2];
    let mut opt = Sgd::new(net.parameters(), SgdOptions::new(0.1).momentum(0.9)).unwrap();
    let mut losses = Vec::new();
    for _ in 0..15 {
        opt.zero_grad();
        let loss =
            cross_entropy(&net.forward(&x).unwrap(), &targets, Reduction::Mean, 0.0).unwrap();
        loss.backward().unwrap();
        opt.step().unwrap();
        losses.push(loss.value().as_slice()[0]);
    }
    assert!(losses[14] < 0.3 * losses[0], "{losses:?}");
}
