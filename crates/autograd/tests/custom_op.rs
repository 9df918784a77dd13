//! The user-defined op of `examples/src/bin/custom_op.rs` (softplus with a
//! fused, differentiable backward), checked in CI: the same source file is
//! compiled here as a module.
// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

#[path = "../../../examples/src/bin/custom_op.rs"]
#[allow(dead_code)]
mod custom_op_example;

use autograd::{BackwardOptions, Var, grad};
use core_tensor::Tensor;
use core_tensor::testing::assert_close;
use custom_op_example::{run_checks, softplus, softplus_grad};

#[test]
fn every_check_of_the_example_passes() {
    let reports = run_checks().unwrap();
    assert_eq!(reports.len(), 5);
    for (name, r) in reports {
        assert!(r.passed, "{name}: {r}");
        assert!(r.compared > 0, "{name}");
    }
}

#[test]
fn values_and_derivatives_are_exact() {
    let xs = [-30.0f64, -1.0, 0.0, 2.0, 40.0];
    let x = Var::leaf(Tensor::from_vec(&[5], xs.to_vec()).unwrap());
    let y = softplus(&x);
    let want: Vec<f64> = xs
        .iter()
        .map(|&v: &f64| if v > 20.0 { v } else { v.exp().ln_1p() })
        .collect();
    assert_close(y.value().as_slice(), &want, 1e-15, 0.0);
    let ones = Var::constant(Tensor::ones(&[5]));
    let d1 = grad(&[y], &[x.clone()], &[ones.clone()], true).unwrap()[0]
        .clone()
        .unwrap();
    let s: Vec<f64> = xs.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect();
    assert_close(d1.value().as_slice(), &s, 1e-15, 0.0);
    assert_eq!(d1.op_name(), "softplus_grad");
    let d2 = grad(&[d1], &[x.clone()], &[ones.clone()], true).unwrap()[0]
        .clone()
        .unwrap();
    let want2: Vec<f64> = s.iter().map(|s| s * (1.0 - s)).collect();
    assert_close(d2.value().as_slice(), &want2, 1e-14, 1e-300);
    let d3 = grad(&[d2], &[x], &[ones], false).unwrap()[0]
        .clone()
        .unwrap();
    let want3: Vec<f64> = s.iter().map(|s| s * (1.0 - s) * (1.0 - 2.0 * s)).collect();
    assert_close(d3.value().as_slice(), &want3, 1e-13, 1e-300);
}

#[test]
fn works_in_f32_and_rejects_bad_shapes() {
    let x = Var::leaf(Tensor::from_vec(&[2], vec![0.0f32, 1.0]).unwrap());
    softplus(&x)
        .sum_all()
        .backward_with(&Tensor::ones(&[]), BackwardOptions::default())
        .unwrap();
    assert_close(
        x.grad().unwrap().as_slice(),
        &[0.5f64, 0.731_058_578_630_004_9],
        1e-6,
        0.0,
    );
    let e = softplus_grad(
        &Var::<f64>::constant(Tensor::zeros(&[2])),
        &Var::constant(Tensor::zeros(&[3])),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "softplus_grad: shapes [2] and [3] are incompatible: the output gradient must have the input's shape"
    );
}
