//! `Flatten`: merges a range of axes into one.

use autograd::Var;
use core_tensor::Float;

use super::module_parts::training_flag;
use crate::module::Module;
use crate::{NnError, Result};

/// Merges axes `start_dim..=end_dim` into one (`torch.nn.Flatten(start_dim=1,
/// end_dim=-1)`); negative dims count from the end.
#[derive(Clone, Debug)]
pub struct Flatten {
    start_dim: isize,
    end_dim: isize,
    training: bool,
}

impl Default for Flatten {
    fn default() -> Self {
        Self::new()
    }
}

impl Flatten {
    /// PyTorch's default: every axis from 1 to the last.
    pub fn new() -> Self {
        Self::with_dims(1, -1)
    }

    /// Flattens `start_dim..=end_dim`.
    pub fn with_dims(start_dim: isize, end_dim: isize) -> Self {
        Self {
            start_dim,
            end_dim,
            training: true,
        }
    }
}

impl<F: Float> Module<F> for Flatten {
    fn type_name(&self) -> &'static str {
        "Flatten"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let shape = x.shape();
        let n = shape.len() as isize;
        let norm = |d: isize| if d < 0 { d + n } else { d };
        let (s, e) = (norm(self.start_dim), norm(self.end_dim));
        if n == 0 {
            return Ok(x.reshape(&[1])?);
        }
        if s < 0 || e >= n || s > e {
            return Err(NnError::input(
                "Flatten",
                format!(
                    "a rank for which start_dim {} and end_dim {} are valid axes with start <= end",
                    self.start_dim, self.end_dim
                ),
                &shape,
            ));
        }
        let (s, e) = (s as usize, e as usize);
        let mut out: Vec<usize> = shape[..s].to_vec();
        out.push(shape[s..=e].iter().product());
        out.extend_from_slice(&shape[e + 1..]);
        Ok(x.reshape(&out)?)
    }

    training_flag!();
}

/// Splits axis `dim` into several (`torch.nn.Unflatten(dim,
/// unflattened_size)`), the inverse of [`Flatten`]: an input `(*, S, *)`
/// with `S` at `dim` becomes `(*, s_1, ..., s_k, *)` with `Π s_i = S`.
/// `dim` may be negative (counted from the end); one size may be `-1`, to
/// be inferred from the others.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::{Module, Unflatten};
///
/// let mut u = Unflatten::new(1, &[2, -1])?;
/// let y = Module::<f64>::forward(&mut u, &Var::constant(Tensor::zeros(&[4, 6, 5])))?;
/// assert_eq!(y.shape(), [4, 2, 3, 5]);
/// # Ok::<(), nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Unflatten {
    dim: isize,
    sizes: Vec<isize>,
    training: bool,
}

impl Unflatten {
    /// Splits axis `dim` into `sizes`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for empty `sizes`, a size below `-1`, or
    /// more than one `-1`.
    pub fn new(dim: isize, sizes: &[isize]) -> Result<Self> {
        if sizes.is_empty() {
            return Err(NnError::config(
                "Unflatten",
                "unflattened_size",
                "unflattened_size must hold at least one size",
            ));
        }
        if let Some(bad) = sizes.iter().find(|&&s| s < -1) {
            return Err(NnError::config(
                "Unflatten",
                "unflattened_size",
                format!("sizes must be non-negative or -1 (inferred), got {bad} in {sizes:?}"),
            ));
        }
        if sizes.iter().filter(|&&s| s == -1).count() > 1 {
            return Err(NnError::config(
                "Unflatten",
                "unflattened_size",
                format!("only one size can be inferred (-1), got {sizes:?}"),
            ));
        }
        Ok(Self {
            dim,
            sizes: sizes.to_vec(),
            training: true,
        })
    }

    /// The output shape for an input of `shape`.
    fn output_shape(&self, shape: &[usize]) -> Result<Vec<usize>> {
        let n = shape.len() as isize;
        let d = if self.dim < 0 { self.dim + n } else { self.dim };
        if d < 0 || d >= n {
            return Err(NnError::input(
                "Unflatten",
                format!("a rank for which dim {} is a valid axis", self.dim),
                shape,
            ));
        }
        let d = d as usize;
        let total = shape[d];
        let known = self
            .sizes
            .iter()
            .filter(|&&s| s >= 0)
            .try_fold(1usize, |acc, &s| acc.checked_mul(s as usize));
        let mismatch = || {
            NnError::input(
                "Unflatten",
                format!(
                    "a size on axis {d} that unflattened_size {:?} splits exactly",
                    self.sizes
                ),
                shape,
            )
        };
        let known = known.ok_or_else(mismatch)?;
        let inferred = if self.sizes.contains(&-1) {
            if known == 0 || !total.is_multiple_of(known) {
                return Err(mismatch());
            }
            total / known
        } else if known == total {
            0
        } else {
            return Err(mismatch());
        };
        let mut out = shape[..d].to_vec();
        out.extend(
            self.sizes
                .iter()
                .map(|&s| if s < 0 { inferred } else { s as usize }),
        );
        out.extend_from_slice(&shape[d + 1..]);
        Ok(out)
    }
}

impl<F: Float> Module<F> for Unflatten {
    fn type_name(&self) -> &'static str {
        "Unflatten"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let out = self.output_shape(&x.shape())?;
        Ok(x.reshape(&out)?)
    }

    training_flag!();
}
