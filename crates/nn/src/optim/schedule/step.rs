//! `StepLR`.

use core_tensor::Float;

use super::{LrScheduler, SchedulerState, apply, base_lrs, count};
use crate::optim::Optimizer;
use crate::{NnError, Result};

/// `torch.optim.lr_scheduler.StepLR`: after epoch `e` (counting steps) the
/// rate of each group is `base_lr · gamma^⌊e / step_size⌋`.
///
/// PyTorch multiplies the current rate by `gamma` every `step_size`
/// epochs; the closed form used here is equal up to rounding.
#[derive(Clone, Debug)]
pub struct StepLR {
    base_lrs: Vec<f64>,
    step_size: usize,
    gamma: f64,
    epoch: usize,
    last: Vec<f64>,
}

impl StepLR {
    /// A schedule from the optimizer's base rates.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `step_size == 0` or a non-finite
    /// `gamma`.
    pub fn new<F: Float>(opt: &dyn Optimizer<F>, step_size: usize, gamma: f64) -> Result<Self> {
        if step_size == 0 {
            return Err(NnError::config(
                "StepLR",
                "step_size",
                "step_size must be at least 1",
            ));
        }
        if !gamma.is_finite() {
            return Err(NnError::config(
                "StepLR",
                "gamma",
                format!("gamma must be a finite number, got {gamma}"),
            ));
        }
        let base_lrs = base_lrs(opt);
        Ok(Self {
            last: base_lrs.clone(),
            base_lrs,
            step_size,
            gamma,
            epoch: 0,
        })
    }
}

impl<F: Float> LrScheduler<F> for StepLR {
    fn name(&self) -> &'static str {
        "StepLR"
    }

    fn last_epoch(&self) -> usize {
        self.epoch
    }

    fn set_epoch(&mut self, opt: &mut dyn Optimizer<F>, epoch: usize) -> Result<()> {
        self.epoch = epoch;
        let k = i32::try_from(epoch / self.step_size).unwrap_or(i32::MAX);
        self.last = self
            .base_lrs
            .iter()
            .map(|b| b * self.gamma.powi(k))
            .collect();
        apply(opt, &self.last);
        Ok(())
    }

    fn last_lr(&self) -> Vec<f64> {
        self.last.clone()
    }

    fn state_dict(&self) -> SchedulerState {
        let mut s = SchedulerState::new(
            "StepLR",
            [
                ("last_epoch".to_string(), self.epoch as f64),
                ("step_size".to_string(), self.step_size as f64),
                ("gamma".to_string(), self.gamma),
            ],
        );
        s.put_list("base_lrs", &self.base_lrs);
        s.put_list("last_lr", &self.last);
        s
    }

    fn load_state_dict(&mut self, s: &SchedulerState) -> Result<()> {
        s.expect_kind("StepLR")?;
        let n = self.base_lrs.len();
        let step_size = count(s.get("step_size")?, "StepLR", "step_size")?.max(1);
        let (epoch, gamma) = (
            count(s.get("last_epoch")?, "StepLR", "last_epoch")?,
            s.get("gamma")?,
        );
        let (base, last) = (s.list("base_lrs", n)?, s.list("last_lr", n)?);
        (self.epoch, self.step_size, self.gamma) = (epoch, step_size, gamma);
        (self.base_lrs, self.last) = (base, last);
        Ok(())
    }
}
