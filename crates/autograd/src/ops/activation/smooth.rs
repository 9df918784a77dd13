//! The smooth family built on the logistic function: SiLU, Mish, Softplus
//! and LogSigmoid.

use core_tensor::Float;

use super::{Pointwise, apply, constant_of};
use crate::{Result, Var};

/// `1 / (1 + e^-x)` as PyTorch's SiLU and Mish kernels write it.
fn logistic<F: Float>(x: F) -> F {
    F::one() / (F::one() + (-x).exp())
}

#[derive(Clone)]
struct Silu;

impl Pointwise for Silu {
    fn name(&self) -> &'static str {
        "silu"
    }

    fn value<F: Float>(&self, x: F) -> F {
        x / (F::one() + (-x).exp())
    }

    fn vjp<F: Float>(&self, g: F, x: F) -> F {
        let s = logistic(x);
        g * s * (F::one() + x * (F::one() - s))
    }

    fn slope<F: Float>(&self, x: &Var<F>) -> Result<Var<F>> {
        // σ(x)·(1 + x·(1 − σ(x)))
        let s = x.sigmoid();
        s.mul(&x.mul(&s.neg().add_scalar(1.0))?.add_scalar(1.0))
    }
}

/// `log(1 + e^{βx}) / β`, linear where `βx > threshold`.
#[derive(Clone)]
struct Softplus {
    beta: f64,
    threshold: f64,
}

impl Pointwise for Softplus {
    fn name(&self) -> &'static str {
        "softplus"
    }

    fn value<F: Float>(&self, x: F) -> F {
        let (b, t) = (F::cast(self.beta), F::cast(self.threshold));
        let bx = x * b;
        if bx > t { x } else { bx.exp().ln_1p() / b }
    }

    fn vjp<F: Float>(&self, g: F, x: F) -> F {
        let (b, t) = (F::cast(self.beta), F::cast(self.threshold));
        let bx = x * b;
        if bx > t {
            g
        } else {
            let z = bx.exp();
            g * z / (z + F::one())
        }
    }

    fn slope<F: Float>(&self, x: &Var<F>) -> Result<Var<F>> {
        // σ(βx) below the threshold, 1 above it. PyTorch's double backward
        // is zero from the threshold on (`βx < threshold` selects the curved
        // part), while the first derivative at the threshold is still σ(βx):
        // there the slope is that constant.
        let (b, t) = (F::cast(self.beta), F::cast(self.threshold));
        let linear = constant_of(x, |v| {
            let bx = v * b;
            if bx > t {
                F::one()
            } else if bx == t {
                let z = bx.exp();
                z / (z + F::one())
            } else {
                F::zero()
            }
        });
        let curved = constant_of(x, |v| if v * b < t { F::one() } else { F::zero() });
        x.mul_scalar(self.beta).sigmoid().mul(&curved)?.add(&linear)
    }
}

#[derive(Clone)]
struct Mish;

impl Pointwise for Mish {
    fn name(&self) -> &'static str {
        "mish"
    }

    fn value<F: Float>(&self, x: F) -> F {
        x * x.exp().ln_1p().tanh()
    }

    fn vjp<F: Float>(&self, g: F, x: F) -> F {
        let t = x.exp().ln_1p().tanh();
        g * (t + x * logistic(x) * (F::one() - t * t))
    }

    fn slope<F: Float>(&self, x: &Var<F>) -> Result<Var<F>> {
        // t + x·σ(x)·(1 − t²), t = tanh(softplus(x))
        let t = apply(
            x,
            Softplus {
                beta: 1.0,
                threshold: f64::INFINITY,
            },
        )
        .tanh();
        let one_minus_t2 = t.mul(&t)?.neg().add_scalar(1.0);
        t.add(&x.mul(&x.sigmoid())?.mul(&one_minus_t2)?)
    }
}

#[derive(Clone)]
struct LogSigmoid;

impl Pointwise for LogSigmoid {
    fn name(&self) -> &'static str {
        "log_sigmoid"
    }

    fn value<F: Float>(&self, x: F) -> F {
        x.min(F::zero()) - (-x.abs()).exp().ln_1p()
    }

    fn vjp<F: Float>(&self, g: F, x: F) -> F {
        // PyTorch's log_sigmoid_backward: max' − sign·z/(1 + z), z = e^{-|x|}.
        let negative = x < F::zero();
        let (max_deriv, sign) = if negative {
            (F::one(), F::one())
        } else {
            (F::zero(), -F::one())
        };
        let z = (-x.abs()).exp();
        g * (max_deriv - sign * (z / (F::one() + z)))
    }

    fn slope<F: Float>(&self, x: &Var<F>) -> Result<Var<F>> {
        Ok(x.neg().sigmoid())
    }
}

impl<F: Float> Var<F> {
    /// `x·σ(x)` elementwise (`F.silu`, the swish), with derivative
    /// `σ(x)·(1 + x·(1 − σ(x)))`.
    pub fn silu(&self) -> Var<F> {
        apply(self, Silu)
    }

    /// `x·tanh(softplus(x))` elementwise (`F.mish`), with derivative
    /// `t + x·σ(x)·(1 − t²)` where `t = tanh(log(1 + e^x))`.
    pub fn mish(&self) -> Var<F> {
        apply(self, Mish)
    }

    /// `log(1 + e^{βx}) / β` elementwise, and `x` where `βx > threshold`
    /// (`F.softplus(x, beta, threshold)`, defaults 1 and 20). The
    /// derivative is `σ(βx)` below the threshold and 1 above it.
    pub fn softplus(&self, beta: f64, threshold: f64) -> Var<F> {
        apply(self, Softplus { beta, threshold })
    }

    /// `log σ(x) = min(x, 0) − log(1 + e^{−|x|})` elementwise
    /// (`F.logsigmoid`), finite for every finite `x`; derivative `σ(−x)`.
    pub fn log_sigmoid(&self) -> Var<F> {
        apply(self, LogSigmoid)
    }
}
