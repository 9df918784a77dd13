//! Parameter initializations with `torch.nn.init`'s names and formulas,
//! drawn from a seedable [`Rng`] (the same seed gives the same values; the
//! values differ from PyTorch's, whose generator is another one).
//!
//! The in-place functions (`xavier_uniform_`, `kaiming_normal_`,
//! `orthogonal_`, ...) overwrite the value of a parameter [`Var`] keeping
//! its identity, as PyTorch's do under `torch.no_grad()`:
//!
//! ```
//! use core_tensor::Rng;
//! use nn::init::{FanMode, calculate_gain, kaiming_normal_, xavier_uniform_, zeros_};
//! use nn::Linear;
//!
//! let mut rng = Rng::new(0);
//! let layer = Linear::<f64>::new(64, 32, true, &mut rng)?;
//! xavier_uniform_(layer.weight(), calculate_gain("tanh", None)?, &mut rng)?;
//! // |w| <= gain * sqrt(6 / (fan_in + fan_out))
//! let bound = 5.0 / 3.0 * (6.0f64 / 96.0).sqrt();
//! assert!(layer.weight().value().as_slice().iter().all(|w| w.abs() <= bound));
//! kaiming_normal_(layer.weight(), 0.0, FanMode::FanOut, "relu", &mut rng)?;
//! zeros_(layer.bias().unwrap())?;
//! assert!(layer.bias().unwrap().value().as_slice().iter().all(|&b| b == 0.0));
//! # Ok::<(), nn::NnError>(())
//! ```

mod gain;
mod normal_dist;
mod orthogonal;

use autograd::Var;
use core_tensor::shape::checked_numel;
use core_tensor::{Float, Rng, Tensor};

pub use gain::{FanMode, calculate_gain, fan_in_and_fan_out};

use crate::{NnError, Result};

/// A tensor of `U(-bound, bound)` samples (`nn.init.uniform_(t, -bound, bound)`).
///
/// # Errors
/// [`crate::NnError::Tensor`] when the element count of `shape` overflows.
pub fn uniform<F: Float>(shape: &[usize], bound: f64, rng: &mut Rng) -> Result<Tensor<F>> {
    let n = checked_numel("init::uniform", shape)?;
    let data: Vec<F> = (0..n)
        .map(|_| F::cast(rng.uniform_in(-bound, bound)))
        .collect();
    Ok(Tensor::from_vec(shape, data)?)
}

/// `nn.init.kaiming_uniform_(w, a)` with `mode='fan_in'` and the
/// leaky-ReLU gain: `U(-b, b)` with `b = sqrt(3) * sqrt(2 / (1 + a²)) /
/// sqrt(fan_in)`. Conv and linear layers use `a = sqrt(5)`, which gives
/// `b = 1 / sqrt(fan_in)`.
///
/// # Errors
/// As [`uniform`].
pub fn kaiming_uniform<F: Float>(
    shape: &[usize],
    fan_in: usize,
    a: f64,
    rng: &mut Rng,
) -> Result<Tensor<F>> {
    let gain = (2.0 / (1.0 + a * a)).sqrt();
    let bound = if fan_in == 0 {
        0.0
    } else {
        3f64.sqrt() * gain / (fan_in as f64).sqrt()
    };
    uniform(shape, bound, rng)
}

/// The default weight and bias of `nn.Linear` / `nn.ConvNd`:
/// weight by [`kaiming_uniform`] with `a = sqrt(5)`, bias `U(-1/sqrt(fan_in),
/// 1/sqrt(fan_in))`.
///
/// # Errors
/// As [`uniform`].
pub fn default_weight_and_bias<F: Float>(
    weight_shape: &[usize],
    bias_len: Option<usize>,
    fan_in: usize,
    rng: &mut Rng,
) -> Result<(Tensor<F>, Option<Tensor<F>>)> {
    let w = kaiming_uniform(weight_shape, fan_in, 5f64.sqrt(), rng)?;
    let b = bias_len.map(|n| {
        let bound = if fan_in == 0 {
            0.0
        } else {
            1.0 / (fan_in as f64).sqrt()
        };
        uniform(&[n], bound, rng)
    });
    Ok((w, b.transpose()?))
}

fn fill<F: Float>(w: &Var<F>, mut value: impl FnMut() -> f64) -> Result<()> {
    let shape = w.shape();
    let n = checked_numel("init", &shape)?;
    let data: Vec<F> = (0..n).map(|_| F::cast(value())).collect();
    w.set_value(Tensor::from_vec(&shape, data)?)?;
    Ok(())
}

fn check_finite(op: &'static str, param: &'static str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(NnError::config(
            op,
            param,
            format!("{param} must be a finite number, got {v}"),
        ))
    }
}

fn check_std(op: &'static str, std: f64) -> Result<()> {
    if std.is_finite() && std >= 0.0 {
        Ok(())
    } else {
        Err(NnError::config(
            op,
            "std",
            format!("std must be finite and >= 0, got {std}"),
        ))
    }
}

