//! `FractionalMaxPool2d` and `FractionalMaxPool3d`: max pooling with
//! pseudo-random fractional window steps, drawn per call and per plane.

use autograd::Var;
use core_tensor::{Float, Rng, Tensor};
use ops_pool::{FractionalMaxPoolParams, FractionalOutput};

use super::module_parts::{dim_name, training_flag};
use crate::module::Module;
use crate::{NnError, Result};

/// Fractional max pooling over `D` spatial axes
/// (`torch.nn.FractionalMaxPool{D}d(kernel_size, output_size=None,
/// output_ratio=None, return_indices=False)`), on `(N, C, *spatial)` or
/// unbatched `(C, *spatial)` inputs.
///
/// Every call draws one sample in `[0, 1)` per plane and spatial axis, as
/// PyTorch draws `torch.rand(N, C, D)`, here from the layer's own seeded
/// generator (so runs are reproducible), and pools with
/// [`ops_pool::fractional_max_pool`]. Exactly one of output size and output
/// ratio is given, by the constructor used. The same in training and
/// evaluation, as in PyTorch.
#[derive(Clone, Debug)]
pub struct FractionalMaxPool<const D: usize> {
    params: FractionalMaxPoolParams,
    rng: Rng,
    training: bool,
}

/// `torch.nn.FractionalMaxPool2d`.
pub type FractionalMaxPool2d = FractionalMaxPool<2>;
/// `torch.nn.FractionalMaxPool3d`.
pub type FractionalMaxPool3d = FractionalMaxPool<3>;

impl<const D: usize> FractionalMaxPool<D> {
    const NAME: [&'static str; 3] = [
        "FractionalMaxPool1d",
        "FractionalMaxPool2d",
        "FractionalMaxPool3d",
    ];

    /// Windows of `kernel_size` pooled to `output_size`, samples drawn from
    /// a generator seeded with `seed`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for a zero kernel size or `D` other than
    /// 2 or 3.
    pub fn with_output_size(
        kernel_size: [usize; D],
        output_size: [usize; D],
        seed: u64,
    ) -> Result<Self> {
        let params = FractionalMaxPoolParams::with_output_size(&kernel_size, &output_size);
        Self::build(params, seed)
    }

    /// Windows of `kernel_size`, the output `⌊L · ratio⌋` per axis.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for a zero kernel size, a ratio not
    /// strictly between 0 and 1 (PyTorch's `ValueError`), or `D` other than
    /// 2 or 3.
    pub fn with_output_ratio(
        kernel_size: [usize; D],
        output_ratio: [f64; D],
        seed: u64,
    ) -> Result<Self> {
        let name = dim_name(Self::NAME, D);
        if let Some(r) = output_ratio.iter().find(|r| !(**r > 0.0 && **r < 1.0)) {
            return Err(NnError::config(
                name,
                "output_ratio",
                format!("output_ratio must be between 0 and 1 (got {r} in {output_ratio:?})"),
            ));
        }
        let params = FractionalMaxPoolParams::with_output_ratio(&kernel_size, &output_ratio);
        Self::build(params, seed)
    }

    fn build(params: FractionalMaxPoolParams, seed: u64) -> Result<Self> {
        let name = dim_name(Self::NAME, D);
        if !(2..=3).contains(&D) {
            return Err(NnError::config(
                name,
                "kernel_size",
                format!("fractional max pooling has 2 or 3 spatial axes, not {D}"),
            ));
        }
        if params.kernel_size.contains(&0) {
            return Err(NnError::config(
                name,
                "kernel_size",
                format!(
                    "kernel_size {:?} must be at least 1 on every axis",
                    params.kernel_size
                ),
            ));
        }
        Ok(Self {
            params,
            rng: Rng::new(seed),
            training: true,
        })
    }

    /// The op parameters.
    pub fn params(&self) -> &FractionalMaxPoolParams {
        &self.params
    }

    /// Whether the output is given as a ratio of the input size.
    pub fn uses_ratio(&self) -> bool {
        matches!(self.params.output, FractionalOutput::Ratio(_))
    }

