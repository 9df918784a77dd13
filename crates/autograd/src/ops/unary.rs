//! Elementwise functions: exp, log, pow, sqrt, abs, relu, sigmoid, tanh.

use core_tensor::{Float, Tensor};

use super::util::{map_elements, zip_elements};
use crate::{Backward, BackwardCtx, Result, Var};

/// The derivative rule of a unary op, in terms of differentiable ops on the
/// input `x` and the output `y`.
#[derive(Clone, Copy)]
enum Unary {
    Exp,
    Log,
    Pow(f64),
    Sqrt,
    Abs,
    Relu,
    Sigmoid,
    Tanh,
}

struct UnaryBackward(Unary);

impl<F: Float> Backward<F> for UnaryBackward {
    fn name(&self) -> &'static str {
        match self.0 {
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Pow(_) => "pow",
            Unary::Sqrt => "sqrt",
            Unary::Abs => "abs",
            Unary::Relu => "relu",
            Unary::Sigmoid => "sigmoid",
            Unary::Tanh => "tanh",
        }
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let (g, x, y) = (ctx.grad_output, &ctx.inputs[0], ctx.output);
        let gx = match self.0 {
            Unary::Exp => g.mul(y)?,
            Unary::Log => g.div(x)?,
            Unary::Pow(p) => {
                if p == 0.0 {
                    g.mul_scalar(0.0)
                } else {
                    g.mul(&x.pow(p - 1.0))?.mul_scalar(p)
                }
            }
            Unary::Sqrt => g.div(y)?.mul_scalar(0.5),
            Unary::Abs => {
                // sign(x), with sign(0) = 0 as in PyTorch; constant w.r.t. x.
                let sign = Var::constant(x.value().map(|&v| {
                    if v > F::zero() {
                        F::one()
                    } else if v < F::zero() {
                        -F::one()
                    } else {
                        F::zero()
                    }
                }));
                g.mul(&sign)?
            }
            Unary::Relu if !ctx.create_graph => {
                // PyTorch's threshold_backward: the gradient where x > 0 (or
                // NaN), zero where x <= 0, selected rather than multiplied.
                let (gv, xv) = (g.value(), x.value());
                let gx = zip_elements(gv.as_slice(), xv.as_slice(), |g, x| {
                    if x <= F::zero() { F::zero() } else { g }
                });
                Var::constant(Tensor::from_vec(xv.shape(), gx)?)
            }
            Unary::Relu => {
                let mask = Var::constant(
                    x.value()
                        .map(|&v| if v <= F::zero() { F::zero() } else { F::one() }),
                );
                g.mul(&mask)?
            }
            Unary::Sigmoid => {
                // y (1 - y)
                let one_minus = y.neg().add_scalar(1.0);
                g.mul(&y.mul(&one_minus)?)?
            }
            Unary::Tanh => {
                let d = y.mul(y)?.neg().add_scalar(1.0);
                g.mul(&d)?
            }
        };
        Ok(vec![Some(gx)])
    }
}

impl<F: Float> Var<F> {
    fn unary(&self, kind: Unary, f: impl Fn(F) -> F + Sync + Send) -> Var<F> {
        let x = self.value();
        let y = Tensor::from_vec(x.shape(), map_elements(x.as_slice(), f)).expect("same shape");
        Var::from_op(y, vec![self.clone()], UnaryBackward(kind))
    }

    /// `e^x` elementwise.
    pub fn exp(&self) -> Var<F> {
        self.unary(Unary::Exp, F::exp)
    }

    /// Natural logarithm elementwise (`-inf` at 0, NaN below).
    pub fn log(&self) -> Var<F> {
        self.unary(Unary::Log, F::ln)
    }

    /// `x^p` for a scalar exponent `p` (`torch.pow(x, p)`).
    pub fn pow(&self, p: f64) -> Var<F> {
        let pf = F::cast(p);
        self.unary(Unary::Pow(p), move |v| v.powf(pf))
    }

    /// Square root elementwise.
    pub fn sqrt(&self) -> Var<F> {
        self.unary(Unary::Sqrt, F::sqrt)
    }

    /// Absolute value; its gradient at 0 is 0, as in PyTorch.
    pub fn abs(&self) -> Var<F> {
        self.unary(Unary::Abs, F::abs)
    }

