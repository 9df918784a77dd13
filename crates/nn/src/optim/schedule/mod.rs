//! Learning-rate schedules: the [`LrScheduler`] trait, its state dict, and
//! PyTorch's `lr_scheduler` classes, one per file.

mod cosine;
mod linear;
mod one_cycle;
mod plateau;
mod rates;
mod sequential;
mod state;
mod step;

pub use cosine::CosineAnnealingLR;
pub use linear::LinearLR;
pub use one_cycle::{AnnealStrategy, OneCycleLR, OneCycleOptions};
pub use plateau::{PlateauMode, PlateauOptions, ReduceLROnPlateau, ThresholdMode};
pub use sequential::SequentialLR;
pub use state::SchedulerState;
pub use step::StepLR;

use core_tensor::Float;

use super::Optimizer;
use crate::{NnError, Result};

/// A learning-rate schedule stepped by epoch (or by batch, for
/// [`OneCycleLR`]), like `torch.optim.lr_scheduler.LRScheduler`.
///
/// Every schedule here has a closed form: the rate after `e` steps is a
/// function of `e` and the group's base rate (the rate the optimizer was
/// built with, PyTorch's `initial_lr`), so [`LrScheduler::set_epoch`] can
/// jump anywhere and a restored state gives the same rates as an
/// uninterrupted run.
pub trait LrScheduler<F: Float> {
    /// PyTorch's class name (`"StepLR"`).
    fn name(&self) -> &'static str;

    /// The number of steps taken (`last_epoch`).
    fn last_epoch(&self) -> usize;

    /// Sets the step count to `epoch` and the optimizer's rates (and
    /// momenta, for [`OneCycleLR`]) to their values there.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for an epoch past the end of a finite
    /// schedule ([`OneCycleLR`]).
    fn set_epoch(&mut self, opt: &mut dyn Optimizer<F>, epoch: usize) -> Result<()>;

    /// Ends a step (`scheduler.step()`): advances the count and sets the
    /// optimizer's rates.
    ///
    /// # Errors
    /// As [`LrScheduler::set_epoch`].
    fn step(&mut self, opt: &mut dyn Optimizer<F>) -> Result<()> {
        let next = self.last_epoch().saturating_add(1);
        self.set_epoch(opt, next)
    }

    /// The rates set by the last step, one per group (`get_last_lr()`).
    fn last_lr(&self) -> Vec<f64>;

    /// The schedule's state (`scheduler.state_dict()`).
    fn state_dict(&self) -> SchedulerState;

    /// Restores a state saved by the same kind of schedule. The optimizer's
    /// rates are not touched: restore the optimizer's own state too.
    ///
    /// # Errors
    /// [`NnError::StateMismatch`] for another kind of schedule, a missing
    /// value or another group count.
    fn load_state_dict(&mut self, state: &SchedulerState) -> Result<()>;
}

/// The base rate of every group of `opt` (PyTorch's `initial_lr`).
fn base_lrs<F: Float>(opt: &dyn Optimizer<F>) -> Vec<f64> {
    (0..opt.num_groups())
        .map(|g| opt.initial_lr(g).unwrap_or(0.0))
        .collect()
}

/// Sets one rate per group.
fn apply<F: Float>(opt: &mut dyn Optimizer<F>, lrs: &[f64]) {
    for (g, &lr) in lrs.iter().enumerate() {
        opt.set_group_lr(g, lr);
    }
}

/// A non-negative integer stored in a state as `f64`.
fn count(v: f64, module: &'static str, key: &str) -> Result<usize> {
    if v >= 0.0 && v.fract() == 0.0 && v <= usize::MAX as f64 {
        Ok(v as usize)
    } else {
        Err(NnError::StateMismatch {
            module,
            reason: format!("`{key}` = {v} is not a step count"),
        })
    }
}
