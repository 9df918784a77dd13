//! The checker itself: it fails for wrong backwards (first and second
//! order), reports the worst element, and follows PyTorch's defaults.
// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use autograd::gradcheck::{GradcheckCase, single};
use autograd::{Backward, BackwardCtx, GradcheckOptions, Result, Var, gradcheck, gradgradcheck};
use core_tensor::Tensor;

/// y = x^2 with a backward that is wrong on one element (index 2 gets
/// 2x + 0.5): the checker must flag exactly that element.
struct WrongSquare;
impl Backward<f64> for WrongSquare {
    fn name(&self) -> &'static str {
        "wrong_square"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
        let x = &ctx.inputs[0];
        let bump = Var::constant(Tensor::from_vec(&x.shape(), vec![0.0, 0.0, 0.5, 0.0]).unwrap());
        Ok(vec![Some(
            ctx.grad_output.mul(&x.mul_scalar(2.0).add(&bump)?)?,
        )])
    }
}

fn wrong_square(x: &Var<f64>) -> Var<f64> {
    Var::from_op(x.value().map(|v| v * v), vec![x.clone()], WrongSquare)
}

/// y = x^3 with a correct first derivative 3x^2 whose own derivative is
/// wrong: the gradient is built as 3 * x * stop(x), so d/dx sees only 3x.
struct WrongSecond;
impl Backward<f64> for WrongSecond {
    fn name(&self) -> &'static str {
        "wrong_second"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
        let x = &ctx.inputs[0];
        Ok(vec![Some(
            ctx.grad_output.mul(&x.mul(&x.detach())?.mul_scalar(3.0))?,
        )])
    }
}

fn x4() -> Tensor<f64> {
    Tensor::from_vec(&[4], vec![0.5, -1.0, 1.5, 2.0]).unwrap()
}

#[test]
fn gradcheck_fails_for_a_wrong_backward_and_names_the_element() {
    let f = single(|v: &[Var<f64>]| Ok(wrong_square(&v[0])));
    let report = gradcheck(&f, &[x4()], &GradcheckOptions::default()).unwrap();
    assert!(!report.passed, "{report}");
    let worst = report.worst.clone().unwrap();
    assert_eq!((worst.input, worst.index, worst.output), (0, 2, 0));
    assert!((worst.analytic - 3.5).abs() < 1e-12, "{worst:?}");
    assert!((worst.numeric - 3.0).abs() < 1e-6, "{worst:?}");
    assert!((report.max_abs_err - 0.5).abs() < 1e-6);
    assert_eq!(report.compared, 16);
    let text = report.to_string();
    assert!(text.starts_with("FAILED"), "{text}");
    assert!(text.contains("input 0 element 2 output 0"), "{text}");
    // A case wrapping the same function fails too.
    let case = GradcheckCase {
        op: "wrong_square",
        label: "x[4]".into(),
        inputs: vec![x4()],
        func: Box::new(single(|v: &[Var<f64>]| Ok(wrong_square(&v[0])))),
        second_order: false,
        options: GradcheckOptions::default(),
    };
    assert!(!case.run().unwrap().passed());
}

#[test]
fn the_correct_op_passes() {
    let f = single(|v: &[Var<f64>]| v[0].mul(&v[0]));
    let report = gradcheck(&f, &[x4()], &GradcheckOptions::default()).unwrap();
    assert!(report.passed, "{report}");
    assert!(report.max_abs_err < 1e-8, "{report}");
}

#[test]
fn gradgradcheck_fails_for_a_wrong_second_derivative_with_a_correct_first() {
    let f = single(|v: &[Var<f64>]| {
        Ok(Var::from_op(
            v[0].value().map(|x| x * x * x),
            vec![v[0].clone()],
            WrongSecond,
        ))
    });
    let first = gradcheck(&f, &[x4()], &GradcheckOptions::default()).unwrap();
    assert!(first.passed, "first order must pass: {first}");
    let second = gradgradcheck(&f, &[x4()], &GradcheckOptions::default()).unwrap();
    assert!(!second.passed, "{second}");
    let worst = second.worst.unwrap();
    // The failing derivative is the one with respect to x (input 0), not
    // with respect to the output gradient (input 1), which is 3x^2 and right.
    assert_eq!(worst.input, 0);
    // The correct function passes both.
    let g = single(|v: &[Var<f64>]| Ok(v[0].pow(3.0)));
    assert!(
        gradgradcheck(&g, &[x4()], &GradcheckOptions::default())
            .unwrap()
            .passed
    );
}

