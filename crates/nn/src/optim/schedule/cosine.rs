//! `CosineAnnealingLR`.

use core_tensor::Float;

use super::{LrScheduler, SchedulerState, apply, base_lrs, count};
use crate::optim::Optimizer;
use crate::{NnError, Result};

/// `torch.optim.lr_scheduler.CosineAnnealingLR` in its closed form: after
/// epoch `e`, `lr = eta_min + (base_lr − eta_min)·(1 + cos(π·e/T_max))/2`.
///
/// PyTorch's `step()` uses an equivalent recursive form; the values agree
/// up to rounding (its `_get_closed_form_lr` is this formula).
#[derive(Clone, Debug)]
pub struct CosineAnnealingLR {
    base_lrs: Vec<f64>,
    t_max: usize,
    eta_min: f64,
    epoch: usize,
    last: Vec<f64>,
}

impl CosineAnnealingLR {
    /// A schedule from the optimizer's base rates.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `t_max == 0` or a non-finite
    /// `eta_min`.
    pub fn new<F: Float>(opt: &dyn Optimizer<F>, t_max: usize, eta_min: f64) -> Result<Self> {
        if t_max == 0 {
            return Err(NnError::config(
                "CosineAnnealingLR",
                "T_max",
                "T_max must be at least 1",
            ));
        }
        if !eta_min.is_finite() {
            return Err(NnError::config(
                "CosineAnnealingLR",
                "eta_min",
                format!("eta_min must be a finite number, got {eta_min}"),
            ));
        }
        let base_lrs = base_lrs(opt);
        Ok(Self {
            last: base_lrs.clone(),
            base_lrs,
            t_max,
            eta_min,
            epoch: 0,
        })
    }
}

impl<F: Float> LrScheduler<F> for CosineAnnealingLR {
    fn name(&self) -> &'static str {
        "CosineAnnealingLR"
    }

    fn last_epoch(&self) -> usize {
        self.epoch
    }

    fn set_epoch(&mut self, opt: &mut dyn Optimizer<F>, epoch: usize) -> Result<()> {
        self.epoch = epoch;
        let c = (std::f64::consts::PI * epoch as f64 / self.t_max as f64).cos();
        self.last = self
            .base_lrs
            .iter()
            .map(|b| self.eta_min + (b - self.eta_min) * (1.0 + c) / 2.0)
            .collect();
        apply(opt, &self.last);
        Ok(())
    }

    fn last_lr(&self) -> Vec<f64> {
        self.last.clone()
    }

    fn state_dict(&self) -> SchedulerState {
        let mut s = SchedulerState::new(
            "CosineAnnealingLR",
            [
                ("last_epoch".to_string(), self.epoch as f64),
                ("T_max".to_string(), self.t_max as f64),
                ("eta_min".to_string(), self.eta_min),
            ],
        );
        s.put_list("base_lrs", &self.base_lrs);
        s.put_list("last_lr", &self.last);
        s
    }

    fn load_state_dict(&mut self, s: &SchedulerState) -> Result<()> {
        const K: &str = "CosineAnnealingLR";
        s.expect_kind(K)?;
        let n = self.base_lrs.len();
        let t_max = count(s.get("T_max")?, K, "T_max")?.max(1);
        let epoch = count(s.get("last_epoch")?, K, "last_epoch")?;
        let (eta_min, base, last) = (
            s.get("eta_min")?,
            s.list("base_lrs", n)?,
            s.list("last_lr", n)?,
        );
        (self.epoch, self.t_max, self.eta_min) = (epoch, t_max, eta_min);
        (self.base_lrs, self.last) = (base, last);
        Ok(())
    }
}
