//! Gradient clipping: `torch.nn.utils.clip_grad_norm_` and
//! `clip_grad_value_`.

use autograd::Var;
use core_tensor::Float;

use crate::{NnError, Result};

/// The `p`-norm of `values` (`torch.linalg.vector_norm(values, p)`):
/// `(Σ|x|^p)^(1/p)` for `p > 0`, the largest `|x|` for `+∞`, the smallest
/// for `−∞`, the count of non-zeros for `0`. Accumulates in `f64`.
fn vector_norm(values: impl Iterator<Item = f64>, p: f64) -> f64 {
    if p == f64::INFINITY {
        // NaN wins, as in torch's max.
        values.fold(0.0, |m, v| {
            if v.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.max(v.abs())
            }
        })
    } else if p == f64::NEG_INFINITY {
        values.fold(f64::INFINITY, |m, v| {
            if v.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.min(v.abs())
            }
        })
    } else if p == 0.0 {
        values.map(|v| if v != 0.0 { 1.0 } else { 0.0 }).sum()
    } else if p == 1.0 {
        values.map(f64::abs).sum()
    } else if p == 2.0 {
        values.map(|v| v * v).sum::<f64>().sqrt()
    } else {
        values.map(|v| v.abs().powf(p)).sum::<f64>().powf(1.0 / p)
    }
}

/// Scales the gradients of `params` so that their total `norm_type`-norm is
/// at most `max_norm`, and returns the total norm before clipping, like
/// `torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type,
/// error_if_nonfinite)`.
///
/// The total norm is the norm of the vector of the per-parameter norms,
/// which equals the norm of all gradient elements together:
///
/// ```text
/// total = ‖(‖g₁‖_p, ‖g₂‖_p, …)‖_p
/// g ← g · min(1, max_norm / (total + 1e-6))
/// ```
///
/// `norm_type` is any `p > 0`, `0` (count of non-zeros), or `±∞` (largest /
/// smallest magnitude). Parameters without a gradient are skipped; with no
/// gradient at all the total is 0. Norms are accumulated in `f64` (PyTorch
/// uses the gradients' dtype), the scale is rounded to `F` before the
/// multiplication. A NaN or infinite total scales the gradients into NaN
/// unless `error_if_nonfinite` turns it into an error.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::clip_grad_norm_;
/// let p = Var::leaf(Tensor::from_vec(&[2], vec![0.0f64, 0.0])?);
/// p.set_grad(Some(Tensor::from_vec(&[2], vec![3.0, 4.0])?))?;
/// let total = clip_grad_norm_(&[p.clone()], 1.0, 2.0, false)?;
/// assert_eq!(total, 5.0);
/// let g = p.grad().unwrap();
/// assert!((g.as_slice()[0] - 0.6).abs() < 1e-6 && (g.as_slice()[1] - 0.8).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`NnError::InvalidConfig`] for a negative or NaN `max_norm`, or a
/// negative finite or NaN `norm_type`; [`NnError::NonFiniteNorm`] for a
/// non-finite total with `error_if_nonfinite`. Nothing is changed on error.
pub fn clip_grad_norm_<F: Float>(
    params: &[Var<F>],
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<f64> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(NnError::config(
            "clip_grad_norm_",
            "max_norm",
            format!("max_norm must be a non-negative number, got {max_norm}"),
        ));
    }
    if norm_type.is_nan() || (norm_type < 0.0 && norm_type.is_finite()) {
        return Err(NnError::config(
            "clip_grad_norm_",
            "norm_type",
            format!("norm_type must be positive, 0, inf or -inf, got {norm_type}"),
        ));
    }
    let grads: Vec<(&Var<F>, core_tensor::Tensor<F>)> = params
        .iter()
        .filter_map(|p| p.grad().map(|g| (p, g)))
        .collect();
    if grads.is_empty() {
        return Ok(0.0);
    }
    let per_param: Vec<f64> = grads
        .iter()
        .map(|(_, g)| vector_norm(g.as_slice().iter().map(|v| v.widen()), norm_type))
        .collect();
    let total = vector_norm(per_param.into_iter(), norm_type);
    if error_if_nonfinite && !total.is_finite() {
        return Err(NnError::NonFiniteNorm { norm_type, total });
    }
    let coef = F::cast((max_norm / (total + 1e-6)).min(1.0));
    let coef = if total.is_nan() { F::nan() } else { coef };
    for (p, g) in grads {
        p.set_grad(Some(g.map(|&v| v * coef)))?;
    }
    Ok(total)
}

/// Clamps every gradient element of `params` into `[−clip_value,
/// clip_value]`, like `torch.nn.utils.clip_grad_value_`. NaN elements stay
/// NaN; parameters without a gradient are skipped.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::clip_grad_value_;
/// let p = Var::leaf(Tensor::from_vec(&[3], vec![0.0f64; 3])?);
/// p.set_grad(Some(Tensor::from_vec(&[3], vec![-3.0, 0.5, 7.0])?))?;
/// clip_grad_value_(&[p.clone()], 1.0)?;
/// assert_eq!(p.grad().unwrap().as_slice(), &[-1.0, 0.5, 1.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`NnError::InvalidConfig`] for a negative or NaN `clip_value`.
pub fn clip_grad_value_<F: Float>(params: &[Var<F>], clip_value: f64) -> Result<()> {
    if clip_value.is_nan() || clip_value < 0.0 {
        return Err(NnError::config(
            "clip_grad_value_",
            "clip_value",
            format!("clip_value must be a non-negative number, got {clip_value}"),
        ));
    }
    let (lo, hi) = (F::cast(-clip_value), F::cast(clip_value));
    for p in params {
        if let Some(g) = p.grad() {
            p.set_grad(Some(g.map(|&v| {
                if v < lo {
                    lo
                } else if v > hi {
                    hi
                } else {
                    v
                }
            })))?;
        }
    }
    Ok(())
}
