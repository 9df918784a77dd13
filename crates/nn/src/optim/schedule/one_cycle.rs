//! `OneCycleLR`.

use core_tensor::Float;

use super::{LrScheduler, SchedulerState, apply, count};
use crate::optim::Optimizer;
use crate::{NnError, Result};

/// How [`OneCycleLR`] moves between two values within a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AnnealStrategy {
    /// `end + (start − end)·(1 + cos(π·pct))/2` (`anneal_strategy="cos"`).
    #[default]
    Cos,
    /// `start + (end − start)·pct` (`anneal_strategy="linear"`).
    Linear,
}

impl AnnealStrategy {
    fn at(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            AnnealStrategy::Cos => {
                end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
            }
            AnnealStrategy::Linear => (end - start) * pct + start,
        }
    }
}

/// Settings of [`OneCycleLR`] beyond `max_lr` and the step count, with
/// PyTorch's defaults ([`OneCycleOptions::default`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneCycleOptions {
    /// Fraction of the steps spent increasing the rate (0.3).
    pub pct_start: f64,
    /// Cosine or linear annealing (cosine).
    pub anneal_strategy: AnnealStrategy,
    /// Cycle the momentum (SGD) or `β1` (Adam) inversely to the rate (true).
    pub cycle_momentum: bool,
    /// The lowest momentum, reached at the peak rate (0.85).
    pub base_momentum: f64,
    /// The highest momentum, at the start and the end (0.95).
    pub max_momentum: f64,
    /// `initial_lr = max_lr / div_factor` (25).
    pub div_factor: f64,
    /// `min_lr = initial_lr / final_div_factor` (1e4).
    pub final_div_factor: f64,
    /// Three phases (up, back down to `initial_lr`, down to `min_lr`)
    /// instead of two (false).
    pub three_phase: bool,
}

impl Default for OneCycleOptions {
    fn default() -> Self {
        Self {
            pct_start: 0.3,
            anneal_strategy: AnnealStrategy::Cos,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        }
    }
}

/// One phase: up to step `end_step`, rate from `start` to `end` (as
/// multiples fixed per group), momentum from `m_start` to `m_end`.
#[derive(Clone, Copy, Debug)]
struct Phase {
    end_step: f64,
    lr: (Which, Which),
    momentum: (f64, f64),
}

#[derive(Clone, Copy, Debug)]
enum Which {
    Initial,
    Max,
    Min,
}

/// `torch.optim.lr_scheduler.OneCycleLR`, stepped once per batch: the rate
/// rises from `max_lr / div_factor` to `max_lr` over the first
/// `pct_start` of `total_steps`, then anneals to `initial_lr /
/// final_div_factor`; the momentum moves the opposite way between
/// `max_momentum` and `base_momentum`.
///
/// Phase ends (in steps) are `pct_start·total − 1` and `total − 1`
/// (three-phase: `pct_start·total − 1`, `2·pct_start·total − 2`,
/// `total − 1`); within a phase from step `a` to `b`, `pct = (e − a)/(b −
/// a)` (taken as 1 for an empty phase, where PyTorch divides by zero).
/// Building the schedule sets the rates to `max_lr / div_factor` and the
/// momenta to `max_momentum`, as PyTorch does; the schedule holds
/// `total_steps + 1` values (steps `0..=total_steps`), stepping further is
/// an error.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::optim::{LrScheduler, OneCycleLR, OneCycleOptions};
/// use nn::{Adam, AdamOptions, Optimizer};
/// let p = Var::leaf(Tensor::<f64>::zeros(&[1]));
/// let mut opt = Adam::new(vec![p], AdamOptions::adam(1e-3))?;
/// let mut sched = OneCycleLR::new(&mut opt, &[0.1], 10, OneCycleOptions::default())?;
/// assert!((opt.lr() - 0.004).abs() < 1e-15);
/// sched.step(&mut opt)?;
/// sched.step(&mut opt)?;                     // the peak, at step pct_start·10 − 1 = 2
/// assert!((opt.lr() - 0.1).abs() < 1e-15);
/// assert_eq!(opt.group_momentum(0), Some(0.85));
/// # Ok::<(), nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct OneCycleLR {
    max_lrs: Vec<f64>,
    total_steps: usize,
    options: OneCycleOptions,
    phases: Vec<Phase>,
    epoch: usize,
    last: Vec<f64>,
}

