//! Losses: `cross_entropy` (fused log-softmax + NLL), `nll_loss`,
//! `mse_loss`.

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::{Float, Tensor};

use crate::{NnError, Result};

/// How per-element losses are combined (`reduction=` in PyTorch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// The average over all elements (PyTorch's default).
    #[default]
    Mean,
    /// The sum over all elements.
    Sum,
    /// No reduction: one loss per element.
    None,
}

/// Moves the class axis of `(N, C, *d)` scores last and flattens to
/// `(N·Πd, C)`; `(C)` becomes `(1, C)`. Returns the 2-d scores and the
/// shape of the per-element loss.
fn to_rows<F: Float>(
    op: &'static str,
    x: &Var<F>,
    n_targets: usize,
) -> Result<(Var<F>, Vec<usize>)> {
    let s = x.shape();
    let (rows, loss_shape) = match s.len() {
        0 => {
            return Err(NnError::input(
                op,
                "scores of shape (C), (N, C) or (N, C, *d)",
                &s,
            ));
        }
        1 => (x.reshape(&[1, s[0]])?, vec![]),
        2 => (x.clone(), vec![s[0]]),
        r => {
            let mut perm = vec![0];
            perm.extend(2..r);
            perm.push(1);
            let moved = x.permute(&perm)?;
            let count: usize = s.iter().product::<usize>() / s[1].max(1);
            let mut ls = vec![s[0]];
            ls.extend_from_slice(&s[2..]);
            (moved.reshape(&[count, s[1]])?, ls)
        }
    };
    let count = rows.shape()[0];
    if count != n_targets {
        return Err(NnError::input(
            op,
            format!("scores with one row per target ({n_targets} targets)"),
            &s,
        ));
    }
    if rows.shape()[1] == 0 {
        return Err(NnError::input(op, "at least one class", &s));
    }
    Ok((rows, loss_shape))
}

fn check_targets(op: &'static str, targets: &[usize], classes: usize) -> Result<()> {
    if let Some((i, &t)) = targets.iter().enumerate().find(|(_, t)| **t >= classes) {
        return Err(NnError::config(
            op,
            "target",
            format!("target {t} at position {i} is out of bounds: classes are 0..{classes}"),
        ));
    }
    Ok(())
}

/// Turns per-row losses `(count)` into the requested reduction, plus the
/// scale that the backward pass applies to the incoming gradient.
fn reduce_rows<F: Float>(
    losses: Vec<F>,
    loss_shape: &[usize],
    reduction: Reduction,
) -> Result<(Tensor<F>, F)> {
    let count = losses.len();
    Ok(match reduction {
        Reduction::None => (Tensor::from_vec(loss_shape, losses)?, F::one()),
        Reduction::Sum => (Tensor::scalar(losses.into_iter().sum()), F::one()),
        Reduction::Mean => {
            let inv = F::one() / F::from_usize(count);
            (Tensor::scalar(losses.into_iter().sum::<F>() * inv), inv)
        }
    })
}

/// The incoming gradient as a `(count, 1)` column (broadcast from a scalar
/// for reduced losses), times `scale`.
fn grad_column<F: Float>(g: &Var<F>, count: usize, scale: F) -> autograd::Result<Var<F>> {
    let col = if g.len() == count && g.ndim() > 0 {
        g.reshape(&[count, 1])?
    } else {
        g.reshape(&[1, 1])?
    };
    Ok(col.mul_scalar(scale.widen()))
}

