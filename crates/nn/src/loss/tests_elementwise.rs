//! The elementwise losses against PyTorch: values for every reduction,
//! gradients in input and target, a Hessian-vector product in the input,
//! and the errors PyTorch raises.
// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use autograd::{Var, grad};
use core_tensor::Tensor;

use super::elementwise_reference::{Inputs, LOSS_REFERENCES, U, inputs};
use super::*;
use crate::NnError;

fn reduction(r: &str) -> Reduction {
    match r {
        "none" => Reduction::None,
        "mean" => Reduction::Mean,
        "sum" => Reduction::Sum,
        other => panic!("no reduction {other}"),
    }
}

fn kl_reduction(r: &str) -> KlDivReduction {
    match r {
        "none" => KlDivReduction::None,
        "mean" => KlDivReduction::Mean,
        "sum" => KlDivReduction::Sum,
        "batchmean" => KlDivReduction::BatchMean,
        other => panic!("no reduction {other}"),
    }
}

fn run(case: &str, x: &Var<f64>, y: &Var<f64>, r: &str) -> Var<f64> {
    let w = Var::constant(Tensor::from_vec(&[3], vec![0.5, 2.0, 1.5]).unwrap());
    let pw = Var::constant(Tensor::from_vec(&[3], vec![3.0, 0.5, 1.0]).unwrap());
    let res = match case {
        "mse" => mse_loss(x, y, reduction(r)),
        "l1" => l1_loss(x, y, reduction(r)),
        "smooth_l1_b1" => smooth_l1_loss(x, y, reduction(r), 1.0),
        "smooth_l1_b0_5" => smooth_l1_loss(x, y, reduction(r), 0.5),
        "smooth_l1_b0" => smooth_l1_loss(x, y, reduction(r), 0.0),
        "huber_d1" => huber_loss(x, y, reduction(r), 1.0),
        "huber_d2" => huber_loss(x, y, reduction(r), 2.0),
        "bce" => binary_cross_entropy(x, y, None, reduction(r)),
        "bce_weight" => binary_cross_entropy(x, y, Some(&w), reduction(r)),
        "bce_logits" => binary_cross_entropy_with_logits(x, y, None, None, reduction(r)),
        "bce_logits_weights" => {
            binary_cross_entropy_with_logits(x, y, Some(&w), Some(&pw), reduction(r))
        }
        "kl" => kl_div(x, y, kl_reduction(r), false),
        "kl_log" => kl_div(x, y, kl_reduction(r), true),
        other => panic!("no case {other}"),
    };
    res.unwrap()
}

fn leaves(i: &Inputs) -> (Var<f64>, Var<f64>) {
    (
        Var::leaf(Tensor::from_vec(i.x_shape, i.x.to_vec()).unwrap()),
        Var::leaf(Tensor::from_vec(i.y_shape, i.y.to_vec()).unwrap()),
    )
}

/// `|got − want| <= 1e-15 + rtol·|want|` elementwise; PyTorch's NaN
/// entries (the target gradient of `kl_div` at a zero target) are skipped.
fn check(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() {
            continue;
        }
        assert!(
            (g - w).abs() <= 1e-15 + rtol * w.abs(),
            "{what} element {i}: {g:e} vs torch {w:e}"
        );
    }
}

#[test]
fn elementwise_losses_match_pytorch_to_second_order() {
    for r in LOSS_REFERENCES {
        let what = format!("{} ({})", r.case, r.reduction);
        let (x, y) = leaves(&inputs(r.inputs));
        let l = run(r.case, &x, &y, r.reduction);
        check(
            &format!("{what} value"),
            &l.value().to_vec(),
            r.value,
            1e-14,
        );
        let g = grad(
            &[l.sum_all()],
            &[x.clone(), y.clone()],
            &[Var::constant(Tensor::scalar(1.0))],
            true,
        )
        .unwrap();
        let (gx, gy) = (g[0].clone().unwrap(), g[1].clone().unwrap());
        check(&format!("{what} d/dx"), &gx.value().to_vec(), r.gx, 1e-13);
        check(&format!("{what} d/dy"), &gy.value().to_vec(), r.gy, 1e-13);
        let u = Var::constant(Tensor::from_vec(&x.shape(), U.to_vec()).unwrap());
        // Where the gradient is piecewise constant in x (l1) it carries no
        // graph: the Hessian is 0.
        let hx = if !gx.requires_grad() {
            vec![0.0; 6]
        } else {
            grad(
                &[gx.mul(&u).unwrap().sum_all()],
                &[x.clone()],
                &[Var::constant(Tensor::scalar(1.0))],
                false,
            )
            .unwrap()[0]
                .clone()
                .map_or(vec![0.0; 6], |h| h.value().to_vec())
        };
        // PyTorch's BCE double backward floors (x + 1e-12)²(1 − x + 1e-12)²
        // where the exact derivative has x²(1 − x)²: equal to ~1e-10.
        let rtol = if r.case.starts_with("bce") && !r.case.contains("logits") {
            1e-9
        } else {
            1e-12
        };
        check(&format!("{what} Hessian·U"), &hx, r.hx, rtol);
    }
}