impl OneCycleLR {
    /// A schedule over `total_steps` steps with one `max_lr` per group (or
    /// one for all groups).
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for `total_steps == 0`, `pct_start`
    /// outside `[0, 1]`, a `max_lr` list of another length than the group
    /// count, a non-positive or non-finite `max_lr`, `div_factor` or
    /// `final_div_factor`, or momenta outside `[0, 1)`.
    pub fn new<F: Float>(
        opt: &mut dyn Optimizer<F>,
        max_lr: &[f64],
        total_steps: usize,
        options: OneCycleOptions,
    ) -> Result<Self> {
        const K: &str = "OneCycleLR";
        if total_steps == 0 {
            return Err(NnError::config(
                K,
                "total_steps",
                "expected a positive number of steps, got 0",
            ));
        }
        let o = options;
        if !(0.0..=1.0).contains(&o.pct_start) {
            return Err(NnError::config(
                K,
                "pct_start",
                format!("expected a float between 0 and 1, got {}", o.pct_start),
            ));
        }
        let groups = opt.num_groups();
        let max_lrs: Vec<f64> = match max_lr.len() {
            1 => vec![max_lr[0]; groups],
            n if n == groups => max_lr.to_vec(),
            n => {
                return Err(NnError::config(
                    K,
                    "max_lr",
                    format!("expected one max_lr or one per group ({groups}), got {n}"),
                ));
            }
        };
        for (name, v) in [
            ("div_factor", o.div_factor),
            ("final_div_factor", o.final_div_factor),
        ]
        .into_iter()
        .chain(max_lrs.iter().map(|&v| ("max_lr", v)))
        {
            if !(v > 0.0 && v.is_finite()) {
                return Err(NnError::config(
                    K,
                    name,
                    format!("must be a positive number, got {v}"),
                ));
            }
        }
        for (name, v) in [
            ("base_momentum", o.base_momentum),
            ("max_momentum", o.max_momentum),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(NnError::config(
                    K,
                    name,
                    format!("must be in [0, 1), got {v}"),
                ));
            }
        }
        let total = total_steps as f64;
        let (lo, hi) = (o.base_momentum, o.max_momentum);
        let phases = if o.three_phase {
            vec![
                Phase {
                    end_step: o.pct_start * total - 1.0,
                    lr: (Which::Initial, Which::Max),
                    momentum: (hi, lo),
                },
                Phase {
                    end_step: 2.0 * o.pct_start * total - 2.0,
                    lr: (Which::Max, Which::Initial),
                    momentum: (lo, hi),
                },
                Phase {
                    end_step: total - 1.0,
                    lr: (Which::Initial, Which::Min),
                    momentum: (hi, hi),
                },
            ]
        } else {
            vec![
                Phase {
                    end_step: o.pct_start * total - 1.0,
                    lr: (Which::Initial, Which::Max),
                    momentum: (hi, lo),
                },
                Phase {
                    end_step: total - 1.0,
                    lr: (Which::Max, Which::Min),
                    momentum: (lo, hi),
                },
            ]
        };
        let mut s = Self {
            last: Vec::new(),
            max_lrs,
            total_steps,
            options,
            phases,
            epoch: 0,
        };
        s.set_epoch(opt, 0)?;
        Ok(s)
    }

    fn value(&self, which: Which, max_lr: f64) -> f64 {
        let initial = max_lr / self.options.div_factor;
        match which {
            Which::Initial => initial,
            Which::Max => max_lr,
            Which::Min => initial / self.options.final_div_factor,
        }
    }
}

