//! Finite-difference audit of analytic gradients (`torch.autograd.gradcheck`
//! and `gradgradcheck`).
//!
//! The analytic side is a vector-Jacobian product `vᵀJ` from the backward
//! pass; the numerical side is the Jacobian column of every input element by
//! central differences with an absolute step, `(f(x + eps·e_j) - f(x -
//! eps·e_j)) / (2·eps)`, projected on the same `v`. For small outputs `v`
//! runs over every unit vector (the full Jacobian, PyTorch's slow mode);
//! for large ones over a few seeded random vectors, and
//! [`GradcheckOptions::fast_mode`] projects the inputs too (PyTorch's fast
//! mode). Elements are compared with PyTorch's `allclose`:
//! `|analytic - numeric| <= atol + rtol·|numeric|`, with PyTorch's defaults
//! `eps = 1e-6`, `atol = 1e-5`, `rtol = 1e-3`. Like PyTorch, the check also
//! asks that a zero output gradient give zero input gradients and that two
//! backward passes agree within `nondet_tol` (reentrancy).
//!
//! The report names the worst element (input, flat index, output, both
//! values); a passing report names the element nearest to failing.
//!
//! ```
//! use autograd::{gradcheck, GradcheckOptions, Var};
//! use core_tensor::Tensor;
//! // softmax along the last axis: a 2x3 Jacobian block per row.
//! let x = Tensor::from_vec(&[2, 3], vec![0.1, -0.4, 0.9, 1.0, 0.0, -1.0])?;
//! let f = |v: &[Var<f64>]| Ok(vec![v[0].softmax(-1)?]);
//! let report = gradcheck(&f, &[x], &GradcheckOptions::default())?;
//! assert!(report.passed, "{report}");
//! assert_eq!(report.compared, 6 * 6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Finite differences are only meaningful where the function is
//! differentiable and the step `eps` does not cross a kink or a tie. Callers
//! keep samples away from such points; [`crate::samples`] documents how the
//! basic-op samples do it: max inputs drawn as shuffled, well-separated
//! values ([`core_tensor::Rng::distinct_vec`]) so no lane has a tie within
//! `eps`, ReLU and `abs` inputs at least `5e-2` away from 0, and logs, roots
//! and powers on positive inputs.

use core_tensor::{Rng, Tensor};

use crate::engine::{BackwardOptions, grad, run_backward};
use crate::{AutogradError, Result, Var};

/// Settings of a gradient check. The defaults are PyTorch's.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step (absolute).
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (relative to the numerical value).
    pub rtol: f64,
    /// Outputs with at most this many elements get their full Jacobian
    /// checked; larger ones get `projections` random projections.
    pub full_jacobian_up_to: usize,
    /// Number of random projections for large outputs.
    pub projections: usize,
    /// Seed of the random projections.
    pub seed: u64,
    /// PyTorch's `fast_mode`: instead of whole Jacobians, compare one
    /// random projection `vᵀ J_i u_i` per (input `i`, output) pair, with
    /// `u_i` and `v` uniform in `[0, 1)` normalized to unit length and
    /// `atol` scaled by `Σu_i·Σv`. Costs two evaluations per input instead
    /// of two per input element. When it fails, the slow check is run too
    /// (as PyTorch does) so the report names the failing element.
    pub fast_mode: bool,
    /// Largest difference allowed between two backward passes with the
    /// same output gradient (PyTorch's `nondet_tol`; 0 = bitwise equal).
    pub nondet_tol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        Self {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            full_jacobian_up_to: 64,
            projections: 4,
            seed: 0,
            fast_mode: false,
            nondet_tol: 0.0,
        }
    }
}

/// The worst disagreement found by a check.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// Which input of the function.
    pub input: usize,
    /// Flat (row-major) index of the element in that input (0 for a
    /// fast-mode comparison, which projects the whole input).
    pub index: usize,
    /// Which output of the function.
    pub output: usize,
    /// The analytic value of `vᵀJ` at that element.
    pub analytic: f64,
    /// The numerical value.
    pub numeric: f64,
}

/// What a check found.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckReport {
    /// Whether every element was within tolerance.
    pub passed: bool,
    /// Largest `|analytic - numeric|`.
    pub max_abs_err: f64,
    /// Largest `|analytic - numeric| / max(|numeric|, tiny)`.
    pub max_rel_err: f64,
    /// The element that used the largest share of its allowance
    /// `atol + rtol·|numeric|`: the worst failure, or, when the check passed,
    /// the element nearest to failing.
    pub worst: Option<Mismatch>,
    /// How many (projection, element) pairs were compared.
    pub compared: usize,
    /// Failures of the backward sanity checks (a nonzero gradient for a
    /// zero output gradient, a backward that is not reentrant) and other
    /// remarks, in words. A failed sanity check also clears `passed`.
    pub notes: Vec<String>,
}

