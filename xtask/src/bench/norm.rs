//! Benchmark cases of ops-norm for `cargo xtask bench norm`: the issue's
//! N1..N5 (f32), timed through the public autograd API (what a user runs:
//! kernels plus graph bookkeeping), forward and forward + backward.
//!
//! `ideal_bytes` counts what an ideal kernel must move: a forward reads the
//! input and writes the output (2 passes over the tensor's bytes); forward +
//! backward adds reading the input and the output gradient and writing the
//! input gradient (5 in all). The per-channel parameters are negligible.

use autograd::{BackwardOptions, Tensor, Var};
use core_tensor::Rng;
use ops_norm::{BatchNormConfig, RunningStats, batch_norm, group_norm, layer_norm};

use super::BenchCase;

const F32: usize = 4;

fn input(shape: &[usize], seed: u64) -> Tensor<f32> {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    Tensor::from_vec(shape, (0..n).map(|_| rng.normal() as f32).collect())
        .expect("the shapes below are valid")
}

fn label(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("({})", dims.join(","))
}

/// Which op a case runs.
#[derive(Clone, Copy)]
enum Op {
    BatchTrain,
    BatchEval,
    Layer,
    Group(usize),
}

/// One forward (and, with `backward`, one backward seeded with a fixed
/// gradient) of `op` on a fresh leaf input, weight and bias.
fn make(op: Op, shape: &[usize], backward: bool) -> Box<dyn FnMut()> {
    let c = match op {
        Op::Layer => shape[shape.len() - 1],
        _ => shape[1],
    };
    let x = Var::leaf(input(shape, 1));
    let g = input(shape, 2);
    let w = Var::leaf(Tensor::<f32>::ones(&[c]));
    let b = Var::leaf(Tensor::<f32>::zeros(&[c]));
    let mut stats = RunningStats::<f32>::new(c);
    Box::new(move || {
        for v in [&x, &w, &b] {
            v.zero_grad();
        }
        let y = match op {
            Op::BatchTrain => batch_norm(
                &x,
                Some(&w),
                Some(&b),
                Some(&mut stats),
                &BatchNormConfig::train(),
            ),
            Op::BatchEval => batch_norm(
                &x,
                Some(&w),
                Some(&b),
                Some(&mut stats),
                &BatchNormConfig::eval(),
            ),
            Op::Layer => layer_norm(&x, &[c], Some(&w), Some(&b), 1e-5),
            Op::Group(groups) => group_norm(&x, groups, Some(&w), Some(&b), 1e-5),
        }
        .expect("the benchmark arguments are valid");
        if backward {
            y.backward_with(&g, BackwardOptions::default())
                .expect("backward of a valid graph");
        }
        std::hint::black_box(y);
    })
}

/// One row of the issue's table: id, op description, op, shape, whether
/// backward runs, target ratio to a copy, PyTorch's median in ms.
type Row = (
    &'static str,
    &'static str,
    Op,
    &'static [usize],
    bool,
    f64,
    Option<f64>,
);

const NCHW: [usize; 4] = [32, 64, 56, 56];

fn table() -> [Row; 9] {
    let nchw: &'static [usize] = &NCHW;
    [
        (
            "N1 fwd",
            "batch_norm2d train affine+running stats",
            Op::BatchTrain,
            nchw,
            false,
            2.5,
            Some(7.0),
        ),
        (
            "N1 fwd+bwd",
            "batch_norm2d train affine+running stats",
            Op::BatchTrain,
            nchw,
            true,
            5.0,
            Some(15.0),
        ),
        (
            "N2 fwd",
            "batch_norm2d eval",
            Op::BatchEval,
            nchw,
            false,
            1.3,
            Some(0.7),
        ),
        (
            "N3 fwd",
            "batch_norm1d train",
            Op::BatchTrain,
            &[256, 1024],
            false,
            2.5,
            Some(0.10),
        ),
        (
            "N3 fwd+bwd",
            "batch_norm1d train",
            Op::BatchTrain,
            &[256, 1024],
            true,
            5.0,
            Some(0.23),
        ),
        (
            "N4 fwd",
            "layer_norm last axis",
            Op::Layer,
            &[64, 128, 768],
            false,
            2.5,
            Some(1.6),
        ),
        (
            "N4 fwd+bwd",
            "layer_norm last axis",
            Op::Layer,
            &[64, 128, 768],
            true,
            5.0,
            Some(4.2),
        ),
        (
            "N5 fwd",
            "group_norm 32 groups",
            Op::Group(32),
            nchw,
            false,
            2.5,
            None,
        ),
        (
            "N5 fwd+bwd",
            "group_norm 32 groups",
            Op::Group(32),
            nchw,
            true,
            5.0,
            None,
        ),
    ]
}

/// The benchmark cases of ops-norm.
pub fn cases() -> Vec<BenchCase> {
    table()
        .into_iter()
        .map(|(id, what, op, shape, backward, target, pytorch_ms)| {
            let bytes = shape.iter().product::<usize>() * F32;
            BenchCase {
                id,
                description: format!("{what} {} f32", label(shape)),
                ideal_bytes: if backward { 5 * bytes } else { 2 * bytes },
                input_bytes: bytes,
                target_copy_ratio: target,
                pytorch_ms,
                run: make(op, shape, backward),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_issue_case_is_listed_once_and_runs_on_a_small_copy() {
        let ids: Vec<&str> = table().iter().map(|c| c.0).collect();
        for id in [
            "N1 fwd",
            "N1 fwd+bwd",
            "N2 fwd",
            "N3 fwd+bwd",
            "N4 fwd",
            "N4 fwd+bwd",
            "N5 fwd+bwd",
        ] {
            assert_eq!(ids.iter().filter(|&&i| i == id).count(), 1, "{id}");
        }
        // The closures themselves, on small shapes.
        for op in [Op::BatchTrain, Op::BatchEval, Op::Layer, Op::Group(2)] {
            let mut run = make(op, &[2, 4, 3], true);
            run();
            run();
        }
    }
}
