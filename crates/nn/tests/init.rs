//! `nn::init`: the statistics of each initializer (mean, standard
//! deviation, bounds, orthogonality) on large tensors with fixed seeds,
//! determinism, PyTorch's checks as typed errors, and no panics over
//! arbitrary arguments.

use autograd::Var;
use core_tensor::{Rng, Tensor};
use nn::NnError;
use nn::init::{
    FanMode, calculate_gain, constant_, kaiming_normal_, kaiming_uniform_, normal_, ones_,
    orthogonal_, trunc_normal_, uniform_, xavier_normal_, xavier_uniform_, zeros_,
};
use proptest::prelude::*;

fn param(shape: &[usize]) -> Var<f64> {
    Var::leaf(Tensor::zeros(shape))
}

/// (mean, standard deviation, min, max).
fn stats(v: &Var<f64>) -> (f64, f64, f64, f64) {
    let t = v.value();
    let x = t.as_slice();
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let min = x.iter().copied().fold(f64::INFINITY, f64::min);
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, var.sqrt(), min, max)
}

/// Mean within 5 standard errors of `mean`, std within 3% of `std`.
fn assert_moments(what: &str, v: &Var<f64>, mean: f64, std: f64) {
    let n = v.value().len() as f64;
    let (m, s, _, _) = stats(v);
    assert!(
        (m - mean).abs() <= 5.0 * std / n.sqrt(),
        "{what}: mean {m}, want {mean}"
    );
    assert!((s / std - 1.0).abs() <= 0.03, "{what}: std {s}, want {std}");
}

#[test]
fn xavier_uniform_and_normal_have_glorots_scale() {
    let mut rng = Rng::new(1);
    let w = param(&[200, 300]);
    let gain = calculate_gain("tanh", None).unwrap();
    xavier_uniform_(&w, gain, &mut rng).unwrap();
    let bound = gain * (6.0f64 / 500.0).sqrt();
    let (_, _, min, max) = stats(&w);
    assert!(min >= -bound && max <= bound, "[{min}, {max}] vs {bound}");
    assert!(
        min < -0.99 * bound && max > 0.99 * bound,
        "fills the interval"
    );
    assert_moments("xavier_uniform_", &w, 0.0, bound / 3f64.sqrt());

    // Conv weight (64, 16, 3, 3): fan_in 144, fan_out 576.
    let w = param(&[64, 16, 3, 3]);
    xavier_normal_(&w, 1.0, &mut rng).unwrap();
    assert_moments("xavier_normal_", &w, 0.0, (2.0f64 / 720.0).sqrt());
}

#[test]
fn kaiming_uses_the_chosen_fan_and_gain() {
    let mut rng = Rng::new(2);
    let w = param(&[256, 64, 3, 3]);
    kaiming_normal_(&w, 0.0, FanMode::FanIn, "relu", &mut rng).unwrap();
    assert_moments("fan_in", &w, 0.0, 2f64.sqrt() / 576f64.sqrt());
    kaiming_normal_(&w, 0.0, FanMode::FanOut, "relu", &mut rng).unwrap();
    assert_moments("fan_out", &w, 0.0, 2f64.sqrt() / 2304f64.sqrt());
    // leaky_relu with a = sqrt(5): the default Linear / Conv init,
    // bound 1 / sqrt(fan_in).
    let w = param(&[300, 400]);
    kaiming_uniform_(&w, 5f64.sqrt(), FanMode::FanIn, "leaky_relu", &mut rng).unwrap();
    let (_, _, min, max) = stats(&w);
    let bound = 1.0 / 20.0;
    assert!(min >= -bound - 1e-15 && max <= bound + 1e-15);
    assert!(max > 0.99 * bound && min < -0.99 * bound);
    assert_moments("kaiming_uniform_", &w, 0.0, bound / 3f64.sqrt());
    // selu gain 3/4, fan_out 300.
    kaiming_uniform_(&w, 0.0, FanMode::FanOut, "selu", &mut rng).unwrap();
    let bound = 0.75 * (3.0f64 / 300.0).sqrt();
    assert_moments("selu", &w, 0.0, bound / 3f64.sqrt());
}

#[test]
fn normal_uniform_and_constants() {
    let mut rng = Rng::new(3);
    let w = param(&[100_000]);
    normal_(&w, 0.5, 2.0, &mut rng).unwrap();
    assert_moments("normal_", &w, 0.5, 2.0);
    uniform_(&w, -1.0, 3.0, &mut rng).unwrap();
    let (_, _, min, max) = stats(&w);
    assert!(min >= -1.0 && max <= 3.0);
    assert_moments("uniform_", &w, 1.0, 4.0 / 12f64.sqrt());
    let w = param(&[3, 4]);
    constant_(&w, 0.25).unwrap();
    assert!(w.value().as_slice().iter().all(|&v| v == 0.25));
    ones_(&w).unwrap();
    assert!(w.value().as_slice().iter().all(|&v| v == 1.0));
    zeros_(&w).unwrap();
    assert!(w.value().as_slice().iter().all(|&v| v == 0.0));
}

