//! A user-defined differentiable op, written outside handgrad's crates.
//!
//! `softplus(x) = ln(1 + e^x)` gets a hand-written [`Backward`]. Its
//! gradient `g · σ(x)` is computed by a fused kernel wrapped as an op of its
//! own (`softplus_grad`), whose backward is written in turn, so the op has
//! exact second (and, through basic ops, third) derivatives. Nothing in
//! handgrad is edited: the op plugs into the graph through [`Var::from_op`].
//!
//! The example runs softplus in a small computation (a linear layer with a
//! softplus activation and a mean), checks it with `gradcheck` and
//! `gradgradcheck`, prints the reports and exits non-zero if a check fails:
//!
//! ```text
//! cargo run -p examples --bin custom_op
//! ```

use std::process::ExitCode;

use autograd::{
    Backward, BackwardCtx, Float, GradcheckOptions, GradcheckReport, Result, Tensor, Var,
    gradcheck, gradgradcheck,
};

/// The logistic function, without overflow for large `|v|`.
fn sigmoid<F: Float>(v: F) -> F {
    if v >= F::zero() {
        F::one() / (F::one() + (-v).exp())
    } else {
        let e = v.exp();
        e / (F::one() + e)
    }
}

/// `ln(1 + e^v)` computed as `max(v, 0) + ln(1 + e^-|v|)`, exact for large `|v|`.
fn softplus_scalar<F: Float>(v: F) -> F {
    v.max(F::zero()) + (-v.abs()).exp().ln_1p()
}

/// `softplus(x) = ln(1 + e^x)` elementwise (`torch.nn.functional.softplus`
/// with `beta = 1` and no threshold).
pub(crate) fn softplus<F: Float>(x: &Var<F>) -> Var<F> {
    let value = x.value().map(|&v| softplus_scalar(v));
    Var::from_op(value, vec![x.clone()], SoftplusBackward)
}

/// Backward of softplus: `dx = g · σ(x)`, through the fused op below.
struct SoftplusBackward;

impl<F: Float> Backward<F> for SoftplusBackward {
    fn name(&self) -> &'static str {
        "softplus"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        Ok(vec![if ctx.needs_grad[0] {
            Some(softplus_grad(ctx.grad_output, &ctx.inputs[0])?)
        } else {
            None
        }])
    }
}

/// The fused backward kernel `g · σ(x)` (one pass over the data) as a
/// differentiable op of its own, with `g` and `x` of the same shape.
///
/// # Errors
/// [`autograd::AutogradError::ShapeMismatch`] when the shapes differ.
pub(crate) fn softplus_grad<F: Float>(g: &Var<F>, x: &Var<F>) -> Result<Var<F>> {
    let (gv, xv) = (g.value(), x.value());
    if gv.shape() != xv.shape() {
        return Err(autograd::AutogradError::ShapeMismatch {
            op: "softplus_grad",
            lhs: gv.shape().to_vec(),
            rhs: xv.shape().to_vec(),
            reason: "the output gradient must have the input's shape",
        });
    }
    let data = gv
        .as_slice()
        .iter()
        .zip(xv.as_slice())
        .map(|(&g, &x)| g * sigmoid(x))
        .collect();
    let value = Tensor::from_vec(gv.shape(), data)?;
    Ok(Var::from_op(
        value,
        vec![g.clone(), x.clone()],
        SoftplusGradBackward,
    ))
}

/// Backward of `y = g · σ(x)` given `h = ∂L/∂y`:
/// `∂L/∂g = h · σ(x)` (the same fused op again) and
/// `∂L/∂x = h · g · σ(x)(1 - σ(x))` (basic ops, so differentiable once more).
struct SoftplusGradBackward;