impl GradcheckReport {
    fn new() -> Self {
        Self {
            passed: true,
            max_abs_err: 0.0,
            max_rel_err: 0.0,
            worst: None,
            compared: 0,
            notes: Vec::new(),
        }
    }

    /// Combines two reports (the worse one's `worst` wins).
    pub fn merge(mut self, other: GradcheckReport) -> GradcheckReport {
        let self_worse = self.worst_excess() >= other.worst_excess();
        self.passed &= other.passed;
        self.max_abs_err = self.max_abs_err.max(other.max_abs_err);
        self.max_rel_err = self.max_rel_err.max(other.max_rel_err);
        self.compared += other.compared;
        self.notes.extend(other.notes.iter().cloned());
        if !self_worse || self.worst.is_none() {
            self.worst = other.worst.or(self.worst);
        }
        self
    }

    fn worst_excess(&self) -> f64 {
        self.worst
            .as_ref()
            .map_or(f64::NEG_INFINITY, |m| (m.analytic - m.numeric).abs())
    }
}

impl std::fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} compared, max abs err {:.3e}, max rel err {:.3e}",
            if self.passed { "passed" } else { "FAILED" },
            self.compared,
            self.max_abs_err,
            self.max_rel_err
        )?;
        if let Some(m) = &self.worst {
            write!(
                f,
                "; worst: input {} element {} output {}: analytic {:.9e} numeric {:.9e}",
                m.input, m.index, m.output, m.analytic, m.numeric
            )?;
        }
        for note in &self.notes {
            write!(f, "; {note}")?;
        }
        f.write_str(")")
    }
}

/// The function type checked: inputs to outputs.
pub type CheckedFn<'a> = dyn Fn(&[Var<f64>]) -> Result<Vec<Var<f64>>> + 'a;

/// Checks the first derivatives of `f` at `inputs` (every input is
/// differentiated), like `torch.autograd.gradcheck` in slow mode.
///
/// For every element `j` of every input `i`, the numerical Jacobian column
/// is `(f(x + eps·e_j) - f(x - eps·e_j)) / (2·eps)` (absolute step, as in
/// PyTorch). For every output with at most
/// [`GradcheckOptions::full_jacobian_up_to`] elements, each row of the
/// analytic Jacobian is one backward pass with a unit output gradient, and
/// the two Jacobians are compared entry by entry with
/// `|analytic - numeric| <= atol + rtol·|numeric|` (`torch.allclose`). For
/// larger outputs, [`GradcheckOptions::projections`] seeded normal vectors
/// `v` stand in for the unit vectors and `vᵀJ` is compared; `atol` is then
/// scaled by `Σ|v_k|`, the bound of the projected rounding error (PyTorch
/// scales its fast-mode `atol` the same way).
///
/// The function is evaluated once with inputs that require grad for the
/// analytic side (its graph is retained for all projections) and twice per
/// input element for the numerical side. During the numerical evaluations
/// the inputs also require grad and grad mode is left as the caller set it,
/// as in PyTorch, so a function may differentiate internally (which is what
/// [`gradgradcheck`] does).
///
/// ```
/// use autograd::{gradcheck, GradcheckOptions, Var};
/// use core_tensor::Tensor;
/// // d/dx (x e^x) = (1 + x) e^x
/// let x = Tensor::from_vec(&[3], vec![0.3, 1.2, 2.0])?;
/// let f = |v: &[Var<f64>]| Ok(vec![v[0].exp().mul(&v[0])?]);
/// let report = gradcheck(&f, &[x], &GradcheckOptions::default())?;
/// assert!(report.passed, "{report}");
/// assert_eq!(report.compared, 9); // the full 3x3 Jacobian
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`AutogradError::InvalidArgument`] when `inputs` is empty or `f`
/// returns outputs of other shapes for perturbed inputs; whatever `f` or a
/// backward pass returns.
pub fn gradcheck(
    f: &CheckedFn<'_>,
    inputs: &[Tensor<f64>],
    opts: &GradcheckOptions,
) -> Result<GradcheckReport> {
    if inputs.is_empty() {
        return Err(AutogradError::InvalidArgument {
            op: "gradcheck",
            param: "inputs",
            reason: "gradcheck expects at least one input to differentiate".into(),
        });
    }
    let leaves: Vec<Var<f64>> = inputs.iter().cloned().map(Var::leaf).collect();
    let outputs = f(&leaves)?;
    let out_shapes: Vec<Vec<usize>> = outputs.iter().map(Var::shape).collect();
    let mut report = GradcheckReport::new();
    backward_sanity(&outputs, &leaves, opts, &mut report)?;
    if opts.fast_mode {
        let fast = fast_check(f, inputs, &leaves, &outputs, &out_shapes, opts)?;
        if fast.passed {
            return Ok(report.merge(fast));
        }
        let slow = slow_check(f, inputs, &leaves, &outputs, &out_shapes, opts)?;
        let mut merged = report.merge(fast).merge(slow);
        merged
            .notes
            .push("fast mode failed; the slow check was run to locate the element".into());
        return Ok(merged);
    }
    let slow = slow_check(f, inputs, &leaves, &outputs, &out_shapes, opts)?;
    Ok(report.merge(slow))
}

