//! What the closed-form schedules (`StepLR`, `CosineAnnealingLR`,
//! `LinearLR`) share: the base rates, the epoch and the last rates, set
//! from a formula of the base rate, saved and restored as `last_epoch`,
//! `base_lrs` and `last_lr`, and their constructors' argument checks.

use core_tensor::Float;

use super::{SchedulerState, apply, base_lrs, count};
use crate::optim::Optimizer;
use crate::{NnError, Result};

/// The rates of a schedule whose rate at epoch `e` is a function of the
/// base rate and `e` alone.
#[derive(Clone, Debug)]
pub(super) struct EpochRates {
    /// One base rate per group (PyTorch's `initial_lr`).
    pub(super) base_lrs: Vec<f64>,
    /// `last_epoch`.
    pub(super) epoch: usize,
    /// The rates set at `epoch`.
    pub(super) last: Vec<f64>,
}

impl EpochRates {
    /// Epoch 0 with the optimizer's base rates as the last rates.
    pub(super) fn new<F: Float>(opt: &dyn Optimizer<F>) -> Self {
        let base_lrs = base_lrs(opt);
        Self {
            last: base_lrs.clone(),
            base_lrs,
            epoch: 0,
        }
    }

    /// Moves to `epoch` and sets every group's rate to `lr(base_lr)`.
    pub(super) fn set<F: Float>(
        &mut self,
        opt: &mut dyn Optimizer<F>,
        epoch: usize,
        lr: impl Fn(f64) -> f64,
    ) {
        self.epoch = epoch;
        self.last = self.base_lrs.iter().map(|&b| lr(b)).collect();
        apply(opt, &self.last);
    }

    /// The state of a schedule of kind `kind`: `last_epoch`, the schedule's
    /// own `params`, `base_lrs` and `last_lr`.
    pub(super) fn state<'a>(
        &self,
        kind: &str,
        params: impl IntoIterator<Item = (&'a str, f64)>,
    ) -> SchedulerState {
        let values = std::iter::once(("last_epoch", self.epoch as f64))
            .chain(params)
            .map(|(k, v)| (k.to_string(), v));
        let mut s = SchedulerState::new(kind, values);
        s.put_list("base_lrs", &self.base_lrs);
        s.put_list("last_lr", &self.last);
        s
    }

    /// The rates saved in `s` by a schedule of kind `kind` with as many
    /// groups as this one; `self` is left as it is, so that a caller can
    /// read its own values before changing anything.
    ///
    /// # Errors
    /// [`NnError::StateMismatch`] for another kind, a missing value or
    /// another group count.
    pub(super) fn loaded(&self, s: &SchedulerState, kind: &'static str) -> Result<Self> {
        s.expect_kind(kind)?;
        let n = self.base_lrs.len();
        Ok(Self {
            epoch: count(s.get("last_epoch")?, kind, "last_epoch")?,
            base_lrs: s.list("base_lrs", n)?,
            last: s.list("last_lr", n)?,
        })
    }
}

/// [`NnError::InvalidConfig`] of `module` unless `value` is at least 1.
pub(super) fn at_least_one(module: &'static str, key: &'static str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(NnError::config(
            module,
            key,
            format!("{key} must be at least 1"),
        ));
    }
    Ok(())
}

/// [`NnError::InvalidConfig`] of `module` unless `value` is finite.
pub(super) fn finite(module: &'static str, key: &'static str, value: f64) -> Result<()> {
    if !value.is_finite() {
        return Err(NnError::config(
            module,
            key,
            format!("{key} must be a finite number, got {value}"),
        ));
    }
    Ok(())
}