impl<F: Float> Backward<F> for SoftplusGradBackward {
    fn name(&self) -> &'static str {
        "softplus_grad"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let (h, g, x) = (ctx.grad_output, &ctx.inputs[0], &ctx.inputs[1]);
        let dg = if ctx.needs_grad[0] {
            Some(softplus_grad(h, x)?)
        } else {
            None
        };
        let dx = if ctx.needs_grad[1] {
            let s = x.sigmoid();
            let ds = s.mul(&s.neg().add_scalar(1.0))?;
            Some(h.mul(g)?.mul(&ds)?)
        } else {
            None
        };
        Ok(vec![dg, dx])
    }
}

/// The small computation checked: `mean(softplus(x W + b))`.
pub(crate) fn model(v: &[Var<f64>]) -> Result<Vec<Var<f64>>> {
    let (x, w, b) = (&v[0], &v[1], &v[2]);
    Ok(vec![softplus(&x.matmul(w)?.add(b)?).mean_all()])
}

/// The inputs of the check: x `[3, 4]`, W `[4, 2]`, b `[2]`, fixed values
/// spread over both signs (softplus is smooth everywhere, no kink to avoid).
pub(crate) fn inputs() -> Result<Vec<Tensor<f64>>> {
    let fill = |shape: &[usize], scale: f64| {
        Tensor::from_fn(shape, |i| {
            scale * ((i.iter().sum::<usize>() as f64 * 1.3 + i[0] as f64).sin())
        })
    };
    Ok(vec![
        fill(&[3, 4], 1.5)?,
        fill(&[4, 2], 0.8)?,
        fill(&[2], 0.5)?,
    ])
}

/// Runs the checks: the bare op first and second order, and the model
/// first and second order. Returns `(name, report)` pairs.
pub(crate) fn run_checks() -> Result<Vec<(&'static str, GradcheckReport)>> {
    let opts = GradcheckOptions::default();
    let x = Tensor::from_vec(&[5], vec![-3.0, -0.5, 0.0, 0.7, 4.0])?;
    let op = |v: &[Var<f64>]| Ok(vec![softplus(&v[0])]);
    let op_grad = |v: &[Var<f64>]| Ok(vec![softplus_grad(&v[0], &v[1])?]);
    let g = Tensor::from_vec(&[5], vec![0.3, -1.0, 2.0, 0.5, -0.25])?;
    let inputs = inputs()?;
    Ok(vec![
        (
            "softplus gradcheck",
            gradcheck(&op, std::slice::from_ref(&x), &opts)?,
        ),
        (
            "softplus gradgradcheck",
            gradgradcheck(&op, std::slice::from_ref(&x), &opts)?,
        ),
        (
            "softplus_grad gradgradcheck (third order of softplus)",
            gradgradcheck(&op_grad, &[g, x], &opts)?,
        ),
        (
            "mean(softplus(x W + b)) gradcheck",
            gradcheck(&model, &inputs, &opts)?,
        ),
        (
            "mean(softplus(x W + b)) gradgradcheck",
            gradgradcheck(&model, &inputs, &opts)?,
        ),
    ])
}

fn main() -> ExitCode {
    let reports = match run_checks() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("custom_op: the check could not run: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One forward/backward to show the op in use: d/dx softplus(x) = sigmoid(x).
    let x = Var::leaf(Tensor::from_vec(&[3], vec![-1.0f64, 0.0, 2.0]).expect("3 values"));
    let y = softplus(&x);
    println!(
        "softplus({:?}) = {:?}",
        x.value().as_slice(),
        y.value().as_slice()
    );
    if let Err(e) = y.sum_all().backward() {
        eprintln!("custom_op: backward failed: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "d/dx = {:?} (sigmoid(x))",
        x.grad().expect("x requires grad").as_slice()
    );
    let mut failed = 0;
    for (name, report) in &reports {
        println!("{name}: {report}");
        failed += usize::from(!report.passed);
    }
    if failed > 0 {
        eprintln!("{failed} of {} checks FAILED", reports.len());
        ExitCode::FAILURE
    } else {
        println!("all {} checks passed", reports.len());
        ExitCode::SUCCESS
    }
}
