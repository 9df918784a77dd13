//! Cross-entropy of scores against class indices, with its fused backward
//! (`F.cross_entropy`).

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::{Float, Tensor};

use super::Reduction;
use super::rows::{grad_column, reduce_rows, row_weights, rows_of, to_rows, unrows};
use crate::{NnError, Result};

/// The keyword arguments of PyTorch's `F.cross_entropy` (for
/// [`cross_entropy_with`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CrossEntropyOptions<'a, F> {
    /// One weight per class (`weight=`); `None`: every class weighs 1.
    pub weight: Option<&'a [F]>,
    /// Rows whose target is this index add no loss and no gradient, and
    /// are left out of the mean's denominator (`ignore_index=`). PyTorch's
    /// default, -100, never matches a class index: here that is `None`.
    pub ignore_index: Option<usize>,
    /// How the per-row losses are combined (`reduction=`).
    pub reduction: Reduction,
    /// `label_smoothing=` ε, in `[0, 1]`.
    pub label_smoothing: f64,
}

/// Cross-entropy between scores (logits) and class indices with its own
/// fused backward: `F.cross_entropy(x, target)` with PyTorch's defaults and
/// the given `reduction` and `label_smoothing` (see [`cross_entropy_with`]
/// for class weights and `ignore_index`):
///
/// `loss_i = -(1-ε)·log p_i[t_i] - (ε/C)·Σ_c log p_i[c]`, `p_i = softmax(x_i)`,
///
/// and `∂loss_i/∂x_i = p_i - q_i` with `q_i = (1-ε)·onehot(t_i) + ε/C`.
/// Scores are `(N, C)`, `(C)` (one sample) or `(N, C, *d)` with targets in
/// row-major order of `(N, *d)`.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::{cross_entropy, Reduction};
/// let x = Var::leaf(Tensor::from_vec(&[1, 2], vec![0.0f64, 0.0])?);
/// let loss = cross_entropy(&x, &[1], Reduction::Mean, 0.0)?;
/// assert!((loss.value().as_slice()[0] - 2f64.ln()).abs() < 1e-15);
/// loss.backward()?;
/// assert_eq!(x.grad().unwrap().as_slice(), &[0.5, -0.5]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`cross_entropy_with`].
pub fn cross_entropy<F: Float>(
    scores: &Var<F>,
    targets: &[usize],
    reduction: Reduction,
    label_smoothing: f64,
) -> Result<Var<F>> {
    cross_entropy_with(
        scores,
        targets,
        &CrossEntropyOptions {
            reduction,
            label_smoothing,
            ..CrossEntropyOptions::default()
        },
    )
}

