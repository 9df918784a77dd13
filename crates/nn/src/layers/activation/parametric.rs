//! Activation layers with parameters: `GELU`, `LeakyReLU`, `ELU`,
//! `Softplus`, `Hardtanh`.

use autograd::{GeluApproximate, Var};
use core_tensor::Float;

use crate::layers::module_parts::training_flag;
use crate::module::Module;
use crate::{NnError, Result};

/// `torch.nn.GELU(approximate='none')`: `x·Φ(x) = x/2·(1 + erf(x/√2))`,
/// or with [`GeluApproximate::Tanh`] `x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))`.
///
/// ```
/// use autograd::{GeluApproximate, Var};
/// use core_tensor::Tensor;
/// use nn::{GELU, Module};
/// let mut gelu = GELU::new(GeluApproximate::Tanh);
/// let x = Var::leaf(Tensor::from_vec(&[3], vec![-1.0f64, 0.0, 2.0])?);
/// let y = gelu.forward(&x)?;
/// // torch: F.gelu(torch.tensor([-1., 0., 2.], dtype=torch.float64), approximate='tanh')
/// let want = [-0.15880800939172324, 0.0, 1.954597694087775];
/// for (a, b) in y.value().as_slice().iter().zip(want) {
///     assert!((a - b).abs() <= 1e-15 * b.abs().max(1.0));
/// }
/// // The exact form, from PyTorch's spelling:
/// let exact = GELU::from_name("none")?;
/// assert_eq!(exact.approximate(), GeluApproximate::None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
#[derive(Clone, Debug)]
pub struct GELU {
    approximate: GeluApproximate,
    training: bool,
}

impl GELU {
    /// The layer with the given form (PyTorch's default is
    /// [`GeluApproximate::None`], the exact one).
    pub fn new(approximate: GeluApproximate) -> Self {
        Self {
            approximate,
            training: true,
        }
    }

    /// The layer from PyTorch's spelling of `approximate`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] unless `approximate` is `"none"` or
    /// `"tanh"`.
    pub fn from_name(approximate: &str) -> Result<Self> {
        let a = GeluApproximate::parse(approximate).map_err(|_| {
            NnError::config(
                "GELU",
                "approximate",
                format!("approximate argument must be either none or tanh, got {approximate:?}"),
            )
        })?;
        Ok(Self::new(a))
    }

    /// Which form the layer computes.
    pub fn approximate(&self) -> GeluApproximate {
        self.approximate
    }
}

impl Default for GELU {
    fn default() -> Self {
        Self::new(GeluApproximate::None)
    }
}

impl<F: Float> Module<F> for GELU {
    fn type_name(&self) -> &'static str {
        "GELU"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(x.gelu(self.approximate))
    }

    training_flag!();
}

/// Rejects a NaN or infinite parameter.
fn finite(module: &'static str, param: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(NnError::config(
            module,
            param,
            format!("{param} must be a finite number, got {v}"),
        ))
    }
}

/// `torch.nn.LeakyReLU(negative_slope=0.01)`: `x` for `x > 0`,
/// `negative_slope·x` otherwise; the gradient at 0 is `negative_slope`.
#[derive(Clone, Debug)]
pub struct LeakyReLU {
    negative_slope: f64,
    training: bool,
}

impl LeakyReLU {
    /// The layer with the given slope for negative inputs.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for a NaN or infinite slope.
    pub fn new(negative_slope: f64) -> Result<Self> {
        Ok(Self {
            negative_slope: finite("LeakyReLU", "negative_slope", negative_slope)?,
            training: true,
        })
    }

    /// The slope for negative inputs.
    pub fn negative_slope(&self) -> f64 {
        self.negative_slope
    }
}

impl Default for LeakyReLU {
    /// PyTorch's default slope, 0.01.
    fn default() -> Self {
        Self {
            negative_slope: 0.01,
            training: true,
        }
    }
}

impl<F: Float> Module<F> for LeakyReLU {
    fn type_name(&self) -> &'static str {
        "LeakyReLU"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(x.leaky_relu(self.negative_slope))
    }

    training_flag!();
}

