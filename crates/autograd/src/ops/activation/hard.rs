//! The piecewise-linear family: LeakyReLU, Hardtanh, Hardsigmoid, and the
//! piecewise-quadratic Hardswish.

use core_tensor::Float;

use super::{Nth, Piecewise, apply};
use crate::{AutogradError, Result, Var};

/// `x` where `x > 0`, `slope·x` elsewhere.
#[derive(Clone)]
pub(super) struct LeakyRelu {
    pub(super) slope: f64,
}

impl Piecewise for LeakyRelu {
    const NAMES: [&'static str; 2] = ["leaky_relu", "leaky_relu_backward"];
    const SELECTS_ZERO: bool = false;

    fn derivative<F: Float>(&self, order: u32, x: F) -> F {
        let s = F::cast(self.slope);
        match order {
            0 if x > F::zero() => x,
            0 => x * s,
            // The kink at 0 takes the negative side, as PyTorch's `x > 0`.
            1 if x > F::zero() => F::one(),
            1 => s,
            _ => F::zero(),
        }
    }
}

/// `x` clamped to `[min, max]`.
#[derive(Clone)]
pub(super) struct Hardtanh {
    pub(super) min: f64,
    pub(super) max: f64,
}

impl Piecewise for Hardtanh {
    const NAMES: [&'static str; 2] = ["hardtanh", "hardtanh_backward"];
    const SELECTS_ZERO: bool = true;

    fn derivative<F: Float>(&self, order: u32, x: F) -> F {
        let (lo, hi) = (F::cast(self.min), F::cast(self.max));
        match order {
            0 if x < lo => lo,
            0 if x > hi => hi,
            0 => x,
            // PyTorch: 0 where x <= min or x >= max, boundaries included.
            1 if x <= lo || x >= hi => F::zero(),
            1 => F::one(),
            _ => F::zero(),
        }
    }
}

/// `min(max(x + 3, 0), 6) / 6` with NaN propagated.
fn relu6_of_shift<F: Float>(x: F) -> F {
    let three = F::cast(3.0);
    let six = F::cast(6.0);
    if x.is_nan() {
        return x;
    }
    (x + three).max(F::zero()).min(six)
}

/// `relu6(x + 3) / 6`.
#[derive(Clone)]
pub(super) struct Hardsigmoid;

impl Piecewise for Hardsigmoid {
    const NAMES: [&'static str; 2] = ["hardsigmoid", "hardsigmoid_backward"];
    const SELECTS_ZERO: bool = true;

    fn derivative<F: Float>(&self, order: u32, x: F) -> F {
        let three = F::cast(3.0);
        match order {
            0 => relu6_of_shift(x) / F::cast(6.0),
            // PyTorch: 1/6 strictly inside (-3, 3), 0 on the boundaries;
            // its kernel rounds 1/6 to f32 first (0.1666666716337204 in
            // f64 too), and so does this.
            1 if x > -three && x < three => F::cast(f64::from(1.0f32 / 6.0f32)),
            _ => F::zero(),
        }
    }
}

/// `x · relu6(x + 3) / 6`.
#[derive(Clone)]
pub(super) struct Hardswish;

impl Piecewise for Hardswish {
    const NAMES: [&'static str; 2] = ["hardswish", "hardswish_backward"];
    const SELECTS_ZERO: bool = true;

    fn derivative<F: Float>(&self, order: u32, x: F) -> F {
        let three = F::cast(3.0);
        match order {
            0 => x * relu6_of_shift(x) / F::cast(6.0),
            // PyTorch's hardswish_backward: 0 up to -3 (included), x/3 + 1/2
            // strictly inside (-3, 3), 1 from 3 on (and for NaN).
            1 if x <= -three => F::zero(),
            1 if x < three => x / three + F::cast(0.5),
            1 => F::one(),
            // PyTorch's double backward: 1/3 strictly inside (-3, 3).
            2 if x > -three && x < three => F::one() / three,
            _ => F::zero(),
        }
    }
}

impl<F: Float> Var<F> {
    /// `x` for `x > 0`, `negative_slope·x` otherwise, elementwise
    /// (`F.leaky_relu(x, negative_slope)`, default slope `0.01`). The
    /// gradient at 0 is `negative_slope`, as in PyTorch.
    pub fn leaky_relu(&self, negative_slope: f64) -> Var<F> {
        apply(
            self,
            Nth {
                f: LeakyRelu {
                    slope: negative_slope,
                },
                order: 0,
            },
        )
    }

    /// `clamp(x, min_val, max_val)` elementwise (`F.hardtanh`); the
    /// gradient is 1 strictly between the bounds and 0 at and beyond them,
    /// as in PyTorch. NaN stays NaN.
    ///
    /// ```
    /// use autograd::Var;
    /// use core_tensor::Tensor;
    /// let x = Var::leaf(Tensor::from_vec(&[4], vec![-2.0f64, -1.0, 0.5, 3.0])?);
    /// let y = x.hardtanh(-1.0, 1.0)?;
    /// assert_eq!(y.value().as_slice(), &[-1.0, -1.0, 0.5, 1.0]);
    /// y.sum_all().backward()?;
    /// assert_eq!(x.grad().unwrap().as_slice(), &[0.0, 0.0, 1.0, 0.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`AutogradError::InvalidArgument`] unless `min_val < max_val`
    /// (`nn.Hardtanh` asserts it; `F.hardtanh` rejects `min_val > max_val`
    /// and NaN bounds fail both).
    pub fn hardtanh(&self, min_val: f64, max_val: f64) -> Result<Var<F>> {
        // Written so that NaN bounds fail too.
        if max_val.partial_cmp(&min_val) != Some(std::cmp::Ordering::Greater) {
            return Err(AutogradError::InvalidArgument {
                op: "hardtanh",
                param: "max_val",
                reason: format!("max_val ({max_val}) must be greater than min_val ({min_val})"),
            });
        }
        Ok(apply(
            self,
            Nth {
                f: Hardtanh {
                    min: min_val,
                    max: max_val,
                },
                order: 0,
            },
        ))
    }

    /// `relu6(x + 3) / 6` elementwise (`F.hardsigmoid`): 0 below -3, 1
    /// above 3, `x/6 + 1/2` between; the gradient is `1/6` strictly inside
    /// `(-3, 3)` and 0 elsewhere, as in PyTorch (whose kernel uses `1/6`
    /// rounded to `f32`, `0.1666666716337204`, in `f64` too: so does this).
    pub fn hardsigmoid(&self) -> Var<F> {
        apply(
            self,
            Nth {
                f: Hardsigmoid,
                order: 0,
            },
        )
    }

    /// `x · relu6(x + 3) / 6` elementwise (`F.hardswish`): 0 below -3, `x`
    /// above 3, `x(x + 3)/6` between. PyTorch's gradient: 0 for `x <= -3`,
    /// `x/3 + 1/2` strictly inside `(-3, 3)`, 1 for `x >= 3` (one-sided
    /// values at both kinks: 0 at -3, 1 at 3).
    pub fn hardswish(&self) -> Var<F> {
        apply(
            self,
            Nth {
                f: Hardswish,
                order: 0,
            },
        )
    }
}
