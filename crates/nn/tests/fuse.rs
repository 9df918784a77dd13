//! Folding eval-mode batch norms into convolutions and linear layers: the
//! fused layer's outputs equal the pair's (1e-12 in f64) over random
//! geometries with groups, the typed errors, and fusing a `Sequential`.

use autograd::Var;
use core_tensor::{Float, Rng, Tensor};
use nn::{
    BatchNorm, BatchNorm1d, BatchNorm2d, ConvNd, ConvOptions, Flatten, Linear, MaxPool2d, Module,
    NnError, NormOptions, ReLU, Sequential, StateTensor, fuse_conv_bn_eval,
    fuse_conv_bn_sequential, fuse_linear_bn_eval,
};
use proptest::prelude::*;

fn random(shape: &[usize], lo: f64, hi: f64, rng: &mut Rng) -> Tensor<f64> {
    let n = shape.iter().product();
    Tensor::from_vec(shape, rng.uniform_vec(n, lo, hi)).unwrap()
}

fn cast<F: Float>(t: &Tensor<f64>) -> Tensor<F> {
    t.map(|v| F::cast(*v))
}

/// Random running statistics (variance in [0.5, 2]) and, when affine,
/// random weight and bias; then eval mode.
fn randomize_bn<F: Float, const D: usize>(bn: &mut BatchNorm<F, D>, c: usize, rng: &mut Rng) {
    let mean = random(&[c], -1.0, 1.0, rng);
    let var = random(&[c], 0.5, 2.0, rng);
    bn.set_own_buffer("running_mean", StateTensor::Float(cast(&mean)))
        .unwrap();
    bn.set_own_buffer("running_var", StateTensor::Float(cast(&var)))
        .unwrap();
    for (_, p) in bn.own_parameters() {
        p.set_value(cast(&random(&[c], -1.5, 1.5, rng))).unwrap();
    }
    bn.eval();
}

fn worst_diff<F: Float>(a: &Tensor<F>, b: &Tensor<F>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| (x.widen() - y.widen()).abs())
        .fold(0.0, f64::max)
}

#[derive(Clone, Debug)]
struct Geometry {
    groups: usize,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    size: usize,
    batch: usize,
    bias: bool,
    affine: bool,
    eps: f64,
    seed: u64,
}

fn geometry() -> impl Strategy<Value = Geometry> {
    (
        (1usize..=3, 1usize..=2, 1usize..=3, 1usize..=3, 1usize..=2),
        (0usize..=1, 1usize..=2, 0usize..=3, 1usize..=2),
        (any::<bool>(), any::<bool>(), 1e-6f64..0.1, any::<u64>()),
    )
        .prop_map(
            |(
                (groups, cpg_in, cpg_out, kernel, stride),
                (padding, dilation, extra, batch),
                (bias, affine, eps, seed),
            )| {
                let reach = dilation * (kernel - 1) + 1;
                Geometry {
                    groups,
                    cin: groups * cpg_in,
                    cout: groups * cpg_out,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    size: reach + extra,
                    batch,
                    bias,
                    affine,
                    eps,
                    seed,
                }
            },
        )
}

