//! Property tests of the activations and `erf` over random shapes and
//! parameters: gradcheck and gradgradcheck in f64 away from the kinks, f32
//! against f64, identities (odd `erf`, GELU's tanh form close to the exact
//! one, `selu = scale·elu(alpha)`, `softplus − log_sigmoid(−x) = 0`), and
//! arbitrary arguments never panicking.

// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use autograd::gradcheck::single;
use autograd::{GeluApproximate, GradcheckOptions, Result, Var, erf_f64, gradcheck, gradgradcheck};
use core_tensor::{Float, Rng, Tensor};
use proptest::prelude::*;

/// The activations with their parameters, by index.
fn activation<F: Float>(k: usize, p: (f64, f64), x: &Var<F>) -> Result<Var<F>> {
    Ok(match k {
        0 => x.gelu(GeluApproximate::None),
        1 => x.gelu(GeluApproximate::Tanh),
        2 => x.leaky_relu(p.0),
        3 => x.elu(p.0),
        4 => x.selu(),
        5 => x.silu(),
        6 => x.mish(),
        7 => x.softplus(p.0, p.1),
        8 => x.log_sigmoid(),
        9 => x.hardtanh(p.0, p.1)?,
        10 => x.hardswish(),
        11 => x.hardsigmoid(),
        _ => x.erf(),
    })
}

const COUNT: usize = 13;

/// Kinks of activation `k` with parameters `p`.
fn kinks(k: usize, p: (f64, f64)) -> Vec<f64> {
    match k {
        2..=4 => vec![0.0],
        7 => vec![p.1 / p.0],
        9 => vec![p.0, p.1],
        10 | 11 => vec![-3.0, 3.0],
        _ => vec![],
    }
}

/// Parameters valid for activation `k` drawn from `a`, `b` in `[0, 1)`.
fn params(k: usize, a: f64, b: f64) -> (f64, f64) {
    match k {
        2 => (a * 0.5, 0.0),
        3 => (0.2 + 2.0 * a, 0.0),
        7 => (0.5 + 2.0 * a, 4.0 * b - 2.0),
        9 => (-2.0 * a - 0.1, 2.0 * b + 0.1),
        _ => (0.0, 0.0),
    }
}

fn kink_free(shape: &[usize], seed: u64, kinks: &[f64]) -> Tensor<f64> {
    let n = shape.iter().product();
    let mut v = Rng::new(seed).uniform_vec(n, -4.0, 4.0);
    for x in &mut v {
        for &k in kinks {
            if (*x - k).abs() < 0.05 {
                *x = if *x < k { k - 0.05 } else { k + 0.05 };
            }
        }
    }
    Tensor::from_vec(shape, v).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn gradcheck_first_and_second_order(
        k in 0..COUNT,
        shape in prop::collection::vec(1usize..=3, 0..=3),
        a in 0.0f64..1.0,
        b in 0.0f64..1.0,
        seed in any::<u64>(),
    ) {
        let p = params(k, a, b);
        let x = kink_free(&shape, seed, &kinks(k, p));
        let f = single(move |v: &[Var<f64>]| activation(k, p, &v[0]));
        let opts = GradcheckOptions::default();
        let r = gradcheck(&f, &[x.clone()], &opts).unwrap();
        prop_assert!(r.passed, "activation {k} {p:?}: first order {r}");
        let r = gradgradcheck(&f, &[x], &opts).unwrap();
        prop_assert!(r.passed, "activation {k} {p:?}: second order {r}");
    }

    #[test]
    fn f32_agrees_with_f64(
        k in 0..COUNT,
        a in 0.0f64..1.0,
        b in 0.0f64..1.0,
        seed in any::<u64>(),
    ) {
        let p = params(k, a, b);
        let x64 = kink_free(&[7], seed, &kinks(k, p));
        let x32 = Tensor::from_vec(&[7], x64.as_slice().iter().map(|&v| v as f32).collect()).unwrap();
        let (l64, l32) = (Var::leaf(x64.clone()), Var::leaf(x32));
        let (y64, y32) = (activation(k, p, &l64).unwrap(), activation(k, p, &l32).unwrap());
        y64.sum_all().backward().unwrap();
        y32.sum_all().backward().unwrap();
        let pairs = [
            (y64.value().to_vec(), y32.value().to_vec()),
            (l64.grad().unwrap().to_vec(), l32.grad().unwrap().to_vec()),
        ];
        for (w, g) in pairs {
            for (a, b) in w.iter().zip(&g) {
                prop_assert!((a - *b as f64).abs() <= 1e-5 * (1.0 + a.abs()), "{k}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn identities(x in -8.0f64..8.0) {
        prop_assert_eq!(erf_f64(-x), -erf_f64(x));
        let e = erf_f64(x);
        prop_assert!((-1.0..=1.0).contains(&e));
        let v = Var::constant(Tensor::from_vec(&[1], vec![x]).unwrap());
        let exact = v.gelu(GeluApproximate::None).value().as_slice()[0];
        let approx = v.gelu(GeluApproximate::Tanh).value().as_slice()[0];
        prop_assert!((exact - approx).abs() < 1e-3, "{exact} {approx}");
        let selu = v.selu().value().as_slice()[0];
        let elu = v.elu(1.673_263_242_354_377_2).value().as_slice()[0];
        prop_assert!((selu - 1.050_700_987_355_480_5 * elu).abs() <= 1e-15 * (1.0 + selu.abs()));
        let sp = v.softplus(1.0, f64::INFINITY).value().as_slice()[0];
        let ls = v.neg().log_sigmoid().value().as_slice()[0];
        prop_assert!((sp + ls).abs() <= 1e-14 * (1.0 + sp.abs()), "{sp} {ls}");
    }

    /// Any parameters and values, NaN and infinities included: an error
    /// (only `hardtanh` has one) or a value, never a panic.
    #[test]
    fn arbitrary_arguments_never_panic(
        k in 0..COUNT,
        p0 in prop_oneof![any::<f64>(), Just(f64::NAN), Just(0.0), Just(f64::INFINITY)],
        p1 in prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::NEG_INFINITY)],
        vals in prop::collection::vec(
            prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(-0.0)], 0..6),
    ) {
        let n = vals.len();
        let x = Var::leaf(Tensor::from_vec(&[n], vals).unwrap());
        if let Ok(y) = activation(k, (p0, p1), &x) {
            prop_assert_eq!(y.shape(), vec![n]);
            let g = autograd::grad(&[y], &[x.clone()], &[Var::constant(Tensor::ones(&[n]))], true).unwrap();
            let g = g[0].clone().unwrap();
            prop_assert_eq!(g.shape(), vec![n]);
            let _ = autograd::grad(&[g], &[x], &[Var::constant(Tensor::ones(&[n]))], false);
        } else {
            prop_assert_eq!(k, 9);
        }
    }
}