/// [`cross_entropy`] with PyTorch's class weights `w` and `ignore_index`
/// (`F.cross_entropy(x, target, weight=w, ignore_index=k,
/// reduction=..., label_smoothing=ε)`):
///
/// `loss_i = (1-ε)·w[t_i]·(-log p_i[t_i]) + (ε/C)·Σ_c w_c·(-log p_i[c])`,
/// 0 for rows whose target is `k`; the mean divides the sum by
/// `Σ w[t_i]` over the rows not ignored (`NaN` when that is 0, as in
/// PyTorch). The gradient of a row is `a_i·p_i - q_i` with
/// `a_i = (1-ε)·w[t_i] + (ε/C)·Σ_c w_c` and
/// `q_i = (1-ε)·w[t_i]·onehot(t_i) + (ε/C)·w`, and 0 for an ignored row.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::{cross_entropy_with, CrossEntropyOptions};
/// // Two rows, the second ignored: the mean is the first row's loss.
/// let x = Var::leaf(Tensor::from_vec(&[2, 2], vec![0.0f64, 0.0, 5.0, -5.0])?);
/// let w = [3.0, 1.0];
/// let opts = CrossEntropyOptions { weight: Some(&w[..]), ignore_index: Some(7), ..Default::default() };
/// let loss = cross_entropy_with(&x, &[0, 7], &opts)?;
/// assert!((loss.value().as_slice()[0] - 2f64.ln()).abs() < 1e-15);
/// loss.backward()?;
/// let g = x.grad().unwrap().to_vec();
/// assert!((g[0] + 0.5).abs() < 1e-15 && (g[1] - 0.5).abs() < 1e-15);
/// assert_eq!(&g[2..], &[0.0, 0.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`NnError::BadInput`] when the number of score rows differs from the
/// number of targets; [`NnError::InvalidConfig`] for a target outside
/// `0..C` (other than the ignored index), a weight vector whose length is
/// not `C`, or a smoothing outside `[0, 1]`.
pub fn cross_entropy_with<F: Float>(
    scores: &Var<F>,
    targets: &[usize],
    opts: &CrossEntropyOptions<'_, F>,
) -> Result<Var<F>> {
    const OP: &str = "cross_entropy";
    let label_smoothing = opts.label_smoothing;
    if !(0.0..=1.0).contains(&label_smoothing) {
        return Err(NnError::config(
            OP,
            "label_smoothing",
            format!("label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"),
        ));
    }
    let (rows, loss_shape) = to_rows(OP, scores, targets.len())?;
    let rw = row_weights(
        OP,
        targets,
        &rows,
        opts.weight,
        opts.ignore_index,
        opts.reduction,
    )?;
    let c = rows.shape()[1];
    let x = rows.value();
    let xs = x.as_slice();
    let eps = F::cast(label_smoothing);
    let off = eps / F::from_usize(c);
    let class_w = |j: usize| opts.weight.map_or(F::one(), |w| w[j]);
    // a_i for a row of weight w[t_i]: exactly 1 without class weights.
    let w_total: F = (0..c).map(class_w).sum();
    let a_of = |wt: F| match opts.weight {
        None => F::one(),
        Some(_) => (F::one() - eps) * wt + off * w_total,
    };
    let mut scaled_probs = vec![F::zero(); xs.len()];
    let mut q = vec![F::zero(); xs.len()];
    let mut a = vec![F::zero(); targets.len()];
    let mut losses = Vec::with_capacity(targets.len());
    for (i, &t) in targets.iter().enumerate() {
        if Some(t) == opts.ignore_index {
            losses.push(F::zero());
            continue;
        }
        let row = &xs[i * c..(i + 1) * c];
        let m = row.iter().copied().fold(F::neg_infinity(), F::max);
        let m = if m.is_finite() { m } else { F::zero() };
        let sum: F = row.iter().map(|&v| (v - m).exp()).sum();
        let lse = sum.ln() + m;
        let wt = rw.w[i];
        let ai = a_of(wt);
        a[i] = ai;
        let mut smooth = F::zero();
        for (j, &v) in row.iter().enumerate() {
            let logp = v - lse;
            scaled_probs[i * c + j] = ai * logp.exp();
            smooth += class_w(j) * logp;
            q[i * c + j] = off * class_w(j);
        }
        let nll = lse - row[t];
        q[i * c + t] = (F::one() - eps) * wt + off * class_w(t);
        losses.push((F::one() - eps) * wt * nll - off * smooth);
    }
    let value = reduce_rows(losses, &loss_shape, opts.reduction, &rw)?;
    let count = targets.len();
    Ok(Var::from_op(
        value,
        vec![scores.clone()],
        CrossEntropyBackward {
            scaled_probs: Tensor::from_vec(x.shape(), scaled_probs)?,
            a: Tensor::from_vec(&[count, 1], a)?,
            q: Tensor::from_vec(x.shape(), q)?,
            scale: Tensor::from_vec(&[count, 1], rw.scale)?,
            input_shape: scores.shape(),
        },
    ))
}

struct CrossEntropyBackward<F: Float> {
    /// `a_i · softmax(x_i)`, `(count, C)`: the part of the gradient in the
    /// probabilities, `a_i = (1-ε)·w[t_i] + (ε/C)·Σ_c w_c` (1 without class
    /// weights, 0 for an ignored row).
    scaled_probs: Tensor<F>,
    /// `a_i`, `(count, 1)`.
    a: Tensor<F>,
    /// The weighted smoothed target `q_i = (1-ε)·w[t_i]·onehot(t_i) +
    /// (ε/C)·w`, `(count, C)` (0 for an ignored row).
    q: Tensor<F>,
    /// Per-row reduction factors, `(count, 1)`.
    scale: Tensor<F>,
    /// Shape of the original scores.
    input_shape: Vec<usize>,
}

impl<F: Float> Backward<F> for CrossEntropyBackward<F> {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        let g = grad_column(ctx.grad_output, &self.scale)?;
        // d loss_i / d x_i = a_i·softmax(x_i) - q_i
        let diff = if ctx.create_graph {
            // Differentiable in the scores too, for second derivatives.
            let rows = rows_of(&ctx.inputs[0], &self.input_shape)?;
            rows.softmax(1)?
                .mul(&Var::constant(self.a.clone()))?
                .sub(&Var::constant(self.q.clone()))?
        } else {
            let d: Vec<F> = self
                .scaled_probs
                .as_slice()
                .iter()
                .zip(self.q.as_slice())
                .map(|(&p, &q)| p - q)
                .collect();
            Var::constant(Tensor::from_vec(self.q.shape(), d)?)
        };
        let grad_rows = diff.mul(&g)?;
        Ok(vec![Some(unrows(&grad_rows, &self.input_shape)?)])
    }
}
