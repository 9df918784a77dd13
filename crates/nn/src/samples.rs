//! Gradient-check samples of this crate's differentiable functions for
//! `cargo xtask gradcheck`.

use autograd::gradcheck::single;
use autograd::{AutogradError, GradcheckCase, GradcheckOptions, PadMode, Result, Var};
use core_tensor::{Rng, Tensor};

use crate::{
    CrossEntropyOptions, Reduction, conv_nd, conv_nd_same, cross_entropy_with, linear, mse_loss,
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

fn wrap(op: &'static str) -> impl Fn(crate::NnError) -> AutogradError {
    move |e| AutogradError::op(op, e)
}

/// Gradcheck samples, first and second order in f64: `conv1d` and
/// `conv2d` (with stride, padding, dilation, groups and bias, and with
/// `padding='same'`, and with `padding_mode='reflect'`), `linear`,
/// `cross_entropy` (with label smoothing, each reduction, and every other
/// case class weights and an ignored row) and `mse_loss`,
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
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_passes_first_and_second_order() {
        let cases = gradcheck_cases(11, 2);
        assert_eq!(cases.len(), 14);
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