/// `max |fused(x) − bn(conv(x))|` for a `D`-dimensional geometry in `F`.
fn conv_case<F: Float, const D: usize>(g: &Geometry) -> f64 {
    let mut rng = Rng::new(g.seed);
    let options = ConvOptions::<D>::default()
        .groups(g.groups)
        .stride(g.stride)
        .padding(g.padding)
        .dilation(g.dilation)
        .bias(g.bias);
    let mut conv =
        ConvNd::<F, D>::with_options(g.cin, g.cout, [g.kernel; D], options, &mut rng).unwrap();
    let mut bn = BatchNorm::<F, D>::with_options(
        g.cout,
        NormOptions::batch_norm().eps(g.eps).affine(g.affine),
    )
    .unwrap();
    randomize_bn(&mut bn, g.cout, &mut rng);
    conv.eval();
    let mut fused = fuse_conv_bn_eval(&conv, &bn).unwrap();
    assert!(!fused.is_training());
    let mut shape = vec![g.batch, g.cin];
    shape.extend([g.size; D]);
    let x = Var::constant(cast::<F>(&random(&shape, -2.0, 2.0, &mut rng)));
    let want = bn.forward(&conv.forward(&x).unwrap()).unwrap().value();
    let got = fused.forward(&x).unwrap().value();
    worst_diff(&got, &want)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn fused_conv1d_equals_the_pair(g in geometry()) {
        prop_assert!(conv_case::<f64, 1>(&g) <= 1e-12);
        prop_assert!(conv_case::<f32, 1>(&g) <= 1e-4);
    }

    #[test]
    fn fused_conv2d_equals_the_pair(g in geometry()) {
        prop_assert!(conv_case::<f64, 2>(&g) <= 1e-12);
        prop_assert!(conv_case::<f32, 2>(&g) <= 1e-4);
    }

    #[test]
    fn fused_conv3d_equals_the_pair(g in geometry()) {
        let small = Geometry { size: g.size.min(g.dilation * (g.kernel - 1) + 2), ..g };
        prop_assert!(conv_case::<f64, 3>(&small) <= 1e-12);
    }

    #[test]
    fn fused_linear_equals_the_pair(
        (inf, outf, batch) in (1usize..8, 1usize..8, 1usize..5),
        (bias, affine, one_channel) in (any::<bool>(), any::<bool>(), any::<bool>()),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        let mut lin = Linear::<f64>::new(inf, outf, bias, &mut rng).unwrap();
        let c = if one_channel { 1 } else { outf };
        let mut bn = BatchNorm1d::<f64>::with_options(c, NormOptions::batch_norm().affine(affine)).unwrap();
        randomize_bn(&mut bn, c, &mut rng);
        lin.eval();
        let mut fused = fuse_linear_bn_eval(&lin, &bn).unwrap();
        let x = Var::constant(random(&[batch, inf], -2.0, 2.0, &mut rng));
        let got = fused.forward(&x).unwrap().value();
        if one_channel && outf > 1 {
            // BatchNorm1d(1) cannot follow the layer directly; apply its
            // statistics to every output by hand.
            let y = lin.forward(&x).unwrap().value();
            let yy = Var::constant(Tensor::from_vec(&[batch * outf, 1], y.as_slice().to_vec()).unwrap());
            let want = bn.forward(&yy).unwrap().value();
            let want = Tensor::from_vec(&[batch, outf], want.as_slice().to_vec()).unwrap();
            prop_assert!(worst_diff(&got, &want) <= 1e-12);
        } else {
            let want = bn.forward(&lin.forward(&x).unwrap()).unwrap().value();
            prop_assert!(worst_diff(&got, &want) <= 1e-12);
        }
    }

    #[test]
    fn arbitrary_channel_counts_and_modes_never_panic(
        (cout, c, conv_train, bn_train, track) in (1usize..5, 1usize..5, any::<bool>(), any::<bool>(), any::<bool>()),
    ) {
        let mut rng = Rng::new(1);
        let mut conv = ConvNd::<f64, 2>::new(2, cout, [1, 1], &mut rng).unwrap();
        let mut bn = BatchNorm2d::<f64>::with_options(c, NormOptions::batch_norm().track_running_stats(track)).unwrap();
        conv.set_training(conv_train);
        bn.set_training(bn_train);
        let r = fuse_conv_bn_eval(&conv, &bn);
        let ok = cout == c && !conv_train && !bn_train && track;
        prop_assert_eq!(r.is_ok(), ok, "{:?}", r.err());
        if let Err(e) = r {
            let is_config = matches!(e, NnError::InvalidConfig { .. });
            prop_assert!(is_config);
        }
    }
}