/// One backward pass from `out` with output gradient `v`, keeping the graph.
fn vjp(out: &Var<f64>, v: Vec<f64>, leaves: &[Var<f64>]) -> Result<Vec<Option<Tensor<f64>>>> {
    if !out.requires_grad() {
        return Ok(vec![None; leaves.len()]);
    }
    let seed = Var::constant(Tensor::from_vec(&out.shape(), v)?);
    let keep = BackwardOptions {
        retain_graph: true,
        create_graph: false,
    };
    let grads = run_backward(std::slice::from_ref(out), &[seed], Some(leaves), keep)?;
    Ok(grads.into_iter().map(|g| g.map(|g| g.value())).collect())
}

/// PyTorch's extra checks of the backward itself: a zero output gradient
/// must give zero input gradients (`_test_backward_mul_by_grad_output`),
/// and two passes with the same output gradient must agree within
/// `nondet_tol` (the reentrancy check).
fn backward_sanity(
    outputs: &[Var<f64>],
    leaves: &[Var<f64>],
    opts: &GradcheckOptions,
    report: &mut GradcheckReport,
) -> Result<()> {
    let mut rng = Rng::new(opts.seed ^ 0x7e_e7_7a_47);
    for (o, out) in outputs.iter().enumerate() {
        let zero = vjp(out, vec![0.0; out.len()], leaves)?;
        for (i, g) in zero.iter().enumerate() {
            // NaN counts as nonzero (f64::max would skip it).
            let worst = g.as_ref().map_or(0.0, |g| {
                g.as_slice().iter().fold(0.0f64, |m, v| {
                    if v.is_nan() || m.is_nan() {
                        f64::NAN
                    } else {
                        m.max(v.abs())
                    }
                })
            });
            if worst != 0.0 {
                report.passed = false;
                report.notes.push(format!(
                    "backward of output {o} with a zero output gradient gave a nonzero gradient for input {i} \
                     (max |g| = {worst:.3e})"
                ));
            }
        }
        let v: Vec<f64> = (0..out.len()).map(|_| rng.normal()).collect();
        let first = vjp(out, v.clone(), leaves)?;
        let second = vjp(out, v, leaves)?;
        for (i, (a, b)) in first.iter().zip(&second).enumerate() {
            let diff = match (a, b) {
                (Some(a), Some(b)) => {
                    a.as_slice()
                        .iter()
                        .zip(b.as_slice())
                        .fold(0.0f64, |m, (x, y)| {
                            if x == y || (x.is_nan() && y.is_nan()) {
                                m
                            } else if x.is_nan() || y.is_nan() {
                                f64::INFINITY
                            } else {
                                m.max((x - y).abs())
                            }
                        })
                }
                (None, None) => 0.0,
                _ => f64::INFINITY,
            };
            if diff > opts.nondet_tol {
                report.passed = false;
                report.notes.push(format!(
                    "backward is not reentrant: two passes from output {o} with the same output gradient differ \
                     by {diff:.3e} for input {i} (nondet_tol {:e})",
                    opts.nondet_tol
                ));
            }
        }
    }
    Ok(())
}