#[test]
fn trunc_normal_has_the_truncated_moments() {
    // Moments of N(mu, s²) on [a, b]: mean mu + s(φ(α) − φ(β))/Z,
    // variance s²(1 + (αφ(α) − βφ(β))/Z − ((φ(α) − φ(β))/Z)²), Z = Φ(β) − Φ(α),
    // evaluated in Python with math.erfc.
    let cases = [
        ((0.0, 1.0, -2.0, 2.0), (0.0, 0.8796256610342398)),
        (
            (0.5, 2.0, -1.0, 3.0),
            (0.8549027639677396, 1.0739496450241752),
        ),
        (
            (0.0, 1.0, 3.0, 5.0),
            (3.282694379942385, 0.26419228995210287),
        ),
    ];
    let mut rng = Rng::new(4);
    for ((mu, s, a, b), (mean, std)) in cases {
        let w = param(&[100_000]);
        trunc_normal_(&w, mu, s, a, b, &mut rng).unwrap();
        let (_, _, min, max) = stats(&w);
        assert!(min >= a && max <= b, "[{min}, {max}] in [{a}, {b}]");
        assert_moments(
            &format!("trunc_normal_({mu}, {s}, {a}, {b})"),
            &w,
            mean,
            std,
        );
    }
}

fn gram(w: &[f64], rows: usize, cols: usize, by_rows: bool) -> Vec<f64> {
    let k = if by_rows { rows } else { cols };
    let mut g = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            g[i * k + j] = if by_rows {
                (0..cols).map(|c| w[i * cols + c] * w[j * cols + c]).sum()
            } else {
                (0..rows).map(|r| w[r * cols + i] * w[r * cols + j]).sum()
            };
        }
    }
    g
}

#[test]
fn orthogonal_rows_or_columns_are_orthonormal_times_gain() {
    let mut rng = Rng::new(5);
    for (shape, gain) in [
        (vec![3, 5], 1.0),
        (vec![5, 3], 2.0),
        (vec![4, 2, 3], 0.5),
        (vec![6, 6], 1.0),
        (vec![1, 7], 1.0),
    ] {
        let w = param(&shape);
        orthogonal_(&w, gain, &mut rng).unwrap();
        let rows = shape[0];
        let cols: usize = shape[1..].iter().product();
        let by_rows = rows <= cols;
        let g = gram(w.value().as_slice(), rows, cols, by_rows);
        let k = rows.min(cols);
        for i in 0..k {
            for j in 0..k {
                let want = if i == j { gain * gain } else { 0.0 };
                assert!(
                    (g[i * k + j] - want).abs() < 1e-12,
                    "{shape:?}: gram[{i}][{j}] = {}",
                    g[i * k + j]
                );
            }
        }
    }
}

#[test]
fn same_seed_same_values() {
    let draw = |seed| {
        let mut rng = Rng::new(seed);
        let w = param(&[7, 9]);
        xavier_uniform_(&w, 1.0, &mut rng).unwrap();
        let a = w.value();
        trunc_normal_(&w, 0.0, 1.0, -2.0, 2.0, &mut rng).unwrap();
        let b = w.value();
        orthogonal_(&w, 1.0, &mut rng).unwrap();
        (a, b, w.value())
    };
    assert_eq!(draw(11), draw(11));
    assert_ne!(draw(11).0, draw(12).0);
}

#[test]
fn pytorchs_checks_are_typed_errors() {
    let mut rng = Rng::new(6);
    let v = param(&[5]);
    let is_config = |r: Result<(), NnError>| matches!(r, Err(NnError::InvalidConfig { .. }));
    assert!(is_config(xavier_uniform_(&v, 1.0, &mut rng)));
    assert!(is_config(xavier_normal_(&v, 1.0, &mut rng)));
    assert!(is_config(kaiming_normal_(
        &v,
        0.0,
        FanMode::FanIn,
        "relu",
        &mut rng
    )));
    assert!(is_config(orthogonal_(&v, 1.0, &mut rng)));
    let w = param(&[3, 4]);
    assert!(is_config(kaiming_uniform_(
        &w,
        0.0,
        FanMode::FanIn,
        "swish",
        &mut rng
    )));
    assert!(is_config(trunc_normal_(&w, 0.0, 1.0, 2.0, 2.0, &mut rng)));
    assert!(is_config(trunc_normal_(&w, 0.0, 0.0, -2.0, 2.0, &mut rng)));
    assert!(is_config(normal_(&w, 0.0, -1.0, &mut rng)));
    assert!(is_config(uniform_(&w, 1.0, 0.0, &mut rng)));
    assert!(is_config(xavier_uniform_(&w, f64::NAN, &mut rng)));
    let msg = xavier_uniform_(&v, 1.0, &mut rng).unwrap_err().to_string();
    assert!(msg.contains("fewer than 2 dimensions"), "{msg}");
    // A value computed in the graph is not a parameter.
    let y = w.mul_scalar(2.0);
    assert!(matches!(zeros_(&y), Err(NnError::Autograd(_))));
    // Zero-element tensors are left alone.
    let empty = param(&[0, 4]);
    kaiming_normal_(&empty, 0.0, FanMode::FanOut, "relu", &mut rng).unwrap();
    orthogonal_(&empty, 1.0, &mut rng).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_arguments_never_panic(
        shape in prop::collection::vec(0usize..5, 0..4),
        x in prop::array::uniform4(prop_oneof![any::<f64>(), -5.0f64..5.0]),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        let w = param(&shape);
        let [a, b, c, d] = x;
        let _ = xavier_uniform_(&w, a, &mut rng);
        let _ = xavier_normal_(&w, a, &mut rng);
        let _ = kaiming_uniform_(&w, a, FanMode::FanOut, "leaky_relu", &mut rng);
        let _ = kaiming_normal_(&w, a, FanMode::FanIn, "tanh", &mut rng);
        let _ = normal_(&w, a, b, &mut rng);
        let _ = uniform_(&w, a, b, &mut rng);
        let _ = constant_(&w, a);
        let _ = orthogonal_(&w, a, &mut rng);
        if trunc_normal_(&w, a, b, c, d, &mut rng).is_ok() {
            prop_assert!(w.value().as_slice().iter().all(|v| *v >= c && *v <= d));
        }
    }
}
