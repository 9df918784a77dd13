//! `LocalResponseNorm`: each element divided by a power of the mean square
//! over a window of neighbouring channels.

use autograd::Var;
use core_tensor::Float;

use crate::layers::module_parts::training_flag;
use crate::module::Module;
use crate::{NnError, Result};

/// Local response normalization (`torch.nn.LocalResponseNorm(size,
/// alpha=1e-4, beta=0.75, k=1.0)`) over inputs `(N, C, *)`:
///
/// `y[n, c] = x[n, c] / (k + α / size · Σ_{c'} x[n, c']²)^β`,
///
/// summed over the `size` channels `c − ⌊size/2⌋ ..= c + ⌊(size−1)/2⌋`,
/// channels outside the input counting as zeros
/// ([`ops_norm::local_response_norm`]). No parameters; the same in training
/// and eval.
#[derive(Clone, Debug)]
pub struct LocalResponseNorm {
    size: usize,
    alpha: f64,
    beta: f64,
    k: f64,
    training: bool,
}

impl LocalResponseNorm {
    /// A layer with PyTorch's defaults (`alpha` 1e-4, `beta` 0.75, `k` 1).
    ///
    /// # Errors
    /// As [`LocalResponseNorm::with_options`].
    pub fn new(size: usize) -> Result<Self> {
        Self::with_options(size, 1e-4, 0.75, 1.0)
    }

    /// A layer with explicit `alpha`, `beta` and `k` (taken as they are, as
    /// in PyTorch).
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `size == 0`.
    pub fn with_options(size: usize, alpha: f64, beta: f64, k: f64) -> Result<Self> {
        if size == 0 {
            return Err(NnError::config(
                "LocalResponseNorm",
                "size",
                "size must be at least 1 (channels in a window)",
            ));
        }
        Ok(Self {
            size,
            alpha,
            beta,
            k,
            training: true,
        })
    }
}

impl<F: Float> Module<F> for LocalResponseNorm {
    fn type_name(&self) -> &'static str {
        "LocalResponseNorm"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(ops_norm::local_response_norm(
            x, self.size, self.alpha, self.beta, self.k,
        )?)
    }

    training_flag!();
}