/// Slow mode: whole Jacobians (or random projections of large outputs).
fn slow_check(
    f: &CheckedFn<'_>,
    inputs: &[Tensor<f64>],
    leaves: &[Var<f64>],
    outputs: &[Var<f64>],
    out_shapes: &[Vec<usize>],
    opts: &GradcheckOptions,
) -> Result<GradcheckReport> {
    // Numerical Jacobian columns: numeric[i][j] = d outputs / d inputs[i][j],
    // flattened over the concatenated outputs.
    let numeric = numerical_columns(f, inputs, out_shapes, opts.eps)?;
    let mut rng = Rng::new(opts.seed);
    let mut report = GradcheckReport::new();
    // The share of its allowance the worst element so far uses.
    let mut worst_excess = f64::NEG_INFINITY;
    let mut offset = 0;
    for (o, out) in outputs.iter().enumerate() {
        let len = out.len();
        let projections: Vec<Vec<f64>> = if len <= opts.full_jacobian_up_to {
            (0..len)
                .map(|k| (0..len).map(|i| if i == k { 1.0 } else { 0.0 }).collect())
                .collect()
        } else {
            (0..opts.projections)
                .map(|_| (0..len).map(|_| rng.normal()).collect())
                .collect()
        };
        for v in projections {
            let analytic = vjp(out, v.clone(), leaves)?;
            let atol = opts.atol * v.iter().map(|x| x.abs()).sum::<f64>();
            for (i, columns) in numeric.iter().enumerate() {
                for (j, column) in columns.iter().enumerate() {
                    let col = &column[offset..offset + len];
                    let n: f64 = v.iter().zip(col).map(|(a, b)| a * b).sum();
                    let an = analytic[i].as_ref().map_or(0.0, |t| t.as_slice()[j]);
                    report.record(i, j, o, an, n, atol, opts.rtol, &mut worst_excess);
                }
            }
        }
        offset += len;
    }
    Ok(report)
}

/// Fast mode: one projection `vᵀ J_i u_i` per (input, output) pair.
fn fast_check(
    f: &CheckedFn<'_>,
    inputs: &[Tensor<f64>],
    leaves: &[Var<f64>],
    outputs: &[Var<f64>],
    out_shapes: &[Vec<usize>],
    opts: &GradcheckOptions,
) -> Result<GradcheckReport> {
    let mut rng = Rng::new(opts.seed ^ 0xfa57);
    let mut unit = |n: usize| {
        let v: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.into_iter()
            .map(|x| if norm > 0.0 { x / norm } else { x })
            .collect::<Vec<f64>>()
    };
    let us: Vec<Vec<f64>> = inputs.iter().map(|t| unit(t.len())).collect();
    let vs: Vec<Vec<f64>> = outputs.iter().map(|o| unit(o.len())).collect();
    // Directional central differences J_i u_i, over the concatenated outputs.
    let mut jvps = Vec::with_capacity(inputs.len());
    let mut shifted = inputs.to_vec();
    for (i, (input, u)) in inputs.iter().zip(&us).enumerate() {
        let step = |sign: f64| {
            let data = input
                .as_slice()
                .iter()
                .zip(u)
                .map(|(x, d)| x + sign * opts.eps * d)
                .collect();
            Tensor::from_vec(input.shape(), data)
        };
        shifted[i] = step(1.0)?;
        let fp = evaluate(f, &shifted, out_shapes)?;
        shifted[i] = step(-1.0)?;
        let fm = evaluate(f, &shifted, out_shapes)?;
        shifted[i] = input.clone();
        jvps.push(
            fp.iter()
                .zip(&fm)
                .map(|(p, m)| (p - m) / (2.0 * opts.eps))
                .collect::<Vec<f64>>(),
        );
    }
    let mut report = GradcheckReport::new();
    let mut worst_excess = f64::NEG_INFINITY;
    let mut offset = 0;
    for (o, (out, v)) in outputs.iter().zip(&vs).enumerate() {
        let analytic = vjp(out, v.clone(), leaves)?;
        let sum_v: f64 = v.iter().sum();
        for (i, u) in us.iter().enumerate() {
            let n: f64 = v
                .iter()
                .zip(&jvps[i][offset..offset + out.len()])
                .map(|(a, b)| a * b)
                .sum();
            let an = analytic[i].as_ref().map_or(0.0, |g| {
                g.as_slice().iter().zip(u).map(|(a, b)| a * b).sum()
            });
            let atol = opts.atol * u.iter().sum::<f64>() * sum_v;
            report.record(i, 0, o, an, n, atol, opts.rtol, &mut worst_excess);
        }
        offset += out.len();
    }
    Ok(report)
}