    /// Draws the samples for an input of shape `shape`: `(N, C, D)`, or
    /// `(1, C, D)` for an unbatched input, each in `[0, 1)`.
    fn draw_samples<F: Float>(&mut self, shape: &[usize]) -> Result<Tensor<F>> {
        let name = dim_name(Self::NAME, D);
        let (n, c) = match shape.len() {
            r if r == D + 2 => (shape[0], shape[1]),
            r if r == D + 1 => (1, shape[0]),
            _ => {
                return Err(NnError::input(
                    name,
                    format!("of rank {} (unbatched) or {} (batched)", D + 1, D + 2),
                    shape,
                ));
            }
        };
        // The largest value below 1 in F: a draw that rounds up to 1 in f32
        // is moved back inside [0, 1).
        let below_one = F::one() - F::MACHINE_EPSILON / F::cast(2.0);
        let count = n * c * D;
        let values = (0..count)
            .map(|_| {
                let u = F::cast(self.rng.uniform());
                if u < F::one() { u } else { below_one }
            })
            .collect();
        Ok(Tensor::from_vec(&[n, c, D], values)?)
    }

    /// The pooled values and PyTorch's `i64` indices
    /// (`return_indices=True`), with freshly drawn samples.
    ///
    /// # Errors
    /// [`NnError::BadInput`] for an input of the wrong rank, and the op's
    /// [`ops_pool::PoolError`] (an output too large for the input, ...).
    pub fn forward_with_indices<F: Float>(&mut self, x: &Var<F>) -> Result<(Var<F>, Tensor<i64>)> {
        let samples = self.draw_samples::<F>(&x.shape())?;
        self.forward_with_samples(x, &samples)
    }

    /// Pools with the given samples (PyTorch's `_random_samples`), for
    /// reproducing a call exactly.
    ///
    /// # Errors
    /// The op's [`ops_pool::PoolError`], also for samples of the wrong
    /// shape or outside `[0, 1)`.
    pub fn forward_with_samples<F: Float>(
        &self,
        x: &Var<F>,
        samples: &Tensor<F>,
    ) -> Result<(Var<F>, Tensor<i64>)> {
        Ok(ops_pool::fractional_max_pool_with_indices(
            x,
            &self.params,
            samples,
        )?)
    }
}

impl<F: Float, const D: usize> Module<F> for FractionalMaxPool<D> {
    fn type_name(&self) -> &'static str {
        dim_name(Self::NAME, D)
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        Ok(self.forward_with_indices(x)?.0)
    }

    training_flag!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_follow_the_input_and_pool_like_the_op() {
        let mut pool = FractionalMaxPool2d::with_output_size([2, 2], [3, 3], 7).unwrap();
        let x =
            Var::leaf(Tensor::from_vec(&[2, 3, 5, 5], (0..150).map(f64::from).collect()).unwrap());
        let s = pool.draw_samples::<f64>(&x.shape()).unwrap();
        assert_eq!(s.shape(), &[2, 3, 2]);
        assert!(s.as_slice().iter().all(|u| (0.0..1.0).contains(u)));
        let (y, idx) = pool.forward_with_samples(&x, &s).unwrap();
        let direct = ops_pool::fractional_max_pool_with_indices(&x, pool.params(), &s).unwrap();
        assert_eq!(y.value().as_slice(), direct.0.value().as_slice());
        assert_eq!(idx.as_slice(), direct.1.as_slice());
        // Increasing values: every window's maximum is its last element.
        let (y, _) = pool.forward_with_indices(&x).unwrap();
        assert_eq!(y.shape(), vec![2, 3, 3, 3]);
        assert_eq!(y.value().as_slice()[8], 24.0);
        // Unbatched inputs draw one row of samples.
        let u = pool.draw_samples::<f32>(&[3, 5, 5]).unwrap();
        assert_eq!(u.shape(), &[1, 3, 2]);
        assert!(pool.draw_samples::<f64>(&[5, 5]).is_err());
    }

    #[test]
    fn constructor_checks_follow_pytorch() {
        let e = FractionalMaxPool2d::with_output_ratio([2, 2], [1.0, 0.5], 0).unwrap_err();
        assert!(
            e.to_string()
                .contains("output_ratio must be between 0 and 1"),
            "{e}"
        );
        assert!(
            FractionalMaxPool3d::with_output_ratio([2, 2, 2], [0.5, f64::NAN, 0.5], 0).is_err()
        );
        assert!(FractionalMaxPool2d::with_output_size([0, 2], [2, 2], 0).is_err());
        assert!(FractionalMaxPool::<1>::with_output_size([2], [2], 0).is_err());
        let pool = FractionalMaxPool3d::with_output_ratio([2, 2, 2], [0.5; 3], 0).unwrap();
        assert!(pool.uses_ratio());
        assert_eq!(Module::<f64>::type_name(&pool), "FractionalMaxPool3d");
    }
}
