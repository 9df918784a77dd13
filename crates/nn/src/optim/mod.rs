//! Optimizers (`SGD`, `Adam`, `AdamW`) and learning-rate schedules
//! (`StepLR`, `CosineAnnealingLR`), with PyTorch's update rules.

mod adam;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamOptions, AdamW};
pub use schedule::{CosineAnnealingLR, StepLR};
pub use sgd::{Sgd, SgdOptions};

use autograd::Var;
use core_tensor::{Float, Tensor};

use crate::Result;

/// An optimizer over a fixed list of parameters.
pub trait Optimizer<F: Float> {
    /// Applies one update to every parameter that has a gradient (those
    /// without one are skipped, as in PyTorch), in place through
    /// [`Var::set_value`].
    ///
    /// # Errors
    /// [`crate::NnError::Autograd`] if a parameter is not a leaf.
    fn step(&mut self) -> Result<()>;

    /// Clears every parameter's gradient (`set_to_none=True`).
    fn zero_grad(&self);

    /// The current learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate (what a schedule does).
    fn set_lr(&mut self, lr: f64);
}

/// A parameter's value and gradient as vectors, or `None` without a gradient.
fn value_and_grad<F: Float>(p: &Var<F>) -> Option<(Tensor<F>, Tensor<F>)> {
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
