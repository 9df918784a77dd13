//! Optimizers (`SGD`, `Adam`, `AdamW`) with PyTorch's update rules and
//! parameter groups, their state dicts, and learning-rate schedules
//! (`StepLR`, `CosineAnnealingLR`, `LinearLR`, `OneCycleLR`,
//! `ReduceLROnPlateau`, `SequentialLR`).

mod adam;
mod group;
mod schedule;
mod sgd;
mod state;

pub use adam::{Adam, AdamOptions, AdamW};
pub use group::ParamGroup;
pub use schedule::{
    AnnealStrategy, CosineAnnealingLR, LinearLR, LrScheduler, OneCycleLR, OneCycleOptions,
    PlateauMode, PlateauOptions, ReduceLROnPlateau, SchedulerState, SequentialLR, StepLR,
    ThresholdMode,
};
pub use sgd::{Sgd, SgdOptions};
pub use state::{GroupState, OptimizerState, ParamState};

use autograd::Var;
use core_tensor::{Float, Tensor};

use crate::Result;

/// An optimizer over parameter groups (`torch.optim.Optimizer`).
///
/// Each group has its own hyper-parameters (learning rate, weight decay,
/// ...); [`Optimizer::lr`] / [`Optimizer::set_lr`] read the first group and
/// set every group, the `group_*` methods address one group.
pub trait Optimizer<F: Float> {
    /// Applies one update to every parameter that has a gradient and
    /// requires grad (the others are skipped, as in PyTorch), in place
    /// through [`Var::set_value`].
    ///
    /// # Errors
    /// [`crate::NnError::Autograd`] if a parameter is not a leaf.
    fn step(&mut self) -> Result<()>;

    /// Clears every parameter's gradient (`set_to_none=True`).
    fn zero_grad(&self);

    /// PyTorch's class name (`"SGD"`, `"Adam"`, `"AdamW"`).
    fn name(&self) -> &'static str;

    /// The number of parameter groups.
    fn num_groups(&self) -> usize;

    /// The learning rate of group `group` (`param_groups[group]["lr"]`),
    /// `None` past the last group.
    fn group_lr(&self, group: usize) -> Option<f64>;

    /// Sets the learning rate of one group; an index past the last group
    /// is ignored (schedules only address existing groups).
    fn set_group_lr(&mut self, group: usize, lr: f64);

    /// The rate group `group` was built with (PyTorch's `initial_lr`, the
    /// base rate of every schedule), `None` past the last group.
    fn initial_lr(&self, group: usize) -> Option<f64>;

    /// The momentum of a group that has one: SGD's `momentum`, Adam's
    /// `β1` (what `OneCycleLR` cycles).
    fn group_momentum(&self, group: usize) -> Option<f64>;

    /// Sets the momentum (SGD) or `β1` (Adam) of one group; ignored past
    /// the last group.
    fn set_group_momentum(&mut self, group: usize, momentum: f64);

    /// The state: per-parameter buffers and step counts, and every group's
    /// hyper-parameters (`optimizer.state_dict()`).
    fn state_dict(&self) -> OptimizerState<F>;

    /// Restores a state saved by [`Optimizer::state_dict`] of an optimizer
    /// of the same kind over parameters of the same shapes, grouped the
    /// same way. Checks everything before changing anything.
    ///
    /// # Errors
    /// [`crate::NnError::StateMismatch`] for another optimizer kind, group
    /// count, parameter count, buffer shape or missing entry;
    /// [`crate::NnError::InvalidConfig`] for an invalid hyper-parameter.
    fn load_state_dict(&mut self, state: &OptimizerState<F>) -> Result<()>;

    /// The learning rate of the first group.
    fn lr(&self) -> f64 {
        self.group_lr(0).unwrap_or(0.0)
    }

    /// Sets the learning rate of every group.
    fn set_lr(&mut self, lr: f64) {
        for g in 0..self.num_groups() {
            self.set_group_lr(g, lr);
        }
    }
}

/// A parameter's value and gradient, or `None` without a gradient or for a
/// frozen parameter (one that does not require grad).
fn value_and_grad<F: Float>(p: &Var<F>) -> Option<(Tensor<F>, Tensor<F>)> {
    if !p.requires_grad() {
        return None;
    }
    let g = p.grad()?;
    Some((p.value(), g))
}

fn check_hyper(module: &'static str, name: &'static str, v: f64, ok: bool) -> Result<()> {
    if ok && v.is_finite() {
        Ok(())
    } else {
        Err(crate::NnError::config(
            module,
            name,
            format!("invalid {name} value: {v}"),
        ))
    }
}
