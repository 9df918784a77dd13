//! `CosineAnnealingLR`.

use core_tensor::Float;

use super::rates::{EpochRates, at_least_one, finite};
use super::{LrScheduler, SchedulerState, count};
use crate::Result;
use crate::optim::Optimizer;

/// `torch.optim.lr_scheduler.CosineAnnealingLR` in its closed form: after
/// epoch `e`, `lr = eta_min + (base_lr − eta_min)·(1 + cos(π·e/T_max))/2`.
///
/// PyTorch's `step()` uses an equivalent recursive form; the values agree
/// up to rounding (its `_get_closed_form_lr` is this formula).
#[derive(Clone, Debug)]
pub struct CosineAnnealingLR {
    rates: EpochRates,
    t_max: usize,
    eta_min: f64,
}

impl CosineAnnealingLR {
    /// A schedule from the optimizer's base rates.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `t_max == 0` or a non-finite
    /// `eta_min`.
    pub fn new<F: Float>(opt: &dyn Optimizer<F>, t_max: usize, eta_min: f64) -> Result<Self> {
        at_least_one("CosineAnnealingLR", "T_max", t_max)?;
        finite("CosineAnnealingLR", "eta_min", eta_min)?;
        Ok(Self {
            rates: EpochRates::new(opt),
            t_max,
            eta_min,
        })
    }
}

impl<F: Float> LrScheduler<F> for CosineAnnealingLR {
    fn name(&self) -> &'static str {
        "CosineAnnealingLR"
    }

    fn last_epoch(&self) -> usize {
        self.rates.epoch
    }

    fn set_epoch(&mut self, opt: &mut dyn Optimizer<F>, epoch: usize) -> Result<()> {
        let c = (std::f64::consts::PI * epoch as f64 / self.t_max as f64).cos();
        let eta_min = self.eta_min;
        self.rates
            .set(opt, epoch, |b| eta_min + (b - eta_min) * (1.0 + c) / 2.0);
        Ok(())
    }

    fn last_lr(&self) -> Vec<f64> {
        self.rates.last.clone()
    }

    fn state_dict(&self) -> SchedulerState {
        self.rates.state(
            "CosineAnnealingLR",
            [("T_max", self.t_max as f64), ("eta_min", self.eta_min)],
        )
    }

    fn load_state_dict(&mut self, s: &SchedulerState) -> Result<()> {
        const K: &str = "CosineAnnealingLR";
        let rates = self.rates.loaded(s, K)?;
        let t_max = count(s.get("T_max")?, K, "T_max")?.max(1);
        let eta_min = s.get("eta_min")?;
        (self.rates, self.t_max, self.eta_min) = (rates, t_max, eta_min);
        Ok(())
    }
}
