//! # ops-conv
//!
//! Convolution for handgrad: 1-d, 2-d and 3-d cross-correlation with
//! stride, zero padding (different before and after), dilation and groups,
//! with PyTorch's semantics (`F.conv1d/2d/3d`), hand-derived backward
//! passes and derivatives of every order.
//!
//! Two layers, as in the other op crates:
//!
//! - [`kernels`]: pure functions over contiguous row-major slices and a
//!   checked [`ConvGeom`], with an explicit [`Par`](core_tensor::Par):
//!   forward, input gradient, weight gradient and bias gradient. They
//!   compute matrix products ([`core_tensor::gemm`]) over the unfolded
//!   input, one cache-sized tile of output positions at a time; transposed
//!   operands are strided views, never copies. Results are bitwise equal on
//!   any number of threads.
//! - [`conv`]: the op on [`autograd::Var`]s. Its first-order backward runs
//!   the kernels; a recorded backward (`create_graph`) is built from
//!   differentiable `im2col` / `col2im` ops and `matmul`, so second and
//!   higher derivatives follow.
//!
//! Padding modes other than zeros (reflect, replicate, circular) pad the
//! input first (`autograd::Var::pad_with`), as PyTorch's modules do; `nn`'s
//! convolution layers do that.
//!
//! ```
//! use autograd::Var;
//! use core_tensor::Tensor;
//! use ops_conv::{ConvParams, conv};
//!
//! // Conv1d(2, 4, kernel_size=3, stride=2, padding=1, groups=2) on a batch of 1.
//! let x = Var::leaf(Tensor::from_vec(&[1, 2, 7], (0..14).map(|v| v as f32 * 0.1).collect())?);
//! let w = Var::leaf(Tensor::full(&[4, 1, 3], 0.5f32));
//! let b = Var::leaf(Tensor::zeros(&[4]));
//! let params = ConvParams::new(1).stride(2).padding(1).groups(2);
//! let y = conv(&x, &w, Some(&b), &params)?;
//! assert_eq!(y.shape(), vec![1, 4, 4]);
//! y.sum_all().backward()?;
//! assert_eq!(b.grad().unwrap().as_slice(), &[4.0; 4]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![doc(test(attr(deny(warnings))))]

mod conv;
mod error;
mod geometry;
pub mod kernels;
mod unfold;

pub use conv::conv;
pub use error::ConvError;
pub use geometry::{ConvGeom, ConvParams, op_name};
pub use unfold::{col2im_kernel, im2col_kernel};
