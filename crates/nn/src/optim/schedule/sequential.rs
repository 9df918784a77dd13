//! `SequentialLR`: schedules one after another (warm-up chaining).

use core_tensor::Float;

use super::{LrScheduler, SchedulerState, apply, base_lrs, count};
use crate::optim::Optimizer;
use crate::{NnError, Result};

/// `torch.optim.lr_scheduler.SequentialLR`: runs `schedulers[0]` until
/// step `milestones[0]`, then `schedulers[1]` from its own step 0, and so
/// on; the usual use is a warm-up before a decay:
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::optim::{LinearLR, LrScheduler, SequentialLR};
/// use nn::{CosineAnnealingLR, Optimizer, Sgd, SgdOptions};
/// let p = Var::leaf(Tensor::<f64>::zeros(&[1]));
/// let mut opt = Sgd::new(vec![p], SgdOptions::new(1.0))?;
/// let warm = LinearLR::new(&mut opt, 0.1, 1.0, 2)?;
/// let decay = CosineAnnealingLR::new(&opt, 4, 0.0)?;
/// let mut sched = SequentialLR::new(&mut opt, vec![Box::new(warm), Box::new(decay)], &[2])?;
/// let mut lrs = vec![opt.lr()];
/// for _ in 0..4 { sched.step(&mut opt)?; lrs.push(opt.lr()); }
/// // warm-up 0.1, 0.55, then cosine from 1.0 at the milestone
/// let want = [0.1, 0.55, 1.0, 0.5 + 0.5 * std::f64::consts::FRAC_1_SQRT_2, 0.5];
/// assert!(lrs.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12), "{lrs:?}");
/// # Ok::<(), nn::NnError>(())
/// ```
///
/// At a milestone the next schedule restarts at its step 0 (PyTorch calls
/// `step(0)`, which uses the closed form). Building the chain resets the
/// rates to the base rates and then to the first schedule's step-0 value,
/// as PyTorch does.
pub struct SequentialLR<F: Float> {
    schedulers: Vec<Box<dyn LrScheduler<F>>>,
    milestones: Vec<usize>,
    epoch: usize,
}

impl<F: Float> SequentialLR<F> {
    /// Chains `schedulers`, switching at `milestones` (one fewer than the
    /// schedules, increasing).
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for no schedule, a milestone count other
    /// than `schedulers.len() − 1`, or milestones that do not increase.
    pub fn new(
        opt: &mut dyn Optimizer<F>,
        mut schedulers: Vec<Box<dyn LrScheduler<F>>>,
        milestones: &[usize],
    ) -> Result<Self> {
        const K: &str = "SequentialLR";
        if schedulers.is_empty() {
            return Err(NnError::config(
                K,
                "schedulers",
                "expected at least one schedule",
            ));
        }
        if milestones.len() + 1 != schedulers.len() {
            return Err(NnError::config(
                K,
                "milestones",
                format!(
                    "expected {} milestones for {} schedules, got {}",
                    schedulers.len() - 1,
                    schedulers.len(),
                    milestones.len()
                ),
            ));
        }
        if milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(NnError::config(
                K,
                "milestones",
                format!("milestones must increase, got {milestones:?}"),
            ));
        }
        let base = base_lrs(opt);
        apply(opt, &base);
        schedulers[0].set_epoch(opt, 0)?;
        Ok(Self {
            schedulers,
            milestones: milestones.to_vec(),
            epoch: 0,
        })
    }

    /// Which schedule runs at `epoch`, and that schedule's own step count.
    fn position(&self, epoch: usize) -> (usize, usize) {
        let idx = self.milestones.iter().take_while(|&&m| m <= epoch).count();
        let start = if idx == 0 {
            0
        } else {
            self.milestones[idx - 1]
        };
        (idx, epoch - start)
    }
}

impl<F: Float> LrScheduler<F> for SequentialLR<F> {
    fn name(&self) -> &'static str {
        "SequentialLR"
    }

    fn last_epoch(&self) -> usize {
        self.epoch
    }

    fn set_epoch(&mut self, opt: &mut dyn Optimizer<F>, epoch: usize) -> Result<()> {
        let (idx, local) = self.position(epoch);
        self.schedulers[idx].set_epoch(opt, local)?;
        self.epoch = epoch;
        Ok(())
    }

    fn step(&mut self, opt: &mut dyn Optimizer<F>) -> Result<()> {
        let epoch = self.epoch.saturating_add(1);
        let (idx, local) = self.position(epoch);
        if local == 0 {
            self.schedulers[idx].set_epoch(opt, 0)?;
        } else {
            self.schedulers[idx].step(opt)?;
        }
        self.epoch = epoch;
        Ok(())
    }

    fn last_lr(&self) -> Vec<f64> {
        let (idx, _) = self.position(self.epoch);
        self.schedulers[idx].last_lr()
    }

    fn state_dict(&self) -> SchedulerState {
        let mut s = SchedulerState::new(
            "SequentialLR",
            [("last_epoch".to_string(), self.epoch as f64)],
        );
        let m: Vec<f64> = self.milestones.iter().map(|&m| m as f64).collect();
        s.put_list("milestones", &m);
        s.children = self.schedulers.iter().map(|c| c.state_dict()).collect();
        s
    }

    fn load_state_dict(&mut self, s: &SchedulerState) -> Result<()> {
        const K: &str = "SequentialLR";
        s.expect_kind(K)?;
        let epoch = count(s.get("last_epoch")?, K, "last_epoch")?;
        let m = s.list("milestones", self.milestones.len())?;
        let milestones = m
            .iter()
            .map(|&v| count(v, K, "milestones"))
            .collect::<Result<Vec<usize>>>()?;
        if milestones != self.milestones || s.children.len() != self.schedulers.len() {
            return Err(NnError::StateMismatch {
                module: K,
                reason: format!(
                    "the saved chain has milestones {milestones:?} and {} schedules, this one \
                     {:?} and {}",
                    s.children.len(),
                    self.milestones,
                    self.schedulers.len()
                ),
            });
        }
        for (c, cs) in self.schedulers.iter().zip(&s.children) {
            cs.expect_kind(c.name())?;
        }
        // Every child is checked above; a child that still fails leaves the
        // earlier ones loaded, which their own loads make consistent.
        for (c, cs) in self.schedulers.iter_mut().zip(&s.children) {
            c.load_state_dict(cs)?;
        }
        self.epoch = epoch;
        Ok(())
    }
}
