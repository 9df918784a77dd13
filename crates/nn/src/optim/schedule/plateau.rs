//! `ReduceLROnPlateau`.

use core_tensor::Float;

use super::{SchedulerState, count};
use crate::optim::Optimizer;
use crate::{NnError, Result};

/// Whether [`ReduceLROnPlateau`] watches a quantity that should fall
/// (a loss) or rise (an accuracy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PlateauMode {
    /// Lower is better (`mode="min"`).
    #[default]
    Min,
    /// Higher is better (`mode="max"`).
    Max,
}

/// How [`ReduceLROnPlateau`] measures a significant improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ThresholdMode {
    /// Relative: better than `best·(1 ∓ threshold)` (`threshold_mode="rel"`).
    #[default]
    Rel,
    /// Absolute: better than `best ∓ threshold` (`threshold_mode="abs"`).
    Abs,
}

/// Settings of [`ReduceLROnPlateau`], with PyTorch's defaults
/// ([`PlateauOptions::default`]).
#[derive(Clone, Debug, PartialEq)]
pub struct PlateauOptions {
    /// Min or max (min).
    pub mode: PlateauMode,
    /// `new_lr = lr · factor` (0.1); must be below 1.
    pub factor: f64,
    /// Epochs without improvement tolerated before a reduction (10).
    pub patience: usize,
    /// Size of a significant improvement (1e-4).
    pub threshold: f64,
    /// Relative or absolute threshold (relative).
    pub threshold_mode: ThresholdMode,
    /// Epochs after a reduction during which bad epochs are not counted (0).
    pub cooldown: usize,
    /// Lower bound of the rate: one value for all groups, or one per group
    /// (`[0.0]`).
    pub min_lr: Vec<f64>,
    /// Reductions smaller than this are skipped (1e-8).
    pub eps: f64,
}

impl Default for PlateauOptions {
    fn default() -> Self {
        Self {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: vec![0.0],
            eps: 1e-8,
        }
    }
}

/// `torch.optim.lr_scheduler.ReduceLROnPlateau`: multiplies the rates by
/// `factor` once a watched metric has not improved for more than
/// `patience` epochs.
///
/// Per [`ReduceLROnPlateau::step`] with metric `a`: `a` improves on `best`
/// when `a < best·(1 − threshold)` (min, rel), `a < best − threshold`
/// (min, abs), `a > best·(1 + threshold)` (max, rel) or `a > best +
/// threshold` (max, abs); an improvement resets the bad-epoch count,
/// anything else (NaN included) adds one. During a cooldown the count is
/// held at 0. When the count exceeds `patience`, each group's rate becomes
/// `max(lr·factor, min_lr)` if that lowers it by more than `eps`, the
/// cooldown starts and the count resets.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::optim::{PlateauOptions, ReduceLROnPlateau};
/// use nn::{Optimizer, Sgd, SgdOptions};
/// let p = Var::leaf(Tensor::<f64>::zeros(&[1]));
/// let mut opt = Sgd::new(vec![p], SgdOptions::new(1.0))?;
/// let options = PlateauOptions { patience: 1, ..PlateauOptions::default() };
/// let mut plateau = ReduceLROnPlateau::new(&opt, options)?;
/// for loss in [1.0, 0.5, 0.6, 0.7] {
///     plateau.step(&mut opt, loss);
/// }
/// assert!((opt.lr() - 0.1).abs() < 1e-15);       // two bad epochs after 0.5
/// # Ok::<(), nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReduceLROnPlateau {
    options: PlateauOptions,
    min_lrs: Vec<f64>,
    best: f64,
    num_bad_epochs: usize,
    cooldown_counter: usize,
    epoch: usize,
    last: Vec<f64>,
}

