//! # autograd
//!
//! handgrad's dynamic reverse-mode autodiff: [`Var`] (a [`Tensor`] plus its
//! node in the graph), the [`Backward`] trait through which every op — in
//! this crate or any other — plugs into the graph, the engine
//! ([`Var::backward`], [`grad`] with `create_graph` for higher orders), a
//! thread-local [`no_grad`] guard, the differentiable basic ops (arithmetic
//! with broadcasting, elementwise functions, reductions, shape ops,
//! padding in PyTorch's four modes ([`PadMode`]), matmul,
//! log-softmax) and the finite-difference audit [`gradcheck()`] /
//! [`gradgradcheck`].
//!
//! ## Training-style use
//!
//! ```
//! use autograd::Var;
//! use core_tensor::Tensor;
//!
//! // y = sum(relu(x W + b))
//! let x = Var::constant(Tensor::from_vec(&[1, 2], vec![1.0f64, -2.0])?);
//! let w = Var::leaf(Tensor::from_vec(&[2, 2], vec![0.5, -1.0, 0.25, 1.0])?);
//! let b = Var::leaf(Tensor::from_vec(&[2], vec![0.1, 0.2])?);
//! let y = x.matmul(&w)?.add(&b)?.relu().sum_all();
//! y.backward()?;
//! // x W + b = [0.1, -2.8]: only the first unit is active.
//! assert_eq!(b.grad().unwrap().as_slice(), &[1.0, 0.0]);
//! assert_eq!(w.grad().unwrap().as_slice(), &[1.0, 0.0, -2.0, 0.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Semantics (PyTorch's)
//!
//! - The graph is built as ops run ("define by run"): an op records a node
//!   when grad mode is on ([`no_grad`], [`enable_grad`]) and one of its
//!   inputs requires grad. [`Var::detach`] cuts a value off the graph.
//! - A backward pass visits the nodes reachable from the outputs in reverse
//!   topological order, calls each node's [`Backward`] exactly once, sums the
//!   gradients of values used several times, and asks a node only for the
//!   gradients of inputs that require grad and lead to a wanted leaf
//!   ([`BackwardCtx::needs_grad`]). It runs on an explicit stack, so graphs
//!   of any depth work (dropping them does too).
//! - [`Var::backward`] accumulates into the `.grad` of every leaf that
//!   requires grad, across passes, until [`Var::zero_grad`]; [`grad`] returns
//!   the gradients instead and leaves `.grad` alone.
//! - A pass frees the saved state of the graph unless `retain_graph` (or
//!   `create_graph`) is set; a second pass is then
//!   [`AutogradError::GraphFreed`]. Replacing a saved input with
//!   [`Var::set_value`] before the pass is [`AutogradError::ModifiedByUpdate`].
//!
//! ## Higher derivatives
//!
//! With `create_graph`, the backward pass records its own computation, so
//! the gradients are [`Var`]s that can be differentiated again. Every basic
//! op's backward is written with differentiable ops; an op in another crate
//! gets the same by doing likewise, or by wrapping a fused backward kernel
//! as an op with its own [`Backward`] (see `examples/src/bin/custom_op.rs`).
//!
//! ```
//! use autograd::{grad, Var};
//! use core_tensor::Tensor;
//! // d³/dx³ tanh(x) at 0 is -2.
//! let x = Var::leaf(Tensor::from_vec(&[1], vec![0.0f64])?);
//! let one = Var::constant(Tensor::ones(&[1]));
//! let mut d = x.tanh();
//! for _ in 0..3 {
//!     d = grad(&[d], &[x.clone()], &[one.clone()], true)?[0].clone().unwrap();
//! }
//! assert!((d.value().as_slice()[0] + 2.0).abs() < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Checking gradients
//!
//! [`gradcheck()`] compares the backward pass with central finite differences
//! in `f64` (PyTorch's defaults and `allclose` rule) and reports the worst
//! element; [`gradgradcheck`] does the same for second derivatives. Each op
//! crate registers samples (`gradcheck_cases`, this crate's in `samples`,
//! behind the `gradcheck-samples` feature) that `cargo xtask gradcheck` runs.
//!
//! ```
//! use autograd::{gradcheck, gradgradcheck, GradcheckOptions, Var};
//! use core_tensor::Tensor;
//! let x = Tensor::from_vec(&[2, 2], vec![0.5, 1.5, 0.7, 1.1])?;
//! let f = |v: &[Var<f64>]| Ok(vec![v[0].log().mul(&v[0].sqrt())?.mean(&[0], false)?]);
//! assert!(gradcheck(&f, &[x.clone()], &GradcheckOptions::default())?.passed);
//! assert!(gradgradcheck(&f, &[x], &GradcheckOptions::default())?.passed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![doc(test(attr(deny(warnings))))]

mod backward;
mod engine;
mod error;
mod grad_mode;
pub mod gradcheck;
mod linear_map;
mod ops;
#[cfg(feature = "gradcheck-samples")]
pub mod samples;
mod var;

pub use backward::{Backward, BackwardCtx};
pub use core_tensor::{Float, Tensor};
pub use engine::{BackwardOptions, grad};
pub use error::{AutogradError, Result};
pub use grad_mode::{GradModeGuard, enable_grad, is_grad_enabled, no_grad};
pub use gradcheck::{GradcheckCase, GradcheckOptions, GradcheckReport, gradcheck, gradgradcheck};
pub use linear_map::{LinearBackward, LinearMap, apply_linear, apply_linear_adjoint};
pub use ops::PadMode;
pub use var::Var;

/// The items most users need.
pub mod prelude {
    pub use crate::{AutogradError, Backward, BackwardCtx, Var, grad, no_grad};
    pub use core_tensor::{Float, Tensor};
}
