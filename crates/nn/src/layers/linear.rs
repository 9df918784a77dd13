//! `Linear`: `y = x Wᵀ + b`.

use autograd::Var;
use core_tensor::{Float, Rng};

use super::module_parts::{training_flag, weight_and_bias};
use crate::init::default_weight_and_bias;
use crate::module::Module;
use crate::{NnError, Result};

/// A fully connected layer, `torch.nn.Linear(in_features, out_features,
/// bias)`: `y = x Wᵀ + b` over the last axis of an input `(*, in_features)`.
///
/// `weight` has shape `(out_features, in_features)` and `bias`
/// `(out_features)`; both start as PyTorch's defaults
/// (`U(-1/sqrt(in), 1/sqrt(in))`).
pub struct Linear<F: Float> {
    in_features: usize,
    out_features: usize,
    weight: Var<F>,
    bias: Option<Var<F>>,
    training: bool,
}

impl<F: Float> Linear<F> {
    /// A layer with PyTorch's default initialization drawn from `rng`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] when a size is 0.
    pub fn new(in_features: usize, out_features: usize, bias: bool, rng: &mut Rng) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(NnError::config(
                "Linear",
                "features",
                format!(
                    "in_features ({in_features}) and out_features ({out_features}) must be at least 1"
                ),
            ));
        }
        let (w, b) = default_weight_and_bias(
            &[out_features, in_features],
            bias.then_some(out_features),
            in_features,
            rng,
        )?;
        Ok(Self {
            in_features,
            out_features,
            weight: Var::leaf(w),
            bias: b.map(Var::leaf),
            training: true,
        })
    }

    /// The weight, `(out_features, in_features)`.
    pub fn weight(&self) -> &Var<F> {
        &self.weight
    }

    /// The bias, `(out_features)`, if the layer has one.
    pub fn bias(&self) -> Option<&Var<F>> {
        self.bias.as_ref()
    }

    /// `in_features`.
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// `out_features`.
    pub fn out_features(&self) -> usize {
        self.out_features
    }
}

/// The functional form `F.linear(x, weight, bias)`: `x Wᵀ + b` over the
/// last axis of `x` `(*, in)`, with `weight` `(out, in)` and `bias` `(out)`
/// ([`Var::linear`]: one matrix product with the bias as its start).
///
/// # Errors
/// [`NnError::BadInput`] when the last axis of `x` is not `in`;
/// [`NnError::Autograd`] for a bias of another shape.
pub fn linear<F: Float>(x: &Var<F>, weight: &Var<F>, bias: Option<&Var<F>>) -> Result<Var<F>> {
    let shape = x.shape();
    let ws = weight.shape();
    if ws.len() != 2 || shape.last() != Some(&ws[1]) {
        return Err(NnError::input(
            "Linear",
            format!(
                "(*, {}) matching the weight of shape {ws:?}",
                ws.get(1).copied().unwrap_or(0)
            ),
            &shape,
        ));
    }
    Ok(x.linear(weight, bias)?)
}

impl<F: Float> Module<F> for Linear<F> {
    fn type_name(&self) -> &'static str {
        "Linear"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let shape = x.shape();
        if shape.last() != Some(&self.in_features) {
            return Err(NnError::input(
                "Linear",
                format!("(*, {}) with at least one axis", self.in_features),
                &shape,
            ));
        }
        linear(x, &self.weight, self.bias.as_ref())
    }

    training_flag!();

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        weight_and_bias(Some(&self.weight), self.bias.as_ref())
    }
}
