//! # nn
//!
//! Neural-network building blocks on top of handgrad's autograd: the
//! [`Module`] trait (training flag, parameters and buffers with PyTorch's
//! dotted names, state dicts), [`Sequential`], layers ([`Linear`],
//! [`Conv1d`], [`Conv2d`], [`Conv3d`], activations, [`Dropout`], [`Flatten`],
//! padding ([`Pad2d`], ...), pooling and normalization modules), losses ([`cross_entropy`], [`nll_loss`],
//! [`mse_loss`]), optimizers ([`Sgd`], [`Adam`], [`AdamW`]) with
//! learning-rate schedules, and `.safetensors` I/O compatible with
//! `safetensors.torch.save_file(model.state_dict())`.
//!
//! ```
//! use autograd::Var;
//! use core_tensor::{Rng, Tensor};
//! use nn::prelude::*;
//!
//! let mut rng = Rng::new(0);
//! let mut net = Sequential::<f64>::new()
//!     .push(Linear::new(2, 8, true, &mut rng)?)
//!     .push(Tanh::new())
//!     .push(Linear::new(8, 2, true, &mut rng)?);
//! let mut opt = Sgd::new(net.parameters(), SgdOptions::new(0.5).momentum(0.9))?;
//! let x = Var::constant(Tensor::from_vec(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?);
//! let targets = [0, 1, 1, 0];
//! let first = cross_entropy(&net.forward(&x)?, &targets, Reduction::Mean, 0.0)?;
//! for _ in 0..50 {
//!     opt.zero_grad();
//!     let loss = cross_entropy(&net.forward(&x)?, &targets, Reduction::Mean, 0.0)?;
//!     loss.backward()?;
//!     opt.step()?;
//! }
//! let last = cross_entropy(&net.forward(&x)?, &targets, Reduction::Mean, 0.0)?;
//! assert!(last.value().as_slice()[0] < first.value().as_slice()[0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Where this differs from PyTorch
//!
//! - [`Module::load_state_dict`] checks everything before copying, so a
//!   failed load leaves the module untouched (PyTorch copies the matching
//!   keys, then raises).
//! - [`cross_entropy`] / [`nll_loss`] take class indices (`usize`), so
//!   `ignore_index` is an `Option<usize>` ([`CrossEntropyOptions`]) rather
//!   than PyTorch's `-100`; [`mse_loss`] requires equal shapes instead of
//!   broadcasting with a warning.
//! - `padding='same'` is [`ConvOptions::padding_same`] / [`conv_nd_same`],
//!   `'valid'` is the default padding 0, and `padding_mode` is the enum
//!   [`PaddingMode`] ([`ConvOptions::padding_mode`]).
//! - `LPPool*d` pools `|x|^p` (the `ops-pool` definition), equal to PyTorch
//!   for non-negative inputs and full windows; `AvgPool1d` also accepts
//!   `divisor_override`.
//! - `MaxUnpool*d` takes indices, so it is a layer with its own `forward`
//!   rather than a single-input [`Module`].
//! - [`Dropout`] draws its masks, and [`FractionalMaxPool2d`] /
//!   [`FractionalMaxPool3d`] their samples, from their own seeded
//!   generators rather than a global one.
//! - [`StepLR`] and [`CosineAnnealingLR`] use the closed forms, equal to
//!   PyTorch's recursive updates up to rounding.
#![doc(test(attr(deny(warnings))))]

mod error;
pub mod init;
mod layers;
mod loss;
mod module;
pub mod optim;
#[cfg(feature = "gradcheck-samples")]
mod samples;
mod sequential;
mod serialize;
mod state_dict;

pub use error::{NnError, Result, ShapeConflict};
pub use layers::*;
pub use loss::{
    CrossEntropyOptions, NllOptions, Reduction, cross_entropy, cross_entropy_with, mse_loss,
    nll_loss, nll_loss_with,
};
pub use module::Module;
pub use optim::{Adam, AdamOptions, AdamW, CosineAnnealingLR, Optimizer, Sgd, SgdOptions, StepLR};
#[cfg(feature = "gradcheck-samples")]
pub use samples::gradcheck_cases;
pub use sequential::Sequential;
pub use serialize::{
    from_safetensors_bytes, load_safetensors, safetensors_metadata, save_safetensors,
    to_safetensors_bytes,
};
pub use state_dict::{LoadReport, StateDict, StateTensor};

/// The items most users need.
pub mod prelude {
    pub use crate::{
        Adam, AdamOptions, AdamW, Conv1d, Conv2d, ConvOptions, CosineAnnealingLR,
        CrossEntropyOptions, Dropout, Flatten, Linear, Module, NnError, Optimizer, ReLU, Reduction,
        Sequential, Sgd, SgdOptions, Sigmoid, StateDict, StepLR, Tanh, cross_entropy,
        cross_entropy_with, mse_loss, nll_loss,
    };
}
