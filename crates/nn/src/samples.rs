//! Gradient-check samples of this crate's differentiable functions for
//! `cargo xtask gradcheck`.

use autograd::gradcheck::single;
use autograd::{AutogradError, GradcheckCase, GradcheckOptions, PadMode, Result, Var};
use core_tensor::{Rng, Tensor};

use crate::{
    CrossEntropyOptions, KlDivReduction, Reduction, binary_cross_entropy,
    binary_cross_entropy_with_logits, conv_nd, conv_nd_same, cross_entropy_with, huber_loss,
    kl_div, l1_loss, linear, mse_loss, smooth_l1_loss,
};

fn rand(rng: &mut Rng, shape: &[usize]) -> Tensor<f64> {
    let n = shape.iter().product();
    Tensor::from_vec(shape, rng.uniform_vec(n, -1.0, 1.0)).expect("length matches the shape")
}

fn case(
    op: &'static str,
    label: String,
    inputs: Vec<Tensor<f64>>,
    seed: u64,
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>> + Send + Sync + 'static,
) -> GradcheckCase {
    GradcheckCase {
        op,
        label,
        inputs,
        func: Box::new(single(f)),
        second_order: true,
        options: GradcheckOptions {
            seed,
            full_jacobian_up_to: 24,
            ..GradcheckOptions::default()
        },
    }
}

fn uniform(rng: &mut Rng, shape: &[usize], low: f64, high: f64) -> Tensor<f64> {
    let n = shape.iter().product();
    Tensor::from_vec(shape, rng.uniform_vec(n, low, high)).expect("length matches the shape")
}

/// A target `y = x − d` whose differences `d` have magnitudes in
/// `[0.05, 2]` with random signs, each at least `0.05` from every kink in
/// `kinks` (the finite-difference step is `1e-6`).
fn kink_free_target(rng: &mut Rng, x: &Tensor<f64>, kinks: &[f64]) -> Tensor<f64> {
    let y: Vec<f64> = x
        .as_slice()
        .iter()
        .map(|&v| {
            let mut m = rng.uniform_in(0.05, 2.0);
            for &k in kinks {
                if (m - k).abs() < 0.05 {
                    m = k + 0.1;
                }
            }
            if rng.below(2) == 0 { v - m } else { v + m }
        })
        .collect();
    Tensor::from_vec(x.shape(), y).expect("same shape")
}

fn wrap(op: &'static str) -> impl Fn(crate::NnError) -> AutogradError {
    move |e| AutogradError::op(op, e)
}

