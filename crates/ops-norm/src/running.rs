//! Running statistics (`running_mean`, `running_var`, `num_batches_tracked`)
//! that batch norm and instance norm update in place.

use core_tensor::{Float, Tensor};

use crate::NormError;

/// The running statistics buffers of a batch-norm (or instance-norm) layer,
/// updated in place through `&mut` by a training call:
///
/// `running = (1 − factor)·running + factor·batch`, where the batch variance
/// is the *unbiased* one and `factor` is `momentum`, or
/// `1 / num_batches_tracked` when momentum is `None` (a cumulative average).
///
/// PyTorch's initial values are [`RunningStats::new`]: mean 0, variance 1,
/// counter 0.
#[derive(Clone, Debug, PartialEq)]
pub struct RunningStats<F: Float> {
    /// Running mean, shape `[C]`.
    pub mean: Tensor<F>,
    /// Running variance (unbiased batch variances averaged), shape `[C]`.
    pub var: Tensor<F>,
    /// Number of training calls that updated the statistics (batch norm
    /// only; instance norm never increments it, as in PyTorch).
    pub num_batches_tracked: i64,
}

impl<F: Float> RunningStats<F> {
    /// Fresh statistics for `num_features` channels: mean 0, variance 1,
    /// counter 0 (PyTorch's `reset_running_stats`).
    pub fn new(num_features: usize) -> Self {
        Self {
            mean: Tensor::zeros(&[num_features]),
            var: Tensor::ones(&[num_features]),
            num_batches_tracked: 0,
        }
    }

    /// Statistics from existing buffers (e.g. a state dict).
    pub fn from_parts(mean: Tensor<F>, var: Tensor<F>, num_batches_tracked: i64) -> Self {
        Self {
            mean,
            var,
            num_batches_tracked,
        }
    }

    /// Checks both buffers have shape `[c]`.
    pub(crate) fn check(
        &self,
        op: &'static str,
        c: usize,
        input: &[usize],
    ) -> Result<(), NormError> {
        for (what, t) in [("running_mean", &self.mean), ("running_var", &self.var)] {
            if t.shape() != [c] {
                return Err(NormError::ParamShape {
                    op,
                    what,
                    expected: vec![c],
                    got: t.shape().to_vec(),
                    input: input.to_vec(),
                });
            }
        }
        Ok(())
    }

    /// Increments the counter (checked), as a training call does before
    /// [`RunningStats::blend`].
    ///
    /// # Errors
    /// [`NormError::Counter`] naming `op` if the counter would overflow.
    pub fn count_batch(&mut self, op: &'static str) -> Result<(), NormError> {
        self.num_batches_tracked = self
            .num_batches_tracked
            .checked_add(1)
            .filter(|&v| v > 0)
            .ok_or(NormError::Counter {
                op,
                count: self.num_batches_tracked,
            })?;
        Ok(())
    }

    /// `running = (1 − factor)·running + factor·batch` for mean and variance
    /// (`batch_var` is the unbiased batch variance), computed in `f64`.
    ///
    /// # Errors
    /// [`NormError::Tensor`] if a batch slice is shorter than the buffers.
    pub fn blend(
        &mut self,
        factor: f64,
        batch_mean: &[f64],
        batch_var: &[f64],
    ) -> Result<(), NormError> {
        let mix = |old: &Tensor<F>, new: &[f64]| -> Result<Tensor<F>, NormError> {
            let v = old
                .as_slice()
                .iter()
                .zip(new)
                .map(|(&o, &n)| F::cast((1.0 - factor) * o.widen() + factor * n))
                .collect();
            Ok(Tensor::from_vec(old.shape(), v)?)
        };
        self.mean = mix(&self.mean, batch_mean)?;
        self.var = mix(&self.var, batch_var)?;
        Ok(())
    }
}