#[test]
fn gradgradcheck_sees_nonzero_second_derivatives() {
    // A regression test: the numerical side of gradgradcheck once ran the
    // inner backward with constants and saw only zeros, so an op whose
    // backward ignored x entirely would have passed.
    struct ConstGrad;
    impl Backward<f64> for ConstGrad {
        fn name(&self) -> &'static str {
            "const_grad"
        }
        fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
            // Right values of 2x, but computed from a detached x.
            Ok(vec![Some(
                ctx.grad_output
                    .mul(&ctx.inputs[0].detach().mul_scalar(2.0))?,
            )])
        }
    }
    let f = single(|v: &[Var<f64>]| {
        Ok(Var::from_op(
            v[0].value().map(|x| x * x),
            vec![v[0].clone()],
            ConstGrad,
        ))
    });
    assert!(
        gradcheck(&f, &[x4()], &GradcheckOptions::default())
            .unwrap()
            .passed
    );
    let report = gradgradcheck(&f, &[x4()], &GradcheckOptions::default()).unwrap();
    assert!(!report.passed, "{report}");
}

#[test]
fn defaults_are_pytorchs() {
    let o = GradcheckOptions::default();
    assert_eq!((o.eps, o.atol, o.rtol), (1e-6, 1e-5, 1e-3));
}

#[test]
fn tolerance_is_allclose_relative_to_numeric() {
    // y = 1000 x: the analytic 1000.5 is off by 0.5 <= 1e-5 + 1e-3 * 1000,
    // so it passes, and fails with rtol = 1e-4.
    struct Off;
    impl Backward<f64> for Off {
        fn name(&self) -> &'static str {
            "off"
        }
        fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
            Ok(vec![Some(ctx.grad_output.mul_scalar(1000.5))])
        }
    }
    let f = single(|v: &[Var<f64>]| {
        Ok(Var::from_op(
            v[0].value().map(|x| 1000.0 * x),
            vec![v[0].clone()],
            Off,
        ))
    });
    let x = Tensor::from_vec(&[1], vec![0.25]).unwrap();
    assert!(
        gradcheck(&f, &[x.clone()], &GradcheckOptions::default())
            .unwrap()
            .passed
    );
    let strict = GradcheckOptions {
        rtol: 1e-4,
        ..GradcheckOptions::default()
    };
    assert!(!gradcheck(&f, &[x], &strict).unwrap().passed);
}

#[test]
fn large_outputs_use_random_projections() {
    // 100 outputs > full_jacobian_up_to: 4 projections x 100 elements.
    let x = Tensor::from_vec(&[100], (0..100).map(|i| i as f64 / 50.0 - 1.0).collect()).unwrap();
    let f = single(|v: &[Var<f64>]| Ok(v[0].tanh()));
    let report = gradcheck(&f, &[x.clone()], &GradcheckOptions::default()).unwrap();
    assert!(report.passed, "{report}");
    assert_eq!(report.compared, 4 * 100);
    // And they still catch a wrong backward (the gradient misses a 1e-2 x term).
    let wrong = single(|v: &[Var<f64>]| v[0].detach().tanh().add(&v[0].mul_scalar(1e-2)));
    assert!(
        !gradcheck(&wrong, &[x], &GradcheckOptions::default())
            .unwrap()
            .passed
    );
}

#[test]
fn several_inputs_and_outputs() {
    // (a*b, a+b): every Jacobian block is checked.
    let f = |v: &[Var<f64>]| Ok(vec![v[0].mul(&v[1])?, v[0].add(&v[1])?.sum_all()]);
    let a = Tensor::from_vec(&[2], vec![0.3, 0.7]).unwrap();
    let b = Tensor::from_vec(&[2], vec![-1.0, 2.0]).unwrap();
    let report = gradcheck(&f, &[a.clone(), b.clone()], &GradcheckOptions::default()).unwrap();
    assert!(report.passed, "{report}");
    // 2 outputs of a*b + 1 of the sum, each against 2 + 2 input elements.
    assert_eq!(report.compared, 3 * 4);
    assert!(
        gradgradcheck(&f, &[a, b], &GradcheckOptions::default())
            .unwrap()
            .passed
    );
}

