//! The gradcheck audit catches wrong backward passes (first and second
//! order), and every case the workspace registers passes it.

use autograd::gradcheck::{GradcheckCase, GradcheckOptions, single};
use autograd::{Backward, BackwardCtx, Result, Var};
use core_tensor::Tensor;
use xtask::gradcheck_audit::{AuditOptions, registered_cases, run};

/// `y = c * x` with a backward that multiplies by `c * factor`: correct for
/// `factor == 1`.
struct Scale {
    c: f64,
    factor: f64,
}

impl Backward<f64> for Scale {
    fn name(&self) -> &'static str {
        "test_scale"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
        Ok(vec![
            ctx.needs_grad[0].then(|| ctx.grad_output.mul_scalar(self.c * self.factor)),
        ])
    }
}

fn scale(x: &Var<f64>, c: f64, factor: f64) -> Var<f64> {
    Var::from_op(
        x.value().map(|v| c * v),
        vec![x.clone()],
        Scale { c, factor },
    )
}

/// `d = 3x²`, the derivative of the cube, as an op of its own whose backward
/// is `6x·g` scaled by `factor` (correct for `factor == 1`).
struct CubeDerivative {
    factor: f64,
}

impl Backward<f64> for CubeDerivative {
    fn name(&self) -> &'static str {
        "test_cube_derivative"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
        let x = &ctx.inputs[0];
        Ok(vec![if ctx.needs_grad[0] {
            Some(ctx.grad_output.mul(&x.mul_scalar(6.0 * self.factor))?)
        } else {
            None
        }])
    }
}

/// `y = x³` whose first derivative is always right (`3x²·g`, through the
/// differentiable [`CubeDerivative`] op) and whose second derivative is off
/// by `second_factor`.
struct Cube {
    second_factor: f64,
}

impl Backward<f64> for Cube {
    fn name(&self) -> &'static str {
        "test_cube"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        let x = &ctx.inputs[0];
        let d = Var::from_op(
            x.value().map(|v| 3.0 * v * v),
            vec![x.clone()],
            CubeDerivative {
                factor: self.second_factor,
            },
        );
        Ok(vec![Some(ctx.grad_output.mul(&d)?)])
    }
}

fn cube(x: &Var<f64>, second_factor: f64) -> Var<f64> {
    Var::from_op(
        x.value().map(|v| v * v * v),
        vec![x.clone()],
        Cube { second_factor },
    )
}

fn input() -> Tensor<f64> {
    Tensor::from_vec(&[2, 3], vec![0.5, -1.25, 2.0, 0.75, -0.3, 1.1]).unwrap()
}

fn scale_case(factor: f64) -> GradcheckCase {
    GradcheckCase {
        op: "test_scale",
        label: format!("(2, 3) factor {factor}"),
        inputs: vec![input()],
        func: Box::new(single(move |v: &[Var<f64>]| {
            scale(&v[0], 1.5, factor).mul(&v[0])
        })),
        second_order: true,
        options: GradcheckOptions::default(),
    }
}

fn cube_case(second_factor: f64) -> GradcheckCase {
    GradcheckCase {
        op: "test_cube",
        label: format!("(2, 3) second-order factor {second_factor}"),
        inputs: vec![input()],
        func: Box::new(single(move |v: &[Var<f64>]| Ok(cube(&v[0], second_factor)))),
        second_order: true,
        options: GradcheckOptions::default(),
    }
}

#[test]
fn correct_custom_ops_pass_first_and_second_order() {
    let s = run(
        vec![scale_case(1.0), cube_case(1.0)],
        &AuditOptions::default(),
    );
    assert_eq!((s.passed(), s.failed()), (2, 0), "{}", s.report());
    for r in &s.records {
        let o = r.outcome.as_ref().unwrap();
        assert!(
            o.second.as_ref().is_some_and(|s| s.passed),
            "{} has a passing second-order report",
            r.op
        );
        assert!(o.first.max_abs_err < 1e-6, "{}", o.first);
    }
    assert!(s.report().ends_with("2 passed, 0 failed\n"));
}

