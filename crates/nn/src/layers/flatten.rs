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