struct CrossEntropyBackward<F: Float> {
    /// softmax of the scores, `(count, C)`.
    probs: Tensor<F>,
    /// The smoothed target distribution `q`, `(count, C)`.
    q: Tensor<F>,
    /// Reduction scale (1 or 1/count).
    scale: F,
    /// Shape of the original scores and the permutation used to make rows.
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
        let count = self.q.shape()[0];
        let g = grad_column(ctx.grad_output, count, self.scale)?;
        // d loss_i / d x_i = softmax(x_i) - q_i
        let diff = if ctx.create_graph {
            // Differentiable in the scores too, for second derivatives.
            let rows = rows_of(&ctx.inputs[0], &self.input_shape)?;
            rows.softmax(1)?.sub(&Var::constant(self.q.clone()))?
        } else {
            let d: Vec<F> = self
                .probs
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

/// The differentiable `(count, C)` view of scores of `shape` (as in [`to_rows`]).
fn rows_of<F: Float>(x: &Var<F>, shape: &[usize]) -> autograd::Result<Var<F>> {
    match shape.len() {
        1 => x.reshape(&[1, shape[0]]),
        2 => Ok(x.clone()),
        r => {
            let mut perm = vec![0];
            perm.extend(2..r);
            perm.push(1);
            let count = shape.iter().product::<usize>() / shape[1].max(1);
            x.permute(&perm)?.reshape(&[count, shape[1]])
        }
    }
}

/// The inverse of [`rows_of`]: `(count, C)` back to `shape`.
fn unrows<F: Float>(rows: &Var<F>, shape: &[usize]) -> autograd::Result<Var<F>> {
    match shape.len() {
        1 | 2 => rows.reshape(shape),
        r => {
            let mut moved = vec![shape[0]];
            moved.extend_from_slice(&shape[2..]);
            moved.push(shape[1]);
            let mut perm = vec![0, r - 1];
            perm.extend(1..r - 1);
            rows.reshape(&moved)?.permute(&perm)
        }
    }
}

/// Cross-entropy between scores (logits) and class indices, with its own
/// fused backward (`F.cross_entropy(x, target, reduction=...,
/// label_smoothing=ε)` without class weights or `ignore_index`):
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
/// [`NnError::BadInput`] when the number of score rows differs from the
/// number of targets; [`NnError::InvalidConfig`] for a target outside
/// `0..C` or a smoothing outside `[0, 1]`.
pub fn cross_entropy<F: Float>(
    scores: &Var<F>,
    targets: &[usize],
    reduction: Reduction,
    label_smoothing: f64,
) -> Result<Var<F>> {
    const OP: &str = "cross_entropy";
    if !(0.0..=1.0).contains(&label_smoothing) {
        return Err(NnError::config(
            OP,
            "label_smoothing",
            format!("label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"),
        ));
    }
    let (rows, loss_shape) = to_rows(OP, scores, targets.len())?;
    let c = rows.shape()[1];
    check_targets(OP, targets, c)?;
    let x = rows.value();
    let xs = x.as_slice();
    let eps = F::cast(label_smoothing);
    let off = eps / F::from_usize(c);
    let on = F::one() - eps + off;
    let mut probs = vec![F::zero(); xs.len()];
    let mut q = vec![off; xs.len()];
    let mut losses = Vec::with_capacity(targets.len());
    for (i, &t) in targets.iter().enumerate() {
        let row = &xs[i * c..(i + 1) * c];
        let m = row.iter().copied().fold(F::neg_infinity(), F::max);
        let m = if m.is_finite() { m } else { F::zero() };
        let sum: F = row.iter().map(|&v| (v - m).exp()).sum();
        let lse = sum.ln() + m;
        let mut smooth = F::zero();
        for (j, &v) in row.iter().enumerate() {
            let logp = v - lse;
            probs[i * c + j] = logp.exp();
            smooth += logp;
        }
        let nll = lse - row[t];
        q[i * c + t] = on;
        losses.push((F::one() - eps) * nll - off * smooth);
    }
    let (value, scale) = reduce_rows(losses, &loss_shape, reduction)?;
    Ok(Var::from_op(
        value,
        vec![scores.clone()],
        CrossEntropyBackward {
            probs: Tensor::from_vec(x.shape(), probs)?,
            q: Tensor::from_vec(x.shape(), q)?,
            scale,
            input_shape: scores.shape(),
        },
    ))
}

struct NllBackward<F: Float> {
    /// `-onehot(t)`, `(count, C)`.
    neg_onehot: Tensor<F>,
    scale: F,
    input_shape: Vec<usize>,
}

impl<F: Float> Backward<F> for NllBackward<F> {
    fn name(&self) -> &'static str {
        "nll_loss"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        let count = self.neg_onehot.shape()[0];
        let g = grad_column(ctx.grad_output, count, self.scale)?;
        let rows = Var::constant(self.neg_onehot.clone()).mul(&g)?;
        Ok(vec![Some(unrows(&rows, &self.input_shape)?)])
    }
}

/// Negative log-likelihood of class indices under log-probabilities
/// (`F.nll_loss(logp, target, reduction=...)`): `loss_i = -logp_i[t_i]`.
/// Shapes as in [`cross_entropy`].
///
/// # Errors
/// As [`cross_entropy`].
pub fn nll_loss<F: Float>(
    log_probs: &Var<F>,
    targets: &[usize],
    reduction: Reduction,
) -> Result<Var<F>> {
    const OP: &str = "nll_loss";
    let (rows, loss_shape) = to_rows(OP, log_probs, targets.len())?;
    let c = rows.shape()[1];
    check_targets(OP, targets, c)?;
    let x = rows.value();
    let xs = x.as_slice();
    let mut onehot = vec![F::zero(); xs.len()];
    let losses: Vec<F> = targets
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            onehot[i * c + t] = -F::one();
            -xs[i * c + t]
        })
        .collect();
    let (value, scale) = reduce_rows(losses, &loss_shape, reduction)?;
    Ok(Var::from_op(
        value,
        vec![log_probs.clone()],
        NllBackward {
            neg_onehot: Tensor::from_vec(x.shape(), onehot)?,
            scale,
            input_shape: log_probs.shape(),
        },
    ))
}