/// `nn.init.uniform_(w, a, b)`: every element from `U(a, b)`.
///
/// # Errors
/// [`NnError::InvalidConfig`] unless `a <= b` are finite;
/// [`NnError::Autograd`] when `w` is not a leaf.
pub fn uniform_<F: Float>(w: &Var<F>, a: f64, b: f64, rng: &mut Rng) -> Result<()> {
    check_finite("uniform_", "a", a)?;
    check_finite("uniform_", "b", b)?;
    if a > b {
        return Err(NnError::config(
            "uniform_",
            "b",
            format!("the interval needs a <= b, got a = {a}, b = {b}"),
        ));
    }
    fill(w, || rng.uniform_in(a, b))
}

/// `nn.init.normal_(w, mean, std)`: every element from `N(mean, std²)`.
///
/// # Errors
/// [`NnError::InvalidConfig`] for a non-finite `mean` or a negative or
/// non-finite `std`; [`NnError::Autograd`] when `w` is not a leaf.
pub fn normal_<F: Float>(w: &Var<F>, mean: f64, std: f64, rng: &mut Rng) -> Result<()> {
    check_finite("normal_", "mean", mean)?;
    check_std("normal_", std)?;
    fill(w, || mean + std * rng.normal())
}

/// `nn.init.trunc_normal_(w, mean, std, a, b)`: every element from
/// `N(mean, std²)` conditioned on `[a, b]` (PyTorch's defaults are
/// `mean = 0, std = 1, a = -2, b = 2`). Sampled by inversion,
/// `mean + std · Φ⁻¹(U(Φ(α), Φ(β)))` with `α = (a − mean)/std`,
/// `β = (b − mean)/std`, as PyTorch does, with the tails computed without
/// cancellation so that an interval far from the mean works too.
///
/// # Errors
/// [`NnError::InvalidConfig`] unless `mean`, `a < b` are finite and
/// `std > 0` is finite; [`NnError::Autograd`] when `w` is not a leaf.
pub fn trunc_normal_<F: Float>(
    w: &Var<F>,
    mean: f64,
    std: f64,
    a: f64,
    b: f64,
    rng: &mut Rng,
) -> Result<()> {
    const OP: &str = "trunc_normal_";
    check_finite(OP, "mean", mean)?;
    check_finite(OP, "a", a)?;
    check_finite(OP, "b", b)?;
    if !(std.is_finite() && std > 0.0) {
        return Err(NnError::config(
            OP,
            "std",
            format!("std must be finite and > 0, got {std}"),
        ));
    }
    if a >= b {
        return Err(NnError::config(
            OP,
            "b",
            format!("the interval needs a < b, got a = {a}, b = {b}"),
        ));
    }
    fill(w, || normal_dist::trunc_normal_sample(mean, std, a, b, rng))
}

/// `nn.init.constant_(w, val)`: every element set to `val`.
///
/// # Errors
/// [`NnError::Autograd`] when `w` is not a leaf.
pub fn constant_<F: Float>(w: &Var<F>, val: f64) -> Result<()> {
    fill(w, || val)
}

/// `nn.init.zeros_(w)`.
///
/// # Errors
/// [`NnError::Autograd`] when `w` is not a leaf.
pub fn zeros_<F: Float>(w: &Var<F>) -> Result<()> {
    constant_(w, 0.0)
}

/// `nn.init.ones_(w)`.
///
/// # Errors
/// [`NnError::Autograd`] when `w` is not a leaf.
pub fn ones_<F: Float>(w: &Var<F>) -> Result<()> {
    constant_(w, 1.0)
}

fn xavier_std(op: &'static str, shape: &[usize], gain: f64) -> Result<f64> {
    check_finite(op, "gain", gain)?;
    let (fan_in, fan_out) = fan_in_and_fan_out(op, shape)?;
    let total = fan_in.saturating_add(fan_out);
    Ok(if total == 0 {
        0.0
    } else {
        gain * (2.0 / total as f64).sqrt()
    })
}

/// `nn.init.xavier_uniform_(w, gain)` (Glorot): `U(-b, b)` with
/// `b = gain · sqrt(6 / (fan_in + fan_out))`.
///
/// # Errors
/// [`NnError::InvalidConfig`] for fewer than 2 dimensions or a non-finite
/// gain; [`NnError::Autograd`] when `w` is not a leaf.
pub fn xavier_uniform_<F: Float>(w: &Var<F>, gain: f64, rng: &mut Rng) -> Result<()> {
    let bound = 3f64.sqrt() * xavier_std("xavier_uniform_", &w.shape(), gain)?;
    fill(w, || rng.uniform_in(-bound, bound))
}

/// `nn.init.xavier_normal_(w, gain)` (Glorot): `N(0, std²)` with
/// `std = gain · sqrt(2 / (fan_in + fan_out))`.
///
/// # Errors
/// As [`xavier_uniform_`].
pub fn xavier_normal_<F: Float>(w: &Var<F>, gain: f64, rng: &mut Rng) -> Result<()> {
    let std = xavier_std("xavier_normal_", &w.shape(), gain)?;
    fill(w, || std * rng.normal())
}

