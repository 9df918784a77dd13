//! The layers: linear, convolution, activations, dropout, flatten, padding,
//! pooling (fractional max pooling included) and normalization modules.

mod activation;
mod conv;
mod dropout;
mod flatten;
mod fractional_pool;
mod identity;
mod linear;
mod module_parts;
mod norm;
mod padding;
mod pool;

pub use activation::{
    ELU, GELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, ReLU,
    SELU, SiLU, Sigmoid, Softmax, Softplus, Tanh,
};
pub use conv::{
    Conv1d, Conv2d, Conv3d, ConvNd, ConvOptions, PaddingMode, conv_nd, conv_nd_same, same_padding,
};
pub use dropout::Dropout;
pub use flatten::{Flatten, Unflatten};
pub use fractional_pool::{FractionalMaxPool, FractionalMaxPool2d, FractionalMaxPool3d};
pub use identity::Identity;
pub use linear::{Linear, linear};
pub use norm::{
    BatchNorm, BatchNorm1d, BatchNorm2d, BatchNorm3d, BatchNormArgs, BatchNormParts,
    ChannelNormState, GroupNorm, InstanceNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d,
    LayerNorm, LocalResponseNorm, NormOptions, RMSNorm,
};
pub use padding::{Pad, Pad1d, Pad2d, Pad3d};
pub use pool::{
    AdaptiveAvgPool, AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool,
    AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d, AvgPool, AvgPool1d, AvgPool2d,
    AvgPool3d, LPPool1d, LPPool2d, LPPool3d, LpPool, MaxPool, MaxPool1d, MaxPool2d, MaxPool3d,
    MaxUnpool, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d,
};