#[test]
fn a_backward_off_by_a_factor_fails_the_audit() {
    let s = run(
        vec![scale_case(1.0), scale_case(1.1), cube_case(1.0)],
        &AuditOptions::default(),
    );
    assert_eq!((s.passed(), s.failed()), (2, 1), "{}", s.report());
    let bad = &s.records[1];
    assert!(!bad.passed());
    let first = &bad.outcome.as_ref().unwrap().first;
    assert!(!first.passed);
    // d/dx (1.5 x · x) = 3x; the wrong backward gives 1.5·1.1·x + 1.5·x = 3.15x,
    // off by 0.15·|x| (largest at x = 2: 0.3).
    assert!((first.max_abs_err - 0.3).abs() < 1e-5, "{first}");
    let rows = s.rows();
    let row = rows.iter().find(|r| r.op == "test_scale").unwrap();
    assert_eq!((row.cases, row.failed), (2, 1));
    let report = s.report();
    assert!(report.contains("FAIL (1 failed)"), "{report}");
    assert!(
        report.contains("FAIL test_scale [(2, 3) factor 1.1]: 1st order FAILED"),
        "{report}"
    );
    assert!(report.ends_with("2 passed, 1 failed\n"), "{report}");
}

#[test]
fn a_wrong_second_derivative_with_a_right_first_fails_only_the_second_order() {
    let s = run(vec![cube_case(0.5)], &AuditOptions::default());
    assert_eq!(s.failed(), 1, "{}", s.report());
    let o = s.records[0].outcome.as_ref().unwrap();
    assert!(o.first.passed, "the first derivative is right: {}", o.first);
    let second = o.second.as_ref().unwrap();
    assert!(!second.passed, "{second}");
    assert!(s.report().contains("2nd order FAILED"), "{}", s.report());
    assert!(!s.report().contains("1st order FAILED"));

    // Without second order the same case passes: the flag really skips it.
    let s = run(
        vec![cube_case(0.5)],
        &AuditOptions {
            op: None,
            second_order: false,
        },
    );
    assert_eq!(s.failed(), 0, "{}", s.report());
    assert!(s.records[0].outcome.as_ref().unwrap().second.is_none());
    assert!(
        s.report().contains("        -          -  pass"),
        "{}",
        s.report()
    );
}

#[test]
fn errors_count_as_failures_and_the_op_filter_selects() {
    let erroring = GradcheckCase {
        op: "test_error",
        label: "mismatched shapes".into(),
        inputs: vec![input()],
        func: Box::new(single(|v: &[Var<f64>]| v[0].matmul(&v[0]))),
        second_order: false,
        options: GradcheckOptions::default(),
    };
    let s = run(
        vec![erroring, scale_case(1.0), scale_case(2.0)],
        &AuditOptions::default(),
    );
    assert_eq!((s.passed(), s.failed()), (1, 2));
    assert!(
        s.report()
            .contains("FAIL test_error [mismatched shapes]: error:"),
        "{}",
        s.report()
    );

    let s = run(
        vec![scale_case(1.0), cube_case(0.5)],
        &AuditOptions {
            op: Some("test_scale".into()),
            second_order: true,
        },
    );
    assert_eq!((s.records.len(), s.passed()), (1, 1));
}

/// Each crate's own registered cases, by crate name.
fn per_crate(seed: u64, per_op: usize) -> Vec<(&'static str, Vec<GradcheckCase>)> {
    vec![
        ("autograd", autograd::samples::gradcheck_cases(seed, per_op)),
        ("ops-pool", ops_pool::gradcheck_cases(seed, per_op)),
        ("ops-norm", ops_norm::gradcheck_cases(seed, per_op)),
        ("nn", nn::gradcheck_cases(seed, per_op)),
    ]
}

/// Crates expected to register gradcheck cases; add a crate here once its
/// `gradcheck_cases` is filled, so that losing its cases fails this test.
const REGISTERING: &[&str] = &["autograd", "ops-pool", "ops-norm", "nn"];

#[test]
fn every_registered_case_passes() {
    for (seed, per_op) in [(0, 3), (1, 1)] {
        let crates = per_crate(seed, per_op);
        for (name, cases) in &crates {
            if REGISTERING.contains(name) {
                assert!(!cases.is_empty(), "{name} registers no gradcheck cases");
            }
        }
        let expected: usize = crates.iter().map(|(_, c)| c.len()).sum();
        let cases = registered_cases(seed, per_op);
        assert_eq!(
            cases.len(),
            expected,
            "registered_cases gathers every crate's cases"
        );
        let s = run(cases, &AuditOptions::default());
        assert_eq!(s.records.len(), expected);
        assert_eq!(s.failed(), 0, "seed {seed}: {}", s.report());
        assert!(
            s.records
                .iter()
                .any(|r| r.outcome.as_ref().is_ok_and(|o| o.second.is_some())),
            "some registered ops are checked to second order"
        );
    }
}
