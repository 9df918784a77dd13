//! The piecewise-quadratic elementwise kernels of `smooth_l1_loss` and
//! `huber_loss`, as ops whose every derivative is another op of the same
//! kind (the third derivative is 0), so they are differentiable to any
//! order and never multiply a mask into an infinite difference.

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::Float;

/// Which loss, with its positive width.
#[derive(Clone, Copy, Debug)]
pub(super) enum Robust {
    /// `0.5·d²/β` for `|d| < β`, `|d| − 0.5·β` beyond.
    SmoothL1 { beta: f64 },
    /// `0.5·d²` for `|d| < δ`, `δ·(|d| − 0.5·δ)` beyond.
    Huber { delta: f64 },
}

impl Robust {
    /// The `order`-th derivative at `d` (order 0: the loss), as PyTorch's
    /// kernels compute them: the first derivative is continuous, the
    /// second is the indicator of `|d| < width` (strict) over `β` (or 1).
    fn derivative<F: Float>(self, order: u32, d: F) -> F {
        let z = d.abs();
        let half = F::cast(0.5);
        match self {
            Robust::SmoothL1 { beta } => {
                let b = F::cast(beta);
                match order {
                    0 if z < b => half * z * z / b,
                    0 => z - half * b,
                    1 if d < -b => -F::one(),
                    1 if d > b => F::one(),
                    1 => d / b,
                    2 if z < b => F::one() / b,
                    _ => F::zero(),
                }
            }
            Robust::Huber { delta } => {
                let w = F::cast(delta);
                match order {
                    0 if z < w => half * z * z,
                    0 => w * (z - half * w),
                    1 if d < -w => -w,
                    1 if d > w => w,
                    1 => d,
                    2 if z < w => F::one(),
                    _ => F::zero(),
                }
            }
        }
    }

    fn names(self) -> [&'static str; 2] {
        match self {
            Robust::SmoothL1 { .. } => ["smooth_l1_loss", "smooth_l1_loss_backward"],
            Robust::Huber { .. } => ["huber_loss", "huber_loss_backward"],
        }
    }

    /// The `order`-th derivative of every element of `d`, recorded.
    pub(super) fn apply<F: Float>(self, d: &Var<F>, order: u32) -> Var<F> {
        let out = d.value().map(|&x| self.derivative(order, x));
        Var::from_op(out, vec![d.clone()], RobustBackward { kind: self, order })
    }
}

struct RobustBackward {
    kind: Robust,
    order: u32,
}

impl<F: Float> Backward<F> for RobustBackward {
    fn name(&self) -> &'static str {
        self.kind.names()[usize::from(self.order > 0)]
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        let slope = self.kind.apply(&ctx.inputs[0], self.order + 1);
        Ok(vec![Some(ctx.grad_output.mul(&slope)?)])
    }
}
