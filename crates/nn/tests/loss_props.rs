//! Property tests of the elementwise losses: the registered gradcheck
//! samples (first and second order) for random seeds, f32 against f64 on
//! random shapes, invariants (`huber(δ) = δ·smooth_l1(β = δ)`, KL of a
//! distribution from itself is 0, BCE with logits equals BCE of the
//! sigmoid), and arbitrary arguments never panicking.

use autograd::Var;
use core_tensor::{Float, Rng, Tensor};
use nn::{
    KlDivReduction, Reduction, binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss,
    kl_div, l1_loss, mse_loss, smooth_l1_loss,
};
use proptest::prelude::*;

const LOSS_OPS: [&str; 8] = [
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "cross_entropy",
];

fn values(shape: &[usize], seed: u64, low: f64, high: f64) -> Vec<f64> {
    let n = shape.iter().product();
    Rng::new(seed).uniform_vec(n, low, high)
}

/// Loss `k` of `x` against `y` with parameter `p` (and a weight of `x`'s
/// last size for the BCE losses when `weighted`).
fn loss<F: Float>(k: usize, x: &Var<F>, y: &Var<F>, p: f64, r: Reduction) -> nn::Result<Var<F>> {
    match k {
        0 => mse_loss(x, y, r),
        1 => l1_loss(x, y, r),
        2 => smooth_l1_loss(x, y, r, p),
        3 => huber_loss(x, y, r, p),
        4 => binary_cross_entropy(x, y, None, r),
        5 => binary_cross_entropy_with_logits(x, y, None, None, r),
        6 => kl_div(x, y, KlDivReduction::BatchMean, false),
        _ => kl_div(x, y, KlDivReduction::Sum, true),
    }
}