/// Gradcheck samples, first and second order in f64: `conv1d` and
/// `conv2d` (with stride, padding, dilation, groups and bias, and with
/// `padding='same'`, and with `padding_mode='reflect'`), `linear`,
/// `cross_entropy` (with label smoothing, each reduction, and every other
/// case class weights and an ignored row), `mse_loss` (broadcasting every
/// other case), `l1_loss`, `smooth_l1_loss`, `huber_loss` (differences kept
/// `0.05` away from their kinks), `binary_cross_entropy` (with a weight),
/// `binary_cross_entropy_with_logits` (with `weight` and `pos_weight`)
/// and `kl_div` (both target forms), each in input and target,
/// `per_op` seeded cases each on small shapes (the whole set runs in
/// seconds).
pub fn gradcheck_cases(seed: u64, per_op: usize) -> Vec<GradcheckCase> {
    let mut rng = Rng::new(seed ^ 0x6e6e);
    let mut out = Vec::new();
    for i in 0..per_op {
        let s = seed.wrapping_add(i as u64);
        // conv2d: groups 2, stride (2, 1), padding (1, 0), dilation (1, 2).
        let (n, h, w) = (1 + rng.below(2), 4 + rng.below(2), 5 + rng.below(2));
        let x = rand(&mut rng, &[n, 4, h, w]);
        let wt = rand(&mut rng, &[4, 2, 2, 2]);
        let b = rand(&mut rng, &[4]);
        out.push(case(
            "conv2d",
            format!("x [{n}, 4, {h}, {w}], w [4, 2, 2, 2], stride [2, 1], padding [1, 0], dilation [1, 2], groups 2"),
            vec![x, wt, b],
            s,
            |v| conv_nd(&v[0], &v[1], Some(&v[2]), &[2, 1], &[1, 0], &[1, 2], 2).map_err(wrap("conv2d")),
        ));
        // conv1d: stride 2, padding 1, dilation 2, no bias.
        let l = 6 + rng.below(3);
        let x = rand(&mut rng, &[2, 3, l]);
        let wt = rand(&mut rng, &[2, 3, 3]);
        out.push(case(
            "conv1d",
            format!("x [2, 3, {l}], w [2, 3, 3], stride 2, padding 1, dilation 2"),
            vec![x, wt],
            s,
            |v| conv_nd(&v[0], &v[1], None, &[2], &[1], &[2], 1).map_err(wrap("conv1d")),
        ));
        // conv2d with padding='same': an even kernel and a dilation, so the
        // zeros are asymmetric ([1, 2] rows, [1, 1] columns).
        let (h, w) = (3 + rng.below(3), 3 + rng.below(3));
        let x = rand(&mut rng, &[1, 2, h, w]);
        let wt = rand(&mut rng, &[2, 2, 2, 3]);
        let b = rand(&mut rng, &[2]);
        out.push(case(
            "conv2d",
            format!("x [1, 2, {h}, {w}], w [2, 2, 2, 3], padding 'same', dilation [3, 1]"),
            vec![x, wt, b],
            s,
            |v| conv_nd_same(&v[0], &v[1], Some(&v[2]), &[3, 1], 1).map_err(wrap("conv2d")),
        ));
        // conv2d with padding_mode='reflect', as the layer computes it: the
        // input padded by `pad_with`, then convolved without padding.
        let (h, w) = (3 + rng.below(2), 4 + rng.below(2));
        let x = rand(&mut rng, &[2, 2, h, w]);
        let wt = rand(&mut rng, &[3, 2, 2, 3]);
        let b = rand(&mut rng, &[3]);
        out.push(case(
            "conv2d",
            format!("x [2, 2, {h}, {w}], w [3, 2, 2, 3], padding [1, 2], padding_mode 'reflect', stride [1, 2]"),
            vec![x, wt, b],
            s,
            |v| {
                let xp = v[0].pad_with(&[[1, 1], [2, 2]], PadMode::Reflect)?;
                conv_nd(&xp, &v[1], Some(&v[2]), &[1, 2], &[0, 0], &[1, 1], 1).map_err(wrap("conv2d"))
            },
        ));
        // linear
        let (rows, fin, fout) = (1 + rng.below(3), 2 + rng.below(3), 1 + rng.below(3));
        let x = rand(&mut rng, &[rows, fin]);
        let wt = rand(&mut rng, &[fout, fin]);
        let b = rand(&mut rng, &[fout]);
        out.push(case(
            "linear",
            format!("x [{rows}, {fin}], w [{fout}, {fin}], bias"),
            vec![x, wt, b],
            s,
            |v| linear(&v[0], &v[1], Some(&v[2])).map_err(wrap("linear")),
        ));
        // cross_entropy
        let (rows, classes) = (2 + rng.below(3), 2 + rng.below(4));
        let x = rand(&mut rng, &[rows, classes]);
        let mut targets: Vec<usize> = (0..rows).map(|_| rng.below(classes)).collect();
        let reduction = [Reduction::Mean, Reduction::Sum, Reduction::None][i % 3];
        let smoothing = [0.0, 0.1, 0.25][(i / 3 + i) % 3];
        // Every other case: positive class weights, and the first row
        // ignored (its target set to an index outside the classes).
        let weighted = i % 2 == 1;
        let weight: Vec<f64> = rng.uniform_vec(classes, 0.5, 2.0);
        let ignore_index = weighted.then_some(classes);
        if weighted {
            targets[0] = classes;
        }
        out.push(case(
            "cross_entropy",
            format!(
                "x [{rows}, {classes}], targets {targets:?}, {reduction:?}, label_smoothing {smoothing}{}",
                if weighted { format!(", weight {weight:.3?}, ignore_index {classes}") } else { String::new() }
            ),
            vec![x],
            s,
            move |v| {
                let opts = CrossEntropyOptions {
                    weight: weighted.then_some(&weight[..]),
                    ignore_index,
                    reduction,
                    label_smoothing: smoothing,
                };
                cross_entropy_with(&v[0], &targets, &opts).map_err(wrap("cross_entropy"))
            },
        ));
        // mse
        let shape = [2 + rng.below(2), 3];
        let (a, t) = (rand(&mut rng, &shape), rand(&mut rng, &shape));
        out.push(case(
            "mse_loss",
            format!("x {shape:?}, target {shape:?}, mean"),
            vec![a, t],
            s,
            |v| mse_loss(&v[0], &v[1], Reduction::Mean).map_err(wrap("mse_loss")),
        ));
        let reduction = [Reduction::Mean, Reduction::Sum, Reduction::None][i % 3];
        // mse with a target broadcast over the rows.
        let (a, t) = (rand(&mut rng, &[2, 3]), rand(&mut rng, &[3]));
        out.push(case(
            "mse_loss",
            format!("x [2, 3], target [3], {reduction:?}"),
            vec![a, t],
            s,
            move |v| mse_loss(&v[0], &v[1], reduction).map_err(wrap("mse_loss")),
        ));
        // l1, smooth L1 and Huber, away from their kinks.
        let shape = [2, 2 + rng.below(2)];
        let x = rand(&mut rng, &shape);
        let y = kink_free_target(&mut rng, &x, &[0.0]);
        out.push(case(
            "l1_loss",
            format!("x {shape:?}, {reduction:?}"),
            vec![x, y],
            s,
            move |v| l1_loss(&v[0], &v[1], reduction).map_err(wrap("l1_loss")),
        ));
        let beta = [1.0, 0.5, 0.0][i % 3];
        let x = rand(&mut rng, &shape);
        let y = kink_free_target(&mut rng, &x, &[beta]);
        out.push(case(
            "smooth_l1_loss",
            format!("x {shape:?}, beta {beta}, {reduction:?}"),
            vec![x, y],
            s,
            move |v| smooth_l1_loss(&v[0], &v[1], reduction, beta).map_err(wrap("smooth_l1_loss")),
        ));
        let delta = [1.0, 0.3, 1.7][i % 3];
        let x = rand(&mut rng, &shape);
        let y = kink_free_target(&mut rng, &x, &[delta]);
        out.push(case(
            "huber_loss",
            format!("x {shape:?}, delta {delta}, {reduction:?}"),
            vec![x, y],
            s,
            move |v| huber_loss(&v[0], &v[1], reduction, delta).map_err(wrap("huber_loss")),
        ));
        // BCE on probabilities in [0.1, 0.9], with a per-column weight.
        let x = uniform(&mut rng, &shape, 0.1, 0.9);
        let y = uniform(&mut rng, &shape, 0.05, 0.95);
        let w: Vec<f64> = rng.uniform_vec(shape[1], 0.5, 2.0);
        let weighted = i % 2 == 1;
        out.push(case(
            "binary_cross_entropy",
            format!(
                "x {shape:?}, {reduction:?}{}",
                if weighted {
                    format!(", weight {w:.3?}")
                } else {
                    String::new()
                }
            ),
            vec![x, y],
            s,
            move |v| {
                let w = Var::constant(
                    Tensor::from_vec(&[w.len()], w.clone()).map_err(AutogradError::from)?,
                );
                binary_cross_entropy(&v[0], &v[1], weighted.then_some(&w), reduction)
                    .map_err(wrap("binary_cross_entropy"))
            },
        ));
        // BCE with logits, with weight and pos_weight every other case.
        let x = uniform(&mut rng, &shape, -3.0, 3.0);
        let y = uniform(&mut rng, &shape, 0.0, 1.0);
        let w: Vec<f64> = rng.uniform_vec(shape[1], 0.5, 2.0);
        let pw: Vec<f64> = rng.uniform_vec(shape[1], 0.5, 3.0);
        out.push(case(
            "binary_cross_entropy_with_logits",
            format!(
                "x {shape:?}, {reduction:?}{}",
                if weighted {
                    format!(", weight {w:.3?}, pos_weight {pw:.3?}")
                } else {
                    String::new()
                }
            ),
            vec![x, y],
            s,
            move |v| {
                let col = |c: &[f64]| Tensor::from_vec(&[c.len()], c.to_vec()).map(Var::constant);
                let (w, pw) = (col(&w)?, col(&pw)?);
                binary_cross_entropy_with_logits(
                    &v[0],
                    &v[1],
                    weighted.then_some(&w),
                    weighted.then_some(&pw),
                    reduction,
                )
                .map_err(wrap("binary_cross_entropy_with_logits"))
            },
        ));
        // KL divergence: positive targets, or log-targets.
        let log_target = i % 2 == 1;
        let kl_reduction = [
            KlDivReduction::BatchMean,
            KlDivReduction::Mean,
            KlDivReduction::Sum,
            KlDivReduction::None,
        ][i % 4];
        let x = uniform(&mut rng, &shape, -2.0, 0.0);
        let y = if log_target {
            uniform(&mut rng, &shape, -2.0, 0.0)
        } else {
            uniform(&mut rng, &shape, 0.1, 1.0)
        };
        out.push(case(
            "kl_div",
            format!("x {shape:?}, {kl_reduction:?}, log_target {log_target}"),
            vec![x, y],
            s,
            move |v| kl_div(&v[0], &v[1], kl_reduction, log_target).map_err(wrap("kl_div")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_passes_first_and_second_order() {
        let cases = gradcheck_cases(11, 4);
        assert_eq!(cases.len(), 4 * 14);
        for c in &cases {
            let outcome = c
                .run()
                .unwrap_or_else(|e| panic!("{} {}: {e}", c.op, c.label));
            assert!(outcome.passed(), "{} {}: {:?}", c.op, c.label, outcome);
        }
    }

    #[test]
    fn a_wrong_gradient_is_caught() {
        // The check is not vacuous: a conv whose weight gradient is dropped fails.
        let mut cases = gradcheck_cases(3, 1);
        let mut c = cases.remove(0);
        c.func = Box::new(single(|v: &[Var<f64>]| {
            let w = v[1].detach();
            conv_nd(&v[0], &w, Some(&v[2]), &[2, 1], &[1, 0], &[1, 2], 2).map_err(wrap("conv2d"))
        }));
        c.second_order = false;
        assert!(!c.run().unwrap().passed());
    }
}