impl ReduceLROnPlateau {
    /// A schedule for the groups of `opt`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `factor ≥ 1` (or not positive), a
    /// negative or non-finite `threshold`, `eps` or `min_lr`, or a `min_lr`
    /// list of another length than 1 or the group count.
    pub fn new<F: Float>(opt: &dyn Optimizer<F>, options: PlateauOptions) -> Result<Self> {
        const K: &str = "ReduceLROnPlateau";
        let o = &options;
        if !(o.factor > 0.0 && o.factor < 1.0) {
            return Err(NnError::config(
                K,
                "factor",
                format!("factor should be in (0, 1), got {}", o.factor),
            ));
        }
        for (name, v) in [("threshold", o.threshold), ("eps", o.eps)]
            .into_iter()
            .chain(o.min_lr.iter().map(|&v| ("min_lr", v)))
        {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(NnError::config(
                    K,
                    name,
                    format!("must be a non-negative number, got {v}"),
                ));
            }
        }
        let groups = opt.num_groups();
        let min_lrs = match o.min_lr.len() {
            1 => vec![o.min_lr[0]; groups],
            n if n == groups => o.min_lr.clone(),
            n => {
                return Err(NnError::config(
                    K,
                    "min_lr",
                    format!("expected one min_lr or one per group ({groups}), got {n}"),
                ));
            }
        };
        Ok(Self {
            best: Self::worst(o.mode),
            options,
            min_lrs,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            epoch: 0,
            last: (0..groups)
                .map(|g| opt.group_lr(g).unwrap_or(0.0))
                .collect(),
        })
    }

    fn worst(mode: PlateauMode) -> f64 {
        match mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        }
    }

    fn is_better(&self, a: f64) -> bool {
        let (best, t) = (self.best, self.options.threshold);
        match (self.options.mode, self.options.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - t),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - t,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (t + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + t,
        }
    }

    /// Ends an epoch whose watched value was `metric`, reducing the rates
    /// when it has stalled (see the type's documentation).
    pub fn step<F: Float>(&mut self, opt: &mut dyn Optimizer<F>, metric: f64) {
        self.epoch = self.epoch.saturating_add(1);
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs = self.num_bad_epochs.saturating_add(1);
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.options.patience {
            for (g, &min_lr) in self.min_lrs.iter().enumerate() {
                let Some(old) = opt.group_lr(g) else { continue };
                let new = (old * self.options.factor).max(min_lr);
                if old - new > self.options.eps {
                    opt.set_group_lr(g, new);
                }
            }
            self.cooldown_counter = self.options.cooldown;
            self.num_bad_epochs = 0;
        }
        self.last = (0..self.min_lrs.len())
            .map(|g| opt.group_lr(g).unwrap_or(0.0))
            .collect();
    }

    /// The number of steps taken.
    pub fn last_epoch(&self) -> usize {
        self.epoch
    }

    /// The rates after the last step, one per group.
    pub fn last_lr(&self) -> Vec<f64> {
        self.last.clone()
    }

    /// The best metric seen so far (`inf` / `-inf` before the first step).
    pub fn best(&self) -> f64 {
        self.best
    }

    /// The state: counters, best value and settings.
    pub fn state_dict(&self) -> SchedulerState {
        let o = &self.options;
        let mut s = SchedulerState::new(
            "ReduceLROnPlateau",
            [
                ("last_epoch", self.epoch as f64),
                ("best", self.best),
                ("num_bad_epochs", self.num_bad_epochs as f64),
                ("cooldown_counter", self.cooldown_counter as f64),
                ("mode_max", f64::from(u8::from(o.mode == PlateauMode::Max))),
                ("factor", o.factor),
                ("patience", o.patience as f64),
                ("threshold", o.threshold),
                (
                    "threshold_abs",
                    f64::from(u8::from(o.threshold_mode == ThresholdMode::Abs)),
                ),
                ("cooldown", o.cooldown as f64),
                ("eps", o.eps),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        s.put_list("min_lrs", &self.min_lrs);
        s.put_list("last_lr", &self.last);
        s
    }

    /// Restores a state saved by [`ReduceLROnPlateau::state_dict`]
    /// (settings included, as PyTorch's `load_state_dict` does).
    ///
    /// # Errors
    /// [`NnError::StateMismatch`] for another kind of schedule, a missing
    /// value or another group count.
    pub fn load_state_dict(&mut self, s: &SchedulerState) -> Result<()> {
        const K: &str = "ReduceLROnPlateau";
        s.expect_kind(K)?;
        let n = self.min_lrs.len();
        let epoch = count(s.get("last_epoch")?, K, "last_epoch")?;
        let bad = count(s.get("num_bad_epochs")?, K, "num_bad_epochs")?;
        let cool = count(s.get("cooldown_counter")?, K, "cooldown_counter")?;
        let options = PlateauOptions {
            mode: if s.get("mode_max")? != 0.0 {
                PlateauMode::Max
            } else {
                PlateauMode::Min
            },
            factor: s.get("factor")?,
            patience: count(s.get("patience")?, K, "patience")?,
            threshold: s.get("threshold")?,
            threshold_mode: if s.get("threshold_abs")? != 0.0 {
                ThresholdMode::Abs
            } else {
                ThresholdMode::Rel
            },
            cooldown: count(s.get("cooldown")?, K, "cooldown")?,
            min_lr: s.list("min_lrs", n)?,
            eps: s.get("eps")?,
        };
        let (best, last) = (s.get("best")?, s.list("last_lr", n)?);
        self.min_lrs = options.min_lr.clone();
        self.options = options;
        (self.epoch, self.num_bad_epochs, self.cooldown_counter) = (epoch, bad, cool);
        (self.best, self.last) = (best, last);
        Ok(())
    }
}
