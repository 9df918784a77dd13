//! `RMSNorm`: `x / sqrt(mean(x²) + eps)` over the trailing axes, with an
//! optional elementwise weight and no bias.

use autograd::Var;
use core_tensor::{Float, Tensor};

use crate::Result;
use crate::layers::module_parts::{training_flag, weight_and_bias};
use crate::module::Module;

/// RMS normalization (`torch.nn.RMSNorm(normalized_shape, eps=None,
/// elementwise_affine=True)`): `y = x / sqrt(mean(x²) + eps) · weight` over
/// the trailing axes, no bias; `eps = None` is the dtype's machine epsilon.
pub struct RMSNorm<F: Float> {
    normalized_shape: Vec<usize>,
    eps: Option<f64>,
    weight: Option<Var<F>>,
    training: bool,
}

impl<F: Float> RMSNorm<F> {
    /// A layer with PyTorch's defaults (`eps = None`, weight ones).
    ///
    /// # Errors
    /// As [`RMSNorm::with_options`].
    pub fn new(normalized_shape: &[usize]) -> Result<Self> {
        Self::with_options(normalized_shape, None, true)
    }

    /// A layer with explicit `eps` and `elementwise_affine`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`](crate::NnError::InvalidConfig) for an empty `normalized_shape`.
    pub fn with_options(
        normalized_shape: &[usize],
        eps: Option<f64>,
        elementwise_affine: bool,
    ) -> Result<Self> {
        Ok(Self {
            normalized_shape: super::trailing_axes("RMSNorm", normalized_shape)?,
            eps,
            weight: elementwise_affine.then(|| Var::leaf(Tensor::ones(normalized_shape))),
            training: true,
        })
    }
}

impl<F: Float> Module<F> for RMSNorm<F> {
    fn type_name(&self) -> &'static str {
        "RMSNorm"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(ops_norm::rms_norm(
            x,
            &self.normalized_shape,
            self.weight.as_ref(),
            self.eps,
        )?)
    }

    training_flag!();

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        weight_and_bias(self.weight.as_ref(), None)
    }
}
