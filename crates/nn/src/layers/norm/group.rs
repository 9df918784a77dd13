//! `GroupNorm`: statistics per sample over groups of channels, then a
//! per-channel affine map.

use autograd::Var;
use core_tensor::{Float, Tensor};

use crate::layers::module_parts::{training_flag, weight_and_bias};
use crate::module::Module;
use crate::{NnError, Result};

/// Group normalization (`torch.nn.GroupNorm(num_groups, num_channels,
/// eps=1e-5, affine=True)`): statistics per sample and group of
/// `num_channels / num_groups` channels, then a per-channel affine.
pub struct GroupNorm<F: Float> {
    num_groups: usize,
    num_channels: usize,
    eps: f64,
    weight: Option<Var<F>>,
    bias: Option<Var<F>>,
    training: bool,
}

impl<F: Float> GroupNorm<F> {
    /// A layer with PyTorch's defaults.
    ///
    /// # Errors
    /// As [`GroupNorm::with_options`].
    pub fn new(num_groups: usize, num_channels: usize) -> Result<Self> {
        Self::with_options(num_groups, num_channels, 1e-5, true)
    }

    /// A layer with explicit `eps` and `affine`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] when `num_groups` is 0 or does not divide
    /// `num_channels`.
    pub fn with_options(
        num_groups: usize,
        num_channels: usize,
        eps: f64,
        affine: bool,
    ) -> Result<Self> {
        if num_groups == 0 || !num_channels.is_multiple_of(num_groups) {
            return Err(NnError::config(
                "GroupNorm",
                "num_groups",
                format!(
                    "num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
                ),
            ));
        }
        let shape = [num_channels];
        Ok(Self {
            num_groups,
            num_channels,
            eps,
            weight: affine.then(|| Var::leaf(Tensor::ones(&shape))),
            bias: affine.then(|| Var::leaf(Tensor::zeros(&shape))),
            training: true,
        })
    }
}

impl<F: Float> Module<F> for GroupNorm<F> {
    fn type_name(&self) -> &'static str {
        "GroupNorm"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let shape = x.shape();
        if shape.len() < 2 || shape[1] != self.num_channels {
            return Err(NnError::input(
                "GroupNorm",
                format!("(N, {}, *) with at least 2 axes", self.num_channels),
                &shape,
            ));
        }
        Ok(ops_norm::group_norm(
            x,
            self.num_groups,
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
