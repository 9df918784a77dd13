//! `LayerNorm`: statistics over the trailing `normalized_shape` axes of
//! each sample, the same in training and evaluation.

use autograd::Var;
use core_tensor::{Float, Tensor};

use crate::Result;
use crate::layers::module_parts::{training_flag, weight_and_bias};
use crate::module::Module;

/// Layer normalization over the trailing `normalized_shape` axes
/// (`torch.nn.LayerNorm(normalized_shape, eps=1e-5,
/// elementwise_affine=True, bias=True)`); the same in training and eval.
/// `weight` (ones) and `bias` (zeros) have shape `normalized_shape`.
pub struct LayerNorm<F: Float> {
    normalized_shape: Vec<usize>,
    eps: f64,
    weight: Option<Var<F>>,
    bias: Option<Var<F>>,
    training: bool,
}

impl<F: Float> LayerNorm<F> {
    /// A layer with PyTorch's defaults (affine with bias, eps 1e-5).
    ///
    /// # Errors
    /// As [`LayerNorm::with_options`].
    pub fn new(normalized_shape: &[usize]) -> Result<Self> {
        Self::with_options(normalized_shape, 1e-5, true, true)
    }

    /// A layer with explicit `eps`, `elementwise_affine` and `bias`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`](crate::NnError::InvalidConfig) for an empty `normalized_shape`.
    pub fn with_options(
        normalized_shape: &[usize],
        eps: f64,
        elementwise_affine: bool,
        bias: bool,
    ) -> Result<Self> {
        Ok(Self {
            normalized_shape: super::trailing_axes("LayerNorm", normalized_shape)?,
            eps,
            weight: elementwise_affine.then(|| Var::leaf(Tensor::ones(normalized_shape))),
            bias: (elementwise_affine && bias).then(|| Var::leaf(Tensor::zeros(normalized_shape))),
            training: true,
        })
    }
}

impl<F: Float> Module<F> for LayerNorm<F> {
    fn type_name(&self) -> &'static str {
        "LayerNorm"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(ops_norm::layer_norm(
            x,
            &self.normalized_shape,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )?)
    }

    training_flag!();

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        weight_and_bias(self.weight.as_ref(), self.bias.as_ref())
    }
}
