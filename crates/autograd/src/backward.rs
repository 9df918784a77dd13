//! The `Backward` trait: how an op tells the engine its vector-Jacobian product.

use core_tensor::Float;

use crate::{Result, Var};

/// What the engine hands to [`Backward::backward`].
#[non_exhaustive]
pub struct BackwardCtx<'a, F: Float> {
    /// The gradient of the loss with respect to this op's output, with the
    /// output's shape.
    pub grad_output: &'a Var<F>,
    /// The op's output (for ops whose derivative is expressed through it,
    /// such as `exp` or `tanh`).
    pub output: &'a Var<F>,
    /// The op's inputs, in the order given to [`Var::from_op`].
    pub inputs: &'a [Var<F>],
    /// `needs_grad[i]`: whether the engine wants the gradient of input `i`.
    /// Return `None` where it is false; do not compute it.
    pub needs_grad: &'a [bool],
    /// Whether the backward pass itself is being recorded (for higher-order
    /// gradients). When true, build the result from differentiable ops (or
    /// from a custom op with its own `Backward`); when false, grad mode is
    /// off and any construction is fine.
    pub create_graph: bool,
}

/// The backward rule of one op.
///
/// An op is a value computed from input [`Var`]s plus a `Backward`
/// implementation holding whatever typed state it saved in the forward pass.
/// Ops in any crate plug into the graph by implementing this trait and
/// calling [`Var::from_op`]; nothing central needs editing.
///
/// The gradients returned must be written with differentiable operations on
/// [`Var`] (the basic ops of this crate, or other ops with their own
/// `Backward`), so that a backward pass with `create_graph` records a graph
/// of the gradients and higher derivatives follow. A fused backward kernel
/// gets second derivatives by wrapping its result in an op of its own with
/// [`Var::from_op`].
///
/// ```
/// use autograd::{Backward, BackwardCtx, Result, Var};
/// use core_tensor::Tensor;
///
/// /// y = 2x, with a hand-written backward.
/// struct Double;
/// impl Backward<f64> for Double {
///     fn name(&self) -> &'static str { "double" }
///     fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
///         Ok(vec![ctx.needs_grad[0].then(|| ctx.grad_output.mul_scalar(2.0))])
///     }
/// }
///
/// let x = Var::leaf(Tensor::from_vec(&[2], vec![1.0, 5.0])?);
/// let value = x.value().map(|v| 2.0 * v);
/// let y = Var::from_op(value, vec![x.clone()], Double);
/// y.sum_all().backward()?;
/// assert_eq!(x.grad().unwrap().as_slice(), &[2.0, 2.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Backward<F: Float>: Send + Sync + 'static {
    /// The op's name, used in error messages and reports.
    fn name(&self) -> &'static str;

    /// The gradient for each input (`None` where `needs_grad` is false or
    /// the input is not differentiable), given the output's gradient.
    ///
    /// # Errors
    /// Whatever the op's kernels report; the engine adds shape and arity
    /// checks of its own.
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>>;
}
