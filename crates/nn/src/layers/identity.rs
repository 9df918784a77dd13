//! `Identity`: returns its input.

use autograd::Var;
use core_tensor::Float;

use super::module_parts::training_flag;
use crate::Result;
use crate::module::Module;

/// Returns its input unchanged (`torch.nn.Identity`); it holds what a
/// fused batch norm leaves behind in a [`crate::Sequential`], so the other
/// children keep their names.
#[derive(Clone, Debug)]
pub struct Identity {
    training: bool,
}

impl Default for Identity {
    fn default() -> Self {
        Self::new()
    }
}

impl Identity {
    /// An identity layer.
    pub fn new() -> Self {
        Self { training: true }
    }
}

impl<F: Float> Module<F> for Identity {
    fn type_name(&self) -> &'static str {
        "Identity"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(x.clone())
    }

    training_flag!();
}
