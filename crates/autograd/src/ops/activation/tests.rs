//! Values, first and second derivatives against PyTorch, both backward
//! paths, `f32` against `f64`, and the kinks and errors PyTorch pins.
// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use core_tensor::Tensor;
use core_tensor::testing::assert_close;

use super::GeluApproximate;
use super::reference::{REFERENCES, X};
use crate::{AutogradError, Var, grad};

fn apply_named<F: core_tensor::Float>(name: &str, x: &Var<F>) -> Var<F> {
    match name {
        "gelu_none" => x.gelu(GeluApproximate::None),
        "gelu_tanh" => x.gelu(GeluApproximate::Tanh),
        "leaky_relu_default" => x.leaky_relu(0.01),
        "leaky_relu_0_2" => x.leaky_relu(0.2),
        "elu_default" => x.elu(1.0),
        "elu_0_5" => x.elu(0.5),
        "selu" => x.selu(),
        "silu" => x.silu(),
        "mish" => x.mish(),
        "softplus_default" => x.softplus(1.0, 20.0),
        "softplus_beta2_t5" => x.softplus(2.0, 5.0),
        "log_sigmoid" => x.log_sigmoid(),
        "hardtanh_default" => x.hardtanh(-1.0, 1.0).unwrap(),
        "hardtanh_m2_0_5" => x.hardtanh(-2.0, 0.5).unwrap(),
        "hardswish" => x.hardswish(),
        "hardsigmoid" => x.hardsigmoid(),
        other => panic!("no activation {other}"),
    }
}

fn ones(n: usize) -> Var<f64> {
    Var::constant(Tensor::ones(&[n]))
}

/// `(y, d1 without create_graph, d1 with create_graph, d2)` at `X`.
fn derivatives(name: &str) -> [Vec<f64>; 4] {
    let n = X.len();
    let x = Var::leaf(Tensor::from_vec(&[n], X.to_vec()).unwrap());
    let y = apply_named(name, &x);
    let fast = grad(&[y.clone()], &[x.clone()], &[ones(n)], false).unwrap()[0]
        .clone()
        .unwrap();
    let y = apply_named(name, &x);
    let d1 = grad(&[y.clone()], &[x.clone()], &[ones(n)], true).unwrap()[0]
        .clone()
        .unwrap();
    let d2 = if d1.requires_grad() {
        grad(&[d1.clone()], &[x.clone()], &[ones(n)], false).unwrap()[0]
            .clone()
            .map_or(vec![0.0; n], |g| g.value().to_vec())
    } else {
        vec![0.0; n]
    };
    [
        y.value().to_vec(),
        fast.value().to_vec(),
        d1.value().to_vec(),
        d2,
    ]
}

