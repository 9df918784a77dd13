//! `LinearLR`.

use core_tensor::Float;

use super::rates::EpochRates;
use super::{LrScheduler, SchedulerState, count};
use crate::optim::Optimizer;
use crate::{NnError, Result};

/// `torch.optim.lr_scheduler.LinearLR`: the rate moves linearly from
/// `start_factor · base_lr` to `end_factor · base_lr` over `total_iters`
/// steps, then stays there:
///
/// ```text
/// lr(e) = base_lr · (start_factor + (end_factor − start_factor) · min(e, total_iters) / total_iters)
/// ```
///
/// PyTorch's defaults are `start_factor = 1/3`, `end_factor = 1`,
/// `total_iters = 5` ([`LinearLR::with_defaults`]). Building the schedule
/// sets the rate to its epoch-0 value, as PyTorch's constructor does;
/// PyTorch's recursive update equals this closed form up to rounding.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::optim::{LinearLR, LrScheduler};
/// use nn::{Optimizer, Sgd, SgdOptions};
/// let p = Var::leaf(Tensor::<f64>::zeros(&[1]));
/// let mut opt = Sgd::new(vec![p], SgdOptions::new(0.3))?;
/// let mut warm = LinearLR::with_defaults(&mut opt)?;
/// assert!((opt.lr() - 0.1).abs() < 1e-15);
/// for _ in 0..5 { warm.step(&mut opt)?; }
/// assert!((opt.lr() - 0.3).abs() < 1e-15);
/// # Ok::<(), nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct LinearLR {
    rates: EpochRates,
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
}

impl LinearLR {
    /// A schedule from the optimizer's base rates; sets the rates to
    /// `start_factor · base_lr`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `start_factor` outside `(0, 1]` or
    /// `end_factor` outside `[0, 1]` (PyTorch's checks).
    pub fn new<F: Float>(
        opt: &mut dyn Optimizer<F>,
        start_factor: f64,
        end_factor: f64,
        total_iters: usize,
    ) -> Result<Self> {
        if !(start_factor > 0.0 && start_factor <= 1.0) {
            return Err(NnError::config(
                "LinearLR",
                "start_factor",
                format!("start_factor must be in (0, 1], got {start_factor}"),
            ));
        }
        if !(0.0..=1.0).contains(&end_factor) {
            return Err(NnError::config(
                "LinearLR",
                "end_factor",
                format!("end_factor must be in [0, 1], got {end_factor}"),
            ));
        }
        let mut s = Self {
            rates: EpochRates::new(opt),
            start_factor,
            end_factor,
            total_iters,
        };
        s.set_epoch(opt, 0)?;
        Ok(s)
    }

    /// PyTorch's defaults: `start_factor = 1/3`, `end_factor = 1`,
    /// `total_iters = 5`.
    ///
    /// # Errors
    /// None in practice (the defaults are valid); as [`LinearLR::new`].
    pub fn with_defaults<F: Float>(opt: &mut dyn Optimizer<F>) -> Result<Self> {
        Self::new(opt, 1.0 / 3.0, 1.0, 5)
    }

    fn factor(&self, epoch: usize) -> f64 {
        if self.total_iters == 0 {
            // PyTorch's recursive update never leaves the start here.
            return self.start_factor;
        }
        let done = epoch.min(self.total_iters) as f64 / self.total_iters as f64;
        self.start_factor + (self.end_factor - self.start_factor) * done
    }
}

impl<F: Float> LrScheduler<F> for LinearLR {
    fn name(&self) -> &'static str {
        "LinearLR"
    }

    fn last_epoch(&self) -> usize {
        self.rates.epoch
    }

    fn set_epoch(&mut self, opt: &mut dyn Optimizer<F>, epoch: usize) -> Result<()> {
        let f = self.factor(epoch);
        self.rates.set(opt, epoch, |b| b * f);
        Ok(())
    }

    fn last_lr(&self) -> Vec<f64> {
        self.rates.last.clone()
    }

    fn state_dict(&self) -> SchedulerState {
        self.rates.state(
            "LinearLR",
            [
                ("start_factor", self.start_factor),
                ("end_factor", self.end_factor),
                ("total_iters", self.total_iters as f64),
            ],
        )
    }

    fn load_state_dict(&mut self, s: &SchedulerState) -> Result<()> {
        const K: &str = "LinearLR";
        let rates = self.rates.loaded(s, K)?;
        let total = count(s.get("total_iters")?, K, "total_iters")?;
        let (start, end) = (s.get("start_factor")?, s.get("end_factor")?);
        (self.rates, self.total_iters) = (rates, total);
        (self.start_factor, self.end_factor) = (start, end);
        Ok(())
    }
}
