//! Activation functions as differentiable elementwise ops: GELU (exact and
//! tanh), LeakyReLU, ELU, SELU, SiLU, Mish, Softplus, LogSigmoid,
//! Hardtanh, Hardswish and Hardsigmoid, with PyTorch's formulas and its
//! gradients at the kinks.
//!
//! Each op is a [`Pointwise`] rule: the value, the vector-Jacobian product
//! of one element (the fast backward, used when the backward pass is not
//! recorded), and the derivative written with differentiable ops (used
//! with `create_graph`, so the gradient can be differentiated again).
//! Piecewise functions whose every derivative has a closed form
//! ([`Piecewise`]) take their `n`-th derivative as another op of the same
//! kind, so they are differentiable to any order without multiplying
//! masks into possibly infinite values.

mod exponential;
mod gelu;
mod hard;
mod smooth;

pub use gelu::GeluApproximate;

use core_tensor::{Float, Tensor};

use super::util::{map_elements, zip_elements};
use crate::{Backward, BackwardCtx, Result, Var};

/// One elementwise function and its derivative.
pub(super) trait Pointwise: Send + Sync + Clone + 'static {
    /// The op's name in the graph and in gradcheck reports.
    fn name(&self) -> &'static str;
    /// `f(x)`.
    fn value<F: Float>(&self, x: F) -> F;
    /// `g · f'(x)` for one element, as PyTorch's fused backward computes it.
    fn vjp<F: Float>(&self, g: F, x: F) -> F;
    /// `f'(x)` built from differentiable ops.
    fn slope<F: Float>(&self, x: &Var<F>) -> Result<Var<F>>;
}

/// A piecewise function with every derivative in closed form.
pub(super) trait Piecewise: Send + Sync + Clone + 'static {
    /// The names of the function and of its derivatives.
    const NAMES: [&'static str; 2];
    /// The `order`-th derivative at `x` (order 0: the function itself),
    /// with PyTorch's one-sided choice at the kinks.
    fn derivative<F: Float>(&self, order: u32, x: F) -> F;
    /// Whether PyTorch's backward selects 0 where the slope is 0 (so a NaN
    /// output gradient gives 0 there) rather than multiplying.
    const SELECTS_ZERO: bool;
}

/// The `order`-th derivative of a [`Piecewise`] function, as an op.
#[derive(Clone)]
pub(super) struct Nth<P> {
    pub(super) f: P,
    pub(super) order: u32,
}

impl<P: Piecewise> Pointwise for Nth<P> {
    fn name(&self) -> &'static str {
        P::NAMES[usize::from(self.order > 0)]
    }

    fn value<F: Float>(&self, x: F) -> F {
        self.f.derivative(self.order, x)
    }

    fn vjp<F: Float>(&self, g: F, x: F) -> F {
        let d = self.f.derivative(self.order + 1, x);
        if P::SELECTS_ZERO && d == F::zero() {
            F::zero()
        } else {
            g * d
        }
    }

    fn slope<F: Float>(&self, x: &Var<F>) -> Result<Var<F>> {
        Ok(apply(
            x,
            Nth {
                f: self.f.clone(),
                order: self.order + 1,
            },
        ))
    }
}

struct PointwiseBackward<P>(P);

impl<F: Float, P: Pointwise> Backward<F> for PointwiseBackward<P> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        let (g, x) = (ctx.grad_output, &ctx.inputs[0]);
        let gx = if ctx.create_graph {
            g.mul(&self.0.slope(x)?)?
        } else {
            let (gv, xv) = (g.value(), x.value());
            let p = &self.0;
            let out = zip_elements(gv.as_slice(), xv.as_slice(), |g, x| p.vjp(g, x));
            Var::constant(Tensor::from_vec(xv.shape(), out)?)
        };
        Ok(vec![Some(gx)])
    }
}

/// `p` applied to every element of `x`, recorded with its backward.
pub(super) fn apply<F: Float, P: Pointwise>(x: &Var<F>, p: P) -> Var<F> {
    let xv = x.value();
    let y = Tensor::from_vec(xv.shape(), map_elements(xv.as_slice(), |v| p.value(v)))
        .expect("same shape");
    Var::from_op(y, vec![x.clone()], PointwiseBackward(p))
}

/// A constant with `x`'s shape holding `f(x)` elementwise (masks and
/// piecewise-constant factors of the derivatives).
pub(super) fn constant_of<F: Float>(x: &Var<F>, f: impl Fn(F) -> F + Sync + Send) -> Var<F> {
    let xv = x.value();
    Var::constant(Tensor::from_vec(xv.shape(), map_elements(xv.as_slice(), f)).expect("same shape"))
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
