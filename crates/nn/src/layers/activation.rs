//! Elementwise activations: `ReLU`, `Sigmoid`, `Tanh`.

use autograd::Var;
use core_tensor::Float;

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

            fn is_training(&self) -> bool {
                self.training
            }

            fn set_training_flag(&mut self, training: bool) {
                self.training = training;
            }
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
