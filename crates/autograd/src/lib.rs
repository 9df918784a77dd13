//! # autograd
//!
//! handgrad's dynamic reverse-mode autodiff: [`Var`] (a [`Tensor`] plus its
//! node in the graph), the [`Backward`] trait through which every op — in
//! this crate or any other — plugs into the graph, the engine
//! ([`Var::backward`], [`grad`] with `create_graph` for higher orders), a
//! thread-local [`no_grad`] guard, the differentiable basic ops (arithmetic
//! with broadcasting, elementwise functions, reductions, shape ops, matmul,
//! log-softmax) and the finite-difference audit [`gradcheck`] /
//! [`gradgradcheck`].
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
#![doc(test(attr(deny(warnings))))]

mod backward;
mod engine;
mod error;
mod grad_mode;
pub mod gradcheck;
mod ops;
pub mod samples;
mod var;

pub use backward::{Backward, BackwardCtx};
pub use core_tensor::{Float, Tensor};
pub use engine::{BackwardOptions, grad};
pub use error::{AutogradError, Result};
pub use grad_mode::{GradModeGuard, enable_grad, is_grad_enabled, no_grad};
pub use gradcheck::{GradcheckCase, GradcheckOptions, GradcheckReport, gradcheck, gradgradcheck};
pub use var::Var;

/// The items most users need.
pub mod prelude {
    pub use crate::{AutogradError, Backward, BackwardCtx, Var, grad, no_grad};
    pub use core_tensor::{Float, Tensor};
}