#[test]
fn values_and_two_derivatives_match_pytorch() {
    let mut failures: Vec<String> = Vec::new();
    for r in REFERENCES {
        let [y, fast, slow, d2] = derivatives(r.name);
        let mut check = |what: &str, got: &[f64], want: &[f64], rtol: f64| {
            for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
                if (g - w).abs() > 1e-15 + rtol * w.abs() {
                    let at = X[i];
                    failures.push(format!(
                        "{} {what} at x = {at}: {g:e} vs torch {w:e}",
                        r.name
                    ));
                }
            }
        };
        check("value", &y, &r.y, 1e-13);
        check("gradient (fused backward)", &fast, &r.d1, 1e-13);
        check("gradient (recorded backward)", &slow, &r.d1, 1e-13);
        // PyTorch's double backward uses other (but equal) formulas, e.g.
        // for the tanh GELU, which round differently in the 12th digit.
        check("second derivative", &d2, &r.d2, 1e-10);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn f32_agrees_with_f64() {
    for r in REFERENCES {
        let x32 = Var::leaf(Tensor::from_vec(&[X.len()], X.map(|v| v as f32).to_vec()).unwrap());
        let y = apply_named(r.name, &x32);
        y.sum_all().backward().unwrap();
        assert_close(y.value().as_slice(), &r.y, 1e-6, 1e-6);
        assert_close(x32.grad().unwrap().as_slice(), &r.d1, 1e-5, 1e-6);
    }
}

#[test]
fn nan_propagates_through_every_activation() {
    for r in REFERENCES {
        let x = Var::constant(Tensor::from_vec(&[1], vec![f64::NAN]).unwrap());
        let y = apply_named(r.name, &x).value().as_slice()[0];
        assert!(y.is_nan(), "{}: {y}", r.name);
    }
}

#[test]
fn large_inputs_stay_finite() {
    let x = Var::constant(Tensor::from_vec(&[2], vec![-1000.0f64, 1000.0]).unwrap());
    // torch: F.mish / F.silu at -1000 give -0.0, at 1000 give 1000.
    for y in [x.mish(), x.silu()] {
        assert_eq!(y.value().as_slice(), &[0.0, 1000.0]);
    }
    assert_close(
        x.log_sigmoid().value().as_slice(),
        &[-1000.0, 0.0],
        0.0,
        0.0,
    );
    assert_close(
        x.softplus(1.0, 20.0).value().as_slice(),
        &[0.0, 1000.0],
        0.0,
        0.0,
    );
}

#[test]
fn hardtanh_rejects_bounds_pytorch_rejects() {
    let x = Var::constant(Tensor::<f64>::zeros(&[2]));
    for (lo, hi) in [(1.0, 0.0), (0.5, 0.5), (f64::NAN, 1.0)] {
        let err = x.hardtanh(lo, hi).unwrap_err();
        assert!(
            matches!(err, AutogradError::InvalidArgument { op: "hardtanh", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("must be greater than min_val"));
    }
}

#[test]
fn gelu_approximate_parses_pytorch_spellings() {
    assert_eq!(
        GeluApproximate::parse("none").unwrap(),
        GeluApproximate::None
    );
    assert_eq!(
        GeluApproximate::parse("tanh").unwrap(),
        GeluApproximate::Tanh
    );
    let err = GeluApproximate::parse("erf").unwrap_err();
    assert!(err.to_string().contains("either none or tanh"), "{err}");
}

// torch 2.15:
//   x = torch.tensor([-3., 1.], requires_grad=True)
//   F.hardtanh(x).backward(torch.tensor([nan, 2.]))      -> x.grad == [0., 0.]
//   x2 = torch.tensor([-4., 3.], requires_grad=True)
//   F.hardswish(x2).backward(torch.tensor([nan, 2.]))    -> x2.grad == [0., 2.]
#[test]
fn hard_activations_select_zero_gradients() {
    let g = Tensor::from_vec(&[2], vec![f64::NAN, 2.0]).unwrap();
    let x = Var::leaf(Tensor::from_vec(&[2], vec![-3.0, 1.0]).unwrap());
    x.hardtanh(-1.0, 1.0)
        .unwrap()
        .backward_with(&g, Default::default())
        .unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[0.0, 0.0]);
    let x = Var::leaf(Tensor::from_vec(&[2], vec![-4.0, 3.0]).unwrap());
    x.hardswish().backward_with(&g, Default::default()).unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[0.0, 2.0]);
}

#[test]
fn third_derivative_of_elu_is_exact() {
    // d³/dx³ alpha·(e^x − 1) = alpha·e^x on the negative side, 0 above.
    let x = Var::leaf(Tensor::from_vec(&[2], vec![-0.7f64, 0.4]).unwrap());
    let mut d = x.elu(0.5);
    for _ in 0..3 {
        d = grad(&[d], &[x.clone()], &[ones(2)], true).unwrap()[0]
            .clone()
            .unwrap();
    }
    assert_close(
        d.value().as_slice(),
        &[0.5 * (-0.7f64).exp(), 0.0],
        1e-15,
        0.0,
    );
}
