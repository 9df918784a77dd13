//! The layers: linear, convolution, activations, dropout, flatten,
//! pooling and normalization modules.

mod activation;
mod conv;
mod dropout;
mod flatten;
pub(crate) mod im2col;
mod linear;

pub use activation::{ReLU, Sigmoid, Tanh};
pub use conv::{Conv1d, Conv2d, ConvNd, ConvOptions, conv_nd};
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use linear::Linear;
