//! Normalization modules over the ops of `ops-norm`: `BatchNorm1d/2d/3d`,
//! `InstanceNorm1d/2d/3d`, `LayerNorm`, `GroupNorm`, `RMSNorm`,
//! `LocalResponseNorm`, with PyTorch's defaults, buffers and training-flag
//! semantics.

mod batch;
mod channel_state;
mod group;
mod instance;
mod layer;
mod lrn;
mod options;
mod rms;

pub use batch::{BatchNorm, BatchNorm1d, BatchNorm2d, BatchNorm3d};
pub use group::GroupNorm;
pub use instance::{InstanceNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d};
pub use layer::LayerNorm;
pub use lrn::LocalResponseNorm;
pub use options::NormOptions;
pub use rms::RMSNorm;
