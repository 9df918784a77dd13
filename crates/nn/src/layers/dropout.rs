//! `Dropout`: random zeroing in training, identity in evaluation.

use autograd::Var;
use core_tensor::{Float, Rng, Tensor};

use super::module_parts::training_flag;
use crate::module::Module;
use crate::{NnError, Result};

/// `torch.nn.Dropout(p)`: in training mode every element is zeroed with
/// probability `p` and the survivors are scaled by `1 / (1 - p)`; in
/// evaluation mode the input passes through unchanged. The mask comes from
/// the layer's own seeded [`Rng`], so runs are reproducible.
#[derive(Clone, Debug)]
pub struct Dropout {
    p: f64,
    rng: Rng,
    training: bool,
}

impl Dropout {
    /// A dropout layer with drop probability `p`, its masks drawn from a
    /// generator seeded with `seed`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] unless `0 <= p <= 1`.
    pub fn new(p: f64, seed: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(NnError::config(
                "Dropout",
                "p",
                format!("dropout probability has to be between 0 and 1, but got {p}"),
            ));
        }
        Ok(Self {
            p,
            rng: Rng::new(seed),
            training: true,
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl<F: Float> Module<F> for Dropout {
    fn type_name(&self) -> &'static str {
        "Dropout"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        if !self.training || self.p == 0.0 {
            return Ok(x.clone());
        }
        let shape = x.shape();
        let n = x.len();
        let scale = if self.p < 1.0 {
            F::cast(1.0 / (1.0 - self.p))
        } else {
            F::zero()
        };
        let mask: Vec<F> = (0..n)
            .map(|_| {
                if self.rng.uniform() < self.p {
                    F::zero()
                } else {
                    scale
                }
            })
            .collect();
        let mask = Var::constant(Tensor::from_vec(&shape, mask)?);
        Ok(x.mul(&mask)?)
    }

    training_flag!();
}