/// Evaluates `f` at `inputs` (as leaves, so `f` may differentiate
/// internally) and flattens the outputs, checking their shapes.
fn evaluate(
    f: &CheckedFn<'_>,
    inputs: &[Tensor<f64>],
    out_shapes: &[Vec<usize>],
) -> Result<Vec<f64>> {
    let vars: Vec<Var<f64>> = inputs.iter().cloned().map(Var::leaf).collect();
    let outs = f(&vars)?;
    let shapes: Vec<Vec<usize>> = outs.iter().map(Var::shape).collect();
    if shapes != out_shapes {
        return Err(AutogradError::InvalidArgument {
            op: "gradcheck",
            param: "f",
            reason: format!(
                "the function returned outputs of shapes {shapes:?} for perturbed inputs but {out_shapes:?} \
                 for the original ones"
            ),
        });
    }
    Ok(outs.iter().flat_map(|o| o.value().to_vec()).collect())
}

impl GradcheckReport {
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        input: usize,
        index: usize,
        output: usize,
        analytic: f64,
        numeric: f64,
        atol: f64,
        rtol: f64,
        worst_excess: &mut f64,
    ) {
        self.compared += 1;
        let diff = (analytic - numeric).abs();
        let allowed = atol + rtol * numeric.abs();
        // NaN anywhere fails (allclose without equal_nan).
        let ok = diff <= allowed;
        // Rank elements by the share of their allowance they use, so that a
        // passing report names the element nearest to failing.
        let excess = if diff.is_nan() {
            f64::INFINITY
        } else if allowed > 0.0 {
            diff / allowed
        } else if diff > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        if self.worst.is_none() || excess > *worst_excess {
            self.worst = Some(Mismatch {
                input,
                index,
                output,
                analytic,
                numeric,
            });
            *worst_excess = excess;
        }
        self.passed &= ok;
        self.max_abs_err = self
            .max_abs_err
            .max(if diff.is_nan() { f64::INFINITY } else { diff });
        self.max_rel_err = self.max_rel_err.max(if diff.is_nan() {
            f64::INFINITY
        } else {
            diff / numeric.abs().max(1e-12)
        });
    }
}

/// Central-difference Jacobian columns of all outputs (concatenated) with
/// respect to every element of every input.
fn numerical_columns(
    f: &CheckedFn<'_>,
    inputs: &[Tensor<f64>],
    out_shapes: &[Vec<usize>],
    eps: f64,
) -> Result<Vec<Vec<Vec<f64>>>> {
    let eval = |perturbed: &[Tensor<f64>]| evaluate(f, perturbed, out_shapes);
    let mut all = Vec::with_capacity(inputs.len());
    let mut shifted = inputs.to_vec();
    for (i, input) in inputs.iter().enumerate() {
        let mut cols = Vec::with_capacity(input.len());
        let mut data = input.to_vec();
        for j in 0..input.len() {
            let orig = data[j];
            data[j] = orig + eps;
            shifted[i] = Tensor::from_vec(input.shape(), data.clone())?;
            let fp = eval(&shifted)?;
            data[j] = orig - eps;
            shifted[i] = Tensor::from_vec(input.shape(), data.clone())?;
            let fm = eval(&shifted)?;
            data[j] = orig;
            cols.push(
                fp.iter()
                    .zip(&fm)
                    .map(|(p, m)| (p - m) / (2.0 * eps))
                    .collect(),
            );
        }
        shifted[i] = input.clone();
        all.push(cols);
    }
    Ok(all)
}

