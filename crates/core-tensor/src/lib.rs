//! # core-tensor
//!
//! The lowest layer of handgrad: the [`Float`] element trait (`f32`, `f64`),
//! [`Tensor`], an immutable, cheaply cloned, always-contiguous array on
//! `ndarray`, sliding-window geometry with PyTorch's output-size rules and a
//! zero-copy strided view of every window ([`window::window_view`]), the
//! [`Par`] choice of parallelism that kernels take explicitly, a portable
//! seeded [`Rng`], and float comparison helpers for tests (`testing`, with
//! the `testing` feature).
//! The kernels of the op crates share its low-level pieces: outputs built
//! chunk by chunk by the tasks that compute them ([`chunks`]), the one
//! SIMD dispatch point ([`simd`]: CPU detection once, a switch that forces
//! the portable path, kernels written once over a lane type that is an
//! AVX2 register or a bitwise-equal portable array), and sums over vector
//! lanes in a fixed order ([`lanes`]).
//! Every error is a typed [`TensorError`]; arithmetic on user-given sizes
//! is checked.
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
//!
//! A max pool written with the pieces: pad with `-inf`, view every window
//! without copying, reduce each one, and compare with a tolerance.
//!
//! ```
//! use core_tensor::{Tensor, testing::assert_close, window::{pad_constant, window_view}};
//! use ndarray::Axis;
//!
//! // 1-d max pool, kernel 3, stride 2, padding 1, on [1, 5, 2, 4, 3].
//! let x = Tensor::from_vec(&[1, 5], vec![1.0f64, 5.0, 2.0, 4.0, 3.0])?;
//! let padded = pad_constant(x.view(), &[[1, 1]], f64::NEG_INFINITY)?;
//! let windows = window_view(padded.view(), &[3], &[2], &[1])?; // [1, 3, 3]
//! let y = windows.fold_axis(Axis(2), f64::NEG_INFINITY, |&m, &v| m.max(v));
//! assert_close(y.as_slice().unwrap(), &[5.0, 5.0, 4.0], 0.0, 0.0);
//! # Ok::<(), core_tensor::TensorError>(())
//! ```
#![doc(test(attr(deny(warnings))))]

pub mod alloc;
pub mod chunks;
mod error;
mod float;
pub mod gemm;
pub mod lanes;
pub mod par;
pub mod rng;
pub mod shape;
pub mod simd;
mod tensor;
#[cfg(feature = "testing")]
pub mod testing;
pub mod threads;
#[cfg_attr(feature = "loom", allow(dead_code))]
mod warm;
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
