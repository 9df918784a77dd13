//! The exponential-linear family: ELU and SELU.

use core_tensor::Float;

use super::{Nth, Piecewise, apply};
use crate::Var;

/// SELU's `alpha` (Klambauer et al., as in PyTorch).
pub(super) const SELU_ALPHA: f64 = 1.673_263_242_354_377_2;
/// SELU's `scale`.
pub(super) const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// `scale·x` for `x > 0`, `scale·alpha·(e^x − 1)` otherwise; its `n`-th
/// derivative is `scale·alpha·e^x` on the negative side for every `n >= 1`
/// (at 0: `scale·alpha` for `n = 1`, 0 for `n >= 2`, as in PyTorch).
fn elu_derivative<F: Float>(alpha: f64, scale: f64, order: u32, x: F) -> F {
    let pos = F::cast(scale);
    // PyTorch forms alpha·scale after casting both into the element type.
    let neg = F::cast(alpha) * F::cast(scale);
    // At the kink, the function and its first derivative take the
    // exponential side (PyTorch's `x <= 0`), the higher derivatives the
    // linear side (PyTorch's double backward selects `x < 0`).
    let negative_side = if order < 2 {
        x <= F::zero()
    } else {
        x < F::zero()
    };
    match order {
        0 if negative_side => x.exp_m1() * neg,
        0 => x * pos,
        _ if negative_side => neg * x.exp(),
        1 => pos,
        _ => F::zero(),
    }
}

#[derive(Clone)]
pub(super) struct Elu {
    pub(super) alpha: f64,
}

impl Piecewise for Elu {
    const NAMES: [&'static str; 2] = ["elu", "elu_backward"];
    const SELECTS_ZERO: bool = false;

    fn derivative<F: Float>(&self, order: u32, x: F) -> F {
        elu_derivative(self.alpha, 1.0, order, x)
    }
}

#[derive(Clone)]
pub(super) struct Selu;

impl Piecewise for Selu {
    const NAMES: [&'static str; 2] = ["selu", "selu_backward"];
    const SELECTS_ZERO: bool = false;

    fn derivative<F: Float>(&self, order: u32, x: F) -> F {
        elu_derivative(SELU_ALPHA, SELU_SCALE, order, x)
    }
}

impl<F: Float> Var<F> {
    /// `x` for `x > 0`, `alpha·(e^x − 1)` otherwise, elementwise
    /// (`F.elu(x, alpha)`, default `alpha = 1`); the gradient at 0 is
    /// `alpha`, the exponential side, as in PyTorch. Differentiable to any
    /// order.
    pub fn elu(&self, alpha: f64) -> Var<F> {
        apply(
            self,
            Nth {
                f: Elu { alpha },
                order: 0,
            },
        )
    }

    /// `scale·elu(x, alpha)` with SELU's constants `alpha ≈ 1.6733`,
    /// `scale ≈ 1.0507` (`F.selu`); the gradient at 0 is `scale·alpha`.
    pub fn selu(&self) -> Var<F> {
        apply(self, Nth { f: Selu, order: 0 })
    }
}
