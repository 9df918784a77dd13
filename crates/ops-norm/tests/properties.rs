//! Property tests: fused backward against the composed reference, finite
//! differences (first and second order), sequential against parallel
//! kernels, and no panic on arbitrary arguments.

mod common;

use autograd::{GradcheckOptions, Tensor, Var, grad, gradcheck, gradgradcheck};
use common::*;
use core_tensor::{Par, Rng};
use ops_norm::kernels::channel::{
    ChannelLayout, batch_norm_backward_eval, batch_norm_backward_train, channel_forward,
    channel_moments,
};
use ops_norm::kernels::row::{RowLayout, row_backward, row_forward};
use ops_norm::{
    BatchNormConfig, InstanceNormConfig, RunningStats, batch_norm, gradcheck_cases, group_norm,
    instance_norm, layer_norm, local_response_norm, normalize, rms_norm,
};
use proptest::prelude::*;

type Op = Box<dyn Fn(&[Var<f64>]) -> autograd::Result<Var<f64>>>;

/// Gradients of `sum(g · f(inputs))` with respect to every input.
fn grads_of(f: &Op, inputs: &[Tensor<f64>], g: &Tensor<f64>) -> (Vec<f64>, Vec<Vec<f64>>) {
    let vars: Vec<Var<f64>> = inputs.iter().cloned().map(Var::leaf).collect();
    let y = f(&vars).unwrap();
    let gs = grad(
        std::slice::from_ref(&y),
        &vars,
        &[Var::constant(g.clone())],
        false,
    )
    .unwrap();
    (
        vals(&y.value()),
        gs.into_iter().map(|g| vals(&g.unwrap().value())).collect(),
    )
}

/// Every op in every mode, with its composed reference, on a shape built
/// from `dims` (N, C, spatial...).
fn op_pairs(dims: &[usize], rng: &mut Rng) -> Vec<(String, Vec<Tensor<f64>>, Op, Op)> {
    let shape = dims.to_vec();
    let c = shape[1];
    let rank = shape.len();
    let x: Tensor<f64> = uniform(rng, &shape, -2.0, 2.0);
    let w: Tensor<f64> = uniform(rng, &[c], 0.5, 1.5);
    let b: Tensor<f64> = uniform(rng, &[c], -0.5, 0.5);
    let rm: Tensor<f64> = uniform(rng, &[c], -0.5, 0.5);
    let rv: Tensor<f64> = uniform(rng, &[c], 0.5, 2.0);
    let ns = shape[rank - 1..].to_vec();
    let wl: Tensor<f64> = uniform(rng, &ns, 0.5, 1.5);
    let bl: Tensor<f64> = uniform(rng, &ns, -0.5, 0.5);
    let mut out: Vec<(String, Vec<Tensor<f64>>, Op, Op)> = Vec::new();
    out.push((
        "batch train".into(),
        vec![x.clone(), w.clone(), b.clone()],
        Box::new(|v| {
            Ok(batch_norm(
                &v[0],
                Some(&v[1]),
                Some(&v[2]),
                None,
                &BatchNormConfig::train(),
            )?)
        }),
        Box::new(|v| ref_batch_train(&v[0], Some(&v[1]), Some(&v[2]), 1e-5)),
    ));
    let st = RunningStats::from_parts(rm.clone(), rv.clone(), 1);
    let (rm2, rv2) = (rm.clone(), rv.clone());
    out.push((
        "batch eval".into(),
        vec![x.clone(), w.clone(), b.clone()],
        Box::new(move |v| {
            let mut s = st.clone();
            Ok(batch_norm(
                &v[0],
                Some(&v[1]),
                Some(&v[2]),
                Some(&mut s),
                &BatchNormConfig::eval(),
            )?)
        }),
        Box::new(move |v| ref_batch_eval(&v[0], Some(&v[1]), Some(&v[2]), &rm2, &rv2, 1e-5)),
    ));
    if shape[2..].iter().product::<usize>() > 1 {
        out.push((
            "instance".into(),
            vec![x.clone(), w.clone(), b.clone()],
            Box::new(|v| {
                Ok(instance_norm(
                    &v[0],
                    Some(&v[1]),
                    Some(&v[2]),
                    None,
                    &InstanceNormConfig::default(),
                )?)
            }),
            Box::new(|v| ref_instance(&v[0], Some(&v[1]), Some(&v[2]), 1e-5)),
        ));
    }
    let ns2 = ns.clone();
    out.push((
        "layer".into(),
        vec![x.clone(), wl.clone(), bl],
        Box::new(move |v| Ok(layer_norm(&v[0], &ns2, Some(&v[1]), Some(&v[2]), 1e-5)?)),
        Box::new(|v| ref_layer(&v[0], 1, Some(&v[1]), Some(&v[2]), 1e-5)),
    ));
    let ns3 = ns.clone();
    out.push((
        "rms".into(),
        vec![x.clone(), wl],
        Box::new(move |v| Ok(rms_norm(&v[0], &ns3, Some(&v[1]), Some(1e-5))?)),
        Box::new(|v| ref_rms(&v[0], 1, Some(&v[1]), 1e-5)),
    ));
    if rank >= 3 {
        let size = 1 + rng.below(4);
        let (alpha, beta) = (rng.uniform_in(0.5, 2.0), rng.uniform_in(0.3, 1.0));
        out.push((
            format!("local response size {size}"),
            vec![x.clone()],
            Box::new(move |v| Ok(local_response_norm(&v[0], size, alpha, beta, 1.0)?)),
            Box::new(move |v| ref_lrn(&v[0], size, alpha, beta, 1.0)),
        ));
    }
    // L2 normalization along the channels, against x / sqrt(Σ x²).
    out.push((
        "normalize p 2".into(),
        vec![x.clone()],
        Box::new(|v| Ok(normalize(&v[0], 2.0, 1, 1e-12)?)),
        Box::new(|v| v[0].div(&v[0].mul(&v[0])?.sum(&[1], true)?.sqrt())),
    ));
    let groups = if c.is_multiple_of(2) { 2 } else { 1 };
    out.push((
        format!("group {groups}"),
        vec![x, w, b],
        Box::new(move |v| Ok(group_norm(&v[0], groups, Some(&v[1]), Some(&v[2]), 1e-5)?)),
        Box::new(move |v| ref_group(&v[0], groups, Some(&v[1]), Some(&v[2]), 1e-5)),
    ));
    out
}

fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    (2usize..5, 1usize..5, prop::collection::vec(1usize..5, 0..3)).prop_map(|(n, c, sp)| {
        let mut s = vec![n, c];
        s.extend(sp);
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// The fused backward kernels agree with autograd through the composed
    /// reference, for every input, op and mode.
    #[test]
    fn fused_backward_matches_the_composed_reference(dims in shape_strategy(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        for (name, inputs, fused, reference) in op_pairs(&dims, &mut rng) {
            let g: Tensor<f64> = uniform(&mut rng, &dims, -1.0, 1.0);
            let (yf, gf) = grads_of(&fused, &inputs, &g);
            let (yr, gr) = grads_of(&reference, &inputs, &g);
            assert_close(&yf, &yr, 1e-10, 1e-11, &format!("{name} {dims:?} y"));
            for (i, (a, b)) in gf.iter().zip(&gr).enumerate() {
                assert_close(a, b, 1e-8, 1e-10, &format!("{name} {dims:?} grad of input {i}"));
            }
        }
    }

    /// In training, batch norm's input gradient sums to ~0 over each channel.
    #[test]
    fn batch_norm_training_input_gradient_sums_to_zero(dims in shape_strategy(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let c = dims[1];
        let x = Var::leaf(uniform::<f64>(&mut rng, &dims, -3.0, 3.0));
        let w = Var::constant(uniform::<f64>(&mut rng, &[c], 0.5, 1.5));
        let y = batch_norm(&x, Some(&w), None, None, &BatchNormConfig::train()).unwrap();
        let g: Tensor<f64> = uniform(&mut rng, &dims, -1.0, 1.0);
        let dx = grad(&[y], &[x], &[Var::constant(g)], false).unwrap()[0].clone().unwrap().value();
        let s: usize = dims[2..].iter().product();
        for ch in 0..c {
            let total: f64 = (0..dims[0]).flat_map(|n| (0..s).map(move |k| (n * c + ch) * s + k)).map(|i| dx.as_slice()[i]).sum();
            prop_assert!(total.abs() < 1e-10, "channel {} sums to {}", ch, total);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// First and second order finite-difference checks in f64 over random
    /// small shapes, every op and mode (the registered samples).
    #[test]
    fn gradcheck_and_gradgradcheck_pass(seed in any::<u64>()) {
        for case in gradcheck_cases(seed, 1) {
            let outcome = case.run().unwrap();
            prop_assert!(outcome.first.passed, "{} {}: {}", case.op, case.label, outcome.first);
            let second = outcome.second.expect("second order requested");
            prop_assert!(second.passed, "{} {} second order: {}", case.op, case.label, second);
        }
    }
}

#[test]
fn gradcheck_cases_cover_every_op_and_mode() {
    let cases = gradcheck_cases(1, 2);
    for op in [
        "batch_norm",
        "instance_norm",
        "layer_norm",
        "group_norm",
        "rms_norm",
        "local_response_norm",
        "normalize",
    ] {
        assert!(cases.iter().any(|c| c.op == op), "{op} missing");
    }
    assert!(cases.iter().any(|c| c.label.starts_with("eval")));
    assert!(cases.iter().all(|c| c.second_order));
}

#[test]
fn gradgradcheck_passes_with_respect_to_every_input_of_batch_norm_in_both_modes() {
    let mut rng = Rng::new(99);
    let x: Tensor<f64> = uniform(&mut rng, &[3, 2, 2], -2.0, 2.0);
    let w: Tensor<f64> = uniform(&mut rng, &[2], 0.5, 1.5);
    let b: Tensor<f64> = uniform(&mut rng, &[2], -0.5, 0.5);
    let opts = GradcheckOptions::default();
    let train = |v: &[Var<f64>]| {
        Ok(vec![batch_norm(
            &v[0],
            Some(&v[1]),
            Some(&v[2]),
            None,
            &BatchNormConfig::train(),
        )?])
    };
    let inputs = [x.clone(), w.clone(), b.clone()];
    assert!(gradcheck(&train, &inputs, &opts).unwrap().passed);
    let r = gradgradcheck(&train, &inputs, &opts).unwrap();
    assert!(r.passed, "{r}");
    let st = RunningStats::from_parts(
        Tensor::from_vec(&[2], vec![0.1, -0.2]).unwrap(),
        Tensor::from_vec(&[2], vec![0.8, 1.3]).unwrap(),
        4,
    );
    let eval = move |v: &[Var<f64>]| {
        let mut s = st.clone();
        Ok(vec![batch_norm(
            &v[0],
            Some(&v[1]),
            Some(&v[2]),
            Some(&mut s),
            &BatchNormConfig::eval(),
        )?])
    };
    let r = gradgradcheck(&eval, &inputs, &opts).unwrap();
    assert!(r.passed, "{r}");
}

#[test]
fn sequential_and_parallel_kernels_agree_exactly() {
    let mut rng = Rng::new(2024);
    // Large planes, small planes (batch norm 1-d) and few channels; the last
    // two reach the size (2^21 elements) from which the channel kernels
    // actually split over rayon (below it they run sequentially).
    for (n, c, s) in [
        (8, 6, 1024),
        (512, 96, 1),
        (64, 3, 5),
        (4, 2, 9000),
        (2048, 1024, 1),
        (8, 4, 1 << 16),
    ] {
        let layout = ChannelLayout { n, c, s };
        let len = n * c * s;
        let x: Vec<f32> = (0..len).map(|_| rng.normal() as f32).collect();
        let dy: Vec<f32> = (0..len).map(|_| rng.normal() as f32).collect();
        let w: Vec<f32> = (0..c).map(|_| rng.uniform_in(0.5, 1.5) as f32).collect();
        let b: Vec<f32> = (0..c).map(|_| rng.uniform_in(-0.5, 0.5) as f32).collect();
        let run = |par: Par| {
            let m = channel_moments(&x, layout, par).unwrap();
            let mean: Vec<f64> = m.iter().map(|m| m.mean).collect();
            let invstd: Vec<f64> = m
                .iter()
                .map(|m| 1.0 / (m.var_biased() + 1e-5).sqrt())
                .collect();
            let y = channel_forward(&x, layout, &mean, &invstd, Some(&w), Some(&b), par).unwrap();
            let gt =
                batch_norm_backward_train(&x, &dy, layout, &mean, &invstd, Some(&w), par).unwrap();
            let ge = batch_norm_backward_eval(&x, &dy, layout, &mean, &invstd, Some(&w), true, par)
                .unwrap();
            (m, y, gt, ge)
        };
        assert_eq!(
            run(Par::Seq),
            run(Par::Rayon),
            "channel kernels {n}x{c}x{s}"
        );
        // The moments agree with a two-pass in f64.
        let (m, ..) = run(Par::Rayon);
        for (ch, mc) in m.iter().enumerate() {
            let v: Vec<f64> = (0..n)
                .flat_map(|i| (0..s).map(move |k| (i * c + ch) * s + k))
                .map(|i| x[i] as f64)
                .collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / v.len() as f64;
            // f32 lanes per plane, f64 across planes: f32-level relative accuracy.
            assert!(
                (mc.mean - mean).abs() < 1e-6 && (mc.var_biased() / var - 1.0).abs() < 1e-5,
                "{mc:?} vs {mean} {var}"
            );
        }
    }
    for layout in [
        RowLayout {
            rows: 128,
            len: 768,
            period: 1,
            group: 1,
        },
        RowLayout {
            rows: 64,
            len: 4 * 196,
            period: 8,
            group: 196,
        },
        RowLayout {
            rows: 3000,
            len: 17,
            period: 3000,
            group: 17,
        },
    ] {
        let len = layout.rows * layout.len;
        let x: Vec<f64> = (0..len).map(|_| rng.normal()).collect();
        let dy: Vec<f64> = (0..len).map(|_| rng.normal()).collect();
        let w: Vec<f64> = (0..layout.affine_len())
            .map(|_| rng.uniform_in(0.5, 1.5))
            .collect();
        for center in [true, false] {
            let run = |par: Par| {
                let (y, st) =
                    row_forward(&x, layout, center, 1e-5, Some(&w), Some(&w), par).unwrap();
                let g = row_backward(&x, &dy, layout, center, &st, Some(&w), true, par).unwrap();
                (y, st, g)
            };
            assert_eq!(
                run(Par::Seq),
                run(Par::Rayon),
                "row kernels {layout:?} center {center}"
            );
        }
    }
}

#[test]
fn kernels_reject_mismatched_lengths() {
    let layout = ChannelLayout { n: 2, c: 3, s: 4 };
    assert!(channel_moments(&[0.0f64; 23], layout, Par::Seq).is_err());
    assert!(
        channel_forward(
            &[0.0f64; 24],
            layout,
            &[0.0; 2],
            &[1.0; 3],
            None,
            None,
            Par::Seq
        )
        .is_err()
    );
    let rl = RowLayout {
        rows: 2,
        len: 6,
        period: 2,
        group: 4,
    };
    assert!(row_forward(&[0.0f64; 12], rl, true, 1e-5, None, None, Par::Seq).is_err());
}

fn arb_dims() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..4, 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary (mostly invalid) shapes, parameters, eps and momentum:
    /// every op returns Ok or a typed error, and backward of an Ok result
    /// works; never a panic.
    #[test]
    fn arbitrary_arguments_never_panic(
        xs in arb_dims(),
        ws in prop::option::of(arb_dims()),
        bs in prop::option::of(arb_dims()),
        rs in prop::option::of((arb_dims(), arb_dims(), -3i64..3)),
        eps in prop_oneof![Just(f64::NAN), Just(0.0), Just(-1e-3), Just(1e-5), Just(f64::INFINITY)],
        momentum in prop_oneof![Just(None), Just(Some(f64::NAN)), Just(Some(0.1)), Just(Some(-2.0)), Just(Some(f64::INFINITY))],
        training in any::<bool>(),
        groups in 0usize..5,
        k in 0usize..4,
    ) {
        let t = |s: &[usize]| Var::leaf(Tensor::<f64>::from_vec(s, (0..s.iter().product()).map(|i| (i as f64 * 0.7).sin()).collect()).unwrap());
        let x = t(&xs);
        let w = ws.as_deref().map(t);
        let b = bs.as_deref().map(t);
        let mut running = rs.as_ref().map(|(m, v, n)| RunningStats::from_parts(t(m).value(), t(v).value(), *n));
        let ns: Vec<usize> = xs.iter().rev().take(k).rev().copied().collect();
        let results = [
            batch_norm(&x, w.as_ref(), b.as_ref(), running.as_mut(), &BatchNormConfig { training, momentum, eps }),
            instance_norm(&x, w.as_ref(), b.as_ref(), running.as_mut(), &InstanceNormConfig { use_input_stats: training, momentum: momentum.unwrap_or(0.1), eps }),
            layer_norm(&x, &ns, w.as_ref(), b.as_ref(), eps),
            group_norm(&x, groups, w.as_ref(), b.as_ref(), eps),
            rms_norm(&x, &ns, w.as_ref(), Some(eps)),
            local_response_norm(&x, groups, eps, eps, eps),
            normalize(&x, eps, k as isize - 2, eps),
        ];
        for r in results {
            match r {
                Ok(y) => {
                    let g = Tensor::ones(&y.shape());
                    if y.requires_grad() {
                        y.backward_with(&g, autograd::BackwardOptions { retain_graph: false, create_graph: true }).unwrap();
                    }
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}

/// The small-plane kernels (batch norm 1-d and short planes) take samples
/// four at a time, then one at a time: every count of samples from 2 to 13
/// (zero to three groups of four, and every remainder) against `f64`.
#[test]
fn small_plane_kernels_match_f64_for_every_grouping_of_samples() {
    let mut rng = Rng::new(404);
    for s in [1usize, 3] {
        for n in 2..=13 {
            let c = 37;
            let layout = ChannelLayout { n, c, s };
            let len = n * c * s;
            let x: Vec<f32> = (0..len).map(|_| rng.normal() as f32 * 2.0 + 5.0).collect();
            let dy: Vec<f32> = (0..len).map(|_| rng.normal() as f32).collect();
            let at = |i: usize, ch: usize, k: usize| (i * c + ch) * s + k;
            let m = channel_moments(&x, layout, Par::Seq).unwrap();
            let mean: Vec<f64> = m.iter().map(|m| m.mean).collect();
            let invstd: Vec<f64> = m
                .iter()
                .map(|m| 1.0 / (m.var_biased() + 1e-5).sqrt())
                .collect();
            let y = channel_forward(&x, layout, &mean, &invstd, None, None, Par::Seq).unwrap();
            let sums =
                ops_norm::kernels::channel::channel_grad_sums(&x, &dy, layout, &mean, Par::Seq)
                    .unwrap();
            for ch in 0..c {
                let idx: Vec<usize> = (0..n)
                    .flat_map(|i| (0..s).map(move |k| at(i, ch, k)))
                    .collect();
                let v: Vec<f64> = idx.iter().map(|&j| x[j] as f64).collect();
                let mu = v.iter().sum::<f64>() / v.len() as f64;
                let var = v.iter().map(|a| (a - mu).powi(2)).sum::<f64>() / v.len() as f64;
                assert!((m[ch].mean - mu).abs() < 1e-5, "n {n} s {s} ch {ch}");
                assert!(
                    (m[ch].var_biased() / var - 1.0).abs() < 1e-5,
                    "n {n} s {s} ch {ch}"
                );
                let (sg, sgx) = idx.iter().fold((0.0, 0.0), |(a, b), &j| {
                    let g = dy[j] as f64;
                    (a + g, b + g * (x[j] as f64 - mean[ch]))
                });
                assert!((sums[ch].0 - sg).abs() < 1e-4 && (sums[ch].1 - sgx).abs() < 1e-3);
                for &j in &idx {
                    let want = (x[j] as f64 - mean[ch]) * invstd[ch];
                    assert!((y[j] as f64 - want).abs() < 1e-5, "n {n} s {s} at {j}");
                }
            }
        }
    }
}