#[test]
fn f32_agrees_with_f64() {
    for r in LOSS_REFERENCES.iter().filter(|r| r.reduction == "mean") {
        let i = inputs(r.inputs);
        let x = Var::leaf(
            Tensor::from_vec(i.x_shape, i.x.iter().map(|&v| v as f32).collect()).unwrap(),
        );
        let y = Var::leaf(
            Tensor::from_vec(i.y_shape, i.y.iter().map(|&v| v as f32).collect()).unwrap(),
        );
        let w = Var::constant(Tensor::from_vec(&[3], vec![0.5f32, 2.0, 1.5]).unwrap());
        let pw = Var::constant(Tensor::from_vec(&[3], vec![3.0f32, 0.5, 1.0]).unwrap());
        let m = Reduction::Mean;
        let l = match r.case {
            "mse" => mse_loss(&x, &y, m),
            "l1" => l1_loss(&x, &y, m),
            "smooth_l1_b1" => smooth_l1_loss(&x, &y, m, 1.0),
            "smooth_l1_b0_5" => smooth_l1_loss(&x, &y, m, 0.5),
            "smooth_l1_b0" => smooth_l1_loss(&x, &y, m, 0.0),
            "huber_d1" => huber_loss(&x, &y, m, 1.0),
            "huber_d2" => huber_loss(&x, &y, m, 2.0),
            "bce" => binary_cross_entropy(&x, &y, None, m),
            "bce_weight" => binary_cross_entropy(&x, &y, Some(&w), m),
            "bce_logits" => binary_cross_entropy_with_logits(&x, &y, None, None, m),
            "bce_logits_weights" => {
                binary_cross_entropy_with_logits(&x, &y, Some(&w), Some(&pw), m)
            }
            "kl" => kl_div(&x, &y, KlDivReduction::Mean, false),
            "kl_log" => kl_div(&x, &y, KlDivReduction::Mean, true),
            other => panic!("{other}"),
        }
        .unwrap();
        let v = l.value().as_slice()[0] as f64;
        assert!(
            (v - r.value[0]).abs() <= 1e-5 * (1.0 + r.value[0].abs()),
            "{}: {v}",
            r.case
        );
        l.backward().unwrap();
        let gx: Vec<f64> = x
            .grad()
            .unwrap()
            .as_slice()
            .iter()
            .map(|&v| v as f64)
            .collect();
        for (a, b) in gx.iter().zip(r.gx) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "{}: {a} vs {b}",
                r.case
            );
        }
    }
}

fn t(shape: &[usize], v: Vec<f64>) -> Var<f64> {
    Var::leaf(Tensor::from_vec(shape, v).unwrap())
}

// torch 2.15, float64:
//   F.binary_cross_entropy(torch.tensor([0., 1., 0., 1.]), torch.tensor([1., 0., 0., 1.]),
//                          reduction='none')  -> [100., 100., 0., 0.]
//   x.grad for the sum (x requires grad)     -> [-1e12, 1e12, 0., 0.]
#[test]
fn bce_clamps_its_logarithms_at_minus_100() {
    let x = t(&[4], vec![0.0, 1.0, 0.0, 1.0]);
    let y = Var::constant(Tensor::from_vec(&[4], vec![1.0, 0.0, 0.0, 1.0]).unwrap());
    let l = binary_cross_entropy(&x, &y, None, Reduction::None).unwrap();
    assert_eq!(l.value().as_slice(), &[100.0, 100.0, 0.0, 0.0]);
    l.sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[-1e12, 1e12, 0.0, 0.0]);
}

