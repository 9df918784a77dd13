//! # core-tensor
//!
//! The lowest layer of handgrad: the [`Float`] element trait (`f32`, `f64`),
//! [`Tensor`], an immutable, cheaply cloned, always-contiguous array on
//! `ndarray`, sliding-window geometry with PyTorch's output-size rules and a
//! zero-copy strided view of every window ([`window::window_view`]), the
//! [`Par`] choice of parallelism that kernels take explicitly, and a
//! portable seeded [`Rng`].
//!
//! ```
//! use core_tensor::{Tensor, window::{WindowAxis, output_shape}};
//!
//! let x = Tensor::from_vec(&[1, 1, 4, 4], (0..16).map(|v| v as f32).collect())?;
//! // A 2x2 window with stride 2 on each of the two spatial axes.
//! let axes = [WindowAxis::new(2), WindowAxis::new(2)];
//! assert_eq!(output_shape("demo", &x.shape()[2..], &axes, false)?, vec![2, 2]);
//! # Ok::<(), core_tensor::TensorError>(())
//! ```
#![doc(test(attr(deny(warnings))))]

mod error;
mod float;
pub mod par;
pub mod rng;
pub mod shape;
mod tensor;
pub mod testing;
pub mod window;

pub use error::TensorError;
pub use float::{DType, Float};
pub use par::Par;
pub use rng::Rng;
pub use tensor::Tensor;

/// The items most users need.
pub mod prelude {
    pub use crate::{DType, Float, Par, Rng, Tensor, TensorError};
}
