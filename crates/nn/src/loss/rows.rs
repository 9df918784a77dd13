//! The rows view shared by the class-index losses: scores `(N, C, *d)` as
//! `(count, C)` rows and back, the targets' per-row class weights, and the
//! reductions.

use autograd::Var;
use core_tensor::{Float, Tensor};

use super::Reduction;
use crate::{NnError, Result};

/// Moves the class axis of `(N, C, *d)` scores last and flattens to
/// `(N·Πd, C)`; `(C)` becomes `(1, C)`. Returns the 2-d scores and the
/// shape of the per-element loss.
pub(super) fn to_rows<F: Float>(
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

/// What the targets make of each row: its class weight `w[t_i]` (0 for an
/// ignored row), and the scale the reductions apply per row.
pub(super) struct RowWeights<F> {
    /// `w[t_i]`, or 0 where `t_i` is the ignored index.
    pub(super) w: Vec<F>,
    /// Per-row factor of the reduction: `1/Σ w[t_i]` over the rows not
    /// ignored for `Mean` (PyTorch's weighted mean), 1 for `Sum` and
    /// `None`; 0 for ignored rows in every case.
    pub(super) scale: Vec<F>,
    /// `Σ w[t_i]` over the rows not ignored.
    pub(super) total: F,
}

/// Checks the targets (each in `0..C` or the ignored index, `C` being the
/// number of columns of `rows`) and the class weights (one per class), and
/// works out [`RowWeights`].
pub(super) fn row_weights<F: Float>(
    op: &'static str,
    targets: &[usize],
    rows: &Var<F>,
    weight: Option<&[F]>,
    ignore_index: Option<usize>,
    reduction: Reduction,
) -> Result<RowWeights<F>> {
    let classes = rows.shape()[1];
    if let Some(w) = weight
        && w.len() != classes
    {
        return Err(NnError::config(
            op,
            "weight",
            format!(
                "weight must hold one value per class ({classes}), got {} values",
                w.len()
            ),
        ));
    }
    let mut w = Vec::with_capacity(targets.len());
    for (i, &t) in targets.iter().enumerate() {
        if Some(t) == ignore_index {
            w.push(F::zero());
        } else if t >= classes {
            return Err(NnError::config(
                op,
                "target",
                format!(
                    "target {t} at position {i} is out of bounds: classes are 0..{classes}{}",
                    ignore_index.map_or(String::new(), |k| format!(" (or {k}, the ignored index)"))
                ),
            ));
        } else {
            w.push(weight.map_or(F::one(), |cw| cw[t]));
        }
    }
    // Ignored rows weigh 0, so the plain sum is the sum over the others.
    let total: F = w.iter().copied().sum();
    let active = |i: usize| Some(targets[i]) != ignore_index;
    let per_row = match reduction {
        Reduction::Mean => F::one() / total,
        Reduction::Sum | Reduction::None => F::one(),
    };
    let scale = (0..targets.len())
        .map(|i| if active(i) { per_row } else { F::zero() })
        .collect();
    Ok(RowWeights { w, scale, total })
}

/// Turns per-row losses `(count)` into the requested reduction: the sum
/// times the mean's factor (`1/Σ w[t_i]`, `NaN` when every row is ignored,
/// as in PyTorch), the sum, or the losses themselves.
pub(super) fn reduce_rows<F: Float>(
    losses: Vec<F>,
    loss_shape: &[usize],
    reduction: Reduction,
    rw: &RowWeights<F>,
) -> Result<Tensor<F>> {
    Ok(match reduction {
        Reduction::None => Tensor::from_vec(loss_shape, losses)?,
        Reduction::Sum => Tensor::scalar(losses.into_iter().sum()),
        Reduction::Mean => Tensor::scalar(losses.into_iter().sum::<F>() * (F::one() / rw.total)),
    })
}

/// The incoming gradient as a `(count, 1)` column (broadcast from a scalar
/// for reduced losses), times each row's reduction factor.
pub(super) fn grad_column<F: Float>(g: &Var<F>, scale: &Tensor<F>) -> autograd::Result<Var<F>> {
    let count = scale.shape()[0];
    let col = if g.len() == count && g.ndim() > 0 {
        g.reshape(&[count, 1])?
    } else {
        g.reshape(&[1, 1])?
    };
    col.mul(&Var::constant(scale.clone()))
}

/// The differentiable `(count, C)` view of scores of `shape` (as in [`to_rows`]).
pub(super) fn rows_of<F: Float>(x: &Var<F>, shape: &[usize]) -> autograd::Result<Var<F>> {
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
pub(super) fn unrows<F: Float>(rows: &Var<F>, shape: &[usize]) -> autograd::Result<Var<F>> {
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
