//! PyTorch's default parameter initializations, drawn from a seedable
//! [`Rng`].

use core_tensor::shape::checked_numel;
use core_tensor::{Float, Rng, Tensor};

use crate::Result;

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
