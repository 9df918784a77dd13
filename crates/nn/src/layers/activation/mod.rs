//! Elementwise activations: `ReLU`, `Sigmoid`, `Tanh`.

use autograd::Var;
use core_tensor::Float;

use super::module_parts::training_flag;
use crate::Result;
use crate::module::Module;

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, $label:literal, $method:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            training: bool,
        }

        impl $name {
            /// The layer (it has no parameters).
            pub fn new() -> Self {
                Self { training: true }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<F: Float> Module<F> for $name {
            fn type_name(&self) -> &'static str {
                $label
            }

            fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
                Ok(x.$method())
            }

            training_flag!();
        }
    };
}

activation!(
    /// `max(x, 0)` elementwise (`torch.nn.ReLU`); the gradient at 0 is 0.
    ReLU,
    "ReLU",
    relu
);
activation!(
    /// `1 / (1 + exp(-x))` elementwise (`torch.nn.Sigmoid`).
    Sigmoid,
    "Sigmoid",
    sigmoid
);
activation!(
    /// `tanh(x)` elementwise (`torch.nn.Tanh`).
    Tanh,
    "Tanh",
    tanh
);