    /// `max(x, 0)`; its gradient at 0 is 0, as in PyTorch. NaN stays NaN.
    pub fn relu(&self) -> Var<F> {
        self.unary(Unary::Relu, |v| {
            if v > F::zero() || v.is_nan() {
                v
            } else {
                F::zero()
            }
        })
    }

    /// `1 / (1 + e^-x)`, computed without overflow for large `|x|`.
    pub fn sigmoid(&self) -> Var<F> {
        self.unary(Unary::Sigmoid, |v| {
            if v >= F::zero() {
                F::one() / (F::one() + (-v).exp())
            } else {
                let e = v.exp();
                e / (F::one() + e)
            }
        })
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Var<F> {
        self.unary(Unary::Tanh, F::tanh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::Tensor;
    use core_tensor::testing::assert_close;

    fn leaf(v: &[f64]) -> Var<f64> {
        Var::leaf(Tensor::from_vec(&[v.len()], v.to_vec()).unwrap())
    }

    fn grad_of(x: &Var<f64>, y: Var<f64>) -> Vec<f64> {
        y.sum_all().backward().unwrap();
        x.grad().unwrap().to_vec()
    }

    #[test]
    fn values_and_derivatives() {
        let x = leaf(&[0.5, 2.0]);
        assert_close(
            &grad_of(&x, x.exp()),
            &[0.5f64.exp(), 2.0f64.exp()],
            1e-15,
            0.0,
        );
        let x = leaf(&[0.5, 2.0]);
        assert_close(&grad_of(&x, x.log()), &[2.0, 0.5], 1e-15, 0.0);
        let x = leaf(&[0.5, 2.0]);
        assert_close(&grad_of(&x, x.pow(3.0)), &[0.75, 12.0], 1e-15, 0.0);
        let x = leaf(&[4.0, 16.0]);
        assert_close(&grad_of(&x, x.sqrt()), &[0.25, 0.125], 1e-15, 0.0);
        let x = leaf(&[-3.0, 0.0, 2.0]);
        assert_close(&grad_of(&x, x.abs()), &[-1.0, 0.0, 1.0], 1e-15, 0.0);
        let x = leaf(&[-3.0, 0.0, 2.0]);
        assert_close(x.relu().value().as_slice(), &[0.0, 0.0, 2.0], 1e-15, 0.0);
        assert_close(&grad_of(&x, x.relu()), &[0.0, 0.0, 1.0], 1e-15, 0.0);
        let x = leaf(&[0.0]);
        assert_close(x.sigmoid().value().as_slice(), &[0.5], 1e-15, 0.0);
        assert_close(&grad_of(&x, x.sigmoid()), &[0.25], 1e-15, 0.0);
        let x = leaf(&[0.0]);
        assert_close(&grad_of(&x, x.tanh()), &[1.0], 1e-15, 0.0);
    }

    #[test]
    fn sigmoid_is_stable_for_large_inputs() {
        let x = Var::constant(Tensor::from_vec(&[2], vec![-1000.0f64, 1000.0]).unwrap());
        assert_close(x.sigmoid().value().as_slice(), &[0.0, 1.0], 1e-15, 0.0);
    }

    #[test]
    fn relu_propagates_nan() {
        let x = Var::constant(Tensor::from_vec(&[1], vec![f32::NAN]).unwrap());
        assert!(x.relu().value().as_slice()[0].is_nan());
    }

    // torch 2.15:
    //   x = torch.tensor([nan, -1., 0., 2.], requires_grad=True)
    //   torch.relu(x).backward(torch.tensor([5., nan, 7., 9.]))
    //   x.grad == [5., 0., 0., 9.]
    #[test]
    fn relu_backward_selects_as_pytorch_does() {
        let x = Var::leaf(Tensor::from_vec(&[4], vec![f32::NAN, -1.0, 0.0, 2.0]).unwrap());
        let g = Tensor::from_vec(&[4], vec![5.0, f32::NAN, 7.0, 9.0]).unwrap();
        x.relu().backward_with(&g, Default::default()).unwrap();
        assert_eq!(x.grad().unwrap().as_slice(), &[5.0, 0.0, 0.0, 9.0]);
    }
}