/// Checks the second derivatives of `f`, like PyTorch's `gradgradcheck`:
/// runs [`gradcheck`] on `(x, v) ↦ vᵀ ∂f/∂x`, computed by a backward pass
/// with `create_graph`, where `v` holds one seeded random gradient per
/// output (normal, seeded by [`GradcheckOptions::seed`]). The `v` are
/// inputs of the checked function too, so the check covers the
/// derivative of the gradient with respect to both `x` and `v` (the latter
/// confirms the backward is linear in the output gradient).
///
/// ```
/// use autograd::{gradgradcheck, GradcheckOptions, Var};
/// use core_tensor::Tensor;
/// let x = Tensor::from_vec(&[2], vec![0.4, -0.7])?;
/// let f = |v: &[Var<f64>]| Ok(vec![v[0].tanh().mul(&v[0])?]);
/// let report = gradgradcheck(&f, &[x], &GradcheckOptions::default())?;
/// assert!(report.passed, "{report}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`gradcheck`].
pub fn gradgradcheck(
    f: &CheckedFn<'_>,
    inputs: &[Tensor<f64>],
    opts: &GradcheckOptions,
) -> Result<GradcheckReport> {
    let outputs = f(&inputs
        .iter()
        .cloned()
        .map(Var::constant)
        .collect::<Vec<_>>())?;
    let mut rng = Rng::new(opts.seed ^ 0x5eed);
    let grad_outputs: Vec<Tensor<f64>> = outputs
        .iter()
        .map(|o| Tensor::from_vec(&o.shape(), (0..o.len()).map(|_| rng.normal()).collect()))
        .collect::<std::result::Result<_, _>>()?;
    let n_in = inputs.len();
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape().to_vec()).collect();
    let first = move |vars: &[Var<f64>]| -> Result<Vec<Var<f64>>> {
        // The inner gradient needs a graph even when the caller evaluates
        // this function with constants or under no_grad.
        let _mode = crate::enable_grad();
        let (xs, vs) = vars.split_at(n_in);
        let xs: Vec<Var<f64>> = xs
            .iter()
            .map(|x| {
                if x.requires_grad() {
                    x.clone()
                } else {
                    Var::leaf(x.value())
                }
            })
            .collect();
        let outs = f(&xs)?;
        let (outs, vs): (Vec<Var<f64>>, Vec<Var<f64>>) = outs
            .into_iter()
            .zip(vs.iter().cloned())
            .filter(|(o, _)| o.requires_grad())
            .unzip();
        let grads = if outs.is_empty() {
            vec![None; n_in]
        } else {
            grad(&outs, &xs, &vs, true)?
        };
        Ok(grads
            .into_iter()
            .zip(&shapes)
            .map(|(g, s)| g.unwrap_or_else(|| Var::constant(Tensor::zeros(s))))
            .collect())
    };
    let mut all_inputs = inputs.to_vec();
    all_inputs.extend(grad_outputs);
    gradcheck(&first, &all_inputs, opts)
}

/// The function of a registered case: [`CheckedFn`] that can be shared
/// across threads.
pub type CaseFn = dyn Fn(&[Var<f64>]) -> Result<Vec<Var<f64>>> + Send + Sync;

/// A registered sample for `cargo xtask gradcheck`: a function, inputs
/// placed away from non-differentiable points, and the orders to check.
pub struct GradcheckCase {
    /// The op's name (what `--op` filters on).
    pub op: &'static str,
    /// The shape and parameters, for the report.
    pub label: String,
    /// The inputs (all differentiated).
    pub inputs: Vec<Tensor<f64>>,
    /// The function under test.
    pub func: Box<CaseFn>,
    /// Whether to run `gradgradcheck` too.
    pub second_order: bool,
    /// Tolerances and step.
    pub options: GradcheckOptions,
}

/// The outcome of one registered case.
#[derive(Clone, Debug)]
pub struct CaseOutcome {
    /// First-order report.
    pub first: GradcheckReport,
    /// Second-order report, when the case asks for one.
    pub second: Option<GradcheckReport>,
}

impl CaseOutcome {
    /// Whether every requested order passed.
    pub fn passed(&self) -> bool {
        self.first.passed && self.second.as_ref().is_none_or(|r| r.passed)
    }
}

impl GradcheckCase {
    /// Runs the first (and, if requested, second) order checks.
    ///
    /// # Errors
    /// Whatever the function or a backward pass returns.
    pub fn run(&self) -> Result<CaseOutcome> {
        let first = gradcheck(&*self.func, &self.inputs, &self.options)?;
        let second = if self.second_order {
            Some(gradgradcheck(&*self.func, &self.inputs, &self.options)?)
        } else {
            None
        };
        Ok(CaseOutcome { first, second })
    }
}

impl std::fmt::Debug for GradcheckCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GradcheckCase")
            .field("op", &self.op)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// Wraps a single-output function for [`gradcheck`].
pub fn single<Fun>(f: Fun) -> impl Fn(&[Var<f64>]) -> Result<Vec<Var<f64>>> + Send + Sync
where
    Fun: Fn(&[Var<f64>]) -> Result<Var<f64>> + Send + Sync,
{
    move |v| Ok(vec![f(v)?])
}

/// Convenience for errors in sample construction.
pub fn invalid_case(op: &'static str, reason: impl Into<String>) -> AutogradError {
    AutogradError::InvalidArgument {
        op,
        param: "case",
        reason: reason.into(),
    }
}
