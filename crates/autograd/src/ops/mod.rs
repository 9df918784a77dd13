//! Differentiable basic operations on [`Var`](crate::Var).
//!
//! Every backward here is written with these same operations, so any
//! composition of them can be differentiated to any order.

mod activation;
mod arith;
mod erf;
mod linear;
mod matmul;
mod pad_mode;
mod reduce;
mod shape;
mod softmax;
mod unary;
pub(crate) mod util;

pub use activation::GeluApproximate;
pub use erf::{erf_f32, erf_f64};
pub use pad_mode::PadMode;