impl<F: Float> LrScheduler<F> for OneCycleLR {
    fn name(&self) -> &'static str {
        "OneCycleLR"
    }

    fn last_epoch(&self) -> usize {
        self.epoch
    }

    fn set_epoch(&mut self, opt: &mut dyn Optimizer<F>, epoch: usize) -> Result<()> {
        if epoch > self.total_steps {
            return Err(NnError::config(
                "OneCycleLR",
                "total_steps",
                format!(
                    "tried to step {epoch} times; the schedule has total_steps = {}",
                    self.total_steps
                ),
            ));
        }
        self.epoch = epoch;
        let e = epoch as f64;
        let mut start = 0.0;
        let last_phase = self.phases.len() - 1;
        let (mut phase, mut pct) = (self.phases[last_phase], 1.0);
        for (i, p) in self.phases.iter().enumerate() {
            if e <= p.end_step || i == last_phase {
                let span = p.end_step - start;
                pct = if span > 0.0 { (e - start) / span } else { 1.0 };
                phase = *p;
                break;
            }
            start = p.end_step;
        }
        let anneal = self.options.anneal_strategy;
        self.last = self
            .max_lrs
            .iter()
            .map(|&m| anneal.at(self.value(phase.lr.0, m), self.value(phase.lr.1, m), pct))
            .collect();
        apply(opt, &self.last);
        if self.options.cycle_momentum {
            let m = anneal.at(phase.momentum.0, phase.momentum.1, pct);
            for g in 0..opt.num_groups() {
                opt.set_group_momentum(g, m);
            }
        }
        Ok(())
    }

    fn last_lr(&self) -> Vec<f64> {
        self.last.clone()
    }

    fn state_dict(&self) -> SchedulerState {
        let o = &self.options;
        let mut s = SchedulerState::new(
            "OneCycleLR",
            [
                ("last_epoch", self.epoch as f64),
                ("total_steps", self.total_steps as f64),
                ("pct_start", o.pct_start),
                (
                    "anneal_cos",
                    f64::from(u8::from(o.anneal_strategy == AnnealStrategy::Cos)),
                ),
                ("cycle_momentum", f64::from(u8::from(o.cycle_momentum))),
                ("base_momentum", o.base_momentum),
                ("max_momentum", o.max_momentum),
                ("div_factor", o.div_factor),
                ("final_div_factor", o.final_div_factor),
                ("three_phase", f64::from(u8::from(o.three_phase))),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        s.put_list("max_lrs", &self.max_lrs);
        s.put_list("last_lr", &self.last);
        s
    }

    fn load_state_dict(&mut self, s: &SchedulerState) -> Result<()> {
        const K: &str = "OneCycleLR";
        s.expect_kind(K)?;
        let n = self.max_lrs.len();
        let epoch = count(s.get("last_epoch")?, K, "last_epoch")?;
        let total = count(s.get("total_steps")?, K, "total_steps")?;
        let options = OneCycleOptions {
            pct_start: s.get("pct_start")?,
            anneal_strategy: if s.get("anneal_cos")? != 0.0 {
                AnnealStrategy::Cos
            } else {
                AnnealStrategy::Linear
            },
            cycle_momentum: s.get("cycle_momentum")? != 0.0,
            base_momentum: s.get("base_momentum")?,
            max_momentum: s.get("max_momentum")?,
            div_factor: s.get("div_factor")?,
            final_div_factor: s.get("final_div_factor")?,
            three_phase: s.get("three_phase")? != 0.0,
        };
        if options != self.options || total != self.total_steps {
            return Err(NnError::StateMismatch {
                module: K,
                reason: "the saved schedule has other settings (total_steps, pct_start, \
                         momenta, factors or phases) than this one"
                    .into(),
            });
        }
        let (max_lrs, last) = (s.list("max_lrs", n)?, s.list("last_lr", n)?);
        if epoch > total {
            return Err(NnError::StateMismatch {
                module: K,
                reason: format!("last_epoch {epoch} is past total_steps {total}"),
            });
        }
        (self.epoch, self.max_lrs, self.last) = (epoch, max_lrs, last);
        Ok(())
    }
}
