//! Activation layers: the parameter-free elementwise ones (`ReLU`,
//! `Sigmoid`, `Tanh`, `SELU`, `SiLU`, `Mish`, `Hardswish`, `Hardsigmoid`,
//! `LogSigmoid`) here, those with parameters in [`parametric`], and
//! `Softmax` / `LogSoftmax` in [`softmax`].

mod parametric;
mod softmax;
#[cfg(test)]
mod tests;

pub use parametric::{ELU, GELU, Hardtanh, LeakyReLU, Softplus};
pub use softmax::{LogSoftmax, Softmax};

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
activation!(
    /// `scale·elu(x, alpha)` with `alpha ≈ 1.6733`, `scale ≈ 1.0507`
    /// (`torch.nn.SELU`); see [`Var::selu`].
    SELU,
    "SELU",
    selu
);
activation!(
    /// `x·σ(x)` (`torch.nn.SiLU`); see [`Var::silu`].
    SiLU,
    "SiLU",
    silu
);
activation!(
    /// `x·tanh(softplus(x))` (`torch.nn.Mish`); see [`Var::mish`].
    Mish,
    "Mish",
    mish
);
activation!(
    /// `x·relu6(x + 3)/6` (`torch.nn.Hardswish`); see [`Var::hardswish`]
    /// for PyTorch's gradient at the kinks.
    Hardswish,
    "Hardswish",
    hardswish
);
activation!(
    /// `relu6(x + 3)/6` (`torch.nn.Hardsigmoid`); see [`Var::hardsigmoid`].
    Hardsigmoid,
    "Hardsigmoid",
    hardsigmoid
);
activation!(
    /// `log σ(x)`, computed stably (`torch.nn.LogSigmoid`); see
    /// [`Var::log_sigmoid`].
    LogSigmoid,
    "LogSigmoid",
    log_sigmoid
);
