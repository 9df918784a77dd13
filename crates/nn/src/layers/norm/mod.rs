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

pub use batch::{BatchNorm, BatchNorm1d, BatchNorm2d, BatchNorm3d, BatchNormParts};
pub use channel_state::{BatchNormArgs, ChannelNormState};
pub use group::GroupNorm;
pub use instance::{InstanceNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d};
pub use layer::LayerNorm;
pub use lrn::LocalResponseNorm;
pub use options::NormOptions;
pub use rms::RMSNorm;

/// `normalized_shape` as the layer keeps it, checked as PyTorch's
/// `LayerNorm` and `RMSNorm` constructors do: at least one axis.
fn trailing_axes(module: &'static str, normalized_shape: &[usize]) -> crate::Result<Vec<usize>> {
    if normalized_shape.is_empty() {
        return Err(crate::NnError::config(
            module,
            "normalized_shape",
            "expected normalized_shape to be at least 1-dimensional",
        ));
    }
    Ok(normalized_shape.to_vec())
}
