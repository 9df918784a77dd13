//! # ops-norm
//!
//! Batch, instance, layer, group, RMS and local response normalization,
//! and `Lp` normalization of vectors, for handgrad, with PyTorch's
//! semantics, hand-derived fused forward and backward kernels, and second
//! derivatives.
//!
//! Two layers:
//!
//! - [`kernels`]: pure functions over contiguous row-major slices with an
//!   explicit [`Par`](core_tensor::Par) — per-channel statistics and the fused
//!   batch-norm backward ([`kernels::channel`]), per-row statistics and the
//!   fused backward of layer / group / instance / RMS norm ([`kernels::row`]),
//!   the channel windows of local response norm ([`kernels::lrn`]) and the
//!   vector norms of [`normalize`] ([`kernels::lp`]).
//!   Statistics are two-pass (never `E[x²] − E[x]²`): per block (plane or
//!   row) over 32 (`f32`) or 16 (`f64`) lanes in the element type (explicit
//!   AVX2 where the CPU has it), shifted by the block's first
//!   value, then merged across blocks in `f64` (Chan's formula).
//! - functional ops on [`autograd::Var`]: [`batch_norm`], [`instance_norm`],
//!   [`layer_norm`], [`group_norm`], [`rms_norm`], [`local_response_norm`],
//!   [`normalize`].
//!   Their first-order backward is the fused kernel; when the backward pass
//!   is recorded (`create_graph`), second derivatives come from the same
//!   norm written with `autograd` basic ops.
//!
//! Running statistics live in a [`RunningStats`] that training calls update
//! in place through `&mut`. Every bad call returns a typed [`NormError`]
//! (never a panic), which converts into [`autograd::AutogradError`] so norms
//! compose with `?` in code using the autograd error type.
//!
//! ```
//! use autograd::Var;
//! use core_tensor::Tensor;
//! use ops_norm::{batch_norm, layer_norm, BatchNormConfig, RunningStats};
//!
//! // A batch of 2 samples, 3 channels, 2x2 images.
//! let x = Var::leaf(Tensor::from_vec(&[2, 3, 2, 2], (0..24).map(|v| (v as f64).sin()).collect())?);
//! let gamma = Var::leaf(Tensor::ones(&[3]));
//! let beta = Var::leaf(Tensor::zeros(&[3]));
//! let mut stats = RunningStats::new(3);
//!
//! // Training step: batch statistics, running statistics updated.
//! let y = batch_norm(&x, Some(&gamma), Some(&beta), Some(&mut stats), &BatchNormConfig::train())?;
//! let loss = layer_norm(&y, &[2, 2], None, None, 1e-5)?.mul(&y)?.sum_all();
//! loss.backward()?;
//! assert_eq!(stats.num_batches_tracked, 1);
//! // In training, the input gradient of each channel sums to ~0.
//! let gx = x.grad().unwrap();
//! for c in 0..3 {
//!     let s: f64 = (0..2).flat_map(|n| (0..4).map(move |k| (n * 3 + c) * 4 + k)).map(|i| gx.as_slice()[i]).sum();
//!     assert!(s.abs() < 1e-12);
//! }
//!
//! // Eval: the running statistics normalize.
//! let y_eval = batch_norm(&x, Some(&gamma), Some(&beta), Some(&mut stats), &BatchNormConfig::eval())?;
//! assert_eq!(y_eval.shape(), vec![2, 3, 2, 2]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![doc(test(attr(deny(warnings))))]

mod batch_norm;
mod channel_op;
mod error;
mod group_norm;
mod instance_norm;
pub mod kernels;
mod layer_norm;
mod local_response_norm;
mod normalize;
mod rms_norm;
mod row_op;
mod running;
#[cfg(feature = "gradcheck-samples")]
mod samples;
mod second_order;

pub use batch_norm::{BatchNormConfig, batch_norm};
pub use error::NormError;
pub use group_norm::group_norm;
pub use instance_norm::{InstanceNormConfig, instance_norm};
pub use layer_norm::layer_norm;
pub use local_response_norm::local_response_norm;
pub use normalize::normalize;
pub use rms_norm::rms_norm;
pub use running::RunningStats;
#[cfg(feature = "gradcheck-samples")]
pub use samples::gradcheck_cases;

/// The items most users need.
pub mod prelude {
    pub use crate::{
        BatchNormConfig, InstanceNormConfig, NormError, RunningStats, batch_norm, group_norm,
        instance_norm, layer_norm, local_response_norm, normalize, rms_norm,
    };
}
