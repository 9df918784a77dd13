//! GELU, `x·Φ(x)`, exact (through `erf`) and in the tanh approximation.

use core_tensor::Float;

use super::{Pointwise, apply};
use crate::ops::erf::erf;
use crate::{AutogradError, Result, Var};

/// `1/√2`.
const SQRT1_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// `1/√(2π)`: the standard normal density at 0.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// `√(2/π)`, the tanh approximation's scale.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The tanh approximation's cubic coefficient.
const KAPPA: f64 = 0.044715;

/// Which GELU: PyTorch's `approximate=` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GeluApproximate {
    /// `approximate='none'`: `x·Φ(x) = x/2·(1 + erf(x/√2))` exactly.
    #[default]
    None,
    /// `approximate='tanh'`: `x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    Tanh,
}

impl GeluApproximate {
    /// Parses PyTorch's spelling, `"none"` or `"tanh"`.
    ///
    /// # Errors
    /// [`AutogradError::InvalidArgument`] for any other string, as
    /// PyTorch's "approximate argument must be either none or tanh".
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(GeluApproximate::None),
            "tanh" => Ok(GeluApproximate::Tanh),
            other => Err(AutogradError::InvalidArgument {
                op: "gelu",
                param: "approximate",
                reason: format!("approximate argument must be either none or tanh, got {other:?}"),
            }),
        }
    }

    /// PyTorch's spelling.
    pub fn name(self) -> &'static str {
        match self {
            GeluApproximate::None => "none",
            GeluApproximate::Tanh => "tanh",
        }
    }
}

#[derive(Clone)]
struct Gelu(GeluApproximate);

impl Pointwise for Gelu {
    fn name(&self) -> &'static str {
        match self.0 {
            GeluApproximate::None => "gelu",
            GeluApproximate::Tanh => "gelu_tanh",
        }
    }

    fn value<F: Float>(&self, x: F) -> F {
        let half = F::cast(0.5);
        match self.0 {
            GeluApproximate::None => x * half * (F::one() + erf(x * F::cast(SQRT1_2))),
            GeluApproximate::Tanh => {
                let inner = F::cast(SQRT_2_OVER_PI) * (x + F::cast(KAPPA) * (x * x * x));
                half * x * (F::one() + inner.tanh())
            }
        }
    }

    fn vjp<F: Float>(&self, g: F, x: F) -> F {
        let half = F::cast(0.5);
        match self.0 {
            GeluApproximate::None => {
                let cdf = half * (F::one() + erf(x * F::cast(SQRT1_2)));
                let pdf = F::cast(INV_SQRT_2PI) * (x * x * F::cast(-0.5)).exp();
                g * (cdf + x * pdf)
            }
            GeluApproximate::Tanh => {
                let (beta, kappa) = (F::cast(SQRT_2_OVER_PI), F::cast(KAPPA));
                let x_sq = x * x;
                let inner = beta * (x + kappa * (x_sq * x));
                let t = inner.tanh();
                let left = half * x;
                let right = F::one() + t;
                let left_derivative = half * right;
                let right_derivative =
                    left * (F::one() - t * t) * beta * (F::one() + F::cast(3.0) * kappa * x_sq);
                g * (left_derivative + right_derivative)
            }
        }
    }

    fn slope<F: Float>(&self, x: &Var<F>) -> Result<Var<F>> {
        match self.0 {
            GeluApproximate::None => {
                // Φ(x) + x·φ(x)
                let cdf = x.mul_scalar(SQRT1_2).erf().add_scalar(1.0).mul_scalar(0.5);
                let pdf = x.mul(x)?.mul_scalar(-0.5).exp().mul_scalar(INV_SQRT_2PI);
                cdf.add(&x.mul(&pdf)?)
            }
            GeluApproximate::Tanh => {
                // (1 + t)/2 + x/2·(1 − t²)·β·(1 + 3κx²), t = tanh(β(x + κx³))
                let x_sq = x.mul(x)?;
                let inner = x
                    .add(&x_sq.mul(x)?.mul_scalar(KAPPA))?
                    .mul_scalar(SQRT_2_OVER_PI);
                let t = inner.tanh();
                let left_derivative = t.add_scalar(1.0).mul_scalar(0.5);
                let sech2 = t.mul(&t)?.neg().add_scalar(1.0);
                let poly = x_sq
                    .mul_scalar(3.0 * KAPPA)
                    .add_scalar(1.0)
                    .mul_scalar(SQRT_2_OVER_PI);
                left_derivative.add(&x.mul_scalar(0.5).mul(&sech2)?.mul(&poly)?)
            }
        }
    }
}

impl<F: Float> Var<F> {
    /// The Gaussian error linear unit elementwise (`F.gelu(x,
    /// approximate=...)`): `x·Φ(x) = x/2·(1 + erf(x/√2))` exactly, or
    /// `x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` with
    /// [`GeluApproximate::Tanh`]. The derivative of the exact form is
    /// `Φ(x) + x·φ(x)`; both forms are differentiable to any order.
    ///
    /// ```
    /// use autograd::{GeluApproximate, Var};
    /// use core_tensor::Tensor;
    /// let x = Var::leaf(Tensor::from_vec(&[1], vec![1.0f64])?);
    /// let y = x.gelu(GeluApproximate::None);
    /// // torch: F.gelu(torch.tensor([1.], dtype=torch.float64))
    /// assert!((y.value().as_slice()[0] - 0.8413447460685429).abs() < 1e-15);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gelu(&self, approximate: GeluApproximate) -> Var<F> {
        apply(self, Gelu(approximate))
    }
}