fn kaiming_std(
    op: &'static str,
    shape: &[usize],
    a: f64,
    mode: FanMode,
    nonlinearity: &str,
) -> Result<f64> {
    let gain = calculate_gain(nonlinearity, Some(a))?;
    let (fan_in, fan_out) = fan_in_and_fan_out(op, shape)?;
    let fan = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    Ok(if fan == 0 {
        0.0
    } else {
        gain / (fan as f64).sqrt()
    })
}

/// `nn.init.kaiming_uniform_(w, a, mode, nonlinearity)` (He): `U(-b, b)`
/// with `b = gain · sqrt(3 / fan)`, `gain = calculate_gain(nonlinearity,
/// a)` (PyTorch's defaults: `a = 0`, [`FanMode::FanIn`], `"leaky_relu"`)
/// and `fan` chosen by `mode`. A tensor with no elements is left as it is.
///
/// # Errors
/// [`NnError::InvalidConfig`] for fewer than 2 dimensions or a
/// nonlinearity outside [`calculate_gain`]'s table;
/// [`NnError::Autograd`] when `w` is not a leaf.
pub fn kaiming_uniform_<F: Float>(
    w: &Var<F>,
    a: f64,
    mode: FanMode,
    nonlinearity: &str,
    rng: &mut Rng,
) -> Result<()> {
    let bound = 3f64.sqrt() * kaiming_std("kaiming_uniform_", &w.shape(), a, mode, nonlinearity)?;
    fill(w, || rng.uniform_in(-bound, bound))
}

/// `nn.init.kaiming_normal_(w, a, mode, nonlinearity)` (He): `N(0, std²)`
/// with `std = gain / sqrt(fan)` (see [`kaiming_uniform_`]).
///
/// # Errors
/// As [`kaiming_uniform_`].
pub fn kaiming_normal_<F: Float>(
    w: &Var<F>,
    a: f64,
    mode: FanMode,
    nonlinearity: &str,
    rng: &mut Rng,
) -> Result<()> {
    let std = kaiming_std("kaiming_normal_", &w.shape(), a, mode, nonlinearity)?;
    fill(w, || std * rng.normal())
}

/// `nn.init.orthogonal_(w, gain)`: `w` viewed as a `rows × cols` matrix
/// (`rows = size(0)`, `cols` the product of the other sizes) becomes
/// `gain · Q`, where `Q` has orthonormal rows (`rows <= cols`) or columns
/// (`rows >= cols`): the QR factor of a matrix of standard normal draws,
/// with signs making `R`'s diagonal positive, so `Q` is uniformly
/// distributed (Saxe et al. 2013). A tensor with no elements is left as
/// it is.
///
/// # Errors
/// [`NnError::InvalidConfig`] for fewer than 2 dimensions or a non-finite
/// gain; [`NnError::Autograd`] when `w` is not a leaf.
pub fn orthogonal_<F: Float>(w: &Var<F>, gain: f64, rng: &mut Rng) -> Result<()> {
    const OP: &str = "orthogonal_";
    check_finite(OP, "gain", gain)?;
    let shape = w.shape();
    if shape.len() < 2 {
        return Err(NnError::config(
            OP,
            "tensor",
            format!("only tensors with 2 or more dimensions are supported, got shape {shape:?}"),
        ));
    }
    let numel = checked_numel(OP, &shape)?;
    if numel == 0 {
        return Ok(());
    }
    let rows = shape[0];
    let cols = numel / rows;
    // Orthonormalize the columns of the tall orientation, then transpose
    // back when the matrix is wide.
    let (m, n) = (rows.max(cols), rows.min(cols));
    // Dependent Gaussian columns have probability zero; a few redraws
    // bound the loop all the same.
    for _ in 0..8 {
        let mut a: Vec<f64> = (0..m * n).map(|_| rng.normal()).collect();
        if !orthogonal::orthonormalize_columns(&mut a, m, n) {
            continue;
        }
        let data: Vec<F> = if rows >= cols {
            a.iter().map(|&v| F::cast(gain * v)).collect()
        } else {
            (0..rows)
                .flat_map(|r| (0..cols).map(move |c| (r, c)))
                .map(|(r, c)| F::cast(gain * a[c * n + r]))
                .collect()
        };
        w.set_value(Tensor::from_vec(&shape, data)?)?;
        return Ok(());
    }
    Err(NnError::config(
        OP,
        "tensor",
        format!("could not draw {n} independent Gaussian vectors of length {m}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaiming_with_sqrt5_is_one_over_sqrt_fan_in() {
        let mut rng = Rng::new(1);
        let w: Tensor<f64> = kaiming_uniform(&[64, 36], 36, 5f64.sqrt(), &mut rng).unwrap();
        let max = w.as_slice().iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(max <= 1.0 / 6.0 && max > 0.95 / 6.0, "max {max}");
        let mean = w.as_slice().iter().sum::<f64>() / w.len() as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
    }
}