/// Mean squared error `(x - y)²` with a reduction (`F.mse_loss`), built
/// from differentiable basic ops, so it is differentiable in both
/// arguments to any order.
///
/// # Errors
/// [`NnError::BadInput`] when the shapes differ (PyTorch would broadcast
/// with a warning; here it is an error).
pub fn mse_loss<F: Float>(input: &Var<F>, target: &Var<F>, reduction: Reduction) -> Result<Var<F>> {
    if input.shape() != target.shape() {
        return Err(NnError::input(
            "mse_loss",
            format!("the target's shape {:?}", target.shape()),
            &input.shape(),
        ));
    }
    let d = input.sub(target)?;
    let sq = d.mul(&d)?;
    Ok(match reduction {
        Reduction::None => sq,
        Reduction::Sum => sq.sum_all(),
        Reduction::Mean => sq.mean_all(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol, "element {i}: {x} vs {y}");
        }
    }

    #[test]
    fn cross_entropy_matches_pytorch() {
        // torch: x = torch.tensor([[1., 2., 0.5], [0.1, -1., 3.]], dtype=torch.float64, requires_grad=True)
        // F.cross_entropy(x, torch.tensor([2, 0]))                        -> 2.2434616041209755
        // F.cross_entropy(x, torch.tensor([2, 0]), label_smoothing=0.3)   -> 2.1385470640282573
        let x = Var::leaf(Tensor::from_vec(&[2, 3], vec![1., 2., 0.5, 0.1, -1., 3.]).unwrap());
        let l = cross_entropy(&x, &[2, 0], Reduction::Mean, 0.0).unwrap();
        let lse0 = (1f64.exp() + 2f64.exp() + 0.5f64.exp()).ln();
        let lse1 = (0.1f64.exp() + (-1f64).exp() + 3f64.exp()).ln();
        let expect = ((lse0 - 0.5) + (lse1 - 0.1)) / 2.0;
        close(l.value().as_slice(), &[expect], 1e-14);
        l.backward().unwrap();
        let g = x.grad().unwrap().to_vec();
        let p0: Vec<f64> = [1., 2., 0.5]
            .iter()
            .map(|v: &f64| (v - lse0).exp())
            .collect();
        let p1: Vec<f64> = [0.1, -1., 3.]
            .iter()
            .map(|v: &f64| (v - lse1).exp())
            .collect();
        close(
            &g,
            &[
                p0[0] / 2.,
                p0[1] / 2.,
                (p0[2] - 1.) / 2.,
                (p1[0] - 1.) / 2.,
                p1[1] / 2.,
                p1[2] / 2.,
            ],
            1e-14,
        );
        // Label smoothing and sum / none reductions.
        let eps = 0.3;
        let smooth0 = -(3.5 - 3.0 * lse0) / 3.0;
        let smooth1 = -(2.1 - 3.0 * lse1) / 3.0;
        let l0 = (1.0 - eps) * (lse0 - 0.5) + eps * smooth0;
        let l1 = (1.0 - eps) * (lse1 - 0.1) + eps * smooth1;
        let none = cross_entropy(&x, &[2, 0], Reduction::None, eps).unwrap();
        close(none.value().as_slice(), &[l0, l1], 1e-14);
        let sum = cross_entropy(&x, &[2, 0], Reduction::Sum, eps).unwrap();
        close(sum.value().as_slice(), &[l0 + l1], 1e-14);
    }

    #[test]
    fn cross_entropy_with_spatial_axes_equals_rows() {
        // (N=1, C=2, L=2) scores vs the same rows as (2, 2).
        let x = Var::leaf(Tensor::from_vec(&[1, 2, 2], vec![1., 2., 3., -1.]).unwrap());
        let l = cross_entropy(&x, &[0, 1], Reduction::Sum, 0.0).unwrap();
        let r = Var::leaf(Tensor::from_vec(&[2, 2], vec![1., 3., 2., -1.]).unwrap());
        let lr = cross_entropy(&r, &[0, 1], Reduction::Sum, 0.0).unwrap();
        close(l.value().as_slice(), lr.value().as_slice(), 1e-15);
        l.backward().unwrap();
        lr.backward().unwrap();
        let gr = r.grad().unwrap().to_vec();
        close(
            &x.grad().unwrap().to_vec(),
            &[gr[0], gr[2], gr[1], gr[3]],
            1e-15,
        );
    }

    #[test]
    fn nll_and_mse_values() {
        let lp = Var::leaf(Tensor::from_vec(&[2, 2], vec![-0.1, -2.0, -1.5, -0.3]).unwrap());
        let l = nll_loss(&lp, &[1, 0], Reduction::Mean).unwrap();
        close(l.value().as_slice(), &[1.75], 1e-15);
        l.backward().unwrap();
        close(&lp.grad().unwrap().to_vec(), &[0., -0.5, -0.5, 0.], 0.0);
        let a = Var::leaf(Tensor::from_vec(&[3], vec![1., 2., 3.]).unwrap());
        let b = Var::constant(Tensor::from_vec(&[3], vec![1., 0., 0.]).unwrap());
        let m = mse_loss(&a, &b, Reduction::Mean).unwrap();
        close(m.value().as_slice(), &[13.0 / 3.0], 1e-15);
    }

    #[test]
    fn bad_targets_are_errors() {
        let x = Var::leaf(Tensor::<f64>::zeros(&[2, 3]));
        let e = cross_entropy(&x, &[0, 3], Reduction::Mean, 0.0).unwrap_err();
        assert!(
            e.to_string()
                .contains("target 3 at position 1 is out of bounds"),
            "{e}"
        );
        assert!(cross_entropy(&x, &[0], Reduction::Mean, 0.0).is_err());
        assert!(cross_entropy(&x, &[0, 1], Reduction::Mean, 1.5).is_err());
        let y = Var::constant(Tensor::<f64>::zeros(&[3, 2]));
        assert!(mse_loss(&x, &y, Reduction::Mean).is_err());
    }
}