/// `torch.nn.ELU(alpha=1.0)`: `x` for `x > 0`, `alpha·(e^x − 1)` otherwise;
/// the gradient at 0 is `alpha`.
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
#[derive(Clone, Debug)]
pub struct ELU {
    alpha: f64,
    training: bool,
}

impl ELU {
    /// The layer with the given `alpha`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for a NaN or infinite `alpha`.
    pub fn new(alpha: f64) -> Result<Self> {
        Ok(Self {
            alpha: finite("ELU", "alpha", alpha)?,
            training: true,
        })
    }

    /// The scale of the negative side.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
}

impl Default for ELU {
    /// PyTorch's default, `alpha = 1`.
    fn default() -> Self {
        Self {
            alpha: 1.0,
            training: true,
        }
    }
}

impl<F: Float> Module<F> for ELU {
    fn type_name(&self) -> &'static str {
        "ELU"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(x.elu(self.alpha))
    }

    training_flag!();
}

/// `torch.nn.Softplus(beta=1.0, threshold=20.0)`: `log(1 + e^{βx})/β`,
/// and `x` where `βx > threshold`.
#[derive(Clone, Debug)]
pub struct Softplus {
    beta: f64,
    threshold: f64,
    training: bool,
}

impl Softplus {
    /// The layer with the given `beta` and `threshold`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `beta == 0` (the formula divides by
    /// it) or a NaN or infinite `beta`; a NaN `threshold`.
    pub fn new(beta: f64, threshold: f64) -> Result<Self> {
        let beta = finite("Softplus", "beta", beta)?;
        if beta == 0.0 {
            return Err(NnError::config(
                "Softplus",
                "beta",
                "beta must be nonzero (the result is divided by it)",
            ));
        }
        if threshold.is_nan() {
            return Err(NnError::config(
                "Softplus",
                "threshold",
                "threshold must be a number, got NaN",
            ));
        }
        Ok(Self {
            beta,
            threshold,
            training: true,
        })
    }

    /// `beta`.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// `threshold`.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
}

impl Default for Softplus {
    /// PyTorch's defaults, `beta = 1`, `threshold = 20`.
    fn default() -> Self {
        Self {
            beta: 1.0,
            threshold: 20.0,
            training: true,
        }
    }
}

impl<F: Float> Module<F> for Softplus {
    fn type_name(&self) -> &'static str {
        "Softplus"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(x.softplus(self.beta, self.threshold))
    }

    training_flag!();
}

/// `torch.nn.Hardtanh(min_val=-1.0, max_val=1.0)`: `x` clamped to
/// `[min_val, max_val]`; the gradient is 0 at and beyond the bounds.
#[derive(Clone, Debug)]
pub struct Hardtanh {
    min_val: f64,
    max_val: f64,
    training: bool,
}

impl Hardtanh {
    /// The layer clamping to `[min_val, max_val]`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] unless `max_val > min_val` (PyTorch's
    /// "max_val must be greater than min_val").
    pub fn new(min_val: f64, max_val: f64) -> Result<Self> {
        if max_val.partial_cmp(&min_val) != Some(std::cmp::Ordering::Greater) {
            return Err(NnError::config(
                "Hardtanh",
                "max_val",
                format!("max_val ({max_val}) must be greater than min_val ({min_val})"),
            ));
        }
        Ok(Self {
            min_val,
            max_val,
            training: true,
        })
    }

    /// The lower bound.
    pub fn min_val(&self) -> f64 {
        self.min_val
    }

    /// The upper bound.
    pub fn max_val(&self) -> f64 {
        self.max_val
    }
}

impl Default for Hardtanh {
    /// PyTorch's defaults, `[-1, 1]`.
    fn default() -> Self {
        Self {
            min_val: -1.0,
            max_val: 1.0,
            training: true,
        }
    }
}

impl<F: Float> Module<F> for Hardtanh {
    fn type_name(&self) -> &'static str {
        "Hardtanh"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(x.hardtanh(self.min_val, self.max_val)?)
    }

    training_flag!();
}