#[test]
fn errors_say_what_is_wrong() {
    fn message<T>(r: Result<T, NnError>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }
    let mut rng = Rng::new(2);
    let mut conv = ConvNd::<f64, 2>::new(3, 4, [3, 3], &mut rng).unwrap();
    let mut bn = BatchNorm2d::<f64>::new(4).unwrap();
    conv.eval();
    let msg = message(fuse_conv_bn_eval(&conv, &bn));
    assert!(
        msg.contains("training mode") && msg.contains("BatchNorm2d"),
        "{msg}"
    );
    bn.eval();
    let mut bn5 = BatchNorm2d::<f64>::new(5).unwrap();
    bn5.eval();
    let msg = message(fuse_conv_bn_eval(&conv, &bn5));
    assert!(
        msg.contains("5 channels") && msg.contains("4 output channels"),
        "{msg}"
    );
    let mut untracked =
        BatchNorm2d::<f64>::with_options(4, NormOptions::batch_norm().track_running_stats(false))
            .unwrap();
    untracked.eval();
    let msg = message(fuse_conv_bn_eval(&conv, &untracked));
    assert!(msg.contains("running statistics"), "{msg}");
    let lin = Linear::<f64>::new(3, 4, true, &mut rng).unwrap();
    let mut bn1 = BatchNorm1d::<f64>::new(4).unwrap();
    bn1.eval();
    let msg = message(fuse_linear_bn_eval(&lin, &bn1));
    assert!(msg.contains("Linear is in training mode"), "{msg}");
}

/// The examples' CNN (Conv-BN-ReLU-MaxPool twice, Flatten, Linear) plus a
/// Linear-BatchNorm1d head.
fn cnn(rng: &mut Rng) -> Sequential<f64> {
    let pad1 = ConvOptions::default().padding(1);
    Sequential::new()
        .push(ConvNd::<f64, 2>::with_options(1, 4, [3, 3], pad1, rng).unwrap())
        .push(BatchNorm2d::new(4).unwrap())
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(ConvNd::<f64, 2>::with_options(4, 6, [3, 3], pad1.bias(false), rng).unwrap())
        .push(BatchNorm2d::new(6).unwrap())
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Flatten::new())
        .push(Linear::new(24, 5, true, rng).unwrap())
        .push(BatchNorm1d::new(5).unwrap())
}

#[test]
fn a_sequential_fuses_in_place_and_keeps_its_outputs() {
    let mut rng = Rng::new(3);
    let mut net = cnn(&mut rng);
    // Two training batches move the running statistics.
    for _ in 0..2 {
        let x = Var::constant(random(&[4, 1, 8, 8], -1.0, 3.0, &mut rng));
        net.forward(&x).unwrap();
    }
    let before_train = net.state_dict();
    assert!(fuse_conv_bn_sequential(&mut net).is_err());
    assert_eq!(
        net.state_dict(),
        before_train,
        "a failed fusion changes nothing"
    );
    net.eval();
    let x = Var::constant(random(&[3, 1, 8, 8], -1.0, 3.0, &mut rng));
    let want = net.forward(&x).unwrap().value();
    assert_eq!(fuse_conv_bn_sequential(&mut net).unwrap(), 3);
    let got = net.forward(&x).unwrap().value();
    let worst = worst_diff(&got, &want);
    assert!(worst <= 1e-12, "worst {worst:e}");
    let types: Vec<&str> = (0..net.len())
        .map(|i| net.get(i).unwrap().type_name())
        .collect();
    assert_eq!(
        types,
        [
            "Conv2d",
            "Identity",
            "ReLU",
            "MaxPool2d",
            "Conv2d",
            "Identity",
            "ReLU",
            "MaxPool2d",
            "Flatten",
            "Linear",
            "Identity"
        ]
    );
    let keys: Vec<String> = net.state_dict().keys().map(String::from).collect();
    assert_eq!(
        keys,
        [
            "0.weight", "0.bias", "4.weight", "4.bias", "9.weight", "9.bias"
        ]
    );
    // Fusing again finds nothing more.
    assert_eq!(fuse_conv_bn_sequential(&mut net).unwrap(), 0);
}

#[test]
fn nested_sequentials_are_fused_too() {
    let mut rng = Rng::new(4);
    let mut net = Sequential::new()
        .add("features", cnn(&mut rng))
        .unwrap()
        .add("act", ReLU::new())
        .unwrap();
    net.eval();
    let x = Var::constant(random(&[2, 1, 8, 8], -1.0, 1.0, &mut rng));
    let want = net.forward(&x).unwrap().value();
    assert_eq!(fuse_conv_bn_sequential(&mut net).unwrap(), 3);
    assert!(worst_diff(&net.forward(&x).unwrap().value(), &want) <= 1e-12);
    assert!(net.state_dict().get("features.0.bias").is_some());
}