fn reduction(i: usize) -> Reduction {
    [Reduction::Mean, Reduction::Sum, Reduction::None][i % 3]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn registered_samples_pass(seed in any::<u64>()) {
        for case in nn::gradcheck_cases(seed, 1).into_iter().filter(|c| LOSS_OPS.contains(&c.op)) {
            let out = case.run().unwrap();
            prop_assert!(out.passed(), "{} {}: {} / {:?}", case.op, case.label, out.first, out.second);
        }
    }

    #[test]
    fn f32_agrees_with_f64(
        k in 0usize..8,
        shape in prop::collection::vec(1usize..=4, 1..=3),
        p in 0.1f64..2.0,
        r in 0usize..3,
        seed in any::<u64>(),
    ) {
        // Inputs in each loss's domain: probabilities for BCE, positive
        // targets for KL.
        let (xr, yr) = match k {
            4 => ((0.05, 0.95), (0.0, 1.0)),
            6 => ((-3.0, 0.0), (0.05, 1.0)),
            _ => ((-2.0, 2.0), (-2.0, 2.0)),
        };
        let yr = if k == 5 { (0.0, 1.0) } else { yr };
        let x = values(&shape, seed, xr.0, xr.1);
        let mut y = values(&shape, seed ^ 7, yr.0, yr.1);
        if k <= 3 {
            // Differences at least 0.05 from the kinks at 0 and at `p`, so
            // f32 rounding cannot move one across.
            let m = values(&shape, seed ^ 9, 0.05, 2.0);
            for ((yi, &xi), &mi) in y.iter_mut().zip(&x).zip(&m) {
                let mi = if (mi - p).abs() < 0.05 { p + 0.1 } else { mi };
                *yi = if *yi < 0.0 { xi - mi } else { xi + mi };
            }
        }
        let run = |x: Vec<f64>, y: Vec<f64>| -> (Vec<f64>, Vec<f64>) {
            let xv = Var::leaf(Tensor::from_vec(&shape, x).unwrap());
            let yv = Var::constant(Tensor::from_vec(&shape, y).unwrap());
            let l = loss(k, &xv, &yv, p, reduction(r)).unwrap();
            l.sum_all().backward().unwrap();
            (l.value().to_vec(), xv.grad().unwrap().to_vec())
        };
        let run32 = |x: &[f64], y: &[f64]| -> (Vec<f32>, Vec<f32>) {
            let xv = Var::leaf(Tensor::from_vec(&shape, x.iter().map(|&v| v as f32).collect()).unwrap());
            let yv = Var::constant(Tensor::from_vec(&shape, y.iter().map(|&v| v as f32).collect()).unwrap());
            let l = loss(k, &xv, &yv, p, reduction(r)).unwrap();
            l.sum_all().backward().unwrap();
            (l.value().to_vec(), xv.grad().unwrap().to_vec())
        };
        let (v32, g32) = run32(&x, &y);
        let (v64, g64) = run(x, y);
        for (a, b) in v64.iter().zip(&v32).chain(g64.iter().zip(&g32)) {
            let tol = 1e-4 * (1.0 + a.abs());
            prop_assert!((a - *b as f64).abs() <= tol, "loss {k}: {a} vs {b}");
        }
    }

    #[test]
    fn invariants(shape in prop::collection::vec(1usize..=4, 1..=3), delta in 0.1f64..3.0, seed in any::<u64>()) {
        let x = Var::constant(Tensor::from_vec(&shape, values(&shape, seed, -3.0, 3.0)).unwrap());
        let y = Var::constant(Tensor::from_vec(&shape, values(&shape, seed ^ 1, -3.0, 3.0)).unwrap());
        let h = huber_loss(&x, &y, Reduction::None, delta).unwrap().value().to_vec();
        let s = smooth_l1_loss(&x, &y, Reduction::None, delta).unwrap().value().to_vec();
        for (a, b) in h.iter().zip(&s) {
            prop_assert!((a - delta * b).abs() <= 1e-12 * (1.0 + a.abs()), "{a} {b}");
        }
        // KL(p || p) = 0, in both target forms.
        let logp = x.log_softmax(-1).unwrap();
        let kl = kl_div(&logp, &logp.exp(), KlDivReduction::Sum, false).unwrap().value().to_vec()[0];
        prop_assert!(kl.abs() < 1e-12, "{kl}");
        let kl = kl_div(&logp, &logp, KlDivReduction::Sum, true).unwrap().value().to_vec()[0];
        prop_assert!(kl.abs() < 1e-12, "{kl}");
        // BCE with logits = BCE of the sigmoid, for moderate logits.
        let t = Var::constant(Tensor::from_vec(&shape, values(&shape, seed ^ 2, 0.0, 1.0)).unwrap());
        let a = binary_cross_entropy_with_logits(&x, &t, None, None, Reduction::Sum).unwrap().value().to_vec()[0];
        let b = binary_cross_entropy(&x.sigmoid(), &t, None, Reduction::Sum).unwrap().value().to_vec()[0];
        prop_assert!((a - b).abs() <= 1e-12 * (1.0 + a.abs()), "{a} {b}");
    }

    /// Arbitrary shapes (broadcastable or not), values and parameters: an
    /// error or a value with a gradient, never a panic.
    #[test]
    fn arbitrary_arguments_never_panic(
        k in 0usize..8,
        xs in prop::collection::vec(0usize..=3, 0..=3),
        ys in prop::collection::vec(0usize..=3, 0..=3),
        p in prop_oneof![any::<f64>(), Just(0.0), Just(-1.0), Just(f64::NAN)],
        fill in prop_oneof![any::<f64>(), Just(0.5), Just(f64::NAN), Just(f64::INFINITY)],
        r in 0usize..3,
        weighted in any::<bool>(),
        ws in prop::collection::vec(0usize..=3, 0..=2),
    ) {
        let mk = |s: &[usize]| Var::leaf(Tensor::from_vec(s, vec![fill; s.iter().product()]).unwrap());
        let (x, y) = (mk(&xs), mk(&ys));
        let w = mk(&ws);
        let out = match (k, weighted) {
            (4, true) => binary_cross_entropy(&x, &y, Some(&w), reduction(r)),
            (5, true) => binary_cross_entropy_with_logits(&x, &y, Some(&w), Some(&w), reduction(r)),
            _ => loss(k, &x, &y, p, reduction(r)),
        };
        if let Ok(l) = out {
            let _ = l.sum_all().backward();
        }
    }
}
