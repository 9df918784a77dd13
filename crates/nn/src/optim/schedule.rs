//! Learning-rate schedules, stepped once per epoch.

use core_tensor::Float;

use super::Optimizer;
use crate::{NnError, Result};

/// `torch.optim.lr_scheduler.StepLR`: after epoch `e` (counting
/// [`StepLR::step`] calls) the rate is `base_lr · gamma^⌊e / step_size⌋`.
///
/// PyTorch multiplies the current rate by `gamma` every `step_size`
/// epochs; the closed form used here is equal up to rounding.
#[derive(Clone, Debug)]
pub struct StepLR {
    base_lr: f64,
    step_size: usize,
    gamma: f64,
    epoch: usize,
}

impl StepLR {
    /// A schedule starting from the optimizer's current rate.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `step_size == 0`.
    pub fn new<F: Float>(opt: &dyn Optimizer<F>, step_size: usize, gamma: f64) -> Result<Self> {
        if step_size == 0 {
            return Err(NnError::config(
                "StepLR",
                "step_size",
                "step_size must be at least 1",
            ));
        }
        Ok(Self {
            base_lr: opt.lr(),
            step_size,
            gamma,
            epoch: 0,
        })
    }

    /// Ends an epoch: advances the count and sets the optimizer's rate.
    pub fn step<F: Float>(&mut self, opt: &mut dyn Optimizer<F>) {
        self.epoch += 1;
        let k = (self.epoch / self.step_size) as i32;
        opt.set_lr(self.base_lr * self.gamma.powi(k));
    }
}

/// `torch.optim.lr_scheduler.CosineAnnealingLR` in its closed form:
/// after epoch `e`, `lr = eta_min + (base_lr − eta_min)·(1 + cos(π·e/T_max))/2`.
///
/// PyTorch's `step()` uses an equivalent recursive form; the values agree
/// up to rounding (its `_get_closed_form_lr` is this formula).
#[derive(Clone, Debug)]
pub struct CosineAnnealingLR {
    base_lr: f64,
    t_max: usize,
    eta_min: f64,
    epoch: usize,
}

impl CosineAnnealingLR {
    /// A schedule starting from the optimizer's current rate.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `t_max == 0`.
    pub fn new<F: Float>(opt: &dyn Optimizer<F>, t_max: usize, eta_min: f64) -> Result<Self> {
        if t_max == 0 {
            return Err(NnError::config(
                "CosineAnnealingLR",
                "T_max",
                "T_max must be at least 1",
            ));
        }
        Ok(Self {
            base_lr: opt.lr(),
            t_max,
            eta_min,
            epoch: 0,
        })
    }

    /// Ends an epoch: advances the count and sets the optimizer's rate.
    pub fn step<F: Float>(&mut self, opt: &mut dyn Optimizer<F>) {
        self.epoch += 1;
        let c = (std::f64::consts::PI * self.epoch as f64 / self.t_max as f64).cos();
        opt.set_lr(self.eta_min + (self.base_lr - self.eta_min) * (1.0 + c) / 2.0);
    }
}