#[test]
fn pytorch_checks_are_typed_errors() {
    let x = t(&[2, 3], vec![0.5; 6]);
    let y = t(&[2, 3], vec![0.5; 6]);
    let config = |r: crate::Result<Var<f64>>, param: &str, msg: &str| match r {
        Err(e @ NnError::InvalidConfig { .. }) => {
            let NnError::InvalidConfig { param: p, .. } = &e else {
                unreachable!()
            };
            assert_eq!(*p, param, "{e}");
            assert!(e.to_string().contains(msg), "{e}");
        }
        other => panic!("{param}: {other:?}"),
    };
    config(
        smooth_l1_loss(&x, &y, Reduction::Mean, -0.5),
        "beta",
        "does not support negative values for beta",
    );
    config(
        smooth_l1_loss(&x, &y, Reduction::Mean, f64::NAN),
        "beta",
        "negative values for beta",
    );
    config(
        huber_loss(&x, &y, Reduction::Mean, 0.0),
        "delta",
        "non-positive values for delta",
    );
    config(
        huber_loss(&x, &y, Reduction::Mean, -1.0),
        "delta",
        "non-positive values for delta",
    );
    let bad = t(&[2, 3], vec![0.5, 0.5, 1.5, 0.5, 0.5, 0.5]);
    config(
        binary_cross_entropy(&bad, &y, None, Reduction::Mean),
        "input",
        "all elements of input should be between 0 and 1",
    );
    config(
        binary_cross_entropy(&x, &bad, None, Reduction::Mean),
        "target",
        "all elements of target should be between 0 and 1",
    );
    let nan = t(&[2, 3], vec![f64::NAN; 6]);
    config(
        binary_cross_entropy(&nan, &y, None, Reduction::Mean),
        "input",
        "between 0 and 1",
    );
    let w = t(&[2], vec![1.0, 2.0]);
    config(
        binary_cross_entropy(&x, &y, Some(&w), Reduction::Mean),
        "weight",
        "does not broadcast",
    );
    config(
        binary_cross_entropy_with_logits(&x, &y, None, Some(&w), Reduction::Mean),
        "pos_weight",
        "does not broadcast",
    );
    // Shapes: BCE needs equal shapes, the regression losses broadcastable ones.
    let other = t(&[3], vec![0.5; 3]);
    for r in [
        binary_cross_entropy(&x, &other, None, Reduction::Mean),
        binary_cross_entropy_with_logits(&x, &other, None, None, Reduction::Mean),
    ] {
        assert!(matches!(r, Err(NnError::BadInput { .. })), "{r:?}");
    }
    let wrong = t(&[2, 2], vec![0.5; 4]);
    for r in [
        mse_loss(&x, &wrong, Reduction::Mean),
        l1_loss(&x, &wrong, Reduction::Mean),
        smooth_l1_loss(&x, &wrong, Reduction::Mean, 1.0),
        huber_loss(&x, &wrong, Reduction::Mean, 1.0),
        kl_div(&x, &wrong, KlDivReduction::BatchMean, false),
    ] {
        let e = r.unwrap_err();
        assert!(matches!(e, NnError::BadInput { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("broadcasts with the target's shape [2, 2]"),
            "{e}"
        );
    }
}

#[test]
fn mse_broadcasts_as_pytorch_and_sums_gradients_back() {
    // torch: x = torch.ones(3, requires_grad=True); y = torch.tensor([[0.], [2.]])
    //   F.mse_loss(x, y) -> 1.0 (shape (2, 3)), x.grad -> [0., 0., 0.]
    let x = t(&[3], vec![1.0; 3]);
    let y = t(&[2, 1], vec![0.0, 2.0]);
    let l = mse_loss(&x, &y, Reduction::Mean).unwrap();
    assert_eq!(l.value().as_slice(), &[1.0]);
    assert_eq!(
        mse_loss(&x, &y, Reduction::None).unwrap().shape(),
        vec![2, 3]
    );
    l.backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[0.0; 3]);
    assert_eq!(y.grad().unwrap().as_slice(), &[-1.0, 1.0]);
}

#[test]
fn empty_inputs_give_pytorchs_results() {
    // torch: F.mse_loss(torch.ones(0), torch.ones(0)) -> nan; reduction='sum' -> 0.
    let x = t(&[0], vec![]);
    let y = t(&[0], vec![]);
    assert!(
        mse_loss(&x, &y, Reduction::Mean)
            .unwrap()
            .value()
            .as_slice()[0]
            .is_nan()
    );
    assert_eq!(
        l1_loss(&x, &y, Reduction::Sum).unwrap().value().as_slice(),
        &[0.0]
    );
    assert_eq!(
        binary_cross_entropy(&x, &y, None, Reduction::Sum)
            .unwrap()
            .value()
            .as_slice(),
        &[0.0]
    );
}
