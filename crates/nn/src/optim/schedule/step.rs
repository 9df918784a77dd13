//! `StepLR`.

use core_tensor::Float;

use super::rates::{EpochRates, at_least_one, finite};
use super::{LrScheduler, SchedulerState, count};
use crate::Result;
use crate::optim::Optimizer;

/// `torch.optim.lr_scheduler.StepLR`: after epoch `e` (counting steps) the
/// rate of each group is `base_lr · gamma^⌊e / step_size⌋`.
///
/// PyTorch multiplies the current rate by `gamma` every `step_size`
/// epochs; the closed form used here is equal up to rounding.
#[derive(Clone, Debug)]
pub struct StepLR {
    rates: EpochRates,
    step_size: usize,
    gamma: f64,
}

impl StepLR {
    /// A schedule from the optimizer's base rates.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `step_size == 0` or a non-finite
    /// `gamma`.
    pub fn new<F: Float>(opt: &dyn Optimizer<F>, step_size: usize, gamma: f64) -> Result<Self> {
        at_least_one("StepLR", "step_size", step_size)?;
        finite("StepLR", "gamma", gamma)?;
        Ok(Self {
            rates: EpochRates::new(opt),
            step_size,
            gamma,
        })
    }
}

impl<F: Float> LrScheduler<F> for StepLR {
    fn name(&self) -> &'static str {
        "StepLR"
    }

    fn last_epoch(&self) -> usize {
        self.rates.epoch
    }

    fn set_epoch(&mut self, opt: &mut dyn Optimizer<F>, epoch: usize) -> Result<()> {
        let k = i32::try_from(epoch / self.step_size).unwrap_or(i32::MAX);
        let factor = self.gamma.powi(k);
        self.rates.set(opt, epoch, |b| b * factor);
        Ok(())
    }

    fn last_lr(&self) -> Vec<f64> {
        self.rates.last.clone()
    }

    fn state_dict(&self) -> SchedulerState {
        self.rates.state(
            "StepLR",
            [("step_size", self.step_size as f64), ("gamma", self.gamma)],
        )
    }

    fn load_state_dict(&mut self, s: &SchedulerState) -> Result<()> {
        let rates = self.rates.loaded(s, "StepLR")?;
        let step_size = count(s.get("step_size")?, "StepLR", "step_size")?.max(1);
        let gamma = s.get("gamma")?;
        (self.rates, self.step_size, self.gamma) = (rates, step_size, gamma);
        Ok(())
    }
}