#[test]
fn bad_calls_are_errors() {
    let f = single(|v: &[Var<f64>]| Ok(v[0].clone()));
    let err = gradcheck(&f, &[], &GradcheckOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gradcheck: invalid inputs: gradcheck expects at least one input to differentiate"
    );
    // A function whose output shape depends on the input values.
    let g = single(|v: &[Var<f64>]| {
        let n = if v[0].value().as_slice()[0] > 0.0 {
            1
        } else {
            2
        };
        v[0].narrow(0, 0, n)
    });
    let err = gradcheck(
        &g,
        &[Tensor::from_vec(&[2], vec![0.0, 1.0]).unwrap()],
        &GradcheckOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("returned outputs of shapes"),
        "{err}"
    );
}

#[test]
fn merge_keeps_the_worse_report() {
    let f = single(|v: &[Var<f64>]| Ok(wrong_square(&v[0])));
    let bad = gradcheck(&f, &[x4()], &GradcheckOptions::default()).unwrap();
    let g = single(|v: &[Var<f64>]| Ok(v[0].exp()));
    let good = gradcheck(&g, &[x4()], &GradcheckOptions::default()).unwrap();
    let merged = good.clone().merge(bad.clone());
    assert!(!merged.passed);
    assert_eq!(merged.worst, bad.worst);
    assert_eq!(merged.compared, good.compared + bad.compared);
}

#[test]
fn fast_mode_passes_correct_ops_and_locates_wrong_ones() {
    let fast = GradcheckOptions {
        fast_mode: true,
        ..GradcheckOptions::default()
    };
    let f = |v: &[Var<f64>]| Ok(vec![v[0].matmul(&v[1])?.tanh(), v[0].exp().sum_all()]);
    let a = Tensor::from_vec(&[2, 3], vec![0.1, -0.2, 0.3, 0.4, -0.5, 0.6]).unwrap();
    let b = Tensor::from_vec(&[3, 2], vec![1.0, -1.0, 0.5, 0.25, -0.75, 2.0]).unwrap();
    let r = gradcheck(&f, &[a.clone(), b.clone()], &fast).unwrap();
    assert!(r.passed, "{r}");
    // One comparison per (input, output) pair.
    assert_eq!(r.compared, 2 * 2);
    assert!(gradgradcheck(&f, &[a, b], &fast).unwrap().passed);

    let wrong = single(|v: &[Var<f64>]| Ok(wrong_square(&v[0])));
    let r = gradcheck(&wrong, &[x4()], &fast).unwrap();
    assert!(!r.passed, "{r}");
    let worst = r.worst.clone().unwrap();
    assert_eq!((worst.input, worst.index), (0, 2), "{r}");
    assert!(
        r.notes.iter().any(|n| n.contains("fast mode failed")),
        "{r}"
    );
}

#[test]
fn backward_sanity_checks() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    // A backward that adds a constant: a zero output gradient gives a
    // nonzero input gradient.
    struct Affine;
    impl Backward<f64> for Affine {
        fn name(&self) -> &'static str {
            "affine"
        }
        fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
            Ok(vec![Some(
                ctx.grad_output
                    .add_scalar(0.0)
                    .mul_scalar(2.0)
                    .add_scalar(1e-9),
            )])
        }
    }
    let f = single(|v: &[Var<f64>]| {
        Ok(Var::from_op(
            v[0].value().map(|x| 2.0 * x),
            vec![v[0].clone()],
            Affine,
        ))
    });
    let r = gradcheck(&f, &[x4()], &GradcheckOptions::default()).unwrap();
    assert!(!r.passed, "{r}");
    assert!(
        r.to_string()
            .contains("zero output gradient gave a nonzero gradient for input 0"),
        "{r}"
    );

    // A backward whose result changes from call to call.
    struct Drifting(AtomicUsize);
    impl Backward<f64> for Drifting {
        fn name(&self) -> &'static str {
            "drifting"
        }
        fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
            let k = self.0.fetch_add(1, Ordering::SeqCst) as f64;
            Ok(vec![Some(ctx.grad_output.mul_scalar(1.0 + 1e-12 * k))])
        }
    }
    let f = single(|v: &[Var<f64>]| {
        Ok(Var::from_op(
            v[0].value(),
            vec![v[0].clone()],
            Drifting(AtomicUsize::new(0)),
        ))
    });
    let r = gradcheck(&f, &[x4()], &GradcheckOptions::default()).unwrap();
    assert!(!r.passed, "{r}");
    assert!(r.to_string().contains("backward is not reentrant"), "{r}");
    // Tolerated with a nondet_tol above the drift.
    let loose = GradcheckOptions {
        nondet_tol: 1e-9,
        ..GradcheckOptions::default()
    };
    assert!(gradcheck(&f, &[x4()], &loose).unwrap().passed);
}
